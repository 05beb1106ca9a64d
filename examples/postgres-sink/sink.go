package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// partitionsEvery is how often the sink looks for partitions added to its
// topics.
const partitionsEvery = time.Minute

// Sink reads jelou-producer's topics partition by partition and writes them
// to a [Store], one transaction per batch, with the offsets read.
type Sink struct {
	cfg Config
	log *slog.Logger

	// applying is held while a batch is written and counted, so that Stats
	// never misses a batch whose offsets are committed.
	applying sync.Mutex
	mu       sync.Mutex
	stats    Stats
	readers  map[TopicPartition]bool
}

// Stats counts what a Sink did.
type Stats struct {
	// Read counts records read; Skipped those that were not usable.
	Read, Skipped int
	// Events, Duplicates, States, Stale, Watermarks and Recomputed sum
	// [Applied] over the batches.
	Events, Duplicates, States, Stale, Watermarks, Recomputed int
	// Batches counts the transactions committed.
	Batches int
}

// NewSink returns a sink of cfg's topics into cfg's database.
func NewSink(cfg Config, log *slog.Logger) *Sink {
	return &Sink{cfg: cfg, log: log, readers: map[TopicPartition]bool{}}
}

// Stats returns the counts so far, of every batch committed.
func (s *Sink) Stats() Stats {
	s.applying.Lock()
	defer s.applying.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Run opens the store, reads every partition of the topics from the
// offsets the store holds (their first offset when it holds none) and
// writes batches until ctx is cancelled (then it returns nil) or a Kafka
// or database error (returned; a restart resumes from the store's offsets,
// so the batch in flight is read again).
func (s *Sink) Run(ctx context.Context) error {
	store, err := OpenStore(ctx, s.cfg.DSN, s.cfg.Schema)
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	pos, err := store.Positions(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel() // the readers stop, on an error return too
		wg.Wait()
	}()
	msgs := make(chan kafka.Message, s.cfg.BatchSize)
	errc := make(chan error, 1)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	startReaders := func() error {
		for _, topic := range s.topics() {
			parts, err := partitions(ctx, s.cfg.Brokers, topic)
			if err != nil {
				return err
			}
			for _, p := range parts {
				tp := TopicPartition{Topic: topic, Partition: p}
				if s.hasReader(tp) {
					continue
				}
				start, ok := pos[tp]
				if !ok {
					start = kafka.FirstOffset
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.read(ctx, tp, start, msgs); err != nil {
						fail(err)
					}
				}()
			}
		}
		return nil
	}
	if err := startReaders(); err != nil {
		return err
	}
	s.log.Info("sinking", "topics", s.topics(), "schema", s.cfg.Schema, "partitions", len(s.readers))

	refresh := time.NewTicker(partitionsEvery)
	defer refresh.Stop()
	var batch []kafka.Message
	var flush <-chan time.Time
	var timer *time.Timer
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-refresh.C:
			if err := startReaders(); err != nil && ctx.Err() == nil {
				s.log.Warn("look for new partitions", "err", err)
			}
			continue
		case m := <-msgs:
			batch = append(batch, m)
			if len(batch) == 1 {
				timer = time.NewTimer(s.cfg.FlushEvery)
				flush = timer.C
			}
			if len(batch) < s.cfg.BatchSize {
				continue
			}
			timer.Stop()
		case <-flush:
		}
		flush = nil
		if err := s.apply(ctx, store, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		batch = batch[:0]
	}
}

// topics returns the topics read: events, then state and watermark topics
// when configured.
func (s *Sink) topics() []string {
	ts := []string{s.cfg.Topic}
	if s.cfg.StateTopic != "" {
		ts = append(ts, s.cfg.StateTopic)
	}
	if s.cfg.WatermarkTopic != "" {
		ts = append(ts, s.cfg.WatermarkTopic)
	}
	return ts
}

func (s *Sink) hasReader(tp TopicPartition) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers[tp] {
		return true
	}
	s.readers[tp] = true
	return false
}

// read reads one partition from offset start into msgs until ctx ends.
func (s *Sink) read(ctx context.Context, tp TopicPartition, start int64, msgs chan<- kafka.Message) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     s.cfg.Brokers,
		Topic:       tp.Topic,
		Partition:   tp.Partition,
		MinBytes:    1,
		MaxBytes:    10 << 20,
		MaxWait:     500 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(f string, a ...any) { s.log.Warn(fmt.Sprintf(f, a...)) }),
	})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return fmt.Errorf("read %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s/%d: %w", tp.Topic, tp.Partition, err)
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			return nil
		}
	}
}

