package poller

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// endQuantiles is how many quantiles of the learned end ages an Account
// carries (every 5 %).
const endQuantiles = 21

// warmAhead is how many ticks of the warm band's share of the budget one
// pick hands out: a pick is made at a tick once the previous one is all
// handed out, so it must last more than a tick, and more when the hot band
// costs less than planned (two ticks' worth left the budget a seventh
// unspent in the busy scenario).
const warmAhead = 4

// endShare returns the share of the conversations that end (of those that
// ever do) that have ended by age x: from the learned quantiles a.EndAges,
// linearly between them; while fewer than endTrust ends were timed (or
// none of the quantiles is known), uniform over [0, a.EndAge].
func endShare(a Account, x time.Duration) float64 {
	q := a.EndAges
	if a.EndSamples < endTrust || q[len(q)-1] <= 0 {
		if a.EndAge <= 0 {
			return 1
		}
		return min(max(float64(x)/float64(a.EndAge), 0), 1)
	}
	if x < q[0] {
		return 0
	}
	if x >= q[len(q)-1] {
		return 1
	}
	// The last quantile at or below x; the next one is above it.
	i := len(q) - 1
	for q[i] > x {
		i--
	}
	f := float64(x-q[i]) / float64(q[i+1]-q[i])
	return (float64(i) + f) / float64(len(q)-1)
}

// endHedge is the share of the ends the warm band's value assumes spread
// evenly over the ages up to the oldest end learned (endReach), whatever
// the learned distribution says: that distribution is learned only where
// the plan reads, so a tail it underrates would be read ever less and
// never corrected; hedged, a grain of the tail waits at most about
// 1/sqrt(endHedge) times as long as a grain where ends are as frequent as
// they are on average.
const endHedge = 0.5

// endReach is the oldest age the warm band expects an end at: the oldest
// end learned, at most a tenth past the 99th percentile (EndAge), or the
// end age (its prior) while too few are. Not the percentile itself: its
// last percent of ends would wait for the final read, and an end is only
// learned where the plan reads (a band cut short would never learn it is);
// not the oldest end unbounded either: an end is timed halfway between two
// reads, so the oldest ones overshoot by up to half a sweep of the band,
// and every minute of reach is a minute of start times re-read for nothing.
func endReach(a Account) time.Duration {
	if a.EndSamples < endTrust {
		return a.EndAge
	}
	return max(a.EndAge, min(a.EndAges[len(a.EndAges)-1], a.EndAge+a.EndAge/10))
}

// hedgedShare is endShare mixed with endHedge of ends spread evenly over
// [0, endReach]: the share of ends the warm band's value counts as
// happened by age x.
func hedgedShare(a Account, x time.Duration) float64 {
	even := 1.0
	if r := endReach(a); r > 0 {
		even = min(max(float64(x)/float64(r), 0), 1)
	}
	return (1-endHedge)*endShare(a, x) + endHedge*even
}

// warmCell is a grain of start times of the warm band, from Start, and when
// it was last read (zero: not since the schedule started, for all it knows).
type warmCell struct {
	Start, Last time.Time
}

// warmValue is what re-reading cell c at now is expected to find, weighted
// by how long it waited: the conversations (as a share, by hedgedShare) that
// ended since the cell's last read, each counted by the time it has waited
// since its end, in seconds, averaged over the cell's oldest, middle and
// youngest start times (zero only when none of them is expected to have
// changed). For a start time s last read at L that is the integral over
// ages a from L−s to now−s of endShare(a) − endShare(L−s). Weighting by the
// wait makes a cell where ends are rare (the tail of the end ages) wait
// longer between reads than a busy one, but not forever: its value grows
// with the square of the time since its last read. A cell never read counts
// from its start.
func warmValue(a Account, c warmCell, grain time.Duration, now time.Time) float64 {
	const steps = 16
	v := 0.0
	for _, d := range []time.Duration{0, grain / 2, grain} {
		at := c.Start.Add(d)
		last := c.Last
		if last.Before(at) {
			last = at
		}
		from, to := last.Sub(at), now.Sub(at)
		if to <= from {
			continue
		}
		base := hedgedShare(a, from)
		step := (to - from) / steps
		prev := 0.0
		for i := 1; i <= steps; i++ {
			x := max(hedgedShare(a, from+time.Duration(i)*step)-base, 0)
			v += (prev + x) / 2 * step.Seconds()
			prev = x
		}
	}
	return v / 3
}

// sameValue reports whether two warm values are equal but for rounding.
func sameValue(x, y float64) bool {
	return math.Abs(x-y) <= 1e-9*max(math.Abs(x), math.Abs(y))
}

// pickWarm spends allowance requests on the warm band's cells (oldest
// first, each grain long, clipped to [from, to)) by expected state changes
// per request: most valuable first (warmValue), a cell costing cost
// requests and a run of adjacent picked cells one more (its last, partial
// page). Cells read within minGap of now, or where no conversation is
// expected to have ended since, are not read. It returns the picked runs,
// cut at most chunk long, the most valuable (mean value) first.
func pickWarm(a Account, cells []warmCell, grain, minGap, chunk time.Duration, cost, allowance float64, from, to, now time.Time) []jelou.Window {
	value := make([]float64, len(cells))
	var order []int
	for i, c := range cells {
		if !c.Last.IsZero() && now.Sub(c.Last) < minGap {
			continue
		}
		if value[i] = warmValue(a, c, grain, now); value[i] > 0 {
			order = append(order, i)
		}
	}
	// Most valuable first; the oldest first among equals (within rounding:
	// under the prior, ends spread evenly, every grain last read at the
	// same time is worth the same). The oldest leaves the band first, and
	// the first ends a start learns from must not all be young ones: a
	// distribution learned from the young grains alone ends too early,
	// and the band with it.
	slices.SortStableFunc(order, func(x, y int) int {
		if !sameValue(value[x], value[y]) {
			return cmp.Compare(value[y], value[x])
		}
		return cmp.Compare(x, y)
	})
	picked := make([]bool, len(cells))
	spent := 0.0
	for _, i := range order {
		extra := cost
		if !(i > 0 && picked[i-1]) && !(i+1 < len(cells) && picked[i+1]) {
			extra++ // a run of its own
		}
		if spent+extra > allowance {
			continue
		}
		picked[i] = true
		spent += extra
	}
	per := max(int(chunk/grain), 1)
	type run struct {
		w     jelou.Window
		value float64
	}
	var runs []run
	for i := 0; i < len(cells); {
		if !picked[i] {
			i++
			continue
		}
		j, sum := i, 0.0
		for j < len(cells) && picked[j] && j-i < per {
			sum += value[j]
			j++
		}
		w := jelou.Window{Start: cells[i].Start, End: cells[j-1].Start.Add(grain)}
		if w.Start.Before(from) {
			w.Start = from
		}
		if w.End.After(to) {
			w.End = to
		}
		if w.End.After(w.Start) {
			runs = append(runs, run{w, sum / float64(j-i)})
		}
		i = j
	}
	slices.SortStableFunc(runs, func(x, y run) int {
		if !sameValue(x.value, y.value) {
			return cmp.Compare(y.value, x.value)
		}
		return x.w.Start.Compare(y.w.Start)
	})
	out := make([]jelou.Window, len(runs))
	for i, r := range runs {
		out[i] = r.w
	}
	return out
}
