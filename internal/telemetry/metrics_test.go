package telemetry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// fakeClock is a clock.Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// touch gives every vector one series so that Gather reports it.
func touch(m *Metrics) {
	m.Request(jelou.RequestInfo{Status: "200", Duration: time.Millisecond})
	m.Retry(jelou.RetryInfo{Err: &jelou.NetworkError{}})
	m.DuplicatesSkipped.WithLabelValues("published").Inc()
	m.RowsRejected.WithLabelValues("missing_id").Inc()
	m.KafkaWriteErrors.WithLabelValues("timeout").Inc()
}

func gatheredNames(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	touch(New(reg))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestKnownLabelsStartAtZero checks that right after New every known label
// value of every vector has a series, at 0, so that increase() sees the
// first error.
func TestKnownLabelsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, WithSources("default"))
	var lanes []string
	for _, l := range poller.Lanes {
		lanes = append(lanes, l.String())
	}
	want := map[string]map[string][]string{ // metric → label → values
		"jelou_producer_api_requests_total":                          {"status": KnownStatuses, "source": repeat("default", len(KnownStatuses))},
		"jelou_producer_api_retries_total":                           {"reason": RetryReasons, "source": repeat("default", len(RetryReasons))},
		"jelou_producer_api_request_duration_seconds":                {"source": {"default"}},
		"jelou_producer_source_failures_total":                       {"reason": SourceFailureReasons, "source": repeat("default", len(SourceFailureReasons))},
		"jelou_producer_source_up":                                   {"source": {"default"}},
		"jelou_producer_api_rate_limited_pauses_total":               {"source": {"default"}},
		"jelou_producer_api_rate_limited_pause_seconds_total":        {"source": {"default"}},
		"jelou_producer_events_published_total":                      {"state": States},
		"jelou_producer_duplicates_skipped_total":                    {"reason": DuplicateReasons},
		"jelou_producer_rows_rejected_total":                         {"reason": RejectReasons},
		"jelou_producer_dead_letters_total":                          {"reason": DeadLetterReasons},
		"jelou_producer_windows_completed_total":                     {"lane": lanes},
		"jelou_producer_lane_backlog_seconds":                        {"lane": lanes},
		"jelou_producer_tracked_conversations":                       {"source": {"default"}},
		"jelou_producer_watermark_complete_before_timestamp_seconds": {"source": {"default"}},
		"jelou_producer_source_owned":                                {"source": {"default"}},
		"jelou_producer_windows_truncated_total":                     {"source": {"default"}},
		"jelou_producer_checkpoint_lag_seconds":                      {"source": {"default"}},
		"jelou_producer_checkpoint_cursor_timestamp_seconds":         {"source": {"default"}},
		"jelou_producer_checkpoint_last_save_timestamp_seconds":      {"source": {"default"}},
		"jelou_producer_poll_last_success_timestamp_seconds":         {"source": {"default"}},
		"jelou_producer_kafka_write_errors_total":                    {"kind": KafkaErrorKinds},
		"jelou_producer_checkpoint_saves_total":                      {"result": CheckpointResults},
		"jelou_producer_row_first_seen_seconds":                      {"lane": lanes[:len(lanes)-1]}, // history rows are backlog, not late
		"jelou_producer_request_budget_short":                        {"degrades": BudgetPromises, "source": repeat("default", len(BudgetPromises))},
		"jelou_producer_request_rate_needed":                         {"promise": NeededPromises, "source": repeat("default", len(NeededPromises))},
		"jelou_producer_request_budget":                              {"source": {"default"}},
		"jelou_producer_account":                                     {"quantity": AccountQuantities, "source": repeat("default", len(AccountQuantities))},
	}
	// Every series starts at 0 but source_up: a source is up until it fails.
	startsAt := map[string]float64{"jelou_producer_source_up": 1}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string][]string{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 || len(mf.GetMetric()[0].GetLabel()) == 0 || mf.GetName() == "jelou_producer_build_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue() + m.GetGauge().GetValue(); v != startsAt[mf.GetName()] {
				t.Errorf("%s%v = %v at start, want %v", mf.GetName(), m.GetLabel(), v, startsAt[mf.GetName()])
			}
			for _, l := range m.GetLabel() {
				if got[mf.GetName()] == nil {
					got[mf.GetName()] = map[string][]string{}
				}
				got[mf.GetName()][l.GetName()] = append(got[mf.GetName()][l.GetName()], l.GetValue())
			}
		}
	}
	for name, labels := range want {
		for label, values := range labels {
			g := slices.Sorted(slices.Values(got[name][label]))
			w := slices.Sorted(slices.Values(values))
			if !slices.Equal(g, w) {
				t.Errorf("%s{%s} at start: %q, want %q", name, label, g, w)
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s has labelled series at start but is not in this test", name)
		}
	}
}

