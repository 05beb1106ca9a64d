package publish

import (
	"context"
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// EndOffsets returns the end offset (the high watermark: the offset the
// next record will get) of every partition of the topic, by partition,
// read now from each partition's leader over the publisher's connections.
// A completeness watermark carries them: records acknowledged before the
// call are below them.
func (p *Publisher) EndOffsets(ctx context.Context) ([]event.PartitionOffset, error) {
	c := &kafka.Client{Addr: kafka.TCP(p.cfg.Brokers...), Transport: p.transport, Timeout: p.cfg.WriteTimeout}
	t, err := kafkaadmin.Describe(ctx, c, p.cfg.Topic)
	if err != nil {
		return nil, &TopicError{Op: "read end offsets", Topic: p.cfg.Topic, Brokers: p.cfg.Brokers, Kind: brokerKind(err), Err: err}
	}
	reqs := make([]kafka.OffsetRequest, t.Partitions)
	for i := range reqs {
		reqs[i] = kafka.LastOffsetOf(i)
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{p.cfg.Topic: reqs}})
	if err != nil {
		return nil, &TopicError{Op: "read end offsets", Topic: p.cfg.Topic, Brokers: p.cfg.Brokers, Kind: brokerKind(err), Err: err}
	}
	out := make([]event.PartitionOffset, t.Partitions)
	seen := make([]bool, t.Partitions)
	for _, po := range res.Topics[p.cfg.Topic] {
		if po.Partition < 0 || po.Partition >= t.Partitions {
			continue
		}
		if po.Error != nil {
			return nil, &TopicError{Op: "read end offsets", Topic: p.cfg.Topic, Brokers: p.cfg.Brokers, Kind: brokerKind(po.Error),
				Err: fmt.Errorf("partition %d: %w", po.Partition, po.Error)}
		}
		out[po.Partition] = event.PartitionOffset{Partition: po.Partition, Offset: po.LastOffset}
		seen[po.Partition] = true
	}
	for i, ok := range seen {
		if !ok {
			return nil, &TopicError{Op: "read end offsets", Topic: p.cfg.Topic, Brokers: p.cfg.Brokers, Kind: KindUnavailable,
				Err: fmt.Errorf("no answer for partition %d", i)}
		}
	}
	return out, nil
}

// CheckCompacted returns an error unless the topic's cleanup.policy is
// compact (compact,delete too: the records expire, but a key's latest
// record is kept while they do not), read over a new connection. The state
// and watermark topics are kept so: their consumers read them to the end
// for the latest record of each key.
func (p *Publisher) CheckCompacted(ctx context.Context) error {
	return checkCompacted(ctx, p.cfg)
}

// CheckCompacted is [Publisher.CheckCompacted] without a Publisher, for
// the check command.
func CheckCompacted(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("kafka config: %w", err)
	}
	return checkCompacted(ctx, cfg.WithDefaults())
}

func checkCompacted(ctx context.Context, d Config) error {
	client, done, err := d.adminClient()
	if err != nil {
		return fmt.Errorf("kafka config: %w", err)
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, d.DialTimeout+d.WriteTimeout)
	defer cancel()
	cfg, err := kafkaadmin.Configs(ctx, client, d.Topic, "cleanup.policy")
	if err != nil {
		return &TopicError{Op: "check topic", Topic: d.Topic, Brokers: d.Brokers, Kind: brokerKind(err), Err: err}
	}
	policy, ok := cfg["cleanup.policy"]
	if !ok {
		policy = "delete" // Kafka's default
	}
	for _, v := range strings.Split(policy, ",") {
		if strings.TrimSpace(v) == "compact" {
			return nil
		}
	}
	return fmt.Errorf("topic %s has cleanup.policy=%s, want compact: set it with kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact, or let KAFKA_TOPIC_CREATE create it", d.Topic, policy, d.Topic)
}
