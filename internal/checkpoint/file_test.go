package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func newFileStore(t *testing.T) (*FileStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checkpoint.json")
	s, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// reencode replaces the trailer of data with a valid checksum.
func reencode(data []byte) []byte {
	body := bytes.Clone(data[:len(data)-trailerLen])
	return fmt.Appendf(body, "\ncrc32c:%08x\n", crc32Of(body))
}

func TestFileLoadDamaged(t *testing.T) {
	good := mustEncode(t, testCheckpoint("src1", 1000, 1))
	hdrEnd := bytes.IndexByte(good, '\n')
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x01; return b }
	tests := []struct {
		name    string
		data    []byte
		reason  string // substring of CorruptError.Reason; empty for a VersionError
		version int
	}{
		{name: "empty", data: []byte{}, reason: "empty"},
		{name: "garbage", data: []byte("hello world\n"), reason: "not valid JSON"},
		{name: "no newline", data: []byte(`{"format":"jelou-producer-checkpoint"`), reason: "no header line"},
		{name: "other format", data: []byte(`{"format":"x","version":1}` + "\n"), reason: `format "x"`},
		{name: "version zero", data: []byte(`{"format":"jelou-producer-checkpoint","source":"s"}` + "\n"), reason: "invalid format version 0"},
		{name: "truncated after header", data: good[:hdrEnd+1], reason: "truncated"},
		{name: "truncated in dedupe", data: good[:hdrEnd+500], reason: "no checksum line"},
		{name: "truncated in trailer", data: good[:len(good)-3], reason: "no checksum line"},
		{name: "bit flip in dedupe", data: flip(hdrEnd + 10), reason: "checksum mismatch"},
		{name: "bit flip in cursor", data: flip(bytes.Index(good, []byte(`"cursor":"`)) + 12), reason: "checksum mismatch"},
		{name: "garbled checksum", data: append(bytes.Clone(good[:len(good)-9]), "zzzzzzzz\n"...), reason: "garbled checksum"},
		{name: "length disagrees", data: reencode(bytes.Replace(good, []byte(`"dedupeLen":1000`), []byte(`"dedupeLen":999`), 1)), reason: "announces 999 dedupe bytes"},
		{name: "future version", data: bytes.Replace(good, []byte(`"version":2`), []byte(`"version":7`), 1), version: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newFileStore(t)
			if err := os.WriteFile(path, tt.data, 0o640); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(context.Background(), "src1")
			if tt.version != 0 {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Found != tt.version || ve.Supported != FormatVersion || ve.Path != path {
					t.Fatalf("Load = %v, want a VersionError{Found: %d} naming %s", err, tt.version, path)
				}
				return
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want a CorruptError", err)
			}
			if ce.Path != path || !strings.Contains(ce.Reason, tt.reason) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load = %v (path %q), want reason containing %q and path %s", err, ce.Path, tt.reason, path)
			}
		})
	}
}

func TestFileGolden(t *testing.T) {
	// testdata/v1.checkpoint was written by the first build of format 1,
	// testdata/v2.checkpoint by the first of format 2 (with coverage);
	// every later build must read both, and write version 2 unchanged.
	tests := []struct {
		file    string
		version int
		want    *Checkpoint
		stable  bool // encoding the checkpoint again gives the same bytes
	}{
		{"testdata/v1.checkpoint", 1, goldenV1Checkpoint(), false},
		{"testdata/v2.checkpoint", 2, goldenCheckpoint(), true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := decode(data)
			if err != nil {
				t.Fatal(err)
			}
			assertSameVersion(t, cp, tt.want, tt.version)
			if again, _ := encodeBytes(tt.want); tt.stable && !bytes.Equal(again, data) {
				t.Errorf("encoding changed:\n got %q\nwant %q", again, data)
			}
		})
	}
}

func TestFileSourceMismatch(t *testing.T) {
	s, path := newFileStore(t)
	ctx := context.Background()
	if err := s.Save(ctx, testCheckpoint("src1", 10, 1)); err != nil {
		t.Fatal(err)
	}
	var me *SourceMismatchError
	if _, err := s.Load(ctx, "src2"); !errors.As(err, &me) || me.Want != "src2" || me.Found != "src1" || me.Path != path {
		t.Errorf("Load(src2) = %v, want a SourceMismatchError", err)
	}
	if err := s.Save(ctx, testCheckpoint("src2", 10, 1)); !errors.As(err, &me) || me.Want != "src2" || me.Found != "src1" {
		t.Errorf("Save(src2) = %v, want a SourceMismatchError", err)
	}
	if _, err := s.Load(ctx, "src1"); err != nil {
		t.Errorf("src1 after a refused save: %v", err)
	}
}

