package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// Sink receives alerts.
type Sink interface {
	Alert(ctx context.Context, a Alert) error
}

// jsonLines writes each alert as one JSON line.
type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *jsonLines) Alert(_ context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write alert: %w", err)
	}
	return nil
}

// webhook posts each alert as a JSON document to a URL.
type webhook struct {
	url    string
	client *http.Client
}

func (s *webhook) Alert(ctx context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: HTTP %d", s.url, resp.StatusCode)
	}
	return nil
}

// Consumer reads the topic as a member of a consumer group and feeds a
// Tracker; a ticker asks it for the alerts that came due.
type Consumer struct {
	cfg     Config
	reader  *kafka.Reader
	tracker *Tracker
	sinks   []Sink
	log     *slog.Logger
	now     func() time.Time

	mu    sync.Mutex
	stats Stats
}

// Stats counts what a Consumer did.
type Stats struct {
	Read, Decoded, Skipped, Alerts, SinkErrors int
}

// NewConsumer returns a consumer of cfg.Topic in group cfg.Group that
// writes alerts as JSON lines to out and, when cfg.WebhookURL is set, posts
// them there too.
func NewConsumer(cfg Config, out io.Writer, log *slog.Logger) *Consumer {
	start := kafka.LastOffset
	if cfg.FromBeginning {
		start = kafka.FirstOffset
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		GroupID:        cfg.Group,
		Topic:          cfg.Topic,
		StartOffset:    start, // only for a group without committed offsets
		MinBytes:       1,
		MaxWait:        time.Second, // an idle fetch returns after this: bounds how long Close waits
		MaxBytes:       10 << 20,
		CommitInterval: time.Second, // commit in the background, at most every second
		ErrorLogger:    kafka.LoggerFunc(func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) }),
	})
	sinks := []Sink{&jsonLines{w: out}}
	if cfg.WebhookURL != "" {
		sinks = append(sinks, &webhook{url: cfg.WebhookURL, client: &http.Client{Timeout: cfg.WebhookTimeout}})
	}
	return &Consumer{
		cfg: cfg, reader: r, log: log, sinks: sinks, now: time.Now,
		tracker: NewTracker(Thresholds{ActiveFor: cfg.ActiveFor, ReplyOver: cfg.ReplyOver, Forget: cfg.ForgetAfter}),
	}
}

// Stats returns the counts so far.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Run consumes until ctx is cancelled (then it returns nil) or the reader
// fails. It closes the reader, which commits the offsets read and leaves
// the group.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.reader.Close()
	msgs := make(chan kafka.Message)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := c.reader.FetchMessage(ctx)
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(c.cfg.CheckEvery)
	defer tick.Stop()
	c.log.Info("consuming", "topic", c.cfg.Topic, "group", c.cfg.Group, "activeFor", c.cfg.ActiveFor.String(), "replyOver", c.cfg.ReplyOver.String())
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", c.cfg.Topic, err)
		case m := <-msgs:
			c.handle(ctx, m)
		case <-tick.C:
			c.emit(ctx, c.tracker.Due(c.now()))
		}
	}
}

// handle decodes one record, feeds it to the tracker and marks it for
// commit. A record that is not an event of a type this consumer knows is
// skipped (and logged), never fatal.
func (c *Consumer) handle(ctx context.Context, m kafka.Message) {
	c.count(func(s *Stats) { s.Read++ })
	hs := make([]event.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = event.Header{Key: h.Key, Value: h.Value}
	}
	e, err := event.Decode(m.Value, hs)
	switch {
	case errors.Is(err, event.ErrUnknownType):
		c.count(func(s *Stats) { s.Skipped++ }) // another type or a later major version
		c.log.Debug("skipping an event of another type", "partition", m.Partition, "offset", m.Offset, "err", err)
	case err != nil:
		c.count(func(s *Stats) { s.Skipped++ })
		c.log.Warn("skipping a record that is not a jelou-producer event", "partition", m.Partition, "offset", m.Offset, "err", err)
	default:
		c.count(func(s *Stats) { s.Decoded++ })
		c.log.Debug("event", "partition", m.Partition, "offset", m.Offset, "conversation", e.Subject, "state", e.Data.State)
		c.emit(ctx, c.tracker.Observe(e, c.now()))
	}
	if err := c.reader.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
		c.log.Warn("commit offset", "partition", m.Partition, "offset", m.Offset, "err", err)
	}
}

func (c *Consumer) emit(ctx context.Context, alerts []Alert) {
	for _, a := range alerts {
		c.count(func(s *Stats) { s.Alerts++ })
		for _, s := range c.sinks {
			if err := s.Alert(ctx, a); err != nil {
				c.count(func(s *Stats) { s.SinkErrors++ })
				c.log.Error("deliver alert", "alert", a.Kind, "conversation", a.Conversation, "err", err)
			}
		}
	}
}

func (c *Consumer) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}
