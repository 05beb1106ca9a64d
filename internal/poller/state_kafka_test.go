package poller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// compacted is the configuration of the state and watermark topics.
var compacted = map[string]string{"cleanup.policy": "compact"}

// TestStateTopicAndWatermarksOnRealKafka runs a live source over the
// simulated API on a real broker with the state topic and watermarks on,
// stopped cleanly and restarted half way, and checks against the
// simulator's record of what it served: the state topic holds exactly the
// latest state of every conversation served (the same record as its event,
// keyed by _id), never an earlier state after a later one; the watermarks
// only advance, across the restart too; every event of a conversation
// that started before a watermark (state changes included) is below its
// offsets, and every conversation the dataset holds that started before
// it is there in its final state.
func TestStateTopicAndWatermarksOnRealKafka(t *testing.T) {
	start := time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)
	const speed = 1200 // 20 simulated minutes per real second
	clk := clock.NewScaled(start, speed)
	from := start.Add(-5 * time.Hour)
	h := newHarness(t, jelousim.Config{
		Data: jelousim.DataConfig{Seed: 9, Start: from, End: start.Add(3 * time.Hour), Count: 1500, LateRatio: 0.3, LongLivedRatio: -1, ActiveMin: time.Minute, ActiveMax: 40 * time.Minute},
	}, clk)
	ctx := context.Background()
	stateTopic, wmTopic := kafkatest.Topic(t, 3, compacted), kafkatest.Topic(t, 1, compacted)
	statePub, err := publish.New(ctx, publish.Config{Brokers: h.brokers, Topic: stateTopic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = statePub.Close() })
	wmPub, err := publish.New(ctx, publish.Config{Brokers: h.brokers, Topic: wmTopic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wmPub.Close() })
	cfg := poller.Config{
		Start: from, Window: time.Hour, Interval: time.Minute, Lag: 30 * time.Second,
		Settle: jelousim.MaxAttendDelay, Revisit: 48 * time.Hour, RevisitInterval: 5 * time.Minute, Concurrency: 2,
		CheckpointInterval: 20 * time.Millisecond,
		State:              statePub, Watermarks: wmPub, EventOffsets: h.pub.EndOffsets, EventTopic: h.topic,
	}

	// First life: stopped cleanly.
	first := h.newPoller(t, cfg, 100)
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- first.Run(runCtx) }()
	time.Sleep(clk.Real(2 * time.Hour))
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("first run: %v", err)
	}
	firstMarks := len(h.watermarks(t, wmTopic))

	// Second life, from the checkpoint; stopped by revoking the
	// credentials, so that every row the API served was published.
	second := h.newPoller(t, cfg, 100)
	go func() { errc <- second.Run(ctx) }()
	time.Sleep(clk.Real(2 * time.Hour))
	h.sim.Revoke()
	select {
	case err := <-errc:
		var auth *jelou.AuthError
		if !errors.As(err, &auth) {
			t.Fatalf("second run = %v, want a *jelou.AuthError after the revoke", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the poller did not stop after its credentials were revoked")
	}
	h.checkServedOnceEach(t, h.onTopic(t))

	// The event topic, by (id, state), and where each event is.
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	eventRecs, err := kafkatest.ReadAll(rctx, h.brokers, h.topic)
	if err != nil {
		t.Fatal(err)
	}
	type decoded struct {
		rec event.Record
		ev  *event.Event
	}
	events := map[pair]decoded{}
	for _, r := range eventRecs {
		e, err := r.Event()
		if err != nil {
			t.Fatal(err)
		}
		events[pair{e.Subject, e.Data.State}] = decoded{r, e}
	}

	// The state topic: every conversation served, in its latest state,
	// never back.
	latest := map[string]jelou.State{}
	for p := range h.sim.ServedSeq() {
		if cur, ok := latest[p.ID]; !ok || !cur.Terminal() {
			latest[p.ID] = p.State
		}
	}
	stateRecs, err := kafkatest.ReadAll(rctx, h.brokers, stateTopic)
	if err != nil {
		t.Fatal(err)
	}
	onState := map[string]jelou.State{}
	for _, r := range stateRecs {
		e, err := r.Event()
		if err != nil {
			t.Fatalf("state record at %d/%d does not decode: %v", r.Partition, r.Offset, err)
		}
		if string(r.Key) != e.Subject {
			t.Fatalf("state record keyed %q, want the conversation id %q", r.Key, e.Subject)
		}
		if prev, ok := onState[e.Subject]; ok && prev.Terminal() && !e.Data.State.Terminal() {
			t.Errorf("conversation %s went back from %s to %s on the state topic", e.Subject, prev, e.Data.State)
		}
		onState[e.Subject] = e.Data.State
		if ev, ok := events[pair{e.Subject, e.Data.State}]; !ok || string(ev.rec.Value) != string(r.Value) {
			t.Errorf("state record of (%s, %s) is not its event's record", e.Subject, e.Data.State)
		}
	}
	for id, st := range latest {
		if onState[id] != st {
			t.Errorf("conversation %s is %q on the state topic, its latest state served is %q", id, onState[id], st)
		}
	}
	if len(onState) != len(latest) {
		t.Errorf("the state topic holds %d conversations, the API served %d", len(onState), len(latest))
	}

	// The watermarks.
	marks := h.watermarks(t, wmTopic)
	if firstMarks == 0 || len(marks) <= firstMarks {
		t.Fatalf("%d watermarks in the first life, %d in all: the test proves nothing", firstMarks, len(marks))
	}
	ds := h.sim.Dataset()
	for i, w := range marks {
		if i > 0 && !w.CompleteBefore.After(marks[i-1].CompleteBefore) {
			t.Errorf("watermark %d at %v does not move past %v", i, w.CompleteBefore, marks[i-1].CompleteBefore)
		}
		end := map[int]int64{}
		for _, o := range w.Offsets {
			end[o.Partition] = o.Offset
		}
		for _, d := range events {
			if d.ev.Data.StartAt.Before(w.CompleteBefore) && d.rec.Offset >= end[d.rec.Partition] {
				t.Errorf("event (%s, %s) started %v, before watermark %v, but is at %d/%d, not below its offset %d",
					d.ev.Subject, d.ev.Data.State, d.ev.Data.StartAt, w.CompleteBefore, d.rec.Partition, d.rec.Offset, end[d.rec.Partition])
			}
		}
	}
	last := marks[len(marks)-1]
	covered := 0
	for i := range ds.Len() {
		c := ds.Conversation(i)
		if c.Start.Before(from) || !c.Start.Before(last.CompleteBefore) {
			continue
		}
		covered++
		d, ok := events[pair{c.ID, c.FinalState}]
		if !ok {
			t.Errorf("conversation %s started %v, before the last watermark %v, has no event of its final state %s", c.ID, c.Start, last.CompleteBefore, c.FinalState)
			continue
		}
		if !c.Transition.Before(d.ev.Time) && !c.Transition.Equal(d.ev.Time) {
			t.Errorf("conversation %s published %s at %v, before it changed at %v", c.ID, c.FinalState, d.ev.Time, c.Transition)
		}
	}
	t.Logf("%d watermarks (%d in the first life), the last at %v covering %d conversations; state topic: %d records, %d conversations",
		len(marks), firstMarks, last.CompleteBefore, covered, len(stateRecs), len(onState))
}

// watermarks reads the watermark topic (one partition) in order.
func (h *harness) watermarks(t *testing.T, topic string) []*event.Watermark {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, h.brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*event.Watermark, 0, len(recs))
	for _, r := range recs {
		w, err := event.DecodeWatermark(r.Value, r.Headers)
		if err != nil {
			t.Fatalf("watermark at %d: %v", r.Offset, err)
		}
		if w.Topic != h.topic || string(r.Key) != "test-source" {
			t.Fatalf("watermark %+v keyed %q", w, r.Key)
		}
		out = append(out, w)
	}
	return out
}
