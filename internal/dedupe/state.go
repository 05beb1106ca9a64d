package dedupe

import (
	"sync"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// OverflowState is reported as Result.Previous when the previous state was an
// undocumented value that the index could not record by name, because the
// table of distinct undocumented values was full (see [MaxUnknownStates]) or
// the value was longer than [MaxUnknownStateLen] bytes. It never comes from
// the vendor.
const OverflowState jelou.State = "(other)"

// Limits on the table of undocumented state values an [Index] interns.
const (
	// MaxUnknownStates is how many distinct undocumented state values an
	// index records by name. Later distinct values share one overflow slot.
	MaxUnknownStates = 4094
	// MaxUnknownStateLen is the longest undocumented state value, in bytes,
	// recorded by name. Longer values share the overflow slot.
	MaxUnknownStateLen = 64
)

// A state of one entry is one of five bits: the four documented states and
// one slot for an undocumented value (which value is held by the entry's
// unknown code).
const (
	bitActive   = 0
	bitClosed   = 1
	bitResolved = 2
	bitExpired  = 3
	bitUnknown  = 4

	terminalMask = 1<<bitClosed | 1<<bitResolved | 1<<bitExpired
	allMask      = 1<<5 - 1
)

// overflowCode is the unknown code shared by values the state table cannot
// hold by name. Codes 1..MaxUnknownStates name interned values; 0 is "none".
const overflowCode = MaxUnknownStates + 1

// The packed value of one entry, a uint64 (a live entry is never 0 because
// its last-emitted field is never 0):
//
//	bits  0–33  start time, seconds since 1970-01-01 UTC (clamped)
//	bits 34–38  acked state mask
//	bits 39–43  pending state mask
//	bits 44–46  last emitted state, as bit+1 (0 = none)
//	bits 47–49  last acked state, as bit+1 (0 = none)
//	bits 50–61  unknown code held by the unknown-state bit
//	bits 62–63  unused
const (
	startBits   = 34
	maxStartSec = 1<<startBits - 1

	ackedShift   = 34
	pendingShift = 39
	lastShift    = 44
	lastAckShift = 47
	codeShift    = 50

	maskField = allMask
	lastField = 7
	codeField = 1<<12 - 1
)

// entry is the unpacked form of a packed value.
type entry struct {
	start   uint64 // seconds since the Unix epoch
	acked   uint8  // state mask
	pending uint8  // state mask
	last    uint8  // last emitted state, bit+1; 0 = none
	lastAck uint8  // last acked state, bit+1; 0 = none
	code    uint16 // unknown code of the unknown bit; 0 = none
}

func unpack(v uint64) entry {
	return entry{
		start:   v & maxStartSec,
		acked:   uint8(v >> ackedShift & maskField),
		pending: uint8(v >> pendingShift & maskField),
		last:    uint8(v >> lastShift & lastField),
		lastAck: uint8(v >> lastAckShift & lastField),
		code:    uint16(v >> codeShift & codeField),
	}
}

func (e entry) pack() uint64 {
	return e.start&maxStartSec |
		uint64(e.acked&maskField)<<ackedShift |
		uint64(e.pending&maskField)<<pendingShift |
		uint64(e.last&lastField)<<lastShift |
		uint64(e.lastAck&lastField)<<lastAckShift |
		uint64(e.code&codeField)<<codeShift
}

// nonTerminal reports whether the last emitted state is active or unknown.
func (e entry) nonTerminal() bool {
	return e.last == bitActive+1 || e.last == bitUnknown+1
}

// pickLast chooses which state of mask counts as the latest when the order in
// which they were emitted is no longer known: prefer (a bit+1 code) when it is
// in mask and no higher-ranked state is, otherwise the lowest-numbered state of
// the highest rank present. It returns bit+1, or 0 for an empty mask.
func pickLast(mask uint8, prefer uint8) uint8 {
	if mask == 0 {
		return 0
	}
	rankMask := mask & terminalMask
	if rankMask == 0 {
		rankMask = mask
	}
	if prefer != 0 && rankMask&(1<<(prefer-1)) != 0 {
		return prefer
	}
	for b := uint8(0); b < 5; b++ {
		if rankMask&(1<<b) != 0 {
			return b + 1
		}
	}
	return 0
}

// knownBit returns the state bit of a documented state, or bitUnknown.
func knownBit(s jelou.State) uint8 {
	switch s {
	case jelou.StateActive:
		return bitActive
	case jelou.StateClosed:
		return bitClosed
	case jelou.StateResolved:
		return bitResolved
	case jelou.StateExpired:
		return bitExpired
	}
	return bitUnknown
}

var knownNames = [4]jelou.State{jelou.StateActive, jelou.StateClosed, jelou.StateResolved, jelou.StateExpired}

// stateTable interns undocumented state values as small codes. Codes are
// assigned once and never reused, so a code read under one lock stays valid.
type stateTable struct {
	mu    sync.RWMutex
	codes map[jelou.State]uint16
	names []jelou.State // names[code-1]
}

// code returns the code of an undocumented value, interning it when create is
// set. It returns 0 when the value is not interned and create is false.
func (t *stateTable) code(s jelou.State, create bool) uint16 {
	if len(s) > MaxUnknownStateLen {
		return overflowCode
	}
	t.mu.RLock()
	c, ok := t.codes[s]
	full := len(t.names) >= MaxUnknownStates
	t.mu.RUnlock()
	if ok {
		return c
	}
	if full {
		return overflowCode
	}
	if !create {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.codes[s]; ok {
		return c
	}
	if len(t.names) >= MaxUnknownStates {
		return overflowCode
	}
	if t.codes == nil {
		t.codes = make(map[jelou.State]uint16)
	}
	t.names = append(t.names, s)
	c = uint16(len(t.names))
	t.codes[s] = c
	return c
}

// name returns the value of code.
func (t *stateTable) name(code uint16) jelou.State {
	if code == 0 || code == overflowCode {
		return OverflowState
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if int(code) > len(t.names) {
		return OverflowState
	}
	return t.names[code-1]
}

// list returns a copy of the interned values in code order.
func (t *stateTable) list() []jelou.State {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]jelou.State(nil), t.names...)
}