// Metrics is the API client's observer.
var _ jelou.Observer = (*Metrics)(nil)

func TestRequest(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, WithSources("acme", "globex"))
	p := NewPipeline(m, nil, nil).ForSource("acme")
	p.Request(jelou.RequestInfo{StatusCode: 200, Status: "200", Duration: 20 * time.Millisecond, Rows: 100})
	p.Request(jelou.RequestInfo{StatusCode: 429, Status: "429", Duration: 5 * time.Millisecond})
	p.Request(jelou.RequestInfo{Status: "timeout", Duration: 30 * time.Second})
	p.Request(jelou.RequestInfo{StatusCode: 520}) // no label from the client: derived; not a known status
	p.Request(jelou.RequestInfo{})
	var want strings.Builder
	want.WriteString(`
# HELP jelou_producer_api_requests_total Jelou API attempts by source and status: HTTP code, timeout, or error (no response).
# TYPE jelou_producer_api_requests_total counter
jelou_producer_api_requests_total{source="acme",status="200"} 1
jelou_producer_api_requests_total{source="acme",status="401"} 0
jelou_producer_api_requests_total{source="acme",status="403"} 0
jelou_producer_api_requests_total{source="acme",status="422"} 0
jelou_producer_api_requests_total{source="acme",status="429"} 1
jelou_producer_api_requests_total{source="acme",status="500"} 0
jelou_producer_api_requests_total{source="acme",status="502"} 0
jelou_producer_api_requests_total{source="acme",status="503"} 0
jelou_producer_api_requests_total{source="acme",status="504"} 0
jelou_producer_api_requests_total{source="acme",status="520"} 1
jelou_producer_api_requests_total{source="acme",status="error"} 1
jelou_producer_api_requests_total{source="acme",status="timeout"} 1
`)
	for _, s := range KnownStatuses { // the other source's, untouched
		fmt.Fprintf(&want, "jelou_producer_api_requests_total{source=\"globex\",status=%q} 0\n", s)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "jelou_producer_api_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.APIRequestDuration); n != 2 {
		t.Errorf("duration histogram has %d series, want one per source", n)
	}
	if got := testutil.ToFloat64(m.ConversationsFetched); got != 100 {
		t.Errorf("Request counted %v conversations, want the 100 rows of the page received", got)
	}
}

func TestRetryReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&jelou.RateLimitError{RetryAfter: time.Second}, "rate_limited"},
		{fmt.Errorf("page 2: %w", &jelou.ServerError{StatusCode: 502}), "server_error"},
		{&jelou.NetworkError{Timeout: true, Err: errors.New("deadline")}, "timeout"},
		{&jelou.NetworkError{Err: errors.New("connection reset")}, "network"},
		{&jelou.StatusError{StatusCode: 408}, "other"},
		{nil, "other"},
	}
	m := New(nil)
	p := NewPipeline(m, nil, nil).ForSource("acme")
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := RetryReason(tt.err); got != tt.want {
				t.Errorf("RetryReason(%v) = %q, want %q", tt.err, got, tt.want)
			}
			before := testutil.ToFloat64(m.APIRetries.WithLabelValues("acme", tt.want))
			p.Retry(jelou.RetryInfo{Err: tt.err})
			if got := testutil.ToFloat64(m.APIRetries.WithLabelValues("acme", tt.want)); got != before+1 {
				t.Errorf("Retry did not count reason %q", tt.want)
			}
		})
	}
}

