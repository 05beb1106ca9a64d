package dedupe

import (
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Index records, per conversation id, which states were emitted and which of
// those Kafka acknowledged. It is safe for concurrent use; the zero value is
// an empty index ready to use. An Index must not be copied after first use.
type Index struct {
	shards [numShards]shard
	states stateTable
}

// New returns an empty index.
func New() *Index { return new(Index) }

// Reason says why [Index.Observe] decided as it did. Its String form is
// meant as a metric label.
type Reason int

// The reasons, in the order Observe checks them.
const (
	// ReasonNew: the id was never seen (or was evicted or released); emit.
	ReasonNew Reason = iota
	// ReasonStateChange: a state not yet emitted for the id; emit.
	ReasonStateChange
	// ReasonDuplicate: the state was already emitted (pending or acked); skip.
	ReasonDuplicate
	// ReasonRegression: a non-terminal state after a terminal one was
	// emitted (for example active after closed); skip.
	ReasonRegression
)

// String returns "new", "state_change", "duplicate" or "regression".
func (r Reason) String() string {
	switch r {
	case ReasonNew:
		return "new"
	case ReasonStateChange:
		return "state_change"
	case ReasonDuplicate:
		return "duplicate"
	case ReasonRegression:
		return "regression"
	}
	return "unknown"
}

// Result is the decision for one observed row.
type Result struct {
	// Emit is true when the row's state must be published.
	Emit bool
	// Previous is the state emitted last for the id before this observation
	// (pending or acknowledged), or "" on first sight.
	Previous jelou.State
	// Reason says why.
	Reason Reason
}

// stateOf returns the bit of s and, for an undocumented value, its code.
func (ix *Index) stateOf(s jelou.State, create bool) (bit uint8, code uint16) {
	bit = knownBit(s)
	if bit == bitUnknown {
		code = ix.states.code(s, create)
	}
	return bit, code
}

// name returns the state a last-emitted field stands for.
func (ix *Index) name(last uint8, code uint16) jelou.State {
	switch {
	case last == 0:
		return ""
	case last-1 == bitUnknown:
		return ix.states.name(code)
	}
	return knownNames[last-1]
}

// has reports whether e holds state (bit, code) in mask.
func (e entry) has(mask uint8, bit uint8, code uint16) bool {
	return mask&(1<<bit) != 0 && (bit != bitUnknown || e.code == code)
}

// Observe decides whether the state of one row must be published; see the
// package documentation for the rules. When Emit is true the state is
// recorded as pending at once, so a concurrent or overlapping observation of
// the same (id, state) is a duplicate; the caller then calls [Index.Ack] once
// Kafka acknowledged the event or [Index.Release] when it gave up on it.
// Every observation moves the entry's start time to the later of the stored
// one and startAt.
func (ix *Index) Observe(id string, state jelou.State, startAt time.Time) Result {
	bit, code := ix.stateOf(state, true)
	key := hashID(id)
	start := startSeconds(startAt)
	s := &ix.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()

	i, ok := s.find(key)
	if !ok {
		e := entry{start: start, pending: 1 << bit, last: bit + 1, code: code}
		s.insert(key, e.pack())
		return Result{Emit: true, Reason: ReasonNew}
	}
	e := unpack(s.slots[i].val)
	e.start = max(e.start, start)
	r := ix.decide(&e, bit, code)
	s.slots[i].val = e.pack()
	return r
}

// decide applies the rules to an existing entry, recording an emitted state
// as pending.
func (ix *Index) decide(e *entry, bit uint8, code uint16) Result {
	prev := ix.name(e.last, e.code)
	emitted := e.acked | e.pending
	switch {
	case e.has(emitted, bit, code):
		return Result{Previous: prev, Reason: ReasonDuplicate}
	case 1<<bit&terminalMask == 0 && emitted&terminalMask != 0:
		return Result{Previous: prev, Reason: ReasonRegression}
	}
	if bit == bitUnknown {
		// One slot per entry: a new undocumented value replaces the old.
		e.acked &^= 1 << bitUnknown
		e.pending &^= 1 << bitUnknown
		e.code = code
	}
	e.pending |= 1 << bit
	e.last = bit + 1
	return Result{Emit: true, Previous: prev, Reason: ReasonStateChange}
}

// Ack records that the pending state of id was durably published. It does
// nothing when that state is not pending (already acked, released, replaced
// or evicted).
func (ix *Index) Ack(id string, state jelou.State) {
	ix.update(id, state, func(e entry, bit uint8, code uint16) entry {
		if e.has(e.pending, bit, code) {
			e.pending &^= 1 << bit
			e.acked |= 1 << bit
			e.lastAck = bit + 1
		}
		return e
	})
}

// Release forgets the pending state of id, so that a later observation of it
// is emitted again. An id left with no state at all is removed, and its next
// observation is [ReasonNew]. Release does nothing when the state is not
// pending; an acknowledged state is never forgotten.
func (ix *Index) Release(id string, state jelou.State) {
	ix.update(id, state, func(e entry, bit uint8, code uint16) entry {
		if !e.has(e.pending, bit, code) {
			return e
		}
		e.pending &^= 1 << bit
		if bit == bitUnknown {
			e.code = 0 // a pending value is never also acked
		}
		if e.last == bit+1 {
			e.last = pickLast(e.acked|e.pending, e.lastAck)
		}
		return e
	})
}

// update applies fn to the entry of id; an entry left with no emitted state
// is deleted.
func (ix *Index) update(id string, state jelou.State, fn func(e entry, bit uint8, code uint16) entry) {
	bit, code := ix.stateOf(state, false)
	if bit == bitUnknown && code == 0 {
		return // never observed: nothing to do
	}
	key := hashID(id)
	s := &ix.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.find(key)
	if !ok {
		return
	}
	e := fn(unpack(s.slots[i].val), bit, code)
	if e.last == 0 {
		s.deleteAt(i)
		s.shrink()
		return
	}
	s.slots[i].val = e.pack()
}

// Evict removes every entry whose start time is before the given time, at
// second granularity (before is truncated to the second), and returns how
// many it removed. Pending states are removed too; their later Ack or
// Release does nothing.
func (ix *Index) Evict(before time.Time) int {
	bound := startSeconds(before)
	total := 0
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		n := s.deleteIf(func(v uint64) bool { return v&maxStartSec < bound })
		if n > 0 {
			s.shrink()
		}
		s.mu.Unlock()
		total += n
	}
	return total
}

