package jelou

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pauseRecorder is a Pauser that lets every request go and keeps the
// instants it was paused until.
type pauseRecorder struct {
	mu     sync.Mutex
	pauses []time.Time
}

func (p *pauseRecorder) Wait(context.Context) error { return nil }

func (p *pauseRecorder) Pause(until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pauses = append(p.pauses, until)
}

// TestRateLimitPausesTheLimiter: a 429's Retry-After, whatever its form,
// pauses a Pauser limiter until it ends, capped by MaxRetryAfter (an
// overflowing value is the cap), and RequestInfo reports the pause. The
// request itself gives up at once when the pause ends past MaxElapsedTime.
func TestRateLimitPausesTheLimiter(t *testing.T) {
	const capped = 10 * time.Second
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration // 0: no pause
	}{
		{"delta-seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"HTTP-date", http.Header{"Retry-After": {"Tue, 10 Jun 2025 12:00:02 GMT"}, "Date": {"Tue, 10 Jun 2025 12:00:00 GMT"}}, 2 * time.Second},
		{"over the cap", http.Header{"Retry-After": {"3600"}}, capped},
		{"overflowing int64", http.Header{"Retry-After": {"99999999999999999999"}}, capped},
		{"past date", http.Header{"Retry-After": {"Tue, 10 Jun 2025 11:00:00 GMT"}, "Date": {"Tue, 10 Jun 2025 12:00:00 GMT"}}, 0},
		{"negative", http.Header{"Retry-After": {"-3"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"absent", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(http.StatusTooManyRequests)
			}
			lim := &pauseRecorder{}
			c, rec := setup(t, http.HandlerFunc(h), func(c *Config) {
				c.Limiter = lim
				c.Retry.MaxRetryAfter = capped
				c.Retry.MaxElapsedTime = 100 * time.Millisecond
				c.Retry.MaxAttempts = 0
				if tt.want == 0 {
					c.Retry.MaxAttempts = 1
				}
			})
			before := time.Now()
			_, err := c.FetchPage(context.Background(), testWindow, 1)
			after := time.Now()
			wantType[*RateLimitError](t, err)
			if tt.want == 0 {
				if len(lim.pauses) != 0 || rec.requests[0].Pause != 0 {
					t.Errorf("paused until %v (RequestInfo.Pause %s), want no pause", lim.pauses, rec.requests[0].Pause)
				}
				return
			}
			if calls.Load() != 1 {
				t.Errorf("server saw %d requests, want 1: a pause past MaxElapsedTime ends the request at once", calls.Load())
			}
			if len(lim.pauses) != 1 {
				t.Fatalf("paused %d times, want once", len(lim.pauses))
			}
			if until := lim.pauses[0]; until.Before(before.Add(tt.want)) || until.After(after.Add(tt.want)) {
				t.Errorf("paused until %s after the request, want %s", until.Sub(before), tt.want)
			}
			if got := rec.requests[0].Pause; got != tt.want {
				t.Errorf("RequestInfo.Pause = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestNextRequestWaitsOutRetryAfter: a Retry-After longer than
// MaxElapsedTime ends the request with the 429, and the client's next
// request (the caller's retry) is not sent before the Retry-After ends,
// with the client's own limiter.
func TestNextRequestWaitsOutRetryAfter(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []time.Time
	)
	h := func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		seen = append(seen, time.Now())
		first := len(seen) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write(readTestdata(t, "page_message_string.json"))
	}
	c, _ := setup(t, http.HandlerFunc(h), func(c *Config) {
		c.Retry.MaxElapsedTime = 100 * time.Millisecond
		c.Retry.MaxAttempts = 0
	})
	if _, err := c.FetchPage(context.Background(), testWindow, 1); err == nil {
		t.Fatal("the 429 was not returned: the Retry-After is past MaxElapsedTime")
	}
	if _, err := c.FetchPage(context.Background(), testWindow, 1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	if gap := seen[1].Sub(seen[0]); gap < time.Second {
		t.Errorf("next request sent %s after the 429, before its Retry-After of 1s", gap)
	}
}
