package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
)

// Budget scenario settings (issue 11). Every duration is simulated time.
const (
	// budgetRate is JELOU_RATE_LIMIT in requests per simulated second; the
	// client enforces it in wall time, so the producer gets budgetRate×speed.
	budgetRate = 5
	budgetLag  = 5 * time.Second
)

// budgetConfig is one producer run of the budget scenario.
type budgetConfig struct {
	Settle   time.Duration
	Rate     int           // new conversations per simulated second
	Interval time.Duration // POLL_INTERVAL
	Reread   string        // POLL_SETTLE_REREAD: "all", "by-age" or "auto"
}

func (c budgetConfig) String() string {
	return fmt.Sprintf("settle %s, %d/s, interval %s, %s", shortDur(c.Settle), c.Rate, shortDur(c.Interval), c.Reread)
}

// budgetResult is what one run measured, in simulated time.
type budgetResult struct {
	Warm, Period   time.Duration
	Rows, Requests int
	Published      int // distinct pairs that reached Kafka inside the period
	// Due counts the pairs first servable in the period and servable for
	// at least two intervals; Lost those of them never published whose state
	// had ended by the end of the run (active pairs: no later read can see
	// them), Pending the others not in Kafka by then (terminal states, which
	// a later read may still publish).
	Due, Lost, Pending int
	Dups               int
	// All is the delay visible → Kafka of every due pair published; Edge,
	// Late and Moves split it: new rows visible within POLL_LAG of their
	// start (read by the live lane), new rows visible later (late rows),
	// state changes.
	All, Edge, Late, Moves Summary
	LaneRows               map[string]int
	LaneWindows            map[string]int
	SlowestSettle          string // the longest settle window of the period, from the logs
}

func (r budgetResult) rowsPerPair() float64 {
	if r.Published == 0 {
		return 0
	}
	return float64(r.Rows) / float64(r.Published)
}

func (r budgetResult) requestsPerMinute() float64 {
	return float64(r.Requests) / r.Period.Minutes()
}

// budget is the scenario of issue 11: for every POLL_SETTLE and volume, the
// producer runs three times on an accelerated clock, re-reading the settle
// period whole every interval (POLL_SETTLE_REREAD=all, the old live tick),
// by age (by-age), and as the default does (auto), and the table compares rows fetched per published pair,
// requests per simulated minute, delay visible → Kafka and missing pairs.
func (h *Harness) budget(ctx context.Context) error {
	const sc = "6 budget"
	speed := pick(h, 10.0, 20.0)
	period := pick(h, 10*time.Minute, 2*time.Minute)
	// drain is how long the producer keeps running after the measured
	// period: a pair first servable in the period and not in Kafka by then
	// is missing.
	drain := pick(h, 4*time.Minute, 2*time.Minute)
	settles := pick(h, []time.Duration{15 * time.Minute, time.Hour, 4 * time.Hour}, []time.Duration{15 * time.Minute})
	rates := pick(h, []int{2, 20}, []int{2})
	bin := filepath.Join(h.opts.Dir, "jelou-producer-testclock")
	h.logf("building jelou-producer -tags testclock")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "testclock", "-trimpath", "-o", bin, "github.com/jelou-producer/jelou-producer/cmd/jelou-producer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -tags testclock: %w: %s", err, out)
	}
	h.table.Add(sc, "setup", fmt.Sprintf("clock ×%g; per run: POLL_START_AT = start − POLL_SETTLE (the settle period exists; warm-up until the live lane "+
		"read its first interval-sized window, + %s), then %s measured, %s drain; POLL_LAG=%s, JELOU_RATE_LIMIT=%d per simulated s, page size 100 (sim cap 100), "+
		"default late rows (10%% attended 1–60 min after start) and state changes; no faults", speed, shortDur(budgetSettleIn), shortDur(period), shortDur(drain), shortDur(budgetLag), budgetRate))
	h.table.Add(sc, "columns", "rows fetched ÷ distinct pairs reaching Kafka in the period; requests per simulated min; delay visible → Kafka of the pairs first visible in the period, "+
		"all and split (new rows visible ≤ POLL_LAG after start, later ones, state changes); pairs servable ≥ 2 intervals not in Kafka at the end: lost (active state over) + pending")
	results := map[budgetConfig]budgetResult{}
	for _, settle := range settles {
		for _, rate := range rates {
			interval := 5 * time.Second
			if rate >= 20 {
				interval = 10 * time.Second
			}
			for _, reread := range h.budgetModes() {
				c := budgetConfig{Settle: settle, Rate: rate, Interval: interval, Reread: reread}
				started := time.Now()
				r, err := h.budgetRun(ctx, c, speed, period, drain)
				if err != nil {
					h.table.Rows = append(h.table.Rows, Row{Scenario: sc, Metric: c.String(), Value: err.Error(), Verdict: Miss})
					if ctx.Err() != nil {
						return err
					}
					continue
				}
				results[c] = r
				h.logf("%s: done in %s: %s", c, dur(time.Since(started)), r)
				h.table.Add(sc, c.String(), r.String())
			}
			all := results[budgetConfig{settle, rate, interval, "all"}]
			for _, mode := range BudgetModes[1:] {
				cheap := results[budgetConfig{settle, rate, interval, mode}]
				if all.Published == 0 || cheap.Published == 0 || cheap.rowsPerPair() == 0 {
					continue
				}
				ratio := all.rowsPerPair() / cheap.rowsPerPair()
				name := fmt.Sprintf("settle %s, %d/s: rows per pair all ÷ %s", shortDur(settle), rate, mode)
				if settle == 15*time.Minute && rate == 2 {
					h.table.Target(sc, name, fmt.Sprintf("%.1f×", ratio), "≥ 5×", ratio >= 5)
				} else {
					h.table.Add(sc, name, fmt.Sprintf("%.1f×", ratio))
				}
			}
		}
	}
	h.budgetTargets(sc, results)
	return nil
}

