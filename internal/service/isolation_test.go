package service_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// twoSources is a harness with a second simulated account: acme on the
// harness's API and topic, globex on its own API and topic, whose client
// secret is read from a file (SOURCE_GLOBEX_CLIENT_SECRET_FILE).
type twoSources struct {
	*harness
	sim2       *jelousim.Server
	topic2     string
	secretFile string
	cfg        config.Config
}

// newTwoSources builds the harness with globex's secret file holding
// secret, and a run configuration of both sources on backend.
func newTwoSources(t *testing.T, secret, backend string) *twoSources {
	t.Helper()
	h := newHarness(t, simOptions{count: 2000})
	sim2, url2 := secondAccount(t, h, 1500)
	ts := &twoSources{harness: h, sim2: sim2, topic2: kafkatest.Topic(t, 3, nil), secretFile: filepath.Join(t.TempDir(), "globex-secret")}
	ts.writeSecret(secret)

	t.Setenv("SOURCES", "acme,globex")
	t.Setenv("SOURCE_ACME_BASE_URL", h.url)
	t.Setenv("SOURCE_ACME_CLIENT_ID", "sim-client")
	t.Setenv("SOURCE_ACME_CLIENT_SECRET", "sim-secret")
	t.Setenv("SOURCE_GLOBEX_BASE_URL", url2)
	t.Setenv("SOURCE_GLOBEX_CLIENT_ID", "sim-client")
	t.Setenv("SOURCE_GLOBEX_CLIENT_SECRET_FILE", ts.secretFile)
	t.Setenv("SOURCE_GLOBEX_TOPIC", ts.topic2)
	loaded, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	base := h.config()
	loaded.Poll, loaded.Kafka, loaded.Checkpoint, loaded.HTTP, loaded.ShutdownTimeout, loaded.Group = base.Poll, base.Kafka, base.Checkpoint, base.HTTP, base.ShutdownTimeout, base.Group
	loaded.Jelou = base.Jelou
	loaded.Jelou.ClientID, loaded.Jelou.ClientSecret = "", ""
	if backend == checkpoint.BackendKafka {
		loaded.Checkpoint.Backend = checkpoint.BackendKafka
		loaded.Checkpoint.Topic = kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "compact"})
	}
	ts.cfg = loaded
	return ts
}

// writeSecret replaces globex's secret file, as a secret rotation does.
func (ts *twoSources) writeSecret(secret string) {
	ts.t.Helper()
	tmp := ts.secretFile + ".new"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		ts.t.Fatal(err)
	}
	if err := os.Rename(tmp, ts.secretFile); err != nil {
		ts.t.Fatal(err)
	}
}

// options are the service options of these tests: retries after one
// simulated minute, then two (50 and 100 ms of wall time).
func isolationOptions() service.Options {
	return service.Options{SourceRetry: time.Minute, SourceRetryMax: 2 * time.Minute}
}

// waitFor polls cond every 20ms until it holds, failing the test after
// limit or when Run returns.
func waitFor(t *testing.T, r *running, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run returned %v while waiting for %s", err, what)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, limit)
		}
	}
}

// sourceStatus returns what /readyz says of source id (State "" when it
// does not list it).
func sourceStatus(r *running, id string) telemetry.SourceStatus {
	for _, s := range r.svc.Health().Report().Sources {
		if s.Source == id {
			return s
		}
	}
	return telemetry.SourceStatus{}
}

