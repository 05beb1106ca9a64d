package poller

import (
	"sort"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Reread is how the settle lane re-reads recent start times.
type Reread string

// The ways of re-reading.
const (
	// RereadAuto re-reads the whole unsettled range every interval while
	// that fits in half the request budget, else by age with a hot part as
	// large as a quarter of the budget allows.
	RereadAuto Reread = "auto"
	// RereadByAge re-reads each start time once while its age doubles,
	// and the hot part (SettleHot) every interval.
	RereadByAge Reread = "by-age"
	// RereadAll re-reads the whole unsettled range every interval.
	RereadAll Reread = "all"
)

// Query is one window a lane asks the API for.
type Query struct {
	// Lane is the lane that planned it.
	Lane Lane
	// Window is the range of start times asked for.
	Window jelou.Window
	// Planned is when it was planned, and Edge that time minus Lag.
	Planned, Edge time.Time

	// The private fields carry what a lane's schedule rule tells its done
	// rule (LaneSpec.Done) about the query.
	final bool // settle: the read that moves the settled mark
	// Again is set when the range will be read again within an interval or
	// so (live, and settle reads of start times not settled yet): pagination
	// drift there need not be healed by a re-fetch now.
	Again bool
	// Rows is how many rows the query returned, and Requests how many API
	// requests that took (retries included; 0 when not counted); the poller
	// sets them before Done (the schedule learns how dense start times are
	// and what a range costs).
	Rows     int
	Requests int
	pieces   int       // how many windows it was read in (Pieces), set with Requests
	ticket   int       // history: position in the gap's ordered commit
	gap      time.Time // history: end of the gap it belongs to
	bucket   time.Time // revisit: the bucket's key
}

// scheduleConfig is the part of Config the schedule needs.
type scheduleConfig struct {
	Window, Interval, Lag, Settle time.Duration
	Revisit, RevisitInterval      time.Duration
	// Reread is how the settle lane re-reads recent start times.
	Reread Reread
	// SettleHot is the age below which start times are re-read on every
	// settle tick when re-reading by age (older ones less often).
	SettleHot time.Duration
	// PageSize and Budget (requests per second; <= 0: no limit) let Auto
	// judge what a tick may cost.
	PageSize int
	Budget   float64
	// MinActive is how long an active state may be visible before the
	// by-loss plan must have seen it, and Freshness how soon after a state
	// change it wants to see it (RereadByLoss; see planLoss).
	MinActive, Freshness time.Duration
	// End, when set, makes the schedule a bounded backfill: the history
	// lane alone, up to End.
	End time.Time
}

// Schedule decides what each lane queries next, from times and from what
// was read so far (its Coverage); it does no I/O, reads no clock and
// starts nothing, so it is tested with tables of times alone. The poller
// holds it under a lock: it is not safe for concurrent use.
//
// Per lane: Live, Settle, Revisits and History, the lanes' schedule rules
// (LaneSpec.Next and Sweep), return the query due at now, or when to ask
// again (a zero time: after the next Done). Done records a query whose rows
// Kafka acknowledged, by its lane's done rule.
type Schedule struct {
	cfg scheduleConfig
	cov checkpoint.Coverage

	lastLive, lastSettle time.Time
	settleTick           int     // settle ticks planned so far
	density              float64 // rows per second of start time, recent live and settle reads
	settleQueue          []Query // the current settle tick's queries not handed out yet

	work    *prefix   // ordered commit of the gap being worked, nil if none
	workEnd time.Time // end of that gap (gaps never share an end)
	next    time.Time // next start time to hand out in it

	revisited map[time.Time]time.Time // bucket key → last revisit planned
	swept     bool                    // a first revisit sweep was planned

	// account returns what was learned of the source's traffic (nil: nothing).
	account           func(now time.Time) Account
	rowsPerReq        float64             // rows per API request, recent live and settle reads
	plan              RequestPlan         // the last settle tick's
	lastHot, lastWarm time.Time           // by-loss: last hot and warm band reads planned
	lastFinal         time.Time           // by-loss: last final read planned
	lastRead          map[int64]time.Time // by-loss: a grain (a tick) of unsettled start times, by its start (Unix seconds) → its last read planned
	readDone          map[int64]time.Time // by-loss: the same → its last read done (saved in the checkpoint)
}

// newSchedule returns a schedule resuming from cov.
func newSchedule(cfg scheduleConfig, cov checkpoint.Coverage) *Schedule {
	return &Schedule{cfg: cfg, cov: cov, revisited: make(map[time.Time]time.Time)}
}

// recentPast is how far back the live range starts on a first start and
// after a rebase: the settle period, at least an interval.
func (c scheduleConfig) recentPast() time.Duration { return max(c.Settle, c.Interval) }

// initialCoverage is where a source without a checkpoint starts, with the
// first live edge at edge: the live lane reads the recent past (the settle
// period, at least an interval), history reads [start, that].
func initialCoverage(cfg scheduleConfig, start, edge time.Time) checkpoint.Coverage {
	if !cfg.End.IsZero() {
		return checkpoint.Coverage{
			History: []jelou.Window{{Start: start, End: cfg.End}},
			Live:    jelou.Window{Start: cfg.End, End: cfg.End},
			Settled: cfg.End,
		}
	}
	floor := edge.Add(-cfg.recentPast())
	if floor.Before(start) {
		floor = start
	}
	cov := checkpoint.Coverage{Live: jelou.Window{Start: floor, End: floor}, Settled: floor}
	if start.Before(floor) {
		cov.History = []jelou.Window{{Start: start, End: floor}}
	}
	return cov
}

// migrateCursor is the coverage of a version 1 checkpoint, which held only
// a cursor: every start before it was read once, and the settle period
// behind it may not have settled.
func migrateCursor(cfg scheduleConfig, cursor time.Time) checkpoint.Coverage {
	if !cfg.End.IsZero() {
		cov := checkpoint.Coverage{Live: jelou.Window{Start: cfg.End, End: cfg.End}, Settled: cfg.End}
		if cursor.Before(cfg.End) {
			cov.History = []jelou.Window{{Start: cursor, End: cfg.End}}
		}
		return cov
	}
	from := cursor.Add(-cfg.Settle)
	return checkpoint.Coverage{Live: jelou.Window{Start: from, End: cursor}, Settled: from}
}

// Coverage returns a copy of what was read and acknowledged so far.
func (s *Schedule) Coverage() checkpoint.Coverage {
	c := s.cov
	c.History = append([]jelou.Window(nil), s.cov.History...)
	return c
}

// backfill reports whether the schedule is a bounded backfill.
func (s *Schedule) backfill() bool { return !s.cfg.End.IsZero() }

// Finished reports whether a bounded backfill has read everything.
func (s *Schedule) Finished() bool { return s.backfill() && len(s.cov.History) == 0 }

// edge is now−Lag to the second, and never past End.
func (s *Schedule) edge(now time.Time) time.Time {
	e := now.Add(-s.cfg.Lag).Truncate(time.Second)
	if s.backfill() && e.After(s.cfg.End) {
		e = s.cfg.End
	}
	return e
}

// rebase moves the live range up when the live lane fell more than a
// settle period and an interval behind the edge (the service was down, or
// the API was): what it had not settled becomes a history gap, read once
// (it is old enough to be settled by that read), and the live lane starts
// again from the recent past, so the freshest rows do not wait behind
// hours of backlog.
func (s *Schedule) rebase(edge time.Time) {
	back := s.cfg.recentPast()
	if !s.cov.Live.End.Before(edge.Add(-back - s.cfg.Interval)) {
		return
	}
	floor := edge.Add(-back)
	if s.cov.Settled.Before(floor) {
		s.cov.History = append(s.cov.History, jelou.Window{Start: s.cov.Settled, End: floor})
	}
	s.cov.Live = jelou.Window{Start: floor, End: floor}
	s.cov.Settled = floor
	s.settleQueue = nil // planned for the old range
}

// Live returns the live query due at now: [end of the live range, now−Lag],
// once every Interval.
func (s *Schedule) Live(now time.Time) (Query, bool, time.Time) {
	if s.backfill() {
		return Query{}, false, time.Time{}
	}
	if !s.lastLive.IsZero() && now.Before(s.lastLive.Add(s.cfg.Interval)) {
		return Query{}, false, s.lastLive.Add(s.cfg.Interval)
	}
	s.lastLive = now
	edge := s.edge(now)
	s.rebase(edge)
	if !edge.After(s.cov.Live.End) {
		return Query{}, false, now.Add(s.cfg.Interval)
	}
	return Query{Lane: LaneLive, Window: jelou.Window{Start: s.cov.Live.End, End: edge}, Planned: now, Edge: edge, Again: s.cfg.Settle > 0}, true, time.Time{}
}

// Settle returns the next settle query due at now. Every Interval, a settle
// tick re-reads start times by age a = edge − start:
//
//   - the final read: [Settled, edge−Settle], start times now old enough to
//     be settled by this read (it moves the settled mark);
//   - the hot part, a in [Interval, SettleHot): on every tick (the live lane
//     just read what is younger);
//   - older, by doubling: a in [2^j·H, 2^(j+1)·H) with H = max(SettleHot,
//     Interval), once every 2^j·H of ticks, for j = 0, 1, … up to Settle;
//     each start time is re-read once while its age doubles.
//
// Late rows and state changes are likeliest soon after a start, and a start
// time past the hot part is re-read about log2(Settle/H) times in all, so a
// tick costs the volume of SettleHot plus a few intervals whatever Settle
// is (the whole settle period, every tick, with RereadAll; RereadAuto
// picks, see settlePlan). Queries are
// handed out newest first and never reach past the end of the live range.
func (s *Schedule) Settle(now time.Time) (Query, bool, time.Time) {
	if s.backfill() {
		return Query{}, false, time.Time{}
	}
	if s.cfg.Reread == RereadByLoss {
		tick := s.cfg.lossTick()
		if s.lastSettle.IsZero() || !now.Before(s.lastSettle.Add(tick)) {
			s.lastSettle = now
			s.plan = planLoss(s.cfg, s.accountAt(now))
			s.settleQueue = s.planByLoss(now, s.settleQueue)
			s.settleTick++
		}
		if len(s.settleQueue) == 0 {
			return Query{}, false, s.lastSettle.Add(tick)
		}
		q := s.settleQueue[0]
		s.settleQueue = s.settleQueue[1:]
		return q, true, time.Time{}
	}
	if len(s.settleQueue) == 0 {
		if !s.lastSettle.IsZero() && now.Before(s.lastSettle.Add(s.cfg.Interval)) {
			return Query{}, false, s.lastSettle.Add(s.cfg.Interval)
		}
		s.lastSettle = now
		s.plan = planLoss(s.cfg, s.accountAt(now)) // for the needed-rate gauge
		s.settleQueue = s.planSettle(now)
		s.settleTick++
		if len(s.settleQueue) == 0 {
			return Query{}, false, now.Add(s.cfg.Interval)
		}
	}
	q := s.settleQueue[0]
	s.settleQueue = s.settleQueue[1:]
	return q, true, time.Time{}
}

// planSettle lists the settle queries of one tick, newest first, the final
// read last.
func (s *Schedule) planSettle(now time.Time) []Query {
	edge := s.edge(now)
	from, to := s.cov.Settled, s.cov.Live.End
	if !to.After(from) {
		return nil
	}
	q := func(a, b time.Time, final bool) Query {
		return Query{Lane: LaneSettle, Window: jelou.Window{Start: a, End: b}, Planned: now, Edge: edge, final: final, Again: !final}
	}
	hot, all := s.settlePlan(to.Sub(from))
	if all || s.cfg.Settle <= s.cfg.Interval {
		return []Query{q(from, to, true)}
	}
	var out []Query
	settleAt := edge.Add(-s.cfg.Settle)
	var final *Query
	if settleAt.After(from) {
		f := q(from, earliest(settleAt, to), true)
		final = &f
		from = settleAt
	}
	add := func(old, young time.Time) {
		if old.Before(from) {
			old = from
		}
		young = earliest(young, to)
		if young.After(old) {
			out = append(out, q(old, young, false))
		}
	}
	add(edge.Add(-hot), edge.Add(-s.cfg.Interval))
	ticks := max(int(hot/s.cfg.Interval), 1) // ticks to cross the first band
	for j := 0; ; j++ {
		young := edge.Add(-(time.Duration(1) << j) * hot)
		if !young.After(from) {
			break
		}
		if s.settleTick%(ticks<<j) == 0 {
			add(edge.Add(-(time.Duration(1)<<(j+1))*hot), young)
		}
	}
	if final != nil {
		out = append(out, *final)
	}
	return out
}

// settlePlan decides how a tick re-reads an unsettled range of length
// span: all of it, or by age with the returned hot part. Auto re-reads all
// of it while its pages (at the density recent reads showed) fit in half of
// an interval's budget, and otherwise makes the hot part as long as a
// quarter of the budget reads, at least SettleHot.
func (s *Schedule) settlePlan(span time.Duration) (hot time.Duration, all bool) {
	hot = max(s.cfg.SettleHot, s.cfg.Interval)
	switch s.cfg.Reread {
	case RereadAll:
		return hot, true
	case RereadByAge:
		return hot, false
	}
	if s.cfg.Budget <= 0 || s.density <= 0 || s.cfg.PageSize <= 0 {
		return hot, true // no limit, or nothing known yet: read it all and learn
	}
	perTick := s.cfg.Budget * s.cfg.Interval.Seconds()
	pages := s.density * span.Seconds() / float64(s.cfg.PageSize)
	if pages <= perTick/2 {
		return hot, true
	}
	budgetHot := time.Duration(perTick / 4 * float64(s.cfg.PageSize) / s.density * float64(time.Second))
	return max(hot, budgetHot.Truncate(s.cfg.Interval)), false
}

// bucket is the span of start times of the non-terminal conversations in
// one Window-aligned bucket.
type bucket struct {
	key        time.Time
	first, end time.Time
}

// RevisitRange is the range of start times revisits cover at now: younger
// than Revisit, and settled (the settle lane re-reads what is not).
func (s *Schedule) RevisitRange(now time.Time) (from, to time.Time) {
	return now.Add(-s.cfg.Revisit), s.cov.Settled
}

// revisitEvery is the pause between two revisits of a bucket whose newest
// conversation is age old: an eighth of its age, between base and an hour.
func revisitEvery(age, base time.Duration) time.Duration {
	return min(max(age/8, base), time.Hour)
}

// Revisits returns the revisit queries due at now for the buckets of
// non-terminal conversations in RevisitRange, oldest first. The first call
// finds every bucket due (the process may have been down while they
// changed); later, a bucket seen for the first time has just settled and
// is first due RevisitInterval after.
//
// It also returns how long the most overdue bucket has waited past its due
// time (zero when none is due): the revisit lane's backlog.
func (s *Schedule) Revisits(now time.Time, buckets []bucket) ([]Query, time.Duration) {
	if s.backfill() || s.cfg.Revisit <= 0 {
		return nil, 0
	}
	var overdue time.Duration
	var due []Query
	keep := make(map[time.Time]bool, len(buckets))
	for _, b := range buckets {
		keep[b.key] = true
		last, known := s.revisited[b.key]
		if !known && s.swept {
			s.revisited[b.key] = now
			continue
		}
		every := revisitEvery(now.Sub(b.end), s.cfg.RevisitInterval)
		if known {
			overdue = max(overdue, now.Sub(last)-every)
		}
		if !known || now.Sub(last) >= every {
			// A one-second pad keeps the range non-empty for a single conversation.
			w := jelou.Window{Start: b.first, End: b.end.Add(time.Second)}
			due = append(due, Query{Lane: LaneRevisit, Window: w, Planned: now, Edge: s.edge(now), bucket: b.key})
		}
	}
	s.swept = true
	for k := range s.revisited {
		if !keep[k] {
			delete(s.revisited, k) // nothing left to revisit there
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].bucket.Before(due[j].bucket) })
	return due, max(overdue, 0)
}

