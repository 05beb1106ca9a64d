package poller

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// busy is the scheduleConfig of issue 19's account: 10s interval, 5s lag,
// 15m settle, default budget (5 req/s), POLL_MIN_ACTIVE 30s,
// POLL_FRESHNESS 10s.
var busy = scheduleConfig{Window: time.Hour, Interval: 10 * time.Second, Lag: 5 * time.Second, Settle: 15 * time.Minute, SettleHot: 2 * time.Minute,
	Revisit: 48 * time.Hour, RevisitInterval: 5 * time.Minute, Reread: RereadByLoss, PageSize: 100, Budget: 5,
	MinActive: 30 * time.Second, Freshness: 10 * time.Second}

// learned is an account known well: 20 new conversations/s, 50 rows a
// request, visible within 110s, ended by 700s after the start.
var learned = Account{Density: 20, RowsPerRequest: 50, VisibleDelay: 110 * time.Second, VisibleSamples: accountRing,
	EndAge: 700 * time.Second, EndSamples: accountRing}

func TestPlanLoss(t *testing.T) {
	with := func(f func(*scheduleConfig)) scheduleConfig { c := busy; f(&c); return c }
	quiet := learned
	quiet.Density = 2
	young := learned
	young.VisibleDelay, young.VisibleSamples, young.RowsPerRequest = 30*time.Second, 100, 0
	slow := young
	slow.VisibleDelay = 200 * time.Second
	tests := []struct {
		name                           string
		cfg                            scheduleConfig
		a                              Account
		hot, hotEvery, warm, warmEvery time.Duration
		needed, neededActive           float64
		short, activeShort             bool
	}{
		// live 5 requests/10s, final reads 5/10s: 1 req/s; hot band
		// 110+20−5 = 125s, 51 requests every 20s: 2.55; warm band
		// 700+10−5−125 = 580s, 233 requests: 23.3 at 10s, and the
		// 4.75−1−2.55 = 1.2 req/s left read it every 195s. Complete
		// capture at POLL_FRESHNESS would read the hot band every 10s too:
		// 1 + 5.1 + 23.3 = 29.4 req/s.
		{"busy account, default budget: terminal states wait, active ones do not", busy, learned,
			125 * time.Second, 20 * time.Second, 580 * time.Second, 195 * time.Second, 29.4, 3.55, true, false},
		// Everything fits: the hot and warm bands every POLL_FRESHNESS,
		// not more often however large the budget.
		{"quiet account, large budget: the freshness asked for, no more", with(func(c *scheduleConfig) { c.Budget = 50 }), quiet,
			125 * time.Second, 10 * time.Second, 580 * time.Second, 10 * time.Second, 3.3, 0.58, false, false},
		// 1.9−1 = 0.9 req/s left for the hot band's 51 requests: every
		// 57s; the warm band is left to the final read.
		{"tiny budget: active capture degrades last", with(func(c *scheduleConfig) { c.Budget = 2 }), learned,
			125 * time.Second, 57 * time.Second, 580 * time.Second, 15 * time.Minute, 29.4, 3.55, true, true},
		// Priors: visible within max(SettleHot, Interval) = 2m, ends by
		// POLL_SETTLE, 100 rows a request: hot 135s (28 requests), warm
		// 900−135 = 765s (154 requests, 2.75 req/s left: every 56s).
		{"nothing learned yet: the priors", busy, Account{Density: 20},
			135 * time.Second, 20 * time.Second, 765 * time.Second, 56 * time.Second, 18.8, 2.0, true, false},
		// 100 rows a request (none counted yet): hot 28 requests, warm
		// 705−135 = 570s, 115 requests, 2.75 req/s left: every 42s.
		{"few samples: the prior is a floor", busy, young,
			135 * time.Second, 20 * time.Second, 570 * time.Second, 42 * time.Second, 14.9, 2.0, true, false},
		{"few samples above the prior are kept", busy, slow,
			215 * time.Second, 20 * time.Second, 490 * time.Second, 0, 0, 0, true, false},
		{"density unknown: nominal periods, no rate", busy, Account{},
			135 * time.Second, 20 * time.Second, 765 * time.Second, 10 * time.Second, 0, 0, false, false},
		{"POLL_MIN_ACTIVE 1m, large budget: the hot band every POLL_FRESHNESS", with(func(c *scheduleConfig) { c.MinActive = time.Minute; c.Budget = 50 }), quiet,
			145 * time.Second, 10 * time.Second, 560 * time.Second, 10 * time.Second, 0, 0, false, false},
		{"POLL_MIN_ACTIVE 1m, POLL_FRESHNESS 1m: the hot band every 40s", with(func(c *scheduleConfig) { c.MinActive, c.Freshness, c.Budget = time.Minute, time.Minute, 50 }), quiet,
			145 * time.Second, 40 * time.Second, 610 * time.Second, time.Minute, 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planLoss(tt.cfg, tt.a)
			if p.Hot != tt.hot || p.HotEvery != tt.hotEvery || p.Warm != tt.warm {
				t.Errorf("hot %v every %v, warm %v; want hot %v every %v, warm %v", p.Hot, p.HotEvery, p.Warm, tt.hot, tt.hotEvery, tt.warm)
			}
			if tt.warmEvery != 0 && p.WarmEvery != tt.warmEvery {
				t.Errorf("warm every %v, want %v", p.WarmEvery, tt.warmEvery)
			}
			if tt.needed != 0 && (math.Abs(p.Needed-tt.needed) > 0.01 || math.Abs(p.NeededActive-tt.neededActive) > 0.01) {
				t.Errorf("needed %.3f (active %.3f), want %.3f (%.3f)", p.Needed, p.NeededActive, tt.needed, tt.neededActive)
			}
			if p.Short != tt.short || p.ActiveShort != tt.activeShort {
				t.Errorf("short %v, active short %v; want %v, %v", p.Short, p.ActiveShort, tt.short, tt.activeShort)
			}
		})
	}
}

