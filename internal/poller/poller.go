package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Fetcher fetches every row of one window.
type Fetcher interface {
	// Fetch returns every row whose start lies in w. When maxPages > 0 and
	// the window needs more pages than that, it returns a *TooLargeError
	// after the first page instead of fetching them. With any other error
	// it may return the rows received before the failure in Result.Rows;
	// they are published before the window is tried again.
	Fetch(ctx context.Context, w jelou.Window, maxPages int) (Result, error)
}

// Result is what a Fetcher returns for one window.
type Result struct {
	// Rows are the rows of every page, in the order received.
	Rows []jelou.Conversation
	// Pages is how many pages were requested.
	Pages int
	// Drift is non-empty when the pages disagreed with each other
	// (pagination.total changed, fewer rows than promised).
	Drift string
}

// TooLargeError reports a window that needs more pages than allowed.
type TooLargeError struct {
	Window jelou.Window
	Total  int
	Pages  int
	// Received are rows already fetched before the Fetcher stopped; they
	// are published along with those of the split window.
	Received []jelou.Conversation
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("window %s holds %d rows in %d pages, more than allowed in one query", e.Window, e.Total, e.Pages)
}

// Emission is one (conversation, state) to publish.
type Emission struct {
	// Conversation is the row as fetched.
	Conversation jelou.Conversation
	// Previous is the last state published for the conversation, "" on
	// first sight.
	Previous jelou.State
	// Window is the query the row was found in.
	Window jelou.Window
	// Observed is when the row was fetched.
	Observed time.Time
	// Kind is the kind of query that found it: forward, live or revisit.
	Kind Kind
}

// Publisher publishes a batch of emissions durably. A nil return means
// every emission was acknowledged; any error means the batch must be
// treated as not published (some records may still have been written).
// An error whose Temporary method reports false stops the poller.
type Publisher interface {
	Publish(ctx context.Context, batch []Emission) error
}

// Kind names the query that found a row; it is a metric label.
type Kind string

// The kinds of query.
const (
	KindForward Kind = "forward" // the cursor's walk over history
	KindLive    Kind = "live"    // the live edge plus the settle period
	KindRevisit Kind = "revisit" // windows holding non-terminal conversations
)

// Hooks receive what the poller does, for metrics and progress output.
// Every field may be nil. Hooks are called from several goroutines.
type Hooks struct {
	// WindowDone is called when a query and its publish completed.
	WindowDone func(kind Kind, w jelou.Window, rows, emitted int, took time.Duration)
	// Published is called after Kafka acknowledged a batch.
	Published func(batch []Emission)
	// Skipped is called for every row not published, with the reason
	// (duplicate, regression, missing_id, missing_state).
	Skipped func(reason string)
	// Committed is called when the cursor advances.
	Committed func(cursor time.Time)
	// Saved is called after each checkpoint save attempt.
	Saved func(bytes int, err error)
	// Tracked is called with the number of conversations in the index.
	Tracked func(n int)
	// Failure is called for every failed attempt that will be retried.
	Failure func(stage string, err error)
	// Drift is called when a window's pages disagreed; resolved reports
	// whether a re-fetch or split healed it.
	Drift func(w jelou.Window, detail string, resolved bool)
}