func TestStateLabel(t *testing.T) {
	for in, want := range map[jelou.State]string{
		jelou.StateActive: "active", jelou.StateExpired: "expired", "archived": "other", "": "other",
	} {
		if got := StateLabel(in); got != want {
			t.Errorf("StateLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckpointLag(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	m := New(reg, WithClock(clk), WithSources("a"))
	lag := func() float64 { return tu.Gauge(t, reg, "jelou_producer_checkpoint_lag_seconds", "source", "a") }
	if got := lag(); got != 0 {
		t.Errorf("lag before any save = %v, want 0", got)
	}
	m.SetCheckpointCursor("a", clk.Now().Add(-90*time.Second))
	if got := lag(); got != 90 {
		t.Errorf("lag = %v, want 90", got)
	}
	clk.Advance(time.Minute) // no save: the lag grows
	if got := lag(); got != 150 {
		t.Errorf("lag after a minute without saves = %v, want 150", got)
	}
	m.SetCheckpointCursor("a", time.Time{})
	if got := lag(); got != 0 {
		t.Errorf("lag after reset = %v, want 0", got)
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	want := `
# HELP jelou_producer_build_info Always 1; the labels give the version and Go version of the binary.
# TYPE jelou_producer_build_info gauge
jelou_producer_build_info{goversion="` + buildinfo.GoVersion() + `",version="` + buildinfo.Get() + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jelou_producer_build_info"); err != nil {
		t.Error(err)
	}
}

func TestNewNilRegisterer(t *testing.T) {
	a, b := New(nil), New(nil) // no registry: no duplicate registration
	a.Revisits.Inc()
	if testutil.ToFloat64(a.Revisits) != 1 || testutil.ToFloat64(b.Revisits) != 0 {
		t.Error("unregistered metrics are not independent")
	}
}

func TestNewRegistry(t *testing.T) {
	reg := NewRegistry()
	New(reg)
	names := gatheredNames(t, reg)
	for _, want := range []string{"go_goroutines", "jelou_producer_build_info"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not gathered", want)
		}
	}
}

func TestTimestamps(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	m := New(reg, WithClock(clk), WithSources("a"))
	const (
		poll   = "jelou_producer_poll_last_success_timestamp_seconds"
		save   = "jelou_producer_checkpoint_last_save_timestamp_seconds"
		cursor = "jelou_producer_checkpoint_cursor_timestamp_seconds"
	)
	for _, name := range []string{poll, save, cursor} {
		if got := tu.Gauge(t, reg, name); got != 0 {
			t.Errorf("%s = %v before any event, want 0", name, got)
		}
	}
	start := float64(clk.Now().Unix())

	m.PollSucceeded("a")
	m.CheckpointSaved("a", nil)
	m.SetCheckpointCursor("a", clk.Now().Add(-90*time.Second+500*time.Millisecond))
	clk.Advance(time.Minute)
	if got := tu.Gauge(t, reg, poll); got != start {
		t.Errorf("%s = %v, want %v", poll, got, start)
	}
	if got := tu.Gauge(t, reg, save); got != start {
		t.Errorf("%s = %v, want %v", save, got, start)
	}
	if got, want := tu.Gauge(t, reg, cursor), start-89.5; got != want {
		t.Errorf("%s = %v, want %v (sub-second kept)", cursor, got, want)
	}

	m.CheckpointSaved("a", errors.New("disk full")) // a failed save leaves the time of the last good one
	if got := tu.Gauge(t, reg, save); got != start {
		t.Errorf("%s after a failed save = %v, want %v", save, got, start)
	}
	if ok, bad := testutil.ToFloat64(m.CheckpointSaves.WithLabelValues(CheckpointOK)),
		testutil.ToFloat64(m.CheckpointSaves.WithLabelValues(CheckpointError)); ok != 1 || bad != 1 {
		t.Errorf("checkpoint_saves_total ok=%v error=%v, want 1 and 1", ok, bad)
	}
	m.PollSucceeded("a")
	if got := tu.Gauge(t, reg, poll); got != start+60 {
		t.Errorf("%s after a minute = %v, want %v", poll, got, start+60)
	}
}

// TestRetryReasonsAreKnown checks that every value RetryReason returns is
// one New creates at start.
func TestRetryReasonsAreKnown(t *testing.T) {
	for _, err := range []error{
		&jelou.RateLimitError{}, &jelou.ServerError{StatusCode: 500}, &jelou.NetworkError{Timeout: true},
		&jelou.NetworkError{}, errors.New("other"),
	} {
		if r := RetryReason(err); !slices.Contains(RetryReasons, r) {
			t.Errorf("RetryReason(%T) = %q, not in RetryReasons %q", err, r, RetryReasons)
		}
	}
	for _, s := range []jelou.State{jelou.StateActive, "archived"} {
		if l := StateLabel(s); !slices.Contains(States, l) {
			t.Errorf("StateLabel(%q) = %q, not in States %q", s, l, States)
		}
	}
}

// TestPipelineFeedsTimestamps checks that the observer the service uses
// feeds the timestamps: a completed window the last-poll time, a good save
// the last-save time and the cursor, a failed save neither.
func TestPipelineFeedsTimestamps(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	p := NewPipeline(New(reg, WithClock(clk)), nil, nil).ForSource("a")
	now := float64(clk.Now().Unix())
	p.QueryDone(poller.LaneLive, jelou.Window{}, 0, 0, 0)
	if got := tu.Gauge(t, reg, "jelou_producer_poll_last_success_timestamp_seconds"); got != now {
		t.Errorf("last poll = %v after QueryDone, want %v", got, now)
	}
	clk.Advance(time.Minute)
	p.Saved(&checkpoint.Checkpoint{Cursor: clk.Now().Add(-time.Hour)}, 0, errors.New("read-only file system"))
	if got := tu.Gauge(t, reg, "jelou_producer_checkpoint_last_save_timestamp_seconds"); got != 0 {
		t.Errorf("last save = %v after a failed save, want 0", got)
	}
	p.Saved(&checkpoint.Checkpoint{Cursor: clk.Now().Add(-time.Hour)}, 0, nil)
	if got := tu.Gauge(t, reg, "jelou_producer_checkpoint_last_save_timestamp_seconds"); got != now+60 {
		t.Errorf("last save = %v, want %v", got, now+60)
	}
	if got := tu.Gauge(t, reg, "jelou_producer_checkpoint_cursor_timestamp_seconds"); got != now+60-3600 {
		t.Errorf("cursor = %v, want %v", got, now+60-3600)
	}
}

func TestFirstSeenAndLateRows(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewPipeline(New(reg), nil, nil)
	p.FirstSeen(poller.LaneLive, 20*time.Second)
	p.FirstSeen(poller.LaneRevisit, 40*time.Minute)
	if got := testutil.ToFloat64(p.LateRows); got != 1 {
		t.Errorf("late_rows_total = %v, want 1 (the revisit lane's)", got)
	}
	if n := testutil.CollectAndCount(p.RowFirstSeen); n != 3 {
		t.Errorf("row_first_seen_seconds has %d series, want live, settle and revisit", n)
	}
}

// TestStandby: the gauges of a source a replica lost show no lag, backlog
// or tracked conversations, but keep its last poll and save times; the
// other sources' gauges are untouched.
func TestStandby(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	m := New(reg, WithClock(clk), WithSources("a", "b"))
	base := NewPipeline(m, nil, nil)
	for _, p := range []*Pipeline{base.ForSource("a"), base.ForSource("b")} {
		p.QueryDone(poller.LaneLive, jelou.Window{}, 0, 0, 0)
		p.Saved(&checkpoint.Checkpoint{Cursor: clk.Now().Add(-time.Hour)}, 0, nil)
		p.Covered(checkpoint.Coverage{
			Live:    jelou.Window{Start: clk.Now().Add(-2 * time.Hour), End: clk.Now().Add(-20 * time.Minute)},
			Settled: clk.Now().Add(-time.Hour),
			History: []jelou.Window{{Start: clk.Now().Add(-48 * time.Hour), End: clk.Now().Add(-24 * time.Hour)}},
		}, clk.Now())
		p.RevisitsDue(1, time.Minute)
		p.Tracked(40)
	}
	polled, saved := clk.Now(), clk.Now()
	clk.Advance(10 * time.Minute)

	m.Standby("a")
	gauge := func(name, source string, labels ...string) float64 {
		return tu.Gauge(t, reg, "jelou_producer_"+name, append([]string{"source", source}, labels...)...)
	}
	for _, src := range []string{"a", "b"} {
		lost := src == "a"
		check := func(what string, got float64, kept float64) {
			t.Helper()
			want := kept
			if lost {
				want = 0
			}
			if got != want {
				t.Errorf("source %s (lost %v): %s = %v, want %v", src, lost, what, got, want)
			}
		}
		check("checkpoint_lag_seconds", gauge("checkpoint_lag_seconds", src), 70*60)
		check("tracked_conversations", gauge("tracked_conversations", src), 40)
		check("lane_backlog_seconds{live}", gauge("lane_backlog_seconds", src, "lane", "live"), 20*60)
		check("lane_backlog_seconds{history}", gauge("lane_backlog_seconds", src, "lane", "history"), 24*3600)
		if got := gauge("poll_last_success_timestamp_seconds", src); got != float64(polled.Unix()) {
			t.Errorf("source %s: poll_last_success = %v, want the last poll %d", src, got, polled.Unix())
		}
		if got := gauge("checkpoint_last_save_timestamp_seconds", src); got != float64(saved.Unix()) {
			t.Errorf("source %s: checkpoint_last_save = %v, want the last save %d", src, got, saved.Unix())
		}
	}
}

// TestSourcesReportApart: one replica polling two sources, one of which
// stalls, shows the stalled one's last poll and lag (a single series used to
// show whichever source reported last, hiding the stalled one).
func TestSourcesReportApart(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	base := NewPipeline(New(reg, WithClock(clk), WithSources("fresh", "stalled")), nil, nil)
	fresh, stalled := base.ForSource("fresh"), base.ForSource("stalled")
	start := clk.Now()
	stalled.QueryDone(poller.LaneLive, jelou.Window{}, 0, 0, 0)
	stalled.Saved(&checkpoint.Checkpoint{Cursor: start}, 0, nil)
	for range 10 {
		clk.Advance(time.Minute)
		fresh.QueryDone(poller.LaneLive, jelou.Window{}, 0, 0, 0)
		fresh.Saved(&checkpoint.Checkpoint{Cursor: clk.Now()}, 0, nil)
	}
	for name, want := range map[string]float64{
		"poll_last_success_timestamp_seconds/fresh":   float64(clk.Now().Unix()),
		"poll_last_success_timestamp_seconds/stalled": float64(start.Unix()),
		"checkpoint_lag_seconds/fresh":                0,
		"checkpoint_lag_seconds/stalled":              600,
	} {
		metric, src, _ := strings.Cut(name, "/")
		if got := tu.Gauge(t, reg, "jelou_producer_"+metric, "source", src); got != want {
			t.Errorf("%s{source=%q} = %v, want %v", metric, src, got, want)
		}
	}
}

// TestLaneMetricsFollowTheLaneTable: the pipeline asks each lane's row of
// poller's lane table, so a new lane needs no telemetry change. Covered
// sets lane_backlog_seconds of every lane with a Backlog rule (the revisit
// lane reports through RevisitsDue); revisits_total and late_rows_total
// count only Revisit lanes; row_first_seen_seconds starts with a series for
// each FirstSeen lane.
func TestLaneMetricsFollowTheLaneTable(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	p := NewPipeline(New(reg, WithClock(clk), WithSources("a")), nil, nil).ForSource("a")
	now := clk.Now()
	p.Covered(checkpoint.Coverage{
		Live:    jelou.Window{Start: now.Add(-2 * time.Hour), End: now.Add(-20 * time.Minute)},
		Settled: now.Add(-time.Hour),
		History: []jelou.Window{{Start: now.Add(-48 * time.Hour), End: now.Add(-24 * time.Hour)}},
	}, now)
	want := map[string]float64{"live": 20 * 60, "settle": 3600, "revisit": 0, "history": 24 * 3600}
	firstSeen := 0
	for _, l := range poller.Lanes {
		if got := tu.Gauge(t, reg, "jelou_producer_lane_backlog_seconds", "source", "a", "lane", l.String()); got != want[l.String()] {
			t.Errorf("lane_backlog_seconds{%s} = %v, want %v", l, got, want[l.String()])
		}
		if l.Spec().FirstSeen {
			firstSeen++
		}
	}
	if n := testutil.CollectAndCount(p.RowFirstSeen); n != firstSeen {
		t.Errorf("row_first_seen_seconds starts with %d series, want one per FirstSeen lane (%d)", n, firstSeen)
	}
	for _, l := range poller.Lanes {
		revisits, late := testutil.ToFloat64(p.Revisits), testutil.ToFloat64(p.LateRows)
		p.QueryDone(l, jelou.Window{}, 0, 0, 0)
		if l.Spec().FirstSeen {
			p.FirstSeen(l, time.Minute)
		}
		var inc float64
		if l.Spec().Revisit {
			inc = 1
		}
		if got := testutil.ToFloat64(p.Revisits) - revisits; got != inc {
			t.Errorf("a %s window added %v to revisits_total, want %v", l, got, inc)
		}
		if got := testutil.ToFloat64(p.LateRows) - late; got != inc {
			t.Errorf("a first sighting by %s added %v to late_rows_total, want %v", l, got, inc)
		}
	}
}

// TestRateLimitedPausesBySource: a 429 that paused a source's requests is
// counted, with its length, under that source only; other attempts count
// no pause.
func TestRateLimitedPausesBySource(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, WithSources("a", "b"))
	base := NewPipeline(m, nil, nil)
	a := base.ForSource("a")
	a.Request(jelou.RequestInfo{StatusCode: 429, Status: "429", Pause: 3 * time.Second})
	a.Request(jelou.RequestInfo{StatusCode: 429, Status: "429", Pause: 5 * time.Minute})
	a.Request(jelou.RequestInfo{StatusCode: 429, Status: "429"}) // no Retry-After: no pause
	base.ForSource("b").Request(jelou.RequestInfo{StatusCode: 200, Status: "200"})
	want := `
# HELP jelou_producer_api_rate_limited_pauses_total 429 responses whose Retry-After paused every request of the source.
# TYPE jelou_producer_api_rate_limited_pauses_total counter
jelou_producer_api_rate_limited_pauses_total{source="a"} 2
jelou_producer_api_rate_limited_pauses_total{source="b"} 0
# HELP jelou_producer_api_rate_limited_pause_seconds_total Seconds of pause asked for by 429 Retry-After headers, each capped at the client's maximum (overlapping pauses add up).
# TYPE jelou_producer_api_rate_limited_pause_seconds_total counter
jelou_producer_api_rate_limited_pause_seconds_total{source="a"} 303
jelou_producer_api_rate_limited_pause_seconds_total{source="b"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jelou_producer_api_rate_limited_pauses_total", "jelou_producer_api_rate_limited_pause_seconds_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.APIRequests.WithLabelValues("a", "429")); got != 3 {
		t.Errorf("api_requests_total{source=a,status=429} = %v, want the 3 attempts", got)
	}
}

// repeat returns n copies of v.
func repeat(v string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestSourceFailureReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("window: %w", &jelou.AuthError{StatusCode: 401}), FailureAuth},
		{&jelou.ValidationError{StatusCode: 422}, FailureRequest},
		{&jelou.StatusError{StatusCode: 400}, FailureRequest},
		{&jelou.BodyTooLargeError{}, FailureResponse},
		{&jelou.DecodeError{}, FailureResponse},
		{fmt.Errorf("window: %w", jelou.ErrTooManyPages), FailureResponse},
		{&publish.WriteError{Kind: publish.KindTooLarge, Err: errors.New("too large")}, FailurePublish},
		{&publish.TopicError{Kind: publish.KindTopic}, FailurePublish},
		{&checkpoint.CorruptError{Reason: "bad"}, FailureCheckpoint},
		{errors.New("something else"), FailureOther},
	}
	for _, tt := range tests {
		if got := SourceFailureReason(tt.err); got != tt.want || !slices.Contains(SourceFailureReasons, got) {
			t.Errorf("SourceFailureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	m := New(nil, WithSources("acme"))
	m.SourceFailed("acme", FailureAuth)
	if up, n := testutil.ToFloat64(m.SourceUp.WithLabelValues("acme")), testutil.ToFloat64(m.SourceFailures.WithLabelValues("acme", FailureAuth)); up != 0 || n != 1 {
		t.Errorf("after SourceFailed: source_up %v, failures %v; want 0 and 1", up, n)
	}
	m.SourceRecovered("acme")
	if up := testutil.ToFloat64(m.SourceUp.WithLabelValues("acme")); up != 1 {
		t.Errorf("after SourceRecovered: source_up %v, want 1", up)
	}
}

// TestDeadLettersAreCountedBySourceAndReason checks the poller's
// DeadLettered reaches dead_letters_total under the source's label.
func TestDeadLettersAreCountedBySourceAndReason(t *testing.T) {
	p := NewPipeline(New(prometheus.NewRegistry()), nil, nil)
	a, b := p.ForSource("a"), p.ForSource("b")
	a.DeadLettered(poller.DeadLetterTooLarge)
	a.DeadLettered(poller.DeadLetterTooLarge)
	b.DeadLettered(poller.RejectMissingID)
	for _, c := range []struct {
		source, reason string
		want           float64
	}{
		{"a", poller.DeadLetterTooLarge, 2},
		{"b", poller.RejectMissingID, 1},
		{"a", poller.RejectMissingID, 0},
	} {
		if got := testutil.ToFloat64(p.DeadLetters.WithLabelValues(c.source, c.reason)); got != c.want {
			t.Errorf("dead_letters_total{source=%q,reason=%q} = %v, want %v", c.source, c.reason, got, c.want)
		}
	}
	if testutil.ToFloat64(p.RowsRejected.WithLabelValues(poller.RejectMissingID)) != 0 {
		t.Error("a dead-lettered row was also counted as rejected")
	}
}
