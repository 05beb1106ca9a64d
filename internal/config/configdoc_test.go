package config

import (
	"os"
	"strings"
	"testing"
)

// configDocPath is the page that holds the generated variable tables.
const configDocPath = "../../docs/configuration.md"

// docSection returns the text of docs/configuration.md between the markers
// of the named generated section, and the offsets it spans.
func docSection(t *testing.T, doc, name string) (got string, i, j int) {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i, j = strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("docs/configuration.md has no %q … %q section", strings.TrimSpace(begin), end)
	}
	i += len(begin)
	return doc[i:j], i, j
}

// updateConfigDoc replaces the named generated section of
// docs/configuration.md with want.
func updateConfigDoc(t *testing.T, name, want string) {
	t.Helper()
	b, err := os.ReadFile(configDocPath)
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	s := string(b)
	_, i, j := docSection(t, s, name)
	if err := os.WriteFile(configDocPath, []byte(s[:i]+want+s[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readConfigDoc returns the text of docs/configuration.md.
func readConfigDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(configDocPath)
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	return string(b)
}

// TestConfigDocTableIsCurrent keeps docs/configuration.md's table equal to
// what the code reads: regenerate it with `jelou-producer config --markdown`
// or `go test ./internal/config -run TestMarkdownGolden -update`.
func TestConfigDocTableIsCurrent(t *testing.T) {
	got, _, _ := docSection(t, readConfigDoc(t), "config-table")
	if want := MarkdownTable(Variables()); got != want {
		t.Fatalf("docs/configuration.md's configuration table is stale; replace it with the output of `go run ./cmd/jelou-producer config --markdown` (or run go test ./internal/config -run TestMarkdownGolden -update):\n%s", want)
	}
}

// TestConfigDocSourceTableIsCurrent keeps docs/configuration.md's table of
// per-source variables equal to SourceVariables: regenerate it with
// `go test ./internal/config -run TestMarkdownGolden -update`.
func TestConfigDocSourceTableIsCurrent(t *testing.T) {
	got, _, _ := docSection(t, readConfigDoc(t), "source-table")
	if want := MarkdownTable(SourceVariables()); got != want {
		t.Fatalf("docs/configuration.md's per-source variable table is stale; run go test ./internal/config -run TestMarkdownGolden -update:\n%s", want)
	}
}