// Config sets up a Poller. Zero fields take the documented defaults.
type Config struct {
	// Source is the stable id under which the checkpoint is stored. Required.
	Source string
	// Start is where the cursor begins when there is no checkpoint. Required.
	Start time.Time
	// End, when set, makes the poller a bounded backfill: it walks windows
	// up to End, then Run returns nil. Zero means run live forever.
	End time.Time
	// Window is the length of one forward query. Default: 1h.
	Window time.Duration
	// Interval is how often the live edge is polled. Default: 1m.
	Interval time.Duration
	// Lag is how far behind now the live edge stays. Default: 30s.
	Lag time.Duration
	// Settle is how long a recent window keeps being re-polled for late
	// rows. Zero treats a window as final after its first pass.
	Settle time.Duration
	// Revisit is how long non-terminal conversations are re-checked. Zero
	// disables revisits.
	Revisit time.Duration
	// RevisitInterval is the shortest time between two revisits of one
	// bucket; it grows with the age of the bucket. Default: 5m.
	RevisitInterval time.Duration
	// Concurrency is how many windows are in flight during a backfill.
	// Default: 4.
	Concurrency int
	// MaxPages is how many pages one query may take before the window is
	// split. Default: 50.
	MaxPages int
	// MinWindow is the smallest window a split produces. Default: 1m.
	MinWindow time.Duration
	// CheckpointInterval is the shortest time between two checkpoint
	// saves (one is always written on exit). Default: 5s.
	CheckpointInterval time.Duration
	// PublishTimeout bounds one publish attempt. A publish in flight when
	// Run is asked to stop is not cancelled but allowed to finish within
	// it, so that a clean stop leaves nothing half-written. Default: 30s.
	PublishTimeout time.Duration
	// FinalSaveTimeout bounds the checkpoint save when Run returns.
	// Default: 15s.
	FinalSaveTimeout time.Duration
	// RetryMin and RetryMax bound the pause between two attempts of a
	// failed window or publish. Defaults: 1s and 1m.
	RetryMin, RetryMax time.Duration
	// Clock is the time source. Default: the wall clock.
	Clock clock.Clock
	// Logger receives one line per window at info. Default: discard.
	Logger *slog.Logger
	// Hooks receive events for metrics and progress.
	Hooks Hooks
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Window, time.Hour)
	def(&c.Interval, time.Minute)
	if c.Lag < 0 {
		c.Lag = 0
	}
	if c.Settle < 0 {
		c.Settle = 0
	}
	if c.Revisit < 0 {
		c.Revisit = 0
	}
	def(&c.RevisitInterval, 5*time.Minute)
	def(&c.MinWindow, time.Minute)
	def(&c.CheckpointInterval, 5*time.Second)
	def(&c.PublishTimeout, 30*time.Second)
	def(&c.FinalSaveTimeout, 15*time.Second)
	def(&c.RetryMin, time.Second)
	def(&c.RetryMax, time.Minute)
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxPages <= 0 {
		c.MaxPages = 50
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Poller runs the fetch → dedupe → publish → commit loop for one source.
// Its methods other than Run are safe for concurrent use.
type Poller struct {
	cfg   Config
	fetch Fetcher
	pub   Publisher
	store checkpoint.Store

	index   *dedupe.Index
	revisit *revisitSchedule

	mu      sync.Mutex
	cursor  time.Time
	settled time.Time // every start before it was queried at least Settle after it

	// saveMu serialises saves; it is not p.mu, so that commits and Cursor
	// do not wait for the snapshot and the store's I/O.
	saveMu   sync.Mutex
	lastSave time.Time // guarded by saveMu

	// changed is set when the cursor moved or Kafka acknowledged events
	// since the last save; an unforced save of an unchanged state is
	// skipped.
	changed atomic.Bool
}

// New returns a Poller. It loads nothing until Run.
func New(cfg Config, f Fetcher, p Publisher, s checkpoint.Store) (*Poller, error) {
	cfg.setDefaults()
	if cfg.Source == "" {
		return nil, errors.New("poller: Source is required")
	}
	if cfg.Start.IsZero() {
		return nil, errors.New("poller: Start is required")
	}
	if !cfg.End.IsZero() && !cfg.End.After(cfg.Start) {
		return nil, fmt.Errorf("poller: End %s is not after Start %s", cfg.End.Format(time.RFC3339), cfg.Start.Format(time.RFC3339))
	}
	if f == nil || p == nil || s == nil {
		return nil, errors.New("poller: Fetcher, Publisher and Store are required")
	}
	return &Poller{cfg: cfg, fetch: f, pub: p, store: s, revisit: newRevisitSchedule()}, nil
}

// Cursor returns the current cursor: every window before it was fetched and
// acknowledged. It is zero before Run loaded the checkpoint.
func (p *Poller) Cursor() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cursor
}

// Run loads the checkpoint, then polls until ctx ends (returning nil), the
// backfill range is done (nil), or an unrecoverable error occurs. It saves
// the checkpoint before returning.
func (p *Poller) Run(ctx context.Context) (err error) {
	if err := p.load(ctx); err != nil {
		return err
	}
	defer func() {
		// The final save runs even though ctx has ended.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.FinalSaveTimeout)
		defer cancel()
		if serr := p.save(sctx, true); serr != nil && err == nil {
			err = serr
		}
	}()
	err = p.loop(ctx)
	if ctx.Err() != nil {
		// Stopping was asked for: what failed after that (an abandoned
		// request or publish) is its consequence, not a failure.
		return nil
	}
	return err
}

