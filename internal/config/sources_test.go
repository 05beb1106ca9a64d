package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

// TestDefaultSource: without SOURCES the configuration serves exactly one
// unnamed source, today's JELOU_* values and KAFKA_TOPIC.
func TestDefaultSource(t *testing.T) {
	setenv(t, map[string]string{
		"JELOU_CLIENT_ID":     "acme",
		"JELOU_CLIENT_SECRET": "s3cret",
		"JELOU_BASE_URL":      "https://jelou.example",
		"JELOU_PAGE_SIZE":     "50",
		"KAFKA_TOPIC":         "events",
		"KAFKA_BROKERS":       "kafka:9092",
	})
	cfg, problems := loadAndValidate(CommandRun)
	if problems != nil {
		t.Fatal(problems)
	}
	want := []Source{{ID: DefaultSourceID, Jelou: cfg.Jelou, Topic: "events", Named: false}}
	got := cfg.Sources()
	if !equalSources(got, want) {
		t.Fatalf("Sources() = %+v, want %+v", got, want)
	}
	if j := got[0].Jelou; j.ClientID != "acme" || j.ClientSecret.Reveal() != "s3cret" || j.BaseURL != "https://jelou.example" || j.PageSize != 50 {
		t.Errorf("default source = %+v", j)
	}
	if d := Defaults().Sources(); len(d) != 1 || d[0].ID != "default" || d[0].Named || d[0].Topic != "jelou.conversations.attended" || d[0].Jelou != Defaults().Jelou {
		t.Errorf("Defaults().Sources() = %+v", d)
	}
}

// equalSources compares sources by value (Zone holds a pointer that two
// loads of one zone share).
func equalSources(a, b []Source) bool {
	return slices.EqualFunc(a, b, func(x, y Source) bool { return x == y })
}

// TestNamedSources resolves two sources: overrides apply, everything else
// is inherited from JELOU_* and KAFKA_TOPIC, credentials are each source's
// own, and bare names (TOPIC, CLIENT_ID) are never read.
func TestNamedSources(t *testing.T) {
	secretFile := writeFile(t, "secret", "eu-secret\n")
	setenv(t, map[string]string{
		"SOURCES":                        " acme , eu-1 ",
		"JELOU_BASE_URL":                 "https://global.example",
		"JELOU_RATE_LIMIT":               "3",
		"KAFKA_TOPIC":                    "events",
		"KAFKA_BROKERS":                  "kafka:9092",
		"SOURCE_ACME_CLIENT_ID":          "acme-id",
		"SOURCE_ACME_CLIENT_SECRET":      "acme-secret",
		"SOURCE_ACME_TOPIC":              "acme.events",
		"SOURCE_ACME_AUTH_SCHEME":        "RAW",
		"SOURCE_ACME_PAGE_SIZE":          "25",
		"SOURCE_EU_1_CLIENT_ID":          "eu-id",
		"SOURCE_EU_1_CLIENT_SECRET_FILE": secretFile,
		"SOURCE_EU_1_BASE_URL":           "https://eu.example",
		"SOURCE_EU_1_TIMEZONE":           "Europe/Madrid",
		"SOURCE_EU_1_RATE_LIMIT":         "1.5",
		"SOURCE_EU_1_RATE_BURST":         "2",
		"TOPIC":                          "bare-topic",
		"CLIENT_ID":                      "bare-id",
		"BASE_URL":                       "https://bare.example",
	})
	cfg, problems := loadAndValidate(CommandRun)
	if problems != nil {
		t.Fatal(problems)
	}
	acme, eu := cfg.Jelou, cfg.Jelou
	acme.ClientID, acme.ClientSecret, acme.AuthScheme, acme.PageSize = "acme-id", "acme-secret", "raw", 25
	eu.ClientID, eu.ClientSecret, eu.ClientSecretFile = "eu-id", "eu-secret", secretFile
	eu.BaseURL, eu.RateLimit, eu.RateBurst = "https://eu.example", 1.5, 2
	if err := eu.Timezone.Decode("Europe/Madrid"); err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{ID: "acme", Jelou: acme, Topic: "acme.events", Named: true},
		{ID: "eu-1", Jelou: eu, Topic: "events", Named: true},
	}
	got := cfg.Sources()
	if len(got) != 2 || got[1].Jelou.Timezone.String() != "Europe/Madrid" {
		t.Fatalf("Sources() = %+v", got)
	}
	got[1].Jelou.Timezone, want[1].Jelou.Timezone = Zone{}, Zone{} // compared by name above
	if !equalSources(got, want) {
		t.Errorf("Sources():\n got %+v\nwant %+v", got, want)
	}
	if cfg.Jelou.ClientID != "" || cfg.Jelou.BaseURL != "https://global.example" || cfg.Jelou.RateLimit != 3 {
		t.Errorf("global Jelou changed: %+v", cfg.Jelou)
	}
}

