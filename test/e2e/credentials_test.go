package e2e

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCredentialsRevoked revokes the API credentials in the live phase: the
// producer must stop polling, say so in one clear log line, and exit with
// code 3 without spinning (a small number of 401s).
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

	// Watch /readyz as closely as possible until the process is gone: the
	// jelou_auth check is failing only between the 401 and the exit.
	var sawAuth atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for pr.running() {
			if code, body := p.readyz(); code == 503 && strings.Contains(body, "jelou_auth") && strings.Contains(body, "401") {
				sawAuth.Store(true)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	before := s.stats()
	s.revoke()
	if err := pr.wait(time.Minute); err != nil {
		t.Fatalf("still running a minute after the credentials were revoked:\n%s", tail(pr.log, 10))
	}
	wg.Wait()
	code := pr.exitCode()
	if code != 3 {
		t.Errorf("exit code %d after the credentials were revoked, want 3", code)
	}
	time.Sleep(500 * time.Millisecond)
	after := s.stats()
	unauthorized := after.ByStatus[401] - before.ByStatus[401]
	if unauthorized < 1 || unauthorized > 2 {
		t.Errorf("the simulator answered %d requests with 401, want 1 or 2 (no retry storm)", unauthorized)
	}

	var clear []string
	for _, l := range logs(pr) {
		if strings.Contains(l.Msg, "credentials") {
			clear = append(clear, l.raw)
		}
	}
	if len(clear) != 1 || !strings.Contains(clear[0], `"level":"ERROR"`) {
		t.Errorf("want one ERROR log line about the credentials, got %d:\n%s", len(clear), strings.Join(clear, "\n"))
	}
	result(t, "credentials revoked",
		"POST /_sim/credentials {revoke} in the live phase",
		0, 0,
		fmt.Sprintf("exit %d; %d requests got 401; %d log line names the credentials; /readyz jelou_auth failure observed before exit: %v",
			code, unauthorized, len(clear), sawAuth.Load()))
}
