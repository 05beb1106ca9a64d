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

// scriptedFetcher answers Fetch with its results in order, then empty
// results without drift.
type scriptedFetcher struct {
	results []Result
	errs    []error // errs[i], when set, is returned with results[i]
	calls   int
}

func (f *scriptedFetcher) Fetch(context.Context, jelou.Window, int) (Result, error) {
	f.calls++
	i := f.calls - 1
	var r Result
	if i < len(f.results) {
		r = f.results[i]
	}
	if i < len(f.errs) && f.errs[i] != nil {
		return r, f.errs[i]
	}
	return r, nil
}

type recordingPublisher struct{ got []Emission }

func (r *recordingPublisher) Publish(_ context.Context, b []Emission) error {
	r.got = append(r.got, b...)
	return nil
}

// a1 is the conversation the scripted tests publish, in the given state.
func a1(state jelou.State) jelou.Conversation {
	return jelou.Conversation{ID: "a1", State: state, StartAt: at(0, 10), Raw: []byte(`{"_id":"a1"}`)}
}

// runBackfill runs a poller over f as a backfill of the one window
// [t0, t0+1h] (cfg's Source, Start, End and Window are set here) and
// returns what it published.
func runBackfill(t *testing.T, cfg Config, f Fetcher) []Emission {
	t.Helper()
	cfg.Source, cfg.Start, cfg.End, cfg.Window = "s", t0, at(1, 0), time.Hour
	pub := &recordingPublisher{}
	p, err := New(cfg, f, pub, &countingStore{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return pub.got
}

func TestRowsSeenBeforeADriftSplitArePublished(t *testing.T) {
	f := &scriptedFetcher{results: []Result{
		{Rows: []jelou.Conversation{a1(jelou.StateClosed)}, Pages: 2, Drift: "total changed from 5 to 4"},
		{Pages: 2, Drift: "total changed from 4 to 3"}, // the row is gone on the second look
	}}
	got := runBackfill(t, Config{MinWindow: time.Minute}, f)
	if f.calls < 4 {
		t.Fatalf("%d fetches: the window was not fetched again and split after drifting twice", f.calls)
	}
	if len(got) != 1 || got[0].Conversation.ID != "a1" {
		t.Fatalf("published %v, want the row the API showed before it drifted away", got)
	}
}

func TestRowsOfTheProbingPageOfASplitWindowArePublished(t *testing.T) {
	w := win(t0, at(1, 0))
	f := &scriptedFetcher{errs: []error{&TooLargeError{Window: w, Total: 5000, Pages: 50, Received: []jelou.Conversation{a1(jelou.StateActive)}}}}
	got := runBackfill(t, Config{MinWindow: time.Minute}, f)
	if f.calls != 3 {
		t.Fatalf("%d fetches, want the probe and the two halves", f.calls)
	}
	if len(got) != 1 || got[0].Conversation.ID != "a1" {
		t.Fatalf("published %v, want the row of the probing page, which the halves no longer list", got)
	}
}

func TestRowsReceivedBeforeAFailedPageArePublished(t *testing.T) {
	f := &scriptedFetcher{
		results: []Result{{Rows: []jelou.Conversation{a1(jelou.StateActive)}, Pages: 1}},
		errs:    []error{&jelou.ServerError{StatusCode: 502, Message: "bad gateway"}}, // page 2 failed
	}
	got := runBackfill(t, Config{RetryMin: time.Millisecond, RetryMax: time.Millisecond}, f)
	if f.calls != 2 {
		t.Fatalf("%d fetches, want the failed one and its retry", f.calls)
	}
	if len(got) != 1 || got[0].Conversation.ID != "a1" {
		t.Fatalf("published %v, want the row of the page received before the failure", got)
	}
}

func TestAStateSeenBeforeADriftRefetchIsPublishedBeforeTheNewOne(t *testing.T) {
	f := &scriptedFetcher{results: []Result{
		{Rows: []jelou.Conversation{a1(jelou.StateActive)}, Pages: 2, Drift: "1 duplicate _id rows"},
		{Rows: []jelou.Conversation{a1(jelou.StateClosed)}, Pages: 2}, // closed by the time of the second look
	}}
	got := runBackfill(t, Config{}, f)
	if len(got) != 2 || got[0].Conversation.State != jelou.StateActive || got[1].Conversation.State != jelou.StateClosed {
		t.Fatalf("published %v, want active then closed", got)
	}
}
