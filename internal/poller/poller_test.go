package poller_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// harness is the real pipeline around a Poller: the simulated API over
// HTTP, the API client, a kafka-go publisher on a real broker, and a file
// checkpoint.
type harness struct {
	sim     *jelousim.Server
	clk     *clock.Scaled
	url     string
	brokers []string
	topic   string
	ckpt    string
	store   *checkpoint.FileStore // the last poller's, holding the file's lock
	pub     *publish.Publisher
}

func newHarness(t *testing.T, simCfg jelousim.Config, clk *clock.Scaled) *harness {
	t.Helper()
	simCfg.Clock = clk
	sim, err := jelousim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	h := &harness{sim: sim, clk: clk, url: srv.URL, brokers: kafkatest.Brokers(t), ckpt: filepath.Join(t.TempDir(), "checkpoint")}
	h.topic = kafkatest.Topic(t, 4, nil)
	h.pub, err = publish.New(context.Background(), publish.Config{Brokers: h.brokers, Topic: h.topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.pub.Close() })
	return h
}

// newPoller builds a poller over the harness; pageSize is the client's limit.
func (h *harness) newPoller(t *testing.T, cfg poller.Config, pageSize int) *poller.Poller {
	t.Helper()
	client, err := jelou.New(jelou.Config{
		BaseURL:     h.url,
		Credentials: jelou.Credentials{ClientID: "sim-client", ClientSecret: "sim-secret"},
		PageSize:    pageSize,
		RateLimit:   -1,
		Retry:       jelou.RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = h.store.Close() // a restart: the previous poller's process is gone, with its lock
	store, err := checkpoint.NewFile(h.ckpt)
	if err != nil {
		t.Fatal(err)
	}
	h.store = store
	t.Cleanup(func() { _ = store.Close() })
	cfg.Source = "test-source"
	cfg.EventSource = event.NewSource("test")
	cfg.Clock = h.clk
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 50*time.Millisecond
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	p, err := poller.New(cfg, client, h.pub, store)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type pair struct {
	id    string
	state jelou.State
}

// onTopic reads the whole topic and counts records per (conversation,
// state), checking every record's id and key on the way.
func (h *harness) onTopic(t *testing.T) map[pair]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, h.brokers, h.topic)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[pair]int, len(recs))
	for _, r := range recs {
		e, err := r.Event()
		if err != nil {
			t.Fatalf("record at %d/%d does not decode: %v", r.Partition, r.Offset, err)
		}
		if want := event.ID(e.Subject, e.Data.State); e.ID != want {
			t.Fatalf("event id %s, want the deterministic %s", e.ID, want)
		}
		if want, _ := e.Key(); string(r.Key) != string(want) {
			t.Fatalf("record key %q, want %q", r.Key, want)
		}
		got[pair{e.Subject, e.Data.State}]++
	}
	return got
}

// checkServedOnceEach fails unless every pair the API served is on the
// topic exactly once and nothing else is.
func (h *harness) checkServedOnceEach(t *testing.T, got map[pair]int) {
	t.Helper()
	served := 0
	for p := range h.sim.ServedSeq() {
		served++
		if n := got[pair{p.ID, p.State}]; n != 1 {
			t.Errorf("served pair (%s, %s) is on the topic %d times, want once", p.ID, p.State, n)
		}
	}
	if len(got) != served {
		t.Errorf("topic holds %d distinct pairs, the API served %d", len(got), served)
	}
	if served == 0 {
		t.Fatal("the API served nothing: the test proves nothing")
	}
	t.Logf("served %d pairs in %d requests; topic holds %d distinct pairs", served, h.sim.Stats().Requests, len(got))
}

