// Package kafkaread provides a plain reader of a whole topic, partition by
// partition, from the first offset to the high watermark, for the demo's
// summary, the benchmark and the tests that check what reached Kafka.
//
// It uses kafka-go's low-level connection (no consumer group, no committed
// offsets), so reading never changes the cluster.
package kafkaread

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// All reads every record of every partition of topic, from the first
// offset to the high watermark at the time of the call, as the
// [event.Record]s the producer wrote; [event.Record.Event] decodes one.
func All(ctx context.Context, brokers []string, topic string) ([]event.Record, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s partitions: %w", topic, err)
	}
	var out []event.Record
	for _, p := range parts {
		recs, err := readPartitionRetrying(ctx, brokers[0], p, topic)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// readPartitionRetrying reads partition p again from its first offset, its
// leader looked up anew, after an error Kafka calls temporary: a partition
// whose leader is still being elected (a topic created a moment ago) or has
// moved (a broker restarted) answers NotLeaderForPartition or
// LeaderNotAvailable for a while. It gives up when ctx ends or after
// [RetryTime].
func readPartitionRetrying(ctx context.Context, bootstrap string, p kafka.Partition, topic string) ([]event.Record, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 50*time.Millisecond, time.Second, RetryTime
	var recs []event.Record
	attempt := 0
	err := backoff.Retry(func() error {
		attempt++
		if attempt > 1 {
			fresh, err := kafka.LookupPartition(ctx, "tcp", bootstrap, topic, p.ID)
			if err != nil {
				return retryable(fmt.Errorf("read %s/%d: look up leader: %w", topic, p.ID, err))
			}
			p = fresh
		}
		var err error
		recs, err = readPartition(ctx, p, topic)
		return retryable(err)
	}, backoff.WithContext(b, ctx))
	return recs, err
}

// RetryTime bounds how long [All] retries one partition's temporary errors.
const RetryTime = 30 * time.Second

// retryable marks err permanent unless Kafka calls it temporary.
func retryable(err error) error {
	var ke kafka.Error
	if err == nil || errors.As(err, &ke) && ke.Temporary() {
		return err
	}
	return backoff.Permanent(err)
}

func readPartition(ctx context.Context, p kafka.Partition, topic string) ([]event.Record, error) {
	addr := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
	if err != nil {
		return nil, fmt.Errorf("read %s/%d: %w", topic, p.ID, err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return nil, fmt.Errorf("read %s/%d offsets: %w", topic, p.ID, err)
	}
	var out []event.Record
	offset := first
	for offset < last {
		if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
			return nil, fmt.Errorf("read %s/%d seek %d: %w", topic, p.ID, offset, err)
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetReadDeadline(dl)
		} else {
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		}
		batch := conn.ReadBatch(1, 16<<20)
		n := 0
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			n++
			out = append(out, event.Record{Partition: p.ID, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: eventHeaders(m.Headers), Time: m.Time})
			offset = m.Offset + 1
		}
		if err := batch.Close(); err != nil && n == 0 {
			return nil, fmt.Errorf("read %s/%d at %d: %w", topic, p.ID, offset, err)
		}
		if n == 0 {
			// Compacted or aborted ranges: skip past the gap.
			offset++
		}
	}
	return out, nil
}

// eventHeaders converts kafka-go's headers, once per record read; the values
// are not copied.
func eventHeaders(hs []kafka.Header) []event.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]event.Header, len(hs))
	for i, h := range hs {
		out[i] = event.Header(h)
	}
	return out
}
