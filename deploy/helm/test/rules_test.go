package helmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"sigs.k8s.io/yaml"

	"github.com/jelou-producer/jelou-producer/internal/telemetry"
)

// scrapeSynthesized are the series Prometheus itself adds to each target.
var scrapeSynthesized = []string{"up"}

// exported returns the series the service exports right after start-up, as
// the binary registers them (telemetry.NewRegistry plus telemetry.New), keyed
// by series name (histograms contribute _bucket, _sum and _count), each with
// the label sets present at start.
func exported(t *testing.T) map[string][]labels.Labels {
	t.Helper()
	reg := telemetry.NewRegistry()
	telemetry.New(reg, telemetry.WithSources("default")) // as the service registers them
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]labels.Labels{}
	for _, mf := range mfs {
		names := []string{mf.GetName()}
		switch mf.GetType().String() {
		case "HISTOGRAM":
			names = []string{mf.GetName() + "_bucket", mf.GetName() + "_sum", mf.GetName() + "_count"}
		case "SUMMARY":
			names = append(names, mf.GetName()+"_sum", mf.GetName()+"_count")
		}
		for _, m := range mf.GetMetric() {
			b := labels.NewBuilder(labels.EmptyLabels())
			for _, l := range m.GetLabel() {
				b.Set(l.GetName(), l.GetValue())
			}
			for _, n := range names {
				out[n] = append(out[n], b.Set(model.MetricNameLabel, n).Labels())
			}
		}
	}
	if len(out["jelou_producer_api_requests_total"]) == 0 {
		t.Fatal("the registry gathered no jelou_producer_api_requests_total series")
	}
	return out
}

// checkSelectors parses expr with Prometheus' PromQL parser and checks that
// every vector selector names an exported metric, carries the release's job
// and namespace matchers (when scoped), and selects at least one series that
// exists at start-up, so that increase() sees the first occurrence.
func checkSelectors(t *testing.T, where, expr string, series map[string][]labels.Labels, scoped bool) {
	t.Helper()
	for _, p := range selectorProblems(expr, series, scoped) {
		t.Errorf("%s: %s", where, p)
	}
}

// selectorProblems returns what checkSelectors reports for expr.
func selectorProblems(expr string, series map[string][]labels.Labels, scoped bool) []string {
	var problems []string
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("PromQL %q: %v", expr, err)}
	}
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		n++
		name := vs.Name
		var rest []*labels.Matcher // matchers on the series' own labels
		scope := map[string]string{}
		for _, m := range vs.LabelMatchers {
			switch m.Name {
			case model.MetricNameLabel:
				if name == "" && m.Type == labels.MatchEqual {
					name = m.Value
				}
			case "job", "namespace":
				if m.Type == labels.MatchEqual {
					scope[m.Name] = m.Value
				}
			default:
				rest = append(rest, m)
			}
		}
		if scoped && (scope["job"] != fullname || scope["namespace"] != namespace) {
			problems = append(problems, fmt.Sprintf("%s is not scoped to job=%q, namespace=%q: %s", name, fullname, namespace, vs))
		}
		if slices.Contains(scrapeSynthesized, name) {
			return nil
		}
		start, ok := series[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not a metric the service exports", name))
			return nil
		}
		if len(rest) > 0 && !slices.ContainsFunc(start, func(ls labels.Labels) bool {
			for _, m := range rest {
				if !m.Matches(ls.Get(m.Name)) {
					return false
				}
			}
			return true
		}) {
			problems = append(problems, fmt.Sprintf("%s selects no series that exists at start-up, so its first occurrence is invisible to increase()", vs))
		}
		return nil
	})
	if n == 0 {
		problems = append(problems, fmt.Sprintf("%q selects no series", expr))
	}
	return problems
}

// alertRules renders the chart with every option on and parses its alert
// rules.
func alertRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	return alertRulesWith(t, valueSets["all-on"].args...)
}

