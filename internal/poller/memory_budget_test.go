package poller

import (
	"context"
	"runtime/debug"
	"testing"
	"time"
)

func TestNewMemoryBudgetFollowsGOMEMLIMIT(t *testing.T) {
	tests := []struct {
		name     string
		limit    int64 // argument
		memLimit int64 // GOMEMLIMIT set for the test; 0 leaves it unset
		want     int64 // the limit the budget is derived from
	}{
		{"explicit", 800 << 20, 0, 800 << 20},
		{"GOMEMLIMIT", 0, 512 << 20, 512 << 20},
		{"neither: the default", 0, 0, DefaultMemoryLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := debug.SetMemoryLimit(-1)
			defer debug.SetMemoryLimit(prev)
			if tt.memLimit > 0 {
				debug.SetMemoryLimit(tt.memLimit)
			} else {
				debug.SetMemoryLimit(1<<63 - 1) // unset
			}
			m := NewMemoryBudget(tt.limit)
			if m.bodies.size != tt.want/8 || m.rows.size != tt.want/8 || m.window <= 0 || m.window > m.rows.size {
				t.Fatalf("bodies %d, rows %d, window %d; want an eighth of %d each, a window within the rows", m.bodies.size, m.rows.size, m.window, tt.want)
			}
		})
	}
}

func TestWeighted(t *testing.T) {
	w := newWeighted(100)
	if !w.TryAcquire(60) || w.TryAcquire(50) || !w.TryAcquire(40) {
		t.Fatal("TryAcquire lent beyond the size, or not up to it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Acquire(ctx, 1); err == nil {
		t.Fatal("Acquire on a full budget returned before ctx ended")
	}
	got := make(chan error, 1)
	go func() { got <- w.Acquire(context.Background(), 1000) }() // more than the size: all of it
	w.Release(60)
	select {
	case err := <-got:
		t.Fatalf("Acquire of everything returned (%v) while 40 were still lent", err)
	case <-time.After(20 * time.Millisecond):
	}
	w.Release(40)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if w.TryAcquire(1) {
		t.Fatal("a request larger than the size did not take all of it")
	}
	w.Release(1000)
	if !w.TryAcquire(100) {
		t.Fatal("Release of an oversized request did not give everything back")
	}
}
