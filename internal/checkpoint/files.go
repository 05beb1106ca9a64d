package checkpoint

import (
	"context"
	"errors"
	"fmt"
)

// fileSet is the file backend's store: one [FileStore] per source, each
// in its own file and holding its lock from [Open] to Close.
type fileSet struct {
	files map[string]*FileStore // by source id
}

// openFiles opens every file of spec.Files; a file in use by another
// process fails it with a *LockedError.
func openFiles(_ context.Context, spec Spec) (Store, error) {
	if len(spec.Files) == 0 {
		return nil, errors.New("checkpoint file: no source to keep a file for")
	}
	opts := []FileOption{WithLogger(spec.Logger)}
	if spec.ReadOnly {
		opts = append(opts, ReadOnly())
	}
	set := &fileSet{files: make(map[string]*FileStore, len(spec.Files))}
	for _, f := range spec.Files {
		if err := validSource(f.Source); err != nil {
			set.Close()
			return nil, fmt.Errorf("checkpoint file %s: %w", f.Path, err)
		}
		if _, dup := set.files[f.Source]; dup {
			set.Close()
			return nil, fmt.Errorf("checkpoint file %s: source %s is given two files", f.Path, f.Source)
		}
		st, err := NewFile(f.Path, append(opts, FormerPath(f.Former), WithAccount(f.Account))...)
		if err != nil {
			set.Close()
			return nil, err
		}
		set.files[f.Source] = st
	}
	return set, nil
}

// fileOf is the path of source's file in spec.Files.
func fileOf(spec Spec, source string) string {
	for _, f := range spec.Files {
		if f.Source == source {
			return f.Path
		}
	}
	return ""
}

// file returns the store of source.
func (s *fileSet) file(source string) (*FileStore, error) {
	if err := validSource(source); err != nil {
		return nil, err
	}
	st, ok := s.files[source]
	if !ok {
		return nil, fmt.Errorf("no checkpoint file is configured for source %s", source)
	}
	return st, nil
}

// Load implements Store: it loads the file of source.
func (s *fileSet) Load(ctx context.Context, source string) (*Checkpoint, error) {
	st, err := s.file(source)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	return st.Load(ctx, source)
}

// Save implements Store: it saves cp to the file of its source.
func (s *fileSet) Save(ctx context.Context, cp *Checkpoint) error {
	if err := validCheckpoint(cp); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	st, err := s.file(cp.Source)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return st.Save(ctx, cp)
}

// Close implements Store: it closes every file, releasing its lock.
func (s *fileSet) Close() error {
	var errs []error
	for _, st := range s.files {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
