package poller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Budget is the API request budget the lanes share: a token bucket
// (golang.org/x/time/rate) whose waiting requests are served by lane, live
// first. A request of a lower lane takes a token only when it is available
// at once and no higher lane is waiting; otherwise it gives the token back
// and waits again, so a live request waits at most for the next token,
// whatever the other lanes have queued. Lanes are ranked by their
// LaneSpec.Priority (the order of [Lanes]). It implements jelou.Limiter; the
// lane comes from the request's context (see WithLane).
//
// It also implements jelou.Pauser: after a 429, the client pauses the
// budget until the response's Retry-After ends (capped by the client's
// jelou.RetryConfig.MaxRetryAfter), and no request of any lane is let
// through before then, the poller's retries of a failed window included,
// since every request of the source takes its token here.
type Budget struct {
	lim *rate.Limiter

	mu      sync.Mutex
	waiting []int     // by Lane
	until   time.Time // no request goes before it; see Pause
}

// NewBudget returns a budget of perSecond requests per second with the
// given burst (at least 1). perSecond < 0 means no limit.
func NewBudget(perSecond float64, burst int) *Budget {
	burst = max(burst, 1)
	limit := rate.Inf
	if perSecond >= 0 {
		limit = rate.Limit(perSecond)
	}
	return &Budget{lim: rate.NewLimiter(limit, burst), waiting: make([]int, len(laneTable))}
}

// PerSecond returns the budget's requests per second; -1 when it has no
// limit (also for a nil Budget).
func (b *Budget) PerSecond() float64 {
	if b == nil || b.lim.Limit() == rate.Inf {
		return -1
	}
	return float64(b.lim.Limit())
}

// Pause holds back every lane's requests until until. An instant earlier
// than one already set changes nothing: the longest pause asked for wins.
func (b *Budget) Pause(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until.After(b.until) {
		b.until = until
	}
}

// pausedUntil returns the instant the budget is paused until; zero when it
// was never paused. A past instant means it is not paused now.
func (b *Budget) pausedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.until
}

// budgetPoll bounds how long a lower lane sleeps before it looks again.
const budgetPoll = 20 * time.Millisecond

// Wait blocks until the request of ctx's lane may be sent, or ctx ends:
// after the pause (see Pause), when the lanes before it are not waiting and
// a token is there.
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
		if paused := time.Until(b.pausedUntil()); paused > 0 {
			wait = paused // every lane looks again when the pause ends
		} else if !b.higherWaiting(lane) {
			r := b.lim.Reserve()
			d := r.Delay()
			if d == 0 {
				if n, ok := ctx.Value(countKey{}).(*atomic.Int64); ok {
					n.Add(1)
				}
				return nil
			}
			r.Cancel() // not now: leave the token to whoever is first when it is there
			wait = min(d, budgetPoll)
			if lane == Lanes[0] {
				wait = d // nothing can overtake the first lane
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
	for _, l := range Lanes {
		if l == lane {
			return false
		}
		if b.waiting[l] > 0 {
			return true
		}
	}
	return false
}

type laneKey struct{}

type countKey struct{}

// withRequestCount returns ctx carrying n: Budget.Wait adds one to it for
// each request of ctx let through (retries included), so the poller
// counts what a query cost.
func withRequestCount(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, countKey{}, n)
}

// WithLane returns ctx carrying lane, for Budget.Wait.
func WithLane(ctx context.Context, lane Lane) context.Context {
	return context.WithValue(ctx, laneKey{}, lane)
}

// laneOf returns the lane ctx carries; the last of [Lanes] (the lowest
// priority) when none.
func laneOf(ctx context.Context) Lane {
	if l, ok := ctx.Value(laneKey{}).(Lane); ok && l >= 0 && int(l) < len(laneTable) {
		return l
	}
	return Lanes[len(Lanes)-1]
}
