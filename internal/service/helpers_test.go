package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
	"github.com/jelou-producer/jelou-producer/schemas"
)

// t0 is the simulated "now" at which every harness clock starts, so that
// the data sets are the same on every run.
var t0 = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

// harness is one simulated Jelou API (served by httptest, its requests
// logged) on a scaled clock, a topic on the shared test broker and a
// checkpoint directory.
type harness struct {
	t       *testing.T
	clk     *clock.Scaled
	sim     *jelousim.Server
	url     string
	reqs    *requestLog
	brokers []string
	topic   string
	dir     string
}

// simOptions shape a harness's simulator.
type simOptions struct {
	speed  float64         // clock speed; default 1200 (a simulated hour in 3 s)
	count  int             // conversations over [t0−24h, t0+24h); default 3000
	config jelousim.Config // extra settings (Data.Count/Start/End and Clock are set here)
}

func newHarness(t *testing.T, o simOptions) *harness {
	t.Helper()
	if o.speed == 0 {
		o.speed = 1200
	}
	if o.count == 0 {
		o.count = 3000
	}
	clk := clock.NewScaled(t0, o.speed)
	cfg := o.config
	cfg.Clock = clk
	cfg.Data.Seed = 42
	cfg.Data.Start, cfg.Data.End, cfg.Data.Count = t0.Add(-24*time.Hour), t0.Add(24*time.Hour), o.count
	sim, err := jelousim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reqs := &requestLog{clk: clk, next: sim}
	ts := httptest.NewServer(reqs)
	t.Cleanup(ts.Close)
	return &harness{
		t: t, clk: clk, sim: sim, url: ts.URL, reqs: reqs,
		brokers: kafkatest.Brokers(t),
		topic:   kafkatest.Topic(t, 3, nil),
		dir:     t.TempDir(),
	}
}

