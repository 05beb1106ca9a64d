package service_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestRunBadRows injects malformed rows and bodies into the first pages of
// a backfill and checks the documented outcome of each (docs/testing.md: "Bad
// input"): the service keeps running, every event still validates against
// the schema, nothing the API served intact is lost or repeated, and each
// bad row is either published with its raw bytes and problems, or skipped
// and counted under a reason.
func TestRunBadRows(t *testing.T) {
	const injected = 3
	tests := []struct {
		kind jelousim.FaultKind
		// check verifies the outcome; bad holds the events whose data
		// lists problems or whose state is not a documented one.
		check func(t *testing.T, r *running, bad []topicEvent)
	}{
		{jelousim.FaultMissingID, func(t *testing.T, r *running, bad []topicEvent) {
			wantRejected(t, r, poller.RejectMissingID, injected)
			wantNoBad(t, bad)
		}},
		{jelousim.FaultMissingState, func(t *testing.T, r *running, bad []topicEvent) {
			wantRejected(t, r, poller.RejectMissingState, injected)
			wantNoBad(t, bad)
		}},
		{jelousim.FaultUnknownState, func(t *testing.T, r *running, bad []topicEvent) {
			if len(bad) != injected {
				t.Fatalf("%d events with an unknown state or problems, want %d", len(bad), injected)
			}
			for _, e := range bad {
				if e.ev.Data.State != "pending" || !strings.Contains(string(e.ev.Data.Conversation), `"state":"pending"`) {
					t.Errorf("event %s: state %q, raw %s; want the unknown state kept as received", e.ev.ID, e.ev.Data.State, e.ev.Data.Conversation)
				}
			}
			if n := tu.Sum(t, r.reg, "jelou_producer_events_published_total", map[string]string{"state": "other"}); n != injected {
				t.Errorf("events_published_total{state=other} = %v, want %d", n, injected)
			}
		}},
		{jelousim.FaultWrongTypes, func(t *testing.T, r *running, bad []topicEvent) {
			wantProblems(t, bad, injected, "company.id: number, expected a string", "timeRepliedOperator")
			for _, e := range bad {
				if e.key == event.FallbackKey || e.key != e.ev.Data.CompanyID {
					t.Errorf("event %s keyed %q, want the numeric company id kept as text (%q)", e.ev.ID, e.key, e.ev.Data.CompanyID)
				}
			}
		}},
		{jelousim.FaultAbsurdDates, func(t *testing.T, r *running, bad []topicEvent) {
			wantProblems(t, bad, injected, "startAt", "endAt")
			for _, e := range bad {
				if !e.ev.Data.StartAt.IsZero() || !e.ev.Data.EndAt.IsZero() {
					t.Errorf("event %s: startAt %v endAt %v, want both null", e.ev.ID, e.ev.Data.StartAt, e.ev.Data.EndAt)
				}
			}
		}},
		{jelousim.FaultDuplicateRow, func(t *testing.T, r *running, bad []topicEvent) {
			wantNoBad(t, bad)
			if n := tu.Sum(t, r.reg, "jelou_producer_duplicates_skipped_total", nil); n < injected {
				t.Errorf("duplicates_skipped_total = %v, want at least %d", n, injected)
			}
		}},
		{jelousim.FaultEmptyResults, func(t *testing.T, r *running, bad []topicEvent) {
			wantNoBad(t, bad)
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 1000})
			if err := h.sim.InjectNext(jelousim.Fault{Kind: tt.kind}, injected); err != nil {
				t.Fatal(err)
			}
			r := h.start(h.config(), service.Options{})
			h.waitCursor(r, t0.Add(10*time.Minute), 60*time.Second)
			served := h.settle(r)
			if err := r.stopAndWait(t); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			if n := h.sim.Stats().Faults[tt.kind]; n != injected {
				t.Fatalf("the simulator injected %d %s faults, want %d", n, tt.kind, injected)
			}
			evs := h.readTopic()
			got := pairCounts(evs)
			assertNoneMissing(t, served, got)
			assertNoRepeats(t, got)
			var bad []topicEvent
			for _, e := range evs {
				if err := validateEvent(t, e.value); err != nil {
					t.Errorf("event %s does not validate: %v\n%s", e.ev.ID, err, e.value)
				}
				if len(e.ev.Data.Problems) > 0 || !e.ev.Data.State.Known() {
					bad = append(bad, e)
				}
			}
			tt.check(t, r, bad)
		})
	}
}

