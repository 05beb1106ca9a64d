package kafkatest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestWriteAndReadBack(t *testing.T) {
	brokers := Brokers(t)
	t.Logf("tier %s at %v", Tier(t), brokers)
	topic := Topic(t, 3, nil)

	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, Balancer: kafka.Murmur2Balancer{}, BatchTimeout: 5 * time.Millisecond,
		Transport: &kafka.Transport{}} // fresh: kafka.DefaultTransport caches metadata that may predate this topic
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for i := range 30 {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%02d", i)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	recs, err := ReadAll(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	parts := map[int]bool{}
	for _, r := range recs {
		got = append(got, string(r.Value))
		parts[r.Partition] = true
	}
	sort.Strings(got)
	if len(got) != 30 || got[0] != "v00" || got[29] != "v29" {
		t.Fatalf("read back %d records %v, want v00..v29", len(got), got)
	}
	if len(parts) < 2 {
		t.Fatalf("7 keys landed on %d partitions, want them spread", len(parts))
	}
}

func TestTopicNamesAreUnique(t *testing.T) {
	a, b := TopicName(t), TopicName(t)
	if a == b {
		t.Fatalf("two calls gave the same topic name %q", a)
	}
}

func TestInProcessBrokerStops(t *testing.T) {
	b, err := StartInProcess(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs[0]
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := waitReachable(ctx, addr, 300*time.Millisecond); err == nil {
		t.Fatalf("broker at %s still reachable after Close", addr)
	}
}