// BudgetModes are the POLL_SETTLE_REREAD values each configuration of the
// budget scenario runs with: "all" (the old live tick, the comparison),
// "by-age", and "auto" (the default).
var BudgetModes = []string{"all", "by-age", "auto"}

// budgetModes returns the modes to run, in BudgetModes order.
func (h *Harness) budgetModes() []string {
	if len(h.opts.BudgetModes) == 0 {
		return BudgetModes
	}
	var out []string
	for _, m := range BudgetModes {
		if slices.Contains(h.opts.BudgetModes, m) {
			out = append(out, m)
		}
	}
	return out
}

// budgetTargets adds the target rows of issue 11 for the by-age and auto
// runs.
func (h *Harness) budgetTargets(sc string, results map[budgetConfig]budgetResult) {
	var keys []budgetConfig
	for c := range results {
		keys = append(keys, c)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, c := range keys {
		r := results[c]
		if c.Reread == "all" {
			continue
		}
		slack := 2 * time.Second
		if c.Rate >= 20 {
			slack = 10 * time.Second
		}
		target := c.Interval + budgetLag + slack
		h.table.Target(sc, fmt.Sprintf("%s: p99 visible → Kafka, all pairs (new rows only at the live edge: %s)", c, dur(r.Edge.P99)),
			dur(r.All.P99), "≤ "+dur(target), r.All.N > 0 && r.All.P99 <= target)
	}
	for _, c := range keys {
		r := results[c]
		h.table.Target(sc, fmt.Sprintf("%s: missing (lost + pending)", c), fmt.Sprintf("%d + %d of %d", r.Lost, r.Pending, r.Due), "0", r.Lost+r.Pending == 0)
	}
	for _, rate := range []int{2, 20} {
		interval := 5 * time.Second
		if rate >= 20 {
			interval = 10 * time.Second
		}
		for _, mode := range BudgetModes[1:] {
			lo, ok1 := results[budgetConfig{15 * time.Minute, rate, interval, mode}]
			hi, ok2 := results[budgetConfig{4 * time.Hour, rate, interval, mode}]
			if ok1 && ok2 && lo.Requests > 0 {
				x := hi.requestsPerMinute() / lo.requestsPerMinute()
				h.table.Target(sc, fmt.Sprintf("%d/s %s: requests/min settle 4h ÷ 15m", rate, mode),
					fmt.Sprintf("%.2f× (%.1f ÷ %.1f)", x, hi.requestsPerMinute(), lo.requestsPerMinute()), "≤ 1.5×", x <= 1.5)
			}
		}
	}
}

// String formats a run's row of the table.
func (r budgetResult) String() string {
	var lanes []string
	for _, l := range []string{"live", "settle", "revisit", "history"} {
		if r.LaneWindows[l] > 0 {
			lanes = append(lanes, fmt.Sprintf("%s %d/%d", l, r.LaneRows[l], r.LaneWindows[l]))
		}
	}
	return fmt.Sprintf("%.2f rows/pair (%d rows, %d pairs); %.1f req/min; delay all p50 %s p99 %s (n=%d) = edge p50 %s p99 %s (n=%d) + late p50 %s p99 %s (n=%d) + changes p50 %s p99 %s (n=%d); lost %d, pending %d of %d; dups %d; rows/windows by lane: %s; slowest settle window: %s",
		r.rowsPerPair(), r.Rows, r.Published, r.requestsPerMinute(),
		dur(r.All.P50), dur(r.All.P99), r.All.N,
		dur(r.Edge.P50), dur(r.Edge.P99), r.Edge.N, dur(r.Late.P50), dur(r.Late.P99), r.Late.N, dur(r.Moves.P50), dur(r.Moves.P99), r.Moves.N,
		r.Lost, r.Pending, r.Due, r.Dups, strings.Join(lanes, ", "), r.SlowestSettle)
}

// budgetMaxWarm bounds the warm-up: the first read of the settle period
// (rate × settle rows) must be done within it, simulated.
const budgetMaxWarm = 90 * time.Minute

// budgetSettleIn is how long after the live lane caught up the measured
// period starts, simulated: the settle lane's first ticks.
const budgetSettleIn = 30 * time.Second

// budgetRun runs the producer once for c and measures it.
func (h *Harness) budgetRun(ctx context.Context, c budgetConfig, speed float64, period, drain time.Duration) (budgetResult, error) {
	// Simulated timeline: t0 is when the producer starts.
	wall0 := time.Now()
	t0 := wall0.UTC().Truncate(time.Second).Add(time.Second)
	toSim := func(w time.Time) time.Time { return t0.Add(time.Duration(float64(w.Sub(wall0)) * speed)) }
	clk := clock.NewScaled(toSim(time.Now()), speed)
	startAt := t0.Add(-c.Settle)
	dataEnd := t0.Add(budgetMaxWarm + budgetSettleIn + period + drain + 2*time.Minute)
	srv, err := jelousim.New(jelousim.Config{
		Clock: clk,
		Data: jelousim.DataConfig{
			Seed: 11, Start: startAt, End: dataEnd, Count: int(dataEnd.Sub(startAt).Seconds()) * c.Rate,
		},
		ClientID: SimClientID, ClientSecret: SimClientSecret,
	})
	if err != nil {
		return budgetResult{}, fmt.Errorf("simulator: %w", err)
	}
	cs := &countingSim{srv: srv, toSim: toSim}
	simURL, stopSim, err := serveLoopback(cs)
	if err != nil {
		return budgetResult{}, err
	}
	defer stopSim()

	out, closeOutlet, err := h.newOutlet(ctx, "budget")
	if err != nil {
		return budgetResult{}, err
	}
	defer closeOutlet()
	topic, cons, dir := out.topic, out.cons, out.dir
	env := h.producerEnv(&Sim{URL: simURL}, topic, filepath.Join(dir, "checkpoint.json"),
		"POLL_START_AT="+startAt.Format(time.RFC3339),
		"POLL_INTERVAL="+c.Interval.String(), "POLL_LAG="+budgetLag.String(),
		"POLL_SETTLE="+c.Settle.String(), "POLL_SETTLE_REREAD="+c.Reread,
		fmt.Sprintf("JELOU_RATE_LIMIT=%g", budgetRate*speed),
		"LOG_LEVEL=info", "LOG_FORMAT=json",
		"JELOU_PRODUCER_CLOCK_SPEED="+fmt.Sprint(speed),
		"JELOU_PRODUCER_CLOCK_START="+t0.Format(time.RFC3339Nano),
		"JELOU_PRODUCER_CLOCK_AT="+wall0.Format(time.RFC3339Nano),
	)
	logPath := filepath.Join(dir, "producer.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return budgetResult{}, err
	}
	defer logFile.Close()
	pc := exec.Command(filepath.Join(h.opts.Dir, "jelou-producer-testclock"), "run")
	pc.Env, pc.Stdout, pc.Stderr = env, logFile, logFile
	if err := pc.Start(); err != nil {
		return budgetResult{}, fmt.Errorf("start producer: %w", err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = pc.Wait(); close(exited) }()
	// Warm-up: until the live lane reads an interval at a time (its first
	// read of the settle period is done), then budgetSettleIn.
	var early error
	var from, to, end time.Time
	caught, err := waitLiveCaughtUp(ctx, logPath, 2*c.Interval, wall0.Add(time.Duration(float64(budgetMaxWarm)/speed)), exited)
	if err != nil {
		early = fmt.Errorf("%w (log %s)", err, logPath)
	} else {
		from = toSim(caught).Add(budgetSettleIn).Truncate(time.Second)
		to, end = from.Add(period), from.Add(period+drain)
		h.logf("%s: warm-up %s, measured %s, drain %s (simulated; %s of wall time from now), log %s", c, shortDur(from.Sub(t0)), shortDur(period), shortDur(drain),
			dur(time.Duration(float64(end.Sub(clk.Now()))/speed)), logPath)
		select {
		case <-time.After(time.Duration(float64(end.Sub(clk.Now())) / speed)):
		case <-exited:
			early = fmt.Errorf("producer exited early: %v (log %s)", exitErr, logPath)
		case <-ctx.Done():
			early = ctx.Err()
		}
	}
	if early == nil {
		_ = pc.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = pc.Process.Kill()
			<-exited
		}
	} else {
		_ = pc.Process.Kill()
		<-exited
	}
	time.Sleep(500 * time.Millisecond)
	got, dups := cons.Stop()
	if early != nil {
		return budgetResult{}, early
	}

	r := budgetResult{Warm: from.Sub(t0), Period: period, Dups: dups}
	for _, s := range cs.Spans() {
		if s.Start.Before(from) || !s.Start.Before(to) {
			continue
		}
		r.Requests++
		r.Rows += s.Rows
	}
	for _, at := range got {
		if st := toSim(at); !st.Before(from) && st.Before(to) {
			r.Published++
		}
	}
	var all, edge, late, moves []time.Duration
	ds := srv.Dataset()
	for sp := range srv.ServableSeq(to) {
		if sp.FirstServableAt.Before(from) || !sp.FirstServableAt.Before(to) {
			continue
		}
		if !sp.Until.IsZero() && sp.Until.Sub(sp.FirstServableAt) < 2*c.Interval {
			continue // a short-lived state no every-interval poller is sure to see
		}
		r.Due++
		at, ok := got[pairKey(sp.ID, sp.State)]
		if !ok || toSim(at).After(end) {
			if !sp.Until.IsZero() && !sp.Until.After(end) {
				r.Lost++
			} else {
				r.Pending++
			}
			continue
		}
		d := toSim(at).Sub(sp.FirstServableAt)
		all = append(all, d)
		i, _ := ds.Lookup(sp.ID)
		conv := ds.Conversation(i)
		switch {
		case !sp.FirstServableAt.Equal(conv.VisibleAt):
			moves = append(moves, d)
		case conv.VisibleAt.Sub(conv.Start) <= budgetLag:
			edge = append(edge, d)
		default:
			late = append(late, d)
		}
	}
	r.All, r.Edge, r.Late, r.Moves = Summarize(all), Summarize(edge), Summarize(late), Summarize(moves)
	r.LaneRows, r.LaneWindows, r.SlowestSettle = laneStats(logPath, toSim, speed, from, to)
	return r, nil
}

// countingSim serves a simulator and records each API request with the
// number of rows of its response, in simulated time.
type countingSim struct {
	srv   *jelousim.Server
	toSim func(time.Time) time.Time
	mu    sync.Mutex
	spans []rowSpan
}

// rowSpan is one API request: when it arrived (simulated), the window and
// page it asked for, its status and the rows it returned.
type rowSpan struct {
	Start    time.Time
	From, To time.Time
	Page     string
	Status   int
	Rows     int
}

func (s *countingSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != jelousim.APIPath {
		s.srv.ServeHTTP(w, r)
		return
	}
	start := s.toSim(time.Now())
	span := rowSpan{Start: start, Page: r.URL.Query().Get("page")}
	if body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16)); err == nil {
		var win struct{ StartAt, EndAt time.Time }
		if json.Unmarshal(body, &win) == nil {
			span.From, span.To = win.StartAt, win.EndAt
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	s.srv.ServeHTTP(cw, r)
	span.Rows, span.Status = cw.rows, cw.status
	s.mu.Lock()
	s.spans = append(s.spans, span)
	s.mu.Unlock()
}

// WriteCSV writes the requests recorded so far to path, one a line: when
// (simulated, RFC 3339), the window asked for, the page, the status and the
// rows; for reading where a run's requests went.
func (s *countingSim) WriteCSV(path string) error {
	var b bytes.Buffer
	b.WriteString("at,from,to,page,status,rows\n")
	for _, sp := range s.Spans() {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%d,%d\n", sp.Start.Format(time.RFC3339Nano), sp.From.Format(time.RFC3339Nano), sp.To.Format(time.RFC3339Nano), sp.Page, sp.Status, sp.Rows)
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// Spans returns the requests recorded so far.
func (s *countingSim) Spans() []rowSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rowSpan(nil), s.spans...)
}

// countingWriter counts the rows of a response body: every row of the
// simulator begins with its "_id" key.
type countingWriter struct {
	http.ResponseWriter
	rows   int
	status int
	tail   []byte // the end of the previous write, for a key cut in two
}

var idKey = []byte(`{"_id":`)

// WriteHeader records the response's status.
func (w *countingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	buf := append(w.tail, b...)
	w.rows += bytes.Count(buf, idKey)
	// Keep what could start a key cut at the end of this write: shorter than
	// a key, so no key is counted twice.
	k := len(idKey) - 1
	if len(buf) < k {
		k = len(buf)
	}
	w.tail = append(w.tail[:0], buf[len(buf)-k:]...)
	return w.ResponseWriter.Write(b)
}

// laneStats reads the producer's JSON log and returns, per lane, the rows
// and windows of the "window done" lines logged inside [from, to), and the
// slowest settle window there.
func laneStats(path string, toSim func(time.Time) time.Time, speed float64, from, to time.Time) (rows, windows map[string]int, slowest string) {
	rows, windows = map[string]int{}, map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return rows, windows, err.Error()
	}
	defer f.Close()
	var worst time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			Lane   string    `json:"lane"`
			Window string    `json:"window"`
			Rows   int       `json:"rows"`
			Took   string    `json:"took"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "window done" {
			continue
		}
		if t := toSim(l.Time); t.Before(from) || !t.Before(to) {
			continue
		}
		rows[l.Lane] += l.Rows
		windows[l.Lane]++
		if took, err := time.ParseDuration(l.Took); err == nil && l.Lane == "settle" && took > worst {
			worst = took
			slowest = fmt.Sprintf("%s, %d rows, took %s simulated", l.Window, l.Rows, dur(time.Duration(float64(took)*speed)))
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		slowest += " (log: " + err.Error() + ")"
	}
	return rows, windows, slowest
}

// shortDur formats whole minutes and hours without trailing zero units.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// waitLiveCaughtUp follows the producer's JSON log until a "window done"
// line of the live lane spans at most span (the live lane reads an interval
// at a time: its first read of the recent past is done) and returns that
// line's time. It fails when the producer exits, ctx ends or deadline
// passes first.
func waitLiveCaughtUp(ctx context.Context, path string, span time.Duration, deadline time.Time, exited <-chan struct{}) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil {
			var l struct {
				Time   time.Time `json:"time"`
				Msg    string    `json:"msg"`
				Lane   string    `json:"lane"`
				Window string    `json:"window"`
			}
			if json.Unmarshal(partial, &l) == nil && l.Msg == "window done" && l.Lane == "live" {
				a, b, ok := strings.Cut(l.Window, "/")
				ta, err1 := time.Parse(time.RFC3339, a)
				tb, err2 := time.Parse(time.RFC3339, b)
				if ok && err1 == nil && err2 == nil && tb.Sub(ta) <= span {
					return l.Time, nil
				}
			}
			partial = partial[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return time.Time{}, err
		}
		select {
		case <-exited:
			return time.Time{}, errors.New("producer exited during the warm-up")
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return time.Time{}, errors.New("the live lane did not catch up within the warm-up bound")
		}
	}
}