// settleSource waits, as harness.settle does for one source, until the
// cursor of source id passes now and topic holds every pair sim served
// until now, and returns those pairs.
func (ts *twoSources) settleSource(r *running, id string, sim *jelousim.Server, topic string) map[jelousim.Pair]bool {
	ts.t.Helper()
	now := ts.clk.Now()
	served := map[jelousim.Pair]bool{}
	for p := range sim.ServedSeq() {
		served[p] = true
	}
	waitFor(ts.t, r, 60*time.Second, "cursor of "+id+" past "+now.Format(time.RFC3339), func() bool { return r.svc.CursorOf(id).After(now) })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got := pairCounts(ts.readTopicOf(topic))
		missing := 0
		for p := range served {
			if got[p] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return served
}

// TestSourceFailsAlone runs two sources, one whose API rejects its
// credentials from the start: the other polls and publishes everything,
// Run does not return, source_up and /readyz name the failed source (the
// replica stays ready), and writing the right secret into the failed
// source's file heals it without a restart.
func TestSourceFailsAlone(t *testing.T) {
	ts := newTwoSources(t, "not-the-secret", checkpoint.BackendFile)
	r := ts.start(ts.cfg, isolationOptions())

	ts.waitCursorOf(r, "acme", t0.Add(30*time.Minute))
	waitFor(t, r, 30*time.Second, "second failure of globex", func() bool { return sourceStatus(r, "globex").Failures >= 2 })
	up := func(id string) float64 {
		return tu.Sum(t, r.reg, "jelou_producer_source_up", map[string]string{"source": id})
	}
	if a, g := up("acme"), up("globex"); a != 1 || g != 0 {
		t.Errorf("source_up: acme %v, globex %v; want 1 and 0", a, g)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_source_failures_total", map[string]string{"source": "globex", "reason": telemetry.FailureAuth}); n < 2 {
		t.Errorf("source_failures_total{globex,auth} = %v, want at least 2", n)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_source_failures_total", map[string]string{"source": "acme"}); n != 0 {
		t.Errorf("source_failures_total{acme} = %v, want 0", n)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_api_requests_total", map[string]string{"source": "globex", "status": "401"}); n < 2 {
		t.Errorf("api_requests_total{globex,401} = %v, want the rejected attempts", n)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_api_requests_total", map[string]string{"source": "acme", "status": "401"}); n != 0 {
		t.Errorf("api_requests_total{acme,401} = %v, want 0", n)
	}
	// globex goes failed → retrying (an attempt on probation) → failed
	// again, as fast as the test's clock runs its retries: a report taken
	// during an attempt says retrying. It must say failed, for auth, with
	// a next retry, between attempts, while acme stays ok.
	rep := r.svc.Health().Report()
	for deadline := time.Now().Add(10 * time.Second); ; {
		st := sourceStatus(r, "globex")
		if st.State == telemetry.SourceFailed && st.Reason == telemetry.FailureAuth && st.NextRetry != nil && sourceStatus(r, "acme").State == telemetry.SourceOK {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/readyz sources %+v, want globex failed (auth, with a next retry) and acme ok", r.svc.Health().Report().Sources)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !rep.Ready {
		t.Errorf("/readyz not ready with acme polling: %+v", rep.Checks)
	}
	served1 := ts.settleSource(r, "acme", ts.sim, ts.topic)
	got1 := pairCounts(ts.readTopic())
	assertNoneMissing(t, served1, got1)
	if len(ts.readTopicOf(ts.topic2)) != 0 {
		t.Error("globex published with rejected credentials")
	}

	// The secret rotated in the mounted file: the next retry reads it.
	ts.writeSecret("sim-secret")
	waitFor(t, r, 30*time.Second, "globex polling again", func() bool {
		return sourceStatus(r, "globex").State == telemetry.SourceOK && up("globex") == 1
	})
	ts.waitCursorOf(r, "globex", ts.clk.Now())
	served2 := ts.settleSource(r, "globex", ts.sim2, ts.topic2)
	served1 = ts.settleSource(r, "acme", ts.sim, ts.topic)
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	got1, got2 := pairCounts(ts.readTopic()), pairCounts(ts.readTopicOf(ts.topic2))
	assertNoneMissing(t, served1, got1)
	assertNoRepeats(t, got1)
	assertNoneMissing(t, served2, got2)
	assertNoRepeats(t, got2)
	if len(got2) == 0 {
		t.Error("globex published nothing after its secret was rotated")
	}
}

// TestSourceFailsAloneInGroup is TestSourceFailsAlone's group-mode
// counterpart (Kafka checkpoints): the replica keeps the failed source's
// lease and retries it there, with no rebalance and no crash, while the
// other source polls.
func TestSourceFailsAloneInGroup(t *testing.T) {
	ts := newTwoSources(t, "not-the-secret", checkpoint.BackendKafka)
	r := ts.start(ts.cfg, isolationOptions())

	waitFor(t, r, 60*time.Second, "first failure of globex", func() bool { return sourceStatus(r, "globex").Failures >= 1 })
	gen := tu.Sum(t, r.reg, "jelou_producer_group_generation", nil)
	ts.waitCursorOf(r, "acme", t0.Add(30*time.Minute))
	waitFor(t, r, 30*time.Second, "third failure of globex", func() bool { return sourceStatus(r, "globex").Failures >= 3 })
	if g := tu.Sum(t, r.reg, "jelou_producer_group_generation", nil); g != gen || gen == 0 {
		t.Errorf("group generation %v, then %v: want one generation, the failed source's lease kept", gen, g)
	}
	for _, id := range []string{"acme", "globex"} {
		if owned := tu.Sum(t, r.reg, "jelou_producer_source_owned", map[string]string{"source": id}); owned != 1 {
			t.Errorf("source_owned{%s} = %v, want 1", id, owned)
		}
	}
	if g := tu.Sum(t, r.reg, "jelou_producer_source_up", map[string]string{"source": "globex"}); g != 0 {
		t.Errorf("source_up{globex} = %v, want 0", g)
	}
	ts.writeSecret("sim-secret")
	waitFor(t, r, 30*time.Second, "globex polling again", func() bool { return sourceStatus(r, "globex").State == telemetry.SourceOK })
	ts.waitCursorOf(r, "globex", ts.clk.Now())
	if g := tu.Sum(t, r.reg, "jelou_producer_group_generation", nil); g != gen {
		t.Errorf("group generation %v after the heal, want %v", g, gen)
	}
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// waitCursorOf waits until the cursor of source id is after c.
func (h *harness) waitCursorOf(r *running, id string, c time.Time) {
	h.t.Helper()
	waitFor(h.t, r, 60*time.Second, "cursor of "+id+" past "+c.Format(time.RFC3339), func() bool { return r.svc.CursorOf(id).After(c) })
}

// TestSourceFailsAloneOnOversizedRecord gives acme a row whose event is
// larger than KAFKA_BATCH_BYTES: acme stops alone with reason publish,
// its checkpoint short of that row, while globex polls on and Run does not
// return.
func TestSourceFailsAloneOnOversizedRecord(t *testing.T) {
	ts := newTwoSources(t, "sim-secret", checkpoint.BackendFile)
	ds := ts.sim.Dataset()
	target, _ := ds.Range(t0.Add(-12*time.Hour).Unix(), t0.Unix())
	conv := ds.Conversation(target)
	ts.reqs.setRewrite(padRow(t, conv.ID, 512<<10))
	ts.cfg.Kafka.BatchBytes = 256 << 10
	ts.cfg.Jelou.MaxBodyBytes = 64 << 20
	r := ts.start(ts.cfg, isolationOptions())

	waitFor(t, r, 60*time.Second, "acme failed", func() bool { return sourceStatus(r, "acme").State == telemetry.SourceFailed })
	// Retried, acme meets the row again: it is never seen ok (healed) in
	// between, however long the retried poller takes to reach the row.
	healed := 0
	waitFor(t, r, 60*time.Second, "cursor of globex past "+t0.Add(30*time.Minute).Format(time.RFC3339), func() bool {
		if sourceStatus(r, "acme").State == telemetry.SourceOK {
			healed++
		}
		return r.svc.CursorOf("globex").After(t0.Add(30 * time.Minute))
	})
	if healed > 0 {
		t.Errorf("acme was seen ok at %d looks after it failed on a row it cannot publish", healed)
	}
	st := sourceStatus(r, "acme")
	if st.Reason != telemetry.FailurePublish || !strings.Contains(st.Error, ts.topic) {
		t.Errorf("acme status %+v, want reason publish and an error naming topic %s", st, ts.topic)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_source_failures_total", map[string]string{"source": "acme", "reason": telemetry.FailurePublish}); n < 1 {
		t.Errorf("source_failures_total{acme,publish} = %v, want at least 1", n)
	}
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	cp := loadCheckpoint(t, filepath.Join(filepath.Dir(ts.cfg.Checkpoint.Path), "checkpoint.acme.json"), "source-acme")
	if cp.Cursor.After(conv.Start) {
		t.Errorf("acme's checkpoint cursor %s passed the oversized row's start %s", cp.Cursor, conv.Start)
	}
}

// heldFailed waits until source id is held failed with reason, and checks
// what a failed source shows: source_up 0, source_failures_total at least
// 1, /readyz listing it with an error naming each of names (and not ready
// when it was the only source polled), and a "source stopped" log line of
// logs naming them too. It returns the source's status.
func heldFailed(t *testing.T, r *running, logs *tu.SyncBuffer, id, reason string, names ...string) telemetry.SourceStatus {
	t.Helper()
	waitFor(t, r, 60*time.Second, id+" held failed", func() bool { return sourceStatus(r, id).State == telemetry.SourceFailed })
	st := sourceStatus(r, id)
	if st.Reason != reason || st.NextRetry == nil {
		t.Errorf("/readyz says of %s %+v, want reason %s and a next retry", id, st, reason)
	}
	if up := tu.Sum(t, r.reg, "jelou_producer_source_up", map[string]string{"source": id}); up != 0 {
		t.Errorf("source_up{%s} = %v, want 0", id, up)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_source_failures_total", map[string]string{"source": id, "reason": reason}); n < 1 {
		t.Errorf("source_failures_total{%s,%s} = %v, want at least 1", id, reason, n)
	}
	if rep := r.svc.Health().Report(); len(rep.Sources) == 1 && rep.Ready {
		t.Errorf("/readyz ready with its only source failed: %+v", rep.Checks)
	}
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"msg":"source stopped`) && strings.Contains(l, `"source":"`+id+`"`) {
			line = l
		}
	}
	if line == "" {
		t.Errorf("no \"source stopped\" log line for %s", id)
	}
	for _, n := range names {
		if !strings.Contains(st.Error, n) || !strings.Contains(line, n) {
			t.Errorf("/readyz error %q or log line %q does not name %s", st.Error, line, n)
		}
	}
	return st
}

// capture returns a logger writing JSON lines to the returned buffer.
func capture() (*slog.Logger, *tu.SyncBuffer) {
	logs := &tu.SyncBuffer{}
	return slog.New(slog.NewJSONHandler(logs, nil)), logs
}

// TestSingleSourceCredentials pins what rejected credentials do to a
// deployment of one source. Rejected at start-up, before any window of it
// completed, they are a configuration error: Run stops with the
// *jelou.AuthError (exit 3). Revoked after it polled (a 401 after hours),
// the source is held failed and Run goes on, and rotating the secret in
// JELOU_CLIENT_SECRET_FILE heals it without a restart.
func TestSingleSourceCredentials(t *testing.T) {
	for _, atStart := range []bool{true, false} {
		t.Run(map[bool]string{true: "rejected at start-up", false: "revoked after polling"}[atStart], func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 500})
			secretFile := filepath.Join(t.TempDir(), "secret")
			writeFile(t, secretFile, []byte("sim-secret\n"))
			cfg := h.config()
			cfg.Jelou.ClientSecretFile = secretFile
			if atStart {
				h.sim.SetCredentials("sim-client", "rotated")
			}
			logger, logs := capture()
			opts := isolationOptions()
			opts.Logger = logger
			r := h.start(cfg, opts)
			if atStart {
				if err := r.wait(t, 60*time.Second); !errorAs[*jelou.AuthError](err) {
					t.Fatalf("Run = %v, want an error wrapping *jelou.AuthError", err)
				}
				return
			}
			h.waitCursor(r, t0.Add(-20*time.Hour), 60*time.Second)
			h.sim.SetCredentials("sim-client", "rotated")
			heldFailed(t, r, logs, config.DefaultSourceID, telemetry.FailureAuth, "401")
			waitFor(t, r, 30*time.Second, "second failure", func() bool { return sourceStatus(r, config.DefaultSourceID).Failures >= 2 })

			writeFile(t, secretFile, []byte("rotated\n"))
			waitFor(t, r, 30*time.Second, "the source polling again", func() bool {
				return sourceStatus(r, config.DefaultSourceID).State == telemetry.SourceOK &&
					tu.Sum(t, r.reg, "jelou_producer_source_up", map[string]string{"source": config.DefaultSourceID}) == 1
			})
			h.waitCursor(r, h.clk.Now(), 60*time.Second)
			if !r.svc.Health().Report().Ready {
				t.Errorf("/readyz not ready after the heal: %+v", r.svc.Health().Report().Checks)
			}
			if err := r.stopAndWait(t); err != nil {
				t.Fatalf("Run = %v", err)
			}
		})
	}
}