// failingWriter fails with ENOSPC after n bytes.
type failingWriter struct {
	w io.Writer
	n int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, &os.PathError{Op: "write", Path: "injected", Err: syscall.ENOSPC}
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestFileSaveFailureKeepsOld(t *testing.T) {
	ctx := context.Background()
	old := testCheckpoint("src1", 10, 1)
	t.Run("disk full", func(t *testing.T) {
		for _, after := range []int{0, 100, 100 << 10} {
			t.Run(fmt.Sprint(after), func(t *testing.T) {
				s, path := newFileStore(t)
				if err := s.Save(ctx, old); err != nil {
					t.Fatal(err)
				}
				s.wrap = func(w io.Writer) io.Writer { return &failingWriter{w: w, n: after} }
				err := s.Save(ctx, testCheckpoint("src1", 200<<10, 2))
				if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
					t.Fatalf("Save = %v, want ENOSPC naming %s", err, path)
				}
				assertLoads(t, s, old)
				assertOnlyFiles(t, filepath.Dir(path), "checkpoint.json")
			})
		}
	})
	t.Run("directory is a file", func(t *testing.T) {
		dir := t.TempDir()
		blocker := filepath.Join(dir, "state")
		if err := os.WriteFile(blocker, nil, 0o640); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(blocker, "checkpoint.json")
		// NewFile creates the directory, to hold the lock file.
		if _, err := NewFile(path); err == nil || !strings.Contains(err.Error(), blocker) {
			t.Fatalf("NewFile = %v, want an error naming %s", err, blocker)
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		s, path := newFileStore(t)
		dir := filepath.Dir(path)
		if err := s.Save(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o750) })
		if f, err := os.CreateTemp(dir, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("the directory is still writable (running as root)")
		}
		err := s.Save(ctx, testCheckpoint("src1", 10, 2))
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Save = %v, want a permission error naming %s", err, path)
		}
		assertLoads(t, s, old)
	})
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".prev") && !strings.HasSuffix(e.Name(), LockSuffix) {
			got = append(got, e.Name())
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "checkpoint.json")
	// A temporary file left by a crash is cleaned up.
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".checkpoint.json.tmp-123"), []byte("half"), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertOnlyFiles(t, dir)
	if _, err := os.Stat(path + LockSuffix); err != nil {
		t.Errorf("no lock file beside the checkpoint: %v", err)
	}
	first, second := testCheckpoint("src1", 10, 1), testCheckpoint("src1", 20, 2)
	for _, cp := range []*Checkpoint{first, second} {
		if err := s.Save(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != fileMode {
		t.Errorf("file mode %v, want %v", fi.Mode().Perm(), os.FileMode(fileMode))
	}
	assertOnlyFiles(t, dir, "checkpoint.json")
	// The previous checkpoint is kept beside it for an operator.
	prev, err := os.ReadFile(path + ".prev")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := decode(prev)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, cp, first)
}

func TestNewFileErrors(t *testing.T) {
	for name, path := range map[string]string{"empty": " ", "directory": t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewFile(path); err == nil {
				t.Fatalf("NewFile(%q) = nil error", path)
			}
		})
	}
}

// TestFileAccountMismatchSave: a file holding a checkpoint of another
// account is not overwritten: the other account's progress stays for its
// owner to find.
func TestFileAccountMismatchSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp")
	ctx := context.Background()
	a, err := NewFile(path, WithAccount("aaaa"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(ctx, testCheckpoint("src", 10, 1)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := NewFile(path, WithAccount("bbbb"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Save(ctx, testCheckpoint("src", 10, 2))
	var ae *AccountMismatchError
	if !errors.As(err, &ae) || ae.Path != path || ae.Want != "bbbb" || ae.Found != "aaaa" {
		t.Fatalf("Save over another account's checkpoint = %v, want an AccountMismatchError for %s", err, path)
	}
	got, err := NewFile(path, ReadOnly(), WithAccount("aaaa"))
	if err != nil {
		t.Fatal(err)
	}
	assertLoads(t, got, testCheckpoint("src", 10, 1))
}
