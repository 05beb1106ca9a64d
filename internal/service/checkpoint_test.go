package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
)

// TestRunCheckpointTrouble starts the service on a checkpoint it cannot
// use and checks that its source fetches nothing: New fails with an error
// of the documented type naming the file when it cannot open the store;
// otherwise the source is held failed (reason checkpoint) with an error
// naming the file, retried without success while Run goes on, and Run
// returns nil at the stop. The checkpoint is left exactly as it was:
// never a silent fresh start.
func TestRunCheckpointTrouble(t *testing.T) {
	tests := []struct {
		name string
		// spoil damages the checkpoint at path (a good one written by an
		// earlier run) or the configuration; it returns what the error
		// must name.
		spoil func(t *testing.T, h *harness, cfg *config.Config) string
		check func(err error) bool
	}{
		{"corrupt", func(t *testing.T, h *harness, cfg *config.Config) string {
			b := readFile(t, cfg.Checkpoint.Path)
			mid := len(b) / 2
			b[mid] ^= 0xff
			writeFile(t, cfg.Checkpoint.Path, b)
			return cfg.Checkpoint.Path
		}, errorAs[*checkpoint.CorruptError]},
		{"truncated", func(t *testing.T, h *harness, cfg *config.Config) string {
			b := readFile(t, cfg.Checkpoint.Path)
			writeFile(t, cfg.Checkpoint.Path, b[:len(b)/2])
			return cfg.Checkpoint.Path
		}, errorAs[*checkpoint.CorruptError]},
		{"empty", func(t *testing.T, h *harness, cfg *config.Config) string {
			writeFile(t, cfg.Checkpoint.Path, nil)
			return cfg.Checkpoint.Path
		}, errorAs[*checkpoint.CorruptError]},
		{"future version", func(t *testing.T, h *harness, cfg *config.Config) string {
			b := readFile(t, cfg.Checkpoint.Path)
			if !bytes.Contains(b, []byte(`"version":2,`)) {
				t.Fatalf("checkpoint header has no version 2: %.200s", b)
			}
			writeFile(t, cfg.Checkpoint.Path, bytes.Replace(b, []byte(`"version":2,`), []byte(`"version":99,`), 1))
			return cfg.Checkpoint.Path
		}, errorAs[*checkpoint.VersionError]},
		{"another source's", func(t *testing.T, h *harness, cfg *config.Config) string {
			// The same simulator under another name is another source.
			cfg.Jelou.BaseURL = strings.Replace(cfg.Jelou.BaseURL, "127.0.0.1", "localhost", 1)
			return cfg.Checkpoint.Path
		}, errorAs[*checkpoint.SourceMismatchError]},
		{"unreadable (parent is a file)", func(t *testing.T, h *harness, cfg *config.Config) string {
			cfg.Checkpoint.Path = filepath.Join(cfg.Checkpoint.Path, "checkpoint.json")
			return cfg.Checkpoint.Path
		}, func(err error) bool { return errors.Is(err, syscall.ENOTDIR) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 500})
			cfg := h.config()
			writeGoodCheckpoint(t, h, cfg)
			before := readFile(t, cfg.Checkpoint.Path)
			records := len(h.readTopic())

			name := tt.spoil(t, h, &cfg)
			spoilt, _ := os.ReadFile(cfg.Checkpoint.Path)
			// The first run's last handlers may still finish after it
			// returned: count only this run's requests.
			// A file store that cannot be opened (its lock file cannot be
			// created) fails New; any other failure is Run's.
			logger, logs := capture()
			opts := isolationOptions()
			opts.HTTPClient, opts.Logger = taggedClient("spoilt"), logger
			r, err := h.tryStart(cfg, opts)
			if err != nil {
				if !tt.check(err) || !strings.Contains(err.Error(), name) {
					t.Fatalf("New = %v, want the documented error naming %s", err, name)
				}
			} else {
				heldFailed(t, r, logs, config.DefaultSourceID, telemetry.FailureCheckpoint, name)
				waitFor(t, r, 30*time.Second, "second failure", func() bool { return sourceStatus(r, config.DefaultSourceID).Failures >= 2 })
				if err := r.stopAndWait(t); err != nil {
					t.Fatalf("Run = %v, want nil at the stop", err)
				}
			}
			if after, _ := os.ReadFile(cfg.Checkpoint.Path); !bytes.Equal(after, spoilt) {
				t.Errorf("the checkpoint file changed after the failed start (%d bytes before, %d after)", len(spoilt), len(after))
			}
			if !bytes.Equal(readFile(t, filepath.Join(h.dir, "checkpoint.json")), before) && tt.name == "another source's" {
				t.Error("the other source's checkpoint was overwritten")
			}
			if n := len(h.reqs.ofRun("spoilt")); n != 0 {
				t.Errorf("%d API requests after the checkpoint failed to load, want none", n)
			}
			if n := len(h.readTopic()); n != records {
				t.Errorf("%d records published after the checkpoint failed to load, want none", n-records)
			}
		})
	}
}

