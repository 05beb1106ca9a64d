package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Catch-up settings: the measurement of issue 10 ("the live edge starves
// while the service catches up").
const (
	catchupRate        = 2 // new conversations per second, history and live alike
	catchupInterval    = 5 * time.Second
	catchupLag         = 5 * time.Second
	catchupWindow      = 30 * time.Minute
	catchupClientLimit = 50 // JELOU_RATE_LIMIT
	catchupServerLimit = 30 // the simulator's requests per second
	catchupPageCap     = 50
	catchupActiveMin   = 20 * time.Second
	catchupActiveMax   = 10 * time.Minute
	// catchupExposure is how long a pair must have been served while the
	// producer ran for its absence from the topic to count as missing.
	catchupExposure = 30 * time.Second
	// catchupGrace is cut from the end of the run before judging: a pair
	// first served in it had less than a poll to arrive.
	catchupGrace = catchupInterval + catchupLag + 10*time.Second
	// catchupTarget is the p99 delay target at the live edge.
	catchupTarget = catchupInterval + catchupLag + 10*time.Second
)

// catchupFaults are the simulator's random errors: 20 % of the requests
// that pass its rate limit.
var catchupFaults = jelousim.FaultRates{
	jelousim.FaultRateLimit:  0.07,
	jelousim.FaultInternal:   0.07,
	jelousim.FaultBadGateway: 0.06,
}

// catchupSetup is the scale of one catch-up run.
type catchupSetup struct {
	// History is how far back POLL_START_AT lies when the producer starts.
	History time.Duration
	// Run is how long the producer runs, on the wall clock.
	Run time.Duration
	// Warm is the start of the run left out of the live-edge delays.
	Warm time.Duration
	// Seed selects the data set.
	Seed uint64
}

func (s catchupSetup) String() string {
	return fmt.Sprintf("%s of history at %d conversations/s (active %s–%s once visible, no late rows, none long-lived); run %s, delays from %s on",
		s.History, catchupRate, catchupActiveMin, catchupActiveMax, dur(s.Run), dur(s.Warm))
}

// catchup is scenario 5: the producer started with hours of history to
// read, against an API that limits and fails requests, measured at the
// live edge while it catches up.
func (h *Harness) catchup(ctx context.Context) error {
	setup := pick(h,
		catchupSetup{History: 6 * time.Hour, Run: 4 * time.Minute, Warm: time.Minute, Seed: 5},
		catchupSetup{History: 2 * time.Hour, Run: 90 * time.Second, Warm: 30 * time.Second, Seed: 5})
	res, err := h.runCatchup(ctx, setup)
	if err != nil {
		return err
	}
	res.report(h.table, labels[ScenarioCatchup])
	return nil
}

// catchupResult is what one catch-up run measured.
type catchupResult struct {
	setup catchupSetup
	// started is when the producer was started; from = started + Warm;
	// end = started + Run, when it was stopped; cutoff = end − grace.
	started, from, end, cutoff time.Time

	// Pairs served for at least catchupExposure while the producer ran
	// (up to cutoff) that never reached the topic: first served before
	// the start (history) or after it (live), by state.
	missingHistory, missingLive, missingActive, missingTerminal int
	// missed lists the first ten of them, in conversation start order.
	missed []missedPair
	// shortMissed counts active pairs not delivered that the API stopped
	// serving after less than catchupExposure (not a miss by the target's
	// definition).
	shortMissed int

	// Delays from first servable to consumed, for pairs first servable in
	// [from, cutoff]: all, new conversations (active), state changes
	// (terminal); split at the producer's observation; by lane.
	all, fresh, changes, fetch, publish []time.Duration
	byLane                              map[string][]time.Duration
	// during holds the delays of the pairs first servable after the start
	// and before "caught up" was logged: the live edge while history was
	// read (the warm-up is left out of all).
	during []time.Duration

	consumed, dups int
	// unknown counts consumed pairs the oracle never served, early those
	// consumed before the oracle says they were first served.
	unknown, early int
	sim            jelousim.Stats
	metrics        map[string]float64
	lanes          map[string]*laneLog
	// caughtUp is when the producer logged "caught up", after started;
	// zero when it did not.
	caughtUp time.Duration
	// drift counts the producer's "pagination drift healed" lines, and
	// nearEdge those whose window ended less than two minutes before the
	// line was logged.
	drift producerDrift
	// drained is the first sample after which lane_backlog_seconds of the
	// history lane read 0 after having been positive; zero when it never did.
	drained time.Duration

	cpu   float64
	usage Usage
	log   string
}

// missedPair is one pair that should have reached the topic.
type missedPair struct {
	ID            string
	State         jelou.State
	First, Until  time.Time
	Served        time.Duration
	HistoryBefore bool
}

// laneLog summarises the producer's "window done" lines of one lane.
type laneLog struct {
	windows, rows, published int
	took                     []time.Duration
	done                     []time.Time
	windowNames              []string
}

// runCatchup runs the producer against a fresh simulator and topic for
// setup.Run and measures it against the simulator's oracle.
func (h *Harness) runCatchup(ctx context.Context, setup catchupSetup) (*catchupResult, error) {
	t0 := time.Now().UTC().Truncate(time.Second)
	start := t0.Add(-setup.History)
	end := t0.Add(setup.Run + 2*time.Minute)
	sim, err := StartSim(jelousim.Config{
		Data: jelousim.DataConfig{
			Seed: setup.Seed, Start: start, End: end, Count: int(end.Sub(start).Seconds()) * catchupRate,
			LongLivedRatio: -1, LateRatio: -1, ActiveMin: catchupActiveMin, ActiveMax: catchupActiveMax,
		},
		PageCap:    catchupPageCap,
		RateLimit:  catchupServerLimit,
		FaultRates: catchupFaults,
	})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	out, closeOutlet, err := h.newOutlet(ctx, "catchup")
	if err != nil {
		return nil, err
	}
	defer closeOutlet()
	topic, cons, dir := out.topic, out.cons, out.dir
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "producer.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	metricsURL := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	env := h.producerEnv(sim, topic, filepath.Join(dir, "checkpoint.json"),
		"HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"POLL_START_AT="+start.Format(time.RFC3339),
		"POLL_INTERVAL="+catchupInterval.String(), "POLL_LAG="+catchupLag.String(),
		"POLL_WINDOW="+catchupWindow.String(), fmt.Sprintf("JELOU_RATE_LIMIT=%d", catchupClientLimit),
		"LOG_LEVEL=info", "LOG_FORMAT=json")
	h.logf("jelou-producer run for %s with %s of history (%d conversations), log in %s", setup.Run, setup.History, sim.Dataset().Len(), logPath)
	p, err := StartLogged("jelou-producer run", h.opts.ProducerBin, []string{"run"}, env, nil, logFile)
	if err != nil {
		return nil, err
	}
	res := &catchupResult{setup: setup, started: p.Started(), log: logPath}
	res.from = res.started.Add(setup.Warm)
	res.end = res.started.Add(setup.Run)
	res.cutoff = res.end.Add(-catchupGrace)

	stopSampling := make(chan struct{})
	samples := p.SampleCPU(50*time.Millisecond, stopSampling)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res.drained = watchHistoryBacklog(metricsURL, res.started, stopSampling)
	}()
	select {
	case <-time.After(time.Until(res.end)):
	case <-p.Done():
	case <-ctx.Done():
	}
	// The counters just before the stop.
	res.metrics, _ = scrapeAll(metricsURL)
	res.sim = sim.Stats()
	close(stopSampling)
	wg.Wait()
	cpu := <-samples
	u, err := p.Stop(30 * time.Second)
	if err != nil {
		return nil, err
	}
	if res.metrics == nil {
		return nil, fmt.Errorf("no metrics scraped from %s", metricsURL)
	}
	res.usage = u
	res.cpu = cpuShare(cpu, res.started, res.end)
	time.Sleep(500 * time.Millisecond)
	got, dups := cons.Stop()
	res.consumed, res.dups = len(got), dups
	if err := logFile.Sync(); err != nil {
		return nil, err
	}
	res.lanes, res.caughtUp, res.drift, err = readProducerLog(logPath, res.started)
	if err != nil {
		return nil, err
	}
	res.judge(sim, got, cons.Arrivals())
	for _, m := range res.missed {
		h.logf("missing: %s %s first served %s (%s after the start), served %s while the producer ran",
			m.ID, m.State, m.First.Format(time.RFC3339), dur(m.First.Sub(res.started)), dur(m.Served))
	}
	return res, nil
}

