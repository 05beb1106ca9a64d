package kafkaadmin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

func TestAllReadsEveryPartitionWithHeaders(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, 4, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll,
		Transport: &kafka.Transport{}} // fresh: kafka.DefaultTransport caches metadata that may predate this topic
	msgs := make([]kafka.Message, 12)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte{byte('a' + i)}, Value: []byte{byte(i)}, Headers: []kafka.Header{{Key: "n", Value: []byte{byte(i)}}}}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	recs, err := kafkaadmin.All(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 12 {
		t.Fatalf("read %d records, want 12", len(recs))
	}
	parts := map[int]bool{}
	for _, r := range recs {
		parts[r.Partition] = true
		if len(r.Headers) != 1 || r.Headers[0].Key != "n" || r.Headers[0].Value[0] != r.Value[0] {
			t.Fatalf("record %v lost its header", r)
		}
	}
	if len(parts) != 4 {
		t.Fatalf("records came from %d partitions, want 4", len(parts))
	}
}

func TestAllMissingTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kafkaadmin.All(ctx, kafkatest.Brokers(t), kafkatest.TopicName(t)); err == nil {
		t.Fatal("reading a topic that does not exist succeeded")
	}
}

// TestAllRetriesLeaderElection: a partition whose leader is not ready yet
// (a topic created a moment ago, a broker that just restarted) answers
// ListOffsets with NotLeaderForPartition; All looks the leader up again and
// reads everything instead of failing.
func TestAllRetriesLeaderElection(t *testing.T) {
	const topic, notReady = "elected", 3
	c := cluster(t, 2, topic)
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	msgs := make([]kafka.Message, 6)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: []byte{byte(i)}}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	refused := kafkatest.RefuseListOffsets(c, kerr.NotLeaderForPartition, notReady)
	recs, err := kafkaadmin.All(ctx, brokers, topic)
	if err != nil {
		t.Fatalf("All gave up on a leader election: %v", err)
	}
	if refused() != notReady {
		t.Fatalf("the broker refused %d ListOffsets requests, want %d (the test did not exercise the retry)", refused(), notReady)
	}
	if len(recs) != len(msgs) {
		t.Fatalf("read %d records, want %d", len(recs), len(msgs))
	}
}

// TestAllGivesUpOnPermanentErrors: an error Kafka does not call temporary
// (here: not authorised) is returned at once, not retried for RetryTime.
func TestAllGivesUpOnPermanentErrors(t *testing.T) {
	const topic = "forbidden"
	c := cluster(t, 1, topic)
	refused := kafkatest.RefuseListOffsets(c, kerr.TopicAuthorizationFailed, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := kafkaadmin.All(ctx, c.ListenAddrs(), topic)
	if !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("err = %v, want TopicAuthorizationFailed", err)
	}
	if refused() != 1 {
		t.Fatalf("%d ListOffsets requests, want 1 (a permanent error is not retried)", refused())
	}
}

// cluster starts an in-process broker of its own (the tests steer its
// answers) holding topic with the given partitions, closed when t ends.
func cluster(t *testing.T, partitions int32, topic string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestReadPartitionReturnsFnErrors: an error of the caller's function ends
// the read at once, even one that wraps an error Kafka calls temporary.
func TestReadPartitionReturnsFnErrors(t *testing.T) {
	const topic = "records"
	c := cluster(t, 1, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(c.ListenAddrs()...), Topic: topic, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Transport: tr}
	calls := 0
	err := kafkaadmin.ReadPartition(ctx, client, topic, 0, func(r kafka.Record) error {
		calls++
		return fmt.Errorf("bad record %d: %w", r.Offset, kafka.NotLeaderForPartition)
	})
	if !errors.Is(err, kafka.NotLeaderForPartition) || calls != 1 {
		t.Fatalf("ReadPartition = %v after %d calls, want fn's error after 1", err, calls)
	}
}