// byLoss returns a by-loss schedule of busy whose live range ends at the
// edge of now, settled up to 5s before POLL_SETTLE behind, that has
// learned a.
func byLoss(now time.Time, a Account) *Schedule {
	edge := now.Add(-busy.Lag)
	s := newSchedule(busy, checkpoint.Coverage{Live: win(edge.Add(-time.Hour), edge), Settled: edge.Add(-busy.Settle - 5*time.Second)})
	s.account = func(time.Time) Account { return a }
	s.density, s.rowsPerReq = a.Density, a.RowsPerRequest
	return s
}

func TestPlanByLossFirstTick(t *testing.T) {
	now := at(10, 0).Add(busy.Lag)
	s := byLoss(now, learned)
	var got []jelou.Window
	var final []bool
	for {
		q, ok, _ := s.Settle(now)
		if !ok {
			break
		}
		got = append(got, q.Window)
		final = append(final, q.final)
	}
	// Chunks of half a tick's budget: 5 req/s × 10s ÷ 2 × 50 rows ÷ 20/s
	// = 62s. The hot band [edge−125s, edge], newest first; of the warm
	// band [edge−705s, edge−125s], what its share buys for two ticks,
	// (5 × 0.95 − 3.55) req/s × 40s = 48 requests at 4 a 10-s grain plus
	// one a run: nothing read yet, the oldest grains hold the most ended
	// conversations (ends uniform over 700s), the eleven oldest from the
	// settled mark (past the band's old end: what ended there waits),
	// cut in chunks; then the final read up to edge−15m.
	edge := at(10, 0)
	sec := func(s int) time.Time { return edge.Add(time.Duration(s) * time.Second) }
	want := []jelou.Window{
		win(sec(-62), sec(0)), win(sec(-124), sec(-62)), win(sec(-125), sec(-124)),
		win(sec(-900), sec(-840)), win(sec(-840), sec(-790)),
		win(at(9, 45).Add(-busy.Lag), at(9, 45)),
	}
	if len(got) != len(want) {
		t.Fatalf("%d queries %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] || final[i] != (i == len(want)-1) {
			t.Errorf("query %d: %v final %v, want %v final %v", i, got[i], final[i], want[i], i == len(want)-1)
		}
	}
}