// TestRunCheckpointKafkaCorrupt is the Kafka backend's counterpart: a
// manifest that is not one holds the source failed (reason checkpoint,
// an error naming the topic) while Run goes on, and nothing is fetched.
func TestRunCheckpointKafkaCorrupt(t *testing.T) {
	h := newHarness(t, simOptions{count: 500})
	cfg := h.config()
	cfg.Checkpoint.Backend = checkpoint.BackendKafka
	cfg.Checkpoint.Topic = kafkatest.Topic(t, 1, map[string]string{"cleanup.policy": "compact"})
	source := checkpoint.SourceID(cfg.Jelou.BaseURL, cfg.Jelou.ClientID)
	// A transport of its own: the shared default one caches metadata from
	// before the topic existed.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(h.brokers...), Topic: cfg.Checkpoint.Topic, RequiredAcks: kafka.RequireAll, Transport: tr}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(source), Value: []byte("{not a manifest")}); err != nil {
		t.Fatal(err)
	}
	logger, logs := capture()
	opts := isolationOptions()
	opts.Logger = logger
	r := h.start(cfg, opts)
	heldFailed(t, r, logs, config.DefaultSourceID, telemetry.FailureCheckpoint, cfg.Checkpoint.Topic, "corrupt")
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("Run = %v, want nil at the stop", err)
	}
	if n := len(h.reqs.all()); n != 0 {
		t.Errorf("%d API requests, want none", n)
	}
}

