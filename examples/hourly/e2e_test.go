package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestHoursCloseOnWatermarksOnRealKafka runs a live source over the
// simulated API with watermarks on a real broker and this consumer beside
// it, then compares every hour it closed with the data set: the
// conversations that started in the hour, by final state, exactly; and no
// event arrived for an hour already closed.
func TestHoursCloseOnWatermarksOnRealKafka(t *testing.T) {
	start := time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)
	clk := clock.NewScaled(start, 1200) // 20 simulated minutes per real second
	from := start.Add(-5 * time.Hour)
	sim, err := jelousim.New(jelousim.Config{Clock: clk, Data: jelousim.DataConfig{
		Seed: 3, Start: from, End: start.Add(3 * time.Hour), Count: 1500, LateRatio: 0.3,
		LongLivedRatio: -1, ActiveMin: time.Minute, ActiveMax: 40 * time.Minute,
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	brokers := kafkatest.Brokers(t)
	ctx := context.Background()
	topic := kafkatest.Topic(t, 3, nil)
	marks := kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "compact"})
	events, err := publish.New(ctx, publish.Config{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	wpub, err := publish.New(ctx, publish.Config{Brokers: brokers, Topic: marks})
	if err != nil {
		t.Fatal(err)
	}
	defer wpub.Close()
	client, err := jelou.New(jelou.Config{BaseURL: srv.URL, Credentials: jelou.Credentials{ClientID: "sim-client", ClientSecret: "sim-secret"}, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.NewFile(filepath.Join(t.TempDir(), "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := poller.New(poller.Config{
		Source: "acme", Start: from, Window: time.Hour, Interval: time.Minute, Lag: 30 * time.Second,
		Settle: jelousim.MaxAttendDelay, Revisit: 48 * time.Hour, Concurrency: 2, CheckpointInterval: 20 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 50 * time.Millisecond, Clock: clk,
		Watermarks: wpub, EventOffsets: events.EndOffsets, EventTopic: topic,
	}, client, events, store)
	if err != nil {
		t.Fatal(err)
	}

	var out testutil.SyncBuffer
	cons := NewConsumer(Config{Brokers: brokers, Topic: topic, WatermarkTopic: marks}, &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() { consumed <- cons.Run(cctx) }()

	pctx, stopPoller := context.WithCancel(ctx)
	polled := make(chan error, 1)
	go func() { polled <- p.Run(pctx) }()
	time.Sleep(clk.Real(4 * time.Hour))
	stopPoller()
	if err := <-polled; err != nil {
		t.Fatalf("poller: %v", err)
	}

	// The last watermark written, read back; then wait for the consumer
	// to close every hour it allows.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(rctx, brokers, marks)
	if err != nil || len(recs) == 0 {
		t.Fatalf("%d watermarks (%v): the test proves nothing", len(recs), err)
	}
	last, err := event.DecodeWatermark(recs[len(recs)-1].Value, recs[len(recs)-1].Headers)
	if err != nil {
		t.Fatal(err)
	}
	lastHour := last.CompleteBefore.Truncate(time.Hour).Add(-time.Hour)
	var hours []Hour
	var late int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		hours, late = cons.Closed()
		if len(hours) > 0 && !hours[len(hours)-1].Start.Before(lastHour) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer closed %d hours, not up to %v, the last before the last watermark %v", len(hours), lastHour, last.CompleteBefore)
		}
	}
	stopConsumer()
	if err := <-consumed; err != nil {
		t.Fatalf("consumer: %v", err)
	}
	if late != 0 {
		t.Errorf("%d events arrived for hours already closed", late)
	}
	if len(hours) < 3 {
		t.Fatalf("%d hours closed: the test proves nothing", len(hours))
	}

	// The truth: the data set's conversations by start hour and final state.
	ds := sim.Dataset()
	type tally struct {
		n      int
		states map[jelou.State]int
	}
	truth := map[time.Time]*tally{}
	for i := range ds.Len() {
		c := ds.Conversation(i)
		h := c.Start.UTC().Truncate(time.Hour)
		if truth[h] == nil {
			truth[h] = &tally{states: map[jelou.State]int{}}
		}
		truth[h].n++
		truth[h].states[c.FinalState]++
	}
	for i, h := range hours {
		want := truth[h.Start]
		if i > 0 && !h.Start.After(hours[i-1].Start) {
			t.Errorf("hour %v emitted after %v", h.Start, hours[i-1].Start)
		}
		if want == nil || h.Conversations != want.n || len(h.States) != len(want.states) {
			t.Errorf("hour %v: %d conversations %v, want %+v", h.Start, h.Conversations, h.States, want)
			continue
		}
		for st, n := range want.states {
			if h.States[st] != n {
				t.Errorf("hour %v: %d %s, want %d", h.Start, h.States[st], st, n)
			}
		}
	}
	if lines := len(splitLines(out.String())); lines != len(hours) {
		t.Errorf("%d JSON lines on stdout, %d hours", lines, len(hours))
	}
	t.Logf("%d hours closed, the last %v; last watermark %v", len(hours), hours[len(hours)-1].Start, last.CompleteBefore)
}

func splitLines(s string) []string {
	var out []string
	for start, i := 0, 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
