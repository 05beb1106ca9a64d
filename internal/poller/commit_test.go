package poller

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// flakyStore is a countingStore whose saves fail while fail is set.
type flakyStore struct {
	countingStore
	fail bool
}

func (s *flakyStore) Save(ctx context.Context, cp *checkpoint.Checkpoint) error {
	if s.fail {
		return errors.New("disk full")
	}
	return s.countingStore.Save(ctx, cp)
}

// loadedPoller returns a poller over store, loaded (fresh: no checkpoint),
// for a backfill of [t0, t0+24h] in windows of the given length whose
// conversations stay in the index (revisited for 100 days).
func loadedPoller(t *testing.T, store checkpoint.Store, window, every time.Duration) *Poller {
	t.Helper()
	p, err := New(Config{Source: "s", Start: t0, End: at(24, 0), Window: window, Revisit: 100 * 24 * time.Hour, CheckpointInterval: every},
		noFetch{}, noWrite{}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

// commitWindow reads the next history window as a lane would: one row
// observed, published (acked), then the query done. It returns the row.
func commitWindow(t *testing.T, p *Poller) jelou.Conversation {
	t.Helper()
	p.mu.Lock()
	q, ok, _ := p.sched.History(at(30, 0))
	p.mu.Unlock()
	if !ok {
		t.Fatal("no history window left")
	}
	r := jelou.Conversation{ID: "c" + q.Window.Start.Format("1504"), State: jelou.StateActive, StartAt: q.Window.Start.Add(time.Minute)}
	if !p.index.Observe(r.ID, r.State, r.StartAt).Emit {
		t.Fatalf("%s observed as not new", r.ID)
	}
	p.commit.ack([]Emission{{Conversation: r}})
	p.commit.done(q, at(30, 0))
	return r
}

// TestCommitterSavesWhatWasCommitted: an unforced save writes only when
// something was committed (an ack, a query done) since the last
// successful save and the interval passed; a failed save leaves the state
// unsaved; a forced save always writes.
func TestCommitterSavesWhatWasCommitted(t *testing.T) {
	store := &flakyStore{}
	p := loadedPoller(t, store, time.Hour, time.Nanosecond)
	release := func() {
		r := jelou.Conversation{ID: "gone", State: jelou.StateActive, StartAt: at(5, 0)}
		p.index.Observe(r.ID, r.State, r.StartAt)
		p.commit.release([]Emission{{Conversation: r}})
	}
	steps := []struct {
		name    string
		do      func()
		fail    bool
		every   time.Duration
		force   bool
		wantErr bool
		saves   int
	}{
		{name: "nothing committed", do: func() {}, saves: 0},
		{name: "a released batch commits nothing", do: release, saves: 0},
		{name: "an acked batch", do: func() {
			r := jelou.Conversation{ID: "a1", State: jelou.StateActive, StartAt: at(0, 5)}
			p.index.Observe(r.ID, r.State, r.StartAt)
			p.commit.ack([]Emission{{Conversation: r}})
		}, saves: 1},
		{name: "nothing since", do: func() {}, saves: 1},
		{name: "a query done", do: func() { commitWindow(t, p) }, saves: 2},
		{name: "the store fails", do: func() { commitWindow(t, p) }, fail: true, wantErr: true, saves: 2},
		{name: "the unsaved state is written next time", do: func() {}, saves: 3},
		{name: "committed, but within the interval", do: func() { commitWindow(t, p) }, every: time.Hour, saves: 3},
		{name: "a forced save writes within the interval", do: func() {}, every: time.Hour, force: true, saves: 4},
		{name: "a forced save writes with nothing committed", do: func() {}, force: true, saves: 5},
	}
	for _, s := range steps {
		s.do()
		store.fail = s.fail
		p.commit.cfg.CheckpointInterval = max(s.every, time.Nanosecond)
		err := p.commit.save(context.Background(), s.force)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: save error %v, want one: %v", s.name, err, s.wantErr)
		}
		if store.saves != s.saves {
			t.Fatalf("%s: %d saves, want %d", s.name, store.saves, s.saves)
		}
	}
	if !store.last.Cursor.Equal(at(3, 0)) {
		t.Fatalf("last saved cursor %v, want %v after three windows", store.last.Cursor, at(3, 0))
	}
}

// recordingStore keeps every checkpoint saved.
type recordingStore struct {
	countingStore
	mu  sync.Mutex
	all []*checkpoint.Checkpoint
}

func (s *recordingStore) Save(_ context.Context, cp *checkpoint.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, cp)
	return nil
}

// TestCommitterSavesNoCoverageAheadOfItsSnapshot commits windows while
// saves run concurrently: every saved checkpoint's snapshot holds as
// acknowledged the row of every window its coverage passed (the coverage is
// read before the snapshot, and a window is done only after its acks).
func TestCommitterSavesNoCoverageAheadOfItsSnapshot(t *testing.T) {
	store := &recordingStore{}
	p := loadedPoller(t, store, time.Minute, time.Nanosecond)
	stop, saved := make(chan struct{}), make(chan error)
	go func() {
		for {
			if err := p.commit.save(context.Background(), false); err != nil {
				saved <- err
				return
			}
			select {
			case <-stop:
				saved <- nil
				return
			default:
			}
		}
	}()
	var committed []jelou.Conversation
	for range 24 * 60 {
		committed = append(committed, commitWindow(t, p))
	}
	close(stop)
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	if err := p.commit.save(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if last := store.all[len(store.all)-1]; !last.Cursor.Equal(at(24, 0)) {
		t.Fatalf("final cursor %v, want %v", last.Cursor, at(24, 0))
	}
	for _, cp := range store.all {
		ix, err := dedupe.ReadSnapshot(bytes.NewReader(cp.Dedupe))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range committed {
			if !r.StartAt.Before(cp.Cursor) {
				continue
			}
			if res := ix.Observe(r.ID, r.State, r.StartAt); res.Emit {
				t.Fatalf("checkpoint with cursor %v: %s (start %v) not acknowledged in its snapshot (%d saves)", cp.Cursor, r.ID, r.StartAt, len(store.all))
			}
		}
	}
	t.Logf("%d checkpoints checked", len(store.all))
}