// History returns the next history window: the next Window-long piece of
// the newest gap (so that what was missed most recently is read first),
// in order within a gap. A bounded backfill waits for windows past
// now−Lag. The wake time is zero when only a Done can make more work.
func (s *Schedule) History(now time.Time) (Query, bool, time.Time) {
	edge := s.edge(now)
	if s.work == nil || !s.next.Before(s.workEnd) {
		if s.work != nil && s.work.pending() > 0 {
			return Query{}, false, time.Time{} // the gap's last windows are in flight
		}
		if !s.pickGap() {
			return Query{}, false, time.Time{}
		}
	}
	end := earliest(s.next.Add(s.cfg.Window), s.workEnd)
	if s.backfill() && end.After(edge) {
		end = edge
	}
	if !end.After(s.next) {
		return Query{}, false, now.Add(s.cfg.Interval) // the backfill's end is not reachable yet
	}
	w := jelou.Window{Start: s.next, End: end}
	s.next = end
	return Query{Lane: LaneHistory, Window: w, Planned: now, Edge: edge, ticket: s.work.add(end), gap: s.workEnd}, true, time.Time{}
}

// pickGap starts work on the newest gap.
func (s *Schedule) pickGap() bool {
	if len(s.cov.History) == 0 {
		s.work = nil
		return false
	}
	g := s.cov.History[len(s.cov.History)-1]
	s.work, s.workEnd, s.next = newPrefix(g.Start), g.End, g.Start
	return true
}

