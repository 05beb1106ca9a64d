package poller

import (
	"context"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// countingStore is an in-memory checkpoint.Store that counts saves.
type countingStore struct {
	saves int
	last  *checkpoint.Checkpoint
}

func (s *countingStore) Load(context.Context, string) (*checkpoint.Checkpoint, error) {
	return nil, checkpoint.ErrNotFound
}
func (s *countingStore) Save(_ context.Context, cp *checkpoint.Checkpoint) error {
	s.saves++
	s.last = cp
	return nil
}
func (s *countingStore) Close() error { return nil }

type noFetch struct{}

func (noFetch) Fetch(context.Context, jelou.Window, int) (Result, error) { return Result{}, nil }

type noPublish struct{}

func (noPublish) Publish(context.Context, []Emission) error { return nil }

func TestSaveSkipsAnUnchangedState(t *testing.T) {
	st := &countingStore{}
	p, err := New(Config{Source: "s", Start: t0, CheckpointInterval: time.Nanosecond}, noFetch{}, noPublish{}, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		name  string
		do    func()
		force bool
		saves int
	}{
		{"nothing happened yet", func() {}, false, 0},
		{"the cursor moved", func() { p.commit(at(1, 0)) }, false, 1},
		{"nothing new since", func() {}, false, 1},
		{"the cursor did not move", func() { p.commit(at(1, 0)) }, false, 1},
		{"a forced save always writes", func() {}, true, 2},
		{"the cursor moved again", func() { p.commit(at(2, 0)) }, false, 3},
	}
	for _, s := range steps {
		s.do()
		if err := p.save(ctx, s.force); err != nil {
			t.Fatal(err)
		}
		if st.saves != s.saves {
			t.Fatalf("%s: %d saves, want %d", s.name, st.saves, s.saves)
		}
	}
	if !st.last.Cursor.Equal(at(2, 0)) {
		t.Fatalf("last saved cursor %v, want %v", st.last.Cursor, at(2, 0))
	}
}
