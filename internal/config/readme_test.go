package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMETableIsCurrent keeps the README's configuration table equal to
// what the code reads: regenerate it with `jelou-producer config --markdown`.
func TestREADMETableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	const begin, end = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README has no %q … %q section", strings.TrimSpace(begin), end)
	}
	got := s[i+len(begin) : j]
	want := MarkdownTable(Variables())
	if got != want {
		t.Fatalf("README's configuration table is stale; replace it with the output of `go run ./cmd/jelou-producer config --markdown`:\n%s", want)
	}
}