// TestRunCheckpointDiskFull fills the "disk" while the service runs: a
// file size limit (RLIMIT_FSIZE; Go ignores SIGXFSZ, so writes fail with
// EFBIG) stands in for a full checkpoint volume. Saves fail and are counted,
// the service keeps publishing, Run reports the failed final save naming the
// file, the previous checkpoint stays readable, and a restart once space is
// back resumes from it without losing anything.
//
// The limit applies to the whole process, test log included, so the
// scenario runs in a child process: this test binary, run again for this
// test alone with diskFullChild set.
func TestRunCheckpointDiskFull(t *testing.T) {
	if os.Getenv(diskFullChild) == "1" {
		diskFullScenario(t)
		return
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRunCheckpointDiskFull$", "-test.v")
	cmd.Env = append(os.Environ(), diskFullChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child process:\n%s", out)
	if err != nil {
		t.Fatalf("the disk-full scenario failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestRunCheckpointDiskFull")) {
		t.Fatal("the child process did not run the scenario")
	}
}

// diskFullChild is set in the environment of the child process that runs
// the disk-full scenario.
const diskFullChild = "JELOU_PRODUCER_TEST_DISK_FULL_CHILD"

func diskFullScenario(t *testing.T) {
	h := newHarness(t, simOptions{count: 1500})
	cfg := h.config()
	r := h.start(cfg, service.Options{})
	h.waitCursor(r, t0.Add(-time.Hour), 60*time.Second)
	// Let a save of the caught-up state land.
	saved := tu.Sum(t, r.reg, "jelou_producer_checkpoint_saves_total", map[string]string{"result": "ok"})
	deadline := time.Now().Add(30 * time.Second)
	for tu.Sum(t, r.reg, "jelou_producer_checkpoint_saves_total", map[string]string{"result": "ok"}) <= saved {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint saved")
		}
		time.Sleep(20 * time.Millisecond)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	full := old
	full.Cur = 512
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Skipf("cannot lower RLIMIT_FSIZE: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatalf("restore RLIMIT_FSIZE: %v", err)
			}
		}
	}
	defer restore()

	deadline = time.Now().Add(30 * time.Second)
	for tu.Sum(t, r.reg, "jelou_producer_checkpoint_saves_total", map[string]string{"result": "error"}) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint save failed while the disk was full")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stuck := loadCheckpoint(t, cfg.Checkpoint.Path, r.svc.Source()).Cursor
	h.waitCursor(r, h.clk.Now(), 30*time.Second) // it keeps polling and publishing
	err := r.stopAndWait(t)
	restore()
	if !errors.Is(err, syscall.EFBIG) || !strings.Contains(err.Error(), cfg.Checkpoint.Path) {
		t.Fatalf("Run = %v, want the final save's EFBIG naming %s", err, cfg.Checkpoint.Path)
	}
	cp := loadCheckpoint(t, cfg.Checkpoint.Path, r.svc.Source())
	if !cp.Cursor.Equal(stuck) {
		t.Errorf("checkpoint cursor %s after the disk filled, want the last saved one %s", cp.Cursor, stuck)
	}

	abandoned := h.abandoned()
	r2 := h.start(cfg, service.Options{})
	h.waitCursor(r2, h.clk.Now(), 30*time.Second)
	served := h.settle(r2)
	if err := r2.stopAndWait(t); err != nil {
		t.Fatalf("Run after space came back = %v", err)
	}
	got := pairCounts(h.readTopic())
	assertNoneMissing(t, served, got)
	assertAbandonedRecovered(t, abandoned, got)
	repeats := 0
	for _, n := range got {
		repeats += n - 1
	}
	t.Logf("cursor stuck at %s while the disk was full; %d events repeated after the restart (same ids)", stuck.Format(time.RFC3339), repeats)
}

