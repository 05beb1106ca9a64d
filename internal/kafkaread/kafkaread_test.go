package kafkaread_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaread"
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
	recs, err := kafkaread.All(ctx, brokers, topic)
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
	if _, err := kafkaread.All(ctx, kafkatest.Brokers(t), kafkatest.TopicName(t)); err == nil {
		t.Fatal("reading a topic that does not exist succeeded")
	}
}
