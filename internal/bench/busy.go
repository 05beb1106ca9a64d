package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Busy scenario settings (issue 19). Every duration is simulated time.
const (
	busyInterval  = 10 * time.Second // POLL_INTERVAL
	busyLag       = 5 * time.Second  // POLL_LAG
	busyHistory   = 15 * time.Minute // POLL_START_AT = start − busyHistory
	busyPageCap   = 50
	busyAttendMax = 90 * time.Second
	busyActiveMin = 20 * time.Second
	busyActiveMax = 10 * time.Minute
	// busyNeverEnds is the share of conversations that stay active for
	// 10–30 hours: never ending, within a run.
	busyNeverEnds = 0.1
	// busyMinActive is how long an active state must have been visible for
	// its loss to count (POLL_MIN_ACTIVE's default).
	busyMinActive = 30 * time.Second
)

// busyFaults are the simulator's random errors: 5 % of the requests.
var busyFaults = jelousim.FaultRates{
	jelousim.FaultInternal:   0.03,
	jelousim.FaultBadGateway: 0.02,
}

// BusyModes are the POLL_SETTLE_REREAD values the busy scenario can run:
// "auto" (the default, the comparison) and "by-loss" (issue 19's plan).
var BusyModes = []string{"auto", "by-loss"}

// BusyRuns are the runs of the busy scenario, "RATE/BUDGET": the default
// budget at 20/s, the sweep of the budget at 20/s and the quiet account.
var BusyRuns = []string{"20/5", "20/2", "20/10", "20/20", "2/50"}

// busyConfig is one producer run of the busy scenario.
type busyConfig struct {
	Rate   int     // new conversations per simulated second
	Budget float64 // JELOU_RATE_LIMIT per simulated second
	Mode   string  // POLL_SETTLE_REREAD
}

func (c busyConfig) String() string {
	return fmt.Sprintf("%d/s, budget %g req/s, %s", c.Rate, c.Budget, c.Mode)
}

// busyResult is what one busy run measured, in simulated time.
type busyResult struct {
	Period         time.Duration
	Rows, Requests int
	MaxPer10s      int // most requests in any 10 s of the period
	Published      int // distinct pairs that reached Kafka in the period
	// ActiveDue counts the active states first visible in the period that
	// stayed visible at least busyMinActive; ActiveLost those of them never
	// published whose state was over by the end of the run.
	ActiveDue, ActiveLost int
	// Terminal is the delay visible → Kafka of the terminal states first
	// servable in the period; one not in Kafka by the end counts with the
	// delay to the end (a lower bound) and in TerminalPending.
	Terminal        Summary
	TerminalPending int
	// Edge is the delay of new rows visible within POLL_LAG of their start
	// (the live lane's), New of every new row (first state).
	Edge, New Summary
	Dups      int
	// Needed and NeededActive are the medians of the producer's needed-rate
	// gauges (requests per simulated second; complete capture at
	// POLL_FRESHNESS, and every active state) logged in the period; 0 when
	// never logged.
	Needed, NeededActive float64
}

func (r busyResult) requestsPerSecond() float64 {
	return float64(r.Requests) / r.Period.Seconds()
}

func (r busyResult) rowsPerPair() float64 {
	if r.Published == 0 {
		return 0
	}
	return float64(r.Rows) / float64(r.Published)
}

// String formats a run's row of the table.
func (r busyResult) String() string {
	needed := "n/a"
	if r.Needed > 0 {
		needed = fmt.Sprintf("%.2f for active states, %.2f at POLL_FRESHNESS", r.NeededActive, r.Needed)
	}
	return fmt.Sprintf("active lost %d of %d; terminal p50 %s p99 %s (n=%d, %d not in Kafka at the end); new rows p99 %s (live edge p99 %s, n=%d); %.2f req/s (max %d in 10s); %.2f rows/pair (%d rows, %d pairs); needed %s req/s; dups %d",
		r.ActiveLost, r.ActiveDue, dur(r.Terminal.P50), dur(r.Terminal.P99), r.Terminal.N, r.TerminalPending,
		dur(r.New.P99), dur(r.Edge.P99), r.Edge.N, r.requestsPerSecond(), r.MaxPer10s, r.rowsPerPair(), r.Rows, r.Published, needed, r.Dups)
}