// TestPlanByLossSeesEveryActiveState runs the live and settle lanes of a
// by-loss schedule for ten minutes, each query read at once, and checks
// the promise: every start time young enough to gain rows (the learned
// visibility delay) is read at least every POLL_MIN_ACTIVE until it is
// older than that, so an active state visible for POLL_MIN_ACTIVE is seen;
// and start times holding conversations that may still change (the end
// age) are read at least every POLL_FRESHNESS when the budget allows, at
// least every planned WarmEvery otherwise.
func TestPlanByLossSeesEveryActiveState(t *testing.T) {
	for _, budget := range []float64{5, 50} {
		start := at(10, 0).Add(busy.Lag)
		s := byLoss(start, learned)
		s.cfg.Budget = budget
		reads := map[time.Time][]time.Time{} // start second → read times
		read := func(q Query, now time.Time) {
			for sec := q.Window.Start; sec.Before(q.Window.End); sec = sec.Add(time.Second) {
				reads[sec] = append(reads[sec], now)
			}
			q.Rows = int(learned.Density * q.Window.Duration().Seconds())
			q.Requests, q.pieces = int(float64(q.Rows)/learned.RowsPerRequest)+1, 1
			s.Done(q)
		}
		end := start.Add(20 * time.Minute)
		for now := start; now.Before(end); now = now.Add(time.Second) {
			if q, ok, _ := s.Live(now); ok {
				read(q, now)
			}
			for {
				q, ok, _ := s.Settle(now)
				if !ok {
					break
				}
				read(q, now)
			}
		}
		p := s.RequestPlan()
		// Start times the whole of whose unsettled life lies in the run.
		checked := 0
		for sec := start.Add(-busy.Lag); sec.Before(end.Add(-busy.Settle - busy.Lag - busy.Interval)); sec = sec.Add(time.Second) {
			checked++
			last := sec
			for _, r := range reads[sec] {
				// Young enough to gain rows: read every POLL_MIN_ACTIVE; then,
				// while its conversations may change, every planned WarmEvery
				// (POLL_FRESHNESS when the budget allows), a tick late at most.
				limit := busy.MinActive
				if last.Sub(sec) >= learned.VisibleDelay {
					limit = p.WarmEvery + busy.Interval
				}
				// (A read within a grain, a tick of start times, of the end
				// age is its last: the grain's value is judged at its
				// oldest, middle and youngest second.)
				if last.Sub(sec) < learned.EndAge-busy.Interval && r.Sub(last) > limit {
					t.Fatalf("budget %g: start %s read at ages %v then %v: a gap over %v", budget, sec.Format(time.TimeOnly), last.Sub(sec), r.Sub(sec), limit)
				}
				last = r
			}
			if age := last.Sub(sec); age < busy.Settle {
				t.Fatalf("budget %g: start %s last read at age %v, before POLL_SETTLE", budget, sec.Format(time.TimeOnly), age)
			}
		}
		if checked < 200 {
			t.Fatalf("only %d start times checked", checked)
		}
		if budget == 5 && !p.Short || budget == 50 && p.WarmEvery != busy.Freshness {
			t.Errorf("budget %g: short %v, warm band every %v", budget, p.Short, p.WarmEvery)
		}
		if budget == 50 && p.WarmEvery != busy.Freshness {
			t.Errorf("budget 50: warm band every %v, want POLL_FRESHNESS %v", p.WarmEvery, busy.Freshness)
		}
	}
}

