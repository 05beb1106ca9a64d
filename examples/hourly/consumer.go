package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// Consumer reads the event and watermark topics and writes each closed
// hour as a JSON line.
type Consumer struct {
	cfg Config
	out io.Writer
	log *slog.Logger

	mu     sync.Mutex
	closed []Hour // every hour emitted so far, for tests
	late   int
}

// NewConsumer returns a consumer writing hours to out.
func NewConsumer(cfg Config, out io.Writer, log *slog.Logger) *Consumer {
	return &Consumer{cfg: cfg, out: out, log: log}
}

// record is one record read, from either topic.
type record struct {
	watermark bool
	partition int
	msg       kafka.Message
}

// Run reads until ctx ends (nil) or Kafka fails.
func (c *Consumer) Run(ctx context.Context) error {
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second}
	first, err := firstOffsets(ctx, client, c.cfg.Topic)
	if err != nil {
		return err
	}
	marks, err := firstOffsets(ctx, client, c.cfg.WatermarkTopic)
	if err != nil {
		return err
	}
	agg := NewAggregator(first)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	recs := make(chan record, 256)
	var wg sync.WaitGroup
	read := func(topic string, partition int, watermark bool) {
		defer wg.Done()
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.cfg.Brokers, Topic: topic, Partition: partition, MaxWait: 250 * time.Millisecond})
		defer r.Close()
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			cancel(err)
			return
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					cancel(fmt.Errorf("read %s partition %d: %w", topic, partition, err))
				}
				return
			}
			select {
			case recs <- record{watermark: watermark, partition: partition, msg: m}:
			case <-ctx.Done():
				return
			}
		}
	}
	for p := range first {
		wg.Add(1)
		go read(c.cfg.Topic, p, false)
	}
	for p := range marks {
		wg.Add(1)
		go read(c.cfg.WatermarkTopic, p, true)
	}
	defer wg.Wait()
	enc := json.NewEncoder(c.out)
	for {
		var r record
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
				return cause
			}
			return nil
		case r = <-recs:
		}
		headers := make([]event.Header, len(r.msg.Headers))
		for i, h := range r.msg.Headers {
			headers[i] = event.Header(h)
		}
		if r.watermark {
			w, err := event.DecodeWatermark(r.msg.Value, headers)
			if err != nil {
				c.log.Warn("skipping a record of the watermark topic", "offset", r.msg.Offset, "err", err)
				continue
			}
			agg.Watermark(w)
		} else {
			e, err := event.Decode(r.msg.Value, headers)
			if err != nil {
				c.log.Warn("skipping a record of the event topic", "partition", r.partition, "offset", r.msg.Offset, "err", err)
				// Still read: the position moves past it.
				agg.Event(r.partition, r.msg.Offset, &event.Event{})
				continue
			}
			agg.Event(r.partition, r.msg.Offset, e)
		}
		hours := agg.Close()
		c.mu.Lock()
		c.closed = append(c.closed, hours...)
		c.late = agg.Late()
		c.mu.Unlock()
		for _, h := range hours {
			if err := enc.Encode(h); err != nil {
				return fmt.Errorf("write hour: %w", err)
			}
		}
	}
}

// Closed returns the hours emitted so far and how many events arrived for
// hours already closed.
func (c *Consumer) Closed() ([]Hour, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Hour(nil), c.closed...), c.late
}

// firstOffsets returns the first offset of every partition of topic.
func firstOffsets(ctx context.Context, client *kafka.Client, topic string) (map[int]int64, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0 {
		return nil, fmt.Errorf("topic %s: not found or without partitions", topic)
	}
	reqs := make([]kafka.OffsetRequest, len(md.Topics[0].Partitions))
	for i := range reqs {
		reqs[i] = kafka.FirstOffsetOf(i)
	}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("first offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("first offset of %s partition %d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.FirstOffset
	}
	return out, nil
}
