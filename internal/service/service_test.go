package service_test

import (
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/service"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestRunDayThenRestart runs the service over a simulated day of history
// and two hours of live traffic, stops it, checks the topic against the
// simulator's oracle, then restarts it on the same checkpoint and checks
// that nothing from the past is published again while new pairs keep
// flowing. It runs once per checkpoint backend.
func TestRunDayThenRestart(t *testing.T) {
	for _, backend := range []string{checkpoint.BackendFile, checkpoint.BackendKafka} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{})
			cfg := h.config()
			cfg.Checkpoint.Backend = backend
			cfg.Checkpoint.Topic = kafkatest.TopicName(t) + ".checkpoints"

			// First run: backfill the day, then two live hours.
			r := h.start(cfg, service.Options{})
			h.waitCursor(r, t0.Add(2*time.Hour), 60*time.Second)
			served1 := h.settle(r)
			if err := r.stopAndWait(t); err != nil {
				t.Fatalf("Run after cancel = %v, want nil", err)
			}
			stopped := h.clk.Now()
			evs := h.readTopic()
			got := pairCounts(evs)
			if len(served1) < 1000 {
				t.Fatalf("the simulator served only %d pairs; the test data is too small to mean anything", len(served1))
			}
			assertNoneMissing(t, served1, got)
			assertNoRepeats(t, got)
			assertServable(t, h.sim, stopped, got)
			assertEvents(t, evs)
			if m := tu.Sum(t, r.reg, "jelou_producer_events_published_total", nil); int(m) != len(evs) {
				t.Errorf("events_published_total = %v, want the %d records on the topic", m, len(evs))
			}
			if backend == "file" {
				cp := loadCheckpoint(t, cfg.Checkpoint.Path, r.svc.Source())
				if cp.Cursor.Before(t0.Add(2 * time.Hour)) {
					t.Errorf("saved cursor %s, want at least %s", cp.Cursor, t0.Add(2*time.Hour))
				}
			}

			// Second run on the same checkpoint: nothing from the past is
			// published again, and the stream continues.
			abandoned := h.abandoned()
			r2 := h.start(cfg, service.Options{})
			h.waitCursor(r2, stopped.Add(30*time.Minute), 60*time.Second)
			served2 := h.settle(r2)
			if err := r2.stopAndWait(t); err != nil {
				t.Fatalf("second Run after cancel = %v, want nil", err)
			}
			evs2 := h.readTopic()
			got2 := pairCounts(evs2)
			assertNoneMissing(t, served2, got2)
			assertAbandonedRecovered(t, abandoned, got2)
			assertNoRepeats(t, got2)
			if len(evs2) <= len(evs) {
				t.Errorf("the second run published nothing new (%d records before, %d after)", len(evs), len(evs2))
			}
			t.Logf("run 1: %d events, %d pairs served, %d API requests; run 2: %d more events",
				len(evs), len(served1), len(h.reqs.all()), len(evs2)-len(evs))
		})
	}
}

// assertServable checks the topic against what a perfect poller could have
// seen by asOf: every terminal pair first servable more than the revisit
// cap (1h) plus a margin before asOf, and every active pair still active at
// asOf. Active periods that ended earlier may fall between two polls, and
// on an accelerated clock the gap between polls grows with the machine's
// load; the caller checks those against what was actually served.
func assertServable(t *testing.T, sim *jelousim.Server, asOf time.Time, got map[jelousim.Pair]int) {
	t.Helper()
	limit := asOf.Add(-70 * time.Minute)
	expected, missing := 0, 0
	for p := range sim.ServableSeq(limit) {
		if p.State == jelou.StateActive && !p.Until.IsZero() && p.Until.Before(asOf) {
			continue
		}
		expected++
		if got[jelousim.Pair{ID: p.ID, State: p.State}] == 0 {
			if missing < 5 {
				t.Errorf("servable pair %s/%s (first servable %s) is not on the topic", p.ID, p.State, p.FirstServableAt.Format(time.RFC3339))
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d servable pairs are missing", missing, expected)
	}
}

// assertEvents checks every record: it validates against the published
// schema, its key is its company id, and its id is the deterministic one.
func assertEvents(t *testing.T, evs []topicEvent) {
	t.Helper()
	bad := 0
	for _, e := range evs {
		if err := validateEvent(t, e.value); err != nil {
			t.Errorf("event %s does not validate against %s: %v", e.ev.ID, "the v1 schema", err)
			bad++
		}
		if e.ev.Data.CompanyID == "" || e.key != e.ev.Data.CompanyID {
			t.Errorf("event %s has key %q, want its company id %q", e.ev.ID, e.key, e.ev.Data.CompanyID)
			bad++
		}
		if want := event.ID(e.ev.Subject, e.ev.Data.State); e.ev.ID != want {
			t.Errorf("event of %s/%s has id %s, want %s", e.ev.Subject, e.ev.Data.State, e.ev.ID, want)
			bad++
		}
		if len(e.ev.Data.Problems) > 0 {
			t.Errorf("event %s has problems %q on clean data", e.ev.ID, e.ev.Data.Problems)
			bad++
		}
		if bad > 5 {
			t.Fatal("too many bad events")
		}
	}
}

// TestReadyWhileOnlyHistoryIsBehind: a long history backlog on a small
// request budget keeps the history lane behind for a while; the live lane
// keeps its cadence meanwhile, so /readyz stays ready.
func TestReadyWhileOnlyHistoryIsBehind(t *testing.T) {
	h := newHarness(t, simOptions{speed: 60}) // a simulated minute a second
	cfg := h.config()
	cfg.Jelou.RateLimit, cfg.Jelou.RateBurst = 2, 1
	cfg.Poll.Window = 30 * time.Minute
	cfg.Poll.Interval = 10 * time.Second
	r := h.start(cfg, service.Options{})
	behind, ready := 0, 0
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if tu.Sum(t, r.reg, "jelou_producer_windows_completed_total", map[string]string{"lane": "live"}) == 0 {
			continue // not started yet
		}
		if tu.Sum(t, r.reg, "jelou_producer_lane_backlog_seconds", map[string]string{"lane": "history"}) == 0 {
			continue
		}
		behind++
		if r.svc.Health().Ready() {
			ready++
		}
	}
	if behind < 20 {
		t.Fatalf("history was behind in only %d samples: the test proves nothing", behind)
	}
	if ready != behind {
		t.Fatalf("ready in %d of %d samples taken while only history was behind, want all: %+v", ready, behind, r.svc.Health().Report())
	}
}
