package e2e

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// pair is one (conversation id, state).
type pair struct{ id, state string }

func (p pair) String() string { return p.id + "/" + p.state }

// pairSet is a set of pairs.
type pairSet map[pair]struct{}

func (s pairSet) add(p pair)      { s[p] = struct{}{} }
func (s pairSet) has(p pair) bool { _, ok := s[p]; return ok }
func (s pairSet) minus(o pairSet) []pair {
	var out []pair
	for p := range s {
		if !o.has(p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// splitMissing splits pairs served but not published into terminal ones
// (lost) and the number of active ones (vanished: an active state may end
// while no producer polls, and then it is gone for good).
func splitMissing(missing []pair) (terminal []pair, vanished int) {
	for _, pp := range missing {
		if pp.state == "active" {
			vanished++
			continue
		}
		terminal = append(terminal, pp)
	}
	return terminal, vanished
}

// topicReport is what a full read of the topic shows.
type topicReport struct {
	records int
	pairs   map[pair]int // records per pair
	repeats int          // records beyond the first of their pair
	badIDs  []string     // records whose id is not event.ID(subject, state)
	events  map[pair]*event.Event
}

// analyze decodes the topic's content into pairs and checks event ids:
// every record of a pair must carry event.ID(conversation, state), so a
// repeat has the same id as the original.
func analyze(recs []published) topicReport {
	r := topicReport{records: len(recs), pairs: map[pair]int{}, events: map[pair]*event.Event{}}
	for _, rec := range recs {
		ev := rec.Event
		p := pair{ev.Subject, string(ev.Data.State)}
		if want := event.ID(ev.Subject, ev.Data.State); ev.ID != want {
			r.badIDs = append(r.badIDs, fmt.Sprintf("%s: id %s, want %s", p, ev.ID, want))
		}
		if r.pairs[p] > 0 {
			r.repeats++
		} else {
			r.events[p] = ev
		}
		r.pairs[p]++
	}
	return r
}

// set returns the distinct pairs published.
func (r topicReport) set() pairSet {
	s := make(pairSet, len(r.pairs))
	for p := range r.pairs {
		s.add(p)
	}
	return s
}

// startOf reads a simulated conversation's start from its Mongo-like id
// (the first four bytes are the start, in Unix seconds).
func startOf(id string) time.Time {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 12 {
		return time.Time{}
	}
	return time.Unix(int64(b[0])<<24|int64(b[1])<<16|int64(b[2])<<8|int64(b[3]), 0).UTC()
}

// expectedPairs is what the producer must have published by the end of a
// run that started polling at from, given the pairs servable as of asOf
// (the end of the run less a grace period covering the settle period and
// the revisit cadence): every terminal pair servable by asOf, and every
// active pair servable by asOf that stayed active until end, of
// conversations started at or after from. An active state that came and
// went between two polls may legitimately be missed; those are judged by the
// served oracle instead.
func expectedPairs(servable []jelousim.ServablePair, from, end time.Time) pairSet {
	out := make(pairSet)
	for _, p := range servable {
		if startOf(p.ID).Before(from) {
			continue
		}
		if p.Until.IsZero() || p.Until.After(end) {
			out.add(pair{p.ID, string(p.State)})
		}
	}
	return out
}

// checkIDs fails the test when a record carries another id than the
// deterministic one of its pair.
func checkIDs(t *testing.T, r topicReport) {
	t.Helper()
	if len(r.badIDs) > 0 {
		t.Errorf("%d records carry a wrong event id, e.g. %s", len(r.badIDs), r.badIDs[0])
	}
}

// checkLost fails the test when want holds pairs not published, naming a
// few of them with what the simulator says of them, and what was
// published of their conversation.
func checkLost(t *testing.T, what string, want pairSet, rep topicReport, servable []jelousim.ServablePair) int {
	t.Helper()
	lost := want.minus(rep.set())
	if len(lost) == 0 {
		return 0
	}
	t.Errorf("%d of %d %s pairs not published, e.g. %s", len(lost), len(want), what, sample(lost, 5))
	for i, p := range lost {
		if i == 5 {
			break
		}
		for _, sp := range servable {
			if sp.ID == p.id {
				t.Logf("  %s started %s: servable %s from %s until %s", p.id, startOf(p.id).Format(time.RFC3339),
					sp.State, sp.FirstServableAt.Format(time.RFC3339), sp.Until.Format(time.RFC3339))
			}
		}
		for pp, ev := range rep.events {
			if pp.id == p.id {
				t.Logf("  published %s observed %s in window %s", pp.state, ev.Time.Format(time.RFC3339), ev.Data.Window)
			}
		}
	}
	return len(lost)
}

func sample(ps []pair, n int) string {
	var b strings.Builder
	for i, p := range ps {
		if i == n {
			fmt.Fprintf(&b, " …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// result prints the scenario's line of the reliability table.
func result(t *testing.T, scenario, injected string, lost, repeated int, outcome string) {
	t.Helper()
	t.Logf("RESULT | %s | %s | lost %d | repeated %d | %s", scenario, injected, lost, repeated, outcome)
}
