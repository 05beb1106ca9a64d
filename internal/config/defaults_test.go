package config_test

import (
	"github.com/jelou-producer/jelou-producer/internal/ownership"
	"github.com/jelou-producer/jelou-producer/internal/poller"

	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// defaultRow ties one variable to the field of a lower package's Config it
// is mapped to (see internal/service's clientConfig and publishConfig).
type defaultRow struct {
	// variable is the environment variable, as config.Variables names it.
	variable string
	// lower is the value the lower package gives the field when it is zero:
	// the field of a zero Config after its WithDefaults.
	lower any
	// apply, when set, passes the variable's default through the lower
	// package's own normalisation before the comparison, for values that
	// are spelt differently but mean the same ("none" and "" for SASL).
	apply func(configDefault any) any
}

// checkedPrefixes are the variable families whose every variable must
// have a row. Add "POLL_" once the poller's rows are in the table.
var checkedPrefixes = []string{"JELOU_", "KAFKA_"}

// configOnly are variables of the checked families that this package
// consumes itself and maps to no lower package's field.
var configOnly = map[string]bool{
	"JELOU_CLIENT_ID_FILE":     true, // read into JELOU_CLIENT_ID by Load
	"JELOU_CLIENT_SECRET_FILE": true, // read into JELOU_CLIENT_SECRET by Load
	"KAFKA_SASL_PASSWORD_FILE": true, // read into KAFKA_SASL_PASSWORD by Load
	"KAFKA_DLQ_TOPIC":          true, // when set, the service builds the poller's DeadLetters writer
	"KAFKA_STATE_TOPIC":        true, // when set, the service builds the poller's State writer
	"KAFKA_WATERMARK_TOPIC":    true, // when set, the service builds the poller's Watermarks writer
}

// defaultRows lists, for every variable mapped to a lower package's
// Config, the default that package applies to a zero field. To add a
// package (the poller), build its zero Config with defaults applied beside
// j and p and append one row per variable.
func defaultRows() []defaultRow {
	j := jelou.Config{}.WithDefaults()
	p := publish.Config{}.WithDefaults()
	pl := poller.Config{}.WithDefaults()
	zeroMode, err := event.ParseMode("")
	if err != nil {
		panic(err)
	}
	return []defaultRow{
		{variable: "JELOU_BASE_URL", lower: j.BaseURL},
		{variable: "JELOU_CLIENT_ID", lower: j.Credentials.ClientID},
		{variable: "JELOU_CLIENT_SECRET", lower: j.Credentials.ClientSecret},
		{variable: "JELOU_AUTH_SCHEME", lower: j.AuthScheme},
		{variable: "JELOU_PAGE_SIZE", lower: j.PageSize},
		{variable: "JELOU_TIMEZONE", lower: j.Location.String(), apply: func(v any) any { return v.(config.Zone).Location().String() }},
		{variable: "JELOU_RATE_LIMIT", lower: j.RateLimit},
		{variable: "JELOU_RATE_BURST", lower: j.RateBurst},
		{variable: "JELOU_TIMEOUT", lower: j.Timeout},
		{variable: "JELOU_MAX_RETRY_TIME", lower: j.Retry.MaxElapsedTime},
		{variable: "JELOU_MAX_BODY_BYTES", lower: j.MaxBodyBytes},

		// POLL_LAG, POLL_SETTLE and POLL_REVISIT have no row: zero is a
		// meaningful value to the poller (none), not "use the default".
		{variable: "POLL_WINDOW", lower: pl.Window},
		{variable: "POLL_INTERVAL", lower: pl.Interval},
		{variable: "POLL_REVISIT_INTERVAL", lower: pl.RevisitInterval},
		{variable: "POLL_CONCURRENCY", lower: pl.Concurrency},
		{variable: "POLL_MAX_PAGES", lower: pl.MaxPages},
		{variable: "POLL_MIN_WINDOW", lower: pl.MinWindow},

		{variable: "KAFKA_BROKERS", lower: p.Brokers},
		{variable: "KAFKA_TOPIC", lower: p.Topic},
		{variable: "KAFKA_COMPRESSION", lower: p.Compression},
		{variable: "KAFKA_PARTITIONER", lower: p.Partitioner},
		{variable: "KAFKA_EVENT_MODE", lower: zeroMode, apply: func(v any) any {
			m, err := event.ParseMode(v.(string))
			if err != nil {
				return err
			}
			return m
		}},
		{variable: "KAFKA_CLIENT_ID", lower: p.ClientID},
		{variable: "KAFKA_BATCH_SIZE", lower: p.BatchSize},
		{variable: "KAFKA_BATCH_BYTES", lower: p.BatchBytes},
		{variable: "KAFKA_LINGER", lower: p.Linger},
		{variable: "KAFKA_WRITE_TIMEOUT", lower: p.WriteTimeout},
		{variable: "KAFKA_TOPIC_CREATE", lower: p.TopicCreate},
		{variable: "KAFKA_TOPIC_PARTITIONS", lower: p.TopicPartitions},
		{variable: "KAFKA_TOPIC_REPLICATION", lower: p.TopicReplication},
		{variable: "KAFKA_TOPIC_CONFIG", lower: p.TopicConfig},
		{variable: "KAFKA_TLS_ENABLED", lower: p.TLS.Enabled},
		{variable: "KAFKA_TLS_CA_FILE", lower: p.TLS.CAFile},
		{variable: "KAFKA_TLS_CERT_FILE", lower: p.TLS.CertFile},
		{variable: "KAFKA_TLS_KEY_FILE", lower: p.TLS.KeyFile},
		{variable: "KAFKA_TLS_SERVER_NAME", lower: p.TLS.ServerName},
		{variable: "KAFKA_TLS_INSECURE_SKIP_VERIFY", lower: p.TLS.InsecureSkipVerify},

		{variable: "GROUP_ID", lower: ownership.DefaultGroupID},
		{variable: "GROUP_SESSION_TIMEOUT", lower: ownership.DefaultSessionTimeout},
		{variable: "GROUP_HEARTBEAT_INTERVAL", lower: ownership.DefaultHeartbeatInterval},
		{variable: "KAFKA_SASL_MECHANISM", lower: p.SASL.Mechanism, apply: func(v any) any {
			return publish.Config{SASL: publish.SASLConfig{Mechanism: v.(string)}}.WithDefaults().SASL.Mechanism
		}},
		{variable: "KAFKA_SASL_USERNAME", lower: p.SASL.Username},
		{variable: "KAFKA_SASL_PASSWORD", lower: p.SASL.Password},
	}
}

// TestDefaultsMatchLowerPackages checks that each variable's default (its
// default tag, as config.Defaults decodes it) is the default the lower
// package applies to the field the variable is mapped to, so that a
// default changed on one side only fails here; and that every variable of
// the checked families has a row.
func TestDefaultsMatchLowerPackages(t *testing.T) {
	defaults := config.Defaults()
	rows := defaultRows()
	seen := map[string]bool{}
	for _, r := range rows {
		t.Run(r.variable, func(t *testing.T) {
			if seen[r.variable] {
				t.Fatalf("%s has two rows", r.variable)
			}
			seen[r.variable] = true
			v, ok := fieldByVariable(reflect.ValueOf(defaults), r.variable)
			if !ok {
				t.Fatalf("config has no variable %s", r.variable)
			}
			got := v.Interface()
			if r.apply != nil {
				got = r.apply(got)
			}
			if !sameValue(reflect.ValueOf(got), reflect.ValueOf(r.lower)) {
				t.Errorf("%s defaults to %v (%T) in config, but the lower package's zero field defaults to %v (%T)",
					r.variable, got, got, r.lower, r.lower)
			}
		})
	}
	for _, v := range config.Variables() {
		for _, prefix := range checkedPrefixes {
			if strings.HasPrefix(v.Name, prefix) && !seen[v.Name] && !configOnly[v.Name] {
				t.Errorf("%s (default %q) has no row in defaultRows: map it to the lower package's field", v.Name, v.Default)
			}
		}
	}
}

// fieldByVariable finds the field of a config.Config whose envconfig tag is
// name, looking into the embedded groups.
func fieldByVariable(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			if f, ok := fieldByVariable(v.Field(i), name); ok {
				return f, true
			}
			continue
		}
		if sf.Tag.Get("envconfig") == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// sameValue compares a config value with a lower package's across their
// types: numbers by value (a ByteSize with an int64, an int with an int),
// strings, booleans and durations as such, lists and maps by emptiness
// (no variable of a list type has a non-empty default).
func sameValue(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	switch {
	case isNumber(a) && isNumber(b):
		return number(a) == number(b)
	case a.Kind() == reflect.String && b.Kind() == reflect.String:
		return a.String() == b.String()
	case a.Kind() == reflect.Bool && b.Kind() == reflect.Bool:
		return a.Bool() == b.Bool()
	case (a.Kind() == reflect.Slice || a.Kind() == reflect.Map) && (b.Kind() == reflect.Slice || b.Kind() == reflect.Map):
		return a.Len() == 0 && b.Len() == 0
	}
	return fmt.Sprint(a.Interface()) == fmt.Sprint(b.Interface()) && a.Type() == b.Type()
}

func isNumber(v reflect.Value) bool {
	return v.CanInt() || v.CanFloat() || v.CanUint()
}

func number(v reflect.Value) float64 {
	switch {
	case v.CanInt():
		return float64(v.Int())
	case v.CanUint():
		return float64(v.Uint())
	}
	return v.Float()
}
