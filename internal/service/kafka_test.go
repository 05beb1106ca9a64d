package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
)

// TestNewKafkaStartupErrors checks that New refuses to start, with one
// error naming what is wrong, when the topic is missing (and may not be
// created) or the broker cannot be reached.
func TestNewKafkaStartupErrors(t *testing.T) {
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	tests := []struct {
		name string
		edit func(t *testing.T, cfg *config.Config)
		kind publish.Kind
		want []string // substrings of the error
	}{
		{
			name: "missing topic",
			edit: func(t *testing.T, cfg *config.Config) {
				cfg.Kafka.Topic = kafkatest.TopicName(t)
				cfg.Kafka.TopicCreate = false
			},
			kind: publish.KindTopic,
			want: []string{"does not exist", "KAFKA_TOPIC_CREATE"},
		},
		{
			name: "unreachable broker",
			edit: func(t *testing.T, cfg *config.Config) {
				cfg.Kafka.Brokers = config.HostPorts{closedPort(t)}
			},
			kind: publish.KindUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 10})
			cfg := h.config()
			tt.edit(t, &cfg)
			done := make(chan error, 1)
			go func() {
				_, err := h.tryStart(cfg, service.Options{})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("New did not return within a minute")
			}
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if k := publish.KindOf(err); k != tt.kind {
				t.Errorf("kind %q, want %q: %v", k, tt.kind, err)
			}
			msg := err.Error()
			for _, s := range append(tt.want, cfg.Kafka.Topic, cfg.Kafka.Brokers[0]) {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not mention %q", msg, s)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			if n := len(h.reqs.all()); n != 0 {
				t.Errorf("%d API requests before Kafka was known to work, want 0", n)
			}
		})
	}
}

// TestRunOversizedRecord makes one row of the history so large that its
// event cannot be written (over the writer's KAFKA_BATCH_BYTES, or over the
// topic's max.message.bytes): the source is held failed (reason publish)
// with an error naming the topic while Run goes on, the record is not on
// the topic, and after the stop the checkpoint's cursor has not passed the
// window that holds it.
func TestRunOversizedRecord(t *testing.T) {
	tests := []struct {
		name       string
		padding    int   // bytes of random base64 added to the row
		batchBytes int64 // KAFKA_BATCH_BYTES
		topicMax   string
	}{
		{"over KAFKA_BATCH_BYTES", 512 << 10, 256 << 10, ""},
		{"over the topic's max.message.bytes", 3 << 20, 16 << 20, "1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 1000})
			if tt.topicMax != "" {
				h.topic = kafkatest.Topic(t, 3, map[string]string{"max.message.bytes": tt.topicMax})
			}
			ds := h.sim.Dataset()
			target, _ := ds.Range(t0.Add(-12*time.Hour).Unix(), t0.Unix())
			conv := ds.Conversation(target)
			h.reqs.setRewrite(padRow(t, conv.ID, tt.padding))

			cfg := h.config()
			cfg.Kafka.BatchBytes = config.ByteSize(tt.batchBytes)
			cfg.Jelou.MaxBodyBytes = 64 << 20
			logger, logs := capture()
			r := h.start(cfg, service.Options{Logger: logger, SourceRetry: 24 * time.Hour, SourceRetryMax: 24 * time.Hour})
			heldFailed(t, r, logs, config.DefaultSourceID, telemetry.FailurePublish, h.topic)
			if err := r.stopAndWait(t); err != nil {
				t.Fatalf("Run = %v, want nil at the stop", err)
			}
			if n := tu.Sum(t, r.reg, "jelou_producer_kafka_write_errors_total", map[string]string{"kind": string(publish.KindTooLarge)}); n < 1 {
				t.Errorf("kafka_write_errors_total{kind=too_large} = %v, want at least 1", n)
			}
			cp := loadCheckpoint(t, cfg.Checkpoint.Path, r.svc.Source())
			if cp.Cursor.After(conv.Start) {
				t.Errorf("checkpoint cursor %s passed the oversized row's start %s", cp.Cursor, conv.Start)
			}
			for _, e := range h.readTopic() {
				if e.ev.Subject == conv.ID {
					t.Errorf("conversation %s (%d bytes) is on the topic", conv.ID, len(e.value))
				}
			}
		})
	}
}