func TestLearner(t *testing.T) {
	l := newLearner(25 * time.Second)
	start := at(10, 0)
	l.readLive(start)
	row := func(id string, st jelou.State, startAt time.Time) jelou.Conversation {
		return jelou.Conversation{ID: id, State: st, StartAt: startAt}
	}
	// 2000 conversations, one a second: visible 0–99 s after the start,
	// active for 60 s; every tenth never ends. Each is read every 10 s
	// from its start on.
	for i := range 2000 {
		st := start.Add(time.Duration(i) * time.Second)
		id := string(rune('a'+i%26)) + time.Duration(i).String()
		visible := time.Duration(i%100) * time.Second
		seen := false
		for age := 10 * time.Second; age < 10*time.Minute; age += 10 * time.Second {
			if age < visible {
				continue
			}
			state := jelou.StateActive
			if i%10 != 0 && age >= visible+time.Minute {
				state = jelou.StateClosed
			}
			lane := LaneSettle
			switch {
			case !seen:
				l.see(lane, row(id, state, st), true, "", st.Add(age))
				seen = true
			case state == jelou.StateClosed:
				l.see(lane, row(id, state, st), true, jelou.StateActive, st.Add(age))
				age = 10 * time.Minute // nothing more to see
			default:
				l.see(lane, row(id, state, st), false, jelou.StateActive, st.Add(age))
			}
		}
	}
	// A live read's row older than liveAge is a catch-up's: no sample.
	l.see(LaneLive, row("old", jelou.StateActive, start), true, "", start.Add(time.Hour))
	a := l.Account(start.Add(2000*time.Second + 10*time.Minute))
	// First seen up to 10 s after becoming visible: p99 of 99 + 10 s at
	// most, 90 s at least.
	if a.VisibleDelay < 90*time.Second || a.VisibleDelay > 110*time.Second || a.VisibleSamples != 2000 {
		t.Errorf("visible delay p99 %v over %d samples, want 90s–110s over 2000", a.VisibleDelay, a.VisibleSamples)
	}
	// Ended 60 s after becoming visible: first seen active at the read
	// after that (ages are multiples of 10 s), ended halfway between the
	// last read that saw it active and the first that saw it closed, 55 s
	// later; at an age of 155 s at most (visible at 99 s).
	if a.ActiveFor != 55*time.Second || a.ActiveSamples != 1800 {
		t.Errorf("active p99 %v over %d samples, want 55s over 1800", a.ActiveFor, a.ActiveSamples)
	}
	if a.EndAge != 155*time.Second {
		t.Errorf("end age p99 %v, want 155s", a.EndAge)
	}
	// Their distribution: 65s (visible within 10s; every tenth, those visible at once among them, never ends) to 155s, uniform between.
	if q := a.EndAges; q[0] != 65*time.Second || q[endQuantiles/2] != 105*time.Second || q[endQuantiles-1] != 155*time.Second {
		t.Errorf("end age quantiles %v, want 65s, median 105s, 155s", q)
	}
	if a.NeverEnding < 0.08 || a.NeverEnding > 0.12 {
		t.Errorf("never-ending share %.3f over %d, want about 0.1", a.NeverEnding, a.NeverSamples)
	}
}

func TestBudgetCountsTheRequestsOfAContext(t *testing.T) {
	b := NewBudget(-1, 1)
	var n atomic.Int64
	ctx := withRequestCount(WithLane(context.Background(), LaneSettle), &n)
	for range 3 {
		if err := b.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Wait(WithLane(context.Background(), LaneSettle)); err != nil { // not counted
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("counted %d requests, want 3", n.Load())
	}
}

// TestLearnerVisibleSince checks that a first sighting by the settle lane
// is a visibility sample only for a start time the live lane of this
// process read before (after a restart, older rows may be seen again).
func TestLearnerVisibleSince(t *testing.T) {
	start := at(10, 0)
	tests := []struct {
		name    string
		live    time.Time // the first live read's end (zero: none yet)
		startAt time.Time
		want    int
	}{
		{"no live read yet", time.Time{}, start.Add(time.Minute), 0},
		{"started before the first live read's end", start, start.Add(-time.Second), 0},
		{"started at it", start, start, 1},
		{"started after it", start, start.Add(time.Minute), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLearner(25 * time.Second)
			if !tt.live.IsZero() {
				l.readLive(tt.live)
				l.readLive(tt.live.Add(time.Hour)) // only the first counts
			}
			l.see(LaneSettle, jelou.Conversation{ID: "a", State: jelou.StateActive, StartAt: tt.startAt}, true, "", start.Add(5*time.Minute))
			if a := l.Account(start.Add(5 * time.Minute)); a.VisibleSamples != tt.want {
				t.Errorf("%d visibility samples, want %d", a.VisibleSamples, tt.want)
			}
		})
	}
}