// judge compares the pairs consumed with the oracle.
func (r *catchupResult) judge(sim *Sim, got map[string]time.Time, arr map[string]arrival) {
	// The lane of each query window, from the producer's log.
	windows := make(map[string]string)
	for lane, l := range r.lanes {
		for _, w := range l.windowNames {
			windows[w] = lane
		}
	}
	r.byLane = make(map[string][]time.Duration)
	for k, at := range got {
		id, st, _ := strings.Cut(k, "\x00")
		first, ok := sim.FirstServable(id, jelou.State(st))
		switch {
		case !ok:
			r.unknown++
		case at.Before(first):
			r.early++
		}
	}
	for sp := range sim.ServableSeq(r.cutoff) {
		k := pairKey(sp.ID, sp.State)
		at, ok := got[k]
		if !ok {
			lo, hi := sp.FirstServableAt, r.cutoff
			if lo.Before(r.started) {
				lo = r.started
			}
			if !sp.Until.IsZero() && sp.Until.Before(hi) {
				hi = sp.Until
			}
			served := hi.Sub(lo)
			if served < catchupExposure {
				if served > 0 && !sp.Until.IsZero() && !sp.Until.After(r.cutoff) {
					r.shortMissed++ // gone from the API after less than catchupExposure
				}
				continue
			}
			history := sp.FirstServableAt.Before(r.started)
			if history {
				r.missingHistory++
			} else {
				r.missingLive++
			}
			if sp.State == jelou.StateActive {
				r.missingActive++
			} else {
				r.missingTerminal++
			}
			if len(r.missed) < 10 {
				r.missed = append(r.missed, missedPair{ID: sp.ID, State: sp.State, First: sp.FirstServableAt, Until: sp.Until, Served: served, HistoryBefore: history})
			}
			continue
		}
		d := at.Sub(sp.FirstServableAt)
		if !sp.FirstServableAt.Before(r.started) && (r.caughtUp == 0 || sp.FirstServableAt.Before(r.started.Add(r.caughtUp))) {
			r.during = append(r.during, d)
		}
		if sp.FirstServableAt.Before(r.from) {
			continue
		}
		r.all = append(r.all, d)
		if sp.State == jelou.StateActive {
			r.fresh = append(r.fresh, d)
		} else {
			r.changes = append(r.changes, d)
		}
		if a, ok := arr[k]; ok {
			r.fetch = append(r.fetch, a.Observed.Sub(sp.FirstServableAt))
			r.publish = append(r.publish, at.Sub(a.Observed))
			lane := windows[a.Window]
			if lane == "" {
				lane = "unknown"
			}
			r.byLane[lane] = append(r.byLane[lane], d)
		}
	}
}