func TestBackfillSplitsLargeWindowsAndPublishesEachPairOnce(t *testing.T) {
	dataStart := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewScaled(dataStart.Add(8*time.Hour), 1)
	h := newHarness(t, jelousim.Config{
		Data:       jelousim.DataConfig{Seed: 7, Start: dataStart, End: dataStart.Add(6 * time.Hour), Count: 3000},
		PageCap:    40, // the server returns fewer rows than asked for
		Order:      jelousim.OrderShuffled,
		FaultRates: jelousim.FaultRates{jelousim.FaultInternal: 0.05, jelousim.FaultDuplicateRow: 0.03, jelousim.FaultBadGateway: 0.02},
	}, clk)
	end := dataStart.Add(6*time.Hour + time.Minute)
	p := h.newPoller(t, poller.Config{Start: dataStart, End: end, Window: time.Hour, Concurrency: 4, MaxPages: 4, MinWindow: time.Minute}, 100)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !p.Cursor().Equal(end) {
		t.Fatalf("cursor %v after the backfill, want its end %v", p.Cursor(), end)
	}
	h.checkServedOnceEach(t, h.onTopic(t))
	// 500 rows an hour in pages of 40 need 13 pages: more than 4, so every
	// hour was split; the requests show it.
	if st := h.sim.Stats(); st.ByStatus[200] < 80 {
		t.Fatalf("only %d successful requests: windows were not split into bounded queries", st.ByStatus[200])
	}
	st, err := checkpoint.NewFile(h.ckpt, checkpoint.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cp, err := st.Load(context.Background(), "test-source")
	if err != nil || !cp.Cursor.Equal(end) {
		t.Fatalf("checkpoint after the backfill: %v, %v; want cursor %v", cp, err, end)
	}
}

// TestAbsurdPaginationNeverLoops pins the bug where a window at
// MinWindow, asked for "every page" (maxPages 0), was fetched again and
// again because the client read 0 as its own bound of 1000 pages: an API
// claiming 5,000,000 rows on every response made the poller call itself on
// the same window forever. Now every row is published and the run ends.
func TestAbsurdPaginationNeverLoops(t *testing.T) {
	for _, fault := range []jelousim.FaultKind{jelousim.FaultAbsurdTotal, jelousim.FaultContradictoryPages} {
		t.Run(string(fault), func(t *testing.T) {
			dataStart := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
			clk := clock.NewScaled(dataStart.Add(5*time.Hour), 1)
			h := newHarness(t, jelousim.Config{
				Data:       jelousim.DataConfig{Seed: 9, Start: dataStart, End: dataStart.Add(2 * time.Hour), Count: 300},
				FaultRates: jelousim.FaultRates{fault: 1},
			}, clk)
			end := dataStart.Add(2 * time.Hour)
			p := h.newPoller(t, poller.Config{Start: dataStart, End: end, Window: time.Hour, MinWindow: time.Hour, MaxPages: 4}, 50)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := p.Run(ctx); err != nil || ctx.Err() != nil {
				t.Fatalf("Run = %v (context: %v): the backfill did not finish", err, ctx.Err())
			}
			if !p.Cursor().Equal(end) {
				t.Fatalf("cursor %v, want %v", p.Cursor(), end)
			}
			h.checkServedOnceEach(t, h.onTopic(t))
			if n := h.sim.Stats().Requests; n > 60 {
				t.Fatalf("%d requests for 300 rows in pages of 50: paging did not stop when the rows ran out", n)
			}
		})
	}
}

func TestWindowRejectedAsTooWideIsSplit(t *testing.T) {
	dataStart := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewScaled(dataStart.Add(5*time.Hour), 1)
	h := newHarness(t, jelousim.Config{
		Data:      jelousim.DataConfig{Seed: 3, Start: dataStart, End: dataStart.Add(2 * time.Hour), Count: 400},
		MaxWindow: 20 * time.Minute, // wider windows get 422
	}, clk)
	end := dataStart.Add(2 * time.Hour)
	p := h.newPoller(t, poller.Config{Start: dataStart, End: end, Window: time.Hour, MinWindow: 5 * time.Minute}, 100)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := h.sim.Stats().ByStatus[422]; n == 0 {
		t.Fatal("the API never answered 422: the test does not exercise the split")
	}
	h.checkServedOnceEach(t, h.onTopic(t))
}

func TestWindowStillTooWideAtMinWindowIsFatal(t *testing.T) {
	dataStart := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewScaled(dataStart.Add(5*time.Hour), 1)
	h := newHarness(t, jelousim.Config{
		Data:      jelousim.DataConfig{Seed: 3, Start: dataStart, End: dataStart.Add(time.Hour), Count: 100},
		MaxWindow: time.Minute,
	}, clk)
	p := h.newPoller(t, poller.Config{Start: dataStart, End: dataStart.Add(time.Hour), Window: time.Hour, MinWindow: 10 * time.Minute}, 100)
	err := p.Run(context.Background())
	var v *jelou.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("Run = %v, want a *jelou.ValidationError once the window cannot be split further", err)
	}
	if !p.Cursor().Equal(dataStart) {
		t.Fatalf("cursor moved to %v past a window that was never fetched", p.Cursor())
	}
}

