package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Variable is the variable at fault, e.g. "POLL_WINDOW".
	Variable string
	// Message is a sentence that names the variable and, unless it is a
	// secret, the bad value: `POLL_WINDOW must be positive, got "0s"`.
	Message string
}

// Error returns the message.
func (p *Problem) Error() string { return p.Message }

// Error lists every problem found by [Load] or [Config.Validate], in
// [Variables] order with combinations last. Branch on it with errors.As.
type Error struct {
	Problems []*Problem
}

// Error returns one problem per line.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the problems, so errors.As can find a *Problem.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems collects Problems.
type problems []*Problem

func (ps *problems) add(variable, format string, args ...any) {
	*ps = append(*ps, &Problem{Variable: variable, Message: variable + " " + fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// Defaults returns the configuration with every default applied and nothing
// else set: what [Load] returns from an empty environment.
func Defaults() Config {
	var c Config
	for _, f := range fieldsOf(&c) {
		if d := f.tag.Get("default"); d != "" {
			if err := decode(f.value, d); err != nil {
				panic(fmt.Sprintf("config: default of %s: %v", f.name, err)) // a test loads every default
			}
		}
	}
	return c
}

// checkSyntax parses every variable that lookup finds into a scratch value of
// its field's type and reports each one that does not parse. It accepts a
// subset of what envconfig accepts (integers in base 10 only, finite numbers
// only), so envconfig cannot fail afterwards.
func checkSyntax(c *Config, lookup func(string) (string, bool)) problems {
	var ps problems
	for _, f := range fieldsOf(c) {
		raw, ok := lookup(f.name)
		if !ok {
			continue
		}
		err := decode(reflect.New(f.value.Type()).Elem(), raw)
		if err == nil {
			continue
		}
		msg := fmt.Sprintf("must be %s, got %q", kindOf(f.value.Type()).expect, raw)
		if _, custom := decoderOf(f.value); custom && !errors.Is(err, errInvalid) {
			msg += ": " + err.Error()
		}
		ps.add(f.name, "%s", msg)
	}
	return ps
}

type decoder interface{ Decode(string) error }

func decoderOf(v reflect.Value) (decoder, bool) {
	d, ok := v.Addr().Interface().(decoder)
	return d, ok
}

// decode parses raw into v, which must be addressable.
func decode(v reflect.Value, raw string) error {
	if d, ok := decoderOf(v); ok {
		return d.Decode(raw)
	}
	if v.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(raw)
		v.SetInt(int64(d))
		return err
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		v.SetInt(n)
		return err
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(raw, v.Type().Bits())
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errInvalid
		}
		v.SetFloat(f)
		return err
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		v.SetBool(b)
		return err
	}
	return fmt.Errorf("config: no decoder for %s", v.Type())
}

// Validate checks c for the given command and returns an [*Error] listing
// every problem, or nil. It checks the enum, validate, min, max and
// required_for tags of every field, then the combinations: POLL_MIN_WINDOW within 1s and
// POLL_WINDOW, TLS files only with TLS on and certificate with key, SASL
// credentials exactly when a mechanism is chosen, and the checkpoint backend's
// own setting. Last come the sources: with SOURCES set, every listed source
// is checked (see [Config.Sources]): its id, its credentials (required per
// source, as JELOU_CLIENT_ID is without SOURCES), each variable it sets as
// the global one it overrides, and SOURCE_* variables of ids SOURCES does not
// list. Secrets are never quoted in messages.
func (c Config) Validate(cmd Command) error {
	var ps problems
	for _, f := range fieldsOf(&c) {
		if len(c.SourceIDs) > 0 && f.tag.Get("credential") != "" {
			continue // each source has its own; checkSources reports these as unused
		}
		checkField(&ps, f, cmd)
	}
	c.checkCombinations(&ps)
	c.checkSources(&ps, cmd)
	return ps.err()
}

// topicName is Kafka's rule for topic names.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func checkField(ps *problems, f field, cmd Command) {
	shown := display(f.value)
	before := len(*ps)
	defer func() {
		if len(*ps) == before {
			checkBounds(ps, f, shown)
		}
	}()
	if req := f.tag.Get("required_for"); req != "" && slices.Contains(strings.Split(req, ","), string(cmd)) && f.value.IsZero() {
		ps.add(f.name, "is required for %s", cmd)
		return
	}
	if enum := f.tag.Get("enum"); enum != "" {
		allowed := strings.Split(enum, ",")
		if !slices.Contains(allowed, f.value.String()) {
			ps.add(f.name, "must be one of %s; got %q", strings.Join(allowed, ", "), shown)
		}
	}
	switch f.tag.Get("validate") {
	case "positive":
		if sign(f.value) <= 0 {
			ps.add(f.name, "must be positive, got %q", shown)
		}
	case "nonnegative":
		if sign(f.value) < 0 {
			ps.add(f.name, "must not be negative, got %q", shown)
		}
	case "url":
		if u, err := url.Parse(f.value.String()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(f.name, "must be an http or https URL, got %q", shown)
		}
	case "uri-reference":
		if _, err := url.Parse(f.value.String()); err != nil {
			ps.add(f.name, "must be a URI reference, got %q", shown)
		}
	case "topic", "optional-topic":
		if shown == "" && f.tag.Get("validate") == "optional-topic" {
			break
		}
		if !topicName.MatchString(shown) || shown == "." || shown == ".." {
			ps.add(f.name, "must be a Kafka topic name (up to 249 of a-z A-Z 0-9 . _ -), got %q", shown)
		}
	case "optional-registry-url":
		checkRegistryURL(ps, f, f.value.String())
	case "listen":
		if checkHostPort(shown, true) != nil {
			ps.add(f.name, "must be host:port or :port, got %q", shown)
		}
	}
}

