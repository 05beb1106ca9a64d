package bench

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Environment variables through which the harness runs itself as a
// baseline child process.
const (
	// ChildEnv selects the child role: "fetch" or "produce".
	ChildEnv = "JELOU_BENCH_CHILD"
	// ChildConfigEnv holds the role's JSON configuration.
	ChildConfigEnv = "JELOU_BENCH_CHILD_CONFIG"
)

// FetchConfig configures the fetch-only baseline: the producer's windows,
// fetched and decoded with pkg/jelou by the same number of workers, nothing
// published.
type FetchConfig struct {
	BaseURL     string
	From, To    time.Time
	Window      time.Duration
	Concurrency int
}

// ProduceConfig configures the produce-only baseline: a bare kafka-go
// writer, set up as internal/publish sets up its own, sending Records
// records cycled from the sample file in chunks of Chunk records from
// Concurrency goroutines.
type ProduceConfig struct {
	Brokers     []string
	Topic       string
	SampleFile  string
	Records     int
	Chunk       int
	Concurrency int
	BatchSize   int
	BatchBytes  int64
	Linger      time.Duration
	Compression string
}

// ChildResult is what a baseline child prints on stdout as JSON.
type ChildResult struct {
	Rows, Pages, Records, Bytes int64
}

// SampleRecord is one record of the produce-only sample file (gob).
type SampleRecord struct {
	Key, Value []byte
	Headers    []kafka.Header
}

// RunChild runs the baseline role named by ChildEnv with the configuration
// in ChildConfigEnv and writes its ChildResult to out.
func RunChild(ctx context.Context, role string, out io.Writer) error {
	cfgJSON := os.Getenv(ChildConfigEnv)
	var res ChildResult
	var err error
	switch role {
	case "fetch":
		var c FetchConfig
		if err = json.Unmarshal([]byte(cfgJSON), &c); err == nil {
			res, err = fetchOnly(ctx, c)
		}
	case "produce":
		var c ProduceConfig
		if err = json.Unmarshal([]byte(cfgJSON), &c); err == nil {
			res, err = produceOnly(ctx, c)
		}
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if err != nil {
		return fmt.Errorf("child %s: %w", role, err)
	}
	return json.NewEncoder(out).Encode(res)
}

// windows cuts [from, to] into windows of length d sharing their boundary
// second, as the poller's backfill does.
func windows(from, to time.Time, d time.Duration) []jelou.Window {
	var ws []jelou.Window
	for s := from; s.Before(to); s = s.Add(d) {
		e := s.Add(d)
		if e.After(to) {
			e = to
		}
		ws = append(ws, jelou.Window{Start: s, End: e})
	}
	return ws
}

func fetchOnly(ctx context.Context, c FetchConfig) (ChildResult, error) {
	client, err := jelou.New(jelou.Config{
		BaseURL:     c.BaseURL,
		Credentials: jelou.Credentials{ClientID: SimClientID, ClientSecret: SimClientSecret},
		RateLimit:   -1,
	})
	if err != nil {
		return ChildResult{}, err
	}
	ws := windows(c.From, c.To, c.Window)
	var next, rows, pages atomic.Int64
	err = inParallel(c.Concurrency, func() error {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(ws) {
				return nil
			}
			r, err := client.FetchWindow(ctx, ws[i])
			if err != nil {
				return fmt.Errorf("window %s: %w", ws[i], err)
			}
			rows.Add(int64(len(r.Conversations)))
			pages.Add(int64(r.Pages))
		}
	})
	if err != nil {
		return ChildResult{}, err
	}
	return ChildResult{Rows: rows.Load(), Pages: pages.Load()}, nil
}

// inParallel runs work on n goroutines and, once every one has returned,
// returns the first error any of them returned.
func inParallel(n int, work func() error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

var compressions = map[string]kafka.Compression{
	"gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

func produceOnly(ctx context.Context, c ProduceConfig) (ChildResult, error) {
	f, err := os.Open(c.SampleFile)
	if err != nil {
		return ChildResult{}, err
	}
	var sample []SampleRecord
	err = gob.NewDecoder(f).Decode(&sample)
	f.Close()
	if err != nil {
		return ChildResult{}, fmt.Errorf("read sample: %w", err)
	}
	if len(sample) == 0 {
		return ChildResult{}, errors.New("empty sample")
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(c.Brokers...),
		Topic:        c.Topic,
		Balancer:     kafka.Murmur2Balancer{},
		BatchSize:    c.BatchSize,
		BatchBytes:   c.BatchBytes,
		BatchTimeout: c.Linger,
		RequiredAcks: kafka.RequireAll,
		Compression:  compressions[c.Compression],
	}
	defer w.Close()
	var next, bytes atomic.Int64
	err = inParallel(c.Concurrency, func() error {
		for {
			lo := int(next.Add(int64(c.Chunk)) - int64(c.Chunk))
			if lo >= c.Records {
				return nil
			}
			hi := min(lo+c.Chunk, c.Records)
			msgs := make([]kafka.Message, 0, hi-lo)
			n := 0
			for i := lo; i < hi; i++ {
				r := sample[i%len(sample)]
				msgs = append(msgs, kafka.Message{Key: r.Key, Value: r.Value, Headers: r.Headers})
				n += len(r.Key) + len(r.Value)
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return err
			}
			bytes.Add(int64(n))
		}
	})
	if err != nil {
		return ChildResult{}, err
	}
	return ChildResult{Records: int64(c.Records), Bytes: bytes.Load()}, nil
}