// stopAtFirstSave is an observer that cancels the service (once ready is
// closed) from inside the first checkpoint save of the source whose
// checkpoint source ends with suffix: the save a failing poller makes on
// its way out, before its failure reaches the service.
type stopAtFirstSave struct {
	poller.Observer
	suffix string
	ready  <-chan struct{}
	stop   *func()
	once   *sync.Once
}

// Saved implements poller.Observer.
func (o stopAtFirstSave) Saved(cp *checkpoint.Checkpoint, n int, err error) {
	o.Observer.Saved(cp, n, err)
	if strings.HasSuffix(cp.Source, o.suffix) {
		o.once.Do(func() {
			<-o.ready
			(*o.stop)()
		})
	}
}

// TestSourceFailingAsTheServiceStops stops the service just as globex's
// poller fails (its credentials rejected from the start; the stop is asked
// from inside the poller's final save, so the poller returns its failure
// and only then sees the stop): the failure is globex's alone, as it
// would have been a moment earlier, and Run returns nil. CI once saw Run
// return a source's failure when the stop came between the two.
func TestSourceFailingAsTheServiceStops(t *testing.T) {
	ts := newTwoSources(t, "not-the-secret", checkpoint.BackendFile)
	ready := make(chan struct{})
	var stop func()
	opts := isolationOptions()
	opts.Observe = func(o poller.Observer) poller.Observer {
		return stopAtFirstSave{Observer: o, suffix: "globex", ready: ready, stop: &stop, once: new(sync.Once)}
	}
	r := ts.start(ts.cfg, opts)
	stop = r.stop
	close(ready)
	if err := r.wait(t, 60*time.Second); err != nil {
		t.Fatalf("Run = %v, want nil: a source failing as the service stops is not the service's failure", err)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_source_failures_total", map[string]string{"source": "globex", "reason": telemetry.FailureAuth}); n != 1 {
		t.Errorf("source_failures_total{globex,auth} = %v, want 1", n)
	}
}
