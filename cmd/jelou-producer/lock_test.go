package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
)

// TestRunRefusesALockedCheckpoint starts `run` as a process with the file
// backend, then a second `run` on the same CHECKPOINT_PATH: the second must
// exit with status 1 within seconds, naming the path and the first one's
// pid, and the first must keep running (and stop cleanly on SIGTERM).
func TestRunRefusesALockedCheckpoint(t *testing.T) {
	f := newFixture(t, jelousim.Config{})
	t.Setenv(asBinary, "1")
	t.Setenv("CHECKPOINT_BACKEND", "file")
	path := filepath.Join(f.dir, "checkpoint.json")

	first := exec.Command(os.Args[0], "run")
	var firstErr testutil.SyncBuffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Wait() }()
	t.Cleanup(func() {
		_ = first.Process.Kill()
		<-firstDone
	})
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(firstErr.String(), `"msg":"jelou-producer started"`) {
		select {
		case err := <-firstDone:
			t.Fatalf("the first run exited (%v):\n%s", err, firstErr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run did not start within a minute:\n%s", firstErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	second := exec.Command(os.Args[0], "run")
	var secondErr testutil.SyncBuffer
	second.Stderr = &secondErr
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	secondDone := make(chan error, 1)
	go func() { secondDone <- second.Wait() }()
	started := time.Now()
	select {
	case err := <-secondDone:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
			t.Fatalf("second run: %v, want exit status %d\n%s", err, exitFailed, secondErr.String())
		}
		t.Logf("second run refused after %s: %s", time.Since(started).Round(time.Millisecond), strings.TrimSpace(secondErr.String()))
	case <-time.After(10 * time.Second):
		_ = second.Process.Kill()
		<-secondDone
		t.Fatalf("the second run on the same checkpoint still ran after 10s:\n%s", secondErr.String())
	}
	for _, want := range []string{path, fmt.Sprintf("pid %d ", first.Process.Pid), "another jelou-producer is running on it"} {
		if !strings.Contains(secondErr.String(), want) {
			t.Errorf("the second run's stderr does not contain %q:\n%s", want, secondErr.String())
		}
	}

	select {
	case err := <-firstDone:
		t.Fatalf("the first run exited (%v) when the second was refused:\n%s", err, firstErr.String())
	case <-time.After(500 * time.Millisecond):
	}
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-firstDone:
		if err != nil {
			t.Fatalf("the first run after SIGTERM: %v\n%s", err, firstErr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the first run still ran 20s after SIGTERM:\n%s", firstErr.String())
	}
	firstDone <- nil // for the cleanup
}
