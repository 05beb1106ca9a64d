package publish

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// benchRecords returns n records of about 1 KiB shaped like the service's
// events: a CloudEvents JSON document keyed by company.
func benchRecords(n int) []event.Record {
	recs := make([]event.Record, n)
	for i := range recs {
		v := fmt.Appendf(nil, `{"specversion":"1.0","id":"%032x","source":"jelou","type":"ai.jelou.conversation.state.v1","subject":"%024x","time":"2024-05-01T12:%02d:%02dZ","datacontenttype":"application/json","data":{"_id":"%024x","state":"closed","company":{"id":%d,"name":"Company %d"},"bot":{"id":"bot-%d"},"user":{"id":"%016x","names":"User %d"},"operator":{"id":"op-%d","names":"Operator %d"},"startAt":"2024-05-01 12:00:00","endAt":"2024-05-01 12:30:00","window":{"start":"2024-05-01T12:00:00Z","end":"2024-05-01T13:00:00Z"}`,
			i*7919, i*104729, i%60, i%60, i*104729, i%97, i%97, i%13, i*31, i, i%17, i%17)
		for len(v) < 1000 {
			v = fmt.Appendf(v, `,"f%d":"%08x"`, len(v), len(v)*i)
		}
		v = append(v, "}}"...)
		recs[i] = event.Record{
			Key:     fmt.Appendf(nil, "%d", i%97),
			Value:   v,
			Headers: []event.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}},
		}
	}
	return recs
}

// BenchmarkPublish measures Publish calls of 100 records of ~1 KiB (one
// API page of events) on a 6-partition topic, from 1 caller or 4 at once
// (a backfill with POLL_CONCURRENCY=4), across linger, batch size and
// compression. Run it against real Kafka:
//
//	scripts/kafka.sh up
//	KAFKA_TEST_BROKERS=127.0.0.1:19092 go test -run '^$' -bench Publish -benchtime 3s ./internal/publish/
func BenchmarkPublish(b *testing.B) {
	const perCall = 100
	recs := benchRecords(perCall)
	size := 0
	for _, r := range recs {
		size += len(r.Key) + len(r.Value)
	}
	type setup struct {
		callers     int
		linger      time.Duration
		batchSize   int
		compression string
	}
	var cases []setup
	for _, callers := range []int{1, 4} {
		for _, linger := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond} {
			cases = append(cases, setup{callers, linger, 0, ""})
		}
		cases = append(cases, setup{callers, 0, 100, ""}, setup{callers, 0, 0, "none"}, setup{callers, 0, 0, "lz4"})
	}
	for _, c := range cases {
		cfg := Config{Linger: c.linger, BatchSize: c.batchSize, Compression: c.compression}
		d := cfg.WithDefaults()
		name := fmt.Sprintf("callers=%d/linger=%s/batch=%d/%s", c.callers, d.Linger, d.BatchSize, d.Compression)
		b.Run(name, func(b *testing.B) {
			cfg.Brokers = kafkatest.Brokers(b)
			cfg.Topic = kafkatest.Topic(b, 6, nil)
			p, err := New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			b.SetBytes(int64(size))
			b.ResetTimer()
			var wg sync.WaitGroup
			var next sync.Mutex
			n := 0
			for range c.callers {
				wg.Go(func() {
					for {
						next.Lock()
						if n >= b.N {
							next.Unlock()
							return
						}
						n++
						next.Unlock()
						if err := p.Publish(context.Background(), recs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N*perCall)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)*float64(c.callers)/1000, "ms/call")
		})
	}
}