// logLine is the part of the producer's JSON log lines the scenario reads.
type logLine struct {
	Time      time.Time `json:"time"`
	Msg       string    `json:"msg"`
	Lane      string    `json:"lane"`
	Window    string    `json:"window"`
	Rows      int       `json:"rows"`
	Published int       `json:"published"`
	Took      string    `json:"took"`
}

// producerDrift counts the pagination drift the producer logged.
type producerDrift struct {
	healed, nearEdge int
}

// readProducerLog summarises the "window done" lines by lane, returns
// when "caught up" was logged, after started (zero when it was not), and
// counts the "pagination drift healed" lines.
func readProducerLog(path string, started time.Time) (map[string]*laneLog, time.Duration, producerDrift, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, producerDrift{}, err
	}
	defer f.Close()
	return parseProducerLog(f, started)
}

func parseProducerLog(r io.Reader, started time.Time) (map[string]*laneLog, time.Duration, producerDrift, error) {
	lanes := make(map[string]*laneLog)
	var caughtUp time.Duration
	var drift producerDrift
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // not a log line (a startup message on stderr)
		}
		switch l.Msg {
		case "caught up":
			if caughtUp == 0 {
				caughtUp = max(l.Time.Sub(started), time.Nanosecond)
			}
		case "pagination drift healed":
			drift.healed++
			if _, e, ok := strings.Cut(l.Window, "/"); ok {
				if end, err := time.Parse(time.RFC3339, e); err == nil && l.Time.Sub(end) < 2*time.Minute {
					drift.nearEdge++
				}
			}
		case "window done":
			took, err := time.ParseDuration(l.Took)
			if err != nil {
				return nil, 0, drift, fmt.Errorf("producer log: window done with took %q: %w", l.Took, err)
			}
			ll := lanes[l.Lane]
			if ll == nil {
				ll = &laneLog{}
				lanes[l.Lane] = ll
			}
			ll.windows++
			ll.rows += l.Rows
			ll.published += l.Published
			ll.took = append(ll.took, took)
			ll.done = append(ll.done, l.Time)
			ll.windowNames = append(ll.windowNames, l.Window)
		}
	}
	return lanes, caughtUp, drift, sc.Err()
}

