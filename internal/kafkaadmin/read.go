package kafkaadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// fetchMaxBytes is how much one fetch asks for.
const fetchMaxBytes = 8 << 20

// ReadPartition calls fn with every record of partition of topic, in
// offset order, from the partition's first offset to its high watermark at
// the time of the call. fn must read a record's Key and Value before it
// returns. After an error Kafka calls temporary, it resumes after the last
// record fn took, within ctx and [RetryTime]; any other error, and any
// error of fn, is returned at once.
func ReadPartition(ctx context.Context, c *kafka.Client, topic string, partition int, fn func(kafka.Record) error) error {
	var next, end int64 = -1, -1
	return retry(ctx, func() error {
		if end < 0 {
			first, err := offset(ctx, c, topic, partition, kafka.FirstOffset)
			if err != nil {
				return err
			}
			last, err := offset(ctx, c, topic, partition, kafka.LastOffset)
			if err != nil {
				return err
			}
			next, end = first, last
		}
		for next < end {
			res, err := c.Fetch(ctx, &kafka.FetchRequest{
				Topic: topic, Partition: partition, Offset: next,
				MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: time.Second,
			})
			if err == nil {
				err = res.Error
			}
			if err != nil {
				return fmt.Errorf("partition %d: fetch at offset %d: %w", partition, next, err)
			}
			at := next
			readErr, fnErr := records(res.Records, &next, end, fn)
			if fnErr != nil {
				return backoff.Permanent(fmt.Errorf("partition %d at offset %d: %w", partition, at, fnErr))
			}
			if readErr != nil {
				return fmt.Errorf("partition %d at offset %d: %w", partition, at, readErr)
			}
			if next == at {
				// Only control records or an emptied batch here: step over it.
				next++
			}
		}
		return nil
	})
}

// records hands fn the records of one fetch in [*next, end), advancing
// *next past each, and returns the reader's error or fn's.
func records(rr kafka.RecordReader, next *int64, end int64, fn func(kafka.Record) error) (readErr, fnErr error) {
	for {
		r, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
		if r.Offset < *next || r.Offset >= end {
			continue // a batch starts before the offset asked for
		}
		*next = r.Offset + 1
		if err := fn(*r); err != nil {
			return nil, err
		}
	}
}

// offset asks partition's leader for its first offset (at
// [kafka.FirstOffset]) or its high watermark ([kafka.LastOffset]).
func offset(ctx context.Context, c *kafka.Client, topic string, partition int, at int64) (int64, error) {
	req := kafka.OffsetRequest{Partition: partition, Timestamp: at}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {req}}})
	if err != nil {
		return 0, fmt.Errorf("partition %d: list offsets: %w", partition, err)
	}
	for _, p := range res.Topics[topic] {
		switch {
		case p.Partition != partition:
		case p.Error != nil:
			return 0, fmt.Errorf("partition %d: list offsets: %w", partition, p.Error)
		case at == kafka.FirstOffset:
			return p.FirstOffset, nil
		default:
			return p.LastOffset, nil
		}
	}
	return 0, fmt.Errorf("partition %d: list offsets: no answer for it", partition)
}

// All reads every record of every partition of topic, from the first
// offset to the high watermark at the time of the call, as the
// [event.Record]s the producer wrote; [event.Record.Event] decodes one. It
// connects without TLS or SASL, on a transport of its own.
func All(ctx context.Context, brokers []string, topic string) ([]event.Record, error) {
	tr := &kafka.Transport{MetadataTTL: time.Second} // a moved leader is found soon
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: RetryTime}
	t, err := Describe(ctx, c, topic)
	if err != nil {
		return nil, fmt.Errorf("read %s partitions: %w", topic, err)
	}
	var out []event.Record
	for p := range t.Partitions {
		err := ReadPartition(ctx, c, topic, p, func(r kafka.Record) error {
			key, err := ReadBytes(r.Key)
			if err != nil {
				return fmt.Errorf("key: %w", err)
			}
			value, err := ReadBytes(r.Value)
			if err != nil {
				return fmt.Errorf("value: %w", err)
			}
			out = append(out, event.Record{Partition: p, Offset: r.Offset, Key: key, Value: value, Headers: eventHeaders(r.Headers), Time: r.Time})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
	}
	return out, nil
}

// ReadBytes reads and closes b, a record's key or value as [ReadPartition]
// hands it over; nil stays nil (a tombstone's value).
func ReadBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	buf := make([]byte, b.Len())
	_, err := io.ReadFull(b, buf)
	return buf, err
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