// config returns a valid run configuration against the harness: the
// defaults, tuned so that a simulated day passes in seconds.
func (h *harness) config() config.Config {
	cfg := config.Defaults()
	cfg.Jelou.BaseURL = h.url
	cfg.Jelou.ClientID, cfg.Jelou.ClientSecret = "sim-client", "sim-secret"
	cfg.Jelou.RateLimit, cfg.Jelou.RateBurst = 200, 10
	cfg.Jelou.Timeout = 5 * time.Second
	// A fixed start: on a clock this fast, "24h ago" resolved after a slow
	// startup would skip the first conversations of the data set.
	cfg.Poll.StartAt = config.StartAt{At: t0.Add(-24 * time.Hour)}
	// A settle period longer than the longest attend delay (1h) plus a
	// tick lets the live edge find every late row.
	cfg.Poll.Settle = 90 * time.Minute
	cfg.Kafka.Brokers = h.brokers
	cfg.Kafka.Topic = h.topic
	// Its own consumer group: tests share one broker, and runs sharing the
	// default group would pause for each other's joins and leaves.
	cfg.Group.ID = h.topic + ".group"
	cfg.Checkpoint.Path = filepath.Join(h.dir, "checkpoint.json")
	cfg.Checkpoint.Interval = 200 * time.Millisecond
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

// running is a service started by start.
type running struct {
	svc  *service.Service
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan error
}

// start validates cfg, builds the service on the harness clock and runs it
// in the background. The test fails if New fails.
func (h *harness) start(cfg config.Config, opts service.Options) *running {
	h.t.Helper()
	r, err := h.tryStart(cfg, opts)
	if err != nil {
		h.t.Fatalf("service.New: %v", err)
	}
	return r
}

func (h *harness) tryStart(cfg config.Config, opts service.Options) (*running, error) {
	h.t.Helper()
	cmd := opts.Command
	if cmd == "" {
		cmd = config.CommandRun
	}
	if err := cfg.Validate(cmd); err != nil {
		h.t.Fatalf("invalid test configuration: %v", err)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Clock == nil {
		opts.Clock = h.clk
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(h.t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.New(ctx, cfg, opts)
	if err != nil {
		cancel()
		return nil, err
	}
	r := &running{svc: svc, reg: opts.Registry, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- svc.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r, nil
}

// wait waits for Run to return, failing the test after limit.
func (r *running) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(limit):
		t.Fatalf("Run did not return within %s", limit)
		return nil
	}
}

// stopAndWait cancels Run's context and returns its result.
func (r *running) stopAndWait(t *testing.T) error {
	t.Helper()
	r.stop()
	return r.wait(t, 30*time.Second)
}

// waitCursor waits until the service's cursor is at or after c (simulated
// time), failing the test after limit of wall time or if Run returns.
func (h *harness) waitCursor(r *running, c time.Time, limit time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for !r.svc.Cursor().After(c) {
		select {
		case err := <-r.done:
			r.done <- err
			h.t.Fatalf("Run returned %v before the cursor reached %s (cursor %s)", err, c.Format(time.RFC3339), r.svc.Cursor().Format(time.RFC3339))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("cursor %s has not passed %s after %s", r.svc.Cursor().Format(time.RFC3339), c.Format(time.RFC3339), limit)
		}
	}
}

// settle takes a snapshot of the pairs the simulator served, then waits
// until the service has finished every query started before it. Once the
// cursor passes the snapshot's simulated time, every live window in flight
// then has been published (the live lane is sequential); queries of the
// other lanes (settle, revisit) may still be in flight, so it then waits,
// while the service keeps running, until every pair of the snapshot is on
// the topic or a wall-clock limit passes. A pair a lane read but never
// published stays missing and fails the caller's assertNoneMissing; a stop
// before that wait would abandon in-flight requests by design and make
// such a pair missing for no fault of the service.
func (h *harness) settle(r *running) map[jelousim.Pair]bool {
	h.t.Helper()
	now := h.clk.Now()
	served := make(map[jelousim.Pair]bool)
	for p := range h.sim.ServedSeq() {
		served[p] = true
	}
	h.waitCursor(r, now, 30*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := pairCounts(h.readTopic())
		missing := 0
		for p := range served {
			if got[p] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return served
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// abandoned is called between a stop and the next start. It returns the
// pairs the simulator served that are not on the topic (read by requests
// that were in flight when the service stopped, abandoned by design), and
// makes the simulator forget what it served, so that the next settle
// counts only what the restarted run was served.
func (h *harness) abandoned() map[jelousim.Pair]bool {
	h.t.Helper()
	got := pairCounts(h.readTopic())
	out := make(map[jelousim.Pair]bool)
	for p := range h.sim.ServedSeq() {
		if got[p] == 0 {
			out[p] = true
		}
	}
	h.sim.ResetOracle()
	return out
}

// assertAbandonedRecovered checks the pairs abandoned at a stop against the
// topic after the restarted run: each is on the topic, or is an active
// state that ended before the restarted run read its window again. A
// terminal state is served from then on, so the restarted run must have
// read and published it.
func assertAbandonedRecovered(t *testing.T, abandoned map[jelousim.Pair]bool, got map[jelousim.Pair]int) {
	t.Helper()
	gone := 0
	for p := range abandoned {
		switch {
		case got[p] > 0:
		case p.State == jelou.StateActive:
			gone++
		default:
			t.Errorf("pair %s/%s, read by a request abandoned at the stop, was never published", p.ID, p.State)
		}
	}
	if len(abandoned) > 0 {
		t.Logf("%d pairs were read by requests abandoned at the stop; %d of them were active states that ended before the restart read them again", len(abandoned), gone)
	}
}

// topicEvent is one record of the topic, decoded.
type topicEvent struct {
	key   string
	value []byte
	ev    *event.Event
}

// readTopic reads and decodes every record of the harness topic.
func (h *harness) readTopic() []topicEvent { return h.readTopicOf(h.topic) }

// readTopicOf reads and decodes every record of topic.
func (h *harness) readTopicOf(topic string) []topicEvent {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, h.brokers, topic)
	if err != nil {
		h.t.Fatalf("read topic %s: %v", topic, err)
	}
	out := make([]topicEvent, 0, len(recs))
	for _, r := range recs {
		ev, err := r.Event()
		if err != nil {
			h.t.Fatalf("record at partition %d offset %d does not decode: %v\n%s", r.Partition, r.Offset, err, r.Value)
		}
		out = append(out, topicEvent{key: string(r.Key), value: r.Value, ev: ev})
	}
	return out
}

// pairCounts counts the topic's events per (conversation, state).
func pairCounts(evs []topicEvent) map[jelousim.Pair]int {
	n := make(map[jelousim.Pair]int, len(evs))
	for _, e := range evs {
		n[jelousim.Pair{ID: e.ev.Subject, State: e.ev.Data.State}]++
	}
	return n
}

// assertNoneMissing fails for every pair of want that is not on the topic.
func assertNoneMissing(t *testing.T, want map[jelousim.Pair]bool, got map[jelousim.Pair]int) {
	t.Helper()
	missing := 0
	for p := range want {
		if got[p] == 0 {
			if missing < 5 {
				t.Errorf("served pair %s/%s is not on the topic", p.ID, p.State)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d served pairs are missing from the topic", missing, len(want))
	}
}

// assertNoRepeats fails for every pair published more than once.
func assertNoRepeats(t *testing.T, got map[jelousim.Pair]int) {
	t.Helper()
	repeated := 0
	for p, n := range got {
		if n > 1 {
			if repeated < 5 {
				t.Errorf("pair %s/%s published %d times", p.ID, p.State, n)
			}
			repeated++
		}
	}
	if repeated > 0 {
		t.Errorf("%d pairs published more than once", repeated)
	}
}

var (
	schemaOnce sync.Once
	schemaV1   *jsonschema.Schema
	schemaErr  error
)

// eventSchema compiles the embedded v1 schema with format assertions.
func eventSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		b, err := fs.ReadFile(schemas.FS, schemas.V1)
		if err != nil {
			schemaErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource(schemas.V1, doc); err != nil {
			schemaErr = err
			return
		}
		schemaV1, schemaErr = c.Compile(schemas.V1)
	})
	if schemaErr != nil {
		t.Fatalf("compile schema %s: %v", schemas.V1, schemaErr)
	}
	return schemaV1
}

// validateEvent validates a structured record value against the schema.
func validateEvent(t *testing.T, value []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return eventSchema(t).Validate(inst)
}

// loadCheckpoint reads the file checkpoint of source.
func loadCheckpoint(t *testing.T, path, source string) *checkpoint.Checkpoint {
	t.Helper()
	st, err := checkpoint.NewFile(path, checkpoint.ReadOnly()) // the service may hold the lock
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cp, err := st.Load(context.Background(), source)
	if err != nil {
		t.Fatalf("load checkpoint %s: %v", path, err)
	}
	return cp
}

// testLogger sends the service's warnings and errors to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// apiRequest is one API request the simulator answered.
type apiRequest struct {
	key        string // query and body: the same page of the same window
	start, end time.Time
	status     int
	retryAfter string
	auth       string
	// declared is the Content-Length announced (-1 when none), written
	// the body bytes the client received.
	declared, written int64
	// invalid is set when a complete 200 body was not JSON (truncated).
	invalid bool
	// run is the X-Test-Run header a [taggedClient] sets ("" otherwise).
	run string
}

// taggedClient returns an HTTP client that marks every request with run,
// so a test can tell one run's requests from those of an earlier run
// whose handlers were still finishing when it stopped.
func taggedClient(run string) *http.Client {
	return &http.Client{Transport: tagTransport{run: run, next: http.DefaultTransport}}
}

type tagTransport struct {
	run  string
	next http.RoundTripper
}

func (t tagTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Run", t.run)
	return t.next.RoundTrip(r)
}

// failed reports whether the request did not get a complete 200.
func (r apiRequest) failed() bool {
	return r.status != http.StatusOK || r.invalid || (r.declared >= 0 && r.written < r.declared)
}

// timedOut reports whether the body was still being sent when the client's
// timeout passed (the client gave up on it).
func (r apiRequest) timedOut(timeout time.Duration) bool {
	return r.status == http.StatusOK && r.written < r.declared && r.end.Sub(r.start) >= timeout
}

// requestLog wraps the simulator: it records every API request and can
// rewrite successful response bodies.
type requestLog struct {
	clk  clock.Clock
	next http.Handler

	mu      sync.Mutex
	reqs    []apiRequest
	rewrite func([]byte) []byte
	// intercept, when set, may answer a request itself (returning true)
	// instead of the simulator.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// setIntercept makes every later API request pass through f first.
func (l *requestLog) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.intercept = f
}

// setRewrite makes every later 200 API response pass through f.
func (l *requestLog) setRewrite(f func([]byte) []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rewrite = f
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != jelousim.APIPath {
		l.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := apiRequest{key: r.URL.RawQuery + " " + string(body), start: time.Now(), auth: r.Header.Get("Authorization"), run: r.Header.Get("X-Test-Run")}
	l.mu.Lock()
	rewrite, intercept := l.rewrite, l.intercept
	l.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	switch {
	case intercept != nil && intercept(sw, r):
		// answered by the test
	case rewrite == nil:
		l.next.ServeHTTP(sw, r)
	default:
		buf := httptest.NewRecorder()
		l.next.ServeHTTP(buf, r)
		out := buf.Body.Bytes()
		if buf.Code == http.StatusOK {
			out = rewrite(out)
		}
		for k, v := range buf.Header() {
			sw.Header()[k] = v
		}
		sw.Header().Set("Content-Length", strconv.Itoa(len(out)))
		sw.WriteHeader(buf.Code)
		_, _ = sw.Write(out)
	}
	rec.end, rec.status, rec.retryAfter = time.Now(), sw.status, sw.Header().Get("Retry-After")
	rec.declared, rec.written = -1, sw.written
	if cl, err := strconv.ParseInt(sw.Header().Get("Content-Length"), 10, 64); err == nil {
		rec.declared = cl
	}
	complete := rec.declared < 0 || rec.written == rec.declared
	if sw.status == http.StatusOK && complete && sw.body.Len() == int(rec.written) {
		rec.invalid = !json.Valid(sw.body.Bytes())
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, rec)
	l.mu.Unlock()
}

// ofRun returns the requests answered so far that a taggedClient(run) sent.
func (l *requestLog) ofRun(run string) []apiRequest {
	var out []apiRequest
	for _, r := range l.all() {
		if r.run == run {
			out = append(out, r)
		}
	}
	return out
}

// all returns the requests answered so far.
func (l *requestLog) all() []apiRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]apiRequest(nil), l.reqs...)
}

// byStatus counts the answered requests by status.
func (l *requestLog) byStatus() map[int]int {
	n := make(map[int]int)
	for _, r := range l.all() {
		n[r.status]++
	}
	return n
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	written int64
	body    bytes.Buffer // the first maxTee bytes written
}

// maxTee bounds the copy of a response body kept to check that it is JSON.
const maxTee = 4 << 20

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	if w.body.Len()+n <= maxTee {
		w.body.Write(p[:n])
	}
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// errorAs reports whether err wraps a T.
func errorAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