func (p *Poller) loop(ctx context.Context) error {
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := p.cfg.Clock.Now()
		edge := now.Add(-p.cfg.Lag).Truncate(time.Second)
		cursor := p.Cursor()
		if !p.cfg.End.IsZero() {
			if !cursor.Before(p.cfg.End) {
				return nil
			}
			if edge.After(p.cfg.End) {
				edge = p.cfg.End
			}
		}
		if plan := planForward(cursor, edge, p.cfg.Window, !p.cfg.End.IsZero()); len(plan) > 0 {
			if err := p.runForward(ctx, plan); err != nil {
				return err
			}
			continue
		}
		if !p.cfg.End.IsZero() {
			// Bounded backfill whose end is not reachable yet (End is in
			// the future): wait for the edge to move.
			if err := p.sleep(ctx, p.cfg.Interval); err != nil {
				return err
			}
			continue
		}
		started := p.cfg.Clock.Now()
		if err := p.liveTick(ctx, edge); err != nil {
			return err
		}
		if err := p.revisitDue(ctx, p.cfg.Clock.Now(), edge, first); err != nil {
			return err
		}
		first = false
		if err := p.save(ctx, false); err != nil {
			p.hookFailure("checkpoint", err)
		}
		if err := p.sleep(ctx, p.cfg.Interval-p.cfg.Clock.Now().Sub(started)); err != nil {
			return err
		}
	}
}

func (p *Poller) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.cfg.Clock.After(d):
		return nil
	}
}

// liveTick queries [min(cursor, edge−Settle), edge] and moves the cursor to
// edge.
func (p *Poller) liveTick(ctx context.Context, edge time.Time) error {
	cursor := p.Cursor()
	from := edge.Add(-p.cfg.Settle)
	if cursor.Before(from) {
		from = cursor
	}
	// Start times not yet queried a whole settle period after they began
	// (the poller stalled, or was down) are queried again.
	p.mu.Lock()
	if p.settled.Before(from) {
		from = p.settled
	}
	p.mu.Unlock()
	if !edge.After(from) {
		return nil
	}
	queried := p.cfg.Clock.Now()
	for _, w := range splitEven(jelou.Window{Start: from, End: edge}, p.cfg.Window) {
		if err := p.processWindow(ctx, w, KindLive); err != nil {
			return err
		}
	}
	p.settle(jelou.Window{Start: from, End: edge}, queried)
	p.commit(edge)
	return nil
}

// settle records that w was queried at time q: its start times up to
// q−Lag−Settle will show no new late row, when w joins the settled range.
func (p *Poller) settle(w jelou.Window, q time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.Start.After(p.settled) {
		return // a gap: what lies before w.Start is not settled
	}
	s := q.Add(-p.cfg.Lag - p.cfg.Settle)
	if s.After(w.End) {
		s = w.End
	}
	if s.After(p.settled) {
		p.settled = s
	}
}