// padRow returns a body rewrite that adds a "notes" member of n random
// base64 bytes (incompressible enough) to the row of conversation id.
func padRow(t *testing.T, id string, n int) func([]byte) []byte {
	raw := make([]byte, n*3/4)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	from := []byte(`{"_id":"` + id + `"`)
	to := []byte(`{"_id":"` + id + `","notes":"` + base64.StdEncoding.EncodeToString(raw) + `"`)
	return func(b []byte) []byte { return bytes.Replace(b, from, to, 1) }
}

// TestRunOversizedRecordToDeadLetters is TestRunOversizedRecord with
// KAFKA_DLQ_TOPIC set: the dead-letter topic is created like the event
// topic, the row goes there (cut to fit KAFKA_BATCH_BYTES) with headers
// naming the error, is counted, and the source moves on past it.
func TestRunOversizedRecordToDeadLetters(t *testing.T) {
	h := newHarness(t, simOptions{count: 1000})
	ds := h.sim.Dataset()
	target, _ := ds.Range(t0.Add(-12*time.Hour).Unix(), t0.Unix())
	conv := ds.Conversation(target)
	h.reqs.setRewrite(padRow(t, conv.ID, 512<<10))

	cfg := h.config()
	cfg.Kafka.BatchBytes = 256 << 10
	cfg.Kafka.TopicCreate = true
	cfg.Kafka.DLQTopic = kafkatest.TopicName(t)
	cfg.Jelou.MaxBodyBytes = 64 << 20
	r := h.start(cfg, service.Options{})
	h.waitCursor(r, conv.Start, 60*time.Second)
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	letters, err := kafkatest.ReadAll(ctx, h.brokers, cfg.Kafka.DLQTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) == 0 {
		t.Fatal("the dead-letter topic is empty")
	}
	for _, l := range letters {
		hs := map[string]string{}
		for _, hd := range l.Headers {
			hs[hd.Key] = string(hd.Value)
		}
		if string(l.Key) != conv.ID || hs[poller.HeaderDLQReason] != poller.DeadLetterTooLarge || hs[poller.HeaderDLQTruncated] == "" ||
			!bytes.HasPrefix(l.Value, []byte(`{"_id":"`+conv.ID+`"`)) || len(l.Value) > 256<<10 {
			t.Errorf("dead letter key %q, %d bytes, headers %v; want the oversized row, cut to fit, reason too_large", l.Key, len(l.Value), hs)
		}
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_dead_letters_total", map[string]string{"reason": poller.DeadLetterTooLarge}); n != float64(len(letters)) {
		t.Errorf("dead_letters_total{reason=too_large} = %v, want %d", n, len(letters))
	}
	for _, e := range h.readTopic() {
		if e.ev.Subject == conv.ID {
			t.Errorf("conversation %s (%d bytes) is on the event topic", conv.ID, len(e.value))
		}
	}
}

// TestCheckDeadLetterTopic checks that `check` reports a missing
// KAFKA_DLQ_TOPIC, and an existing one as ready.
func TestCheckDeadLetterTopic(t *testing.T) {
	h := newHarness(t, simOptions{count: 10})
	cfg := h.config()
	cfg.Kafka.DLQTopic = kafkatest.TopicName(t)
	var report strings.Builder
	err := service.Check(context.Background(), cfg, &report)
	if err == nil || !strings.Contains(report.String(), "FAIL  Kafka") || !strings.Contains(err.Error(), "dead-letter topic") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("check with a missing dead-letter topic = %v\n%s", err, report.String())
	}
	cfg.Kafka.DLQTopic = kafkatest.Topic(t, 1, nil)
	report.Reset()
	if err := service.Check(context.Background(), cfg, &report); err != nil || !strings.Contains(report.String(), "dead-letter topic "+strconv.Quote(cfg.Kafka.DLQTopic)) {
		t.Fatalf("check with the dead-letter topic = %v\n%s", err, report.String())
	}
}
