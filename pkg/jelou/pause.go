package jelou

import (
	"context"
	"sync"
	"time"
)

// pauseGate gives a Limiter without a Pause method one: Wait first waits
// out the pause, then asks the limiter. It is the client's own, so it holds
// back that client's requests only.
type pauseGate struct {
	Limiter

	mu    sync.Mutex
	until time.Time
}

// pausable returns l itself when it is a Pauser, else l behind a pauseGate.
func pausable(l Limiter) Pauser {
	if p, ok := l.(Pauser); ok {
		return p
	}
	return &pauseGate{Limiter: l}
}

// Pause holds back every Wait until until, unless a later instant is set.
func (g *pauseGate) Pause(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
}

// Wait blocks until the pause is over and the limiter lets the request go,
// or ctx ends.
func (g *pauseGate) Wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		d := time.Until(g.until)
		g.mu.Unlock()
		if d <= 0 {
			return g.Limiter.Wait(ctx)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
