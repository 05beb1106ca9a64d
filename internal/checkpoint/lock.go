package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// LockSuffix is appended to a checkpoint file's path to name its lock file.
const LockSuffix = ".lock"

// ErrLocked matches (with errors.Is) a [*LockedError]: another process holds
// the lock of the checkpoint file.
var ErrLocked = errors.New("checkpoint file is locked by another process")

// LockedError reports that [NewFile] found the checkpoint file's lock
// (<path>.lock) held by another process, or by another open store of this
// one: two writers on one file would overwrite each other's progress.
type LockedError struct {
	// Path is the checkpoint file.
	Path string
	// Holder describes the process holding the lock, as it recorded itself
	// in the lock file ("pid 1234 on host web-1 since …"); empty when the
	// lock file did not say.
	Holder string
}

// Error implements error.
func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another process (it has not recorded itself in " + e.Path + LockSuffix + ")"
	}
	return fmt.Sprintf("checkpoint file %s is in use by %s: another jelou-producer is running on it", e.Path, holder)
}

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockHolder is the one JSON line a lock's holder writes into the lock file.
type lockHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

func (h lockHolder) String() string {
	return fmt.Sprintf("pid %d on host %s since %s", h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// fileLock is a held lock: the open lock file, closed (and so released) by
// release.
type fileLock struct {
	f *os.File
}

// acquireLock opens (creating it) path+LockSuffix, takes an exclusive
// non-blocking lock on it and records this process in it. It returns a
// *LockedError when the lock is held.
func acquireLock(path string) (*fileLock, error) {
	name := path + LockSuffix
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file %s: open lock file: %w", path, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("checkpoint file %s: lock %s: %w", path, name, err)
	}
	if !ok {
		holder := readHolder(f)
		_ = f.Close()
		return nil, &LockedError{Path: path, Holder: holder}
	}
	host, _ := os.Hostname()
	line, _ := json.Marshal(lockHolder{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second)})
	if err := writeHolder(f, append(line, '\n')); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("checkpoint file %s: record holder in %s: %w", path, name, err)
	}
	return &fileLock{f: f}, nil
}

func writeHolder(f *os.File, line []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(line, 0)
	return err
}

// readHolder returns what the lock file says of its holder. The holder
// writes it just after taking the lock, so an empty file is read again a
// few times before giving up.
func readHolder(f *os.File) string {
	for range 10 {
		data, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
		line := strings.TrimSpace(string(data))
		if line != "" {
			var h lockHolder
			if err := json.Unmarshal([]byte(line), &h); err == nil && h.PID > 0 {
				return h.String()
			}
			return fmt.Sprintf("%q", line) // written by something else; show it as is
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ""
}

// release empties the lock file and closes it, which releases the lock. The
// file itself stays: removing it would let a process that opened it just
// before the removal lock a file no one else can see any more.
func (l *fileLock) release() error {
	_ = l.f.Truncate(0)
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close lock file: %w", err)
	}
	return nil
}
