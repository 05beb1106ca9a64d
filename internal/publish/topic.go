package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
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

func describeTopic(ctx context.Context, client *kafka.Client, d Config, op string) (TopicInfo, error) {
	fail := func(k Kind, err error) (TopicInfo, error) {
		return TopicInfo{}, &TopicError{Op: op, Topic: d.Topic, Brokers: d.Brokers, Kind: k, Err: err}
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{d.Topic}})
	if err != nil {
		return fail(brokerKind(err), err)
	}
	for _, t := range md.Topics {
		if t.Name != d.Topic {
			continue
		}
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			return fail(KindTopic, nil)
		case t.Error != nil:
			return fail(brokerKind(t.Error), t.Error)
		case len(t.Partitions) == 0:
			return fail(KindUnavailable, errors.New("the topic has no partitions yet"))
		}
		leaderless := 0
		for _, p := range t.Partitions {
			if p.Leader.Host == "" || (p.Error != nil && !errors.Is(p.Error, kafka.ReplicaNotAvailable)) {
				leaderless++
			}
		}
		if leaderless > 0 {
			return fail(KindUnavailable, fmt.Errorf("%d of %d partitions have no leader", leaderless, len(t.Partitions)))
		}
		return TopicInfo{Topic: d.Topic, Partitions: len(t.Partitions), Brokers: len(md.Brokers), ClusterID: md.ClusterID}, nil
	}
	return fail(KindTopic, nil)
}

// ensureTopic checks the topic and creates it when it is missing and
// d.TopicCreate is set, then waits until every partition has a leader.
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
	fail := func(err error) (TopicInfo, error) {
		return TopicInfo{}, &TopicError{Op: "create topic", Topic: d.Topic, Brokers: d.Brokers, Kind: brokerKind(err), Err: err}
	}
	entries := make([]kafka.ConfigEntry, 0, len(d.TopicConfig))
	for k, v := range d.TopicConfig {
		entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             d.Topic,
		NumPartitions:     d.TopicPartitions,
		ReplicationFactor: d.TopicReplication,
		ConfigEntries:     entries,
	}}})
	if err != nil {
		return fail(err)
	}
	if err := res.Errors[d.Topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fail(err)
	}
	// Metadata may lag the creation by a moment; a topic someone else
	// created at the same time is fine too.
	for {
		info, err := describeTopic(ctx, client, d, "create topic")
		if err == nil {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return TopicInfo{}, fmt.Errorf("wait for new topic %q: %w (last: %w)", d.Topic, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
