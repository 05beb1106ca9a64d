package telemetry_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
)

// TestLabelValuesMatchProducers keeps the label values New creates at start
// equal to those the counting packages can produce, read from their source
// where they have no list of their own, so that a new failure kind or reject
// reason gets its zero series (and its alert) too.
func TestLabelValuesMatchProducers(t *testing.T) {
	var dedupeSkips []string
	for r := dedupe.Reason(0); r.String() != "unknown"; r++ {
		if r != dedupe.ReasonNew && r != dedupe.ReasonStateChange { // these emit
			dedupeSkips = append(dedupeSkips, r.String())
		}
	}
	tests := []struct {
		name        string
		known, from []string
	}{
		{"duplicates_skipped_total reason (dedupe.Reason values that skip)", telemetry.DuplicateReasons, dedupeSkips},
		{"rows_rejected_total reason (poller's Reject* constants)", telemetry.RejectReasons,
			stringConstants(t, "../poller", func(name string, _ ast.Expr) bool { return strings.HasPrefix(name, "Reject") })},
		{"dead_letters_total reason (poller's Reject* and DeadLetter* constants)", telemetry.DeadLetterReasons,
			stringConstants(t, "../poller", func(name string, _ ast.Expr) bool {
				return strings.HasPrefix(name, "Reject") || strings.HasPrefix(name, "DeadLetter")
			})},
		{"kafka_write_errors_total kind (publish's Kind constants)", telemetry.KafkaErrorKinds,
			stringConstants(t, "../publish", func(_ string, typ ast.Expr) bool {
				id, ok := typ.(*ast.Ident)
				return ok && id.Name == "Kind"
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, f := slices.Sorted(slices.Values(tt.known)), slices.Sorted(slices.Values(tt.from))
			if len(f) == 0 || !slices.Equal(k, f) {
				t.Errorf("created at start: %q\nproduced:         %q", k, f)
			}
		})
	}
}

// stringConstants returns the values of the string-literal constants
// declared in the non-test Go files of dir for which keep(name, type) holds.
func stringConstants(t *testing.T, dir string, keep func(name string, typ ast.Expr) bool) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s sources: %v (%d files)", dir, err, len(files))
	}
	var out []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) || !keep(id.Name, vs.Type) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, s)
				}
			}
		}
	}
	return out
}