// writeGoodCheckpoint runs the service until it has saved a checkpoint a
// few hours into the backfill, then stops it.
func writeGoodCheckpoint(t *testing.T, h *harness, cfg config.Config) {
	t.Helper()
	cfg.Poll.Concurrency = 1
	r := h.start(cfg, service.Options{HTTPClient: taggedClient("good")})
	h.waitCursor(r, t0.Add(-20*time.Hour), 30*time.Second)
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	// The run tag reaches the simulator: a later run's "no requests" check
	// by tag is a real one.
	if len(h.reqs.ofRun("good")) == 0 {
		t.Fatal("no tagged API request seen from the first run")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointLagGrowsWhileSavesFail pins checkpoint_lag_seconds to the
// last checkpoint that was really stored: it used to follow the cursor as
// windows completed, so it stayed small while every save failed, which is
// exactly when it must grow.
func TestCheckpointLagGrowsWhileSavesFail(t *testing.T) {
	h := newHarness(t, simOptions{count: 500})
	cfg := h.config()
	dir := filepath.Join(h.dir, "ckpt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Checkpoint.Path = filepath.Join(dir, "checkpoint")
	r := h.start(cfg, service.Options{})
	h.waitCursor(r, t0.Add(-time.Minute), 30*time.Second) // caught up, saves succeeding
	lag := func() time.Duration {
		return time.Duration(tu.Sum(t, r.reg, "jelou_producer_checkpoint_lag_seconds", nil) * float64(time.Second))
	}
	for deadline := time.Now().Add(10 * time.Second); lag() <= 0 || lag() > 30*time.Minute; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint lag %s while saves succeed, want a positive lag under 30 simulated minutes", lag())
		}
	}
	// Saves fail from now on: the checkpoint's directory becomes a file.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, []byte("not a directory"))
	broke := h.clk.Now()
	deadline := time.Now().Add(30 * time.Second)
	for tu.Sum(t, r.reg, "jelou_producer_checkpoint_saves_total", map[string]string{"result": "error"}) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no failed checkpoint save within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // 20 simulated minutes of polling, every save failing
	if l, since := lag(), h.clk.Now().Sub(broke); l < since {
		t.Fatalf("checkpoint lag %s after saves failed for %s of simulated time: it must grow while nothing is stored", l, since)
	}
	if n := tu.Sum(t, r.reg, "jelou_producer_windows_completed_total", map[string]string{"lane": "live"}); n == 0 {
		t.Fatal("no live window completed: the test proves nothing about the cursor moving")
	}
}

// asVersion1 rewrites a checkpoint file of format version 2 as the version
// 1 file an earlier build wrote for the same state: no coverage, version 1,
// the checksum recomputed.
func asVersion1(t *testing.T, data []byte) []byte {
	t.Helper()
	nl := bytes.IndexByte(data, '\n')
	var h map[string]json.RawMessage
	if err := json.Unmarshal(data[:nl], &h); err != nil {
		t.Fatal(err)
	}
	if _, ok := h["coverage"]; !ok {
		t.Fatalf("a version 2 checkpoint without coverage: %.200s", data)
	}
	delete(h, "coverage")
	h["version"] = json.RawMessage("1")
	head, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	const trailer = len("\ncrc32c:00000000\n")
	body := append(append(head, '\n'), data[nl+1:len(data)-trailer]...)
	sum := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	return fmt.Appendf(body, "\ncrc32c:%08x\n", sum)
}

// TestRunMigratesAVersion1Checkpoint: a service stopped by a build that
// wrote format version 1 (a cursor, no coverage) is restarted by this
// build; it migrates the checkpoint (the settle period behind the cursor is
// read again), publishes nothing from before it again, loses nothing, and
// saves version 2 from then on.
func TestRunMigratesAVersion1Checkpoint(t *testing.T) {
	h := newHarness(t, simOptions{})
	cfg := h.config()
	r := h.start(cfg, service.Options{})
	h.waitCursor(r, t0.Add(time.Hour), 60*time.Second)
	h.settle(r)
	if err := r.stopAndWait(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	stopped := h.clk.Now()
	before := len(h.readTopic())
	v1 := asVersion1(t, readFile(t, cfg.Checkpoint.Path))
	writeFile(t, cfg.Checkpoint.Path, v1)
	if cp := loadCheckpoint(t, cfg.Checkpoint.Path, r.svc.Source()); cp.Version != 1 || cp.Coverage != nil {
		t.Fatalf("rewritten checkpoint loads as version %d with coverage %v, want version 1 without", cp.Version, cp.Coverage)
	}

	abandoned := h.abandoned()
	r2 := h.start(cfg, service.Options{})
	h.waitCursor(r2, stopped.Add(30*time.Minute), 60*time.Second)
	served := h.settle(r2)
	if err := r2.stopAndWait(t); err != nil {
		t.Fatalf("second run: %v", err)
	}
	evs := h.readTopic()
	got := pairCounts(evs)
	assertNoneMissing(t, served, got)
	assertAbandonedRecovered(t, abandoned, got)
	assertNoRepeats(t, got)
	if len(evs) <= before {
		t.Errorf("the run on the migrated checkpoint published nothing new (%d records before, %d after)", before, len(evs))
	}
	if cp := loadCheckpoint(t, cfg.Checkpoint.Path, r2.svc.Source()); cp.Version != checkpoint.FormatVersion || cp.Coverage == nil {
		t.Fatalf("checkpoint after the run: version %d, coverage %v; want version %d with coverage", cp.Version, cp.Coverage, checkpoint.FormatVersion)
	}
}
