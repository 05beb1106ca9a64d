package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// File names of the file backend's checkpoint.
const (
	// DefaultFileName is the base name of the default CHECKPOINT_PATH,
	// ./data/jelou-producer.checkpoint. The file is not JSON (a JSON header
	// line, raw bytes, a checksum line), so its name does not say so.
	DefaultFileName = "jelou-producer.checkpoint"
	// LegacyFileName is the base name of the default CHECKPOINT_PATH of
	// earlier builds, ./data/checkpoint.json. [NewFile] renames such a file
	// to [DefaultFileName] when it opens the new default.
	LegacyFileName = "checkpoint.json"
)

// FileOption configures [NewFile].
type FileOption func(*fileOptions)

type fileOptions struct {
	log      *slog.Logger
	readOnly bool
	former   string
	account  string
}

// ReadOnly opens the file for Load only, without taking its lock, so that
// it can be read while a producer runs on it (by a test or a tool). NewFile
// then changes no file: no directory, lock file, rename or cleanup. Save
// fails.
func ReadOnly() FileOption {
	return func(o *fileOptions) { o.readOnly = true }
}

// WithLogger makes [NewFile] report on log what it did to the files, such as
// renaming a checkpoint from [LegacyFileName]. Default: [slog.Default].
func WithLogger(log *slog.Logger) FileOption {
	return func(o *fileOptions) {
		if log != nil {
			o.log = log
		}
	}
}

// WithAccount makes the file's checkpoints record account, the
// fingerprint of the account its source polls ([Account]): Save writes it
// and Load refuses a checkpoint of another account with an
// [*AccountMismatchError]. Empty: no check.
func WithAccount(account string) FileOption {
	return func(o *fileOptions) { o.account = account }
}

// FormerPath makes [NewFile] rename the checkpoint at former, and its .prev
// copy, to the path it opens when that path does not exist and former
// does, as it renames [LegacyFileName] to [DefaultFileName]: a file an
// earlier release named otherwise keeps its progress. An empty former does
// nothing.
func FormerPath(former string) FileOption {
	return func(o *fileOptions) { o.former = former }
}

// migrateLegacy renames an earlier name of path, and its .prev copy, to
// path when path does not exist and the earlier file does. The earlier
// name is the one given with [FormerPath], else <dir>/checkpoint.json when
// path's base name is [DefaultFileName]: a deployment that relied on the
// old default keeps its progress. A path with any other name is left
// alone, so an explicitly configured CHECKPOINT_PATH is never touched. Each
// rename is atomic and the directory is fsynced after them; the .prev copy
// moves first, so a crash between the two renames leaves a state the next
// start completes.
func migrateLegacy(path string, o fileOptions) error {
	legacy, what := o.former, "earlier name"
	if legacy == "" {
		if filepath.Base(path) != DefaultFileName {
			return nil
		}
		legacy, what = filepath.Join(filepath.Dir(path), LegacyFileName), "old default"
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // there already, or unreadable: Load will say which
	}
	dir := filepath.Dir(path)
	fi, err := os.Lstat(legacy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint file: look for the %s %s: %w", what, legacy, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("checkpoint file: the %s %s is not a regular file (%s); move it away or set CHECKPOINT_PATH", what, legacy, fi.Mode().Type())
	}
	// A process configured with the old name explicitly may be running on
	// it: never move the file from under it.
	lock, err := acquireLock(legacy)
	if err != nil {
		return err
	}
	defer lock.release()
	moved := []string{legacy}
	if _, err := os.Lstat(legacy + ".prev"); err == nil {
		if err := os.Rename(legacy+".prev", path+".prev"); err != nil {
			return fmt.Errorf("checkpoint file: rename %s to %s: %w", legacy+".prev", path+".prev", err)
		}
		moved = append(moved, legacy+".prev")
	}
	if err := os.Rename(legacy, path); err != nil {
		return fmt.Errorf("checkpoint file: rename %s to %s: %w", legacy, path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("checkpoint file: rename %s to %s: sync directory: %w", legacy, path, err)
	}
	o.log.Info("checkpoint file renamed from the "+what+" name", "from", legacy, "to", path, "files", len(moved))
	return nil
}
