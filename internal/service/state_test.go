package service_test

import (
	"context"
	"strings"
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

// readWatermarks reads the watermark topic in order (one source: one key,
// one partition, in the order written).
func (h *harness) readWatermarks(topic string) []*event.Watermark {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, h.brokers, topic)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*event.Watermark
	for _, r := range recs {
		w, err := event.DecodeWatermark(r.Value, r.Headers)
		if err != nil {
			h.t.Fatalf("watermark at %d/%d: %v", r.Partition, r.Offset, err)
		}
		if w.Topic != h.topic || string(r.Key) != w.Subject {
			h.t.Fatalf("watermark %+v keyed %q", w, r.Key)
		}
		out = append(out, w)
	}
	return out
}

// TestReplicasKeepStateAndWatermarks hands a source over between two
// replicas (Kafka checkpoint backend) with the state and watermark topics
// on, created compacted by KAFKA_TOPIC_CREATE: the watermarks written by
// both owners only move forward, every event of a conversation started
// before a watermark is below its offsets, and the state topic never takes
// a conversation back and ends with the latest state of every conversation
// on the event topic.
func TestReplicasKeepStateAndWatermarks(t *testing.T) {
	h := newHarness(t, simOptions{count: 2000, config: jelousim.Config{Data: jelousim.DataConfig{LongLivedRatio: -1, ActiveMin: time.Minute, ActiveMax: 40 * time.Minute}}})
	cfg := h.config()
	cfg.Poll.StartAt.At = t0.Add(-6 * time.Hour)
	cfg.Checkpoint.Backend = checkpoint.BackendKafka
	cfg.Checkpoint.Topic = kafkatest.TopicName(t) + ".checkpoints"
	cfg.Group.SessionTimeout = 6 * time.Second
	cfg.Group.HeartbeatInterval = 200 * time.Millisecond
	cfg.Kafka.TopicCreate = true
	cfg.Kafka.StateTopic = kafkatest.TopicName(t) + ".state"
	cfg.Kafka.WatermarkTopic = kafkatest.TopicName(t) + ".watermarks"

	a := h.start(cfg, service.Options{})
	waitOwnership(t, a, "the first replica owns the source", 60*time.Second, owns("default"))
	b := h.start(cfg, service.Options{})
	waitOwnership(t, b, "the second replica stands by", 60*time.Second, standsBy)
	h.waitCursor(a, t0.Add(time.Hour), 60*time.Second)
	h.settle(a)
	if err := a.stopAndWait(t); err != nil {
		t.Fatalf("first replica's Run = %v", err)
	}
	before := len(h.readWatermarks(cfg.Kafka.WatermarkTopic))
	stopped := h.clk.Now()
	waitOwnership(t, b, "the standby takes the source over", 60*time.Second, owns("default"))
	h.waitCursor(b, stopped.Add(2*time.Hour), 60*time.Second)
	h.settle(b)
	if m := tu.Gauge(t, b.reg, "jelou_producer_watermark_complete_before_timestamp_seconds", "source", "default"); m == 0 {
		t.Error("the new owner's watermark gauge is not set")
	}
	if err := b.stopAndWait(t); err != nil {
		t.Fatalf("second replica's Run = %v", err)
	}

	marks := h.readWatermarks(cfg.Kafka.WatermarkTopic)
	if before == 0 || len(marks) <= before {
		t.Fatalf("%d watermarks by the first owner, %d in all: the test proves nothing", before, len(marks))
	}
	events := h.readTopic()
	for i, w := range marks {
		if i > 0 && !w.CompleteBefore.After(marks[i-1].CompleteBefore) {
			t.Errorf("watermark %d (%v) does not move past the one before (%v); the owner changed after %d", i, w.CompleteBefore, marks[i-1].CompleteBefore, before)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, h.brokers, h.topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		e, err := r.Event()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range marks {
			if e.Data.StartAt.Before(w.CompleteBefore) && r.Offset >= offsetOf(w, r.Partition) {
				t.Errorf("event (%s, %s) started %v, before watermark %v, is at %d/%d, not below %d", e.Subject, e.Data.State, e.Data.StartAt, w.CompleteBefore, r.Partition, r.Offset, offsetOf(w, r.Partition))
			}
		}
	}

	latest := map[string]jelou.State{}
	for _, e := range events {
		if cur, ok := latest[e.ev.Subject]; !ok || !cur.Terminal() {
			latest[e.ev.Subject] = e.ev.Data.State
		}
	}
	onState := map[string]jelou.State{}
	for _, e := range h.readTopicOf(cfg.Kafka.StateTopic) {
		if e.key != e.ev.Subject {
			t.Fatalf("state record keyed %q, want %q", e.key, e.ev.Subject)
		}
		if prev := onState[e.key]; prev.Terminal() && !e.ev.Data.State.Terminal() {
			t.Errorf("conversation %s went back from %s to %s on the state topic", e.key, prev, e.ev.Data.State)
		}
		onState[e.key] = e.ev.Data.State
	}
	for id, st := range latest {
		if onState[id] != st {
			t.Errorf("conversation %s is %q on the state topic, %q on the event topic", id, onState[id], st)
		}
	}
	if len(onState) != len(latest) {
		t.Errorf("state topic: %d conversations, event topic: %d", len(onState), len(latest))
	}
	t.Logf("%d watermarks (%d before the handover), last %v; %d conversations", len(marks), before, marks[len(marks)-1].CompleteBefore, len(onState))
}

func offsetOf(w *event.Watermark, partition int) int64 {
	for _, o := range w.Offsets {
		if o.Partition == partition {
			return o.Offset
		}
	}
	return 0
}

// TestStateTopicMustBeCompacted: a state or watermark topic that exists
// without compaction stops the start-up with an error naming it.
func TestStateTopicMustBeCompacted(t *testing.T) {
	for _, which := range []string{"state", "watermark"} {
		t.Run(which, func(t *testing.T) {
			h := newHarness(t, simOptions{count: 10})
			cfg := h.config()
			topic := kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "delete"})
			if which == "state" {
				cfg.Kafka.StateTopic = topic
			} else {
				cfg.Kafka.WatermarkTopic = topic
			}
			_, err := h.tryStart(cfg, service.Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, s := range []string{which + " topic", topic, "cleanup.policy=delete", "want compact"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestCheckStateAndWatermarkTopics: `check` fails on a missing or
// uncompacted state or watermark topic, and passes once both are compacted.
func TestCheckStateAndWatermarkTopics(t *testing.T) {
	h := newHarness(t, simOptions{count: 10})
	cfg := h.config()
	cfg.Kafka.StateTopic = kafkatest.TopicName(t)
	cfg.Kafka.WatermarkTopic = kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "delete"})
	var report strings.Builder
	err := service.Check(context.Background(), cfg, &report)
	if err == nil || !strings.Contains(err.Error(), "state topic") || !strings.Contains(err.Error(), "does not exist") ||
		!strings.Contains(err.Error(), "watermark topic") || !strings.Contains(err.Error(), "want compact") {
		t.Fatalf("check = %v\n%s", err, report.String())
	}
	cfg.Kafka.StateTopic = kafkatest.Topic(t, 3, map[string]string{"cleanup.policy": "compact"})
	cfg.Kafka.WatermarkTopic = kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "compact"})
	report.Reset()
	if err := service.Check(context.Background(), cfg, &report); err != nil || !strings.Contains(report.String(), "state topic") || !strings.Contains(report.String(), "is compacted") {
		t.Fatalf("check = %v\n%s", err, report.String())
	}
}
