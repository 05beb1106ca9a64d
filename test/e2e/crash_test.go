package e2e

import (
	"fmt"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
)

// TestCrashAnywhere kills the producer with SIGKILL at random moments of a
// backfill and of the live phase, restarting it each time, with each
// checkpoint backend. Nothing may be lost; every repeat must carry the
// original's event id; and a repeat after a crash must be a pair that the
// checkpoint the restart loaded did not hold as acknowledged (work in
// flight since the last save), never one before it.
func TestCrashAnywhere(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	kills := 10 // per backend: 20 in all
	if *longRun {
		kills = 50
	}
	for _, backend := range []string{"file", "kafka"} {
		t.Run(backend, func(t *testing.T) { crashRun(t, backend, kills) })
	}
}

// life is what one killed producer process left behind.
type life struct {
	phase      string                 // backfill, live, or startup (nothing logged yet)
	watermarks map[int]int64          // topic high watermarks after the kill
	cp         *checkpoint.Checkpoint // checkpoint after the kill
	sinceSave  time.Duration          // wall time from the last save to the kill
}

func crashRun(t *testing.T, backend string, kills int) {
	dir := testDir(t)
	rng := newRand(t)
	s := startSim(t, dir, simOptions{Count: 20000, Speed: 120, Faults: "500=0.01", Latency: 5 * time.Millisecond, Seed: 5})
	b := startBroker(t, dir)
	p := newProducer(t, dir, s, b, map[string]string{
		"CHECKPOINT_BACKEND":  backend,
		"CHECKPOINT_INTERVAL": "500ms",
		"POLL_WINDOW":         "15m",
		// Long enough that late rows of windows first polled during the
		// (killed, restarted) backfill are still re-polled once live.
		"POLL_SETTLE":      "2h",
		"JELOU_RATE_LIMIT": "40",
	})
	defer p.checkSecret()

	var lives []life
	for i := 0; i < kills; i++ {
		pr := p.start()
		if i >= kills/2 {
			// The second half of the kills lands in the live phase: after
			// the life's first live window (it then revisits every bucket).
			p.waitLive(pr, 1, 2*time.Minute)
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		} else {
			if i == 0 {
				// The first kill lands in the backfill for sure.
				waitForward(t, pr, time.Minute)
			}
			time.Sleep(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		}
		if !pr.running() {
			t.Fatalf("%s exited by itself (code %d):\n%s", pr.name, pr.exitCode(), tail(pr.log, 20))
		}
		pr.kill()
		killed := time.Now()
		// Let the broker finish any request the dead process had sent.
		time.Sleep(100 * time.Millisecond)
		l := life{phase: phaseOf(pr), watermarks: b.watermarks(p.topic()), cp: p.checkpoint()}
		if l.cp != nil {
			l.sinceSave = killed.Sub(s.wallOf(l.cp.SavedAt)).Round(10 * time.Millisecond)
		}
		lives = append(lives, l)
	}

	// The last life runs until its first revisit sweep (every bucket of
	// non-terminal conversations, as after any start) and a few live ticks
	// are done, then stops cleanly.
	asOf := s.Now()
	servedBefore := s.served()
	pr := p.start()
	waitSweep(t, pr, 2*time.Minute)
	s.waitUntil(s.Now().Add(3 * time.Minute))
	end := s.Now()
	if code, took, err := pr.signal(syscall.SIGTERM, 30*time.Second); err != nil || code != 0 {
		t.Fatalf("final SIGTERM: exit %d after %s, %v", code, took, err)
	}

	recs := b.readTopic(p.topic())
	rep := analyze(recs)
	checkIDs(t, rep)
	got := rep.set()
	servable := s.servable(asOf)
	want := expectedPairs(servable, clockStart.Add(-24*time.Hour), end)
	lost := checkLost(t, "servable", want, rep, servable)
	// Served before the last start but never published: only an active
	// state that ended while no producer ran may be gone for good.
	lostServed, vanished := splitMissing(servedBefore.minus(got))
	if len(lostServed) > 0 {
		t.Errorf("%d terminal pairs served before the last start were never published, e.g. %s", len(lostServed), sample(lostServed, 5))
	}
	lost += len(lostServed)

	// Attribute each record to the life that wrote it, then judge every
	// repeat against the checkpoint its life started from.
	byLife := make([][]pair, len(lives)+1)
	for _, r := range recs {
		k := len(lives)
		for i, l := range lives {
			if r.Offset < l.watermarks[r.Partition] {
				k = i
				break
			}
		}
		byLife[k] = append(byLife[k], pair{r.Event.Subject, string(r.Event.Data.State)})
	}
	seen := make(pairSet)
	var perCrash []int
	maxInFlight := 0
	phases := map[string]int{}
	var detail []string // phase:repeats/in-flight per crash
	for k, ps := range byLife {
		var before []pair
		if k > 0 {
			for pp := range seen {
				before = append(before, pp)
			}
		}
		var acked pairSet
		if k > 0 {
			acked = ackedIn(t, lives[k-1].cp, before)
			maxInFlight = max(maxInFlight, len(before)-len(acked))
			phases[lives[k-1].phase]++
		}
		inLife := make(pairSet)
		repeats := 0
		for _, pp := range ps {
			if inLife.has(pp) {
				t.Errorf("life %d published %s twice", k+1, pp)
			}
			inLife.add(pp)
			if !seen.has(pp) {
				continue
			}
			repeats++
			if acked.has(pp) {
				t.Errorf("life %d repeated %s, which the checkpoint it loaded held as acknowledged", k+1, pp)
			}
		}
		if k > 0 {
			perCrash = append(perCrash, repeats)
			detail = append(detail, fmt.Sprintf("%s:%d/%d(%s)", lives[k-1].phase, repeats, len(before)-len(acked), lives[k-1].sinceSave))
		}
		for pp := range inLife {
			seen.add(pp)
		}
	}
	sort.Ints(perCrash)
	total := 0
	for _, n := range perCrash {
		total += n
	}
	if total != rep.repeats {
		t.Errorf("repeats by life add up to %d, the topic holds %d", total, rep.repeats)
	}
	t.Logf("per crash, phase:repeats/unsaved(time since the last save): %v", detail)
	result(t, "crash anywhere, "+backend+" checkpoint",
		fmt.Sprintf("%d SIGKILLs at random moments (%d backfill, %d live, %d startup), restart each time; 500=0.01", kills, phases["backfill"], phases["live"], phases["startup"]),
		lost, rep.repeats,
		fmt.Sprintf("%d records, %d pairs expected; repeats per crash max %d (in-flight bound max %d), all with the original id; %d active states vanished while down", rep.records, len(want), perCrash[len(perCrash)-1], maxInFlight, vanished))
	if phases["backfill"] == 0 || phases["live"] == 0 {
		t.Errorf("kills by phase %v: want some in the backfill and some in the live phase", phases)
	}
}

// phaseOf tells where a killed life was: backfill (its history lane had
// not caught up), live (it had), or startup (no window done yet).
func phaseOf(pr *proc) string {
	phase := "startup"
	for _, l := range logs(pr) {
		switch {
		case l.Msg == "caught up":
			return "live"
		case l.Msg == "window done":
			phase = "backfill"
		}
	}
	return phase
}

// waitForward waits until a life completed its first forward window.
func waitForward(t *testing.T, pr *proc, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for windowsDone(pr, "history") == 0 {
		if !pr.running() || time.Now().After(deadline) {
			t.Fatalf("%s completed no forward window:\n%s", pr.name, tail(pr.log, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSweep waits until a life finished its first revisit sweep (every
// bucket of non-terminal conversations, as after any start): the
// "revisit sweep done" log line.
func waitSweep(t *testing.T, pr *proc, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, l := range logs(pr) {
			if l.Msg == "revisit sweep done" {
				return
			}
		}
		if !pr.running() {
			t.Fatalf("%s exited (code %d):\n%s", pr.name, pr.exitCode(), tail(pr.log, 20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not finish a revisit sweep within %s:\n%s", pr.name, limit, tail(pr.log, 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
