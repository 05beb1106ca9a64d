package config

import (
	"os"
	"strings"
	"testing"
)

const readmePath = "../../README.md"

// readmeSection returns the text of README between the markers of the named
// generated section, and the offsets it spans.
func readmeSection(t *testing.T, readme, name string) (got string, i, j int) {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i, j = strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README has no %q … %q section", strings.TrimSpace(begin), end)
	}
	i += len(begin)
	return readme[i:j], i, j
}

// updateREADME replaces the named generated section of README with want.
func updateREADME(t *testing.T, name, want string) {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	s := string(b)
	_, i, j := readmeSection(t, s, name)
	if err := os.WriteFile(readmePath, []byte(s[:i]+want+s[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestREADMETableIsCurrent keeps the README's configuration table equal to
// what the code reads: regenerate it with `jelou-producer config --markdown`
// or `go test ./internal/config -run TestMarkdownGolden -update`.
func TestREADMETableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	got, _, _ := readmeSection(t, string(readme), "config-table")
	want := MarkdownTable(Variables())
	if got != want {
		t.Fatalf("README's configuration table is stale; replace it with the output of `go run ./cmd/jelou-producer config --markdown` (or run go test ./internal/config -run TestMarkdownGolden -update):\n%s", want)
	}
}

// TestREADMESourceTableIsCurrent keeps the README's table of per-source
// variables equal to SourceVariables: regenerate it with
// `go test ./internal/config -run TestMarkdownGolden -update`.
func TestREADMESourceTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	got, _, _ := readmeSection(t, string(readme), "source-table")
	if want := MarkdownTable(SourceVariables()); got != want {
		t.Fatalf("README's per-source variable table is stale; run go test ./internal/config -run TestMarkdownGolden -update:\n%s", want)
	}
}