// checkBounds reports a numeric field below its min tag or above its max
// tag; a bound is written as the field's own values are (1s, 64, 1000).
func checkBounds(ps *problems, f field, shown string) {
	if lo := f.tag.Get("min"); lo != "" && compareTo(f, lo) < 0 {
		ps.add(f.name, "must be at least %s, got %q", lo, shown)
	}
	if hi := f.tag.Get("max"); hi != "" && compareTo(f, hi) > 0 {
		ps.add(f.name, "must be at most %s, got %q", hi, shown)
	}
}

// compareTo compares a numeric field's value with bound, parsed as a value
// of the field's type: -1, 0 or 1.
func compareTo(f field, bound string) int {
	b := reflect.New(f.value.Type()).Elem()
	if err := decode(b, bound); err != nil {
		panic(fmt.Sprintf("config: bound %q of %s: %v", bound, f.name, err)) // a test checks every default against its bounds
	}
	switch {
	case f.value.CanInt():
		return cmp.Compare(f.value.Int(), b.Int())
	case f.value.CanFloat():
		return cmp.Compare(f.value.Float(), b.Float())
	}
	panic("config: bound on the non-numeric " + f.name)
}

// sign returns -1, 0 or 1 for a numeric value.
func sign(v reflect.Value) int {
	var f float64
	switch {
	case v.CanInt():
		f = float64(v.Int())
	case v.CanFloat():
		f = v.Float()
	}
	switch {
	case f > 0:
		return 1
	case f < 0:
		return -1
	}
	return 0
}

func (c Config) checkCombinations(ps *problems) {
	if p := c.Poll; p.MinWindow > 0 && p.MinWindow < time.Second {
		ps.add("POLL_MIN_WINDOW", "must be at least 1s (the API filters by the second), got %q", p.MinWindow)
	} else if p.MinWindow > p.Window && p.Window > 0 {
		ps.add("POLL_MIN_WINDOW", "must not exceed POLL_WINDOW (%s), got %q", p.Window, p.MinWindow)
	}

	tls := c.Kafka.KafkaTLS
	if !tls.Enabled {
		for _, s := range []struct {
			name string
			set  bool
		}{
			{"KAFKA_TLS_CA_FILE", tls.CAFile != ""},
			{"KAFKA_TLS_CERT_FILE", tls.CertFile != ""},
			{"KAFKA_TLS_KEY_FILE", tls.KeyFile != ""},
			{"KAFKA_TLS_SERVER_NAME", tls.ServerName != ""},
			{"KAFKA_TLS_INSECURE_SKIP_VERIFY", tls.InsecureSkipVerify},
		} {
			if s.set {
				ps.add(s.name, "is set but KAFKA_TLS_ENABLED is false")
			}
		}
	}
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		ps.add("KAFKA_TLS_CERT_FILE", "and KAFKA_TLS_KEY_FILE must be set together")
	}

	sasl := c.Kafka.KafkaSASL
	switch sasl.Mechanism {
	case "none":
		if sasl.Username != "" {
			ps.add("KAFKA_SASL_USERNAME", "is set but KAFKA_SASL_MECHANISM is none")
		}
		if sasl.Password != "" {
			ps.add("KAFKA_SASL_PASSWORD", "is set but KAFKA_SASL_MECHANISM is none")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if sasl.Username == "" {
			ps.add("KAFKA_SASL_USERNAME", "is required when KAFKA_SASL_MECHANISM is %q", sasl.Mechanism)
		}
		if sasl.Password == "" {
			ps.add("KAFKA_SASL_PASSWORD", "is required when KAFKA_SASL_MECHANISM is %q", sasl.Mechanism)
		}
	}

	c.checkRegistry(ps)

	cp := c.Checkpoint
	if cp.Backend == "file" && cp.Path == "" {
		ps.add("CHECKPOINT_PATH", "is required when CHECKPOINT_BACKEND is \"file\"")
	}
	if cp.onTopic() && cp.Topic == c.Kafka.Topic {
		ps.add("CHECKPOINT_TOPIC", "must differ from KAFKA_TOPIC, got %q", cp.Topic)
	}
	if dlq := c.Kafka.DLQTopic; dlq != "" && (dlq == c.Kafka.Topic || (cp.onTopic() && dlq == cp.Topic)) {
		ps.add("KAFKA_DLQ_TOPIC", "must differ from KAFKA_TOPIC and CHECKPOINT_TOPIC, got %q", dlq)
	}
	if st := c.Kafka.StateTopic; st != "" && reservedTopic(c, st, c.Kafka.Topic) {
		ps.add("KAFKA_STATE_TOPIC", "must differ from KAFKA_TOPIC, KAFKA_DLQ_TOPIC, KAFKA_WATERMARK_TOPIC and CHECKPOINT_TOPIC, got %q", st)
	}
	if wm := c.Kafka.WatermarkTopic; wm != "" && (wm == c.Kafka.Topic || wm == c.Kafka.DLQTopic || (cp.onTopic() && wm == cp.Topic)) {
		ps.add("KAFKA_WATERMARK_TOPIC", "must differ from KAFKA_TOPIC, KAFKA_DLQ_TOPIC and CHECKPOINT_TOPIC, got %q", wm)
	}
}

// reservedTopic reports whether topic, a state topic, is one of the other
// topics the deployment writes: events (the source's, eventTopic), dead
// letters, watermarks or checkpoints.
func reservedTopic(c Config, topic, eventTopic string) bool {
	return topic == eventTopic || topic == c.Kafka.Topic || topic == c.Kafka.DLQTopic || topic == c.Kafka.WatermarkTopic ||
		(c.Checkpoint.onTopic() && topic == c.Checkpoint.Topic)
}
