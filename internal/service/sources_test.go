package service_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/service"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
)

// TestRunServesSeveralSources configures two named sources (two accounts:
// two simulated APIs with different data) with the file backend: one
// process polls both, each into its own topic and checkpoint file, and
// each topic holds exactly what its API served.
func TestRunServesSeveralSources(t *testing.T) {
	h := newHarness(t, simOptions{})
	sim2, url2 := secondAccount(t, h, 2000)
	topic2 := kafkatest.Topic(t, 3, nil)

	t.Setenv("SOURCES", "acme,globex")
	t.Setenv("SOURCE_ACME_BASE_URL", h.url)
	t.Setenv("SOURCE_ACME_CLIENT_ID", "sim-client")
	t.Setenv("SOURCE_ACME_CLIENT_SECRET", "sim-secret")
	t.Setenv("SOURCE_GLOBEX_BASE_URL", url2)
	t.Setenv("SOURCE_GLOBEX_CLIENT_ID", "sim-client")
	t.Setenv("SOURCE_GLOBEX_CLIENT_SECRET", "sim-secret")
	t.Setenv("SOURCE_GLOBEX_TOPIC", topic2)
	t.Setenv("SOURCE_GLOBEX_RATE_LIMIT", "100")
	loaded, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	// The harness's tuned settings, with the sources Load read.
	base := h.config()
	loaded.Poll, loaded.Kafka, loaded.Checkpoint, loaded.HTTP, loaded.ShutdownTimeout = base.Poll, base.Kafka, base.Checkpoint, base.HTTP, base.ShutdownTimeout
	loaded.Jelou = base.Jelou
	loaded.Jelou.ClientID, loaded.Jelou.ClientSecret = "", ""
	srcs := loaded.Sources()
	if len(srcs) != 2 || srcs[0].Topic != h.topic || srcs[1].Topic != topic2 {
		t.Fatalf("sources %+v, want acme on %s and globex on %s", srcs, h.topic, topic2)
	}

	r := h.start(loaded, service.Options{})
	now := h.clk.Now()
	for _, id := range []string{"acme", "globex"} {
		deadline := time.Now().Add(60 * time.Second)
		for !r.svc.CursorOf(id).After(now.Add(30 * time.Minute)) {
			if time.Now().After(deadline) {
				t.Fatalf("source %s: cursor %s has not passed %s", id, r.svc.CursorOf(id), now.Add(30*time.Minute))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Each source reports its own progress gauges (one series for both
	// used to show whichever reported last).
	for _, id := range []string{"acme", "globex"} {
		for _, name := range []string{"poll_last_success_timestamp_seconds", "checkpoint_last_save_timestamp_seconds", "tracked_conversations"} {
			if v := tu.Sum(t, r.reg, "jelou_producer_"+name, map[string]string{"source": id}); v <= 0 {
				t.Errorf("%s{source=%q} = %v, want > 0 once the source has polled and saved", name, id, v)
			}
		}
	}
	if v := tu.Sum(t, r.reg, "jelou_producer_tracked_conversations", map[string]string{"source": "default"}); v != 0 {
		t.Errorf("tracked_conversations{source=\"default\"} = %v with named sources only", v)
	}
	// As harness.settle, for both simulators: snapshot what they served,
	// wait for both cursors to pass the snapshot and both topics to hold it.
	snap := h.clk.Now()
	served1, served2 := map[jelousim.Pair]bool{}, map[jelousim.Pair]bool{}
	for p := range h.sim.ServedSeq() {
		served1[p] = true
	}
	for p := range sim2.ServedSeq() {
		served2[p] = true
	}
	readBoth := func() (map[jelousim.Pair]int, map[jelousim.Pair]int) {
		return pairCounts(h.readTopic()), pairCounts(h.readTopicOf(topic2))
	}
	complete := func(want map[jelousim.Pair]bool, got map[jelousim.Pair]int) bool {
		for p := range want {
			if got[p] == 0 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r.svc.CursorOf("acme").After(snap) && r.svc.CursorOf("globex").After(snap) {
			g1, g2 := readBoth()
			if complete(served1, g1) && complete(served2, g2) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}

	got1, got2 := readBoth()
	assertNoneMissing(t, served1, got1)
	assertNoRepeats(t, got1)
	assertNoneMissing(t, served2, got2)
	assertNoRepeats(t, got2)
	for p := range got2 {
		if got1[p] > 0 {
			t.Fatalf("pair %s/%s of globex is on acme's topic", p.ID, p.State)
		}
	}
	dir := filepath.Dir(base.Checkpoint.Path)
	for _, name := range []string{"checkpoint.acme.json", "checkpoint.globex.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("checkpoint file of a named source: %v", err)
		}
	}
	t.Logf("acme: %d pairs on its topic; globex: %d", len(got1), len(got2))
}

// secondAccount serves a second simulated account (other data: seed 7,
// count conversations over t0 ± 24 h) on h's clock, and returns it and its
// URL.
func secondAccount(t *testing.T, h *harness, count int) (*jelousim.Server, string) {
	t.Helper()
	cfg := jelousim.Config{Clock: h.clk}
	cfg.Data.Seed = 7
	cfg.Data.Start, cfg.Data.End, cfg.Data.Count = t0.Add(-24*time.Hour), t0.Add(24*time.Hour), count
	sim, err := jelousim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, ts.URL
}
