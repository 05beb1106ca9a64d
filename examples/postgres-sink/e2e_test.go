package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/registry"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestEndToEnd runs the real producer (internal/service, on an accelerated
// clock) against the simulator with KAFKA_STATE_TOPIC and
// KAFKA_WATERMARK_TOPIC set, until a watermark covers every conversation of
// the data set, stops it, runs the sink over the three topics, and compares
// the tables with what the simulator served: the history holds one row per
// served (conversation, state), the current state the latest served state
// of every conversation, and the hourly table the served conversations of
// every hour the watermarks closed, counted by company and latest state.
//
// It runs only with SINK_E2E=1 (CI sets it): it takes about a minute and a
// half, the simulated time a watermark needs to cover the data set.
func TestEndToEnd(t *testing.T) {
	if os.Getenv("SINK_E2E") != "1" {
		t.Skip("SINK_E2E=1 runs the producer with a state topic and watermarks into the sink (about 95 s)")
	}
	dsn := postgresDSN(t)
	schema, conn := testSchema(t, dsn)
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, 3, nil)
	stateTopic := kafkatest.Topic(t, 3, map[string]string{"cleanup.policy": "compact"})
	wmTopic := kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "compact"})
	t.Logf("broker tier %s, schema %s", kafkatest.Tier(t), schema)

	// Conversations start in [t0-6h, t0+1h); the producer starts at t0
	// and reads from t0-6h, 20 simulated minutes a second. A watermark
	// reaches t0+1h once every conversation that started before is read
	// after POLL_SETTLE (90m, past the simulator's longest attend delay of
	// an hour) and is terminal: the long-lived ones (5%, active 10 to 30
	// hours) keep it back until about t0+31h, some 95 s. POLL_REVISIT is
	// the default 48h, longer than any of them stays active, so none
	// leaves the index before its terminal state is read: every
	// conversation the watermark covers ends in its final state.
	clk := clock.NewScaled(t0, 1200)
	sim, err := jelousim.New(jelousim.Config{Clock: clk, Data: jelousim.DataConfig{Seed: 11, Start: t0.Add(-6 * time.Hour), End: t0.Add(time.Hour), Count: 800, Companies: 20}})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	for k, v := range map[string]string{
		"JELOU_BASE_URL": api.URL, "JELOU_CLIENT_ID": "sim-client", "JELOU_CLIENT_SECRET": "sim-secret",
		"JELOU_RATE_LIMIT": "200", "JELOU_RATE_BURST": "10", "JELOU_TIMEOUT": "5s",
		"POLL_START_AT": t0.Add(-6 * time.Hour).Format(time.RFC3339), "POLL_SETTLE": "90m", "POLL_REVISIT": "48h",
		"KAFKA_BROKERS": brokers[0], "KAFKA_TOPIC": topic, "KAFKA_STATE_TOPIC": stateTopic, "KAFKA_WATERMARK_TOPIC": wmTopic,
		"GROUP_ID": topic + ".group", "CHECKPOINT_PATH": filepath.Join(t.TempDir(), "checkpoint.json"), "CHECKPOINT_INTERVAL": "200ms",
		"HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "10s",
	} {
		t.Setenv(k, v)
	}
	// With a real Schema Registry (CI starts one), the three opt-ins run
	// together: event and state values in the registry's wire format.
	regURL := os.Getenv("SCHEMA_REGISTRY_TEST_URL")
	if regURL == "" && os.Getenv("CI") == "true" {
		t.Fatal("SCHEMA_REGISTRY_TEST_URL is not set in CI: .ci/run must start scripts/schema-registry.sh")
	}
	if regURL != "" {
		t.Setenv("SCHEMA_REGISTRY_URL", regURL)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(config.CommandRun); err != nil {
		t.Fatal(err)
	}
	var plogs testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := service.New(ctx, cfg, service.Options{Registry: prometheus.NewRegistry(), Clock: clk,
		Logger: slog.New(slog.NewTextHandler(&plogs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("producer logs:\n%s", plogs.String())
		}
	})

	// Until a watermark covers the whole data set.
	end := t0.Add(time.Hour)
	began := time.Now()
	deadline := began.Add(5 * time.Minute)
	for {
		if c := latestWatermarks(t, brokers, wmTopic, topic); len(c) > 0 && allAtLeast(c, end) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the producer stopped: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no watermark reached %s within 5 minutes (simulated now %s, cursor %s)", end, clk.Now(), svc.Cursor())
		}
	}
	t.Logf("a watermark reached %s after %s (simulated now %s)", end.Format(time.RFC3339), time.Since(began).Round(time.Second), clk.Now().Format(time.RFC3339))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("producer Run: %v", err)
	}
	done <- nil

	// The truth, frozen now that the producer is stopped.
	closed := latestWatermarks(t, brokers, wmTopic, topic)
	latest := map[string]jelou.State{}
	var history []string
	for _, p := range sim.Served() {
		history = append(history, fmt.Sprintf("%s|%s|%s", event.ID(p.ID, p.State), p.ID, p.State))
		if cur, ok := latest[p.ID]; !ok || rank(p.State) > rank(cur) {
			latest[p.ID] = p.State
		}
	}
	var current []string
	counts := map[string]int{}
	data := sim.Dataset()
	for id, st := range latest {
		current = append(current, id+"|"+string(st))
		i, ok := data.Lookup(id)
		if !ok {
			t.Fatalf("served conversation %s is not in the data set", id)
		}
		c := data.Conversation(i)
		for src, before := range closed {
			if c.Start.Before(before.Truncate(time.Hour)) {
				counts[fmt.Sprintf("%s|%s|%s|%s", src, ts(c.Start.Truncate(time.Hour)), c.CompanyID, st)]++
			}
		}
	}
	if len(closed) != 1 {
		t.Fatalf("watermarks of %d sources, want those of the one source: %v", len(closed), closed)
	}
	// The watermark's promise, on the served truth the tables are compared
	// with: every conversation of the data set that started before it was
	// served, and last in its final state.
	var unserved, notFinal []string
	for i := range data.Len() {
		c := data.Conversation(i)
		for _, before := range closed {
			if !c.Start.Before(before) {
				continue
			}
			switch st, ok := latest[c.ID]; {
			case !ok:
				unserved = append(unserved, c.ID)
			case st != c.FinalState:
				notFinal = append(notFinal, fmt.Sprintf("%s %s, final %s", c.ID, st, c.FinalState))
			}
		}
	}
	if len(unserved) > 0 || len(notFinal) > 0 {
		t.Errorf("before the watermark %v: %d conversations never served, %d not served in their final state\nunserved:  %s\nnot final: %s",
			closed, len(unserved), len(notFinal), head(unserved), head(notFinal))
	}
	var hourly []string
	for k, n := range counts {
		hourly = append(hourly, k+"|"+strconv.Itoa(n))
	}

	if regURL != "" {
		framedThroughRegistry(t, regURL, brokers, topic, stateTopic)
	}
	r := startSink(t, Config{Brokers: brokers, Topic: topic, StateTopic: stateTopic, WatermarkTopic: wmTopic, DSN: dsn, Schema: schema, BatchSize: 500, FlushEvery: 50 * time.Millisecond})
	waitCaughtUp(t, r, conn, schema, brokers, topic, stateTopic, wmTopic)
	compare(t, "conversation_events", query(t, conn, schema, `SELECT event_id, conversation_id, state FROM {s}.conversation_events`), history)
	compare(t, "conversations", query(t, conn, schema, `SELECT conversation_id, state FROM {s}.conversations`), current)
	compare(t, "conversations_hourly", query(t, conn, schema, hourlyQuery), hourly)
	t.Logf("served %d pairs of %d conversations; sink %+v", len(history), len(current), r.sink.Stats())
	stopSink(t, r)
}

