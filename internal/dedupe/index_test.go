package dedupe

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// step is one call on the index in a decision test. For observe steps, want
// is the expected result.
type step struct {
	op    string // "observe", "ack" or "release"
	state jelou.State
	want  Result
}

func observe(s jelou.State, emit bool, r Reason, prev jelou.State) step {
	return step{op: "observe", state: s, want: Result{Emit: emit, Reason: r, Previous: prev}}
}
func ack(s jelou.State) step     { return step{op: "ack", state: s} }
func release(s jelou.State) step { return step{op: "release", state: s} }

const (
	active   = jelou.StateActive
	closed   = jelou.StateClosed
	resolved = jelou.StateResolved
	expired  = jelou.StateExpired
)

func TestObserveRules(t *testing.T) {
	long := jelou.State(strings.Repeat("x", MaxUnknownStateLen+1))
	tests := []struct {
		name  string
		steps []step
	}{
		{"first sight emits", []step{
			observe(active, true, ReasonNew, ""),
		}},
		{"first sight of a terminal state emits", []step{
			observe(closed, true, ReasonNew, ""),
		}},
		{"pending state is a duplicate", []step{
			observe(active, true, ReasonNew, ""),
			observe(active, false, ReasonDuplicate, active),
		}},
		{"acked state is a duplicate", []step{
			observe(active, true, ReasonNew, ""),
			ack(active),
			observe(active, false, ReasonDuplicate, active),
		}},
		{"active then closed emits with previous active", []step{
			observe(active, true, ReasonNew, ""),
			ack(active),
			observe(closed, true, ReasonStateChange, active),
			observe(closed, false, ReasonDuplicate, closed),
		}},
		{"previous reflects a still-pending state", []step{
			observe(active, true, ReasonNew, ""),
			observe(closed, true, ReasonStateChange, active),
		}},
		{"active seen again after closed is a duplicate", []step{
			observe(active, true, ReasonNew, ""),
			observe(closed, true, ReasonStateChange, active),
			ack(closed),
			observe(active, false, ReasonDuplicate, closed),
		}},
		{"active after a first-seen closed is a regression", []step{
			observe(closed, true, ReasonNew, ""),
			observe(active, false, ReasonRegression, closed),
		}},
		{"regression against a pending terminal state", []step{
			observe(expired, true, ReasonNew, ""),
			observe(active, false, ReasonRegression, expired),
		}},
		{"closed then resolved emits, closed again is a duplicate", []step{
			observe(closed, true, ReasonNew, ""),
			ack(closed),
			observe(resolved, true, ReasonStateChange, closed),
			ack(resolved),
			observe(closed, false, ReasonDuplicate, resolved),
			observe(expired, true, ReasonStateChange, resolved),
		}},
		{"undocumented value emits once, ranked like active", []step{
			observe(active, true, ReasonNew, ""),
			observe("waiting", true, ReasonStateChange, active),
			observe("waiting", false, ReasonDuplicate, "waiting"),
			observe(active, false, ReasonDuplicate, "waiting"),
			observe(closed, true, ReasonStateChange, "waiting"),
			observe("waiting", false, ReasonDuplicate, closed),
			observe("transferred", false, ReasonRegression, closed),
		}},
		{"undocumented value first, then active", []step{
			observe("queued", true, ReasonNew, ""),
			observe(active, true, ReasonStateChange, "queued"),
		}},
		{"one slot: a second undocumented value replaces the first", []step{
			observe("queued", true, ReasonNew, ""),
			ack("queued"),
			observe("transferred", true, ReasonStateChange, "queued"),
			observe("queued", true, ReasonStateChange, "transferred"),
		}},
		{"empty state is an undocumented value", []step{
			observe("", true, ReasonNew, ""),
			observe("", false, ReasonDuplicate, ""),
			observe(active, true, ReasonStateChange, ""),
		}},
		{"overlong undocumented value uses the overflow slot", []step{
			observe(long, true, ReasonNew, ""),
			observe(long, false, ReasonDuplicate, OverflowState),
			observe(active, true, ReasonStateChange, OverflowState),
		}},
		{"release of the only state forgets the id", []step{
			observe(active, true, ReasonNew, ""),
			release(active),
			observe(active, true, ReasonNew, ""),
		}},
		{"release of a change restores the previous state", []step{
			observe(active, true, ReasonNew, ""),
			ack(active),
			observe(closed, true, ReasonStateChange, active),
			release(closed),
			observe(active, false, ReasonDuplicate, active),
			observe(closed, true, ReasonStateChange, active),
		}},
		{"release of a pending change with a pending earlier state", []step{
			observe(active, true, ReasonNew, ""),
			observe(closed, true, ReasonStateChange, active),
			release(closed),
			observe(resolved, true, ReasonStateChange, active),
		}},
		{"release of an undocumented value", []step{
			observe(active, true, ReasonNew, ""),
			ack(active),
			observe("queued", true, ReasonStateChange, active),
			release("queued"),
			observe("queued", true, ReasonStateChange, active),
		}},
		{"release of an acked state does nothing", []step{
			observe(active, true, ReasonNew, ""),
			ack(active),
			release(active),
			observe(active, false, ReasonDuplicate, active),
		}},
		{"ack and release of states never observed do nothing", []step{
			ack(active),
			release(closed),
			ack("never-seen"),
			observe(active, true, ReasonNew, ""),
			ack(closed),
			release(expired),
			observe(closed, true, ReasonStateChange, active),
		}},
		{"ack after release does nothing", []step{
			observe(active, true, ReasonNew, ""),
			ack(active),
			observe(closed, true, ReasonStateChange, active),
			release(closed),
			ack(closed),
			observe(closed, true, ReasonStateChange, active),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := New()
			for i, s := range tt.steps {
				switch s.op {
				case "ack":
					ix.Ack("conv-1", s.state)
				case "release":
					ix.Release("conv-1", s.state)
				case "observe":
					if got := ix.Observe("conv-1", s.state, t0); got != s.want {
						t.Fatalf("step %d: Observe(%q) = %+v, want %+v", i, s.state, got, s.want)
					}
				}
			}
		})
	}
}

