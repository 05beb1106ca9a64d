package poller

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget is the API request budget the lanes share: a token bucket
// (golang.org/x/time/rate) whose waiting requests are served by lane, live
// first. A request of a lower lane takes a token only when it is available
// at once and no higher lane is waiting; otherwise it gives the token back
// and waits again, so a live request waits at most for the next token,
// whatever the other lanes have queued. It implements jelou.Limiter; the
// lane comes from the request's context (see WithLane).
type Budget struct {
	lim *rate.Limiter

	mu      sync.Mutex
	waiting [len(laneNames)]int
}

// NewBudget returns a budget of perSecond requests per second with the
// given burst (at least 1). perSecond < 0 means no limit.
func NewBudget(perSecond float64, burst int) *Budget {
	burst = max(burst, 1)
	if perSecond < 0 {
		return &Budget{lim: rate.NewLimiter(rate.Inf, burst)}
	}
	return &Budget{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// PerSecond returns the budget's requests per second; -1 when it has no
// limit (also for a nil Budget).
func (b *Budget) PerSecond() float64 {
	if b == nil || b.lim.Limit() == rate.Inf {
		return -1
	}
	return float64(b.lim.Limit())
}

// budgetPoll bounds how long a lower lane sleeps before it looks again.
const budgetPoll = 20 * time.Millisecond

// Wait blocks until the request of ctx's lane may be sent, or ctx ends.
func (b *Budget) Wait(ctx context.Context) error {
	lane := laneOf(ctx)
	b.mu.Lock()
	b.waiting[lane]++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.waiting[lane]--
		b.mu.Unlock()
	}()
	for {
		wait := budgetPoll
		if !b.higherWaiting(lane) {
			r := b.lim.Reserve()
			d := r.Delay()
			if d == 0 {
				return nil
			}
			r.Cancel() // not now: leave the token to whoever is first when it is there
			wait = min(d, budgetPoll)
			if lane == LaneLive {
				wait = d
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (b *Budget) higherWaiting(lane Lane) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := LaneLive; l < lane; l++ {
		if b.waiting[l] > 0 {
			return true
		}
	}
	return false
}

type laneKey struct{}

// WithLane returns ctx carrying lane, for Budget.Wait.
func WithLane(ctx context.Context, lane Lane) context.Context {
	return context.WithValue(ctx, laneKey{}, lane)
}

// laneOf returns the lane ctx carries; LaneHistory (the lowest) when none.
func laneOf(ctx context.Context) Lane {
	if l, ok := ctx.Value(laneKey{}).(Lane); ok && l >= 0 && int(l) < len(laneNames) {
		return l
	}
	return LaneHistory
}