// framedThroughRegistry reads every record of topics and deserializes it
// as a registry-aware consumer does: the framed schema id fetched from the
// registry at url, the payload validated against it, then decoded.
func framedThroughRegistry(t *testing.T, url string, brokers []string, topics ...string) {
	t.Helper()
	client, err := registry.New(registry.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	d := registry.NewDeserializer(client)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, topic := range topics {
		recs, err := kafkatest.ReadAll(ctx, brokers, topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if _, id, err := d.Decode(ctx, rec); err != nil || id == 0 {
				t.Fatalf("%s partition %d offset %d does not deserialize through the registry (schema id %d): %v", topic, rec.Partition, rec.Offset, id, err)
			}
		}
		t.Logf("%s: %d records, every one deserialized through the Schema Registry", topic, len(recs))
	}
}

// latestWatermarks reads the watermark topic and returns each source's
// latest completeBefore for eventTopic, failing the test if one moves back.
func latestWatermarks(t *testing.T, brokers []string, wmTopic, eventTopic string) map[string]time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, brokers, wmTopic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for _, rec := range recs {
		w, err := event.DecodeWatermark(rec.Value, rec.Headers)
		if err != nil {
			t.Fatalf("watermark topic %d/%d: %v", rec.Partition, rec.Offset, err)
		}
		if w.Topic != eventTopic {
			t.Fatalf("watermark of topic %q, want %q", w.Topic, eventTopic)
		}
		if prev, ok := out[w.Source]; ok && w.CompleteBefore.Before(prev) {
			t.Fatalf("watermark of %s moved back from %s to %s", w.Source, prev, w.CompleteBefore)
		}
		out[w.Source] = w.CompleteBefore
	}
	return out
}

func allAtLeast(m map[string]time.Time, t time.Time) bool {
	for _, v := range m {
		if v.Before(t) {
			return false
		}
	}
	return true
}