func TestObserveKeepsIDsApart(t *testing.T) {
	ix := New()
	for i := range 1000 {
		id := fmt.Sprintf("65f1c0de%016x", i)
		if r := ix.Observe(id, active, t0); r.Reason != ReasonNew {
			t.Fatalf("Observe(%s) = %+v, want new", id, r)
		}
	}
	if got := ix.Len(); got != 1000 {
		t.Fatalf("Len = %d, want 1000", got)
	}
	for i := range 1000 {
		id := fmt.Sprintf("65f1c0de%016x", i)
		if r := ix.Observe(id, active, t0); r.Reason != ReasonDuplicate {
			t.Fatalf("second Observe(%s) = %+v, want duplicate", id, r)
		}
	}
}

func TestReasonString(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{
		{ReasonNew, "new"},
		{ReasonStateChange, "state_change"},
		{ReasonDuplicate, "duplicate"},
		{ReasonRegression, "regression"},
		{Reason(42), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Reason(%d).String() = %q, want %q", int(tt.r), got, tt.want)
		}
	}
}

// Two observers of the same rows (overlapping windows in flight) must emit
// each (id, state) exactly once between them.
func TestConcurrentObserversEmitOnce(t *testing.T) {
	const ids = 2000
	ix := New()
	states := []jelou.State{active, "queued", closed}
	var mu sync.Mutex
	emits := map[string]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for _, s := range states {
				for i := range ids {
					id := fmt.Sprintf("c%d", (i*7+w*13)%ids)
					if r := ix.Observe(id, s, t0); r.Emit {
						ix.Ack(id, s)
						mu.Lock()
						emits[id+"/"+string(s)]++
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	if len(emits) != ids*len(states) {
		t.Errorf("%d distinct (id, state) emitted, want %d", len(emits), ids*len(states))
	}
	for k, n := range emits {
		if n != 1 {
			t.Errorf("%s emitted %d times", k, n)
		}
	}
}

func TestEvict(t *testing.T) {
	ix := New()
	for i := range 100 {
		ix.Observe(fmt.Sprint("c", i), active, t0.Add(time.Duration(i)*time.Minute))
	}
	// A later observation moves the start time forward, never back.
	ix.Observe("c0", closed, t0.Add(time.Hour))
	ix.Observe("c99", closed, t0)

	if n := ix.Evict(t0.Add(50*time.Minute + 30*time.Second)); n != 50 {
		t.Errorf("Evict removed %d, want 50 (c1..c50)", n)
	}
	if got := ix.Len(); got != 50 {
		t.Errorf("Len after Evict = %d, want 50", got)
	}
	tests := []struct {
		id   string
		want Reason
	}{
		{"c0", ReasonDuplicate},  // start moved to t0+1h: kept
		{"c1", ReasonNew},        // evicted
		{"c50", ReasonNew},       // start t0+50m < bound
		{"c51", ReasonDuplicate}, // start t0+51m: kept
		{"c99", ReasonDuplicate}, // start stayed at t0+99m
	}
	for _, tt := range tests {
		if r := ix.Observe(tt.id, active, t0); r.Reason != tt.want {
			t.Errorf("after Evict, Observe(%s) reason %v, want %v", tt.id, r.Reason, tt.want)
		}
	}
	if n := ix.Evict(time.Time{}); n != 0 {
		t.Errorf("Evict(zero) removed %d, want 0", n)
	}
	left := ix.Len()
	if n := ix.Evict(t0.Add(24 * time.Hour)); n != left || ix.Len() != 0 {
		t.Errorf("Evict(all) removed %d of %d, left %d", n, left, ix.Len())
	}
}

func TestEvictSecondGranularity(t *testing.T) {
	ix := New()
	ix.Observe("a", active, t0.Add(400*time.Millisecond))
	if n := ix.Evict(t0.Add(900 * time.Millisecond)); n != 0 {
		t.Errorf("Evict within the same second removed %d, want 0", n)
	}
	if n := ix.Evict(t0.Add(time.Second)); n != 1 {
		t.Errorf("Evict at the next second removed %d, want 1", n)
	}
}

func TestStartClamp(t *testing.T) {
	tests := []struct {
		in   time.Time
		want uint64
	}{
		{time.Time{}, 0},
		{time.Unix(-5, 0), 0},
		{time.Unix(1, 999), 1},
		{time.Date(2600, 1, 1, 0, 0, 0, 0, time.UTC), maxStartSec},
	}
	for _, tt := range tests {
		if got := startSeconds(tt.in); got != tt.want {
			t.Errorf("startSeconds(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if y := time.Unix(maxStartSec, 0).UTC().Year(); y != 2514 {
		t.Errorf("latest storable start is in %d, doc says 2514", y)
	}
}

func TestNonTerminal(t *testing.T) {
	ix := New()
	ix.Observe("active", active, t0)
	ix.Observe("queued", "queued", t0.Add(time.Minute))
	ix.Observe("closed", active, t0.Add(2*time.Minute))
	ix.Observe("closed", closed, t0.Add(2*time.Minute))
	ix.Observe("released", active, t0.Add(3*time.Minute))
	ix.Observe("released", resolved, t0.Add(3*time.Minute))
	ix.Release("released", resolved) // back to active

	got := map[time.Time]bool{}
	ix.NonTerminal(func(at time.Time) bool { got[at] = true; return true })
	want := map[time.Time]bool{t0: true, t0.Add(time.Minute): true, t0.Add(3 * time.Minute): true}
	if len(got) != len(want) {
		t.Fatalf("NonTerminal gave %v, want %v", got, want)
	}
	for at := range want {
		if !got[at] {
			t.Errorf("NonTerminal missed %v", at)
		}
	}

	calls := 0
	ix.NonTerminal(func(time.Time) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("NonTerminal called fn %d times after it returned false, want 1", calls)
	}
}

// The stored key must never change: snapshots hold it.
func TestHashIDIsFNV1a64(t *testing.T) {
	for _, id := range []string{"", "a", "6480f1c9e5b7a2d4c3f0a1b2", strings.Repeat("z", 300)} {
		h := fnv.New64a()
		h.Write([]byte(id))
		if got, want := hashID(id), h.Sum64(); got != want {
			t.Errorf("hashID(%q) = %x, want %x", id, got, want)
		}
	}
}

func TestPackRoundTrip(t *testing.T) {
	for _, e := range []entry{
		{start: 1, acked: 1, last: 1},
		{start: maxStartSec, acked: allMask, pending: allMask, last: 5, lastAck: 4, code: overflowCode},
		{start: 1709283600, pending: 1 << bitUnknown, last: 5, code: 17},
	} {
		if got := unpack(e.pack()); got != e {
			t.Errorf("unpack(pack(%+v)) = %+v", e, got)
		}
	}
}

func stateName(i int) jelou.State { return jelou.State(fmt.Sprintf("state-%d", i)) }

// Once the table of undocumented values is full, later values share one
// slot: they still emit once per entry, and Previous says OverflowState.
func TestObserveUnknownOverflow(t *testing.T) {
	ix := New()
	for i := range MaxUnknownStates {
		ix.Observe("filler", stateName(i), t0)
	}
	tests := []struct {
		state jelou.State
		want  Result
	}{
		{"late-1", Result{Emit: true, Reason: ReasonNew}},
		{"late-2", Result{Reason: ReasonDuplicate, Previous: OverflowState}},
		{stateName(3), Result{Emit: true, Reason: ReasonStateChange, Previous: OverflowState}},
		{"late-1", Result{Emit: true, Reason: ReasonStateChange, Previous: stateName(3)}},
	}
	for i, tt := range tests {
		if got := ix.Observe("x", tt.state, t0); got != tt.want {
			t.Errorf("step %d: Observe(%q) = %+v, want %+v", i, tt.state, got, tt.want)
		}
	}
}

// TestConcurrentUse runs every operation at once; its value is under -race.
func TestConcurrentUse(t *testing.T) {
	ix := New()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range 3000 {
				id := fmt.Sprint("c", i%500)
				s := []jelou.State{active, closed, "queued"}[(i+w)%3]
				if ix.Observe(id, s, t0.Add(time.Duration(i)*time.Second)).Emit {
					if i%5 == 0 {
						ix.Release(id, s)
					} else {
						ix.Ack(id, s)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			var buf bytes.Buffer
			if err := ix.WriteSnapshot(&buf); err != nil {
				t.Error(err)
				return
			}
			if _, err := ReadSnapshot(&buf); err != nil {
				t.Error(err)
				return
			}
			ix.NonTerminal(func(time.Time) bool { ix.Len(); return true })
			ix.Evict(t0.Add(time.Duration(i) * time.Second))
		}
	})
	wg.Wait()
	live := 0
	for i := range ix.shards {
		for _, sl := range ix.shards[i].slots {
			if sl.val != 0 {
				live++
			}
		}
	}
	if n := ix.Len(); n != live || n > 500 {
		t.Errorf("Len = %d, %d live slots, want equal and at most 500", n, live)
	}
}
