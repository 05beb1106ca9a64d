package poller

import (
	"bytes"
	"fmt"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"log/slog"
	"strings"
	"sync"

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

// noFetch answers every window with no row.
type noFetch struct{}

func (noFetch) FetchWindowBounded(_ context.Context, w jelou.Window, _ jelou.Bounds) (*jelou.WindowResult, error) {
	return &jelou.WindowResult{Window: w, Pages: 1, Drift: jelou.Drift{PagesFetched: 1, PagesExpected: 1}}, nil
}

// noWrite acknowledges every record.
type noWrite struct{}

func (noWrite) Publish(context.Context, []event.Record) error { return nil }

func TestSaveSkipsAnUnchangedState(t *testing.T) {
	st := &countingStore{}
	p, err := New(Config{Source: "s", Start: t0, End: at(3, 0), Window: time.Hour, CheckpointInterval: time.Nanosecond}, noFetch{}, noWrite{}, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.load(ctx); err != nil {
		t.Fatal(err)
	}
	nextWindow := func() {
		p.mu.Lock()
		q, ok, _ := p.sched.History(at(9, 0))
		p.mu.Unlock()
		if !ok {
			t.Fatal("no history window left")
		}
		if err := p.runQuery(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name  string
		do    func()
		force bool
		saves int
	}{
		{"nothing happened yet", func() {}, false, 0},
		{"the coverage moved", nextWindow, false, 1},
		{"nothing new since", func() {}, false, 1},
		{"a forced save always writes", func() {}, true, 2},
		{"the coverage moved again", nextWindow, false, 3},
	}
	for _, s := range steps {
		s.do()
		if err := p.commit.save(ctx, s.force); err != nil {
			t.Fatal(err)
		}
		if st.saves != s.saves {
			t.Fatalf("%s: %d saves, want %d", s.name, st.saves, s.saves)
		}
	}
	if !st.last.Cursor.Equal(at(2, 0)) || st.last.Coverage == nil || !st.last.Coverage.History[0].Start.Equal(at(2, 0)) {
		t.Fatalf("last saved cursor %v, coverage %+v; want the history gap to start at %v", st.last.Cursor, st.last.Coverage, at(2, 0))
	}
}

// scriptedFetcher answers with its results in order, then with empty
// results without drift, and records what it was asked.
type scriptedFetcher struct {
	results []*jelou.WindowResult
	errs    []error // errs[i], when set, is returned with results[i]
	calls   int
	asked   []string // "<window> max=<maxPages>" per call
	caps    []int    // Bounds.PageCap per call
	sizes   []int    // Bounds.PageSize per call
}

func (f *scriptedFetcher) FetchWindowBounded(_ context.Context, w jelou.Window, b jelou.Bounds) (*jelou.WindowResult, error) {
	f.calls++
	f.asked = append(f.asked, fmt.Sprintf("%s max=%d", w, b.MaxPages))
	f.caps = append(f.caps, b.PageCap)
	f.sizes = append(f.sizes, b.PageSize)
	i := f.calls - 1
	r, _ := noFetch{}.FetchWindowBounded(context.Background(), w, jelou.Bounds{})
	if i < len(f.results) && f.results[i] != nil {
		r = f.results[i]
	}
	if i < len(f.errs) && f.errs[i] != nil {
		return r, f.errs[i]
	}
	return r, nil
}

// rows is a result of the given rows over two pages, drifting when drift.
func rows(drift bool, convs ...jelou.Conversation) *jelou.WindowResult {
	d := jelou.Drift{FirstTotal: len(convs), LastTotal: len(convs), Received: len(convs), PagesFetched: 2, PagesExpected: 2}
	if drift {
		d.TotalChanged, d.FirstTotal = true, len(convs)+1
	}
	return &jelou.WindowResult{Conversations: convs, Pages: 2, Drift: d}
}

// recordingObserver keeps what the poller reported as published.
type recordingObserver struct {
	NopObserver
	mu  sync.Mutex
	got []Emission
}

func (r *recordingObserver) Published(b []Emission) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, b...)
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
	obs := &recordingObserver{}
	cfg.Observer = obs
	p, err := New(cfg, f, noWrite{}, &countingStore{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return obs.got
}

func TestRowsSeenBeforeADriftSplitArePublished(t *testing.T) {
	f := &scriptedFetcher{results: []*jelou.WindowResult{
		rows(true, a1(jelou.StateClosed)),
		rows(true), // the row is gone on the second look
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
	f := &scriptedFetcher{
		results: []*jelou.WindowResult{rows(false, a1(jelou.StateActive))}, // the probing page
		errs:    []error{&jelou.TooManyPagesError{Window: w, Total: 5000, Pages: 50, Max: 10}},
	}
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
		results: []*jelou.WindowResult{rows(false, a1(jelou.StateActive))},
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
	f := &scriptedFetcher{results: []*jelou.WindowResult{
		rows(true, a1(jelou.StateActive)),
		rows(false, a1(jelou.StateClosed)), // closed by the time of the second look
	}}
	got := runBackfill(t, Config{}, f)
	if len(got) != 2 || got[0].Conversation.State != jelou.StateActive || got[1].Conversation.State != jelou.StateClosed {
		t.Fatalf("published %v, want active then closed", got)
	}
}

// countingObserver counts what the poller reports as published and rejected.
type countingObserver struct {
	recordingObserver
	rejected map[string]int
}

func (c *countingObserver) Rejected(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected[reason]++
}

// TestUnencodableRowsAreRejectedNotPublished pins events_published_total
// to what Kafka acknowledged: a row whose raw JSON cannot be encoded used
// to be counted as published along with the rest of its batch.
func TestUnencodableRowsAreRejectedNotPublished(t *testing.T) {
	bad := jelou.Conversation{ID: "b1", State: jelou.StateActive, StartAt: at(0, 20), Raw: []byte(`{"_id":`)}
	f := &scriptedFetcher{results: []*jelou.WindowResult{rows(false, a1(jelou.StateActive), bad)}}
	obs := &countingObserver{rejected: map[string]int{}}
	p, err := New(Config{Source: "s", Start: t0, End: at(1, 0), Window: time.Hour, Observer: obs}, f, noWrite{}, &countingStore{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(obs.got) != 1 || obs.got[0].Conversation.ID != "a1" {
		t.Fatalf("reported as published: %v; want a1 alone", obs.got)
	}
	if obs.rejected[RejectUnencodable] != 1 {
		t.Fatalf("rejected %v, want one unencodable row", obs.rejected)
	}
}

// firstSeenObserver records FirstSeen calls.
type firstSeenObserver struct {
	NopObserver
	lanes []Lane
	ages  []time.Duration
}

func (f *firstSeenObserver) FirstSeen(l Lane, d time.Duration) {
	f.lanes, f.ages = append(f.lanes, l), append(f.ages, d)
}

// TestLateRowsAreMeasuredAndWarned: a first sighting is reported with how
// long after its start it happened (not for history, which is backlog), and
// one by the revisit lane, which only covers settled start times, is a row
// later than POLL_SETTLE: warned about, at most once a minute.
func TestLateRowsAreMeasuredAndWarned(t *testing.T) {
	var logs bytes.Buffer
	obs := &firstSeenObserver{}
	p, err := New(Config{Source: "s", Start: t0, Settle: 15 * time.Minute, Observer: obs,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, noFetch{}, noWrite{}, &countingStore{})
	if err != nil {
		t.Fatal(err)
	}
	p.index = dedupe.New()
	conv := func(id string, start time.Time) jelou.Conversation {
		return jelou.Conversation{ID: id, State: jelou.StateActive, StartAt: start, Raw: []byte(`{}`)}
	}
	w := win(at(0, 0), at(1, 0))
	p.decide([]jelou.Conversation{conv("h1", at(0, 1))}, w, LaneHistory)
	p.decide([]jelou.Conversation{conv("l1", at(0, 1))}, w, LaneLive)
	p.decide([]jelou.Conversation{conv("r1", at(0, 2)), conv("r2", at(0, 3))}, w, LaneRevisit)
	p.decide([]jelou.Conversation{conv("r1", at(0, 2))}, w, LaneRevisit) // not a first sighting
	if fmt.Sprint(obs.lanes) != "[live revisit revisit]" {
		t.Fatalf("FirstSeen lanes %v, want live then two revisits (history is backlog, a repeat is not new)", obs.lanes)
	}
	if n := strings.Count(logs.String(), "later than POLL_SETTLE"); n != 1 {
		t.Fatalf("%d warnings for two late rows in a minute, want 1:\n%s", n, logs.String())
	}
	if p.lateRows.Load() != 2 {
		t.Fatalf("late rows counted %d, want 2", p.lateRows.Load())
	}
}
