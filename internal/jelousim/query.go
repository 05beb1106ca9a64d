package jelousim

import (
	"fmt"
	"math/bits"
)

// Order is the order in which the server lists a window's rows. The vendor
// documents none, so clients must not depend on it.
type Order string

// The orders. The zero value means OrderStartDesc.
const (
	// OrderStartDesc lists the newest conversation first.
	OrderStartDesc Order = "start-desc"
	// OrderStartAsc lists the oldest conversation first.
	OrderStartAsc Order = "start-asc"
	// OrderShuffled lists a window in a pseudo-random order that is stable
	// across the pages of one query (same window, same number of rows) and
	// shuffles the rows inside each page on every request.
	OrderShuffled Order = "shuffled"
)

func (o Order) validate() error {
	switch o {
	case "", OrderStartDesc, OrderStartAsc, OrderShuffled:
		return nil
	}
	return fmt.Errorf("order must be start-desc, start-asc or shuffled, got %q", o)
}

// selection is the set of conversations of a window visible at one instant:
// the contiguous block [lo, bulkEnd), all of which started more than
// MaxAttendDelay ago and so are surely visible, then the visible ones among
// the recent rest (tail). late holds the recent ones not yet visible.
type selection struct {
	lo, bulkEnd int
	tail, late  []int32
}

func (d *Dataset) selectWindow(from, to, now int64) selection {
	lo, hi := d.Range(from, to)
	_, cut := d.Range(from, now-int64(MaxAttendDelay.Seconds()))
	cut = min(max(cut, lo), hi)
	sel := selection{lo: lo, bulkEnd: cut, tail: make([]int32, 0, hi-cut)}
	for i := cut; i < hi && d.starts[i] <= now; i++ {
		if d.visibleAt(i) <= now {
			sel.tail = append(sel.tail, int32(i))
		} else {
			sel.late = append(sel.late, int32(i))
		}
	}
	return sel
}

func (s *selection) len() int { return s.bulkEnd - s.lo + len(s.tail) }

// at returns the q-th visible conversation in start order.
func (s *selection) at(q int) int {
	if n := s.bulkEnd - s.lo; q >= n {
		return int(s.tail[q-n])
	}
	return s.lo + q
}

// listing is a window's rows in serving order, after any drift.
type listing struct {
	sel   selection
	order Order
	key   uint64  // permutation key for OrderShuffled
	extra []int32 // rows inserted in front by drift
	skip  int     // rows hidden from the front by drift
}

func (l *listing) len() int { return len(l.extra) + max(0, l.sel.len()-l.skip) }

// at returns the conversation index at position p of the listing.
func (l *listing) at(p int) int {
	if p < len(l.extra) {
		return int(l.extra[p])
	}
	p = p - len(l.extra) + l.skip
	n := l.sel.len()
	switch l.order {
	case OrderStartAsc:
		return l.sel.at(p)
	case OrderShuffled:
		return l.sel.at(int(permute(uint64(p), uint64(n), l.key)))
	default:
		return l.sel.at(n - 1 - p)
	}
}

// drift applies a drift of rows: positive inserts not-yet-visible rows of the
// window (repeating the first rows when there are too few), negative hides.
func (l *listing) drift(rows int) {
	if rows < 0 {
		l.skip = min(-rows, l.sel.len())
		return
	}
	l.extra = append(l.extra, l.sel.late[:min(rows, len(l.sel.late))]...)
	for p := 0; len(l.extra) < rows && l.sel.len() > 0; p = (p + 1) % l.sel.len() {
		l.extra = append(l.extra, int32(l.at(len(l.extra)+p)))
	}
}

// permute maps x in [0, n) to a pseudo-random position in [0, n): a 4-round
// Feistel network on the smallest even number of bits covering n, walked
// until it lands inside the range. It is a bijection for each key.
func permute(x, n, key uint64) uint64 {
	half := (max(bits.Len64(n-1), 2) + 1) / 2
	mask := uint64(1)<<half - 1
	for {
		l, r := x>>half, x&mask
		for round := range uint64(4) {
			l, r = r, l^(mix(r^key^(round<<56))&mask)
		}
		x = l<<half | r
		if x < n {
			return x
		}
	}
}
