package service_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
)

// waitOwnership waits until r's /readyz ownership satisfies ok.
func waitOwnership(t *testing.T, r *running, what string, limit time.Duration, ok func(o *telemetry.Ownership) bool) *telemetry.Ownership {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		o := r.svc.Health().Report().Ownership
		if o != nil && ok(o) {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s (ownership %+v)", what, limit, o)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func owns(id string) func(*telemetry.Ownership) bool {
	return func(o *telemetry.Ownership) bool { return o.Generation > 0 && slices.Equal(o.Owned, []string{id}) }
}

func standsBy(o *telemetry.Ownership) bool { return o.Generation > 0 && len(o.Owned) == 0 }

// TestReplicasHandOverASource runs two services on one source with the
// Kafka checkpoint backend, as a rolling update does: the second joins
// the group as a standby while the first polls; the first stops, the
// second takes the source over from the checkpoint the first saved last.
// Nothing the simulator served is missing from the topic and nothing is
// published twice.
func TestReplicasHandOverASource(t *testing.T) {
	h := newHarness(t, simOptions{})
	cfg := h.config()
	cfg.Checkpoint.Backend = checkpoint.BackendKafka
	cfg.Checkpoint.Topic = kafkatest.TopicName(t) + ".checkpoints"
	cfg.Group.SessionTimeout = 6 * time.Second
	cfg.Group.HeartbeatInterval = 200 * time.Millisecond

	a := h.start(cfg, service.Options{})
	waitOwnership(t, a, "the first replica owns the source", 60*time.Second, owns("default"))
	h.waitCursor(a, t0.Add(time.Hour), 60*time.Second)

	b := h.start(cfg, service.Options{})
	waitOwnership(t, b, "the second replica stands by", 60*time.Second, standsBy)
	waitOwnership(t, a, "the first replica keeps the source", 60*time.Second, owns("default"))
	if !b.svc.Cursor().IsZero() {
		t.Fatalf("the standby polls (cursor %s)", b.svc.Cursor())
	}
	if m := tu.Sum(t, b.reg, "jelou_producer_source_owned", map[string]string{"source": "default"}); m != 0 {
		t.Errorf("standby's source_owned = %v, want 0", m)
	}
	h.waitCursor(a, t0.Add(90*time.Minute), 60*time.Second)
	h.settle(a)
	if err := a.stopAndWait(t); err != nil {
		t.Fatalf("first replica's Run = %v", err)
	}
	stopped := h.clk.Now()
	abandoned := h.abandoned()

	o := waitOwnership(t, b, "the standby takes the source over", 60*time.Second, owns("default"))
	if m := tu.Sum(t, b.reg, "jelou_producer_group_generation", nil); int64(m) != o.Generation {
		t.Errorf("group_generation = %v, /readyz says %d", m, o.Generation)
	}
	h.waitCursor(b, stopped.Add(30*time.Minute), 60*time.Second)
	served := h.settle(b)
	if err := b.stopAndWait(t); err != nil {
		t.Fatalf("second replica's Run = %v", err)
	}
	got := pairCounts(h.readTopic())
	assertNoneMissing(t, served, got)
	assertAbandonedRecovered(t, abandoned, got)
	assertNoRepeats(t, got)
	t.Logf("%d records; the standby took over at generation %d", len(h.readTopic()), o.Generation)
}
