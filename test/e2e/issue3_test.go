package e2e

import (
	"fmt"
	"math"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestUninterruptedRun is issue 3's "done when": against the simulator
// with late rows, state changes, pagination drift and random API faults,
// an uninterrupted run (a day of backfill, then hours of live polling)
// publishes every pair the simulator served and every pair it could have
// served a grace period before the end, none twice, captures state changes
// of conversations started 10+ hours earlier, and stays within the
// documented bound on API requests.
func TestUninterruptedRun(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	const faults = "429=0.02,500=0.02,502=0.01,truncated=0.01,drift=0.03"
	live := 3 * time.Hour // simulated time polled live
	if *longRun {
		live = 8 * time.Hour
	}
	s := startSim(t, dir, simOptions{Count: 6000, Speed: 600, Faults: faults, Seed: 3})
	b := startBroker(t, dir)
	p := newProducer(t, dir, s, b, nil)
	defer p.checkSecret()
	started := s.Now()
	pr := p.start()
	p.waitLive(pr, 1, 2*time.Minute)
	end := s.Now().Add(live)

	asOf := end.Add(-s.grace())
	s.waitUntil(asOf)
	servedEarly := s.served()
	s.waitUntil(end)
	if !pr.running() {
		t.Fatalf("producer exited early (code %d)", pr.exitCode())
	}
	code, took, err := pr.signal(syscall.SIGTERM, 30*time.Second)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d after %s, %v", code, took, err)
	}
	stats := s.stats()

	rep := analyze(b.readTopic(p.topic()))
	checkIDs(t, rep)
	from := clockStart.Add(-24 * time.Hour)
	servable := s.servable(asOf)
	want := expectedPairs(servable, from, end)
	lost := checkLost(t, "servable", want, rep, servable)
	lost += checkLost(t, "served", servedEarly, rep, servable)
	if rep.repeats > 0 {
		t.Errorf("%d records repeat a pair in an uninterrupted run", rep.repeats)
	}

	// State changes of conversations that started 10+ hours before, seen
	// while the producer ran: published as active first, then terminal.
	changes := 0
	for pr, ev := range rep.events {
		if ev.Data.PreviousState != jelou.StateActive || !jelou.State(pr.state).Terminal() {
			continue
		}
		if ev.Data.EndAt.Sub(ev.Data.StartAt) >= 10*time.Hour && ev.Data.EndAt.After(started) {
			changes++
		}
	}
	if changes == 0 {
		t.Errorf("no state change of a conversation started 10+ hours earlier was published")
	}

	bound := requestBound(p, servable, from, started, end, stats)
	if stats.Requests > int64(bound.total) {
		t.Errorf("%d API requests, above the bound %s", stats.Requests, bound)
	}
	t.Logf("requests: %d (by status %v), bound %s", stats.Requests, stats.ByStatus, bound)
	result(t, "uninterrupted run (issue 3)",
		fmt.Sprintf("%s of backfill + %s live at x600; faults %s (%d injected); %d pairs expected",
			24*time.Hour, live, faults, sumFaults(stats), len(want)),
		lost, rep.repeats,
		fmt.Sprintf("%d records; %d long-lived state changes captured; %d API requests ≤ bound %d", rep.records, changes, stats.Requests, bound.total))
}

// bound is the documented ceiling on API requests for a run, term by term.
type bound struct {
	forward, live, revisit, faults, total int
}

func (b bound) String() string {
	return fmt.Sprintf("%d (forward %d + live %d + revisits %d + faults %d)", b.total, b.forward, b.live, b.revisit, b.faults)
}

// requestBound derives the most API requests a run from `started` to `end`
// (simulated) may make:
//
//	forward  = ⌈span/W⌉+1 windows × P
//	live     = (⌈run/I⌉+1) ticks × (⌈(S+2I)/W⌉+1) pieces × P
//	revisits = Σ over W-buckets of (⌈D/clamp(age/8, RI, 1h)⌉ + 2) × P
//	faults   = injected faults and 429s × (2P+1)
//
// with W = POLL_WINDOW, I = POLL_INTERVAL, S = POLL_SETTLE, RI =
// POLL_REVISIT_INTERVAL, D the run time, age a bucket's age at the start,
// and P the most pages of one window: ⌈most conversations started in one
// W-bucket / page size⌉. A fault costs a retry; drift costs a re-fetch and a
// split.
func requestBound(p *producer, servable []jelousim.ServablePair, from, started, end time.Time, st jelousim.Stats) bound {
	dur := func(k string) time.Duration {
		d, err := time.ParseDuration(p.env[k])
		if err != nil {
			p.t.Fatalf("%s: %v", k, err)
		}
		return d
	}
	w, interval, settle := dur("POLL_WINDOW"), dur("POLL_INTERVAL"), dur("POLL_SETTLE")
	ri := 5 * time.Minute // POLL_REVISIT_INTERVAL default
	if v, ok := p.env["POLL_REVISIT_INTERVAL"]; ok {
		ri, _ = time.ParseDuration(v)
	}
	pageSize := 100
	if v, ok := p.env["JELOU_PAGE_SIZE"]; ok {
		pageSize, _ = strconv.Atoi(v)
	}
	perBucket := map[time.Time]int{}
	seen := map[string]bool{}
	for _, sp := range servable {
		if !seen[sp.ID] {
			seen[sp.ID] = true
			perBucket[startOf(sp.ID).Truncate(w)]++
		}
	}
	most := 0
	for _, n := range perBucket {
		most = max(most, n)
	}
	pages := max(1, int(math.Ceil(float64(most)/float64(pageSize))))
	ceil := func(a, b time.Duration) int { return int((a + b - 1) / b) }

	var bd bound
	bd.forward = (ceil(end.Sub(from), w) + 1) * pages
	bd.live = (ceil(end.Sub(started), interval) + 1) * (ceil(settle+2*interval, w) + 1) * pages
	run := end.Sub(started)
	for k := from.Truncate(w); k.Before(end); k = k.Add(w) {
		age := started.Sub(k.Add(w))
		every := min(max(age/8, ri), time.Hour)
		bd.revisit += (ceil(run, every) + 2) * pages
	}
	bd.faults = (sumFaults(st) + int(st.RateLimited)) * (2*pages + 1)
	bd.total = bd.forward + bd.live + bd.revisit + bd.faults
	return bd
}

func sumFaults(st jelousim.Stats) int {
	n := int64(0)
	for _, v := range st.Faults {
		n += v
	}
	return int(n)
}
