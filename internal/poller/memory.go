package poller

import (
	"context"
	"math"
	"runtime/debug"
	"sync"
)

// DefaultMemoryLimit is the memory a MemoryBudget is derived from when
// GOMEMLIMIT is not set: the Helm chart's default container limit.
const DefaultMemoryLimit = 256 << 20

// MemoryBudget bounds the memory that what the API sends can take, for
// every source of a process at once: response bodies being read and
// decoded (it is a jelou.Reserver for jelou.Config.BodyBudget), and rows
// held between their page's arrival and their publication. An eighth of
// the memory limit goes to each: the garbage collector lets the heap grow
// to about twice what is live, and the rest is left to the dedupe index,
// the events being encoded and the Kafka writer. Safe for concurrent use.
type MemoryBudget struct {
	bodies *weighted
	rows   *weighted
	// window is how many bytes of rows one read holds before it publishes
	// them.
	window int64
}

// NewMemoryBudget returns the budget for a process allowed limit bytes;
// limit <= 0 takes GOMEMLIMIT (runtime/debug.SetMemoryLimit(-1)) when it
// is set, else DefaultMemoryLimit.
func NewMemoryBudget(limit int64) *MemoryBudget {
	if limit <= 0 {
		limit = debug.SetMemoryLimit(-1)
		if limit <= 0 || limit == math.MaxInt64 {
			limit = DefaultMemoryLimit
		}
	}
	rows := limit / 8
	return &MemoryBudget{bodies: newWeighted(limit / 8), rows: newWeighted(rows), window: max(rows/16, 1<<20)}
}

// Acquire takes room for a response body of n bytes, waiting until it is
// free or ctx ends: twice n, since reading a body of unknown length grows
// its buffer by copying. A body larger than the whole budget takes all of
// it.
func (m *MemoryBudget) Acquire(ctx context.Context, n int64) error {
	return m.bodies.Acquire(ctx, bodyCost(n))
}

// Release gives back the room Acquire took for a body of n bytes.
func (m *MemoryBudget) Release(n int64) { m.bodies.Release(bodyCost(n)) }

// bodyCost is what reading a body of n bytes takes.
func bodyCost(n int64) int64 {
	if n > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return 2 * n
}

// weighted is a counting semaphore of bytes. A request for more than its
// size takes all of it, so that nothing waits forever.
type weighted struct {
	mu    sync.Mutex
	size  int64
	used  int64
	freed chan struct{} // closed and replaced on every Release
}

func newWeighted(size int64) *weighted {
	return &weighted{size: max(size, 1), freed: make(chan struct{})}
}

func (w *weighted) clamp(n int64) int64 { return min(max(n, 0), w.size) }

// TryAcquire takes n if it is free now.
func (w *weighted) TryAcquire(n int64) bool {
	n = w.clamp(n)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.used+n > w.size {
		return false
	}
	w.used += n
	return true
}

// Acquire takes n, waiting until it is free or ctx ends.
func (w *weighted) Acquire(ctx context.Context, n int64) error {
	n = w.clamp(n)
	for {
		w.mu.Lock()
		if w.used+n <= w.size {
			w.used += n
			w.mu.Unlock()
			return nil
		}
		freed := w.freed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-freed:
		}
	}
}

// Release gives back n, taken by Acquire or TryAcquire.
func (w *weighted) Release(n int64) {
	n = w.clamp(n)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.used = max(w.used-n, 0)
	close(w.freed)
	w.freed = make(chan struct{})
}
