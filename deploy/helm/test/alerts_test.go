package helmtest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
)

// paging are the alerts whose default severity is critical: a loss or a
// stall (nothing scraped, a source not polled, its checkpoint not kept, a
// source failed or owned by nobody). Every other alert is a warning.
var paging = []string{
	"JelouProducerDown",
	"JelouProducerPollStuck",
	"JelouProducerCheckpointStale",
	"JelouProducerSourceFailed",
	"JelouProducerSourceUnowned",
}

// defaultRunbookBase is prometheusRule.runbookBaseURL's default.
const defaultRunbookBase = "https://github.com/jelou-producer/jelou-producer/blob/main/docs/operations.md"

// evalMinutes is how long each case's series run, at one sample a minute.
const evalMinutes = 120

// healthy is one replica (pod a) owning and polling the default source, as
// series a test case overrides: the key is the series with %s for the
// job, namespace and pod matchers, the value its samples in promqltest's
// notation, one a minute for evalMinutes.
var healthy = map[string]string{
	`up{%s}`: "1+0x120",
	`jelou_producer_source_owned{%s,source="default"}`:                           "1+0x120",
	`jelou_producer_source_up{%s,source="default"}`:                              "1+0x120",
	`jelou_producer_poll_last_success_timestamp_seconds{%s,source="default"}`:    "0+60x120",
	`jelou_producer_checkpoint_last_save_timestamp_seconds{%s,source="default"}`: "0+60x120",
	`jelou_producer_lane_backlog_seconds{%s,source="default",lane="live"}`:       "30+0x120",
	`jelou_producer_api_requests_total{%s,source="default",status="200"}`:        "0+10x120",
	`jelou_producer_api_requests_total{%s,source="default",status="401"}`:        "0+0x120",
	`jelou_producer_api_requests_total{%s,source="default",status="429"}`:        "0+0x120",
	`jelou_producer_api_requests_total{%s,source="default",status="500"}`:        "0+0x120",
	`jelou_producer_api_requests_total{%s,source="default",status="timeout"}`:    "0+0x120",
	`jelou_producer_checkpoint_saves_total{%s,result="ok"}`:                      "0+12x120",
	`jelou_producer_checkpoint_saves_total{%s,result="error"}`:                   "0+0x120",
	`jelou_producer_kafka_write_errors_total{%s,kind="timeout"}`:                 "0+0x120",
	`jelou_producer_rows_rejected_total{%s,reason="missing_id"}`:                 "0+0x120",
}

// load is healthy with override's series replacing (or adding to) its own,
// scoped to job and pod a of the namespace, in promqltest's load notation.
func load(job string, override map[string]string) string {
	series := maps.Clone(healthy)
	maps.Copy(series, override)
	scope := fmt.Sprintf(`job=%q,namespace=%q,pod="a"`, job, namespace)
	var b strings.Builder
	b.WriteString("load 1m")
	for _, k := range slices.Sorted(maps.Keys(series)) {
		fmt.Fprintf(&b, "\n  %s %s", fmt.Sprintf(k, scope), series[k])
	}
	return b.String()
}

// fired evaluates every rule once a minute over st, from the first sample
// to the last, as Prometheus' rule manager does: an alert whose expression
// returns a series at every evaluation for its for: duration fires. It
// returns the alerts that fired at some point, with the label sets
// (source, or the whole set when there is no source) they fired for.
func fired(t *testing.T, rules []rulefmt.Rule, st storage.Storage) map[string][]string {
	t.Helper()
	ng := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	out := map[string][]string{}
	for _, r := range rules {
		since := map[string]time.Time{} // pending since, by label set
		for m := 0; m <= evalMinutes; m++ {
			at := time.Unix(0, 0).Add(time.Duration(m) * time.Minute)
			vec := instant(t, ng, st, r.Expr, at)
			seen := map[string]bool{}
			for _, s := range vec {
				key := s.Metric.Get("source")
				if key == "" {
					key = s.Metric.String()
				}
				seen[key] = true
				if _, ok := since[key]; !ok {
					since[key] = at
				}
				if at.Sub(since[key]) >= time.Duration(r.For) && !slices.Contains(out[r.Alert], key) {
					out[r.Alert] = append(out[r.Alert], key)
				}
			}
			maps.DeleteFunc(since, func(k string, _ time.Time) bool { return !seen[k] })
		}
	}
	return out
}

// instant evaluates expr at at.
func instant(t *testing.T, ng *promql.Engine, st storage.Storage, expr string, at time.Time) promql.Vector {
	t.Helper()
	q, err := ng.NewInstantQuery(context.Background(), st, nil, expr, at)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", expr, res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return vec
}

// rule returns the alert named name among rules, or nil.
func rule(rules []rulefmt.Rule, name string) *rulefmt.Rule {
	for i := range rules {
		if rules[i].Alert == name {
			return &rules[i]
		}
	}
	return nil
}

