package poller

import "time"

// prefix is the ordered commit of windows handed out one after another: it
// knows where the contiguous run of acknowledged windows ends. "The cursor
// passes a window only when it and every earlier one are acknowledged."
// Not safe for concurrent use.
type prefix struct {
	cursor time.Time   // end of the contiguous run (the start until then)
	first  int         // ticket of ends[0]
	ends   []time.Time // end of each window handed out and not yet passed
	done   []bool      // done[i]: the window of ticket first+i was acknowledged
}

func newPrefix(start time.Time) *prefix { return &prefix{cursor: start} }

// add records a window handed out, ending at end, and returns its ticket.
func (p *prefix) add(end time.Time) int {
	p.ends = append(p.ends, end)
	p.done = append(p.done, false)
	return p.first + len(p.ends) - 1
}

// complete marks the window of ticket t acknowledged and returns where the
// contiguous run ends now. A ticket already passed or never handed out
// changes nothing.
func (p *prefix) complete(t int) time.Time {
	i := t - p.first
	if i < 0 || i >= len(p.done) {
		return p.cursor
	}
	p.done[i] = true
	n := 0
	for n < len(p.done) && p.done[n] {
		p.cursor = p.ends[n]
		n++
	}
	p.ends, p.done, p.first = p.ends[n:], p.done[n:], p.first+n
	return p.cursor
}

// pending is how many windows were handed out and not yet passed.
func (p *prefix) pending() int { return len(p.ends) }
