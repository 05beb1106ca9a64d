package service_test

import (
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/service"
)

// minBackoff is below the API client's shortest jittered backoff (500ms
// initial interval, randomization factor 0.5): a retry sooner than this
// after a failure did not back off.
const minBackoff = 200 * time.Millisecond

// TestRunAPITrouble injects bursts of API failures into the first requests
// of a backfill (and random ones throughout, in the mixed case), runs into
// the live phase and checks that nothing the API served is missing, nothing
// is repeated, and every retry of a failed request waited at least its
// Retry-After, or the client's backoff when there was none.
func TestRunAPITrouble(t *testing.T) {
	tests := []struct {
		name    string
		faults  []jelousim.QueuedFault
		rates   jelousim.FaultRates
		timeout time.Duration // JELOU_TIMEOUT; default 5s
	}{
		{name: "429 with Retry-After seconds", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultRateLimit, RetryAfter: 2 * time.Second}, Count: 3}}},
		{name: "429 with Retry-After HTTP date", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultRateLimit, RetryAfter: 2 * time.Second, RetryAfterForm: jelousim.RetryAfterDate}, Count: 3}}},
		{name: "429 without Retry-After", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultRateLimit, RetryAfterForm: jelousim.RetryAfterNone}, Count: 4}}},
		{name: "500 burst", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultInternal}, Count: 6}}},
		{name: "HTML 502 and 503", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultBadGateway}, Count: 3},
			{Fault: jelousim.Fault{Kind: jelousim.FaultUnavailable, RetryAfter: time.Second}, Count: 2}}},
		{name: "timeouts", timeout: time.Second, faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultSlowBody, Delay: 3 * time.Second}, Count: 2}}},
		{name: "truncated bodies", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultTruncated}, Count: 4}}},
		{name: "slow bodies within the timeout", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultSlowBody, Delay: 400 * time.Millisecond}, Count: 3}}},
		{name: "total drifts mid-window", faults: []jelousim.QueuedFault{
			{Fault: jelousim.Fault{Kind: jelousim.FaultDrift, Rows: 5}, Count: 3},
			{Fault: jelousim.Fault{Kind: jelousim.FaultDrift, Rows: -3}, Count: 3}}},
		{name: "random mix", rates: jelousim.FaultRates{
			jelousim.FaultRateLimit: 0.04, jelousim.FaultInternal: 0.04, jelousim.FaultBadGateway: 0.02,
			jelousim.FaultTruncated: 0.02, jelousim.FaultDrift: 0.03}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 1500})
			for _, f := range tt.faults {
				if err := h.sim.InjectNext(f.Fault, f.Count); err != nil {
					t.Fatal(err)
				}
			}
			if tt.rates != nil {
				if err := h.sim.SetFaultRates(tt.rates); err != nil {
					t.Fatal(err)
				}
			}
			cfg := h.config()
			if tt.timeout > 0 {
				cfg.Jelou.Timeout = tt.timeout
			}
			r := h.start(cfg, service.Options{})
			h.waitCursor(r, t0.Add(15*time.Minute), 60*time.Second)
			served := h.settle(r)
			if err := r.stopAndWait(t); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			stats := h.sim.Stats()
			injected := int64(0)
			for _, n := range stats.Faults {
				injected += n
			}
			if injected == 0 {
				t.Fatal("no fault was injected; the test proves nothing")
			}
			got := pairCounts(h.readTopic())
			assertNoneMissing(t, served, got)
			assertNoRepeats(t, got)
			reqs := h.reqs.all()
			retries := assertBackoff(t, reqs, max(cfg.Jelou.Timeout, 0))
			t.Logf("%d requests (%v), %d faults %v, %d retries checked, %d pairs served",
				len(reqs), h.reqs.byStatus(), injected, stats.Faults, retries, len(served))
		})
	}
}

// assertBackoff checks every failed request that was tried again (the next
// request with the same window and page): the retry came no sooner than
// the Retry-After of a 429, or than the client's shortest backoff
// after other failures, or, for a response cut short by the client's
// timeout, than the timeout plus that backoff. It returns how many retries
// it checked.
func assertBackoff(t *testing.T, reqs []apiRequest, timeout time.Duration) int {
	t.Helper()
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].start.Before(reqs[j].start) })
	checked := 0
	for i, r := range reqs {
		if !r.failed() {
			continue
		}
		var next *apiRequest
		for j := i + 1; j < len(reqs); j++ {
			if reqs[j].key == r.key {
				next = &reqs[j]
				break
			}
		}
		if next == nil {
			continue
		}
		checked++
		var gap, want time.Duration
		switch {
		case r.status == http.StatusTooManyRequests || r.status >= 500:
			// Retry-After is honoured on 429 and on 5xx (503s carry one).
			gap, want = next.start.Sub(r.end), max(minBackoff, retryAfter(r))
		case r.status != http.StatusOK:
			gap, want = next.start.Sub(r.end), minBackoff
		case r.timedOut(timeout):
			gap, want = next.start.Sub(r.start), timeout+minBackoff
		default: // a body cut short
			gap, want = next.start.Sub(r.end), minBackoff
		}
		if gap < want {
			t.Errorf("request %q failed (status %d, Retry-After %q) and was retried %s later, want at least %s",
				r.key, r.status, r.retryAfter, gap, want)
		}
	}
	return checked
}

// retryAfter is the wait a response's Retry-After asked for, measured
// from the end of the response. An HTTP date from the simulator is at least
// the delay it stands for after the response (it is rounded up); 100ms of
// slack covers the time between the simulator's clock read and the end.
func retryAfter(r apiRequest) time.Duration {
	if r.retryAfter == "" {
		return 0
	}
	if s, err := strconv.Atoi(r.retryAfter); err == nil {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(r.retryAfter); err == nil {
		return at.Sub(r.end) - 100*time.Millisecond
	}
	return 0
}