func TestCleanStopThenRestartRepeatsNothing(t *testing.T) {
	dataStart := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewScaled(dataStart.Add(30*time.Hour), 1)
	h := newHarness(t, jelousim.Config{
		Data:    jelousim.DataConfig{Seed: 11, Start: dataStart, End: dataStart.Add(24 * time.Hour), Count: 4000},
		Latency: 5 * time.Millisecond,
	}, clk)
	end := dataStart.Add(24 * time.Hour)
	cfg := poller.Config{Start: dataStart, End: end, Window: 30 * time.Minute, Concurrency: 4, CheckpointInterval: time.Millisecond}

	ctx, cancel := context.WithCancel(context.Background())
	first := h.newPoller(t, cfg, 50)
	stopped := make(chan error, 1)
	go func() { stopped <- first.Run(ctx) }()
	// Stop once a part of the range is done, with windows in flight.
	for deadline := time.Now().Add(20 * time.Second); first.Cursor().Before(dataStart.Add(6 * time.Hour)); {
		if time.Now().After(deadline) {
			t.Fatal("the backfill made no progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("first run: %v", err)
	}
	mid := first.Cursor()
	if !mid.Before(end) {
		t.Fatalf("the first run finished before it was stopped (cursor %v); nothing was in flight", mid)
	}

	second := h.newPoller(t, cfg, 50)
	if err := second.Run(context.Background()); err != nil {
		t.Fatalf("second run: %v", err)
	}
	t.Logf("stopped at cursor %v, resumed to %v", mid, second.Cursor())
	h.checkServedOnceEach(t, h.onTopic(t))
}

func TestLiveCapturesLateRowsAndStateChangesOfOldConversations(t *testing.T) {
	start := time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)
	const speed = 1200 // 20 simulated minutes per real second
	clk := clock.NewScaled(start, speed)
	h := newHarness(t, jelousim.Config{
		Data: jelousim.DataConfig{
			Seed: 5, Start: start.Add(-14 * time.Hour), End: start.Add(3 * time.Hour), Count: 1500,
			LongLivedRatio: 0.3, LateRatio: 0.3,
		},
	}, clk)
	p := h.newPoller(t, poller.Config{
		Start: start.Add(-14 * time.Hour), Window: time.Hour, Interval: time.Minute, Lag: 30 * time.Second,
		// The simulated API lists late rows up to an hour after they start:
		// the settle period must cover that.
		Settle: jelousim.MaxAttendDelay, Revisit: 48 * time.Hour, RevisitInterval: 5 * time.Minute, Concurrency: 2,
	}, 100)
	runFor := 4 * time.Hour // of simulated time
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	time.Sleep(clk.Real(runFor))
	// Stop by revoking the credentials: the poller stops at its next
	// request, and every response it received before was published.
	h.sim.Revoke()
	var auth *jelou.AuthError
	select {
	case err := <-errc:
		if !errors.As(err, &auth) {
			t.Fatalf("Run = %v, want a *jelou.AuthError after the revoke", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the poller did not stop after its credentials were revoked")
	}
	stop := clk.Now()
	got := h.onTopic(t)
	h.checkServedOnceEach(t, got)

	// Every terminal state the API could have served an hour before the
	// stop (the longest revisit interval) and a margin was published, and
	// among them are state changes of conversations that started ten hours
	// or more before. The margin is scheduling slack: on this clock a
	// simulated minute is 50 ms, which a loaded 2-core machine can steal
	// from the revisit lane.
	ds := h.sim.Dataset()
	var expected, old int
	for sp := range h.sim.ServableSeq(stop.Add(-time.Hour - 10*time.Minute)) {
		if !sp.State.Terminal() {
			continue
		}
		expected++
		if got[pair{sp.ID, sp.State}] == 0 {
			t.Errorf("terminal pair (%s, %s), servable since %v, was never published", sp.ID, sp.State, sp.FirstServableAt)
			continue
		}
		i, _ := ds.Lookup(sp.ID)
		if c := ds.Conversation(i); c.Transition.Sub(c.Start) >= 10*time.Hour && c.Transition.After(start) {
			old++
		}
	}
	t.Logf("%d terminal pairs expected and published; %d of them changed state 10h+ after the conversation started", expected, old)
	if old == 0 {
		t.Fatal("no conversation changed state 10 hours or more after it started during the run: the test proves nothing about revisits")
	}
	if st := h.sim.Stats(); st.ByStatus[401] > 2 {
		t.Fatalf("%d requests got 401: the poller retried rejected credentials", st.ByStatus[401])
	}
}