// maxGap returns the longest time between two consecutive completions in
// [from, to], the bounds included as completions.
func (l *laneLog) maxGap(from, to time.Time) time.Duration {
	var gap time.Duration
	last := from
	for _, t := range l.done {
		if t.Before(from) || t.After(to) {
			continue
		}
		gap = max(gap, t.Sub(last))
		last = t
	}
	return max(gap, to.Sub(last))
}

// historyBacklog is the series of the default source's history backlog in
// the text exposition (labels sorted by name).
const historyBacklog = `jelou_producer_lane_backlog_seconds{lane="history",source="` + config.DefaultSourceID + `"}`

// watchHistoryBacklog scrapes lane_backlog_seconds{lane="history"} every
// second until stop is closed and returns how long after started it first
// read 0 after having been positive; zero when it never did.
func watchHistoryBacklog(url string, started time.Time, stop <-chan struct{}) time.Duration {
	positive := false
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if m, err := scrapeAll(url); err == nil {
			v, ok := m[historyBacklog]
			switch {
			case ok && v > 0:
				positive = true
			case ok && v == 0 && positive:
				return time.Since(started)
			}
		}
		select {
		case <-t.C:
		case <-stop:
			return 0
		}
	}
}

// scrapeAll reads every sample of a Prometheus text endpoint, keyed by the
// series as written (name and labels).
func scrapeAll(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := make(map[string]float64)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sumMetric adds every series of the metric name, whatever its labels.
func sumMetric(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// report adds the run's rows to the table.
func (r *catchupResult) report(t *Table, sc string) {
	t.Add(sc, "setup", r.setup.String())
	t.Add(sc, "  API (simulator)", fmt.Sprintf("page cap %d, %d req/s server limit, 20%% errors (429 %.0f%%, 500 %.0f%%, 502 %.0f%%)",
		catchupPageCap, catchupServerLimit, catchupFaults[jelousim.FaultRateLimit]*100, catchupFaults[jelousim.FaultInternal]*100, catchupFaults[jelousim.FaultBadGateway]*100))
	t.Add(sc, "  producer", fmt.Sprintf("POLL_INTERVAL=%s POLL_LAG=%s POLL_WINDOW=%s JELOU_RATE_LIMIT=%d POLL_START_AT=%s ago; other settings default",
		catchupInterval, catchupLag, catchupWindow, catchupClientLimit, r.setup.History))
	missing := r.missingHistory + r.missingLive
	t.Target(sc, fmt.Sprintf("missing (served ≥ %s before end − %s)", dur(catchupExposure), dur(catchupGrace)),
		fmt.Sprintf("%d (live edge %d, history %d; active %d, terminal %d)", missing, r.missingLive, r.missingHistory, r.missingActive, r.missingTerminal),
		"0", missing == 0)
	all := Summarize(r.all)
	t.Target(sc, "delay visible → consumed, live edge", all.String(), "p99 ≤ "+dur(catchupTarget), all.N > 0 && all.P99 <= catchupTarget)
	t.Add(sc, "  new conversations (active)", Summarize(r.fresh).String())
	t.Add(sc, "  state changes (terminal)", Summarize(r.changes).String())
	t.Add(sc, "  visible → observed by the producer", Summarize(r.fetch).String())
	t.Add(sc, "  observed → consumed", Summarize(r.publish).String())
	lanes := make([]string, 0, len(r.byLane))
	for l := range r.byLane {
		lanes = append(lanes, l)
	}
	slices.Sort(lanes)
	for _, l := range lanes {
		t.Add(sc, "  found by lane "+l, Summarize(r.byLane[l]).String())
	}
	t.Add(sc, "delay, pairs first served before \"caught up\"", Summarize(r.during).String())
	t.Add(sc, fmt.Sprintf("active pairs not delivered, served < %s", dur(catchupExposure)), fmt.Sprint(r.shortMissed))
	switch {
	case r.caughtUp > 0:
		t.Add(sc, "history", fmt.Sprintf("caught up %s after start (\"caught up\" logged; %s)", dur(r.caughtUp), drainedString(r.drained)))
	default:
		t.Add(sc, "history", fmt.Sprintf("not caught up: %s of start times unread at the end",
			time.Duration(r.metrics[historyBacklog]*float64(time.Second))))
	}
	published := sumMetric(r.metrics, "jelou_producer_events_published_total")
	fetched := sumMetric(r.metrics, "jelou_producer_conversations_fetched_total")
	t.Add(sc, "requests", fmt.Sprintf("%d at the simulator (%s); %d 429 from its limit, faults %s",
		r.sim.Requests, statuses(r.sim.ByStatus), r.sim.RateLimited, faultCounts(r.sim.Faults)))
	t.Add(sc, "pairs published", fmt.Sprintf("%.0f (events_published_total); %d distinct consumed, %d duplicates", published, r.consumed, r.dups))
	t.Target(sc, "consumed pairs the oracle never served, or before it served them", fmt.Sprintf("%d, %d", r.unknown, r.early), "0, 0", r.unknown == 0 && r.early == 0)
	if published > 0 {
		t.Add(sc, "requests per published pair", fmt.Sprintf("%.3f", float64(r.sim.Requests)/published))
		t.Add(sc, "rows fetched per published pair", fmt.Sprintf("%.2f (%.0f rows, conversations_fetched_total)", fetched/published, fetched))
	}
	for _, name := range []string{"live", "settle", "revisit", "history"} {
		l := r.lanes[name]
		if l == nil {
			t.Add(sc, "lane "+name, "no window done")
			continue
		}
		v := fmt.Sprintf("%d windows, %d rows, %d published; took %s", l.windows, l.rows, l.published, Summarize(slices.Clone(l.took)))
		if name == "live" {
			v += fmt.Sprintf("; longest gap between windows done %s", dur(l.maxGap(r.from, r.end)))
		}
		t.Add(sc, "lane "+name, v)
	}
	t.Add(sc, "pagination drift healed", fmt.Sprintf("%d windows, %d of them ending < 2m before they were read", r.drift.healed, r.drift.nearEdge))
	t.Add(sc, "CPU, peak RSS", fmt.Sprintf("%.1f%% of a core, %s", r.cpu*100, mib(r.usage.MaxRSS)))
}

func drainedString(d time.Duration) string {
	if d == 0 {
		return "history backlog gauge not seen falling to 0, sampled every second"
	}
	return "history backlog gauge 0 at " + dur(d)
}

// statuses formats counts by HTTP status in status order.
func statuses(m map[int]int64) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// faultCounts formats counts by fault kind in kind order.
func faultCounts(m map[jelousim.FaultKind]int64) string {
	var parts []string
	for _, k := range jelousim.FaultKinds {
		if n := m[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", k, n))
		}
	}
	if parts == nil {
		return "none"
	}
	return strings.Join(parts, ", ")
}
