package main

import (
	"sort"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Hour is one closed hourly aggregate of a source: the conversations that
// started in [Start, Start+1h), counted once each, by their latest state.
// Once emitted it is final: every conversation of the hour was read after
// settling, its revisits are done, and every event of it was read.
type Hour struct {
	// Source is the events' source attribute (jelou-producer/<id>).
	Source string `json:"source"`
	// Start is the hour's start, UTC.
	Start time.Time `json:"start"`
	// Conversations is how many conversations started in the hour.
	Conversations int `json:"conversations"`
	// States counts them by latest state.
	States map[jelou.State]int `json:"states"`
}

// conv is what the aggregator keeps of one conversation of an open hour.
type conv struct {
	hour  time.Time
	state jelou.State
}

// source is the aggregator's state of one source (one source attribute).
type source struct {
	hours map[time.Time]*Hour
	convs map[string]conv // by conversation id
	// marks holds, by watermark subject (the producer's source id), the
	// watermarks read and not yet covered by the positions, and the
	// latest covered one. Several producer sources share one source
	// attribute only when EVENT_SOURCE names them all alike: then an hour
	// closes once every one of them has covered it.
	marks  map[string]*marks
	closed time.Time // hours before this were emitted
	late   int       // events of a closed hour (a broken contract)
}

// marks are the watermarks of one producer source.
type marks struct {
	pending []*event.Watermark
	covered time.Time
}

// Aggregator closes hourly aggregates on completeness watermarks. Feed it
// the event topic's records with Event (it tracks the position reached on
// each partition) and the watermark topic's with Watermark, in any
// interleaving; Close returns the hours that became final. An hour is
// final once a watermark of its source with completeBefore at or after the
// hour's end has been read AND the positions reached on every partition of
// the event topic are at or past the watermark's offsets. It is not safe
// for concurrent use.
type Aggregator struct {
	positions map[int]int64 // next offset to read, by partition
	sources   map[string]*source
}

// NewAggregator returns an aggregator whose positions start at first (the
// first offset of each partition of the event topic: a consumer that reads
// from the beginning has read everything before it).
func NewAggregator(first map[int]int64) *Aggregator {
	pos := make(map[int]int64, len(first))
	for p, o := range first {
		pos[p] = o
	}
	return &Aggregator{positions: pos, sources: map[string]*source{}}
}

func (a *Aggregator) source(name string) *source {
	s := a.sources[name]
	if s == nil {
		s = &source{hours: map[time.Time]*Hour{}, convs: map[string]conv{}, marks: map[string]*marks{}}
		a.sources[name] = s
	}
	return s
}

// Event records the event e read at offset of partition.
func (a *Aggregator) Event(partition int, offset int64, e *event.Event) {
	if offset+1 > a.positions[partition] {
		a.positions[partition] = offset + 1
	}
	if e.Data.StartAt.IsZero() {
		return // cannot be bucketed
	}
	s := a.source(e.Source)
	hour := e.Data.StartAt.UTC().Truncate(time.Hour)
	if hour.Before(s.closed) {
		s.late++
		return
	}
	h := s.hours[hour]
	if h == nil {
		h = &Hour{Source: e.Source, Start: hour, States: map[jelou.State]int{}}
		s.hours[hour] = h
	}
	c, seen := s.convs[e.Subject]
	switch {
	case !seen:
		h.Conversations++
	case c.state.Terminal() && !e.Data.State.Terminal():
		return // an older state read late: keep the terminal one
	default:
		h.States[c.state]--
		if h.States[c.state] == 0 {
			delete(h.States, c.state)
		}
	}
	h.States[e.Data.State]++
	s.convs[e.Subject] = conv{hour: hour, state: e.Data.State}
}

// Watermark records a watermark read from the watermark topic.
func (a *Aggregator) Watermark(w *event.Watermark) {
	s := a.source(w.Source)
	m := s.marks[w.Subject]
	if m == nil {
		m = &marks{}
		s.marks[w.Subject] = m
	}
	if w.CompleteBefore.After(m.covered) {
		m.pending = append(m.pending, w)
	}
}

// Close returns the hours that became final, by source and hour, and
// forgets them.
func (a *Aggregator) Close() []Hour {
	var out []Hour
	names := make([]string, 0, len(a.sources))
	for n := range a.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := a.sources[n]
		var bound time.Time // the earliest covered watermark of the subjects
		first := true
		for _, m := range s.marks {
			kept := m.pending[:0]
			for _, w := range m.pending {
				switch {
				case !w.Covers(a.positions):
					kept = append(kept, w)
				case w.CompleteBefore.After(m.covered):
					m.covered = w.CompleteBefore
				}
			}
			m.pending = kept
			if first || m.covered.Before(bound) {
				bound, first = m.covered, false
			}
		}
		end := bound.UTC().Truncate(time.Hour) // hours ending at or before bound
		if !end.After(s.closed) {
			continue
		}
		var hours []time.Time
		for h := range s.hours {
			if h.Before(end) {
				hours = append(hours, h)
			}
		}
		sort.Slice(hours, func(i, j int) bool { return hours[i].Before(hours[j]) })
		for _, h := range hours {
			out = append(out, *s.hours[h])
			delete(s.hours, h)
		}
		for id, c := range s.convs {
			if c.hour.Before(end) {
				delete(s.convs, id)
			}
		}
		s.closed = end
	}
	return out
}

// Late returns how many events arrived for hours already closed: zero
// while the producer keeps the watermark's contract.
func (a *Aggregator) Late() int {
	n := 0
	for _, s := range a.sources {
		n += s.late
	}
	return n
}
