package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNewFileMigratesLegacyName covers the rename of the old default
// checkpoint.json (and its .prev) to jelou-producer.checkpoint.
func TestNewFileMigratesLegacyName(t *testing.T) {
	ctx := context.Background()
	older, newer := testCheckpoint("src1", 100, 1), testCheckpoint("src1", 100, 2)
	other := testCheckpoint("src1", 100, 3)

	tests := []struct {
		name    string
		file    string                         // base name NewFile opens
		setup   func(t *testing.T, dir string) // what is on disk before
		want    *Checkpoint                    // what Load returns; nil: ErrNotFound
		corrupt bool                           // Load returns a *CorruptError instead
		files   []string                       // the directory afterwards
		logged  bool                           // one line says the file was renamed
		wantErr string                         // NewFile fails with this
	}{
		{
			name:   "legacy and its .prev move to the new default",
			file:   DefaultFileName,
			setup:  func(t *testing.T, dir string) { saveAt(t, filepath.Join(dir, LegacyFileName), older, newer) },
			want:   newer,
			files:  []string{DefaultFileName, DefaultFileName + ".prev"},
			logged: true,
		},
		{
			name:   "legacy without .prev",
			file:   DefaultFileName,
			setup:  func(t *testing.T, dir string) { saveAt(t, filepath.Join(dir, LegacyFileName), newer) },
			want:   newer,
			files:  []string{DefaultFileName},
			logged: true,
		},
		{
			name: "a crash between the two renames is completed",
			file: DefaultFileName,
			setup: func(t *testing.T, dir string) {
				saveAt(t, filepath.Join(dir, LegacyFileName), older, newer)
				if err := os.Rename(filepath.Join(dir, LegacyFileName+".prev"), filepath.Join(dir, DefaultFileName+".prev")); err != nil {
					t.Fatal(err)
				}
			},
			want:   newer,
			files:  []string{DefaultFileName, DefaultFileName + ".prev"},
			logged: true,
		},
		{
			name:    "a damaged legacy file moves too and Load reports it",
			file:    DefaultFileName,
			setup:   func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, LegacyFileName), "half a checkpoint") },
			corrupt: true,
			files:   []string{DefaultFileName},
			logged:  true,
		},
		{
			name: "the new default exists: nothing moves",
			file: DefaultFileName,
			setup: func(t *testing.T, dir string) {
				saveAt(t, filepath.Join(dir, DefaultFileName), other)
				saveAt(t, filepath.Join(dir, LegacyFileName), older)
			},
			want:  other,
			files: []string{DefaultFileName, LegacyFileName},
		},
		{
			name:  "another configured name: the legacy file is left alone",
			file:  "custom.ckpt",
			setup: func(t *testing.T, dir string) { saveAt(t, filepath.Join(dir, LegacyFileName), older, newer) },
			files: []string{LegacyFileName, LegacyFileName + ".prev"},
		},
		{
			name:  "the legacy name configured explicitly keeps working",
			file:  LegacyFileName,
			setup: func(t *testing.T, dir string) { saveAt(t, filepath.Join(dir, LegacyFileName), older, newer) },
			want:  newer,
			files: []string{LegacyFileName, LegacyFileName + ".prev"},
		},
		{
			name:  "nothing on disk",
			file:  DefaultFileName,
			setup: func(*testing.T, string) {},
			files: []string{},
		},
		{
			name: "a legacy directory is an error, not a fresh start",
			file: DefaultFileName,
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, LegacyFileName), 0o750); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is not a regular file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			path := filepath.Join(dir, tt.file)
			s, err := NewFile(path, WithLogger(log))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewFile: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFile: %v", err)
			}
			if tt.corrupt {
				var ce *CorruptError
				if _, err := s.Load(ctx, "src1"); !errors.As(err, &ce) || ce.Path != path {
					t.Fatalf("Load: %v, want a *CorruptError naming %s", err, path)
				}
			} else {
				assertLoadsOrNone(t, s, "src1", tt.want)
			}
			if got := dirNames(t, dir); !slices.Equal(got, sorted(tt.files)) {
				t.Errorf("directory holds %q, want %q", got, sorted(tt.files))
			}
			if n := strings.Count(logs.String(), "renamed from the old default name"); n != boolInt(tt.logged) {
				t.Errorf("logged the rename %d times, want %d:\n%s", n, boolInt(tt.logged), logs.String())
			}
			if tt.logged && !strings.Contains(logs.String(), filepath.Join(dir, LegacyFileName)) {
				t.Errorf("the log line does not name the old file:\n%s", logs.String())
			}

			// Opening again finds nothing more to do: the rename is logged once.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			again, err := NewFile(path, WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if logs.Len() != 0 {
				t.Errorf("second NewFile logged:\n%s", logs.String())
			}
		})
	}
}

