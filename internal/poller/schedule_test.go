package poller

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// live is a scheduleConfig of a live source: 1h windows, 1m interval, no
// lag, 15m settle, 48h revisits every 5m at least.
var live = scheduleConfig{Window: time.Hour, Interval: time.Minute, Settle: 15 * time.Minute, Revisit: 48 * time.Hour, RevisitInterval: 5 * time.Minute, Reread: RereadByAge}

func cov(history []jelou.Window, liveFrom, liveTo, settled time.Time) checkpoint.Coverage {
	return checkpoint.Coverage{History: history, Live: win(liveFrom, liveTo), Settled: settled}
}

func sameCoverage(t *testing.T, got, want checkpoint.Coverage) {
	t.Helper()
	if g, w := fmt.Sprintf("%v", got), fmt.Sprintf("%v", want); g != w {
		t.Fatalf("coverage\n got %s\nwant %s", g, w)
	}
}

func TestInitialCoverage(t *testing.T) {
	backfill := live
	backfill.End = at(5, 0)
	tests := []struct {
		name        string
		cfg         scheduleConfig
		start, edge time.Time
		want        checkpoint.Coverage
	}{
		{"history behind the settle period", live, at(0, 0), at(10, 0),
			cov([]jelou.Window{win(at(0, 0), at(9, 45))}, at(9, 45), at(9, 45), at(9, 45))},
		{"start inside the settle period: no history", live, at(9, 50), at(10, 0),
			cov(nil, at(9, 50), at(9, 50), at(9, 50))},
		{"no settle: the live lane still reads one interval back", scheduleConfig{Window: time.Hour, Interval: time.Minute}, at(0, 0), at(10, 0),
			cov([]jelou.Window{win(at(0, 0), at(9, 59))}, at(9, 59), at(9, 59), at(9, 59))},
		{"backfill: history alone", backfill, at(1, 0), at(10, 0),
			cov([]jelou.Window{win(at(1, 0), at(5, 0))}, at(5, 0), at(5, 0), at(5, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameCoverage(t, initialCoverage(tt.cfg, tt.start, tt.edge), tt.want)
		})
	}
}

func TestMigrateCursor(t *testing.T) {
	backfill := live
	backfill.End = at(5, 0)
	tests := []struct {
		name   string
		cfg    scheduleConfig
		cursor time.Time
		want   checkpoint.Coverage
	}{
		{"live: the settle period behind the cursor is re-read", live, at(10, 0), cov(nil, at(9, 45), at(10, 0), at(9, 45))},
		{"backfill: the rest of the range", backfill, at(2, 0), cov([]jelou.Window{win(at(2, 0), at(5, 0))}, at(5, 0), at(5, 0), at(5, 0))},
		{"backfill already done", backfill, at(5, 0), cov(nil, at(5, 0), at(5, 0), at(5, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameCoverage(t, migrateCursor(tt.cfg, tt.cursor), tt.want)
		})
	}
}

// step is one call to a lane of the schedule at now, what it must return
// (a window, or nothing and a wake time), and whether the query is then
// recorded done.
type step struct {
	now  time.Time
	lane Lane
	want *jelou.Window
	wake time.Time
	done bool
}

func w(a, b time.Time) *jelou.Window { x := win(a, b); return &x }

// runSteps plays steps against s, failing at the first surprise.
func runSteps(t *testing.T, s *Schedule, steps []step) {
	t.Helper()
	for i, st := range steps {
		q, ok, wake := st.lane.Spec().Next(s, st.now)
		switch {
		case st.want == nil && ok:
			t.Fatalf("step %d (%s at %s): got query %s, want none", i, st.lane, st.now.Format("15:04"), q.Window)
		case st.want != nil && !ok:
			t.Fatalf("step %d (%s at %s): no query, want %s", i, st.lane, st.now.Format("15:04"), *st.want)
		case st.want != nil && q.Window != *st.want:
			t.Fatalf("step %d (%s at %s): query %s, want %s", i, st.lane, st.now.Format("15:04"), q.Window, *st.want)
		case st.want == nil && !wake.Equal(st.wake):
			t.Fatalf("step %d (%s at %s): wake %v, want %v", i, st.lane, st.now.Format("15:04"), wake, st.wake)
		}
		if ok && st.done {
			s.Done(q)
		}
	}
}

func TestLiveAndSettleLanes(t *testing.T) {
	cfg := live
	cfg.Reread = RereadAll // the whole unsettled range every tick
	s := newSchedule(cfg, initialCoverage(cfg, at(0, 0), at(10, 0)))
	runSteps(t, s, []step{
		// The first live tick reads the recent past; settle has nothing yet.
		{now: at(10, 0), lane: LaneSettle, want: nil, wake: at(10, 1)},
		{now: at(10, 0), lane: LaneLive, want: w(at(9, 45), at(10, 0)), done: true},
		{now: at(10, 0).Add(10 * time.Second), lane: LaneLive, want: nil, wake: at(10, 1)},
		// Settle re-reads the unsettled live range every interval; what is
		// 15 minutes old when read settles.
		{now: at(10, 1), lane: LaneSettle, want: w(at(9, 45), at(10, 0)), done: true},
		{now: at(10, 1), lane: LaneLive, want: w(at(10, 0), at(10, 1)), done: true},
		{now: at(10, 2), lane: LaneSettle, want: w(at(9, 46), at(10, 1)), done: true},
		// A live tick that ran long: the next one is due at once.
		{now: at(10, 4), lane: LaneLive, want: w(at(10, 1), at(10, 4)), done: true},
		{now: at(10, 4), lane: LaneSettle, want: w(at(9, 47), at(10, 4))},
	})
	if got := s.Coverage().Settled; !got.Equal(at(9, 47)) {
		t.Fatalf("settled %v, want 09:47", got)
	}
}

func TestSettleByAgePlan(t *testing.T) {
	cfg := live
	cfg.Settle = 16 * time.Minute
	s := newSchedule(cfg, cov(nil, at(9, 40), at(10, 0), at(9, 40)))
	runSteps(t, s, []step{
		// Tick 0 at 10:00: every age piece, newest first, then the final
		// read of what is 16 minutes old.
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 58), at(9, 59)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 56), at(9, 58)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 52), at(9, 56)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 44), at(9, 52)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 40), at(9, 44)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: nil, wake: at(10, 1)},
		// Tick 1 at 10:01 (the live range now ends at 10:01): the 1–2
		// minute piece and the final read only.
		{now: at(10, 1), lane: LaneLive, want: w(at(10, 0), at(10, 1)), done: true},
		{now: at(10, 1), lane: LaneSettle, want: w(at(9, 59), at(10, 0)), done: true},
		{now: at(10, 1), lane: LaneSettle, want: w(at(9, 44), at(9, 45)), done: true},
		{now: at(10, 1), lane: LaneSettle, want: nil, wake: at(10, 2)},
	})
	if got := s.Coverage().Settled; !got.Equal(at(9, 45)) {
		t.Fatalf("settled %v, want 09:45", got)
	}
}