// TestAlertRulesTransients evaluates every rendered rule, with its for:,
// over two hours of a healthy replica into which one transient failure
// falls: none of them fires anything. Sustained failures of the same kinds
// fire their warning, and nothing pages.
func TestAlertRulesTransients(t *testing.T) {
	rules := alertRules(t)
	const once = "0x59 1+0x60" // one failure at minute 60, none after
	tests := []struct {
		name     string
		override map[string]string
		want     []string // alerts that fire
	}{
		{"healthy", nil, nil},
		{"a single failed checkpoint save, the next one succeeds",
			map[string]string{`jelou_producer_checkpoint_saves_total{%s,result="error"}`: once}, nil},
		{"a single retried 5xx",
			map[string]string{`jelou_producer_api_requests_total{%s,source="default",status="500"}`: once}, nil},
		{"a single API timeout",
			map[string]string{`jelou_producer_api_requests_total{%s,source="default",status="timeout"}`: once}, nil},
		{"a single 429",
			map[string]string{`jelou_producer_api_requests_total{%s,source="default",status="429"}`: once}, nil},
		{"a single retried Kafka write error",
			map[string]string{`jelou_producer_kafka_write_errors_total{%s,kind="timeout"}`: once}, nil},
		{"a source failure healed by its first retry",
			map[string]string{`jelou_producer_source_up{%s,source="default"}`: "1x59 0 1+0x59"}, nil},
		{"a scrape missed for a minute",
			map[string]string{`up{%s}`: "1x59 0 1+0x59"}, nil},

		{"half the API requests fail with 5xx for 20 minutes",
			map[string]string{`jelou_producer_api_requests_total{%s,source="default",status="500"}`: "0x59 0+10x20 200+0x40"},
			[]string{"JelouProducerAPIErrors"}},
		{"half the checkpoint saves fail for 20 minutes",
			map[string]string{`jelou_producer_checkpoint_saves_total{%s,result="error"}`: "0x59 0+12x20 240+0x40"},
			[]string{"JelouProducerCheckpointSaveErrors"}},
		{"Kafka write errors every minute for 20 minutes",
			map[string]string{`jelou_producer_kafka_write_errors_total{%s,kind="timeout"}`: "0x59 1+1x20 21+0x40"},
			[]string{"JelouProducerKafkaWriteErrors"}},
		{"the request budget short of complete capture for 30 minutes",
			map[string]string{`jelou_producer_request_budget_short{%s,source="default",degrades="terminal"}`: "0x59 1+0x30 0+0x30"},
			[]string{"JelouProducerRequestBudgetShort"}},
		{"the request budget short for 10 minutes only",
			map[string]string{`jelou_producer_request_budget_short{%s,source="default",degrades="active"}`: "0x59 1+0x10 0+0x50"}, nil},
		{"a third of the requests rate-limited for 30 minutes",
			map[string]string{`jelou_producer_api_requests_total{%s,source="default",status="429"}`: "0x59 0+5x30 150+0x30"},
			[]string{"JelouProducerRateLimited"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fired(t, rules, promqltest.LoadedStorage(t, load(fullname, tt.override)))
			if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, tt.want) {
				t.Errorf("fired %v, want %q", got, tt.want)
			}
			for name := range got {
				if sev := rule(rules, name).Labels["severity"]; sev != "warning" {
					t.Errorf("%s pages (severity %q) for an error that is retried", name, sev)
				}
			}
		})
	}
}

// TestAlertRulesStalls evaluates every rendered rule, with its for:, over
// each kind of stall: the stall's alert, and only it, fires for the
// source, pages (critical) and links its runbook.
func TestAlertRulesStalls(t *testing.T) {
	rules := alertRules(t)
	const stops = "0+60x59 3540+0x60" // a timestamp frozen from minute 59
	tests := []struct {
		alert    string
		override map[string]string
		key      string // the source, or the label set, it fires for
	}{
		{"JelouProducerDown", map[string]string{`up{%s}`: "1x59 0+0x60"}, "{}"}, // absent() of a comparison has no labels
		{"JelouProducerPollStuck", map[string]string{`jelou_producer_poll_last_success_timestamp_seconds{%s,source="default"}`: stops}, "default"},
		{"JelouProducerCheckpointStale", map[string]string{`jelou_producer_checkpoint_last_save_timestamp_seconds{%s,source="default"}`: stops}, "default"},
		{"JelouProducerSourceFailed", map[string]string{`jelou_producer_source_up{%s,source="default"}`: "1x59 0+0x60"}, "default"},
		{"JelouProducerSourceUnowned", map[string]string{`jelou_producer_source_owned{%s,source="default"}`: "1x59 0+0x60"}, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.alert, func(t *testing.T) {
			got := fired(t, rules, promqltest.LoadedStorage(t, load(fullname, tt.override)))
			want := map[string][]string{tt.alert: {tt.key}}
			if !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("fired %q, want %q", got, want)
			}
			r := rule(rules, tt.alert)
			if r.Labels["severity"] != "critical" {
				t.Errorf("severity %q, want critical", r.Labels["severity"])
			}
			if want := defaultRunbookBase + "#" + strings.ToLower(tt.alert); r.Annotations["runbook_url"] != want {
				t.Errorf("runbook_url %q, want %q", r.Annotations["runbook_url"], want)
			}
		})
	}
}

