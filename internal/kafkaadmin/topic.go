package kafkaadmin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
)

// RetryTime bounds how long an operation retries errors Kafka calls
// temporary (see the package documentation).
const RetryTime = 30 * time.Second

// Spec is a topic to create.
type Spec struct {
	// Name is the topic's name.
	Name string
	// Partitions is its partition count.
	Partitions int
	// Replication is its replication factor; 0 means the broker's
	// default.replication.factor.
	Replication int
	// Config holds topic-level configuration (cleanup.policy, ...).
	Config map[string]string
}

// Topic is a topic as the brokers' metadata describes it.
type Topic struct {
	// Name is the topic's name.
	Name string
	// Partitions is its partition count.
	Partitions int
	// Leaderless counts the partitions without a leader.
	Leaderless int
	// Brokers is how many brokers the cluster reported.
	Brokers int
	// ClusterID identifies the cluster.
	ClusterID string
}

// Describe reads topic's metadata. A topic the brokers do not know is an
// error wrapping [kafka.UnknownTopicOrPartition]; a topic without
// partitions yet, or with partitions without a leader, is not an error.
// A client's metadata may come from its transport's cache.
func Describe(ctx context.Context, c *kafka.Client, topic string) (Topic, error) {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return Topic{}, fmt.Errorf("metadata: %w", err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return Topic{}, fmt.Errorf("topic %s: %w", topic, t.Error)
		}
		d := Topic{Name: topic, Partitions: len(t.Partitions), Brokers: len(md.Brokers), ClusterID: md.ClusterID}
		for _, p := range t.Partitions {
			if p.Leader.Host == "" || (p.Error != nil && !errors.Is(p.Error, kafka.ReplicaNotAvailable)) {
				d.Leaderless++
			}
		}
		return d, nil
	}
	return Topic{}, fmt.Errorf("topic %s: %w", topic, kafka.UnknownTopicOrPartition)
}

// EnsureTopic creates spec's topic with [CreateTopic] when the brokers do
// not list it with partitions (or report an error for it), and returns the
// topic's description. A topic that exists is neither changed nor waited
// for: partitions without a leader are left to the caller.
func EnsureTopic(ctx context.Context, c *kafka.Client, spec Spec) (Topic, error) {
	t, err := Describe(ctx, c, spec.Name)
	var ke kafka.Error
	switch {
	case err == nil && t.Partitions > 0:
		return t, nil
	case err != nil && !errors.As(err, &ke):
		return Topic{}, err
	}
	if err := CreateTopic(ctx, c, spec); err != nil {
		return Topic{}, err
	}
	return Describe(ctx, c, spec.Name)
}

// CreateTopic creates spec's topic, a topic that already exists being
// success, and waits until every partition's leader answers.
func CreateTopic(ctx context.Context, c *kafka.Client, spec Spec) error {
	replication := spec.Replication
	if replication == 0 {
		replication = -1 // the broker's default
	}
	entries := make([]kafka.ConfigEntry, 0, len(spec.Config))
	for k, v := range spec.Config {
		entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             spec.Name,
		NumPartitions:     spec.Partitions,
		ReplicationFactor: replication,
		ConfigEntries:     entries,
	}}})
	if err == nil {
		err = res.Errors[spec.Name]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s with %d partitions: %w", spec.Name, spec.Partitions, err)
	}
	return WaitForLeaders(ctx, c, spec.Name)
}

// WaitForLeaders waits until the brokers list topic with its partitions,
// each with a leader, and every leader answers a request for its
// partition's offsets.
func WaitForLeaders(ctx context.Context, c *kafka.Client, topic string) error {
	err := retry(ctx, func() error {
		t, err := Describe(ctx, c, topic)
		switch {
		case err != nil:
			return err
		case t.Partitions == 0:
			return fmt.Errorf("no partitions yet: %w", kafka.LeaderNotAvailable)
		case t.Leaderless > 0:
			return fmt.Errorf("%d of %d partitions have no leader: %w", t.Leaderless, t.Partitions, kafka.LeaderNotAvailable)
		}
		for p := range t.Partitions {
			if _, err := offset(ctx, c, topic, p, kafka.LastOffset); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for the leaders of topic %s: %w", topic, err)
	}
	return nil
}

// Configs returns the values of the named configuration entries of topic
// that the brokers report.
func Configs(ctx context.Context, c *kafka.Client, topic string, names ...string) (map[string]string, error) {
	res, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic,
		ResourceName: topic,
		ConfigNames:  names,
	}}})
	if err == nil && len(res.Resources) != 1 {
		err = fmt.Errorf("%d resources in the answer, want 1", len(res.Resources))
	}
	if err == nil {
		err = res.Resources[0].Error
	}
	if err != nil {
		return nil, fmt.Errorf("describe configs of topic %s: %w", topic, err)
	}
	out := make(map[string]string, len(names))
	for _, e := range res.Resources[0].ConfigEntries {
		out[e.ConfigName] = e.ConfigValue
	}
	return out, nil
}

// retry calls op until it returns nil, an error Kafka does not call
// temporary or one marked [backoff.Permanent], backing off between calls,
// for at most RetryTime within ctx.
// When ctx ends first, its error names op's last one.
func retry(ctx context.Context, op func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 50*time.Millisecond, 2*time.Second, RetryTime
	var last error
	err := backoff.Retry(func() error {
		last = op()
		var (
			ke kafka.Error
			pe *backoff.PermanentError
		)
		switch {
		case errors.As(last, &pe): // op's own verdict
			last = pe.Err
			return pe
		case last == nil || errors.As(last, &ke) && ke.Temporary():
			return last
		}
		return backoff.Permanent(last)
	}, backoff.WithContext(b, ctx))
	if err != nil && err != last && last != nil {
		return fmt.Errorf("%w (last: %w)", err, last)
	}
	return err
}