func TestSettleHotPart(t *testing.T) {
	cfg := live
	cfg.Settle, cfg.SettleHot = 16*time.Minute, 4*time.Minute
	s := newSchedule(cfg, cov(nil, at(9, 40), at(10, 0), at(9, 40)))
	runSteps(t, s, []step{
		// Tick 0: the hot part [1m, 4m), then [4m, 8m) and [8m, 16m).
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 56), at(9, 59)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 52), at(9, 56)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 44), at(9, 52)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: w(at(9, 40), at(9, 44)), done: true},
		{now: at(10, 0), lane: LaneSettle, want: nil, wake: at(10, 1)},
		// Ticks 1–3: the hot part and the final read; [4m, 8m) again on
		// tick 4 (it takes four ticks to cross).
		{now: at(10, 1), lane: LaneLive, want: w(at(10, 0), at(10, 1)), done: true},
		{now: at(10, 1), lane: LaneSettle, want: w(at(9, 57), at(10, 0)), done: true},
		{now: at(10, 1), lane: LaneSettle, want: w(at(9, 44), at(9, 45)), done: true},
		{now: at(10, 1), lane: LaneSettle, want: nil, wake: at(10, 2)},
	})
}

// TestSettleByAgeReadsEachStartOncePerDoubling runs a live schedule for an
// hour of one-minute ticks and checks, for start times all over it, that
// each was re-read by the settle lane while its age was in [1m, 2m),
// [2m, 4m) and [4m, 8m), and settled by a read at 15 minutes or more; and that a tick's cost stays near log2(Settle/Interval) intervals.
func TestSettleByAgeReadsEachStartOncePerDoubling(t *testing.T) {
	s := newSchedule(live, initialCoverage(live, at(9, 0), at(10, 0)))
	reads := map[time.Time][]time.Duration{}
	var worst time.Duration
	for now := at(10, 0); now.Before(at(11, 0)); now = now.Add(time.Minute) {
		if q, ok, _ := s.Live(now); ok {
			s.Done(q)
		}
		var tick time.Duration
		for {
			q, ok, _ := s.Settle(now)
			if !ok {
				break
			}
			tick += q.Window.Duration()
			for st := q.Window.Start.Truncate(30 * time.Second); !st.After(q.Window.End); st = st.Add(30 * time.Second) {
				if !st.Before(q.Window.Start) { // windows are inclusive at both ends
					reads[st] = append(reads[st], q.Edge.Sub(st))
				}
			}
			s.Done(q)
		}
		if now.After(at(10, 20)) {
			worst = max(worst, tick)
		}
	}
	if worst > 16*time.Minute {
		t.Fatalf("a settle tick re-read %s of start times, want at most about the settle period once per tick", worst)
	}
	// The last band, [8m, 16m), is cut short by the settle period: a start
	// may cross it between two of its reads and be read next when it settles.
	bands := []struct{ lo, hi time.Duration }{{time.Minute, 2 * time.Minute}, {2 * time.Minute, 4 * time.Minute}, {4 * time.Minute, 8 * time.Minute}}
	for st := at(10, 5); st.Before(at(10, 40)); st = st.Add(30 * time.Second) {
		ages := reads[st]
		for _, b := range bands {
			n := 0
			for _, a := range ages {
				if a >= b.lo && a < b.hi {
					n++
				}
			}
			if n == 0 {
				t.Fatalf("start %s: ages read %v, none in [%s, %s)", st.Format("15:04:05"), ages, b.lo, b.hi)
			}
		}
		settled := false
		for _, a := range ages {
			settled = settled || a >= 15*time.Minute
		}
		if !settled {
			t.Fatalf("start %s: ages read %v, never at 15m or more", st.Format("15:04:05"), ages)
		}
		if len(ages) > 10 { // a start on a piece boundary is read by both pieces
			t.Fatalf("start %s read %d times (%v), want at most twice log2(15) + 1 (boundaries)", st.Format("15:04:05"), len(ages), ages)
		}
	}
	if got := s.Coverage().Settled; got.Before(at(10, 44)) {
		t.Fatalf("settled %v after an hour, want within a tick of 10:45", got)
	}
}