// TestAlertRunbooks checks every alert of the default rule set: a for:, a
// severity that pages only for the paging alerts, and a runbook_url whose
// anchor is a heading of docs/operations.md.
func TestAlertRunbooks(t *testing.T) {
	rules := alertRules(t)
	doc, err := os.ReadFile("../../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`).FindAllStringSubmatch(string(doc), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	if len(rules) != 13 {
		t.Errorf("%d alerts, want 13", len(rules))
	}
	for _, r := range rules {
		if r.For == 0 {
			t.Errorf("%s: no for:, one bad evaluation fires it", r.Alert)
		}
		if want := map[bool]string{true: "critical", false: "warning"}[slices.Contains(paging, r.Alert)]; r.Labels["severity"] != want {
			t.Errorf("%s: severity %q, want %q", r.Alert, r.Labels["severity"], want)
		}
		url := r.Annotations["runbook_url"]
		base, anchor, ok := strings.Cut(url, "#")
		if !ok || base != defaultRunbookBase {
			t.Errorf("%s: runbook_url %q, want %s#<anchor>", r.Alert, url, defaultRunbookBase)
			continue
		}
		if !anchors[anchor] {
			t.Errorf("%s: runbook_url %q: docs/operations.md has no heading with the anchor %q", r.Alert, url, anchor)
		}
	}
}

// githubAnchor returns the anchor GitHub gives a Markdown heading: lower
// case, punctuation dropped, spaces as '-'.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func TestGithubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"JelouProducerDown":                "jelouproducerdown",
		"HTTP endpoints and readiness":     "http-endpoints-and-readiness",
		"A source failed (`SourceFailed`)": "a-source-failed-sourcefailed",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestAlertRulesConfigurable renders ci/extensions-values.yaml: a custom
// selector (a PodMonitor's job) in every rule, a runbook base URL, an alert
// switched off, for and severity overridden. The custom selector matches
// series under that job, where the default one matches nothing and
// JelouProducerDown fires for ever.
func TestAlertRulesConfigurable(t *testing.T) {
	const job = "data/jelou-producer"
	rules := alertRulesWith(t, valueSets["extensions"].args...)
	if rule(rules, "JelouProducerRowsRejected") != nil {
		t.Error("JelouProducerRowsRejected is rendered although disabled")
	}
	if len(rules) != 12 {
		t.Errorf("%d alerts, want the 12 enabled", len(rules))
	}
	if r := rule(rules, "JelouProducerLiveBehind"); r == nil || time.Duration(r.For) != 30*time.Minute || r.Labels["severity"] != "info" {
		t.Errorf("JelouProducerLiveBehind = %+v, want for 30m, severity info", r)
	}
	if r := rule(rules, "JelouProducerCheckpointStale"); r == nil || time.Duration(r.For) != 5*time.Minute || r.Labels["severity"] != "warning" {
		t.Errorf("JelouProducerCheckpointStale = %+v, want for 5m (the default), severity warning", r)
	}
	for _, r := range rules {
		if want := "https://wiki.example.com/runbooks/jelou-producer#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
		if strings.Contains(r.Expr, fullname) || strings.Count(r.Expr, `{job="`+job+`",namespace="`+namespace+`"`)+strings.Count(r.Expr, `,job="`+job+`",namespace="`+namespace+`"`) == 0 {
			t.Errorf("%s: %s does not use the selector", r.Alert, r.Expr)
		}
	}

	healthy := promqltest.LoadedStorage(t, load(job, nil))
	if got := fired(t, rules, healthy); len(got) != 0 {
		t.Errorf("custom selector, healthy series under job %q: fired %v", job, got)
	}
	if got := fired(t, alertRules(t), healthy); len(got["JelouProducerDown"]) == 0 {
		t.Errorf("default selector, series under job %q: fired %v, want JelouProducerDown (it matches no target)", job, got)
	}
	stalled := promqltest.LoadedStorage(t, load(job, map[string]string{`jelou_producer_source_up{%s,source="default"}`: "1x59 0+0x60"}))
	if got := fired(t, rules, stalled); !slices.Equal(got["JelouProducerSourceFailed"], []string{"default"}) {
		t.Errorf("custom selector, a failed source: fired %v, want JelouProducerSourceFailed", got)
	}
}