// Len returns the number of tracked conversation ids.
func (ix *Index) Len() int {
	n := 0
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// NonTerminal calls fn with the start time of every entry whose last emitted
// state is not terminal (active or undocumented), in no particular order,
// until fn returns false. The poller uses it to schedule revisits. fn runs
// without any lock held, so it may call the index; entries changed meanwhile
// may or may not be reported. Start times are at second granularity, in UTC.
func (ix *Index) NonTerminal(fn func(startAt time.Time) bool) {
	var buf []uint64
	for i := range ix.shards {
		s := &ix.shards[i]
		buf = buf[:0]
		s.mu.Lock()
		for _, sl := range s.slots {
			if sl.val != 0 && unpack(sl.val).nonTerminal() {
				buf = append(buf, sl.val&maxStartSec)
			}
		}
		s.mu.Unlock()
		for _, sec := range buf {
			if !fn(time.Unix(int64(sec), 0).UTC()) {
				return
			}
		}
	}
}

// startSeconds converts t to the stored form: whole seconds since the Unix
// epoch, clamped to [1970-01-01, 2514-05-30]. A zero time is stored as the
// epoch, so the next Evict removes it.
func startSeconds(t time.Time) uint64 {
	sec := t.Unix()
	switch {
	case sec < 0:
		return 0
	case sec > maxStartSec:
		return maxStartSec
	}
	return uint64(sec)
}

// Last returns the state emitted last for id (pending or acknowledged),
// the one a current-state view of the conversation holds; "" when id is
// not tracked. An undocumented value the index could not record by name is
// [OverflowState].
func (ix *Index) Last(id string) jelou.State {
	key := hashID(id)
	s := &ix.shards[shardOf(key)]
	s.mu.Lock()
	i, ok := s.find(key)
	var e entry
	if ok {
		e = unpack(s.slots[i].val)
	}
	s.mu.Unlock()
	if !ok {
		return ""
	}
	return ix.name(e.last, e.code)
}

// OldestOpen returns the earliest start time among the conversations that
// may still publish: those whose last emitted state is not terminal
// (active or undocumented) and those with a state not yet acknowledged;
// ok is false when there is none. A completeness watermark stays before
// it: every conversation that started earlier is in a terminal state,
// acknowledged, or was evicted (no lane reads it again). Start times are
// at second granularity, in UTC.
func (ix *Index) OldestOpen() (oldest time.Time, ok bool) {
	best := uint64(maxStartSec + 1)
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		for _, sl := range s.slots {
			if sl.val == 0 {
				continue
			}
			if e := unpack(sl.val); (e.pending != 0 || e.nonTerminal()) && e.start < best {
				best = e.start
			}
		}
		s.mu.Unlock()
	}
	if best > maxStartSec {
		return time.Time{}, false
	}
	return time.Unix(int64(best), 0).UTC(), true
}
