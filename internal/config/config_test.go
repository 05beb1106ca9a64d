package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// setenv makes the config variables of the environment exactly vars for the
// rest of the test; t.Setenv restores the previous environment afterwards.
func setenv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, v := range Variables() {
		t.Setenv(v.Name, "")
		if err := os.Unsetenv(v.Name); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// envFile is a testdata case: variables, the command, and the expected
// problems given as "# cmd:" and "# want:" comment lines.
type envFile struct {
	vars map[string]string
	cmd  Command
	want []string
}

func readEnvFile(t *testing.T, path string) envFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ef := envFile{vars: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# cmd: "):
			ef.cmd = Command(strings.TrimPrefix(line, "# cmd: "))
		case strings.HasPrefix(line, "# want: "):
			ef.want = append(ef.want, strings.TrimPrefix(line, "# want: "))
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q is not KEY=value", path, line)
			}
			ef.vars[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if ef.cmd == "" {
		t.Fatalf("%s: no '# cmd:' line", path)
	}
	return ef
}

// loadAndValidate runs what main runs and returns the problems, one per line.
func loadAndValidate(cmd Command) (Config, []string) {
	cfg, err := Load()
	if err == nil {
		err = cfg.Validate(cmd)
	}
	if err == nil {
		return cfg, nil
	}
	return cfg, strings.Split(err.Error(), "\n")
}

func TestTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.env")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".env"), func(t *testing.T) {
			ef := readEnvFile(t, path)
			setenv(t, ef.vars)
			_, got := loadAndValidate(ef.cmd)
			if !slices.Equal(got, ef.want) {
				t.Errorf("problems:\n got: %q\nwant: %q", got, ef.want)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	setenv(t, readEnvFile(t, "testdata/valid.env").vars)
	cfg, problems := loadAndValidate(CommandRun)
	if problems != nil {
		t.Fatal(problems)
	}
	if want := (HostPorts{"kafka-1:9092", "kafka-2:9092"}); !slices.Equal(cfg.Kafka.Brokers, want) {
		t.Errorf("Brokers = %q, want %q", cfg.Kafka.Brokers, want)
	}
	if cfg.Jelou.ClientSecret.Reveal() != "s3cret" {
		t.Errorf("ClientSecret not read")
	}
	if cfg.Poll.Window != time.Hour || cfg.Jelou.Timezone.Location() != time.UTC {
		t.Errorf("defaults not applied: window %s, zone %s", cfg.Poll.Window, cfg.Jelou.Timezone)
	}
}

func TestLoadValues(t *testing.T) {
	setenv(t, map[string]string{
		"JELOU_TIMEZONE":       "America/Guayaquil",
		"JELOU_MAX_BODY_BYTES": "512KiB",
		"JELOU_RATE_LIMIT":     "2.5",
		"POLL_START_AT":        "2024-05-01T00:00:00-05:00",
		"KAFKA_TOPIC_CONFIG":   "retention.ms=604800000, min.insync.replicas=2",
		"LOG_LEVEL":            "WARN",
	})
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Jelou.Timezone.String(); got != "America/Guayaquil" {
		t.Errorf("Timezone = %s", got)
	}
	if cfg.Jelou.MaxBodyBytes != 512<<10 {
		t.Errorf("MaxBodyBytes = %d", cfg.Jelou.MaxBodyBytes)
	}
	if cfg.Jelou.RateLimit != 2.5 {
		t.Errorf("RateLimit = %v", cfg.Jelou.RateLimit)
	}
	if want := time.Date(2024, 5, 1, 5, 0, 0, 0, time.UTC); !cfg.Poll.StartAt.Resolve(time.Now()).Equal(want) {
		t.Errorf("StartAt = %s, want %s", cfg.Poll.StartAt, want)
	}
	if want := (TopicConfig{"retention.ms": "604800000", "min.insync.replicas": "2"}); !reflect.DeepEqual(cfg.Kafka.TopicConfig, want) {
		t.Errorf("TopicConfig = %v", cfg.Kafka.TopicConfig)
	}
	if cfg.Log.Level != "warn" || cfg.Log.SlogLevel() != slog.LevelWarn {
		t.Errorf("Level = %q", cfg.Log.Level)
	}
}

// TestDefaults checks that Defaults (the package's own decoding) and Load
// (envconfig's) agree, and that the defaults are valid.
func TestDefaults(t *testing.T) {
	setenv(t, nil)
	loaded, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if d := Defaults(); !reflect.DeepEqual(loaded, d) {
		t.Errorf("Load() with an empty environment differs from Defaults():\n%s\n%s", loaded, d)
	}
	if err := loaded.Validate(CommandDemo); err != nil {
		t.Errorf("defaults are invalid: %v", err)
	}
}

func TestValidateRequiredByCommand(t *testing.T) {
	tests := []struct {
		cmd  Command
		want []string // variables reported missing
	}{
		{CommandRun, []string{"JELOU_CLIENT_ID", "JELOU_CLIENT_SECRET", "KAFKA_BROKERS"}},
		{CommandBackfill, []string{"JELOU_CLIENT_ID", "JELOU_CLIENT_SECRET", "KAFKA_BROKERS"}},
		{CommandCheck, []string{"JELOU_CLIENT_ID", "JELOU_CLIENT_SECRET"}},
		{CommandDemo, nil},
		{CommandConfig, nil},
		{CommandVersion, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.cmd), func(t *testing.T) {
			var got []string
			var cerr *Error
			if err := Defaults().Validate(tt.cmd); errors.As(err, &cerr) {
				for _, p := range cerr.Problems {
					got = append(got, p.Variable)
				}
			} else if err != nil {
				t.Fatalf("Validate returned %T, want *Error", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("missing = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorUnwrapsProblems(t *testing.T) {
	cfg := Defaults()
	cfg.Poll.Window = 0
	err := fmt.Errorf("startup: %w", cfg.Validate(CommandDemo))
	var p *Problem
	if !errors.As(err, &p) || p.Variable != "POLL_WINDOW" {
		t.Fatalf("errors.As(*Problem) = %v, %+v", err, p)
	}
}

// TestSecretsNeverShown formats a loaded Config every way a caller might and
// checks that neither secret appears.
func TestSecretsNeverShown(t *testing.T) {
	const apiSecret, kafkaPassword = "s3cr3t-XYZZY-api", "hunter2-PLUGH-kafka"
	setenv(t, map[string]string{
		"JELOU_CLIENT_ID":      "acme",
		"JELOU_CLIENT_SECRET":  apiSecret,
		"KAFKA_BROKERS":        "kafka:9092",
		"KAFKA_SASL_PASSWORD":  kafkaPassword, // without a mechanism: also a validation problem
		"KAFKA_SASL_USERNAME":  "producer",
		"KAFKA_SASL_MECHANISM": "none",
	})
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", &cfg, "kafka", cfg.Kafka)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", cfg),
		"%+v": fmt.Sprintf("%+v", cfg),
		"%#v": fmt.Sprintf("%#v", cfg),
		//lint:ignore S1025 the test checks what fmt itself prints
		"%s pointer": fmt.Sprintf("%s", &cfg),
		"%+v Kafka":  fmt.Sprintf("%+v", cfg.Kafka),
		"%#v Jelou":  fmt.Sprintf("%#v", cfg.Jelou),
		"%v secret":  fmt.Sprintf("%v %s %q", cfg.Jelou.ClientSecret, cfg.Kafka.Password, cfg.Kafka.Password),
		"slog":       logged.String(),
		"json":       string(js),
		"Validate":   fmt.Sprint(cfg.Validate(CommandRun)),
	}
	assertSecretsHidden(t, outputs, []string{apiSecret, kafkaPassword}, map[string]string{
		"%v":       "JELOU_CLIENT_SECRET=[REDACTED]",
		"Validate": "KAFKA_SASL_PASSWORD is set",
	})
}

// assertSecretsHidden fails for each output that shows one of secrets, and
// for each output named in want that lacks want's text (the redaction
// mark, the validation problem).
func assertSecretsHidden(t *testing.T, outputs map[string]string, secrets []string, want map[string]string) {
	t.Helper()
	for name, out := range outputs {
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows a secret: %s", name, out)
			}
		}
	}
	for name, text := range want {
		if !strings.Contains(outputs[name], text) {
			t.Errorf("%s does not show %q: %s", name, text, outputs[name])
		}
	}
}

func TestSettingsShowEmptySecretAsEmpty(t *testing.T) {
	for _, s := range Defaults().Settings() {
		if s.Name == "JELOU_CLIENT_SECRET" && s.Value != "" {
			t.Errorf("unset secret shows %q, want empty", s.Value)
		}
	}
}

// TestBaseURLCredentialsMasked loads base URLs that carry a password or a
// token, globally and for a source, and checks that the start-up log's
// forms of the configuration show them masked.
func TestBaseURLCredentialsMasked(t *testing.T) {
	const password, token = "hunter2-PLUGH", "tok3n-XYZZY"
	setenv(t, map[string]string{
		"JELOU_BASE_URL":            "https://operator:" + password + "@api.example.com",
		"SOURCES":                   "acme",
		"SOURCE_ACME_BASE_URL":      "https://" + token + "@acme.example.com/",
		"SOURCE_ACME_CLIENT_ID":     "acme",
		"SOURCE_ACME_CLIENT_SECRET": "s",
	})
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("jelou-producer started", "config", cfg)
	outputs := map[string]string{"%v": fmt.Sprintf("%v", cfg), "%#v": fmt.Sprintf("%#v", cfg), "slog": logged.String()}
	assertSecretsHidden(t, outputs, []string{password, token}, map[string]string{
		"%v":   "JELOU_BASE_URL=https://operator:xxxxx@api.example.com",
		"slog": `"SOURCE_ACME_BASE_URL":"https://xxxxx@acme.example.com/"`,
	})
}

// TestBoundsParseAndHoldDefaults checks that every min and max tag parses
// as its field's type and that every default lies within its bounds.
func TestBoundsParseAndHoldDefaults(t *testing.T) {
	c := Defaults()
	bounded := 0
	for _, f := range fieldsOf(&c) {
		if f.tag.Get("min") == "" && f.tag.Get("max") == "" {
			continue
		}
		bounded++
		var ps problems
		checkBounds(&ps, f, display(f.value))
		for _, p := range ps {
			t.Errorf("default out of bounds: %s", p.Message)
		}
	}
	if bounded == 0 {
		t.Error("no variable has bounds")
	}
}
