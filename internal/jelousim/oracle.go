package jelousim

import (
	"iter"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Pair is one (conversation, state) the API served.
type Pair struct {
	ID    string      `json:"_id"`
	State jelou.State `json:"state"`
}

// ServablePair is one (conversation, state) a perfect poller could have seen.
type ServablePair struct {
	ID    string      `json:"_id"`
	State jelou.State `json:"state"`
	// FirstServableAt is the first second at which the API served this pair.
	FirstServableAt time.Time `json:"firstServableAt"`
	// Until is when an active pair stopped being served (the conversation's
	// transition); zero for a terminal state, which is served from then on.
	Until time.Time `json:"until,omitzero"`
}

// oracle records which pairs were served: two bits per conversation (active,
// final state) packed sixteen to a word, set with atomic OR.
type oracle struct {
	words []atomic.Uint32
	count atomic.Int64
}

func newOracle(n int) *oracle {
	return &oracle{words: make([]atomic.Uint32, (n+15)/16)}
}

func (o *oracle) mark(i int, terminal bool) {
	bit := uint32(1) << (2 * (i % 16))
	if terminal {
		bit <<= 1
	}
	if o.words[i/16].Or(bit)&bit == 0 {
		o.count.Add(1)
	}
}

func (o *oracle) bits(i int) uint32 { return o.words[i/16].Load() >> (2 * (i % 16)) & 3 }

func (o *oracle) reset() {
	for i := range o.words {
		o.words[i].Store(0)
	}
	o.count.Store(0)
}

// ServedCount returns how many distinct (conversation, state) pairs the API
// has served in complete, well-formed 200 responses.
func (s *Server) ServedCount() int { return int(s.oracle.count.Load()) }

// ServedSeq yields the pairs counted by [Server.ServedCount], in start order.
func (s *Server) ServedSeq() iter.Seq[Pair] {
	return func(yield func(Pair) bool) {
		for i := range s.data.Len() {
			b := s.oracle.bits(i)
			if b == 0 {
				continue
			}
			if b&1 != 0 && !yield(Pair{ID: s.data.id(i), State: jelou.StateActive}) {
				return
			}
			if b&2 != 0 && !yield(Pair{ID: s.data.id(i), State: s.data.timeline(i).final}) {
				return
			}
		}
	}
}

// Served returns the pairs of [Server.ServedSeq] as a slice.
func (s *Server) Served() []Pair { return slices.Collect(s.ServedSeq()) }

// ServableSeq yields every pair a poller that asked about every window at
// every instant could have received by asOf, in start order: active from
// VisibleAt until the transition, the final state from the transition on.
func (s *Server) ServableSeq(asOf time.Time) iter.Seq[ServablePair] {
	return func(yield func(ServablePair) bool) {
		now := asOf.Unix()
		_, hi := s.data.Range(0, now) // nothing that started later is visible
		for i := range hi {
			tl := s.data.timeline(i)
			if tl.visible > now {
				continue
			}
			id := s.data.id(i)
			if from, until, ok := s.data.servableRange(tl, jelou.StateActive); ok && from <= now {
				if !yield(ServablePair{ID: id, State: jelou.StateActive, FirstServableAt: unix(from), Until: unix(until)}) {
					return
				}
			}
			if from, _, _ := s.data.servableRange(tl, tl.final); from <= now {
				if !yield(ServablePair{ID: id, State: tl.final, FirstServableAt: unix(from)}) {
					return
				}
			}
		}
	}
}

// Servable returns the pairs of [Server.ServableSeq] as a slice.
func (s *Server) Servable(asOf time.Time) []ServablePair { return slices.Collect(s.ServableSeq(asOf)) }

// ServableCount returns how many pairs [Server.ServableSeq] yields.
func (s *Server) ServableCount(asOf time.Time) int {
	n := 0
	for range s.ServableSeq(asOf) {
		n++
	}
	return n
}

// FirstServable returns the first time the API served conversation id in
// state st (see [Dataset.FirstServable]); use it to measure delivery latency.
func (s *Server) FirstServable(id string, st jelou.State) (time.Time, bool) {
	return s.data.FirstServable(id, st)
}

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