// Done records that q was read and its rows acknowledged by Kafka: its
// lane's done rule (LaneSpec.Done).
func (s *Schedule) Done(q Query) {
	s.markRead(q.Window, q.Planned)
	if done := q.Lane.Spec().Done; done != nil {
		done(s, q)
	}
}

// accountAt is what was learned of the traffic at now, with the density and
// rows per request the schedule learned.
func (s *Schedule) accountAt(now time.Time) Account {
	var a Account
	if s.account != nil {
		a = s.account(now)
	}
	a.Density, a.RowsPerRequest = s.density, s.rowsPerReq
	return a
}

// doneLive moves the end of the live range.
func (s *Schedule) doneLive(q Query) {
	s.learnDensity(q)
	s.learnCost(q)
	if !q.Window.Start.After(s.cov.Live.End) && q.Window.End.After(s.cov.Live.End) {
		s.cov.Live.End = q.Window.End
	}
}

// doneSettle moves the settled mark after the final read of a tick.
func (s *Schedule) doneSettle(q Query) {
	s.learnDensity(q)
	s.learnCost(q)
	if !q.final || q.Window.Start.After(s.cov.Settled) {
		return // a younger piece, or a rebase moved past it
	}
	settled := earliest(earliest(q.Window.End, q.Edge.Add(-s.cfg.Settle)), s.cov.Live.End)
	if settled.After(s.cov.Settled) {
		s.cov.Settled = settled
	}
}