// busyModes returns the modes to run, in BusyModes order.
func (h *Harness) busyModes() []string {
	if len(h.opts.BusyModes) == 0 {
		return BusyModes
	}
	var out []string
	for _, m := range BusyModes {
		if slices.Contains(h.opts.BusyModes, m) {
			out = append(out, m)
		}
	}
	return out
}

// busy is the scenario of issue 19: a busy account (20 new conversations/s,
// page cap 50, visible 0–90 s after the start, active 20 s–10 min with 10 %
// never ending, 5 % errors, 15 min of history, a SIGKILL and restart) on
// the default budget, and the same at 2/s with a budget of 50, per
// POLL_SETTLE_REREAD mode; and a sweep of the budget (2, 5, 10, 20 req/s)
// at 20/s for the last mode.
func (h *Harness) busy(ctx context.Context) error {
	const sc = "7 busy"
	speed := 3.0
	period := pick(h, 4*time.Minute, 2*time.Minute)
	drain := pick(h, 3*time.Minute, 2*time.Minute)
	modes := h.busyModes()
	if len(modes) == 0 {
		return fmt.Errorf("no busy mode selected")
	}
	runs, err := busyRuns(modes, h.opts.BusyRuns, h.opts.Short)
	if err != nil {
		return err
	}
	bin := filepath.Join(h.opts.Dir, "jelou-producer-testclock")
	if _, err := os.Stat(bin); err != nil {
		h.logf("building jelou-producer -tags testclock")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "testclock", "-trimpath", "-o", bin, "github.com/jelou-producer/jelou-producer/cmd/jelou-producer")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build -tags testclock: %w: %s", err, out)
		}
	}
	h.table.Add(sc, "setup", fmt.Sprintf("clock ×%g; per run: %s of history (POLL_START_AT), warm-up until the live lane reads an interval at a time + %s, then %s measured "+
		"with a SIGKILL and restart in its middle, %s drain; POLL_INTERVAL=%s POLL_LAG=%s, page cap %d, visible 0–%s after start, active %s–%s (%.0f%% never end), %.0f%% errors (500, 502)",
		speed, shortDur(busyHistory), shortDur(budgetSettleIn), shortDur(period), shortDur(drain), shortDur(busyInterval), shortDur(busyLag), busyPageCap,
		shortDur(busyAttendMax), shortDur(busyActiveMin), shortDur(busyActiveMax), busyNeverEnds*100, (busyFaults[jelousim.FaultInternal]+busyFaults[jelousim.FaultBadGateway])*100))
	h.table.Add(sc, "columns", fmt.Sprintf("active states visible ≥ %s first visible in the period and never published (lost for good); delay visible → Kafka of terminal states (p50, p99; "+
		"those not in Kafka at the end count with the delay to the end) and of new rows; requests per simulated s; rows fetched ÷ pairs published; the producer's needed-rate gauge (median in the period)", shortDur(busyMinActive)))
	results := map[busyConfig]busyResult{}
	for _, c := range runs {
		started := time.Now()
		r, err := h.busyRun(ctx, c, speed, period, drain)
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
	h.busyTargets(sc, results)
	return nil
}

// busyRuns lists the runs of the busy scenario: the chosen ones
// ("RATE/BUDGET", in BusyRuns order), each in every mode; without a choice,
// the default budget at 20/s in every mode and, unless short, the sweep of
// the budget at 20/s in the last mode and the quiet account in every mode.
func busyRuns(modes, chosen []string, short bool) ([]busyConfig, error) {
	var runs []busyConfig
	if len(chosen) > 0 {
		for _, r := range chosen {
			if !slices.Contains(BusyRuns, r) {
				return nil, fmt.Errorf("unknown busy run %q (want some of %s)", r, strings.Join(BusyRuns, ","))
			}
		}
		for _, r := range BusyRuns {
			if !slices.Contains(chosen, r) {
				continue
			}
			var c busyConfig
			if _, err := fmt.Sscanf(r, "%d/%g", &c.Rate, &c.Budget); err != nil {
				return nil, fmt.Errorf("busy run %q: %w", r, err)
			}
			for _, m := range modes {
				c.Mode = m
				runs = append(runs, c)
			}
		}
		return runs, nil
	}
	for _, m := range modes {
		runs = append(runs, busyConfig{Rate: 20, Budget: 5, Mode: m})
	}
	if !short {
		last := modes[len(modes)-1]
		for _, b := range []float64{2, 10, 20} {
			runs = append(runs, busyConfig{Rate: 20, Budget: b, Mode: last})
		}
		for _, m := range modes {
			runs = append(runs, busyConfig{Rate: 2, Budget: 50, Mode: m})
		}
	}
	return runs, nil
}

