package kafkaadmin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

// client returns a client on a fresh transport (a long-lived one caches
// metadata from before a topic existed), released when t ends.
func client(t *testing.T, brokers []string) *kafka.Client {
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
}

// TestEnsureTopic: a missing topic is created as specified and its leaders
// awaited; ensuring it again, or creating it again, changes nothing.
func TestEnsureTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	c := client(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := kafkaadmin.Spec{Name: kafkatest.TopicName(t), Partitions: 3, Config: map[string]string{"cleanup.policy": "compact"}}
	if _, err := kafkaadmin.Describe(ctx, c, spec.Name); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("Describe before creation = %v, want UnknownTopicOrPartition", err)
	}
	for _, ensure := range []struct {
		name string
		call func() (kafkaadmin.Topic, error)
	}{
		{"ensure creates", func() (kafkaadmin.Topic, error) { return kafkaadmin.EnsureTopic(ctx, c, spec) }},
		{"ensure again", func() (kafkaadmin.Topic, error) { return kafkaadmin.EnsureTopic(ctx, c, spec) }},
		{"create again (already exists)", func() (kafkaadmin.Topic, error) {
			if err := kafkaadmin.CreateTopic(ctx, c, spec); err != nil {
				return kafkaadmin.Topic{}, err
			}
			return kafkaadmin.Describe(ctx, c, spec.Name)
		}},
	} {
		t.Run(ensure.name, func(t *testing.T) {
			got, err := ensure.call()
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != spec.Name || got.Partitions != 3 || got.Leaderless != 0 || got.Brokers < 1 {
				t.Fatalf("topic = %+v, want %s with 3 partitions, each with a leader", got, spec.Name)
			}
			// Every leader answers at once: the topic can be read.
			if recs, err := kafkaadmin.All(ctx, brokers, spec.Name); err != nil || len(recs) != 0 {
				t.Fatalf("All = %d records, %v; want an empty topic", len(recs), err)
			}
			cfg, err := kafkaadmin.Configs(ctx, c, spec.Name, "cleanup.policy")
			if err != nil || cfg["cleanup.policy"] != "compact" {
				t.Fatalf("Configs = %v, %v; want cleanup.policy=compact", cfg, err)
			}
		})
	}
}

// TestWaitForLeaders: while the leaders answer NotLeaderForPartition (an
// election), the wait goes on; a permanent error ends it at once.
func TestWaitForLeaders(t *testing.T) {
	const topic, notReady = "elected", 3
	c := cluster(t, 2, topic)
	admin := client(t, c.ListenAddrs())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	refused := kafkatest.RefuseListOffsets(c, kerr.NotLeaderForPartition, notReady)
	if err := kafkaadmin.WaitForLeaders(ctx, admin, topic); err != nil {
		t.Fatalf("WaitForLeaders gave up on a leader election: %v", err)
	}
	if refused() != notReady {
		t.Fatalf("%d ListOffsets requests refused, want %d (the wait was not exercised)", refused(), notReady)
	}

	refused = kafkatest.RefuseListOffsets(c, kerr.TopicAuthorizationFailed, -1)
	if err := kafkaadmin.WaitForLeaders(ctx, admin, topic); !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("WaitForLeaders = %v, want TopicAuthorizationFailed", err)
	}
	if refused() != 1 {
		t.Fatalf("%d ListOffsets requests, want 1 (a permanent error is not retried)", refused())
	}

	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	err := kafkaadmin.WaitForLeaders(short, admin, "missing")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("WaitForLeaders on a missing topic = %v, want the deadline naming UnknownTopicOrPartition", err)
	}
}

// TestEnsureTopicLeavesAnExistingTopic: a topic that exists is described
// as it is, not created again nor grown to the spec.
func TestEnsureTopicLeavesAnExistingTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := kafkaadmin.EnsureTopic(ctx, client(t, brokers), kafkaadmin.Spec{Name: topic, Partitions: 4})
	if err != nil || got.Partitions != 1 {
		t.Fatalf("EnsureTopic = %+v, %v; want the existing topic's 1 partition", got, err)
	}
}