func TestLiveLaneWithLag(t *testing.T) {
	cfg := live
	cfg.Lag = 30 * time.Second
	s := newSchedule(cfg, cov(nil, at(9, 0), at(9, 59), at(9, 0)))
	runSteps(t, s, []step{
		{now: at(10, 0).Add(45 * time.Second), lane: LaneLive, want: w(at(9, 59), at(10, 0).Add(15*time.Second)), done: true},
	})
}

func TestRebaseAfterAnOutage(t *testing.T) {
	tests := []struct {
		name string
		from checkpoint.Coverage
		now  time.Time
		want *jelou.Window // the live query
		cov  checkpoint.Coverage
	}{
		{
			name: "within settle and an interval: no rebase",
			from: cov(nil, at(9, 30), at(9, 50), at(9, 35)), now: at(10, 0),
			want: w(at(9, 50), at(10, 0)),
			cov:  cov(nil, at(9, 30), at(9, 50), at(9, 35)),
		},
		{
			name: "down an hour: the unsettled part is history, read once",
			from: cov(nil, at(8, 30), at(9, 0), at(8, 45)), now: at(10, 0),
			want: w(at(9, 45), at(10, 0)),
			cov:  cov([]jelou.Window{win(at(8, 45), at(9, 45))}, at(9, 45), at(9, 45), at(9, 45)),
		},
		{
			name: "down an hour during a backfill: two gaps, the older kept",
			from: cov([]jelou.Window{win(at(2, 0), at(8, 30))}, at(8, 30), at(9, 0), at(8, 45)), now: at(10, 0),
			want: w(at(9, 45), at(10, 0)),
			cov:  cov([]jelou.Window{win(at(2, 0), at(8, 30)), win(at(8, 45), at(9, 45))}, at(9, 45), at(9, 45), at(9, 45)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(live, tt.from)
			runSteps(t, s, []step{{now: tt.now, lane: LaneLive, want: tt.want}})
			sameCoverage(t, s.Coverage(), tt.cov)
		})
	}
}

