// Package kafkaread provides a plain reader of a whole topic, partition by
// partition, from the first offset to the high watermark, for the demo's
// summary, the benchmark and the tests that check what reached Kafka.
//
// It uses kafka-go's low-level connection (no consumer group, no committed
// offsets), so reading never changes the cluster.
package kafkaread

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// Record is one record read back from a topic.
type Record struct {
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []kafka.Header
	Time      time.Time
}

// Event decodes r as a jelou-producer event, in whichever mode
// (structured or binary) its headers say it was written.
func (r Record) Event() (*event.Event, error) {
	hs := make([]event.Header, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = event.Header{Key: h.Key, Value: h.Value}
	}
	return event.Decode(r.Value, hs)
}

// All reads every record of every partition of topic, from the first
// offset to the high watermark at the time of the call.
func All(ctx context.Context, brokers []string, topic string) ([]Record, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s partitions: %w", topic, err)
	}
	var out []Record
	for _, p := range parts {
		recs, err := readPartition(ctx, p, topic)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func readPartition(ctx context.Context, p kafka.Partition, topic string) ([]Record, error) {
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
	var out []Record
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
			out = append(out, Record{Partition: p.ID, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: m.Headers, Time: m.Time})
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