// busyTargets adds the target rows of issue 19.
func (h *Harness) busyTargets(sc string, results map[busyConfig]busyResult) {
	var keys []busyConfig
	for c := range results {
		keys = append(keys, c)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, c := range keys {
		r := results[c]
		switch {
		case c.Rate == 20 && c.Budget == 5:
			h.table.Target(sc, c.String()+": active lost", fmt.Sprint(r.ActiveLost), "0", r.ActiveLost == 0)
			h.table.Target(sc, c.String()+": terminal p99", dur(r.Terminal.P99), "≤ 3m", r.Terminal.N > 0 && r.Terminal.P99 <= 3*time.Minute)
			edge := busyInterval + busyLag + 2*time.Second
			h.table.Target(sc, c.String()+": live-edge rows p99", dur(r.Edge.P99), "≤ "+dur(edge), r.Edge.N > 0 && r.Edge.P99 <= edge)
			h.table.Target(sc, c.String()+": most requests in 10 s", fmt.Sprint(r.MaxPer10s), fmt.Sprintf("≤ %g (budget)", 10*c.Budget), float64(r.MaxPer10s) <= 10*c.Budget+1)
		case c.Rate == 2 && c.Budget == 50:
			h.table.Target(sc, c.String()+": active lost, terminal p99", fmt.Sprintf("%d, %s", r.ActiveLost, dur(r.Terminal.P99)), "0, ≤ 15s",
				r.ActiveLost == 0 && r.Terminal.N > 0 && r.Terminal.P99 <= 15*time.Second)
		}
	}
	auto, ok1 := results[busyConfig{Rate: 2, Budget: 50, Mode: "auto"}]
	plan, ok2 := results[busyConfig{Rate: 2, Budget: 50, Mode: "by-loss"}]
	if ok1 && ok2 && auto.Requests > 0 {
		x := plan.requestsPerSecond() / auto.requestsPerSecond()
		h.table.Target(sc, "2/s, budget 50: requests by-loss ÷ auto", fmt.Sprintf("%.2f (%.2f ÷ %.2f req/s)", x, plan.requestsPerSecond(), auto.requestsPerSecond()), "≤ 0.33", x <= 1.0/3)
	}
	// The needed-rate gauge against the smallest budget of the sweep that
	// lost nothing.
	var smallest busyConfig
	found := false
	for _, c := range keys {
		if r := results[c]; c.Rate == 20 && c.Mode == "by-loss" && r.ActiveLost == 0 && (!found || c.Budget < smallest.Budget) {
			smallest, found = c, true
		}
	}
	if found {
		g := results[busyConfig{Rate: 20, Budget: 5, Mode: "by-loss"}].NeededActive
		off := g/smallest.Budget - 1
		h.table.Target(sc, "20/s: needed-rate gauge (active) vs the smallest budget with 0 active lost", fmt.Sprintf("%.2f vs %g req/s (%+.0f%%)", g, smallest.Budget, off*100), "within 25%",
			g > 0 && off >= -0.25 && off <= 0.25)
	}
}

// busyRun runs the producer once for c, kills it with SIGKILL in the middle
// of the measured period, restarts it, and measures.
func (h *Harness) busyRun(ctx context.Context, c busyConfig, speed float64, period, drain time.Duration) (busyResult, error) {
	wall0 := time.Now()
	t0 := wall0.UTC().Truncate(time.Second).Add(time.Second)
	toSim := func(w time.Time) time.Time { return t0.Add(time.Duration(float64(w.Sub(wall0)) * speed)) }
	clk := clock.NewScaled(toSim(time.Now()), speed)
	startAt := t0.Add(-busyHistory)
	dataEnd := t0.Add(budgetMaxWarm + budgetSettleIn + period + drain + 2*time.Minute)
	srv, err := jelousim.New(jelousim.Config{
		Clock: clk,
		Data: jelousim.DataConfig{
			Seed: 19, Start: startAt, End: dataEnd, Count: int(dataEnd.Sub(startAt).Seconds()) * c.Rate,
			LongLivedRatio: busyNeverEnds, AttendMin: 0, AttendMax: busyAttendMax,
			ActiveMin: busyActiveMin, ActiveMax: busyActiveMax,
		},
		PageCap:    busyPageCap,
		FaultRates: busyFaults,
		ClientID:   SimClientID, ClientSecret: SimClientSecret,
	})
	if err != nil {
		return busyResult{}, fmt.Errorf("simulator: %w", err)
	}
	cs := &countingSim{srv: srv, toSim: toSim}
	simURL, stopSim, err := serveLoopback(cs)
	if err != nil {
		return busyResult{}, err
	}
	defer stopSim()

	out, closeOutlet, err := h.newOutlet(ctx, "busy")
	if err != nil {
		return busyResult{}, err
	}
	defer closeOutlet()
	topic, cons, dir := out.topic, out.cons, out.dir
	env := h.producerEnv(&Sim{URL: simURL}, topic, filepath.Join(dir, "checkpoint.json"),
		"POLL_START_AT="+startAt.Format(time.RFC3339),
		"POLL_INTERVAL="+busyInterval.String(), "POLL_LAG="+busyLag.String(),
		"POLL_SETTLE_REREAD="+c.Mode,
		fmt.Sprintf("JELOU_RATE_LIMIT=%g", c.Budget*speed),
		"LOG_LEVEL=info", "LOG_FORMAT=json",
		"JELOU_PRODUCER_CLOCK_SPEED="+fmt.Sprint(speed),
		"JELOU_PRODUCER_CLOCK_START="+t0.Format(time.RFC3339Nano),
		"JELOU_PRODUCER_CLOCK_AT="+wall0.Format(time.RFC3339Nano),
	)
	logPath := filepath.Join(dir, "producer.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return busyResult{}, err
	}
	defer logFile.Close()
	start := func() (*exec.Cmd, chan struct{}, error) {
		pc := exec.Command(filepath.Join(h.opts.Dir, "jelou-producer-testclock"), "run")
		pc.Env, pc.Stdout, pc.Stderr = env, logFile, logFile
		if err := pc.Start(); err != nil {
			return nil, nil, fmt.Errorf("start producer: %w", err)
		}
		exited := make(chan struct{})
		go func() { _ = pc.Wait(); close(exited) }()
		return pc, exited, nil
	}
	pc, exited, err := start()
	if err != nil {
		return busyResult{}, err
	}
	stop := func(sig syscall.Signal) {
		_ = pc.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = pc.Process.Kill()
			<-exited
		}
	}
	wallUntil := func(t time.Time) time.Duration { return time.Duration(float64(t.Sub(clk.Now())) / speed) }
	var from, to, end time.Time
	caught, err := waitLiveCaughtUp(ctx, logPath, 2*busyInterval, wall0.Add(time.Duration(float64(budgetMaxWarm)/speed)), exited)
	if err != nil {
		stop(syscall.SIGKILL)
		cons.Stop()
		return busyResult{}, fmt.Errorf("%w (log %s)", err, logPath)
	}
	from = toSim(caught).Add(budgetSettleIn).Truncate(time.Second)
	to, end = from.Add(period), from.Add(period+drain)
	h.logf("%s: warm-up %s, measured %s with a SIGKILL at %s, drain %s (simulated), log %s", c, shortDur(from.Sub(t0)), shortDur(period), shortDur(period/2), shortDur(drain), logPath)
	wait := func(t time.Time) error {
		select {
		case <-time.After(wallUntil(t)):
			return nil
		case <-exited:
			return fmt.Errorf("producer exited early (log %s)", logPath)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(from.Add(period / 2)); err != nil {
		stop(syscall.SIGKILL)
		cons.Stop()
		return busyResult{}, err
	}
	stop(syscall.SIGKILL)
	if pc, exited, err = start(); err != nil {
		cons.Stop()
		return busyResult{}, err
	}
	err = wait(end)
	stop(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	got, dups := cons.Stop()
	if err != nil {
		return busyResult{}, err
	}

	r := busyResult{Period: period, Dups: dups}
	if err := cs.WriteCSV(filepath.Join(dir, "requests.csv")); err != nil {
		h.logf("%s: %v", c, err)
	}
	var states bytes.Buffer // the measured states, for reading a run afterwards
	states.WriteString("state,start,servable,until,published\n")
	for _, s := range cs.Spans() {
		if s.Start.Before(from) || !s.Start.Before(to) {
			continue
		}
		r.Requests++
		r.Rows += s.Rows
	}
	r.MaxPer10s = busyMaxWindow(cs.Spans(), from, to, 10*time.Second)
	for _, at := range got {
		if st := toSim(at); !st.Before(from) && st.Before(to) {
			r.Published++
		}
	}
	var terminal, edge, fresh []time.Duration
	ds := srv.Dataset()
	for sp := range srv.ServableSeq(to) {
		if sp.FirstServableAt.Before(from) || !sp.FirstServableAt.Before(to) {
			continue
		}
		at, ok := got[pairKey(sp.ID, sp.State)]
		published := ok && !toSim(at).After(end)
		if i, found := ds.Lookup(sp.ID); found {
			pub := ""
			if published {
				pub = toSim(at).Format(time.RFC3339Nano)
			}
			fmt.Fprintf(&states, "%s,%s,%s,%s,%s\n", sp.State, ds.Conversation(i).Start.Format(time.RFC3339Nano), sp.FirstServableAt.Format(time.RFC3339Nano), sp.Until.Format(time.RFC3339Nano), pub)
		}
		if sp.State == jelou.StateActive {
			if !sp.Until.IsZero() && sp.Until.Sub(sp.FirstServableAt) < busyMinActive {
				continue
			}
			r.ActiveDue++
			if !published {
				if !sp.Until.IsZero() && !sp.Until.After(end) {
					r.ActiveLost++
				}
				continue
			}
			d := toSim(at).Sub(sp.FirstServableAt)
			fresh = append(fresh, d)
			if i, ok := ds.Lookup(sp.ID); ok {
				if conv := ds.Conversation(i); conv.VisibleAt.Sub(conv.Start) <= busyLag {
					edge = append(edge, d)
				}
			}
			continue
		}
		if !published {
			r.TerminalPending++
			terminal = append(terminal, end.Sub(sp.FirstServableAt))
			continue
		}
		terminal = append(terminal, toSim(at).Sub(sp.FirstServableAt))
	}
	r.Terminal, r.Edge, r.New = Summarize(terminal), Summarize(edge), Summarize(fresh)
	if err := os.WriteFile(filepath.Join(dir, "states.csv"), states.Bytes(), 0o600); err != nil {
		h.logf("%s: %v", c, err)
	}
	r.Needed = neededRate(logPath, "needed_rate", toSim, from, to) / speed
	r.NeededActive = neededRate(logPath, "needed_rate_active", toSim, from, to) / speed
	return r, nil
}

// busyMaxWindow returns the most requests of spans that started within any
// window of length w inside [from, to).
func busyMaxWindow(spans []rowSpan, from, to time.Time, w time.Duration) int {
	var ts []time.Time
	for _, s := range spans {
		if !s.Start.Before(from) && s.Start.Before(to) {
			ts = append(ts, s.Start)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// neededRate returns the median of field of the producer's "request plan"
// log lines inside [from, to); 0 when there is none.
func neededRate(path, field string, toSim func(time.Time) time.Time, from, to time.Time) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var v []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"request plan"`) {
			continue
		}
		var l struct {
			Time time.Time `json:"time"`
		}
		var fields map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil || json.Unmarshal(sc.Bytes(), &fields) != nil {
			continue
		}
		x, ok := fields[field].(float64)
		if !ok {
			continue
		}
		if t := toSim(l.Time); t.Before(from) || !t.Before(to) {
			continue
		}
		v = append(v, x)
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