func TestHistoryOrderedCommitNewestGapFirst(t *testing.T) {
	s := newSchedule(live, cov([]jelou.Window{win(at(0, 0), at(1, 30)), win(at(5, 0), at(7, 0))}, at(9, 0), at(9, 0), at(9, 0)))
	now := at(10, 0)
	q1, _, _ := s.History(now)
	q2, _, _ := s.History(now)
	if q1.Window != win(at(5, 0), at(6, 0)) || q2.Window != win(at(6, 0), at(7, 0)) {
		t.Fatalf("history handed out %s, %s; want the newest gap first, in order", q1.Window, q2.Window)
	}
	if _, ok, wake := s.History(now); ok || !wake.IsZero() {
		t.Fatalf("the gap is all in flight: want nothing until a Done, got ok=%v wake=%v", ok, wake)
	}
	s.Done(q2) // the later window first: the gap cannot pass it
	if got := s.Coverage().History[1].Start; !got.Equal(at(5, 0)) {
		t.Fatalf("gap start %v after the later window, want 05:00", got)
	}
	s.Done(q1)
	if got := s.Coverage().History; len(got) != 1 || got[0] != win(at(0, 0), at(1, 30)) {
		t.Fatalf("history %v, want only the old gap left", got)
	}
	runSteps(t, s, []step{
		{now: now, lane: LaneHistory, want: w(at(0, 0), at(1, 0)), done: true},
		{now: now, lane: LaneHistory, want: w(at(1, 0), at(1, 30)), done: true},
		{now: now, lane: LaneHistory, want: nil},
	})
	if s.Finished() {
		t.Fatal("a live schedule is never finished")
	}
	if got := s.Coverage().Cursor(); !got.Equal(at(9, 0)) {
		t.Fatalf("cursor %v, want the live end once history is read", got)
	}
}

func TestBackfillWaitsForTheEdge(t *testing.T) {
	cfg := live
	cfg.End = at(3, 0)
	s := newSchedule(cfg, initialCoverage(cfg, at(0, 0), at(1, 30)))
	runSteps(t, s, []step{
		{now: at(1, 30), lane: LaneLive, want: nil},
		{now: at(1, 30), lane: LaneSettle, want: nil},
		{now: at(1, 30), lane: LaneHistory, want: w(at(0, 0), at(1, 0)), done: true},
		{now: at(1, 30), lane: LaneHistory, want: w(at(1, 0), at(1, 30)), done: true},
		{now: at(1, 30), lane: LaneHistory, want: nil, wake: at(1, 31)},
		{now: at(4, 0), lane: LaneHistory, want: w(at(1, 30), at(2, 30)), done: true},
		{now: at(4, 0), lane: LaneHistory, want: w(at(2, 30), at(3, 0)), done: true},
	})
	if !s.Finished() {
		t.Fatalf("backfill not finished: %v", s.Coverage())
	}
}