// doneRevisit remembers when the bucket was revisited.
func (s *Schedule) doneRevisit(q Query) { s.revisited[q.bucket] = q.Planned }

// doneHistory moves the start of the gap being worked by its ordered
// commit, and drops the gap once it is read whole.
func (s *Schedule) doneHistory(q Query) {
	if s.work == nil || !q.gap.Equal(s.workEnd) {
		return
	}
	cursor := s.work.complete(q.ticket)
	i := s.gapIndex(q.gap)
	if i < 0 {
		return
	}
	s.cov.History[i].Start = cursor
	if !cursor.Before(s.workEnd) && s.work.pending() == 0 {
		s.cov.History = append(s.cov.History[:i], s.cov.History[i+1:]...)
		s.work = nil
	}
}

// Pieces cuts a query into the windows fetched one after another, each at
// most Window long. A query of a NewestFirst lane (live, settle) is cut
// newest first into pieces that double in length going back, so that the freshest rows of a long
// query (the first after a start reads the whole settle period) are
// published first. The first piece is a minute long, or as long as a page
// holds at the density recent reads showed, so that sparse start times do
// not cost a request a piece.
func (s *Schedule) Pieces(q Query) []jelou.Window {
	if !q.Lane.Spec().NewestFirst {
		return splitEven(q.Window, s.cfg.Window)
	}
	size := min(max(2*s.cfg.Interval, freshPiece), s.cfg.Window)
	if s.density > 0 && s.cfg.PageSize > 0 {
		// A page's worth of start times, bounded by a window in floating
		// point first: a density learned near zero (empty reads) would
		// otherwise give centuries, and doubling them overflows.
		page := min(float64(s.cfg.PageSize)/s.density*float64(time.Second), float64(s.cfg.Window))
		size = max(size, time.Duration(page).Truncate(time.Second))
	}
	var out []jelou.Window
	for end := q.Window.End; end.After(q.Window.Start); size = min(2*size, s.cfg.Window) {
		start := end.Add(-min(size, s.cfg.Window))
		if start.Before(q.Window.Start) {
			start = q.Window.Start
		}
		out = append(out, jelou.Window{Start: start, End: end})
		end = start
	}
	return out
}

// freshPiece is the shortest piece a live or settle query is cut into.
const freshPiece = time.Minute

// learnDensity folds the rows per second of start time of a live or
// settle read into a moving average (reads of at least a minute count).
func (s *Schedule) learnDensity(q Query) {
	d := q.Window.Duration()
	if d < time.Minute {
		return
	}
	x := float64(q.Rows) / d.Seconds()
	if s.density == 0 {
		s.density = x
		return
	}
	s.density = 0.8*s.density + 0.2*x
}

func (s *Schedule) gapIndex(end time.Time) int {
	for i, g := range s.cov.History {
		if g.End.Equal(end) {
			return i
		}
	}
	return -1
}

// EvictBefore is the start time before which no lane can return a row
// again: the earliest of every lane's Oldest (behind every history gap and
// the settled mark by a window, as the boundaries overlap, and older than
// the revisit horizon).
func (s *Schedule) EvictBefore(now time.Time) time.Time {
	var b time.Time
	found := false
	for _, l := range Lanes {
		if t, ok := l.Spec().Oldest(s, now); ok && (!found || t.Before(b)) {
			b, found = t, true
		}
	}
	return b
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
