package e2e

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var longRun = flag.Bool("e2e.long", os.Getenv("E2E_LONG") == "1", "run the long variants (more kills, longer runs); also E2E_LONG=1")

// bins holds the paths of the binaries built once by TestMain.
var bins struct {
	sim, kafka, producer string
	err                  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "jelou-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	bins.err = build(dir)
	bins.sim = filepath.Join(dir, "jelou-sim")
	bins.kafka = filepath.Join(dir, "jelou-kafka")
	bins.producer = filepath.Join(dir, "jelou-producer")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the three commands into dir, from the module root, with
// the testclock tag: only such a build of the producer follows the
// simulator's accelerated clock (see doc.go).
func build(dir string) error {
	cmd := exec.Command("go", "build", "-tags", "testclock", "-o", dir+string(filepath.Separator),
		"./cmd/jelou-sim", "./cmd/jelou-kafka", "./cmd/jelou-producer")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// needBinaries skips under -short and fails when the build failed.
func needBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end suite: runs built binaries for minutes")
	}
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// newRand returns the random source of a test: E2E_SEED when set, else a
// fresh seed, logged so that a failing run can be repeated.
func newRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("E2E_SEED must be an unsigned integer, got %q", s)
		}
		seed = v
	}
	t.Logf("random seed %d (repeat with E2E_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// testDir is the directory of a test's logs, checkpoints and broker data:
// a fresh t.TempDir, or E2E_LOG_DIR/<test> when E2E_LOG_DIR is set (kept
// after the run, for reading the logs of every process).
func testDir(t *testing.T) string {
	root := os.Getenv("E2E_LOG_DIR")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("logs in %s", dir)
	return dir
}
