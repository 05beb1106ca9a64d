package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBrokerDown stops the broker for 35 real seconds in the live phase and
// starts it again on the same address with the same data: the producer
// must keep running, report not ready (kafka) while it is down, not advance
// its checkpoint, and resume by itself with nothing lost.
func TestBrokerDown(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	b := startBroker(t, dir)
	if b.external {
		t.Skip("KAFKA_TEST_BROKERS is set: the external broker cannot be stopped by the test")
	}
	down := 35 * time.Second
	if *longRun {
		down = 2 * time.Minute
	}
	s := startSim(t, dir, simOptions{Count: 5000, Speed: 600, Seed: 11})
	p := newProducer(t, dir, s, b, map[string]string{"KAFKA_WRITE_TIMEOUT": "2s"})
	defer p.checkSecret()
	pr := p.start()
	p.waitLive(pr, 3, 2*time.Minute)
	if code, body := p.readyz(); code != 200 {
		t.Fatalf("/readyz before the outage: %d %s", code, body)
	}

	b.stop()
	stopped := time.Now()
	var cpEarly, cpLate = p.checkpoint(), p.checkpoint()
	notReady, kafkaReported := 0, false
	checkedEarly := false
	for time.Since(stopped) < down {
		if !pr.running() {
			t.Fatalf("producer exited while the broker was down (code %d):\n%s", pr.exitCode(), tail(pr.log, 10))
		}
		if code, body := p.readyz(); code != 200 {
			notReady++
			if strings.Contains(body, `"name": "kafka"`) && kafkaCheckFailed(body) {
				kafkaReported = true
			}
		}
		if !checkedEarly && time.Since(stopped) > 5*time.Second {
			// Any save in flight when the broker stopped is done by now.
			cpEarly, checkedEarly = p.checkpoint(), true
		}
		time.Sleep(500 * time.Millisecond)
	}
	cpLate = p.checkpoint()
	if !cpLate.Cursor.Equal(cpEarly.Cursor) {
		t.Errorf("checkpoint cursor moved from %s to %s while the broker was down", cpEarly.Cursor, cpLate.Cursor)
	}
	if notReady == 0 || !kafkaReported {
		t.Errorf("/readyz while the broker was down: %d not-ready answers, kafka check failing reported: %v", notReady, kafkaReported)
	}

	b.restart()
	restarted := time.Now()
	for {
		cp := p.checkpoint()
		code, _ := p.readyz()
		if cp.Cursor.After(cpLate.Cursor) && code == 200 {
			break
		}
		if !pr.running() {
			t.Fatalf("producer exited after the broker came back (code %d):\n%s", pr.exitCode(), tail(pr.log, 10))
		}
		if time.Since(restarted) > 3*time.Minute {
			t.Fatalf("no recovery 3 minutes after the broker came back (cursor %s, /readyz %d)", cp.Cursor, code)
		}
		time.Sleep(500 * time.Millisecond)
	}
	recovered := time.Since(restarted)

	// Keep polling long enough for every state to be judged.
	grace := s.grace()
	s.waitUntil(s.Now().Add(grace + 20*time.Minute))
	end := s.Now()
	asOf := end.Add(-grace)
	if code, took, err := pr.signal(syscall.SIGTERM, 30*time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d after %s, %v", code, took, err)
	}
	rep := analyze(b.readTopic(p.topic()))
	checkIDs(t, rep)
	servable := s.servable(asOf)
	want := expectedPairs(servable, clockStart.Add(-24*time.Hour), end)
	lost := checkLost(t, "servable", want, rep, servable)
	result(t, "broker down",
		fmt.Sprintf("jelou-kafka stopped %s mid-run, restarted on the same address and data dir", down),
		lost, rep.repeats,
		fmt.Sprintf("kept running; /readyz not ready %d times (kafka check failing); checkpoint cursor held at %s; resumed by itself %s after the broker returned; %d records",
			notReady, cpLate.Cursor.UTC().Format(time.RFC3339), recovered.Round(100*time.Millisecond), rep.records))
}

// kafkaCheckFailed reports whether a /readyz body shows the kafka check
// not ok.
func kafkaCheckFailed(body string) bool {
	i := strings.Index(body, `"name": "kafka"`)
	if i < 0 {
		return false
	}
	rest := body[i:]
	if j := strings.Index(rest, "}"); j >= 0 {
		rest = rest[:j]
	}
	return strings.Contains(rest, `"ok": false`)
}
