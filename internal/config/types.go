package config

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // JELOU_TIMEZONE must resolve in a scratch container without /usr/share/zoneinfo.
)

// errInvalid is returned by the Decode methods when the variable's expected
// form, which the caller states, says all there is to say.
var errInvalid = errors.New("invalid")

// StartAt is POLL_START_AT: where the first window starts when there is no
// checkpoint. It is either a fixed instant (At) or an age (Ago) measured back
// from the moment the service starts. The zero value means "now".
type StartAt struct {
	// At is the fixed start. Zero when the value was a duration.
	At time.Time
	// Ago is how long before now the first window starts, used when At is zero.
	Ago time.Duration
}

// Decode parses an RFC 3339 time (2024-05-01T00:00:00Z) or a non-negative
// duration with a unit (24h).
func (s *StartAt) Decode(v string) error {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		*s = StartAt{At: t}
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return errInvalid
	}
	if d < 0 {
		return errors.New("a negative duration would start in the future")
	}
	*s = StartAt{Ago: d}
	return nil
}

// Resolve returns the start instant: At when set, else now − Ago.
func (s StartAt) Resolve(now time.Time) time.Time {
	if !s.At.IsZero() {
		return s.At
	}
	return now.Add(-s.Ago)
}

// String returns the time in RFC 3339 or the duration, as Decode accepts them.
func (s StartAt) String() string {
	if !s.At.IsZero() {
		return s.At.Format(time.RFC3339)
	}
	return s.Ago.String()
}

// Zone is JELOU_TIMEZONE: an IANA time zone loaded with [time.LoadLocation]
// (the zone database is embedded in the binary). The zero value is UTC.
type Zone struct {
	loc *time.Location
}

// Decode loads the named zone. "Local" and the empty string are refused:
// the zone of the API's timestamps must not depend on the host.
func (z *Zone) Decode(v string) error {
	if v == "" || v == "Local" {
		return errors.New("name a zone explicitly, Local depends on the host")
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		return errInvalid
	}
	z.loc = loc
	return nil
}

// Location returns the zone, UTC when unset.
func (z Zone) Location() *time.Location {
	if z.loc == nil {
		return time.UTC
	}
	return z.loc
}

// String returns the zone's name.
func (z Zone) String() string { return z.Location().String() }

// ByteSize is a number of bytes written as a plain integer or with a binary
// unit: B, KiB, MiB or GiB ("32MiB"). Decimal units (MB) are refused because
// readers disagree about what they mean.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	size   ByteSize
}{
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"B", 1},
}

// Decode parses "1048576", "512KiB", "32MiB" or "1GiB".
func (b *ByteSize) Decode(v string) error {
	num, unit := v, ByteSize(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(v, u.suffix) {
			num, unit = strings.TrimSuffix(v, u.suffix), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return errors.New("units are B, KiB, MiB and GiB")
	}
	if n > 0 && ByteSize(n) > ByteSize(1<<62)/unit {
		return errors.New("too large")
	}
	*b = ByteSize(n) * unit
	return nil
}

// String formats the size with the largest unit that divides it exactly.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// HostPorts is a comma-separated list of "host:port" addresses, such as
// KAFKA_BROKERS. Spaces around entries are ignored.
type HostPorts []string

// Decode splits v on commas and checks that each entry is host:port with a
// port in 1–65535. An empty v gives an empty list.
func (h *HostPorts) Decode(v string) error {
	var out HostPorts
	var bad []string
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if err := checkHostPort(entry, false); err != nil {
			bad = append(bad, fmt.Sprintf("%q %v", entry, err))
			continue
		}
		out = append(out, entry)
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, ", "))
	}
	*h = out
	return nil
}

// String joins the addresses with commas.
func (h HostPorts) String() string { return strings.Join(h, ",") }

// checkHostPort reports why addr is not host:port. An empty host is allowed
// only for listen addresses (":9464").
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port")
	}
	if host == "" && !listen {
		return errors.New("has no host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !listen) {
		return errors.New("has no valid port")
	}
	return nil
}

// TopicConfig is KAFKA_TOPIC_CONFIG: Kafka topic settings applied when the
// producer creates its topic, written "key=value,key=value"
// ("retention.ms=604800000,min.insync.replicas=2").
type TopicConfig map[string]string

// Decode parses comma-separated key=value pairs; keys must be unique and
// neither keys nor values may be empty. An empty v gives an empty map.
func (c *TopicConfig) Decode(v string) error {
	out := TopicConfig{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch {
		case !ok || k == "" || val == "":
			return fmt.Errorf("%q is not key=value", pair)
		case out[k] != "":
			return fmt.Errorf("%q is given twice", k)
		}
		out[k] = val
	}
	*c = out
	return nil
}

// String formats the pairs sorted by key, as Decode accepts them.
func (c TopicConfig) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + c[k]
	}
	return strings.Join(keys, ",")
}