// TestSourcesValidate lists the problems Load and Validate report for
// SOURCES and the SOURCE_* variables. Every case starts from brokers set.
func TestSourcesValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	idFile := writeFile(t, "id", "a-id\n")
	ok := map[string]string{"SOURCE_A_CLIENT_ID": "a-id", "SOURCE_A_CLIENT_SECRET": "a-secret"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		cmd  Command
		vars map[string]string
		want []string
	}{
		{name: "valid", cmd: CommandRun, vars: with(ok, "SOURCES", "a")},
		{name: "file checkpoint backend is nothing special", cmd: CommandRun, vars: with(ok, "SOURCES", "a", "CHECKPOINT_BACKEND", "file", "SOURCE_A_TOPIC", "jelou.producer.checkpoints")},
		{name: "empty SOURCES is the default source", cmd: CommandRun, vars: map[string]string{"SOURCES": " , ", "JELOU_CLIENT_ID": "x", "JELOU_CLIENT_SECRET": "y"}},
		{name: "unrelated SOURCE_ variables are not ours", cmd: CommandRun, vars: with(ok, "SOURCES", "a", "SOURCE_DATE_EPOCH", "1700000000")},
		{name: "credential files", cmd: CommandRun, vars: map[string]string{"SOURCES": "a", "SOURCE_A_CLIENT_ID_FILE": idFile, "SOURCE_A_CLIENT_SECRET": "s"}},
		{
			name: "malformed ids",
			cmd:  CommandRun,
			vars: map[string]string{"SOURCES": "Acme,-x,a_b," + strings.Repeat("x", 32) + ",ok-" + strings.Repeat("9", 28)},
			want: []string{
				`SOURCES must list ids of 1 to 31 characters a-z, 0-9 and '-', not starting with '-'; got "Acme"`,
				`SOURCES must list ids of 1 to 31 characters a-z, 0-9 and '-', not starting with '-'; got "-x"`,
				`SOURCES must list ids of 1 to 31 characters a-z, 0-9 and '-', not starting with '-'; got "a_b"`,
				`SOURCES must list ids of 1 to 31 characters a-z, 0-9 and '-', not starting with '-'; got "` + strings.Repeat("x", 32) + `"`,
				"SOURCE_OK_" + strings.Repeat("9", 28) + "_CLIENT_ID is required for run",
				"SOURCE_OK_" + strings.Repeat("9", 28) + "_CLIENT_SECRET is required for run",
			},
		},
		{
			name: "duplicate ids",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a,a"),
			want: []string{`SOURCES lists "a" twice`},
		},
		{
			name: "missing credentials for run",
			cmd:  CommandRun,
			vars: map[string]string{"SOURCES": "a,b", "SOURCE_A_CLIENT_ID": "a-id", "SOURCE_B_CLIENT_SECRET": "b-secret"},
			want: []string{"SOURCE_A_CLIENT_SECRET is required for run", "SOURCE_B_CLIENT_ID is required for run"},
		},
		{
			name: "missing credentials for check",
			cmd:  CommandCheck,
			vars: map[string]string{"SOURCES": "a"},
			want: []string{"SOURCE_A_CLIENT_ID is required for check", "SOURCE_A_CLIENT_SECRET is required for check"},
		},
		{name: "credentials not required for demo", cmd: CommandDemo, vars: map[string]string{"SOURCES": "a"}},
		{
			name: "global credentials unused",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "JELOU_CLIENT_ID", "x", "JELOU_CLIENT_SECRET", "y", "JELOU_CLIENT_ID_FILE", missing),
			want: []string{
				"JELOU_CLIENT_ID is set but unused: SOURCES is set, and each source takes its own SOURCE_<ID>_CLIENT_ID",
				"JELOU_CLIENT_SECRET is set but unused: SOURCES is set, and each source takes its own SOURCE_<ID>_CLIENT_SECRET",
				"JELOU_CLIENT_ID_FILE is set but unused: SOURCES is set, and each source takes its own SOURCE_<ID>_CLIENT_ID_FILE",
			},
		},
		{
			name: "variables of unlisted ids",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "SOURCE_AA_CLIENT_ID", "x", "SOURCE_A_B_TOPIC", "t", "SOURCE_A_CLIENTID", "x", "SOURCE_B_CLIENT_SECRET_FILE", missing),
			want: []string{
				`SOURCE_AA_CLIENT_ID is set but SOURCES does not list "aa"`,
				`SOURCE_A_B_TOPIC is set but SOURCES does not list "a-b"`,
				`SOURCE_A_CLIENTID is not a variable of source "a"; SOURCE_A_* takes CLIENT_ID, CLIENT_SECRET, CLIENT_ID_FILE, CLIENT_SECRET_FILE, BASE_URL, AUTH_SCHEME, TIMEZONE, PAGE_SIZE, RATE_LIMIT, RATE_BURST, TOPIC, STATE_TOPIC`,
				`SOURCE_B_CLIENT_SECRET_FILE is set but SOURCES does not list "b"`,
			},
		},
		{
			name: "unknown variable under nested prefixes",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a,a-b", "SOURCE_A_B_CLIENT_ID", "b-id", "SOURCE_A_B_CLIENT_SECRET", "s", "SOURCE_A_B_PAGESIZE", "1"),
			want: []string{`SOURCE_A_B_PAGESIZE is not a variable of source "a-b"; SOURCE_A_B_* takes CLIENT_ID, CLIENT_SECRET, CLIENT_ID_FILE, CLIENT_SECRET_FILE, BASE_URL, AUTH_SCHEME, TIMEZONE, PAGE_SIZE, RATE_LIMIT, RATE_BURST, TOPIC, STATE_TOPIC`},
		},
		{
			name: "source variables without SOURCES",
			cmd:  CommandRun,
			vars: map[string]string{"JELOU_CLIENT_ID": "x", "JELOU_CLIENT_SECRET": "y", "SOURCE_ACME_CLIENT_ID": "z"},
			want: []string{`SOURCE_ACME_CLIENT_ID is set but SOURCES is empty; add "acme" to SOURCES or unset it`},
		},
		{
			name: "bad overrides",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "SOURCE_A_BASE_URL", "ftp://x", "SOURCE_A_AUTH_SCHEME", "Digest", "SOURCE_A_PAGE_SIZE", "0",
				"SOURCE_A_RATE_LIMIT", "-1", "SOURCE_A_RATE_BURST", "0", "SOURCE_A_TOPIC", "bad topic"),
			want: []string{
				`SOURCE_A_BASE_URL must be an http or https URL, got "ftp://x"`,
				`SOURCE_A_AUTH_SCHEME must be one of basic, raw; got "digest"`,
				`SOURCE_A_PAGE_SIZE must be positive, got "0"`,
				`SOURCE_A_RATE_LIMIT must be positive, got "-1"`,
				`SOURCE_A_RATE_BURST must be positive, got "0"`,
				`SOURCE_A_TOPIC must be a Kafka topic name (up to 249 of a-z A-Z 0-9 . _ -), got "bad topic"`,
			},
		},
		{
			name: "unparsable overrides, with the global ones",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "POLL_WINDOW", "1", "SOURCE_A_PAGE_SIZE", "0x10", "SOURCE_A_TIMEZONE", "Local", "SOURCE_A_RATE_LIMIT", "NaN"),
			want: []string{
				`POLL_WINDOW must be a duration with a unit such as 30s, 5m or 1h, got "1"`,
				`SOURCE_A_TIMEZONE must be an IANA time zone such as UTC or America/Guayaquil, got "Local": name a zone explicitly, Local depends on the host`,
				`SOURCE_A_PAGE_SIZE must be an integer, got "0x10"`,
				`SOURCE_A_RATE_LIMIT must be a number, got "NaN"`,
			},
		},
		{
			name: "value and file",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "SOURCE_A_CLIENT_ID_FILE", idFile),
			want: []string{"SOURCE_A_CLIENT_ID_FILE and SOURCE_A_CLIENT_ID are both set; set one"},
		},
		{
			name: "unreadable file",
			cmd:  CommandRun,
			vars: map[string]string{"SOURCES": "a", "SOURCE_A_CLIENT_ID": "a-id", "SOURCE_A_CLIENT_SECRET_FILE": missing},
			want: []string{"SOURCE_A_CLIENT_SECRET_FILE names a file that cannot be read: open " + missing + ": no such file or directory"},
		},
		{
			name: "one account twice",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a,b,c", "SOURCE_B_CLIENT_ID", "a-id", "SOURCE_B_CLIENT_SECRET", "z",
				"SOURCE_C_CLIENT_ID", "a-id", "SOURCE_C_CLIENT_SECRET", "z", "SOURCE_C_BASE_URL", "https://other.example"),
			want: []string{"SOURCE_B_CLIENT_ID and SOURCE_A_CLIENT_ID name the same account (same client id and base URL)"},
		},
		{
			name: "kafka checkpoint topic",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "CHECKPOINT_BACKEND", "kafka", "SOURCE_A_TOPIC", "jelou.producer.checkpoints"),
			want: []string{`SOURCE_A_TOPIC must differ from CHECKPOINT_TOPIC, got "jelou.producer.checkpoints"`},
		},
		{
			name: "dead-letter topic",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "KAFKA_DLQ_TOPIC", "dead", "SOURCE_A_TOPIC", "dead"),
			want: []string{`SOURCE_A_TOPIC must differ from KAFKA_DLQ_TOPIC, got "dead"`},
		},
		{
			name: "dead-letter topic name",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "KAFKA_DLQ_TOPIC", "bad topic"),
			want: []string{`KAFKA_DLQ_TOPIC must be a Kafka topic name (up to 249 of a-z A-Z 0-9 . _ -), got "bad topic"`},
		},
		{
			name: "dead-letter topic is the event topic",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "KAFKA_DLQ_TOPIC", "jelou.conversations.attended"),
			want: []string{`KAFKA_DLQ_TOPIC must differ from KAFKA_TOPIC and CHECKPOINT_TOPIC, got "jelou.conversations.attended"`},
		},
		{name: "dead-letter topic set", cmd: CommandRun, vars: with(ok, "SOURCES", "a", "KAFKA_DLQ_TOPIC", "jelou.dead")},
		{name: "state and watermark topics set", cmd: CommandRun, vars: with(ok, "SOURCES", "a", "KAFKA_STATE_TOPIC", "jelou.state", "KAFKA_WATERMARK_TOPIC", "jelou.watermarks", "SOURCE_A_STATE_TOPIC", "jelou.state.a")},
		{
			name: "state topic is another topic",
			cmd:  CommandRun,
			vars: with(ok, "SOURCES", "a", "KAFKA_DLQ_TOPIC", "dead", "KAFKA_STATE_TOPIC", "dead", "KAFKA_WATERMARK_TOPIC", "jelou.conversations.attended", "SOURCE_A_TOPIC", "a.events", "SOURCE_A_STATE_TOPIC", "a.events"),
			want: []string{
				`KAFKA_STATE_TOPIC must differ from KAFKA_TOPIC, KAFKA_DLQ_TOPIC, KAFKA_WATERMARK_TOPIC and CHECKPOINT_TOPIC, got "dead"`,
				`KAFKA_WATERMARK_TOPIC must differ from KAFKA_TOPIC, KAFKA_DLQ_TOPIC and CHECKPOINT_TOPIC, got "jelou.conversations.attended"`,
				`SOURCE_A_STATE_TOPIC must differ from the source's TOPIC, KAFKA_DLQ_TOPIC, KAFKA_WATERMARK_TOPIC and CHECKPOINT_TOPIC, got "a.events"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, with(tt.vars, "KAFKA_BROKERS", "kafka:9092"))
			_, got := loadAndValidate(tt.cmd)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

// TestSourceKeysMatchEnvconfig checks that the keys this package names the
// per-source variables by are the ones envconfig reads.
func TestSourceKeysMatchEnvconfig(t *testing.T) {
	var b strings.Builder
	if err := envconfig.Usagef("SOURCE_EU_1", &sourceVars{}, &b, "{{range .}}{{usage_key .}}\n{{end}}"); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, k := range sourceKeys {
		ours = append(ours, SourcePrefix("eu-1")+k)
	}
	if theirs := strings.Fields(b.String()); !slices.Equal(ours, theirs) {
		t.Errorf("ours:\n%q\nenvconfig:\n%q", ours, theirs)
	}
	// Every source variable stands for a variable of Config of its type.
	globals := fieldsOf(&Config{})
	for _, f := range sourceFields(&sourceVars{}, "SOURCE_X_") {
		if g := globalField(globals, f); g.value.Type() != f.value.Type() {
			t.Errorf("%s is a %s, but %s a %s", f.name, f.value.Type(), g.name, g.value.Type())
		}
		if f.tag.Get("desc") == "" {
			t.Errorf("%s has no desc tag", f.name)
		}
	}
}

func TestSourcePrefix(t *testing.T) {
	for id, want := range map[string]string{"acme": "SOURCE_ACME_", "eu-1": "SOURCE_EU_1_", "0": "SOURCE_0_"} {
		if got := SourcePrefix(id); got != want {
			t.Errorf("SourcePrefix(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestSourceIDsDecode(t *testing.T) {
	for in, want := range map[string]SourceIDs{"": nil, " , ": nil, "a": {"a"}, " a , b-1 ,,": {"a", "b-1"}, "A,a": {"A", "a"}} {
		var got SourceIDs
		if err := got.Decode(in); err != nil || !slices.Equal(got, want) || got.String() != strings.Join(want, ",") {
			t.Errorf("Decode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestSourceVariables(t *testing.T) {
	vars := map[string]Variable{}
	for _, v := range SourceVariables() {
		vars[v.Name] = v
	}
	for name, want := range map[string]Variable{
		"SOURCE_<ID>_CLIENT_ID":          {Type: "string", Required: "run/backfill/check"},
		"SOURCE_<ID>_CLIENT_SECRET":      {Type: "string, secret", Required: "run/backfill/check", Secret: true},
		"SOURCE_<ID>_CLIENT_SECRET_FILE": {Type: "string"},
		"SOURCE_<ID>_AUTH_SCHEME":        {Type: "basic|raw", Default: "$JELOU_AUTH_SCHEME"},
		"SOURCE_<ID>_TOPIC":              {Type: "string", Default: "$KAFKA_TOPIC"},
	} {
		got := vars[name]
		if got.Type != want.Type || got.Default != want.Default || got.Required != want.Required || got.Secret != want.Secret {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
	if len(vars) != len(sourceKeys) {
		t.Errorf("SourceVariables has %d rows, want %d", len(vars), len(sourceKeys))
	}
}

// TestSourceSettings checks that Settings shows each named source's
// effective values after the global variables, secrets redacted.
func TestSourceSettings(t *testing.T) {
	setenv(t, map[string]string{
		"SOURCES":                   "acme",
		"SOURCE_ACME_CLIENT_ID":     "acme-id",
		"SOURCE_ACME_CLIENT_SECRET": "acme-secret",
		"SOURCE_ACME_PAGE_SIZE":     "7",
	})
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range cfg.Settings() {
		got[s.Name] = s.Value
	}
	for name, want := range map[string]string{
		"SOURCES":                        "acme",
		"SOURCE_ACME_CLIENT_ID":          "acme-id",
		"SOURCE_ACME_CLIENT_SECRET":      "[REDACTED]",
		"SOURCE_ACME_CLIENT_SECRET_FILE": "",
		"SOURCE_ACME_PAGE_SIZE":          "7",
		"SOURCE_ACME_BASE_URL":           "https://api.jelou.ai",
		"SOURCE_ACME_TOPIC":              "jelou.conversations.attended",
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %q (listed %v), want %q", name, v, ok, want)
		}
	}
	if n := len(cfg.Settings()); n != len(Variables())+len(sourceKeys) {
		t.Errorf("Settings has %d entries, want %d", n, len(Variables())+len(sourceKeys))
	}
}

// TestSourceSecretsNeverShown formats a configuration with per-source
// secrets, from variables and from files, every way a caller might.
func TestSourceSecretsNeverShown(t *testing.T) {
	const acmeSecret, euSecret, euID = "s3cr3t-XYZZY-acme", "s3cr3t-PLUGH-eu", "eu-FILE-id"
	setenv(t, map[string]string{
		"SOURCES":                      "acme,eu",
		"KAFKA_BROKERS":                "kafka:9092",
		"SOURCE_ACME_CLIENT_ID":        "acme",
		"SOURCE_ACME_CLIENT_SECRET":    acmeSecret,
		"SOURCE_EU_CLIENT_ID_FILE":     writeFile(t, "id", euID),
		"SOURCE_EU_CLIENT_SECRET_FILE": writeFile(t, "secret", euSecret+"\n"),
		"SOURCE_EU_BASE_URL":           "not a url",
	})
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	srcs := cfg.Sources()
	if srcs[0].Jelou.ClientSecret.Reveal() != acmeSecret || srcs[1].Jelou.ClientSecret.Reveal() != euSecret || srcs[1].Jelou.ClientID != euID {
		t.Fatalf("secrets not read: %+v", srcs)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg, "sources", srcs)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", &cfg, "source", srcs[0])
	js, err := json.Marshal(struct {
		C Config
		S []Source
	}{cfg, srcs})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":         fmt.Sprintf("%v", cfg),
		"%+v":        fmt.Sprintf("%+v", cfg),
		"%#v":        fmt.Sprintf("%#v", cfg),
		"%v sources": fmt.Sprintf("%v", srcs),
		"%+v source": fmt.Sprintf("%+v", srcs[1]),
		"%#v source": fmt.Sprintf("%#v", srcs[0]),
		"slog":       logged.String(),
		"json":       string(js),
		"Validate":   fmt.Sprint(cfg.Validate(CommandRun)),
	}
	assertSecretsHidden(t, outputs, []string{acmeSecret, euSecret}, map[string]string{
		"%v":       "SOURCE_EU_CLIENT_SECRET=[REDACTED]",
		"Validate": "SOURCE_EU_BASE_URL must be",
	})
}
