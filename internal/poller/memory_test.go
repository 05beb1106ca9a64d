package poller_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// chartMemoryLimit is the Helm chart's default resources.limits.memory
// (deploy/helm/jelou-producer/values.yaml), and chartMemLimitPercent its
// goMemLimitPercent: the chart sets GOMEMLIMIT to that share of the limit.
const (
	chartMemoryLimit     = 256 << 20
	chartMemLimitPercent = 90
)

// discardWriter acknowledges every record without keeping it, and counts.
type discardWriter struct{ records atomic.Int64 }

func (d *discardWriter) Publish(_ context.Context, records []event.Record) error {
	d.records.Add(int64(len(records)))
	return nil
}

// truncations counts the truncated reads the poller reports.
type truncations struct {
	poller.NopObserver
	n atomic.Int64
}

func (o *truncations) Truncated(jelou.Window, int) { o.n.Add(1) }

// TestMemoryStaysBoundedUnderAHostileAPI runs the real poller, with the
// defaults and GOMEMLIMIT the chart gives it, against a simulated API whose
// pages never end and never repeat (every page full of new rows, totals of
// five million), the first of them 30 MiB bodies, and fails when the memory
// the process holds from the OS (heap and stacks in use, what the runtime
// has not returned) exceeds the chart's memory limit. The poller must keep
// polling: what the server sends costs it requests, never memory.
func TestMemoryStaysBoundedUnderAHostileAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the poller for seconds against a hostile server")
	}
	if raceEnabled {
		// The race detector slows reading a 30 MiB body tenfold and its
		// memory is not the production figure; go test without -race
		// (CI's plain `go test ./...`) runs this.
		t.Skip("measures memory: not under the race detector")
	}
	limit := int64(chartMemoryLimit * chartMemLimitPercent / 100)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	runtime.GC()

	now := time.Now().UTC().Truncate(time.Second)
	clk := clock.NewScaled(now, 1)
	sim, err := jelousim.New(jelousim.Config{
		Clock:      clk,
		Data:       jelousim.DataConfig{Seed: 18, Start: now.Add(-6 * time.Hour), End: now, Count: 100},
		FaultRates: jelousim.FaultRates{jelousim.FaultEndlessPages: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectNext(jelousim.Fault{Kind: jelousim.FaultEndlessPages, Size: 30 << 20}, 24); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	mem := poller.NewMemoryBudget(0) // from GOMEMLIMIT, as the service does
	client, err := jelou.New(jelou.Config{
		BaseURL:     srv.URL,
		Credentials: jelou.Credentials{ClientID: "sim-client", ClientSecret: "sim-secret"},
		RateLimit:   -1,
		BodyBudget:  mem,
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.NewFile(filepath.Join(t.TempDir(), "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := &discardWriter{}
	obs := &truncations{}
	p, err := poller.New(poller.Config{
		Source:   "hostile",
		Start:    now.Add(-6 * time.Hour),
		Settle:   10 * time.Minute,
		Revisit:  time.Hour,
		RetryMin: 10 * time.Millisecond,
		RetryMax: 100 * time.Millisecond,
		Clock:    clk,
		Memory:   mem,
		Observer: obs,
	}, client, out, store)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var peak atomic.Uint64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			held := ms.Sys - ms.HeapReleased
			if held > peak.Load() {
				peak.Store(held)
			}
			if held > chartMemoryLimit {
				cancel() // over the limit already: stop before the machine suffers
				return
			}
		}
	}()
	err = p.Run(ctx)
	cancel()
	<-sampled
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v", err)
	}
	st := sim.Stats()
	t.Logf("peak %d MiB held from the OS (limit %d MiB); %d requests answered, %d records published, %d reads truncated",
		peak.Load()>>20, chartMemoryLimit>>20, st.Requests, out.records.Load(), obs.n.Load())
	if peak.Load() > chartMemoryLimit {
		t.Fatalf("peak memory %d MiB exceeds the chart's limit of %d MiB", peak.Load()>>20, chartMemoryLimit>>20)
	}
	if st.Requests < 100 || obs.n.Load() == 0 {
		t.Fatalf("%d requests in the run, %d reads truncated: the poller stopped polling, or never met the endless pages", st.Requests, obs.n.Load())
	}
}
