package telemetry

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// docMetric is one row of docs/metrics.md's metric table.
type docMetric struct {
	typ    string
	labels map[string][]string // label → values in backticks (created at start)
}

var backticked = regexp.MustCompile("`([^`]+)`")

// parseMetricsDoc reads the table whose header starts "| Metric | Type |
// Labels |" from docs/metrics.md. A Labels cell is a ";"-separated list of
// "`label`: `value`, `value` (prose)" items; only backticked words count.
func parseMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatalf("read docs/metrics.md: %v", err)
	}
	out := map[string]docMetric{}
	inTable := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| Metric | Type | Labels |"):
			inTable = true
			continue
		case !inTable || strings.HasPrefix(line, "|---"):
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("docs/metrics.md:%d: %d cells, want 4: %s", i+1, len(cells), line)
		}
		name := backticked.FindStringSubmatch(cells[0])
		if name == nil {
			t.Fatalf("docs/metrics.md:%d: no `metric` in the first cell", i+1)
		}
		if _, dup := out[name[1]]; dup {
			t.Errorf("docs/metrics.md:%d: %s listed twice", i+1, name[1])
		}
		m := docMetric{typ: strings.TrimSpace(cells[1]), labels: map[string][]string{}}
		for _, item := range strings.Split(cells[2], ";") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			label, values, _ := strings.Cut(item, ":")
			l := backticked.FindStringSubmatch(label)
			if l == nil {
				t.Fatalf("docs/metrics.md:%d: label item %q names no `label`", i+1, item)
			}
			var vs []string
			for _, v := range backticked.FindAllStringSubmatch(values, -1) {
				vs = append(vs, v[1])
			}
			m.labels[l[1]] = vs
		}
		out[name[1]] = m
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md has no | Metric | Type | Labels | Meaning | table")
	}
	return out
}

// TestDocsMetricsTable compares docs/metrics.md's table with a fresh
// registry, both ways: every metric registered is documented with its type
// and labels, every documented one is registered, and a label's backticked
// values are exactly the series that exist at start (a label documented
// without values must be constant: one value).
func TestDocsMetricsTable(t *testing.T) {
	doc := parseMetricsDoc(t)
	reg := prometheus.NewRegistry()
	New(reg, WithSources("default"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[dto.MetricType]string{dto.MetricType_COUNTER: "counter", dto.MetricType_GAUGE: "gauge", dto.MetricType_HISTOGRAM: "histogram"}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		seen[name] = true
		d, ok := doc[name]
		if !ok {
			t.Errorf("%s is registered but not in docs/metrics.md", name)
			continue
		}
		if typ := types[mf.GetType()]; typ != d.typ {
			t.Errorf("%s: docs/metrics.md says %s, registered as %s", name, d.typ, typ)
		}
		got := map[string][]string{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				got[l.GetName()] = append(got[l.GetName()], l.GetValue())
			}
		}
		if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(d.labels)); !slices.Equal(g, w) {
			t.Errorf("%s: labels %q registered, %q documented", name, g, w)
		}
		for label, docValues := range d.labels {
			values := slices.Compact(slices.Sorted(slices.Values(got[label])))
			if len(docValues) == 0 {
				if len(values) > 1 {
					t.Errorf("%s{%s}: %d series at start but no values documented", name, label, len(values))
				}
				continue
			}
			if dv := slices.Sorted(slices.Values(docValues)); !slices.Equal(values, dv) {
				t.Errorf("%s{%s}: created at start %q, documented %q", name, label, values, dv)
			}
		}
	}
	for name := range doc {
		if !seen[name] {
			t.Errorf("%s is in docs/metrics.md but not registered", name)
		}
	}
}