// apply decodes a batch and writes it in one transaction.
func (s *Sink) apply(ctx context.Context, store *Store, batch []kafka.Message) error {
	items := make([]Item, 0, len(batch))
	skipped := 0
	for _, m := range batch {
		it := s.decode(m)
		if it.Kind == KindSkip {
			skipped++
		}
		items = append(items, it)
	}
	s.applying.Lock()
	defer s.applying.Unlock()
	a, err := store.Apply(ctx, s.cfg.Topic, items)
	if err != nil {
		return err
	}
	for src, end := range a.Closed {
		s.log.Info("hours closed", "source", src, "closedBefore", end.Format(time.RFC3339))
	}
	if a.Recomputed > 0 {
		s.log.Info("closed hours recomputed after late events", "hours", a.Recomputed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	st.Read += len(batch)
	st.Skipped += skipped
	st.Events += a.Events
	st.Duplicates += a.Duplicates
	st.States += a.States
	st.Stale += a.Stale
	st.Watermarks += a.Watermarks
	st.Recomputed += a.Recomputed
	st.Batches++
	return nil
}

// decode turns one record into an Item; a record that is not usable is
// logged and becomes a KindSkip item, which only moves the offset.
func (s *Sink) decode(m kafka.Message) Item {
	it := Item{TopicPartition: TopicPartition{Topic: m.Topic, Partition: m.Partition}, Offset: m.Offset}
	skip := func(level slog.Level, why string, err error) Item {
		s.log.Log(context.Background(), level, why, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		return it
	}
	switch m.Topic {
	case s.cfg.WatermarkTopic:
		w, err := event.DecodeWatermark(m.Value, eventHeaders(m.Headers))
		switch {
		case errors.Is(err, event.ErrUnknownType):
			return skip(slog.LevelDebug, "skipping a record of another type", err)
		case err != nil:
			return skip(slog.LevelWarn, "skipping a record that is not a watermark", err)
		case w.Topic != s.cfg.Topic:
			return skip(slog.LevelWarn, "skipping a watermark of another topic", fmt.Errorf("topic %q", w.Topic))
		case !storable(w.Source):
			return skip(slog.LevelWarn, "skipping a watermark PostgreSQL cannot store", errors.New("source has a NUL byte or invalid UTF-8"))
		}
		it.Kind, it.Watermark = KindWatermark, w
		return it
	case s.cfg.Topic, s.cfg.StateTopic:
		if m.Value == nil {
			return skip(slog.LevelDebug, "skipping a tombstone", nil)
		}
		e, err := event.Decode(m.Value, eventHeaders(m.Headers))
		switch {
		case errors.Is(err, event.ErrUnknownType):
			return skip(slog.LevelDebug, "skipping an event of another type", err)
		case err != nil:
			return skip(slog.LevelWarn, "skipping a record that is not a jelou-producer event", err)
		case e.ID == "" || e.Subject == "" || e.Data.State == "":
			return skip(slog.LevelWarn, "skipping an event without id, subject or state", nil)
		case !storable(e.ID, e.Source, e.Subject, string(e.Data.State), string(e.Data.PreviousState), e.Data.CompanyID, string(e.Data.Conversation)):
			return skip(slog.LevelWarn, "skipping an event PostgreSQL cannot store", errors.New("a NUL byte or invalid UTF-8"))
		}
		it.Event = e
		if m.Topic == s.cfg.Topic {
			it.Kind, it.DeriveState = KindEvent, s.cfg.StateTopic == ""
		} else {
			it.Kind = KindState
		}
		return it
	}
	return skip(slog.LevelWarn, "skipping a record of an unexpected topic", nil)
}

// eventHeaders returns a record's headers as pkg/event reads them.
func eventHeaders(hs []kafka.Header) []event.Header {
	out := make([]event.Header, len(hs))
	for i, h := range hs {
		out[i] = event.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// storable reports whether PostgreSQL's text type can hold every string:
// valid UTF-8 without NUL.
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				return false
			}
		}
	}
	return true
}

// partitions lists topic's partitions, asking the brokers in turn.
func partitions(ctx context.Context, brokers []string, topic string) ([]int, error) {
	var errs []error
	for _, b := range brokers {
		parts, err := func() ([]kafka.Partition, error) {
			d := kafka.Dialer{Timeout: 10 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", b)
			if err != nil {
				return nil, err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			return conn.ReadPartitions(topic)
		}()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
			continue
		}
		var out []int
		for _, p := range parts {
			if p.Topic == topic {
				out = append(out, p.ID)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("topic %s: no partitions (does it exist?)", topic)
		}
		return out, nil
	}
	return nil, fmt.Errorf("list partitions of %s: %w", topic, errors.Join(errs...))
}

// brokerAddr checks a host:port.
func brokerAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q", port)
	}
	return nil
}
