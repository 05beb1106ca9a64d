package poller

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestBudgetPauseHoldsEveryLane: while the budget is paused, no lane's
// Wait returns; each returns once the pause is over. A shorter pause asked
// for later does not end it sooner, and a caller that gives up while
// paused gets its context's error.
func TestBudgetPauseHoldsEveryLane(t *testing.T) {
	const pause = 200 * time.Millisecond
	tests := []struct {
		name  string
		burst int
	}{
		{"no limit", 1},
		{"tokens to spare", len(Lanes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(-1, tt.burst)
			until := time.Now().Add(pause)
			b.Pause(until)
			b.Pause(time.Now().Add(pause / 4)) // earlier: changes nothing
			var wg sync.WaitGroup
			done := make([]time.Time, len(Lanes))
			for i, l := range Lanes {
				wg.Go(func() {
					if err := b.Wait(WithLane(context.Background(), l)); err != nil {
						t.Errorf("%s: %v", l, err)
					}
					done[i] = time.Now()
				})
			}
			wg.Wait()
			for i, l := range Lanes {
				if done[i].Before(until) {
					t.Errorf("%s's request let through %s before the pause ended", l, until.Sub(done[i]))
				}
			}
		})
	}
	t.Run("cancelled while paused", func(t *testing.T) {
		b := NewBudget(-1, 1)
		b.Pause(time.Now().Add(time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait = %v, want the context's deadline", err)
		}
	})
}

// TestRateLimitPausesEveryLane runs a live poller whose lanes share one
// budget and one client against a server that answers its first request
// with 429 and Retry-After: 1: no lane sends anything until the second has
// passed (the poller's own retries of the window included), and the lanes
// carry on after it.
func TestRateLimitPausesEveryLane(t *testing.T) {
	const retryAfter = time.Second
	var (
		mu       sync.Mutex
		limited  time.Time   // when the 429 was sent
		requests []time.Time // every request, 429 included
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		now := time.Now()
		requests = append(requests, now)
		first := limited.IsZero()
		if first {
			limited = now
		}
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"message":"ok","status":"success","results":[],"pagination":{"limit":100,"page":1,"total":0,"offset":0,"totalPages":0},"links":[]}`)
	}))
	defer srv.Close()

	// 5 requests a second: no other request takes a token in the 200 ms
	// after the 429 was sent, so none is in flight when it arrives.
	budget := NewBudget(5, 1)
	client, err := jelou.New(jelou.Config{
		BaseURL:     srv.URL,
		Credentials: jelou.Credentials{ClientID: "id", ClientSecret: "secret"},
		Limiter:     budget,
		Retry:       jelou.RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsedTime: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, err := New(Config{
		Source: "s", Start: now.Add(-24 * time.Hour), Window: time.Hour, Interval: 100 * time.Millisecond,
		Settle: 10 * time.Minute, Concurrency: 4, Budget: budget,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
	}, client, noWrite{}, &countingStore{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), retryAfter+500*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if limited.IsZero() {
		t.Fatal("no request was sent")
	}
	end := limited.Add(retryAfter)
	during, after := 0, 0
	for _, r := range requests {
		switch {
		case r.After(limited) && r.Before(end):
			during++
		case !r.Before(end):
			after++
		}
	}
	t.Logf("%d requests before the 429, %d during its pause, %d after", len(requests)-1-during-after, during, after)
	if during > 0 {
		t.Errorf("%d requests sent during the Retry-After pause, want none", during)
	}
	if after == 0 {
		t.Error("no request sent after the pause: the lanes did not carry on")
	}
}
