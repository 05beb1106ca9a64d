package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestParseProducerLog(t *testing.T) {
	started := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	log := `jelou-producer: a line that is not JSON
{"time":"2026-01-01T12:00:01Z","level":"INFO","msg":"no checkpoint: starting fresh"}
{"time":"2026-01-01T12:00:05Z","level":"INFO","msg":"window done","lane":"live","window":"2026-01-01T11:45:00Z/2026-01-01T11:59:55Z","rows":100,"published":90,"took":"4.5s"}
{"time":"2026-01-01T12:00:06Z","level":"INFO","msg":"pagination drift healed","window":"2026-01-01T11:45:00Z/2026-01-01T11:59:55Z","detail":"total changed"}
{"time":"2026-01-01T12:00:07Z","level":"INFO","msg":"pagination drift healed","window":"2026-01-01T10:00:00Z/2026-01-01T10:30:00Z","detail":"total changed"}
{"time":"2026-01-01T12:00:09Z","level":"INFO","msg":"window done","lane":"history","window":"2026-01-01T10:00:00Z/2026-01-01T10:30:00Z","rows":3000,"published":3000,"took":"8s"}
{"time":"2026-01-01T12:00:09.5Z","level":"INFO","msg":"caught up","cursor":"2026-01-01T11:45:00Z"}
{"time":"2026-01-01T12:00:10Z","level":"INFO","msg":"window done","lane":"live","window":"2026-01-01T11:59:55Z/2026-01-01T12:00:05Z","rows":3,"published":3,"took":"12ms"}
{"time":"2026-01-01T12:00:30Z","level":"INFO","msg":"window done","lane":"live","window":"2026-01-01T12:00:05Z/2026-01-01T12:00:25Z","rows":7,"published":6,"took":"15s"}
{"time":"2026-01-01T12:00:40Z","level":"INFO","msg":"caught up","cursor":"2026-01-01T11:45:00Z"}
`
	lanes, caughtUp, drift, err := parseProducerLog(strings.NewReader(log), started)
	if err != nil {
		t.Fatal(err)
	}
	if caughtUp != 9500*time.Millisecond {
		t.Errorf("caught up %v after start, want 9.5s (the first line)", caughtUp)
	}
	if drift != (producerDrift{healed: 2, nearEdge: 1}) {
		t.Errorf("drift %+v, want 2 healed, 1 near the edge", drift)
	}
	live, hist := lanes["live"], lanes["history"]
	if live == nil || hist == nil || len(lanes) != 2 {
		t.Fatalf("lanes %v, want live and history", lanes)
	}
	if live.windows != 3 || live.rows != 110 || live.published != 99 || len(live.took) != 3 || live.took[2] != 15*time.Second {
		t.Errorf("live %+v", live)
	}
	if hist.windows != 1 || hist.windowNames[0] != "2026-01-01T10:00:00Z/2026-01-01T10:30:00Z" {
		t.Errorf("history %+v", hist)
	}
	// Completions at 5s, 10s, 30s; the gaps from 0s to 40s: 5, 5, 20, 10.
	if g := live.maxGap(started, started.Add(40*time.Second)); g != 20*time.Second {
		t.Errorf("maxGap = %v, want 20s", g)
	}
	// Nothing done in [31s, 60s]: the whole span is the gap.
	if g := live.maxGap(started.Add(31*time.Second), started.Add(time.Minute)); g != 29*time.Second {
		t.Errorf("maxGap over an idle span = %v, want 29s", g)
	}

	bad := `{"time":"2026-01-01T12:00:05Z","msg":"window done","lane":"live","took":"soon"}`
	if _, _, _, err := parseProducerLog(strings.NewReader(bad), started); err == nil {
		t.Error("a window done line with an unreadable took was accepted")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP jelou_producer_events_published_total events acknowledged by Kafka
# TYPE jelou_producer_events_published_total counter
jelou_producer_events_published_total{state="active"} 12
jelou_producer_events_published_total{state="closed"} 3
jelou_producer_events_published_totally_other 100
jelou_producer_conversations_fetched_total 40
jelou_producer_lane_backlog_seconds{lane="history",source="default"} 1.5e+03
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := sumMetric(m, "jelou_producer_events_published_total"); got != 15 {
		t.Errorf("published = %v, want 15 (labels summed, other names left out)", got)
	}
	if got := sumMetric(m, "jelou_producer_conversations_fetched_total"); got != 40 {
		t.Errorf("fetched = %v, want 40", got)
	}
	if got := m[historyBacklog]; got != 1500 {
		t.Errorf("history backlog = %v, want 1500", got)
	}
}

// TestCatchupJudge checks the classification against the oracle on a data
// set in the past: every pair delivered 3 s after it was first served,
// except one state change first served after the warm-up and one active
// state served only briefly.
func TestCatchupJudge(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second).Add(-24 * time.Hour)
	sim, err := StartSim(jelousim.Config{Data: jelousim.DataConfig{
		Seed: 11, Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Count: 2000,
		LongLivedRatio: -1, LateRatio: -1, ActiveMin: 20 * time.Second, ActiveMax: 10 * time.Minute,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r := &catchupResult{started: t0, from: t0.Add(time.Minute), end: t0.Add(10 * time.Minute)}
	r.cutoff = r.end.Add(-catchupGrace)
	got := make(map[string]time.Time)
	var dropTerminal, dropShort string
	delivered := 0
	for sp := range sim.ServableSeq(r.cutoff) {
		k := pairKey(sp.ID, sp.State)
		switch {
		case dropTerminal == "" && sp.State != jelou.StateActive && sp.FirstServableAt.After(r.from) && r.cutoff.Sub(sp.FirstServableAt) > time.Minute:
			dropTerminal = k
			continue
		case dropShort == "" && sp.State == jelou.StateActive && sp.FirstServableAt.After(t0) && sp.Until.Before(r.cutoff) && sp.Until.Sub(sp.FirstServableAt) < catchupExposure:
			dropShort = k
			continue
		}
		got[k] = sp.FirstServableAt.Add(3 * time.Second)
		if !sp.FirstServableAt.Before(r.from) {
			delivered++
		}
	}
	if dropTerminal == "" || dropShort == "" {
		t.Fatalf("data set lacks the pairs to drop: %q %q", dropTerminal, dropShort)
	}
	got["ffffffffffffffffffffffff\x00active"] = t0 // never served
	r.judge(sim, got, nil)
	if r.missingLive != 1 || r.missingTerminal != 1 || r.missingHistory != 0 || r.missingActive != 0 {
		t.Errorf("missing: live %d, history %d, active %d, terminal %d; want the one state change", r.missingLive, r.missingHistory, r.missingActive, r.missingTerminal)
	}
	if r.shortMissed != 1 {
		t.Errorf("short-lived pairs missed = %d, want 1", r.shortMissed)
	}
	if r.unknown != 1 || r.early != 0 {
		t.Errorf("unknown %d, early %d; want 1, 0", r.unknown, r.early)
	}
	s := Summarize(r.all)
	if s.N != delivered || s.P50 != 3*time.Second || s.Max != 3*time.Second {
		t.Errorf("delays %v, want %d of 3s", s, delivered)
	}
	if len(r.fresh) == 0 || len(r.changes) == 0 || len(r.fresh)+len(r.changes) != s.N {
		t.Errorf("%d new conversations + %d state changes, want both, adding up to %d", len(r.fresh), len(r.changes), s.N)
	}
}

// TestCatchupRuns runs the scenario end to end at a tiny scale (20 minutes
// of history, 40 s) against kfake, and checks that it measures something
// and that every pair consumed is one the simulator served; it asserts no
// timing.
func TestCatchupRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the producer and runs it for 40s")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "jelou-producer")
	// The flags of Run's build, so that the build cache serves both.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "github.com/jelou-producer/jelou-producer/cmd/jelou-producer")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	t.Setenv("KAFKA_BENCH_BROKERS", strings.Join(cluster.ListenAddrs(), ","))
	broker, err := StartBroker(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	h := &Harness{opts: Options{Dir: dir, ProducerBin: bin, Log: &log}, broker: broker, table: &Table{}}
	res, err := h.runCatchup(ctx, catchupSetup{History: 20 * time.Minute, Run: 40 * time.Second, Warm: 10 * time.Second, Seed: 9})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	res.report(h.table, "5 catch-up")
	var out bytes.Buffer
	if err := h.table.Write(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	if res.consumed == 0 || res.sim.Requests == 0 || sumMetric(res.metrics, "jelou_producer_events_published_total") == 0 {
		t.Errorf("nothing measured: %d pairs consumed, %d requests, metrics %v", res.consumed, res.sim.Requests, len(res.metrics))
	}
	if res.unknown != 0 || res.early != 0 {
		t.Errorf("%d pairs consumed that the oracle never served, %d before it served them", res.unknown, res.early)
	}
	if len(res.lanes) == 0 {
		t.Errorf("no \"window done\" line read from %s", res.log)
	}
	for _, metric := range []string{"missing (served", "delay visible → consumed", "history", "requests per published pair", "rows fetched per published pair", "lane live"} {
		if !strings.Contains(out.String(), metric) {
			t.Errorf("table lacks %q", metric)
		}
	}
}
