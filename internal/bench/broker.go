package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
)

// Broker is the Kafka cluster the benchmark writes to, always in another
// process than the producer: a real Apache Kafka named by
// KAFKA_BENCH_BROKERS or KAFKA_TEST_BROKERS, or else a jelou-kafka process
// (kfake) the harness starts and stops.
type Broker struct {
	// Addrs are the bootstrap addresses.
	Addrs []string
	// Kind says which broker this is, for the table.
	Kind string
	proc *Proc
}

// BrokersFromEnv returns the brokers of KAFKA_BENCH_BROKERS, else of
// KAFKA_TEST_BROKERS, else nil.
func BrokersFromEnv() []string {
	for _, k := range []string{"KAFKA_BENCH_BROKERS", "KAFKA_TEST_BROKERS"} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return strings.Split(v, ",")
		}
	}
	return nil
}

// StartBroker uses the brokers from the environment when there are any,
// else starts kafkaBin (the jelou-kafka command) on a free port.
func StartBroker(ctx context.Context, kafkaBin string) (*Broker, error) {
	if addrs := BrokersFromEnv(); addrs != nil {
		b := &Broker{Addrs: addrs, Kind: "Apache Kafka at " + strings.Join(addrs, ",")}
		if _, err := b.client().Metadata(ctx, &kafka.MetadataRequest{}); err != nil {
			return nil, fmt.Errorf("broker %s: %w", strings.Join(addrs, ","), err)
		}
		return b, nil
	}
	pr, pw := io.Pipe()
	p, err := Start("jelou-kafka", kafkaBin, []string{"-addr", "127.0.0.1:0"}, baseEnv(), pw)
	if err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "jelou-kafka listening on "); ok {
				addr <- a
			}
		}
	}()
	go func() { <-p.Done(); pw.Close() }()
	select {
	case a := <-addr:
		return &Broker{Addrs: strings.Split(a, ","), Kind: "jelou-kafka (kfake) process", proc: p}, nil
	case <-p.Done():
		_, err := p.Wait(ctx)
		return nil, fmt.Errorf("jelou-kafka exited before listening: %w", err)
	case <-time.After(30 * time.Second):
		_, _ = p.Stop(5 * time.Second)
		return nil, errors.New("jelou-kafka did not report its address within 30s")
	}
}

// Close stops the broker process the harness started, if any.
func (b *Broker) Close() error {
	if b.proc == nil {
		return nil
	}
	_, err := b.proc.Stop(10 * time.Second)
	return err
}

func (b *Broker) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(b.Addrs...), Timeout: 30 * time.Second}
}

// CreateTopic creates topic with the given partitions (replication 1) and
// waits until every partition's leader answers.
func (b *Broker) CreateTopic(ctx context.Context, topic string, partitions int) error {
	return kafkaadmin.CreateTopic(ctx, b.client(), kafkaadmin.Spec{Name: topic, Partitions: partitions, Replication: 1})
}

// DeleteTopic deletes topic, so that the broker frees its records.
func (b *Broker) DeleteTopic(ctx context.Context, topic string) error {
	res, err := b.client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	return nil
}

// Records returns the number of records in topic: the sum of its
// partitions' high watermarks (the topics are fresh, so they start at 0).
func (b *Broker) Records(ctx context.Context, topic string) (int64, error) {
	md, err := b.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return 0, fmt.Errorf("metadata of %s: topic missing", topic)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	res, err := b.client().ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	var n int64
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return 0, fmt.Errorf("offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		n += po.LastOffset
	}
	return n, nil
}

// baseEnv is the environment every child starts from: only what a Go
// program needs, so that a developer's JELOU_* or KAFKA_* settings never
// leak into a measurement.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