// alertRulesWith renders the chart with args and parses its alert rules.
func alertRulesWith(t *testing.T, args ...string) []rulefmt.Rule {
	t.Helper()
	helm(t)
	m := render(t, args...)
	if m.PrometheusRule == nil {
		t.Fatalf("values %q rendered no PrometheusRule", args)
	}
	spec, err := yaml.Marshal(m.PrometheusRule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.LegacyValidation, parser.NewParser(parser.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if groups == nil {
		t.Fatalf("rulefmt parsed nothing from:\n%s", spec)
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// TestAlertRulesJudgeOwners evaluates the rendered alert expressions with
// Prometheus' engine over replicas' per-source series: a source is judged
// only on the replica that owns it (a standby that never polled it, or a
// former owner whose series are frozen, fire nothing); a stalled source
// fires even while another source on the same replica advances; a source
// nobody owns fires JelouProducerSourceUnowned.
func TestAlertRulesJudgeOwners(t *testing.T) {
	rules := alertRules(t)
	sel := func(pod string) string {
		return `job="` + fullname + `",namespace="` + namespace + `",pod="` + pod + `"`
	}
	// series gives one replica's series of one source over an hour at
	// one-minute steps: owned is source_owned; polled and saved are the last
	// poll and save times (Unix seconds; "fresh" follows the clock); live is
	// lane_backlog_seconds{lane="live"}.
	series := func(pod, source string, owned int, polled, saved string, live int) string {
		return fmt.Sprintf(`
  jelou_producer_source_owned{%[1]s,source="%[2]s"} %[3]d+0x60
  jelou_producer_poll_last_success_timestamp_seconds{%[1]s,source="%[2]s"} %[4]s
  jelou_producer_checkpoint_last_save_timestamp_seconds{%[1]s,source="%[2]s"} %[5]s
  jelou_producer_lane_backlog_seconds{%[1]s,source="%[2]s",lane="live"} %[6]d+0x60`, sel(pod), source, owned, polled, saved, live)
	}
	const fresh, never, stale = "0+60x60", "0+0x60", "600+0x60"
	tests := []struct {
		name string
		load string
		want []string // "alert pod/source" that fire at the hour
	}{
		{"owner polling, standby idle: nothing fires",
			series("a", "default", 1, fresh, fresh, 30) + series("b", "default", 0, never, never, 0), nil},
		{"owner stopped polling: its alerts fire, not the standby's",
			series("a", "default", 1, stale, stale, 5000) + series("b", "default", 0, never, never, 0),
			[]string{"JelouProducerCheckpointStale a/default", "JelouProducerLiveBehind a/default", "JelouProducerPollStuck a/default"}},
		{"one of two sources on a replica stalls: it fires although the other advances",
			series("a", "acme", 1, fresh, fresh, 30) + series("a", "globex", 1, stale, stale, 5000) +
				series("b", "acme", 0, never, never, 0) + series("b", "globex", 0, never, never, 0),
			[]string{"JelouProducerCheckpointStale a/globex", "JelouProducerLiveBehind a/globex", "JelouProducerPollStuck a/globex"}},
		{"a source moved: its former owner's frozen series fire nothing",
			series("a", "acme", 1, fresh, fresh, 30) + series("a", "globex", 0, stale, stale, 5000) +
				series("b", "acme", 0, stale, stale, 0) + series("b", "globex", 1, fresh, fresh, 30),
			nil},
		{"nobody owns the source: only SourceUnowned fires",
			series("a", "default", 0, stale, stale, 0) + series("b", "default", 0, never, never, 0),
			[]string{"JelouProducerSourceUnowned /default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := promqltest.LoadedStorage(t, "load 1m"+tt.load)
			ng := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			at := time.Unix(0, 0).Add(time.Hour)
			var got []string
			for _, r := range rules {
				switch r.Alert {
				case "JelouProducerPollStuck", "JelouProducerCheckpointStale", "JelouProducerLiveBehind", "JelouProducerSourceUnowned":
				default:
					continue
				}
				q, err := ng.NewInstantQuery(context.Background(), st, nil, r.Expr, at)
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				res := q.Exec(context.Background())
				if res.Err != nil {
					t.Fatalf("%s: %v", r.Alert, res.Err)
				}
				vec, err := res.Vector()
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				for _, s := range vec {
					got = append(got, r.Alert+" "+s.Metric.Get("pod")+"/"+s.Metric.Get("source"))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("firing %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAlertRules parses the rendered PrometheusRule with Prometheus' rule
// file parser (which also parses each expression and annotation template)
// and checks every selector against what the service exports.
func TestAlertRules(t *testing.T) {
	rules := alertRules(t)
	series := exported(t)
	var alerts []string
	for _, r := range rules {
		where := r.Alert + r.Record
		if r.Alert == "" {
			t.Errorf("%s: a recording rule; this chart ships alerts only", where)
		}
		alerts = append(alerts, r.Alert)
		if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
			t.Errorf("%s: severity %q", where, sev)
		}
		if r.Labels["team"] != "data" {
			t.Errorf("%s: alertLabels not applied: %v", where, r.Labels)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary or description missing", where)
		}
		checkSelectors(t, where, r.Expr, series, true)
	}
	// docs/metrics.md documents exactly these alerts.
	doc, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(JelouProducer[A-Za-z]+)` \\| ([a-z]+) \\| ([0-9a-z]+) \\|").FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
		// Its severity and for columns are the chart's defaults.
		if r := rule(rules, m[1]); r != nil && (r.Labels["severity"] != m[2] || r.For.String() != m[3]) {
			t.Errorf("docs/metrics.md gives %s severity %s, for %s; the chart %s, %s", m[1], m[2], m[3], r.Labels["severity"], r.For)
		}
	}
	slices.Sort(alerts)
	slices.Sort(documented)
	if !slices.Equal(alerts, documented) {
		t.Errorf("alerts in the chart %q, in docs/metrics.md %q", alerts, documented)
	}
}

// TestDashboard checks the Grafana dashboard: valid JSON, every panel's
// queries parse as PromQL and name only exported metrics.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard has uid %q and %d panels", d.UID, len(d.Panels))
	}
	series := exported(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$namespace", namespace, "$job", fullname, "$source", ".*")
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkSelectors(t, "panel "+p.Title, vars.Replace(tg.Expr), series, true)
		}
	}
}

// TestSelectorProblems guards the checks themselves: the runtime series are
// known, and an unknown name, an unscoped selector, a label value with no
// series at start and bad PromQL are each reported.
func TestSelectorProblems(t *testing.T) {
	series := exported(t)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "jelou_producer_api_request_duration_seconds_bucket", "jelou_producer_checkpoint_lag_seconds"} {
		if _, ok := series[name]; !ok {
			t.Errorf("%s not among the exported series", name)
		}
	}
	scope := `job="` + fullname + `",namespace="` + namespace + `"`
	for _, tt := range []struct {
		expr, want string
	}{
		{`increase(jelou_producer_api_requests_total{status="401",` + scope + `}[5m]) > 0`, ""},
		{`absent(up{` + scope + `} == 1)`, ""},
		{`increase(jelou_producer_api_requests_total{status=~"5..",` + scope + `}[5m])`, ""},
		{`increase(jelou_producer_nope_total{` + scope + `}[5m])`, "not a metric the service exports"},
		{`increase(jelou_producer_api_requests_total{status="401"}[5m])`, "is not scoped"},
		{`increase(jelou_producer_api_requests_total{status="418",` + scope + `}[5m])`, "no series that exists at start-up"},
		{`increase(jelou_producer_rows_rejected_total{reason="bad_json",` + scope + `}[5m])`, "no series that exists at start-up"},
		{`rate(jelou_producer_api_requests_total{` + scope + `}[5m]`, "PromQL"},
		{`vector(1) > 0`, "selects no series"},
	} {
		got := strings.Join(selectorProblems(tt.expr, series, true), "; ")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%s: problems %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// TestAlertSourceFailed evaluates JelouProducerSourceFailed with
// Prometheus' engine: a source held failed on a replica (source_up 0) fires
// it with that source's label while the replica's other source polls; a
// healthy deployment fires nothing. Its summary names the source.
func TestAlertSourceFailed(t *testing.T) {
	rules := alertRules(t)
	var rule *rulefmt.Rule
	for i := range rules {
		if rules[i].Alert == "JelouProducerSourceFailed" {
			rule = &rules[i]
		}
	}
	if rule == nil {
		t.Fatal("the chart has no JelouProducerSourceFailed alert")
	}
	if !strings.Contains(rule.Annotations["summary"], "$labels.source") {
		t.Errorf("summary %q does not name the source", rule.Annotations["summary"])
	}
	if rule.For == 0 {
		t.Error("JelouProducerSourceFailed has no for: a retry that heals at once would page")
	}
	up := func(pod, source string, v int) string {
		return fmt.Sprintf("\n  jelou_producer_source_up{job=%q,namespace=%q,pod=%q,source=%q} %d+0x60", fullname, namespace, pod, source, v)
	}
	tests := []struct {
		name string
		load string
		want []string // "pod/source" firing at the hour
	}{
		{"every source polls", up("a", "acme", 1) + up("a", "globex", 1) + up("b", "acme", 1) + up("b", "globex", 1), nil},
		{"globex failed on its owner, acme polls", up("a", "acme", 1) + up("a", "globex", 0) + up("b", "acme", 1) + up("b", "globex", 1), []string{"a/globex"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := promqltest.LoadedStorage(t, "load 1m"+tt.load)
			ng := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			q, err := ng.NewInstantQuery(context.Background(), st, nil, rule.Expr, time.Unix(0, 0).Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range vec {
				got = append(got, s.Metric.Get("pod")+"/"+s.Metric.Get("source"))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("firing %q, want %q", got, tt.want)
			}
		})
	}
}

// dashboard is what the tests read of the chart's Grafana dashboard.
type dashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []dashVar `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

// dashPanel is a panel of the dashboard: its title and queries.
type dashPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// readDashboard reads and decodes the chart's dashboard.
func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(chartDir + "/dashboards/jelou-producer.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	return d
}

// dashVar is a Grafana template variable.
type dashVar struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
}

// TestDashboardSources checks the dashboard's source variable and panels:
// a multi-value source variable over the release's sources; every query of
// a metric with a source label filters by it (source=~"$source"); and
// panels show ownership, the group generation, failed sources, dead
// letters and late rows.
func TestDashboardSources(t *testing.T) {
	d := readDashboard(t)
	i := slices.IndexFunc(d.Templating.List, func(v dashVar) bool { return v.Name == "source" })
	if i < 0 {
		t.Fatal("the dashboard has no source variable")
	}
	if v := d.Templating.List[i]; !v.Multi || !v.IncludeAll || v.AllValue != ".*" || !strings.Contains(v.Definition, `job="$job"`) {
		t.Errorf("source variable %+v: want multi-value, All as .*, over the release's series", v)
	}

	series := exported(t)
	hasSource := func(name string) bool {
		return slices.ContainsFunc(series[name], func(ls labels.Labels) bool { return ls.Has("source") })
	}
	vars := strings.NewReplacer("$__rate_interval", "5m")
	metrics := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			e, err := parser.NewParser(parser.Options{}).ParseExpr(vars.Replace(tg.Expr))
			if err != nil {
				t.Errorf("panel %s: %v", p.Title, err)
				continue
			}
			parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
				vs, ok := node.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				metrics[vs.Name] = true
				filtered := slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
					return m.Name == "source" && m.Type == labels.MatchRegexp && m.Value == "$source"
				})
				if hasSource(vs.Name) && !filtered {
					t.Errorf("panel %s: %s has a source label but is not filtered by source=~\"$source\"", p.Title, vs)
				}
				return nil
			})
		}
	}
	for _, name := range []string{
		"jelou_producer_source_owned", "jelou_producer_group_generation",
		"jelou_producer_source_up", "jelou_producer_source_failures_total",
		"jelou_producer_dead_letters_total",
		"jelou_producer_late_rows_total", "jelou_producer_row_first_seen_seconds_bucket",
		"jelou_producer_watermark_complete_before_timestamp_seconds",
	} {
		if !metrics[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// TestDashboardWatermarkLag evaluates the dashboard's "Completeness
// watermark lag" query with Prometheus' engine: per source, how far the
// newest completeBefore among the replicas trails now. A source with no
// watermark yet (the gauge is 0 on every replica) has no line rather than
// a lag of 55 years; a former owner's older value does not hide the new
// owner's; another release's series do not count.
func TestDashboardWatermarkLag(t *testing.T) {
	d := readDashboard(t)
	i := slices.IndexFunc(d.Panels, func(p dashPanel) bool { return p.Title == "Completeness watermark lag" })
	if i < 0 {
		t.Fatal("the dashboard has no \"Completeness watermark lag\" panel")
	}
	if n := len(d.Panels[i].Targets); n != 1 {
		t.Fatalf("the watermark lag panel has %d queries, want 1", n)
	}
	query := d.Panels[i].Targets[0].Expr
	wm := func(job, pod, source string, completeBefore int) string {
		return fmt.Sprintf("\n  jelou_producer_watermark_complete_before_timestamp_seconds{job=%q,namespace=%q,pod=%q,source=%q} %d+0x60", job, namespace, pod, source, completeBefore)
	}
	tests := []struct {
		name   string
		source string // the $source variable
		load   string
		want   map[string]float64 // lag in seconds by source, at 1h
	}{
		{"no watermark written yet", ".*",
			wm(fullname, "a", "acme", 0) + wm(fullname, "b", "acme", 0) + wm(fullname, "a", "globex", 0) + wm(fullname, "b", "globex", 0),
			map[string]float64{}},
		{"acme's owner wrote one, globex none yet", ".*",
			wm(fullname, "a", "acme", 600) + wm(fullname, "b", "acme", 0) + wm(fullname, "a", "globex", 0) + wm(fullname, "b", "globex", 0),
			map[string]float64{"acme": 3000}},
		{"handed over: the former owner keeps an older one", ".*",
			wm(fullname, "a", "acme", 600) + wm(fullname, "b", "acme", 1800) + wm(fullname, "a", "globex", 2400) + wm(fullname, "b", "globex", 0),
			map[string]float64{"acme": 1800, "globex": 1200}},
		{"another release's series", ".*",
			wm(fullname, "a", "acme", 600) + wm("other-release", "x", "acme", 3000),
			map[string]float64{"acme": 3000}},
		{"one source picked", "globex",
			wm(fullname, "a", "acme", 600) + wm(fullname, "a", "globex", 2400),
			map[string]float64{"globex": 1200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr := strings.NewReplacer("$namespace", namespace, "$job", fullname, "$source", tt.source).Replace(query)
			st := promqltest.LoadedStorage(t, "load 1m"+tt.load)
			ng := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			q, err := ng.NewInstantQuery(context.Background(), st, nil, expr, time.Unix(0, 0).Add(time.Hour))
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, s := range vec {
				if s.Metric.Len() != 1 || !s.Metric.Has("source") {
					t.Errorf("series %s: want the source label alone", s.Metric)
				}
				got[s.Metric.Get("source")] = s.F
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("lag by source %v, want %v", got, tt.want)
			}
		})
	}
}
