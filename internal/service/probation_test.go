package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
)

// failEvery answers the K-th API request after the previous failure with
// a 404 (a request failure, which stops the source), passing the others
// to the simulator: a source that polls a few windows after each retry,
// then fails again, as a source meeting the same bad row does.
func failEvery(k int64) func(http.ResponseWriter, *http.Request) bool {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1)%k != 0 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"not found"}`))
		return true
	}
}

// stoppedLines returns the fields of logs' "source stopped" lines, in order.
func stoppedLines(t *testing.T, logs *tu.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(logs.String()) {
		if !strings.Contains(l, `"msg":"source stopped`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRetriedSourceOnProbation pins the probation of a retried source. A
// source that completes a few windows after each retry and then fails
// again is never seen healed: /readyz never says ok, source_up stays 0,
// and the delay doubles at each failure (1m, 2m, 4m, 8m), where a heal at
// the first completed window kept it at 1m and flipped source_up 0/1. A
// source that stays healthy after its retry is "retrying" (not ok,
// source_up 0, its failures kept) until it has polled for the delay that
// preceded the retry, then ok once (source_up 1, "source polls again"
// logged once), and its next failure starts again from the first delay.
func TestRetriedSourceOnProbation(t *testing.T) {
	h := newHarness(t, simOptions{count: 500})
	logger, logs := capture()
	opts := service.Options{SourceRetry: time.Minute, SourceRetryMax: 16 * time.Minute, Logger: logger}
	r := h.start(h.config(), opts)
	id := config.DefaultSourceID
	up := func() float64 { return tu.Sum(t, r.reg, "jelou_producer_source_up", map[string]string{"source": id}) }
	h.waitCursor(r, h.clk.Now(), 60*time.Second)

	// From the first failure on, sample source_up and the state at each
	// look (every 20ms of wall time, 24s of the clock's) until the fifth.
	var (
		sawUp []string
		sawOK bool
	)
	h.reqs.setIntercept(failEvery(4))
	waitFor(t, r, 30*time.Second, "first failure", func() bool { return sourceStatus(r, id).Failures >= 1 })
	waitFor(t, r, 30*time.Second, "fifth failure", func() bool {
		st := sourceStatus(r, id)
		if u := up(); u != 0 {
			sawUp = append(sawUp, st.State)
		}
		sawOK = sawOK || st.State == telemetry.SourceOK
		return len(stoppedLines(t, logs)) >= 5
	})
	if len(sawUp) > 0 || sawOK {
		t.Errorf("a source failing shortly after each retry: source_up 1 seen %d times (states %v), ok seen %v; want source_up 0 and never ok", len(sawUp), sawUp, sawOK)
	}
	var delays []string
	for _, l := range stoppedLines(t, logs) {
		delays = append(delays, l["retry_in"].(string))
	}
	if want := "1m0s 2m0s 4m0s 8m0s 16m0s"; len(delays) < 5 || strings.Join(delays[:5], " ") != want {
		t.Errorf("retry delays %v, want %s: each failure after a retry counts as a failure in a row", delays, want)
	}
	if n := h.reqs.byStatus()[http.StatusOK]; n == 0 {
		t.Error("no request answered 200: the retried source never polled")
	}
	if strings.Contains(logs.String(), `"msg":"source polls again"`) {
		t.Error(`"source polls again" logged for a source that fails after each retry`)
	}

	// Healthy from now on: the next retry is on probation for the 16m
	// that preceded it, then ok.
	h.reqs.setIntercept(nil)
	waitFor(t, r, 30*time.Second, "retrying", func() bool { return sourceStatus(r, id).State == telemetry.SourceRetrying })
	onProbation := sourceStatus(r, id)
	if u := up(); u != 0 || onProbation.Failures < 5 || onProbation.Reason != telemetry.FailureRequest || onProbation.Error == "" || onProbation.NextRetry != nil {
		t.Errorf("on probation: source_up %v, /readyz %+v; want 0, the failures (at least 5) kept, the last reason (request) and error, no next retry", u, onProbation)
	}
	if rep := r.svc.Health().Report(); rep.Ready {
		t.Errorf("/readyz ready with its only source retrying: %+v", rep.Checks)
	}
	waitFor(t, r, 30*time.Second, "ok", func() bool { return sourceStatus(r, id).State == telemetry.SourceOK })
	healed := sourceStatus(r, id)
	if u := up(); u != 1 || healed.Failures != 0 {
		t.Errorf("healed: source_up %v, %+v; want 1 and no failures", u, healed)
	}
	if d := healed.Since.Sub(onProbation.Since); d < 16*time.Minute {
		t.Errorf("ok %s after the retry, want at least the 16m probation", d)
	}
	if n := strings.Count(logs.String(), `"msg":"source polls again"`); n != 1 {
		t.Errorf(`"source polls again" logged %d times, want once`, n)
	}
	if !r.svc.Health().Report().Ready {
		t.Errorf("/readyz not ready after the probation: %+v", r.svc.Health().Report().Checks)
	}

	// The failures were forgotten: the next one waits the first delay.
	before := len(stoppedLines(t, logs))
	h.reqs.setIntercept(failEvery(1))
	waitFor(t, r, 30*time.Second, "a failure after the heal", func() bool { return len(stoppedLines(t, logs)) > before })
	h.reqs.setIntercept(nil)
	if l := stoppedLines(t, logs)[before]; l["retry_in"] != "1m0s" || l["failures"] != float64(1) {
		t.Errorf("first failure after the heal: retry_in %v, failures %v; want 1m0s and 1", l["retry_in"], l["failures"])
	}
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
