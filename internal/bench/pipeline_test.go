package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/service"
)

// BenchmarkBackfillPipeline runs the producer's pipeline (internal/service,
// as the binary wires it) in process over 100,000 conversations in 3 days
// (the rows per window of scenario 1), for
// profiling the hot path of scenario 1:
//
//	go test -run '^$' -bench BackfillPipeline -benchtime 3x -cpuprofile cpu.out -memprofile mem.out ./internal/bench/
//
// The simulator and the broker (kfake) share the process, so profiles show
// them too; focus on the producer's packages when reading them.
func BenchmarkBackfillPipeline(b *testing.B) {
	const n = 100_000
	from, to := backfillRange(3)
	sim, err := StartSim(jelousim.Config{Data: jelousim.DataConfig{Seed: 1, Start: from, End: to, Count: n, Companies: backfillCompanies}})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	var ms0, ms1 runtime.MemStats
	events := 0
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cfg := config.Defaults()
		cfg.Jelou.BaseURL = sim.URL
		cfg.Jelou.ClientID, cfg.Jelou.ClientSecret = SimClientID, SimClientSecret
		cfg.Jelou.RateLimit = 1e6
		cfg.Kafka.Brokers = cluster.ListenAddrs()
		cfg.Kafka.Topic = fmt.Sprintf("bench-pipeline-%d", i)
		cfg.Kafka.TopicCreate = true
		cfg.Checkpoint.Path = b.TempDir() + "/checkpoint.json"
		cfg.HTTP.Addr = "127.0.0.1:0"
		if err := cfg.Validate(config.CommandBackfill); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		svc, err := service.New(ctx, cfg, service.Options{Command: config.CommandBackfill, From: from, To: to})
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		err = svc.Run(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		events += n
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event(all)")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(events), "B/event(all)")
}
