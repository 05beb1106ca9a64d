package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// Observation measures one Publish call.
type Observation struct {
	// Records and Bytes (keys plus values) are what the call was given.
	Records, Bytes int
	// Duration is how long the call took.
	Duration time.Duration
	// Err is the call's error, nil on success, and Kind its class.
	Err  error
	Kind Kind
}

// Observer receives an [Observation] after every Publish call. It is called
// synchronously from Publish, possibly from several goroutines at once, so
// it must be quick and safe for concurrent use.
type Observer interface {
	ObservePublish(Observation)
}

// ObserverFunc adapts a function to an [Observer].
type ObserverFunc func(Observation)

// ObservePublish calls f(o).
func (f ObserverFunc) ObservePublish(o Observation) { f(o) }

// TopicInfo describes the topic as the brokers report it.
type TopicInfo struct {
	// Topic is the topic's name.
	Topic string
	// Partitions is its partition count.
	Partitions int
	// Brokers is how many brokers the cluster reported.
	Brokers int
	// ClusterID identifies the cluster.
	ClusterID string
}

// Publisher writes records to one topic. Its methods are safe for
// concurrent use.
type Publisher struct {
	cfg       Config
	w         *kafka.Writer
	transport *kafka.Transport
	info      TopicInfo

	closeOnce sync.Once
	closeErr  error
}

// New checks the configuration and the topic, creating it when it is
// missing and cfg.TopicCreate is set, and returns a Publisher ready to
// write. Its errors are a [*TopicError] for brokers, authentication and
// topic problems and a plain error for an invalid configuration; none is
// retried here, so a caller that wants to wait for Kafka calls New again.
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka config: %w", err)
	}
	d := cfg.WithDefaults()
	tr, err := d.Transport()
	if err != nil {
		return nil, fmt.Errorf("kafka config: %w", err)
	}
	info, err := ensureTopic(ctx, d)
	if err != nil {
		return nil, err
	}
	compression := compressions[d.Compression]
	w := &kafka.Writer{
		Addr:         kafka.TCP(d.Brokers...),
		Topic:        d.Topic,
		Balancer:     d.balancer(),
		MaxAttempts:  d.MaxAttempts,
		BatchSize:    d.BatchSize,
		BatchBytes:   d.BatchBytes,
		BatchTimeout: d.Linger,
		ReadTimeout:  d.WriteTimeout,
		WriteTimeout: d.WriteTimeout,
		RequiredAcks: kafka.RequireAll,
		Async:        false,
		Compression:  compression,
		Transport:    tr,
	}
	if d.Logger != nil {
		log := d.Logger
		w.ErrorLogger = kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn(fmt.Sprintf(msg, args...), slog.String("component", "kafka-writer"), slog.String("topic", d.Topic))
		})
	}
	return &Publisher{cfg: d, w: w, transport: tr, info: info}, nil
}

// Topic returns what New learnt about the topic.
func (p *Publisher) Topic() TopicInfo { return p.info }

// Publish writes records and returns once all of them are acknowledged by
// every in-sync replica, or returns a [*WriteError] when any of them failed.
// On an error, some records may have been written anyway (and, as the writer
// retries, a record may be written twice): the caller must treat the whole
// call as failed, keep its checkpoint, and expect duplicates when it
// publishes the same records again. The same holds when ctx is cancelled:
// records already handed to the writer may still be written after Publish
// returned, so the caller must not modify their byte slices. The records'
// Partition and Offset are ignored: the configured balancer picks the
// partition by key.
func (p *Publisher) Publish(ctx context.Context, records []event.Record) error {
	if len(records) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(records))
	size := 0
	for i, r := range records {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value, Headers: kafkaHeaders(r.Headers), Time: r.Time}
		size += len(r.Key) + len(r.Value)
	}
	start := time.Now()
	err := p.w.WriteMessages(ctx, msgs...)
	elapsed := time.Since(start)
	var we *WriteError
	if err != nil {
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			err = fmt.Errorf("record with key %q has %d bytes, over the limit of %d bytes (BatchBytes): %w",
				truncate(tooLarge.Message.Key, 64), len(tooLarge.Message.Key)+len(tooLarge.Message.Value), p.cfg.BatchBytes, err)
		}
		we = writeError(p.cfg.Topic, len(records), err)
	}
	if p.cfg.Observer != nil {
		o := Observation{Records: len(records), Bytes: size, Duration: elapsed}
		if we != nil {
			o.Err, o.Kind = we, we.Kind
		}
		p.cfg.Observer.ObservePublish(o)
	}
	if we != nil {
		return we
	}
	return nil
}

// kafkaHeaders converts headers to kafka-go's type, the one copy a record's
// headers get on their way to the writer: all of a record's headers share
// one allocation, and their values are not copied.
func kafkaHeaders(hs []event.Header) []kafka.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafka.Header, len(hs))
	for i, h := range hs {
		out[i] = kafka.Header(h)
	}
	return out
}

// Ping checks that the brokers answer, over a new connection with the
// configured TLS and SASL. It is meant for readiness probes.
func (p *Publisher) Ping(ctx context.Context) error {
	client, done, err := p.cfg.adminClient()
	if err != nil {
		return fmt.Errorf("kafka config: %w", err)
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout+p.cfg.WriteTimeout)
	defer cancel()
	if _, err := client.Metadata(ctx, &kafka.MetadataRequest{}); err != nil {
		return &TopicError{Op: "connect", Topic: p.cfg.Topic, Brokers: p.cfg.Brokers, Kind: brokerKind(err), Err: err}
	}
	return nil
}

// CheckTopic asks the brokers, over a new connection, whether the topic
// exists and every partition has a leader, and returns its description.
// It never creates the topic.
func (p *Publisher) CheckTopic(ctx context.Context) (TopicInfo, error) {
	return checkTopic(ctx, p.cfg)
}

// Check is [Publisher.CheckTopic] without a Publisher, for the check
// command: it validates cfg and checks the topic without creating it.
func Check(ctx context.Context, cfg Config) (TopicInfo, error) {
	if err := cfg.Validate(); err != nil {
		return TopicInfo{}, fmt.Errorf("kafka config: %w", err)
	}
	return checkTopic(ctx, cfg.WithDefaults())
}

// Close flushes the records being written, waits for them, and releases
// the connections. Publish fails with KindClosed afterwards. Calling Close
// more than once returns the first result.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.w.Close()
		p.transport.CloseIdleConnections()
		if p.closeErr != nil {
			p.closeErr = fmt.Errorf("close kafka writer: %w", p.closeErr)
		}
	})
	return p.closeErr
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
