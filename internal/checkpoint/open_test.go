package checkpoint

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"unknown backend", Spec{Backend: "sqlite"}, `checkpoint backend "sqlite" is unknown, want one of file, kafka, memory`},
		{"file backend without files", Spec{Backend: BackendFile}, "no source to keep a file for"},
		{"a source given two files", Spec{Backend: BackendFile, Files: []File{
			{Source: "a", Path: filepath.Join(dir, "a1")}, {Source: "a", Path: filepath.Join(dir, "a2")},
		}}, "source a is given two files"},
		{"two sources on one file", Spec{Backend: BackendFile, Files: []File{
			{Source: "a", Path: filepath.Join(dir, "one")}, {Source: "b", Path: filepath.Join(dir, "one")},
		}}, "is in use by"},
		{"an invalid source", Spec{Backend: BackendFile, Files: []File{{Source: "a/b", Path: filepath.Join(dir, "x")}}}, "holds '/'"},
		{"kafka backend without brokers", Spec{Backend: BackendKafka}, "no Kafka brokers given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, %v; want an error containing %q", s, err, tt.want)
			}
			if s != nil {
				t.Errorf("Open returned a store %T beside its error", s)
			}
		})
	}
}

// TestOpenFiles checks the file backend's store: one locked file per
// source, other sources refused, every lock released by one Close (also
// when Open fails half-way).
func TestOpenFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files := []File{{Source: "a", Path: filepath.Join(dir, "a.checkpoint")}, {Source: "b", Path: filepath.Join(dir, "b.checkpoint")}}
	spec := Spec{Backend: BackendFile, Files: files}
	s := openStore(t, spec)
	if _, ok := s.(Fencing); ok {
		t.Error("the file store implements Fencing: replicas would share sources on one volume")
	}
	saved := []*Checkpoint{testCheckpoint("a", 10, 1), testCheckpoint("b", 20, 2)}
	for _, cp := range saved {
		if err := s.Save(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range files {
		if got := spec.Where(f.Source); got != f.Path {
			t.Errorf("Where(%s) = %q, want %q", f.Source, got, f.Path)
		}
		st, err := NewFile(f.Path, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		assertLoads(t, st, saved[i])
	}
	for _, op := range []func() error{
		func() error { _, err := s.Load(ctx, "c"); return err },
		func() error { return s.Save(ctx, testCheckpoint("c", 1, 1)) },
	} {
		if err := op(); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no checkpoint file is configured for source c") {
			t.Errorf("Load or Save of a source without a file = %v, want an error saying so", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// b is in use: Open fails on it and releases a's lock on the way.
	b, err := NewFile(files[1].Path)
	if err != nil {
		t.Fatal(err)
	}
	var le *LockedError
	if _, err := Open(ctx, spec); !errors.As(err, &le) || le.Path != files[1].Path {
		t.Fatalf("Open beside b's holder = %v, want a *LockedError naming %s", err, files[1].Path)
	}
	a, err := NewFile(files[0].Path)
	if err != nil {
		t.Fatalf("a is still locked after the failed Open: %v", err)
	}
	for _, st := range []*FileStore{a, b} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	assertLoads(t, openStore(t, spec), saved[1])
}

func TestSpecWhere(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Backend: BackendKafka, Topic: "ckpt"}, "topic ckpt"},
		{Spec{Backend: BackendKafka}, "topic " + DefaultTopic},
		{Spec{Backend: BackendFile, Files: []File{{Source: "src", Path: "/data/x.checkpoint"}}}, "/data/x.checkpoint"},
		{Spec{Backend: BackendFile, Files: []File{{Source: "other", Path: "/data/x.checkpoint"}}}, ""},
		{Spec{Backend: "sqlite"}, ""},
	}
	for _, tt := range tests {
		if got := tt.spec.Where("src"); got != tt.want {
			t.Errorf("%+v.Where(src) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

// TestOpenKafka: the Kafka store Open builds is the one replicas share.
func TestOpenKafka(t *testing.T) {
	s := openStore(t, Spec{Backend: BackendKafka, Brokers: kafkatest.Brokers(t), Topic: kafkatest.TopicName(t)})
	if _, ok := s.(Fencing); !ok {
		t.Errorf("the Kafka store %T does not implement Fencing", s)
	}
	roundTrip(t, s, testCheckpoint("src1", 100, 1))
}
