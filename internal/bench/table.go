package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdict is a target's outcome.
type Verdict string

// The verdicts. Info rows carry no target.
const (
	Pass Verdict = "PASS"
	Miss Verdict = "MISS"
	Info Verdict = ""
)

// Row is one line of the result table.
type Row struct {
	// Scenario names the scenario ("1 backfill").
	Scenario string
	// Metric names what was measured.
	Metric string
	// Value is the measurement, formatted.
	Value string
	// Target is the goal, formatted; "" when the row is informative only.
	Target string
	// Verdict is Pass or Miss for a target, Info otherwise.
	Verdict Verdict
}

// Table is every row of one harness run.
type Table struct {
	Title string
	Rows  []Row
}

// Add appends an informative row.
func (t *Table) Add(scenario, metric, value string) {
	t.Rows = append(t.Rows, Row{Scenario: scenario, Metric: metric, Value: value})
}

// Target appends a row with a target and whether it was met.
func (t *Table) Target(scenario, metric, value, target string, met bool) {
	v := Miss
	if met {
		v = Pass
	}
	t.Rows = append(t.Rows, Row{Scenario: scenario, Metric: metric, Value: value, Target: target, Verdict: v})
}

// Write prints the table as aligned text.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n", t.Title)
	fmt.Fprintln(tw, "scenario\tmetric\tvalue\ttarget\tresult")
	last := ""
	for _, r := range t.Rows {
		s := r.Scenario
		if s == last {
			s = ""
		}
		last = r.Scenario
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s, r.Metric, r.Value, r.Target, r.Verdict)
	}
	return tw.Flush()
}

// Markdown prints the table as a Markdown table.
func (t *Table) Markdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| scenario | metric | value | target | result |\n|---|---|---|---|---|\n")
	last := ""
	for _, r := range t.Rows {
		s := r.Scenario
		if s == last {
			s = ""
		}
		last = r.Scenario
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", s, r.Metric, r.Value, r.Target, r.Verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// the nearest-rank method; it returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summary is p50, p99 and max of a set of delays.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize sorts d in place and summarises it.
func Summarize(d []time.Duration) Summary {
	slices.Sort(d)
	if len(d) == 0 {
		return Summary{}
	}
	return Summary{N: len(d), P50: Percentile(d, 50), P99: Percentile(d, 99), Max: d[len(d)-1]}
}

// String formats the summary as "p50 1.2s, p99 3.4s, max 5.6s (n=7)".
func (s Summary) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", dur(s.P50), dur(s.P99), dur(s.Max), s.N)
}

// dur formats a duration with about three significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.String()
	}
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
