package jelou

import (
	"fmt"
	"log/slog"
	"strconv"
)

// redacted replaces every credential in printed or logged output.
const redacted = "[REDACTED]"

// Secret is a credential string that never prints itself. It is the one
// credential type of the module: [Credentials] holds one and the producer's
// configuration declares JELOU_CLIENT_SECRET and KAFKA_SASL_PASSWORD as one.
//
// String, Format (every fmt verb: %v %+v %s %x %d ...), LogValue and
// MarshalText (so JSON and text encoders too) yield "[REDACTED]", or "" when
// the secret is empty, so that an unset credential reads as unset; %q and
// %#v yield the same, quoted. Call [Secret.Reveal] (or convert with
// string(s)) where the credential itself is needed.
type Secret string

// Reveal returns the credential.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, quoted, so that %#v does not leak the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format writes String whatever the verb, so that no verb (%x, %d, ...)
// reaches the credential; %q and %#v write it quoted.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.String()
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		out = s.GoString()
	}
	_, _ = f.Write([]byte(out))
}

// LogValue implements [slog.LogValuer] with the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements [encoding.TextMarshaler] with the redacted form, so
// that JSON and text encoders never write the credential.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
