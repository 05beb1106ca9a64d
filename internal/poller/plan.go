package poller

import (
	"math"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// RereadByLoss plans the settle lane by what can be lost (issue 19): the
// band of start times young enough to still gain rows (the hot band, as
// long as the learned visibility delay) is re-read often enough that no
// active state visible for MinActive goes unseen; the band behind it that
// still holds conversations that will change (up to the learned age at
// which conversations end) is re-read every Freshness, stretched when the
// budget is short; nothing else is re-read before the final read at
// Settle (revisits cover what never ends). See planLoss.
const RereadByLoss Reread = "by-loss"

// accountTrust is how many samples an Account quantity needs before the
// plan trusts it below its prior: the first sightings after a start are
// the quickest ones (the young rows, the short conversations), so until
// then the prior is a floor.
const accountTrust = accountRing / 4

// endTrust is accountTrust for the end ages: fewer, because ends are
// learned only where the plan reads, and under the prior (ends spread
// evenly up to POLL_SETTLE) it reads the oldest grains first: the first
// ends are not the quickest ones, and a cold start should not plan from
// the prior for long (at 20 ends a second, 1,024 took minutes: the prior's
// wide band is read slowly).
const endTrust = accountRing / 16

// budgetUse is the share of the budget the plan hands out: the rest absorbs
// retries, drift re-reads and jitter.
const budgetUse = 0.95

// RequestPlan is what the by-loss plan decided at one settle tick, from the
// Account learned so far, and what complete capture would need. Rates are
// in requests per second of the schedule's clock.
type RequestPlan struct {
	// Account is what the plan was made from (priors filled in where it
	// knew too little: see planLoss).
	Account Account
	// Hot is how far back from the live edge the hot band reaches (start
	// times that may still gain rows), re-read every HotEvery.
	Hot, HotEvery time.Duration
	// Warm is the band behind it holding conversations that may still
	// change state, re-read every WarmEvery.
	Warm, WarmEvery time.Duration
	// Needed is the request rate that reads the live edge every Interval,
	// the hot band every min(MinActive·2/3, Freshness) and the warm band
	// every Freshness: complete capture at the configured freshness. NeededActive leaves
	// the warm band out: what seeing every active state visible for
	// MinActive needs (terminal states then wait for the final settle read
	// or a revisit). Budget is the budget (<= 0: none).
	Needed, NeededActive, Budget float64
	// Short reports Needed > Budget: terminal states wait longer than
	// Freshness (WarmEvery stretched) and, when even the hot band does not
	// fit, active states may be lost (HotEvery stretched).
	Short bool
	// ActiveShort reports that the hot band itself does not fit: active
	// capture degrades too.
	ActiveShort bool
}

// hotPeriod is how often the hot band is re-read for active states to be
// seen within MinActive: two thirds of it, leaving a third for a read's
// own duration and the queue ahead of it; Interval when MinActive is 0.
func (c scheduleConfig) hotPeriod() time.Duration {
	if c.MinActive <= 0 {
		return c.Interval
	}
	return max(c.MinActive*2/3, time.Second)
}

// freshness is the state-change freshness asked for: Freshness, or
// Interval when unset.
func (c scheduleConfig) freshness() time.Duration {
	if c.Freshness <= 0 {
		return c.Interval
	}
	return c.Freshness
}

// lossTick is how often the by-loss plan looks at its bands.
func (c scheduleConfig) lossTick() time.Duration {
	return max(min(c.Interval, c.freshness(), c.hotPeriod()), time.Second)
}

// planLoss sizes and times the bands of the by-loss plan from the account
// a. Ages are measured from the live edge (now − Lag). Priors, floors while
// a quantity has fewer than accountTrust samples: a visibility delay of
// max(SettleHot, Interval), conversations ending by Settle; PageSize rows
// per request until one was counted.
//
//   - hot band: [edge − Hot, end of the live range], Hot = visibility delay
//   - HotEvery − Lag, re-read every HotEvery = hotPeriod (each start time
//     is read at least once after it can still gain rows), or every
//     Freshness when that is shorter and the budget buys complete capture;
//   - warm band: [edge − Hot − Warm, edge − Hot], up to the oldest age a
//     conversation was seen to end at (+ Freshness), re-read every
//     Freshness;
//   - budget: the live lane's reads and the final settle reads come first,
//     then the hot band, then the warm band; what does not fit stretches the
//     warm band's period first and the hot band's last.
//
// A band costs its requests: rows (density × length) ÷ rows per request,
// plus one.
func planLoss(c scheduleConfig, a Account) RequestPlan {
	if a.VisibleSamples < accountTrust {
		a.VisibleDelay = max(a.VisibleDelay, c.SettleHot, c.Interval)
	}
	if a.EndSamples < endTrust {
		a.EndAge = max(a.EndAge, c.Settle)
	}
	if a.RowsPerRequest <= 0 {
		a.RowsPerRequest = float64(max(c.PageSize, 1))
	}
	p := RequestPlan{Account: a, HotEvery: c.hotPeriod(), WarmEvery: c.freshness(), Budget: c.Budget}
	p.Hot = max(a.VisibleDelay+p.HotEvery-c.Lag, c.Interval)
	if c.Settle > 0 {
		p.Hot = min(p.Hot, c.Settle)
	}
	// The warm band reaches the oldest end learned, not its 99th
	// percentile: the ends past it would wait for the final read, and an
	// end is only learned where the plan reads (a band cut at the
	// percentile would never learn that it is too short).
	end := endReach(a) + c.freshness() - c.Lag
	if c.Settle > 0 {
		end = min(end, c.Settle)
	}
	p.Warm = max(end-p.Hot, 0)
	if a.Density <= 0 {
		return p // nothing known of the traffic: nominal periods, no rate
	}
	cost := func(d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return a.Density*d.Seconds()/a.RowsPerRequest + 1
	}
	base := 2 * cost(c.Interval) / c.Interval.Seconds() // live, final reads (an interval's worth each, once an interval)
	hot := cost(p.Hot) / p.HotEvery.Seconds()
	// Complete capture at the freshness asked for reads the hot band that
	// often too when that is more often than active capture needs: a
	// state that ends, or a row that appears late, while its start time
	// is in the hot band waits for the hot band's next read.
	freshEvery := min(p.HotEvery, c.freshness())
	hotFresh := cost(p.Hot) / freshEvery.Seconds()
	warm := cost(p.Warm) / p.WarmEvery.Seconds()
	p.Needed = base + hotFresh + warm
	p.NeededActive = base + hot
	if c.Budget <= 0 {
		p.HotEvery = freshEvery
		return p
	}
	p.Short = p.Needed > c.Budget
	if !p.Short && p.Needed <= c.Budget*budgetUse {
		p.HotEvery = freshEvery // the budget buys the freshness asked for, no more
		return p
	}
	avail := c.Budget*budgetUse - base
	longest := max(c.Settle, c.Interval)
	stretch := func(d time.Duration, rate float64) time.Duration {
		if rate <= 0 {
			return longest
		}
		return min(time.Duration(math.Ceil(cost(d)/rate))*time.Second, longest)
	}
	if hot > avail {
		p.ActiveShort = true
		p.HotEvery = max(p.HotEvery, stretch(p.Hot, avail))
		p.WarmEvery = longest
		return p
	}
	avail -= hot
	if warm > avail {
		p.WarmEvery = max(p.WarmEvery, stretch(p.Warm, avail))
	}
	return p
}

// planByLoss lists the settle queries of one by-loss tick at now, newest
// first: the hot band when due, the warm band when due, then the final
// read; bands are cut in chunks of about half a tick's budget, so that the
// settle lane's runners read them side by side and a long warm band never
// holds the next hot read back for long. left is what the previous tick
// had not handed out yet: warm chunks are kept behind the new hot band,
// a final read already queued is not planned again.
func (s *Schedule) planByLoss(now time.Time, left []Query) []Query {
	edge := s.edge(now)
	from, to := s.cov.Settled, s.cov.Live.End
	if !to.After(from) {
		return nil
	}
	p := s.plan
	tick := s.cfg.lossTick()
	q := func(a, b time.Time, final bool) Query {
		return Query{Lane: LaneSettle, Window: jelou.Window{Start: a, End: b}, Planned: now, Edge: edge, final: final, Again: !final}
	}
	settleAt := edge.Add(-s.cfg.Settle)
	var out, final []Query
	if s.cfg.Settle <= 0 {
		settleAt = to
	}
	// The final read (start times reaching POLL_SETTLE: late rows, the
	// settled mark) is no promise of freshness: once an interval, not
	// every tick (on a sparse account each is a request of a row or two,
	// and at a tick of 10s they took a third of a small budget).
	if settleAt.After(from) {
		if s.cfg.Settle <= 0 || s.lastFinal.IsZero() || !now.Before(s.lastFinal.Add(s.cfg.Interval-tick/2)) {
			final = []Query{q(from, earliest(settleAt, to), true)}
		}
		from = settleAt
	}
	band := func(old, young time.Time) (time.Time, time.Time, bool) {
		if old.Before(from) {
			old = from
		}
		young = earliest(young, to)
		return old, young, young.After(old)
	}
	due := func(last time.Time, every time.Duration) bool {
		return last.IsZero() || !now.Before(last.Add(every-tick/2))
	}
	chunk := s.chunk(tick)
	cut := func(a, b time.Time) {
		for end := b; end.After(a); {
			start := a
			if end.Sub(a) > chunk {
				start = end.Add(-chunk)
			}
			out = append(out, q(start, end, false))
			end = start
		}
	}
	hotFrom := edge.Add(-p.Hot)
	hotDue := due(s.lastHot, p.HotEvery)
	grain := tick
	if s.lastRead == nil {
		s.lastRead = make(map[int64]time.Time)
	}
	for c := range s.lastRead {
		if !time.Unix(c, 0).Add(grain).After(from) {
			delete(s.lastRead, c) // settled: never re-read again
		}
	}
	for c := range s.readDone {
		if !time.Unix(c, 0).Add(grain).After(from) {
			delete(s.readDone, c)
		}
	}
	if hotDue {
		if a, b, ok := band(hotFrom, to); ok {
			cut(a, b)
			// The grains wholly inside: the one across hotFrom is the
			// warm band's to judge.
			for c := a.Truncate(grain); c.Before(b); c = c.Add(grain) {
				if !c.Before(a) {
					s.lastRead[c.Unix()] = now
				}
			}
		}
		s.lastHot = now
	}
	var queuedFinal, queuedWarm bool
	for _, l := range left {
		if l.final {
			queuedFinal = true
		} else if hotDue && l.Window.End.After(hotFrom) {
			continue // an older hot band's read: the new one covers it
		} else {
			queuedWarm = true
		}
		out = append(out, l)
	}
	switch wa, wb, ok := band(hotFrom.Add(-p.Warm), hotFrom); {
	case queuedWarm || !ok:
	case p.ActiveShort || p.Account.Density <= 0:
		// No share of the budget left for it (or nothing known to price
		// it by): the whole band every (stretched) WarmEvery.
		if due(s.lastWarm, p.WarmEvery) {
			cut(wa, wb)
			s.lastWarm = now
		}
	default:
		// What is left of the budget after the live edge, the final reads
		// and the hot band, spent by expected state changes per request.
		allowance := math.Inf(1)
		if s.cfg.Budget > 0 {
			allowance = (s.cfg.Budget*budgetUse - p.NeededActive) * warmAhead * tick.Seconds()
		}
		// The cells reach back to the settled mark, past the band's old
		// end: a conversation that ended before its start time aged out
		// of the band waits there until its grain is read again
		// (warmValue counts it; a grain read after the oldest learned end
		// is worth nothing, and is left to the final read).
		wa, _, _ = band(from, hotFrom)
		var cells []warmCell
		for c := wa.Truncate(grain); c.Before(wb); c = c.Add(grain) {
			cells = append(cells, warmCell{Start: c, Last: s.lastRead[c.Unix()]})
		}
		cost := p.Account.Density * grain.Seconds() / p.Account.RowsPerRequest
		for _, w := range pickWarm(p.Account, cells, grain, s.cfg.freshness()-tick/2, chunk, cost, allowance, wa, wb, now) {
			out = append(out, q(w.Start, w.End, false))
			for c := w.Start.Truncate(grain); c.Before(w.End); c = c.Add(grain) {
				s.lastRead[c.Unix()] = now
			}
		}
		s.lastWarm = now
	}
	if !queuedFinal && len(final) > 0 {
		out = append(out, final...)
		s.lastFinal = now
	}
	return out
}

// chunk is the length of start times one by-loss query reads: what half a
// tick's budget reads at the learned density, at least a minute (a minute
// while the density is not known).
func (s *Schedule) chunk(tick time.Duration) time.Duration {
	a := s.plan.Account
	if s.cfg.Budget <= 0 || a.Density <= 0 || a.RowsPerRequest <= 0 {
		return time.Minute
	}
	d := time.Duration(s.cfg.Budget * tick.Seconds() / 2 * a.RowsPerRequest / a.Density * float64(time.Second))
	return max(d.Truncate(time.Second), time.Minute)
}

// learnCost folds the rows per full request of a live or settle read into
// a moving average: what the plan's cost of a range (its rows ÷ rows per
// request, plus one for the last, partial page) divides by. Each piece of
// a read ends with a partial page, so a read counts only when it took at
// least two requests more than its pieces and held at least half a
// PageSize of rows a piece: a sparse read (every piece one page, a few
// rows, maybe a retry) says nothing of how many rows a page holds, and
// taking its rows per request for that (two, on a quiet account) made
// every range look dozens of times dearer than it is, and the plan short
// of budget. A sample is at most PageSize (what a page can hold).
func (s *Schedule) learnCost(q Query) {
	pieces := max(q.pieces, 1)
	full := q.Requests - pieces
	if full < 2 || q.Rows <= 0 || s.cfg.PageSize > 0 && 2*q.Rows < pieces*s.cfg.PageSize {
		return
	}
	x := float64(q.Rows) / float64(full)
	if s.cfg.PageSize > 0 {
		x = min(x, float64(s.cfg.PageSize))
	}
	if s.rowsPerReq == 0 {
		s.rowsPerReq = x
		return
	}
	s.rowsPerReq = 0.8*s.rowsPerReq + 0.2*x
}

// RequestPlan returns the plan of the last settle tick.
func (s *Schedule) RequestPlan() RequestPlan { return s.plan }

// planLogEvery and shortWarnEvery bound how often the request plan is
// logged (info) and its shortage warned about, in the poller's clock.
const (
	planLogEvery   = time.Minute
	shortWarnEvery = 5 * time.Minute
)

// reportPlan hands a settle tick's plan to the observer with its rates in
// requests per wall second (the unit of JELOU_RATE_LIMIT), logs it at most
// once a minute, and warns at most every five minutes while the budget is
// short of complete capture, naming what degrades first (terminal states,
// later) and last (active states, lost).
func (p *Poller) reportPlan(rp RequestPlan) {
	if rp.Needed <= 0 {
		return // nothing known of the traffic yet
	}
	if per := clockRate(1, p.cfg.Clock); per > 0 && per != 1 {
		rp.Needed /= per
		rp.NeededActive /= per
		if rp.Budget > 0 {
			rp.Budget /= per
		}
	}
	p.obs.Planned(rp)
	now := p.cfg.Clock.Now().UnixNano()
	a := rp.Account
	if last := p.planLogged.Load(); now-last >= int64(planLogEvery) && p.planLogged.CompareAndSwap(last, now) {
		p.cfg.Logger.Info("request plan", "needed_rate", round2(rp.Needed), "needed_rate_active", round2(rp.NeededActive), "budget", round2(rp.Budget), "short", rp.Short,
			"hot_band", rp.Hot.Round(time.Second).String(), "hot_every", rp.HotEvery.Round(time.Second).String(),
			"warm_band", rp.Warm.Round(time.Second).String(), "warm_every", rp.WarmEvery.Round(time.Second).String(),
			"density", round2(a.Density), "rows_per_request", round2(a.RowsPerRequest),
			"visible_delay_p99", a.VisibleDelay.String(), "end_age_p99", a.EndAge.String(), "active_p99", a.ActiveFor.String(),
			"never_ending", round2(a.NeverEnding))
	}
	if !rp.Short {
		return
	}
	if last := p.shortWarned.Load(); now-last < int64(shortWarnEvery) || !p.shortWarned.CompareAndSwap(last, now) {
		return
	}
	what := "terminal states are published later than POLL_FRESHNESS (the band of start times holding active conversations is re-read every " +
		rp.WarmEvery.Round(time.Second).String() + "); active states are still all seen"
	if rp.ActiveShort {
		what = "terminal states wait for the final settle read or a revisit, and active states visible for less than about " +
			(rp.HotEvery * 3 / 2).Round(time.Second).String() + " may be lost (the band of start times that still gains rows is re-read every " +
			rp.HotEvery.Round(time.Second).String() + ")"
	}
	p.cfg.Logger.Warn("request budget short of complete capture: terminal-state delay degrades first, active capture last; raise JELOU_RATE_LIMIT or POLL_FRESHNESS",
		"needed_rate", round2(rp.Needed), "needed_rate_active", round2(rp.NeededActive), "budget", round2(rp.Budget), "now", what)
}

// round2 rounds x to two decimals, for logs.
func round2(x float64) float64 { return math.Round(x*100) / 100 }
