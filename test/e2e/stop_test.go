package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestCleanStop sends SIGTERM during a backfill with many windows in
// flight: the producer must exit 0 within SHUTDOWN_TIMEOUT, and after a
// restart nothing is lost and nothing is published twice.
func TestCleanStop(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	const shutdown = 5 * time.Second
	s := startSim(t, dir, simOptions{Count: 20000, Speed: 60, Latency: 300 * time.Millisecond, Seed: 7})
	b := startBroker(t, dir)
	p := newProducer(t, dir, s, b, map[string]string{
		"POLL_WINDOW":         "15m",
		"POLL_CONCURRENCY":    "8",
		"JELOU_RATE_LIMIT":    "100",
		"JELOU_RATE_BURST":    "8",
		"CHECKPOINT_INTERVAL": "5s",
		"SHUTDOWN_TIMEOUT":    shutdown.String(),
	})
	defer p.checkSecret()

	pr := p.start()
	// Wait until the backfill is well under way: windows done, more in flight.
	deadline := time.Now().Add(time.Minute)
	for windowsDone(pr, "history") < 8 {
		if time.Now().After(deadline) || !pr.running() {
			t.Fatalf("backfill did not start:\n%s", tail(pr.log, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
	doneBefore := windowsDone(pr, "history")
	code, took, err := pr.signal(syscall.SIGTERM, shutdown)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM during the backfill: exit %d after %s (SHUTDOWN_TIMEOUT %s), %v\n%s", code, took, shutdown, err, tail(pr.log, 10))
	}
	cp := p.checkpoint()
	if cp == nil {
		t.Fatal("no checkpoint saved on SIGTERM")
	}
	firstLife := analyze(b.readTopic(p.topic()))

	// Restart without the added latency (it only served to keep windows in
	// flight): it resumes from the checkpoint, catches up, revisits and
	// polls live; then stops cleanly again.
	s.post("/_sim/faults", map[string]any{"latency": "0s", "jitter": "0s"})
	asOf := s.Now()
	servedBefore := s.served()
	pr = p.start()
	waitSweep(t, pr, 2*time.Minute)
	s.waitUntil(s.Now().Add(3 * time.Minute))
	end := s.Now()
	if code, took, err := pr.signal(syscall.SIGTERM, shutdown); err != nil || code != 0 {
		t.Fatalf("second SIGTERM: exit %d after %s, %v", code, took, err)
	}

	rep := analyze(b.readTopic(p.topic()))
	checkIDs(t, rep)
	got := rep.set()
	servable := s.servable(asOf)
	want := expectedPairs(servable, clockStart.Add(-24*time.Hour), end)
	lost := checkLost(t, "servable", want, rep, servable)
	vanished := 0
	for _, pp := range servedBefore.minus(got) {
		if pp.state != "active" {
			t.Errorf("terminal pair %s served before the restart was never published", pp)
			lost++
			continue
		}
		vanished++
	}
	if rep.repeats > 0 {
		t.Errorf("%d records repeat a pair after a clean stop and restart", rep.repeats)
	}
	result(t, "clean stop",
		fmt.Sprintf("SIGTERM during a backfill (%d windows done, up to 8 in flight, 300 ms API latency), restart", doneBefore),
		lost, rep.repeats,
		fmt.Sprintf("exit 0 after %s (SHUTDOWN_TIMEOUT %s); first life %d records, checkpoint cursor %s; %d records in all; %d active states vanished while down",
			took.Round(time.Millisecond), shutdown, firstLife.records, cp.Cursor.UTC().Format(time.RFC3339), rep.records, vanished))
}
