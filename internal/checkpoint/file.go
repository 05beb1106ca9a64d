package checkpoint

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// File modes of what the file backend creates.
const (
	dirMode  = 0o750
	fileMode = 0o640
)

// FileStore keeps the checkpoint of one source in one file. It is safe for
// concurrent use. It holds the lock of its file (<path>.lock) from
// [NewFile] to Close, so that a second process on the same path is refused.
type FileStore struct {
	path     string
	readOnly bool
	account  string // see WithAccount

	mu     sync.Mutex
	lock   *fileLock // nil when read-only or closed
	closed bool
	// wrap, when set by tests, wraps the temporary file's writer (to inject
	// a full disk).
	wrap func(io.Writer) io.Writer
}

var _ Store = (*FileStore)(nil)

// NewFile returns a store that keeps the checkpoint in the file at path. It
// creates the directory when missing and takes an exclusive lock on
// <path>.lock, held until Close; when another process (or another open
// store) holds it, NewFile returns a [*LockedError] naming the holder. Temporary
// files left by a crash during an earlier Save are removed. When path's base
// name is [DefaultFileName] and it does not exist, a checkpoint under the
// earlier default name ([LegacyFileName]) in the same directory is renamed
// to it, once, and the rename is logged; so is the file named by
// [FormerPath]. With [ReadOnly], NewFile does none
// of this: it neither locks nor changes any file.
func NewFile(path string, opts ...FileOption) (*FileStore, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("checkpoint file: path is empty")
	}
	o := fileOptions{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	path = filepath.Clean(path)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("checkpoint file %s is a directory", path)
	}
	if o.readOnly {
		return &FileStore{path: path, readOnly: true, account: o.account}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: create directory: %w", path, err)
	}
	lock, err := acquireLock(path)
	if err != nil {
		return nil, err
	}
	if err := migrateLegacy(path, o); err != nil {
		_ = lock.release()
		return nil, err
	}
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix(path)+"*"))
	for _, name := range stale {
		_ = os.Remove(name)
	}
	return &FileStore{path: path, lock: lock, account: o.account}, nil
}

func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// Load reads the checkpoint file. It returns ErrNotFound when the file does
// not exist, a *CorruptError when it cannot be read back intact, a
// *VersionError when a newer build wrote it, a *SourceMismatchError when
// it belongs to another source, and an *AccountMismatchError when it was
// saved for another account (see [WithAccount]).
func (s *FileStore) Load(ctx context.Context, source string) (*Checkpoint, error) {
	if err := validSource(source); err != nil {
		return nil, fmt.Errorf("load checkpoint file %s: %w", s.path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load checkpoint file %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := readBounded(s.path)
	if err != nil {
		return nil, err
	}
	cp, err := decode(data)
	if err != nil {
		return nil, locate(err, s.path, "", "")
	}
	if cp.Source != source {
		return nil, &SourceMismatchError{Path: s.path, Want: source, Found: cp.Source}
	}
	if err := checkAccount(cp, s.account); err != nil {
		return nil, locate(err, s.path, "", "")
	}
	return cp, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint file %s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open checkpoint file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat checkpoint file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("%d bytes, larger than the %d allowed", fi.Size(), MaxSize)}
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read checkpoint file %s: %w", path, err)
	}
	return data, nil
}

// Save writes cp to a temporary file in the same directory, syncs it, hard
// links the current checkpoint to <path>.prev, renames the temporary file
// over the path and syncs the directory. On any error the previous
// checkpoint is left as it was. Save refuses to overwrite a readable
// checkpoint of another source (*SourceMismatchError) or account
// (*AccountMismatchError), and writes the store's account (see
// [WithAccount]).
func (s *FileStore) Save(ctx context.Context, cp *Checkpoint) error {
	if err := validCheckpoint(cp); err != nil {
		return fmt.Errorf("save checkpoint file %s: %w", s.path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save checkpoint file %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.readOnly:
		return fmt.Errorf("save checkpoint file %s: the store was opened read-only", s.path)
	case s.closed:
		return fmt.Errorf("save checkpoint file %s: the store is closed", s.path)
	}
	cp = withAccount(cp, s.account)
	if found, ok := s.stored(); ok {
		if found.Source != cp.Source {
			return &SourceMismatchError{Path: s.path, Want: cp.Source, Found: found.Source}
		}
		if err := checkAccount(&Checkpoint{Source: found.Source, Account: found.Account}, s.account); err != nil {
			return locate(err, s.path, "", "")
		}
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("save checkpoint: create directory: %w", err)
	}
	tmp, err := s.writeTemp(dir, cp)
	if err != nil {
		return fmt.Errorf("save checkpoint file %s: %w", s.path, err)
	}
	// The link is a convenience for an operator (a copy to go back to by
	// hand); Load never reads it, so failing to make it is not an error.
	prev := s.path + ".prev"
	_ = os.Remove(prev)
	_ = os.Link(s.path, prev)
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save checkpoint file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save checkpoint file %s: sync directory: %w", s.path, err)
	}
	return nil
}

// writeTemp writes cp to a new temporary file in dir, syncs and closes it,
// and returns its name. It removes the file on failure.
func (s *FileStore) writeTemp(dir string, cp *Checkpoint) (name string, err error) {
	f, err := os.CreateTemp(dir, tempPrefix(s.path)+"*")
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(fileMode); err != nil {
		return "", fmt.Errorf("chmod temporary file: %w", err)
	}
	var w io.Writer = f
	if s.wrap != nil {
		w = s.wrap(w)
	}
	if err := encode(w, cp); err != nil {
		return "", fmt.Errorf("write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close temporary file: %w", err)
	}
	return tmp, nil
}

// stored returns the current file's header, if the file exists and its
// header is readable.
func (s *FileStore) stored() (*header, bool) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, maxHeaderLen)).ReadBytes('\n')
	if err != nil {
		return nil, false
	}
	h, _, err := decodeHeader(line)
	if err != nil {
		return nil, false
	}
	return h, true
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close implements Store: it releases the lock taken by [NewFile]. The lock
// file is left in place (see [NewFile]). Save fails after Close; Load still
// reads. Close may be called more than once, and on a nil *FileStore.
func (s *FileStore) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.lock == nil {
		return nil
	}
	err := s.lock.release()
	s.lock = nil
	if err != nil {
		return fmt.Errorf("checkpoint file %s: %w", s.path, err)
	}
	return nil
}
