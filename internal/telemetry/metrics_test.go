package telemetry

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
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

// TestMetricNamesMatchDoc checks that the registered metrics are exactly those
// in doc.go's table, which the README copies.
func TestMetricNamesMatchDoc(t *testing.T) {
	reg := prometheus.NewRegistry()
	touch(New(reg))
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	documented := regexp.MustCompile(`jelou_producer_[a-z_]+`).FindAllString(string(doc), -1)
	slices.Sort(documented)
	documented = slices.Compact(documented)
	if got := gatheredNames(t, reg); !slices.Equal(got, documented) {
		t.Errorf("registered:\n%q\ndocumented in doc.go:\n%q", got, documented)
	}
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

func TestKnownLabelsStartAtZero(t *testing.T) {
	m := New(prometheus.NewRegistry())
	tests := []struct {
		name string
		c    prometheus.Collector
		want int
	}{
		{"windows_completed_total", m.WindowsCompleted, 4},
		{"lane_backlog_seconds", m.LaneBacklog, 4},
		{"checkpoint_saves_total", m.CheckpointSaves, 2},
		{"events_published_total", m.EventsPublished, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testutil.CollectAndCount(tt.c); got != tt.want {
				t.Errorf("%d series, want %d", got, tt.want)
			}
		})
	}
}

// Metrics is the API client's observer.
var _ jelou.Observer = (*Metrics)(nil)

func TestRequest(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Request(jelou.RequestInfo{StatusCode: 200, Status: "200", Duration: 20 * time.Millisecond, Rows: 100})
	m.Request(jelou.RequestInfo{StatusCode: 429, Status: "429", Duration: 5 * time.Millisecond})
	m.Request(jelou.RequestInfo{Status: "timeout", Duration: 30 * time.Second})
	m.Request(jelou.RequestInfo{StatusCode: 503}) // no label from the client: derived
	m.Request(jelou.RequestInfo{})
	want := `
# HELP jelou_producer_api_requests_total Jelou API attempts by status: HTTP code, timeout, or error (no response).
# TYPE jelou_producer_api_requests_total counter
jelou_producer_api_requests_total{status="200"} 1
jelou_producer_api_requests_total{status="429"} 1
jelou_producer_api_requests_total{status="503"} 1
jelou_producer_api_requests_total{status="error"} 1
jelou_producer_api_requests_total{status="timeout"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jelou_producer_api_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.APIRequestDuration); n != 1 {
		t.Errorf("duration histogram has %d series", n)
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
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := RetryReason(tt.err); got != tt.want {
				t.Errorf("RetryReason(%v) = %q, want %q", tt.err, got, tt.want)
			}
			before := testutil.ToFloat64(m.APIRetries.WithLabelValues(tt.want))
			m.Retry(jelou.RetryInfo{Err: tt.err})
			if got := testutil.ToFloat64(m.APIRetries.WithLabelValues(tt.want)); got != before+1 {
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
	m := New(reg, WithClock(clk))
	lag := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "jelou_producer_checkpoint_lag_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("checkpoint_lag_seconds not gathered")
		return 0
	}
	if got := lag(); got != 0 {
		t.Errorf("lag before any save = %v, want 0", got)
	}
	m.SetCheckpointCursor(clk.Now().Add(-90 * time.Second))
	if got := lag(); got != 90 {
		t.Errorf("lag = %v, want 90", got)
	}
	clk.Advance(time.Minute) // no save: the lag grows
	if got := lag(); got != 150 {
		t.Errorf("lag after a minute without saves = %v, want 150", got)
	}
	m.SetCheckpointCursor(time.Time{})
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