func TestRevisits(t *testing.T) {
	s := newSchedule(live, cov(nil, at(9, 0), at(10, 0), at(9, 45)))
	b1 := bucket{key: at(3, 0), first: at(3, 10), end: at(3, 20)}
	b2 := bucket{key: at(8, 0), first: at(8, 55), end: at(8, 59)}
	tests := []struct {
		name    string
		now     time.Time
		buckets []bucket
		want    []jelou.Window
	}{
		{"first sweep after start: every bucket", at(10, 0), []bucket{b2, b1}, []jelou.Window{win(at(3, 10), at(3, 20).Add(time.Second)), win(at(8, 55), at(8, 59).Add(time.Second))}},
		{"just revisited", at(10, 1), []bucket{b1, b2}, nil},
		{"the young bucket is not due before age/8 (8m15s)", at(10, 8), []bucket{b1, b2}, nil},
		{"the young bucket is due after age/8", at(10, 9), []bucket{b1, b2}, []jelou.Window{win(at(8, 55), at(8, 59).Add(time.Second))}},
		{"the 7h-old one after age/8 (57m)", at(10, 58), []bucket{b1, b2}, []jelou.Window{win(at(3, 10), at(3, 20).Add(time.Second)), win(at(8, 55), at(8, 59).Add(time.Second))}},
		{"a bucket that just settled waits", at(10, 59), []bucket{b1, b2, {key: at(9, 0), first: at(9, 40), end: at(9, 44)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, _ := s.Revisits(tt.now, tt.buckets)
			var got []jelou.Window
			for _, q := range due {
				got = append(got, q.Window)
				s.Done(q)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("due %v, want %v", got, tt.want)
			}
		})
	}
	if from, to := s.RevisitRange(at(10, 0)); !from.Equal(at(10, 0).Add(-48*time.Hour)) || !to.Equal(at(9, 45)) {
		t.Fatalf("RevisitRange = %v, %v; want the horizon to the settled mark", from, to)
	}
}

func TestEvictBefore(t *testing.T) {
	noRevisit := live
	noRevisit.Revisit = 0
	tests := []struct {
		name string
		cfg  scheduleConfig
		c    checkpoint.Coverage
		want time.Time
	}{
		{"live: the revisit horizon decides", live, cov(nil, at(99, 0), at(100, 0), at(99, 45)), at(52, 0)},
		{"history inside the horizon: its start less a window", live, cov([]jelou.Window{win(at(60, 0), at(99, 0))}, at(99, 0), at(100, 0), at(99, 0)), at(52, 0)},
		{"history older than the horizon", live, cov([]jelou.Window{win(at(30, 0), at(99, 0))}, at(99, 0), at(100, 0), at(99, 0)), at(29, 0)},
		{"no revisits: the settled mark less a window", noRevisit, cov(nil, at(99, 0), at(100, 0), at(99, 45)), at(98, 45)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newSchedule(tt.cfg, tt.c).EvictBefore(at(100, 0)); !got.Equal(tt.want) {
				t.Fatalf("EvictBefore = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrefix(t *testing.T) {
	p := newPrefix(at(0, 0))
	a, b, c := p.add(at(1, 0)), p.add(at(2, 0)), p.add(at(3, 0))
	tests := []struct {
		ticket  int
		want    time.Time
		pending int
	}{
		{b, at(0, 0), 3},
		{c, at(0, 0), 3},
		{b, at(0, 0), 3}, // twice changes nothing
		{a, at(3, 0), 0},
		{a, at(3, 0), 0}, // passed
	}
	for i, tt := range tests {
		if got := p.complete(tt.ticket); !got.Equal(tt.want) || p.pending() != tt.pending {
			t.Fatalf("step %d: complete(%d) = %v with %d pending, want %v with %d", i, tt.ticket, got, p.pending(), tt.want, tt.pending)
		}
	}
	if d := p.add(at(4, 0)); p.complete(d) != at(4, 0) {
		t.Fatal("a window handed out after the run caught up is passed at once")
	}
}

func TestRevisitBacklog(t *testing.T) {
	s := newSchedule(live, cov(nil, at(9, 0), at(10, 0), at(9, 45)))
	b := bucket{key: at(8, 0), first: at(8, 55), end: at(8, 59)}
	due, _ := s.Revisits(at(10, 0), []bucket{b})
	for _, q := range due {
		s.Done(q) // the first sweep
	}
	tests := []struct {
		now     time.Time
		overdue time.Duration
	}{
		{at(10, 5), 0}, // due 8m15s after 10:00 (age 66m / 8): not yet
		{at(10, 30), 30*time.Minute - 11*time.Minute - 22*time.Second - 500*time.Millisecond}, // age 91m: every 11m22.5s
	}
	for _, tt := range tests {
		if _, got := s.Revisits(tt.now, []bucket{b}); got != tt.overdue {
			t.Errorf("at %s overdue %s, want %s", tt.now.Format("15:04"), got, tt.overdue)
		}
	}
}

func TestSettlePlanAuto(t *testing.T) {
	base := scheduleConfig{Interval: 5 * time.Second, Settle: 15 * time.Minute, SettleHot: 2 * time.Minute, PageSize: 50, Reread: RereadAuto}
	tests := []struct {
		name    string
		reread  Reread
		budget  float64 // requests per second
		density float64 // rows per second of start time
		hot     time.Duration
		all     bool
	}{
		{"nothing learnt yet: read it all and learn", RereadAuto, 5, 0, 2 * time.Minute, true},
		{"no budget limit", RereadAuto, -1, 2, 2 * time.Minute, true},
		// 2 rows/s over 15 min at 50 a page: 36 pages a tick.
		{"a generous budget (50/s: 250 a tick) affords it all", RereadAuto, 50, 2, 2 * time.Minute, true},
		{"the default budget (5/s: 25 a tick) does not: by age, hot part as a quarter of it reads", RereadAuto, 5, 2, 155 * time.Second, false},
		{"20 rows/s: by age, the hot part at least POLL_SETTLE_HOT", RereadAuto, 5, 20, 2 * time.Minute, false},
		{"all, whatever the budget", RereadAll, 5, 20, 2 * time.Minute, true},
		{"by age, whatever the budget", RereadByAge, 50, 2, 2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Reread, cfg.Budget = tt.reread, tt.budget
			s := newSchedule(cfg, checkpoint.Coverage{})
			s.density = tt.density
			hot, all := s.settlePlan(15 * time.Minute)
			if hot != tt.hot || all != tt.all {
				t.Fatalf("settlePlan = %s, all %v; want %s, all %v", hot, all, tt.hot, tt.all)
			}
		})
	}
}

func TestDensityIsLearntFromLiveAndSettleReads(t *testing.T) {
	s := newSchedule(live, cov(nil, at(9, 0), at(10, 0), at(9, 45)))
	s.Done(Query{Lane: LaneLive, Window: win(at(10, 0), at(10, 10)), Rows: 1200})  // 2/s
	s.Done(Query{Lane: LaneSettle, Window: win(at(9, 50), at(10, 0)), Rows: 2400}) // 4/s
	s.Done(Query{Lane: LaneLive, Window: win(at(10, 10), at(10, 10).Add(5*time.Second)), Rows: 500})
	if math.Abs(s.density-2.4) > 1e-9 {
		t.Fatalf("density %v, want 2.4 (2, then 4 weighed 0.2; reads under a minute ignored)", s.density)
	}
}
