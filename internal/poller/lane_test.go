package poller

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestLaneTable: every row of the lane table is complete and consistent,
// and Lanes lists every lane once, by priority, in the order the metrics'
// lane labels and the budget rely on.
func TestLaneTable(t *testing.T) {
	names := map[string]bool{}
	priorities := map[int]Lane{}
	for i := range laneTable {
		l := Lane(i)
		s := l.Spec()
		if s.Name == "" || s.Name == unknownLane.Name || names[s.Name] {
			t.Errorf("lane %d: name %q is empty, reserved or taken", i, s.Name)
		}
		names[s.Name] = true
		if l.String() != s.Name {
			t.Errorf("lane %d: String %q, want its name %q", i, l, s.Name)
		}
		if o, taken := priorities[s.Priority]; taken {
			t.Errorf("lanes %s and %s share priority %d", o, l, s.Priority)
		}
		priorities[s.Priority] = l
		if (s.Next == nil) == (s.Sweep == nil) {
			t.Errorf("lane %s: needs exactly one schedule rule (Next or Sweep)", l)
		}
		if s.Done == nil || s.Oldest == nil || s.Workers == nil {
			t.Errorf("lane %s: Done, Oldest and Workers are required", l)
		}
		if s.Backfill && s.Next == nil {
			t.Errorf("lane %s: a backfill lane plans with Next (it ends the backfill when Finished)", l)
		}
	}
	if len(Lanes) != len(laneTable) {
		t.Fatalf("Lanes has %d lanes, the table %d", len(Lanes), len(laneTable))
	}
	seen := map[Lane]bool{}
	for i, l := range Lanes {
		if seen[l] {
			t.Errorf("Lanes lists %s twice", l)
		}
		seen[l] = true
		if i > 0 && Lanes[i-1].Spec().Priority >= l.Spec().Priority {
			t.Errorf("Lanes not sorted by priority: %s before %s", Lanes[i-1], l)
		}
	}
	if got := fmt.Sprint(Lanes); got != "[live settle revisit history]" {
		t.Errorf("Lanes = %s, want [live settle revisit history] (metric label order)", got)
	}
	if got := Lane(len(laneTable)).String(); got != "unknown" {
		t.Errorf("a lane outside the table is %q, want unknown", got)
	}
}

// TestLaneWorkers: runLanes starts, per lane, what its row says: one live
// and one settle runner, a revisit runner only when revisits are on, and
// Concurrency history runners; a bounded backfill runs the Backfill lanes
// alone.
func TestLaneWorkers(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string // runners per lane, in Lanes order
	}{
		{"live, revisits on", Config{Revisit: time.Hour, Concurrency: 4}, "[1 1 1 4]"},
		{"live, revisits off", Config{Concurrency: 2}, "[1 1 0 2]"},
		{"bounded backfill", Config{End: t0, Revisit: time.Hour, Concurrency: 3}, "[0 0 0 3]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, l := range Lanes {
				got = append(got, l.Spec().runners(tt.cfg))
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("runners %v, want %s", got, tt.want)
			}
		})
	}
}

// TestBudgetRanksLanesByTable: a lane's request yields to every lane
// before it in Lanes (lower Priority) that waits, and to none after it; a
// request without a lane counts as the last lane's.
func TestBudgetRanksLanesByTable(t *testing.T) {
	for i, lane := range Lanes {
		for j, other := range Lanes {
			if other == lane {
				continue
			}
			b := NewBudget(-1, 1)
			b.waiting[other]++
			if got, want := b.higherWaiting(lane), j < i; got != want {
				t.Errorf("%s waiting, %s yields = %v, want %v", other, lane, got, want)
			}
		}
	}
	if got := laneOf(context.Background()); got != Lanes[len(Lanes)-1] {
		t.Errorf("a request without a lane is %s's, want the last lane %s", got, Lanes[len(Lanes)-1])
	}
	if got := laneOf(WithLane(context.Background(), LaneSettle)); got != LaneSettle {
		t.Errorf("laneOf(WithLane(settle)) = %s", got)
	}
}