// TestNewFileMigratedPrevIsTheEarlierSave checks that the .prev copy moves
// with its checkpoint, so an operator can still go back one save.
func TestNewFileMigratedPrevIsTheEarlierSave(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	legacy, err := NewFile(filepath.Join(dir, LegacyFileName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	older, newer := testCheckpoint("src1", 10, 1), testCheckpoint("src1", 10, 2)
	for _, cp := range []*Checkpoint{older, newer} {
		if err := legacy.Save(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	// The legacy file is in use: it is not moved from under its process.
	var le *LockedError
	if _, err := NewFile(filepath.Join(dir, DefaultFileName), quiet); !errors.As(err, &le) || le.Path != filepath.Join(dir, LegacyFileName) {
		t.Fatalf("NewFile(default) while the legacy file is open = %v, want a *LockedError naming it", err)
	}
	if err := legacy.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := NewFile(filepath.Join(dir, DefaultFileName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	prev, err := NewFile(filepath.Join(dir, DefaultFileName+".prev"), ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := prev.Load(ctx, "src1")
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, cp, older)
}

// assertLoadsOrNone loads source from s and checks that it is want, or
// that nothing was saved when want is nil.
func assertLoadsOrNone(t *testing.T, s Store, source string, want *Checkpoint) {
	t.Helper()
	cp, err := s.Load(context.Background(), source)
	switch {
	case want == nil:
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load: %v, want ErrNotFound", err)
		}
	case err != nil:
		t.Fatalf("Load: %v", err)
	default:
		assertSame(t, cp, want)
	}
}

// saveAt writes cps to path, one Save each, so that path.prev holds the
// one before last.
func saveAt(t *testing.T, path string, cps ...*Checkpoint) {
	t.Helper()
	s, err := NewFile(path, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, cp := range cps {
		if err := s.Save(context.Background(), cp); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), LockSuffix) {
			names = append(names, e.Name())
		}
	}
	return sorted(names)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNewFileMigratesFormerPath covers FormerPath: a checkpoint an earlier
// release named otherwise (a backfill's backfill-backfill-<hash>.checkpoint)
// moves to the new name with its .prev, unless the new name exists or the
// former file is in use.
func TestNewFileMigratesFormerPath(t *testing.T) {
	ctx := context.Background()
	older, newer, current := testCheckpoint("src1", 10, 1), testCheckpoint("src1", 10, 2), testCheckpoint("src1", 10, 3)
	const former, name = "backfill-backfill-0123456789abcdef.checkpoint", "backfill-0123456789abcdef.checkpoint"
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string)
		want   *Checkpoint // nil: ErrNotFound
		files  []string    // the checkpoints in the directory afterwards
		logged bool
	}{
		{"the former file and its .prev move", func(t *testing.T, dir string) { saveAt(t, filepath.Join(dir, former), older, newer) },
			newer, []string{name, name + ".prev"}, true},
		{"the new name wins when both exist", func(t *testing.T, dir string) {
			saveAt(t, filepath.Join(dir, former), older)
			saveAt(t, filepath.Join(dir, name), current)
		}, current, []string{former, name}, false},
		{"nothing to move", func(t *testing.T, dir string) {}, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			var logs bytes.Buffer
			s, err := NewFile(filepath.Join(dir, name), FormerPath(filepath.Join(dir, former)), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			assertLoadsOrNone(t, s, "src1", tt.want)
			var got []string
			for _, n := range dirNames(t, dir) {
				if !strings.HasSuffix(n, LockSuffix) {
					got = append(got, n)
				}
			}
			if !slices.Equal(got, sorted(tt.files)) {
				t.Errorf("directory holds %q, want %q", got, sorted(tt.files))
			}
			if n := strings.Count(logs.String(), "renamed from the earlier name"); n != boolInt(tt.logged) {
				t.Errorf("logged the rename %d times, want %d:\n%s", n, boolInt(tt.logged), logs.String())
			}
		})
	}

	// A former file in use (an older backfill still running) is not moved.
	dir := t.TempDir()
	held, err := NewFile(filepath.Join(dir, former))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := held.Save(ctx, older); err != nil {
		t.Fatal(err)
	}
	var le *LockedError
	if _, err := NewFile(filepath.Join(dir, name), FormerPath(filepath.Join(dir, former))); !errors.As(err, &le) || le.Path != filepath.Join(dir, former) {
		t.Fatalf("NewFile while the former file is in use = %v, want a *LockedError naming it", err)
	}
}
