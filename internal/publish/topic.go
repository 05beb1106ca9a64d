package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
)

// adminMetadataTTL is how often a short-lived admin transport refreshes
// its metadata cache, so that waiting for a new topic ends promptly.
const adminMetadataTTL = 250 * time.Millisecond

// adminClient returns a kafka-go client on a new transport, so that checks
// see the cluster as it is now rather than a long-lived transport's cached
// (and, once known, never failing) metadata, and a function to release it.
func (c Config) adminClient() (*kafka.Client, func(), error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, nil, err
	}
	tr.MetadataTTL = adminMetadataTTL
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: c.WriteTimeout, Transport: tr}
	return client, tr.CloseIdleConnections, nil
}

// brokerKind classifies an error of a request to the brokers; any failure
// to get an answer that is not otherwise classified counts as unavailable.
func brokerKind(err error) Kind {
	if k := classify(err); k != KindOther {
		return k
	}
	return KindUnavailable
}

// checkTopic reads the topic's metadata on a new connection, reporting
// failures under the op "check topic". d has its defaults applied.
func checkTopic(ctx context.Context, d Config) (TopicInfo, error) {
	client, done, err := d.adminClient()
	if err != nil {
		return TopicInfo{}, fmt.Errorf("kafka config: %w", err)
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, d.DialTimeout+d.WriteTimeout)
	defer cancel()
	return describeTopic(ctx, client, d, "check topic")
}

// describeTopic reads the topic's metadata and requires every partition
// to have a leader, reporting failures under op.
func describeTopic(ctx context.Context, client *kafka.Client, d Config, op string) (TopicInfo, error) {
	fail := func(k Kind, err error) (TopicInfo, error) {
		return TopicInfo{}, &TopicError{Op: op, Topic: d.Topic, Brokers: d.Brokers, Kind: k, Err: err}
	}
	t, err := kafkaadmin.Describe(ctx, client, d.Topic)
	switch {
	case errors.Is(err, kafka.UnknownTopicOrPartition):
		return fail(KindTopic, nil)
	case err != nil:
		return fail(brokerKind(err), err)
	case t.Partitions == 0:
		return fail(KindUnavailable, errors.New("the topic has no partitions yet"))
	case t.Leaderless > 0:
		return fail(KindUnavailable, fmt.Errorf("%d of %d partitions have no leader", t.Leaderless, t.Partitions))
	}
	return TopicInfo{Topic: d.Topic, Partitions: t.Partitions, Brokers: t.Brokers, ClusterID: t.ClusterID}, nil
}

// ensureTopic checks the topic and creates it when it is missing and
// d.TopicCreate is set, waiting until every partition's leader answers.
func ensureTopic(ctx context.Context, d Config) (TopicInfo, error) {
	info, err := checkTopic(ctx, d)
	var te *TopicError
	if err == nil || !d.TopicCreate || !errors.As(err, &te) || te.Kind != KindTopic || te.Err != nil {
		return info, err
	}
	client, done, err := d.adminClient()
	if err != nil {
		return TopicInfo{}, fmt.Errorf("kafka config: %w", err)
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, d.DialTimeout+2*d.WriteTimeout)
	defer cancel()
	spec := kafkaadmin.Spec{Name: d.Topic, Partitions: d.TopicPartitions, Replication: d.TopicReplication, Config: d.TopicConfig}
	if err := kafkaadmin.CreateTopic(ctx, client, spec); err != nil {
		return TopicInfo{}, &TopicError{Op: "create topic", Topic: d.Topic, Brokers: d.Brokers, Kind: brokerKind(err), Err: err}
	}
	return describeTopic(ctx, client, d, "create topic")
}