// TestRunBodyOverCapOnce sends one response larger than
// JELOU_MAX_BODY_BYTES: the client refuses to read it, the poller splits
// the window instead of stopping, and nothing is lost or repeated.
func TestRunBodyOverCapOnce(t *testing.T) {
	h := newHarness(t, simOptions{count: 1000})
	if err := h.sim.InjectNext(jelousim.Fault{Kind: jelousim.FaultOversized, Size: 3 << 20}, 1); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	cfg.Jelou.MaxBodyBytes = 1 << 20
	r := h.start(cfg, service.Options{})
	h.waitCursor(r, t0.Add(10*time.Minute), 60*time.Second)
	served := h.settle(r)
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v, want nil: a body too large splits the window", err)
	}
	if n := h.sim.Stats().Faults[jelousim.FaultOversized]; n != 1 {
		t.Fatalf("the simulator sent %d oversized bodies, want 1", n)
	}
	got := pairCounts(h.readTopic())
	assertNoneMissing(t, served, got)
	assertNoRepeats(t, got)
}

// TestRunBodyOverCap answers every request with a body larger than
// JELOU_MAX_BODY_BYTES, whatever its window and page size: once the window
// is as narrow as allowed and asks for one row a page, the source is held
// failed (reason response) with an error naming the limit while Run goes
// on, and after the stop the checkpoint's cursor has not passed the window
// of the first such response.
func TestRunBodyOverCap(t *testing.T) {
	h := newHarness(t, simOptions{count: 1000})
	if err := h.sim.InjectNext(jelousim.Fault{Kind: jelousim.FaultOversized, Size: 3 << 20}, 1000); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	cfg.Jelou.MaxBodyBytes = 1 << 20
	logger, logs := capture()
	// No retry within the test: it would use up the queued faults.
	r := h.start(cfg, service.Options{Logger: logger, SourceRetry: 24 * time.Hour, SourceRetryMax: 24 * time.Hour})
	heldFailed(t, r, logs, config.DefaultSourceID, telemetry.FailureResponse, "1048576")
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v, want nil at the stop", err)
	}
	// The recorder logs a request when its handler returns, which for the
	// oversized body can be after the client gave up on it: wait for it.
	var window *jelou.Window
	for deadline := time.Now().Add(10 * time.Second); window == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, q := range h.reqs.all() {
			if q.declared > 1<<20 {
				var body struct{ StartAt time.Time }
				if err := json.Unmarshal([]byte(q.key[strings.Index(q.key, " ")+1:]), &body); err != nil {
					t.Fatal(err)
				}
				window = &jelou.Window{Start: body.StartAt}
			}
		}
	}
	if window == nil {
		t.Fatal("no oversized response was sent")
	}
	cp := loadCheckpoint(t, cfg.Checkpoint.Path, r.svc.Source())
	if cp.Cursor.After(window.Start) {
		t.Errorf("checkpoint cursor %s passed the start %s of the window whose body was too large", cp.Cursor, window.Start)
	}
}

func wantRejected(t *testing.T, r *running, reason string, want int) {
	t.Helper()
	if n := tu.Sum(t, r.reg, "jelou_producer_rows_rejected_total", map[string]string{"reason": reason}); n != float64(want) {
		t.Errorf("rows_rejected_total{reason=%q} = %v, want %d", reason, n, want)
	}
}

func wantNoBad(t *testing.T, bad []topicEvent) {
	t.Helper()
	for _, e := range bad {
		t.Errorf("event %s published with state %q and problems %q", e.ev.ID, e.ev.Data.State, e.ev.Data.Problems)
	}
}

// wantProblems checks that n events carry problems mentioning each of
// subs, and keep the raw row.
func wantProblems(t *testing.T, bad []topicEvent, n int, subs ...string) {
	t.Helper()
	if len(bad) != n {
		t.Fatalf("%d events with problems, want %d", len(bad), n)
	}
	for _, e := range bad {
		all := strings.Join(e.ev.Data.Problems, "; ")
		for _, s := range subs {
			if !strings.Contains(all, s) {
				t.Errorf("event %s problems %q do not mention %q", e.ev.ID, all, s)
			}
		}
		if !json.Valid(e.ev.Data.Conversation) || !strings.Contains(string(e.ev.Data.Conversation), `"_id":"`+e.ev.Subject+`"`) {
			t.Errorf("event %s does not carry its raw row: %s", e.ev.ID, e.ev.Data.Conversation)
		}
	}
}
