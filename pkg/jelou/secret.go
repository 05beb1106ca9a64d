package jelou

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
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

// redactor replaces credentials wherever a text quotes them: raw, or
// written in any mix of JSON string escapes (\/, \uXXXX in either case,
// surrogate pairs included), URL percent-encoding (%XX in either case, +
// for a space), and base64 (standard or URL alphabet, padded or not) of the
// secret alone or of "clientId:clientSecret", itself possibly escaped or
// percent-encoded. Build one with [newRedactor]; the zero redactor
// replaces nothing.
type redactor struct {
	forms [][]byte // the credential's plain forms, matched through escapes
}

// newRedactor returns the redactor of a client's credentials. The client id
// alone is not secret and is left as it is.
func newRedactor(clientID string, secret Secret) redactor {
	if secret == "" {
		return redactor{}
	}
	pair := clientID + ":" + string(secret)
	forms := [][]byte{[]byte(pair), []byte(secret)}
	for _, plain := range []string{pair, string(secret)} {
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			// Unpadded, so that the padded form (a longer text) matches too.
			forms = append(forms, []byte(enc.EncodeToString([]byte(plain))))
		}
	}
	return redactor{forms: forms}
}

// bytes returns b with every quoted credential replaced by "[REDACTED]";
// b itself when there is none.
func (r redactor) bytes(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		end := -1
		for _, f := range r.forms {
			end = max(end, matchEncoded(b, i, f))
		}
		if end < 0 {
			i++
			continue
		}
		out = append(append(out, b[last:i]...), redacted...)
		last, i = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// string is bytes for a string.
func (r redactor) string(s string) string {
	if len(r.forms) == 0 {
		return s
	}
	return string(r.bytes([]byte(s)))
}

// matchEncoded returns the end of the longest text at b[start:] that spells
// form through the escapes redactor describes, or -1. It follows every way
// of reading the text at once (a "%" may be itself or start "%25"), so it
// never backtracks.
func matchEncoded(b []byte, start int, form []byte) int {
	if !mayStart(b[start], form[0]) || !startsForm(b[start:], form) {
		return -1
	}
	// at[j] holds the offsets in b where form[:j] has been spelt.
	at := make([][]int, len(form)+1)
	at[0] = []int{start}
	add := func(j, off int) {
		if !slices.Contains(at[j], off) {
			at[j] = append(at[j], off)
		}
	}
	for j := range form {
		for _, off := range at[j] {
			if off >= len(b) {
				continue
			}
			for _, n := range byteTokens(b[off:], form[j]) {
				add(j+1, off+n)
			}
			if form[j] >= utf8.RuneSelf && utf8.RuneStart(form[j]) {
				if r, size := utf8.DecodeRune(form[j:]); size > 1 {
					if n := escapedRune(b[off:], r); n > 0 {
						add(j+size, off+n)
					}
				}
			}
		}
	}
	end := -1
	for _, off := range at[len(form)] {
		end = max(end, off)
	}
	return end
}

// mayStart reports whether a text starting with c may spell a form starting
// with first: cheap, to skip most offsets at once.
func mayStart(c, first byte) bool {
	return c == first || c == '%' || c == '\\' || (c == '+' && first == ' ')
}

// startsForm reports whether the first token of b spells the first byte
// (or rune) of form: cheap, so that matchEncoded allocates only for a
// likely match.
func startsForm(b []byte, form []byte) bool {
	if len(byteTokens(b, form[0])) > 0 {
		return true
	}
	r, size := utf8.DecodeRune(form)
	return size > 1 && escapedRune(b, r) > 0
}

// byteTokens returns the lengths of the tokens at the start of b that spell
// the byte t: the byte itself, "+" for a space, %XX, a JSON escape.
func byteTokens(b []byte, t byte) []int {
	var ns []int
	if b[0] == t || (b[0] == '+' && t == ' ') {
		ns = append(ns, 1)
	}
	if b[0] == '%' && len(b) >= 3 {
		if v, ok := unhex(b[1:3]); ok && byte(v) == t {
			ns = append(ns, 3)
		}
	}
	if b[0] == '\\' && len(b) >= 2 {
		if e, ok := jsonEscapes[b[1]]; ok && e == t {
			ns = append(ns, 2)
		}
		if b[1] == 'u' && len(b) >= 6 && t < utf8.RuneSelf {
			if v, ok := unhex(b[2:6]); ok && v == rune(t) {
				ns = append(ns, 6)
			}
		}
	}
	return ns
}

// escapedRune returns the length of the JSON \uXXXX escape (or surrogate
// pair of escapes) at the start of b that spells r, or 0.
func escapedRune(b []byte, r rune) int {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0
	}
	v, ok := unhex(b[2:6])
	if !ok {
		return 0
	}
	if v == r {
		return 6
	}
	if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
		return 0
	}
	if lo, ok := unhex(b[8:12]); ok && utf16.DecodeRune(v, lo) == r {
		return 12
	}
	return 0
}

// jsonEscapes maps the character after a backslash in a JSON string to the
// byte it stands for.
var jsonEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unhex reads hexadecimal digits of either case.
func unhex(h []byte) (rune, bool) {
	var v rune
	for _, c := range h {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
