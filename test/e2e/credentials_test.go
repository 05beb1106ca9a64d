package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
)

// TestCredentialsRevoked revokes the API credentials of a single source in
// the live phase. Under the failure rule (docs/guarantees.md, "Failure
// isolation": only credentials rejected at start-up exit 3), the source is
// held failed with reason auth (/readyz 503 naming auth and the 401,
// source_up 0) and retried with backoff while the process keeps running:
// few 401s (no retry storm), one ERROR log line about the credentials per
// failure, and SIGTERM then ends it with exit 0. The heal by a rotated
// secret file is TestSourceRevokedHeals'.
func TestCredentialsRevoked(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	s := startSim(t, dir, simOptions{Count: 3000, Speed: 60, Seed: 13})
	b := startBroker(t, dir)
	p := newProducer(t, dir, s, b, nil)
	defer p.checkSecret()
	pr := p.start()
	p.waitLive(pr, 2, 2*time.Minute)

	before := s.stats()
	s.revoke()
	id := config.DefaultSourceID
	var failed telemetry.SourceStatus
	var readyz string
	toFail := waitFor(t, pr, time.Minute, "the source held failed with reason auth, /readyz 503", func() bool {
		failed = p.sources()[id]
		code, body := p.readyz()
		readyz = body
		return failed.State == telemetry.SourceFailed && failed.Reason == telemetry.FailureAuth && code == http.StatusServiceUnavailable
	})
	if !strings.Contains(readyz, `"auth"`) || !strings.Contains(readyz, "401") {
		t.Errorf("/readyz %s, want it to name reason auth and the 401", readyz)
	}
	if up := p.metric("jelou_producer_source_up", "source", id); up != 0 {
		t.Errorf("source_up{%s} = %v while held failed, want 0", id, up)
	}
	atFail := s.stats().ByStatus[401] - before.ByStatus[401]
	failuresAtFail := p.metric("jelou_producer_source_failures_total", "source", id, "reason", telemetry.FailureAuth)
	// Let it be retried a few times: 30 s, 1 min, 2 min, 4 min of its clock.
	s.waitUntil(s.Now().Add(8 * time.Minute))
	if !pr.running() {
		t.Fatalf("the process exited (code %d) after the credentials were revoked:\n%s", pr.exitCode(), tail(pr.log, 20))
	}
	st := p.sources()[id]
	up := p.metric("jelou_producer_source_up", "source", id)
	failures := p.metric("jelou_producer_source_failures_total", "source", id, "reason", telemetry.FailureAuth)
	if st.State == telemetry.SourceOK || up != 0 || failures < 2 {
		t.Errorf("8 min after the revocation: %s %q, source_up %v, source_failures_total{auth} %v; want not ok, 0, at least 2 (retried)", id, st.State, up, failures)
	}
	// A try sees a 401 on each request its lanes (live, settle, revisit)
	// have in flight when the first one is rejected: one to three, and no
	// more, since the try stops there (no retry storm).
	unauthorized := s.stats().ByStatus[401] - before.ByStatus[401]
	retries := failures - failuresAtFail
	perRetry := float64(unauthorized-atFail) / max(retries, 1)
	if atFail < 1 || atFail > 6 || retries < 1 || perRetry > 3 {
		t.Errorf("the simulator answered %d requests with 401 by the first failure, %d over %v retries; want 1 to 6, then at most 3 a retry (no retry storm)", atFail, unauthorized-atFail, retries)
	}
	code, _, err := pr.signal(syscall.SIGTERM, 30*time.Second)
	if err != nil || code != 0 {
		t.Errorf("on SIGTERM: exit %d, %v; want 0", code, err)
	}

	var clear []string
	for _, l := range logs(pr) {
		if strings.Contains(l.raw, "credentials") || strings.Contains(l.raw, "client secret") {
			clear = append(clear, l.raw)
		}
	}
	errorLines := 0
	for _, l := range clear {
		if strings.Contains(l, `"level":"ERROR"`) {
			errorLines++
		}
	}
	if errorLines < int(failures) || errorLines > int(failures)+1 {
		t.Errorf("%d ERROR log lines about the credentials for %v failures (counted before SIGTERM), want one a failure:\n%s", errorLines, failures, strings.Join(clear, "\n"))
	}
	result(t, "credentials revoked",
		"POST /_sim/credentials {revoke} in the live phase, one source, ×60",
		0, 0,
		fmt.Sprintf("held failed (reason auth, /readyz 503 naming auth and the 401, source_up 0) %s after the revocation; over 8 simulated min %v failures (retried at 30 s, 1 min, 2 min, …), %d requests got 401 (%d by the first failure, %.1f a retry after), %d ERROR log lines about the credentials; the process kept running and exited %d on SIGTERM",
			toFail.Round(10*time.Millisecond), failures, unauthorized, atFail, perRetry, errorLines, code))
}