// runForward processes the planned windows with up to Concurrency in
// flight, advancing the cursor over the contiguous prefix of completed ones.
func (p *Poller) runForward(ctx context.Context, plan []jelou.Window) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// On return, cancel first so that workers blocked on results give up,
	// then wait for them.
	defer wg.Wait()
	defer cancel()
	type outcome struct {
		i   int
		err error
	}
	jobs := make(chan int)
	results := make(chan outcome)
	queried := make([]time.Time, len(plan))
	for range min(p.cfg.Concurrency, len(plan)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				queried[i] = p.cfg.Clock.Now()
				err := p.processWindow(ctx, plan[i], KindForward)
				select {
				case results <- outcome{i, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range plan {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	done := make([]bool, len(plan))
	next := 0
	for next < len(plan) {
		var o outcome
		select {
		case o = <-results:
		case <-ctx.Done():
			return ctx.Err()
		}
		if o.err != nil {
			return o.err
		}
		done[o.i] = true
		advanced := false
		for next < len(plan) && done[next] {
			p.settle(plan[next], queried[next])
			next++
			advanced = true
		}
		if advanced {
			p.commit(plan[next-1].End)
			if err := p.save(ctx, false); err != nil {
				p.hookFailure("checkpoint", err)
			}
		}
	}
	return nil
}

// commit moves the cursor forward and evicts what can no longer come back.
func (p *Poller) commit(cursor time.Time) {
	p.mu.Lock()
	if cursor.After(p.cursor) {
		p.cursor = cursor
		p.changed.Store(true)
	}
	cursor = p.cursor
	p.mu.Unlock()
	if h := p.cfg.Hooks.Committed; h != nil {
		h(cursor)
	}
	bound := evictBefore(cursor, p.cfg.Clock.Now(), p.cfg.Settle, p.cfg.Window, p.cfg.Revisit)
	p.index.Evict(bound)
	if h := p.cfg.Hooks.Tracked; h != nil {
		h(p.index.Len())
	}
}

// evictBefore is the start time before which no query can return a row
// again: behind the cursor by more than the settle period and a window
// (the live and forward queries), and older than the revisit horizon.
func evictBefore(cursor, now time.Time, settle, window, revisit time.Duration) time.Time {
	a := cursor.Add(-settle - window)
	b := now.Add(-revisit)
	if a.Before(b) {
		return a
	}
	return b
}

func (p *Poller) load(ctx context.Context) error {
	cp, err := p.store.Load(ctx, p.cfg.Source)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		p.mu.Lock()
		p.index = dedupe.New()
		p.cursor = p.cfg.Start.Truncate(time.Second)
		p.settled = p.cursor
		p.mu.Unlock()
		p.cfg.Logger.Info("no checkpoint: starting fresh", "source", p.cfg.Source, "cursor", p.cursor.UTC().Format(time.RFC3339))
		return nil
	case err != nil:
		return fmt.Errorf("load checkpoint: %w", err)
	}
	ix, err := dedupe.ReadSnapshot(bytes.NewReader(cp.Dedupe))
	if err != nil {
		return fmt.Errorf("load checkpoint of source %s: dedupe snapshot: %w", cp.Source, err)
	}
	p.mu.Lock()
	p.index = ix
	p.cursor = cp.Cursor
	// The last queries before the stop settled at most Settle behind it.
	p.settled = p.cursor.Add(-p.cfg.Settle)
	if !p.cfg.End.IsZero() && p.cursor.Before(p.cfg.Start) {
		p.cursor = p.cfg.Start.Truncate(time.Second)
	}
	p.mu.Unlock()
	p.cfg.Logger.Info("checkpoint loaded", "source", p.cfg.Source, "cursor", p.cursor.UTC().Format(time.RFC3339),
		"saved_at", cp.SavedAt.UTC().Format(time.RFC3339), "tracked", ix.Len())
	if h := p.cfg.Hooks.Tracked; h != nil {
		h(ix.Len())
	}
	return nil
}

// save writes the checkpoint when forced or when CheckpointInterval passed
// since the last save. Saves are serialised.
func (p *Poller) save(ctx context.Context, force bool) error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	now := time.Now()
	if !force && (now.Sub(p.lastSave) < p.cfg.CheckpointInterval || !p.changed.Load()) {
		return nil
	}
	// Cleared first: a commit or an ack that lands while the cursor is read
	// and the snapshot taken marks the state changed again.
	p.changed.Store(false)
	// The cursor is read before the snapshot: every window before it was
	// acknowledged before it moved, so the snapshot holds those states.
	p.mu.Lock()
	ix, cursor := p.index, p.cursor
	p.mu.Unlock()
	if ix == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := ix.WriteSnapshot(&buf); err != nil {
		return fmt.Errorf("save checkpoint: snapshot dedupe: %w", err)
	}
	cp := &checkpoint.Checkpoint{
		Source:  p.cfg.Source,
		Cursor:  cursor,
		SavedAt: p.cfg.Clock.Now(),
		Dedupe:  buf.Bytes(),
	}
	err := p.store.Save(ctx, cp)
	if h := p.cfg.Hooks.Saved; h != nil {
		h(buf.Len(), err)
	}
	if err != nil {
		p.changed.Store(true)
		return fmt.Errorf("save checkpoint (cursor %s): %w", cursor.UTC().Format(time.RFC3339), err)
	}
	p.lastSave = now
	return nil
}

func (p *Poller) hookFailure(stage string, err error) {
	p.cfg.Logger.Warn("attempt failed, will retry", "stage", stage, "err", err)
	if h := p.cfg.Hooks.Failure; h != nil {
		h(stage, err)
	}
}
