package jelousim

import (
	"slices"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// pollAll pages through the whole data set once.
func pollAll(t *testing.T, f *fixture) {
	t.Helper()
	for pg := 1; ; pg++ {
		if p := f.fetch(t, day0, day0.Add(24*time.Hour), 100, pg); len(p.Results) == 0 {
			return
		}
	}
}

func TestOracle(t *testing.T) {
	f := setup(t, testConfig(), day0.Add(12*time.Hour))
	pollAll(t, f)
	f.clock.Set(after)
	pollAll(t, f)

	servable := map[Pair]ServablePair{}
	for _, p := range f.sim.Servable(after) {
		servable[Pair{p.ID, p.State}] = p
	}
	served := f.sim.Served()
	if len(served) != f.sim.ServedCount() {
		t.Fatalf("Served has %d pairs, ServedCount says %d", len(served), f.sim.ServedCount())
	}
	if n := f.sim.ServableCount(after); n != len(servable) {
		t.Fatalf("ServableCount %d, Servable %d", n, len(servable))
	}
	for _, p := range served {
		sp, ok := servable[p]
		if !ok {
			t.Fatalf("served %v is not servable", p)
		}
		if at, ok := f.sim.FirstServable(p.ID, p.State); !ok || !at.Equal(sp.FirstServableAt) {
			t.Errorf("FirstServable(%v) = %v, %v; Servable says %v", p, at, ok, sp.FirstServableAt)
		}
	}
	// Two polls serve every terminal pair, every pair still active, and
	// every active pair that spanned the first poll.
	first := day0.Add(12 * time.Hour)
	missing := 0
	for p, sp := range servable {
		wasActive := p.State == jelou.StateActive && !sp.FirstServableAt.After(first) && sp.Until.After(first)
		stillActive := p.State == jelou.StateActive && sp.Until.After(after)
		if p.State.Terminal() || wasActive || stillActive {
			if !slices.Contains(served, p) {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d servable pairs were never served", missing)
	}
	// Every conversation of the data set has started and is visible: each has
	// at least one servable pair.
	ids := map[string]bool{}
	for p := range servable {
		ids[p.ID] = true
	}
	if len(ids) != f.sim.Dataset().Len() {
		t.Errorf("%d conversations servable, want %d", len(ids), f.sim.Dataset().Len())
	}
	f.sim.ResetOracle()
	if f.sim.ServedCount() != 0 || len(f.sim.Served()) != 0 || f.sim.Stats().Requests != 0 {
		t.Error("ResetOracle kept state")
	}
}

func TestOracleSkipsBrokenRows(t *testing.T) {
	tests := []struct {
		fault Fault
		want  int // pairs served by a 10-row page
	}{
		{Fault{Kind: FaultMissingID}, 9},
		{Fault{Kind: FaultUnknownState}, 9},
		{Fault{Kind: FaultWrongTypes}, 10},
		{Fault{Kind: FaultTruncated}, 0},
		{Fault{Kind: FaultOversized, Size: 1024}, 0},
		{Fault{Kind: FaultEmptyResults}, 0},
		{Fault{Kind: FaultDuplicateRow}, 10},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault.Kind), func(t *testing.T) {
			f := setup(t, testConfig(), after)
			if err := f.sim.InjectNext(tt.fault, 1); err != nil {
				t.Fatal(err)
			}
			f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(24*time.Hour))})
			if got := f.sim.ServedCount(); got != tt.want {
				t.Errorf("served %d pairs, want %d", got, tt.want)
			}
		})
	}
}

func TestFirstServable(t *testing.T) {
	d, err := Generate(testConfig().Data)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Conversation(3)
	other := jelou.StateClosed
	if c.FinalState == other {
		other = jelou.StateResolved
	}
	tests := []struct {
		name  string
		id    string
		state jelou.State
		want  time.Time
		ok    bool
	}{
		{"active", c.ID, jelou.StateActive, c.VisibleAt, true},
		{"final", c.ID, c.FinalState, c.Transition, true},
		{"a state it never reaches", c.ID, other, time.Time{}, false},
		{"unknown state", c.ID, "pending", time.Time{}, false},
		{"unknown id", "000000000000000000000000", jelou.StateActive, time.Time{}, false},
		{"not hex", "zz", jelou.StateActive, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := d.FirstServable(tt.id, tt.state)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("FirstServable = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
