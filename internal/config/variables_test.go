package config

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md and the tables of docs/configuration.md")

// TestVariablesMatchEnvconfig checks that Variables names exactly what
// envconfig reads, in the same order.
func TestVariablesMatchEnvconfig(t *testing.T) {
	var b strings.Builder
	if err := envconfig.Usagef("", &Config{}, &b, "{{range .}}{{usage_key .}}\n{{end}}"); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, v := range Variables() {
		ours = append(ours, v.Name)
	}
	if theirs := strings.Fields(b.String()); !slices.Equal(ours, theirs) {
		t.Errorf("Variables:\n%q\nenvconfig:\n%q", ours, theirs)
	}
}

func TestVariablesComplete(t *testing.T) {
	vars := map[string]Variable{}
	for _, v := range Variables() {
		if _, dup := vars[v.Name]; dup {
			t.Errorf("%s declared twice", v.Name)
		}
		if v.Description == "" {
			t.Errorf("%s has no desc tag", v.Name)
		}
		vars[v.Name] = v
	}
	// The contract: every variable the design promises.
	for _, name := range []string{
		"JELOU_BASE_URL", "JELOU_CLIENT_ID", "JELOU_CLIENT_SECRET", "JELOU_AUTH_SCHEME", "JELOU_PAGE_SIZE",
		"JELOU_TIMEZONE", "JELOU_RATE_LIMIT", "JELOU_TIMEOUT", "POLL_START_AT", "POLL_WINDOW", "POLL_INTERVAL",
		"POLL_LAG", "POLL_REVISIT", "POLL_SETTLE", "POLL_CONCURRENCY", "KAFKA_BROKERS", "KAFKA_TOPIC",
		"KAFKA_COMPRESSION", "KAFKA_PARTITIONER", "KAFKA_TOPIC_CREATE", "KAFKA_TOPIC_PARTITIONS",
		"KAFKA_TOPIC_REPLICATION", "CHECKPOINT_BACKEND", "CHECKPOINT_PATH", "CHECKPOINT_TOPIC", "HTTP_ADDR",
		"LOG_LEVEL", "LOG_FORMAT",
	} {
		if _, ok := vars[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}
	for name, want := range map[string]Variable{
		"JELOU_CLIENT_SECRET": {Required: "run/backfill/check", Secret: true, Type: "string, secret"},
		"KAFKA_SASL_PASSWORD": {Secret: true, Type: "string, secret"},
		"KAFKA_BROKERS":       {Required: "run/backfill", Type: "host:port list"},
		"JELOU_AUTH_SCHEME":   {Default: "basic", Type: "basic|raw"},
		"POLL_WINDOW":         {Default: "1h", Type: "duration"},
	} {
		got := vars[name]
		if got.Required != want.Required || got.Secret != want.Secret || got.Type != want.Type || got.Default != want.Default {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
}

// TestMarkdownGolden pins the variable tables: renaming a variable or
// changing a default shows up as a diff of testdata/variables.golden.md (or
// source-variables.golden.md for the SOURCE_<ID>_* variables). Run with
// -update to accept a change: it rewrites the golden files and the tables of
// docs/configuration.md.
func TestMarkdownGolden(t *testing.T) {
	for _, tt := range []struct {
		path, section string
		vars          []Variable
	}{
		{"testdata/variables.golden.md", "config-table", Variables()},
		{"testdata/source-variables.golden.md", "source-table", SourceVariables()},
	} {
		got := MarkdownTable(tt.vars)
		if *update {
			if err := os.WriteFile(tt.path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			updateConfigDoc(t, tt.section, got)
		}
		want, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("MarkdownTable differs from %s (run go test -update to accept):\n%s", tt.path, got)
		}
	}
}

func TestTextTable(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(TextTable(Variables()), "\n"), "\n")
	if len(lines) != len(Variables())+1 {
		t.Fatalf("TextTable has %d lines, want header + %d", len(lines), len(Variables()))
	}
	if !strings.HasPrefix(lines[0], "VARIABLE ") || !strings.HasPrefix(lines[1], "JELOU_BASE_URL ") {
		t.Errorf("unexpected table start:\n%s\n%s", lines[0], lines[1])
	}
	descCol := strings.Index(lines[0], "DESCRIPTION")
	for _, l := range lines[1:] {
		if len(l) < descCol || l[descCol-1] != ' ' {
			t.Errorf("column not aligned: %q", l)
		}
	}
}

func TestMarkdownEscapesPipes(t *testing.T) {
	got := MarkdownTable([]Variable{{Name: "X", Type: "a|b", Description: "p|q <ID>"}})
	if !strings.Contains(got, "| `X` | a\\|b |  |  | p\\|q &lt;ID> |") {
		t.Errorf("MarkdownTable = %q", got)
	}
}