func TestLearnerMakesRoom(t *testing.T) {
	l := newLearner(time.Minute)
	start := at(10, 0)
	for i := range accountOpen {
		l.see(LaneSettle, jelou.Conversation{ID: fmt.Sprint("c", i), State: jelou.StateActive, StartAt: start}, true, "", start.Add(time.Second))
	}
	// Full: a new one is not timed while the others were seen recently...
	late := jelou.Conversation{ID: "late", State: jelou.StateActive, StartAt: start}
	l.see(LaneSettle, late, true, "", start.Add(time.Minute))
	if _, ok := l.open["late"]; ok || len(l.open) != accountOpen {
		t.Fatalf("timed %d conversations (late among them: %v), want %d without it", len(l.open), ok, accountOpen)
	}
	// ...and is once they went unseen for openFor.
	l.see(LaneSettle, jelou.Conversation{ID: "later", State: jelou.StateActive, StartAt: start}, true, "", start.Add(time.Hour))
	if _, ok := l.open["later"]; !ok || len(l.open) != 1 {
		t.Fatalf("timed %d conversations (later among them: %v), want only it", len(l.open), ok)
	}
}

func TestLearnCost(t *testing.T) {
	tests := []struct {
		name                   string
		rows, requests, pieces int
		want                   float64 // rows per request learned; 0: none
	}{
		{"dense: a retry and the last page aside", 1200, 26, 1, 1200.0 / 25},
		{"sparse, one page: nothing learned", 2, 1, 1, 0},
		{"sparse, a retry: nothing learned", 5, 3, 1, 0},
		{"sparse pieces and retries: nothing learned", 12, 6, 3, 0},
		{"two pieces, full pages", 400, 10, 2, 50},
		{"never more than a page holds", 1000, 3, 1, 100},
		{"not counted", 1200, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(busy, checkpoint.Coverage{})
			s.learnCost(Query{Rows: tt.rows, Requests: tt.requests, pieces: tt.pieces})
			if math.Abs(s.rowsPerReq-tt.want) > 1e-9 {
				t.Errorf("rows per request %v, want %v", s.rowsPerReq, tt.want)
			}
		})
	}
}

// TestPlanByLossFinalReadOnceAnInterval: with POLL_INTERVAL a minute and
// the by-loss tick 10s, the final read (start times reaching POLL_SETTLE)
// is planned once a minute, each reading what reached it since, not every
// tick: on a sparse account each would be a request of a row or two.
func TestPlanByLossFinalReadOnceAnInterval(t *testing.T) {
	cfg := busy
	cfg.Interval = time.Minute
	start := at(10, 0).Add(cfg.Lag)
	edge := start.Add(-cfg.Lag)
	s := newSchedule(cfg, checkpoint.Coverage{Live: win(edge.Add(-time.Hour), edge), Settled: edge.Add(-cfg.Settle)})
	s.account = func(time.Time) Account { return learned }
	s.density, s.rowsPerReq = learned.Density, learned.RowsPerRequest
	var finals []jelou.Window
	for now := start; now.Before(start.Add(5 * time.Minute)); now = now.Add(time.Second) {
		for {
			q, ok, _ := s.Settle(now)
			if !ok {
				break
			}
			if q.final {
				finals = append(finals, q.Window)
			}
			q.Rows, q.Requests, q.pieces = 1, 1, 1
			s.Done(q)
		}
		if q, ok, _ := s.Live(now); ok {
			s.Done(q)
		}
	}
	if len(finals) < 4 || len(finals) > 6 {
		t.Fatalf("%d final reads in 5 minutes, want one a minute: %v", len(finals), finals)
	}
	for i := 1; i < len(finals); i++ {
		if !finals[i].Start.Equal(finals[i-1].End) {
			t.Errorf("final read %d starts at %v, the one before ended at %v: every start time once", i, finals[i].Start, finals[i-1].End)
		}
	}
}
