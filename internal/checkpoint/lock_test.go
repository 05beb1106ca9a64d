package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func requireLocking(t *testing.T) {
	t.Helper()
	if !lockSupported {
		t.Skip("no flock(2) on this platform: the lock is a no-op")
	}
}

// TestFileLockConflict opens a path twice in this process: flock locks
// belong to the open file description, so the second open is refused as a
// second process would be, naming the path and this pid.
func TestFileLockConflict(t *testing.T) {
	requireLocking(t)
	path := filepath.Join(t.TempDir(), "x.checkpoint")
	first, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := NewFile(path)
	if err == nil {
		_ = second.Close()
		t.Fatal("second NewFile on a locked path succeeded")
	}
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second NewFile = %v (%T), want a *LockedError matching ErrLocked", err, err)
	}
	host, _ := os.Hostname()
	pid := fmt.Sprintf("pid %d on host %s since ", os.Getpid(), host)
	if le.Path != path || !strings.HasPrefix(le.Holder, pid) {
		t.Errorf("LockedError{Path: %q, Holder: %q}, want path %s and holder %q…", le.Path, le.Holder, path, pid)
	}
	for _, want := range []string{path, pid, "another jelou-producer is running on it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// The refused open changed nothing: the first store still saves.
	if err := first.Save(context.Background(), testCheckpoint("src1", 10, 1)); err != nil {
		t.Fatalf("Save by the holder after a refused open: %v", err)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := first.Save(context.Background(), testCheckpoint("src1", 10, 2)); err == nil {
		t.Error("Save after Close succeeded")
	}
	third, err := NewFile(path)
	if err != nil {
		t.Fatalf("NewFile after Close: %v", err)
	}
	defer third.Close()
	assertLoads(t, third, testCheckpoint("src1", 10, 1))
	// The lock file stays, naming its current holder.
	data, err := os.ReadFile(path + LockSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), fmt.Sprintf(`"pid":%d`, os.Getpid())) {
		t.Errorf("lock file holds %q, want this pid", data)
	}
}

// lockHelperEnv makes TestLockHelper, run in a child process, open the
// store at its value and exit without closing it, as a crashed producer.
const lockHelperEnv = "CHECKPOINT_TEST_LOCK_AND_DIE"

func TestLockHelper(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("helper of TestFileLockStale")
	}
	if _, err := NewFile(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0) // dies holding the lock
}

// TestFileLockStale leaves a lock file written by a process that died
// holding the lock: the kernel released it, so the file does not block,
// and its stale holder line is replaced.
func TestFileLockStale(t *testing.T) {
	requireLocking(t)
	path := filepath.Join(t.TempDir(), "x.checkpoint")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	dead := fmt.Sprintf(`"pid":%d`, cmd.Process.Pid)
	if data, _ := os.ReadFile(path + LockSuffix); !strings.Contains(string(data), dead) {
		t.Fatalf("the dead process left %q in the lock file, want its pid", data)
	}
	s, err := NewFile(path)
	if err != nil {
		t.Fatalf("NewFile with a stale lock file: %v", err)
	}
	defer s.Close()
	data, err := os.ReadFile(path + LockSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), dead) || !strings.Contains(string(data), fmt.Sprintf(`"pid":%d`, os.Getpid())) {
		t.Errorf("lock file holds %q, want this process only", data)
	}
}

// TestFileLockUnknownHolder: a lock held by something that wrote nothing
// into the lock file is still refused, with a message that says so.
func TestFileLockUnknownHolder(t *testing.T) {
	requireLocking(t)
	path := filepath.Join(t.TempDir(), "x.checkpoint")
	f, err := os.OpenFile(path+LockSuffix, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := tryLock(f); !ok || err != nil {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	_, err = NewFile(path)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != "" || !strings.Contains(err.Error(), path) {
		t.Fatalf("NewFile = %v, want a *LockedError with no holder naming %s", err, path)
	}
}

// TestFileReadOnly reads a checkpoint while another store holds its lock,
// and changes nothing.
func TestFileReadOnly(t *testing.T) {
	requireLocking(t)
	s, path := newFileStore(t)
	ctx := context.Background()
	cp := testCheckpoint("src1", 10, 1)
	if err := s.Save(ctx, cp); err != nil {
		t.Fatal(err)
	}
	ro, err := NewFile(path, ReadOnly())
	if err != nil {
		t.Fatalf("NewFile(ReadOnly) while locked: %v", err)
	}
	defer ro.Close()
	assertLoads(t, ro, cp)
	if err := ro.Save(ctx, testCheckpoint("src1", 10, 2)); err == nil {
		t.Error("Save on a read-only store succeeded")
	}
	missing := filepath.Join(t.TempDir(), "none", "x.checkpoint")
	ro2, err := NewFile(missing, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro2.Load(ctx, "src1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a missing file = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only open created %s", filepath.Dir(missing))
	}
}

func TestFileCloseNil(t *testing.T) {
	var s *FileStore
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
