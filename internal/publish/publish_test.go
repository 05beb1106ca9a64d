package publish

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// testCtx bounds one test's Kafka calls.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newPublisher starts a Publisher on the shared test broker and closes it
// when the test ends.
func newPublisher(t *testing.T, cfg Config) *Publisher {
	t.Helper()
	if cfg.Brokers == nil {
		cfg.Brokers = kafkatest.Brokers(t)
	}
	p, err := New(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func readAll(t *testing.T, topic string) []event.Record {
	t.Helper()
	recs, err := kafkatest.ReadAll(testCtx(t), kafkatest.Brokers(t), topic)
	if err != nil {
		t.Fatalf("read back %s: %v", topic, err)
	}
	return recs
}

// sampleRecords returns n records with distinct keys, values and headers.
func sampleRecords(n int) []event.Record {
	recs := make([]event.Record, n)
	for i := range recs {
		recs[i] = event.Record{
			Key:   fmt.Appendf(nil, "company-%d", i%7),
			Value: fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i)),
			Headers: []event.Header{
				{Key: "ce_id", Value: fmt.Appendf(nil, "id-%d", i)},
				{Key: "content-type", Value: []byte("application/cloudevents+json")},
				{Key: "empty", Value: []byte{}},
			},
		}
	}
	return recs
}

// sameRecords compares what was published with what was read back,
// ignoring order across partitions.
func sameRecords(t *testing.T, want []event.Record, got []event.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read back %d records, want %d", len(got), len(want))
	}
	byValue := map[string]event.Record{}
	for _, r := range want {
		byValue[string(r.Value)] = r
	}
	for _, g := range got {
		w, ok := byValue[string(g.Value)]
		if !ok {
			t.Fatalf("read back unexpected record %q", g.Value)
		}
		delete(byValue, string(g.Value))
		if !bytes.Equal(g.Key, w.Key) {
			t.Errorf("record %q: key %q, want %q", g.Value, g.Key, w.Key)
		}
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %q: headers %v, want %v", g.Value, g.Headers, w.Headers)
		}
		for i, h := range w.Headers {
			if g.Headers[i].Key != h.Key || !bytes.Equal(g.Headers[i].Value, h.Value) {
				t.Errorf("record %q: header %d = %s=%q, want %s=%q", g.Value, i, g.Headers[i].Key, g.Headers[i].Value, h.Key, h.Value)
			}
		}
	}
}

func TestPublishCompressionRoundTrip(t *testing.T) {
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			topic := kafkatest.Topic(t, 3, nil)
			var seen []Observation
			var mu sync.Mutex
			p := newPublisher(t, Config{Topic: topic, Compression: codec, Observer: ObserverFunc(func(o Observation) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, o)
			})})
			recs := sampleRecords(50)
			if err := p.Publish(testCtx(t), recs); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			sameRecords(t, recs, readAll(t, topic))
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[0].Records != 50 || seen[0].Err != nil || seen[0].Bytes == 0 || seen[0].Duration <= 0 {
				t.Errorf("observer saw %+v, want one successful call of 50 records", seen)
			}
		})
	}
}

func TestPublishEmptyAndTimestamps(t *testing.T) {
	topic := kafkatest.Topic(t, 1, nil)
	p := newPublisher(t, Config{Topic: topic})
	if err := p.Publish(testCtx(t), nil); err != nil {
		t.Fatalf("Publish(nil) = %v", err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := p.Publish(testCtx(t), []event.Record{{Key: []byte("k"), Value: []byte("v"), Time: at}}); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, topic)
	if len(got) != 1 || !got[0].Time.Equal(at) {
		t.Fatalf("read back %+v, want one record stamped %s", got, at)
	}
}

func TestNewMissingTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.TopicName(t)
	_, err := New(testCtx(t), Config{Brokers: brokers, Topic: topic})
	var te *TopicError
	if !errors.As(err, &te) || te.Kind != KindTopic || IsRetriable(err) {
		t.Fatalf("New = %v, want a fatal *TopicError of kind topic", err)
	}
	want := fmt.Sprintf("topic %q does not exist on brokers %v; create it or set KAFKA_TOPIC_CREATE=true", topic, brokers)
	if err.Error() != want {
		t.Fatalf("error =\n%s\nwant\n%s", err, want)
	}
	// Nothing was written and nothing auto-created.
	if _, err := Check(testCtx(t), Config{Brokers: brokers, Topic: topic}); KindOf(err) != KindTopic {
		t.Fatalf("after a failed New, Check = %v, want the topic still missing", err)
	}
}

func TestNewCreatesTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.TopicName(t)
	cfg := Config{
		Brokers: brokers, Topic: topic, TopicCreate: true, TopicPartitions: 3,
		TopicConfig: map[string]string{"cleanup.policy": "compact", "retention.ms": "3600000"},
	}
	p := newPublisher(t, cfg)
	if info := p.Topic(); info.Topic != topic || info.Partitions != 3 || info.Brokers < 1 {
		t.Fatalf("Topic() = %+v, want 3 partitions of %s", info, topic)
	}
	if err := p.Publish(testCtx(t), []event.Record{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	info, err := p.CheckTopic(testCtx(t))
	if err != nil || info.Partitions != 3 {
		t.Fatalf("CheckTopic = %+v, %v; want 3 partitions", info, err)
	}

	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := client.DescribeConfigs(testCtx(t), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"cleanup.policy", "retention.ms"},
	}}})
	if err != nil {
		t.Fatalf("DescribeConfigs: %v", err)
	}
	got := map[string]string{}
	for _, r := range res.Resources {
		if r.Error != nil {
			t.Fatalf("DescribeConfigs %s: %v", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			got[e.ConfigName] = e.ConfigValue
		}
	}
	for k, v := range cfg.TopicConfig {
		if got[k] != v {
			t.Errorf("topic config %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}

	// A second New finds the topic and leaves it alone.
	again := newPublisher(t, cfg)
	if again.Topic().Partitions != 3 {
		t.Fatalf("second New saw %+v", again.Topic())
	}
}

// closedPort returns a local address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNewUnreachableBrokers(t *testing.T) {
	brokers := []string{closedPort(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := New(ctx, Config{Brokers: brokers, Topic: "t", DialTimeout: time.Second, WriteTimeout: 2 * time.Second})
	var te *TopicError
	if !errors.As(err, &te) || te.Kind != KindUnavailable || !IsRetriable(err) {
		t.Fatalf("New = %v, want a retriable *TopicError of kind unavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("New returned only when the test's deadline passed: %v", err)
	}
	if want := fmt.Sprintf("cannot reach Kafka brokers %v", brokers); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %q, want prefix %q", err, want)
	}
}

func TestPingSeesABrokerGoAway(t *testing.T) {
	b, err := kafkatest.StartInProcess(1)
	if err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(b.Close)
	defer stop()
	if err := kafkatest.CreateTopic(testCtx(t), b.Addrs, "events", 2, nil); err != nil {
		t.Fatal(err)
	}
	p := newPublisher(t, Config{Brokers: b.Addrs, Topic: "events", DialTimeout: time.Second, WriteTimeout: 2 * time.Second, MaxAttempts: 1})
	if err := p.Ping(testCtx(t)); err != nil {
		t.Fatalf("Ping on a live broker: %v", err)
	}
	if info, err := p.CheckTopic(testCtx(t)); err != nil || info.Partitions != 2 {
		t.Fatalf("CheckTopic = %+v, %v; want 2 partitions", info, err)
	}
	stop()
	if err := p.Ping(testCtx(t)); KindOf(err) != KindUnavailable {
		t.Fatalf("Ping after the broker stopped = %v, want kind unavailable", err)
	}
	if _, err := p.CheckTopic(testCtx(t)); KindOf(err) != KindUnavailable {
		t.Fatalf("CheckTopic after the broker stopped = %v, want kind unavailable", err)
	}
	err = p.Publish(testCtx(t), []event.Record{{Key: []byte("k"), Value: []byte("v")}})
	var we *WriteError
	if !errors.As(err, &we) || !we.Retriable {
		t.Fatalf("Publish after the broker stopped = %v, want a retriable *WriteError", err)
	}
}

func TestPublishOversizedRecordIsFatal(t *testing.T) {
	big := make([]byte, 2<<20) // random, so that compression cannot shrink it
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		batchBytes int64
	}{
		{"over the writer's BatchBytes", 0},
		{"over the broker's message.max.bytes", 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := kafkatest.Topic(t, 1, nil)
			p := newPublisher(t, Config{Topic: topic, BatchBytes: tt.batchBytes})
			recs := []event.Record{{Key: []byte("small"), Value: []byte("ok")}, {Key: []byte("big"), Value: big}}
			err := p.Publish(testCtx(t), recs)
			var we *WriteError
			if !errors.As(err, &we) || we.Kind != KindTooLarge || we.Retriable || IsRetriable(err) {
				t.Fatalf("Publish = %v, want a fatal *WriteError of kind too_large", err)
			}
			if !errors.Is(err, kafka.MessageSizeTooLarge) {
				t.Errorf("errors.Is(err, kafka.MessageSizeTooLarge) = false for %v", err)
			}
			for _, r := range readAll(t, topic) {
				if len(r.Value) == len(big) {
					t.Fatalf("the oversized record was written")
				}
			}
		})
	}
}

func TestPublishCancelledAndClosed(t *testing.T) {
	topic := kafkatest.Topic(t, 1, nil)
	p := newPublisher(t, Config{Topic: topic})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Publish(ctx, sampleRecords(3))
	if KindOf(err) != KindCanceled || !IsRetriable(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context = %v, want retriable kind canceled", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	err = p.Publish(testCtx(t), sampleRecords(1))
	if KindOf(err) != KindClosed || IsRetriable(err) {
		t.Fatalf("Publish after Close = %v, want fatal kind closed", err)
	}
}

func TestPublishConcurrently(t *testing.T) {
	topic := kafkatest.Topic(t, 4, nil)
	p := newPublisher(t, Config{Topic: topic})
	all := sampleRecords(200)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for chunk := range slices.Chunk(all, 50) {
		wg.Go(func() { errs <- p.Publish(testCtx(t), chunk) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sameRecords(t, all, readAll(t, topic))
}
