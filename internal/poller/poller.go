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
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Fetcher fetches the rows of one window; *jelou.Client implements it.
// The bounds and the result mean what they mean to
// jelou.Client.FetchWindowBounded: the result is never nil, and its rows go
// to Bounds.Flush as they arrive (a Fetcher that keeps them in the result
// instead is accepted: they are handed over when it returns).
type Fetcher interface {
	FetchWindowBounded(ctx context.Context, w jelou.Window, b jelou.Bounds) (*jelou.WindowResult, error)
}

// Writer writes encoded records durably; *publish.Publisher implements
// it. A nil return means every record was acknowledged; any error means
// the batch must be treated as not written (some records may still have
// been). An error whose Temporary method reports false stops the poller.
type Writer interface {
	Publish(ctx context.Context, records []event.Record) error
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
	// Lane is the lane whose query found it.
	Lane Lane
	// FallbackKey is set when the event went out under the fallback key
	// (the conversation had no company id).
	FallbackKey bool
}

// Reasons for rows that can never be published.
const (
	RejectMissingID    = "missing_id"
	RejectMissingState = "missing_state"
	RejectUnencodable  = "unencodable"
)

// DeadLetterTooLarge is the reason of a row whose event is larger than the
// writer or the broker accepts: it is dead-lettered, or the poller stops;
// it is never merely rejected. The other reasons are the Reject* ones.
const DeadLetterTooLarge = "too_large"

// Config sets up a Poller. Zero fields take the documented defaults.
type Config struct {
	// Source is the stable id under which the checkpoint is stored. Required.
	Source string
	// Start is where history begins when there is no checkpoint. Required.
	Start time.Time
	// End, when set, makes the poller a bounded backfill: the history lane
	// alone walks windows up to End, then Run returns nil. Zero means run
	// live forever.
	End time.Time
	// Window is the length of one history query, and the longest piece of
	// any other lane's query. Default: 1h.
	Window time.Duration
	// Interval is how often the live and settle lanes run. Default: 1m.
	Interval time.Duration
	// Lag is how far behind now the live edge stays. Zero means none.
	Lag time.Duration
	// Settle is how long recent start times keep being re-read for late
	// rows. Zero treats a range as final after its first read.
	Settle time.Duration
	// Reread is how the settle lane re-reads recent start times (see
	// Schedule.Settle). Default: RereadAuto.
	Reread Reread
	// SettleHot is the age below which start times are re-read on every
	// settle tick when re-reading by age. Zero means Interval.
	SettleHot time.Duration
	// MinActive is how long an active state may stay visible before
	// RereadByLoss must have seen it (the hot band is re-read every two
	// thirds of it). Default: 30s.
	MinActive time.Duration
	// Freshness is how soon after a state change RereadByLoss wants to see
	// it: the warm band's re-read period when the budget allows; a larger
	// budget is not spent on more. Default: Interval.
	Freshness time.Duration
	// PageSize is the API client's page size and Budget the request
	// budget its requests take tokens from, for RereadAuto. Defaults: 100
	// and none (no limit).
	PageSize int
	Budget   *Budget
	// Revisit is how long non-terminal conversations are re-checked. Zero
	// disables revisits.
	Revisit time.Duration
	// RevisitInterval is the shortest time between two revisits of one
	// bucket; it grows with the age of the bucket. Default: 5m.
	RevisitInterval time.Duration
	// Concurrency is how many history windows are in flight at once.
	// Default: 4.
	Concurrency int
	// MaxPages is how many pages one query may take before the window is
	// split. Default: jelou.DefaultMaxPages (50).
	MaxPages int
	// MinWindow is the smallest window a split produces; a window that
	// small takes up to 10 times MaxPages pages, then stops, truncated:
	// what was read is published and the window is read again later.
	// Default: 1m.
	MinWindow time.Duration
	// Memory bounds the rows held between a page's arrival and their
	// publication; share one among every poller of a process (and give it
	// to the API client as jelou.Config.BodyBudget). Default: a budget of
	// its own, NewMemoryBudget(0).
	Memory *MemoryBudget
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
	// EventSource is the CloudEvents source of the events. Default:
	// event.NewSource(Source).
	EventSource event.Source
	// Mode is the CloudEvents content mode of the records. Default:
	// event.Structured.
	Mode event.Mode
	// SchemaID, when set, frames every record value in the Schema
	// Registry wire format with this id (event.FramedRecord): the id of
	// the schema of Mode's value registered under the topic's value
	// subject. Default: 0, plain JSON values.
	SchemaID uint32
	// DeadLetters, when set, receives the rows that can never be
	// published (see deadletter.go), so that the source moves on; nil
	// (the default) rejects rows without an id, a state or a valid
	// encoding, and stops the poller with an [*UndeliverableError] on a
	// row too large to publish.
	DeadLetters Writer
	// MaxRecordBytes is the largest record the Writer accepts (the
	// producer's batch bytes). With DeadLetters, a record over it is
	// dead-lettered without a write, and a dead letter over it is cut to
	// fit. A record the writer or the broker refuses as too large is found
	// by writing its batch in halves, whatever this is; without
	// DeadLetters, its write's error is the UndeliverableError's cause.
	// Zero means unknown.
	MaxRecordBytes int
	// State, when set, receives the current state of each conversation
	// (the state topic, see state.go): the record of the latest state's
	// event, keyed by the conversation's _id, written after the batch's
	// events and before their ack. Nil (the default) writes none.
	State Writer
	// StateSchemaID, when SchemaID is set, is the schema id of the state
	// topic's value subject: state records are framed with it, since a
	// registry may give one schema another id under another subject.
	StateSchemaID uint32
	// Watermarks, when set, receives the source's completeness watermark
	// (see watermark.go) after each checkpoint save that moved it, with
	// the end offsets EventOffsets reads of EventTopic. Nil (the default)
	// writes none.
	Watermarks   Writer
	EventOffsets func(ctx context.Context) ([]event.PartitionOffset, error)
	EventTopic   string
	// Clock is the time source. Default: the wall clock.
	Clock clock.Clock
	// Logger receives one line per window at info. Default: discard.
	Logger *slog.Logger
	// Observer receives what the poller does. Default: NopObserver.
	Observer Observer
}

// Defaults of Config, applied to zero fields by New.
const (
	DefaultWindow             = time.Hour
	DefaultInterval           = time.Minute
	DefaultRevisitInterval    = 5 * time.Minute
	DefaultConcurrency        = 4
	DefaultPageSize           = 100
	DefaultMinWindow          = time.Minute
	DefaultCheckpointInterval = 5 * time.Second
	DefaultPublishTimeout     = 30 * time.Second
	DefaultFinalSaveTimeout   = 15 * time.Second
	DefaultRetryMin           = time.Second
	DefaultRetryMax           = time.Minute
	DefaultMinActive          = 30 * time.Second
)

// WithDefaults returns c with every zero (or negative) field set to its
// default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Window, DefaultWindow)
	def(&c.Interval, DefaultInterval)
	c.Lag, c.Settle, c.Revisit = max(c.Lag, 0), max(c.Settle, 0), max(c.Revisit, 0)
	def(&c.RevisitInterval, DefaultRevisitInterval)
	def(&c.MinWindow, DefaultMinWindow)
	def(&c.CheckpointInterval, DefaultCheckpointInterval)
	def(&c.PublishTimeout, DefaultPublishTimeout)
	def(&c.FinalSaveTimeout, DefaultFinalSaveTimeout)
	def(&c.RetryMin, DefaultRetryMin)
	def(&c.RetryMax, DefaultRetryMax)
	def(&c.MinActive, DefaultMinActive)
	def(&c.Freshness, c.Interval)
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxPages <= 0 {
		c.MaxPages = jelou.DefaultMaxPages
	}
	if c.Memory == nil {
		c.Memory = NewMemoryBudget(0)
	}
	if c.Reread == "" {
		c.Reread = RereadAuto
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.EventSource.URI == "" {
		c.EventSource = event.NewSource(c.Source)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	return c
}

// Poller runs the lanes of one source: fetch → dedupe → encode → write →
// commit. Its methods other than Run are safe for concurrent use.
type Poller struct {
	cfg   Config
	obs   Observer
	fetch Fetcher
	out   Writer
	store checkpoint.Store

	// index decides what is new; only commit acknowledges or releases
	// its states.
	index *dedupe.Index
	// commit is the one writer of the checkpoint's input, and its saver.
	commit *committer

	mu    sync.Mutex
	sched *Schedule     // only commit marks its queries done
	wake  chan struct{} // closed and replaced whenever the schedule changed

	// lateRows counts rows first seen by the revisit lane; lateWarned is
	// when that was last logged (Unix nanoseconds).
	lateRows, lateWarned atomic.Int64

	// stateMu serialises the writes to the state topic (see writeStates).
	stateMu sync.Mutex

	// caughtUp is set once no history gap is left in this life; the
	// poller then logs "caught up".
	caughtUp atomic.Bool

	// learn learns the source's traffic (Account) from what the lanes see.
	learn *learner
	// planLogged and shortWarned are when the request plan was last logged
	// and its shortage last warned about (Unix nanoseconds).
	planLogged, shortWarned atomic.Int64
}

// New returns a Poller. It loads nothing until Run.
func New(cfg Config, f Fetcher, w Writer, s checkpoint.Store) (*Poller, error) {
	cfg = cfg.WithDefaults()
	if cfg.Source == "" {
		return nil, errors.New("poller: Source is required")
	}
	if cfg.Start.IsZero() {
		return nil, errors.New("poller: Start is required")
	}
	if !cfg.End.IsZero() && !cfg.End.After(cfg.Start) {
		return nil, fmt.Errorf("poller: End %s is not after Start %s", cfg.End.Format(time.RFC3339), cfg.Start.Format(time.RFC3339))
	}
	if f == nil || w == nil || s == nil {
		return nil, errors.New("poller: Fetcher, Writer and Store are required")
	}
	if cfg.Watermarks != nil && (cfg.EventOffsets == nil || cfg.EventTopic == "") {
		return nil, errors.New("poller: Watermarks needs EventOffsets and EventTopic")
	}
	return &Poller{cfg: cfg, obs: cfg.Observer, fetch: f, out: w, store: s, wake: make(chan struct{}), learn: newLearner(cfg.Lag + 2*cfg.Interval)}, nil
}

// Coverage returns what has been read and acknowledged so far. It is zero
// before Run loaded the checkpoint.
func (p *Poller) Coverage() checkpoint.Coverage {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sched == nil {
		return checkpoint.Coverage{}
	}
	return p.sched.Coverage()
}

// Cursor returns the cursor: every start time before it was read and
// acknowledged at least once. It is zero before Run loaded the checkpoint.
func (p *Poller) Cursor() time.Time {
	c := p.Coverage()
	return c.Cursor()
}

func (p *Poller) scheduleConfig() scheduleConfig {
	c := p.cfg
	return scheduleConfig{Window: c.Window, Interval: c.Interval, Lag: c.Lag, Settle: c.Settle, Reread: c.Reread, SettleHot: c.SettleHot, PageSize: c.PageSize, Budget: clockRate(c.Budget.PerSecond(), c.Clock),
		MinActive: c.MinActive, Freshness: c.Freshness,
		Revisit: c.Revisit, RevisitInterval: c.RevisitInterval, End: c.End}
}

// clockRate converts a request rate per wall second (the budget's, which
// paces real requests) into one per second of clk, the time the schedule
// plans in: the same on the wall clock, rate ÷ speed on an accelerated
// clock (a simulation), where an interval of clk holds fewer wall seconds.
func clockRate(perWallSecond float64, clk clock.Clock) float64 {
	if s, ok := clk.(interface{ Speed() float64 }); ok && s.Speed() > 0 {
		return perWallSecond / s.Speed()
	}
	return perWallSecond
}

// Run loads the checkpoint, then runs the lanes until ctx ends (returning
// nil), the backfill range is done (nil), or an unrecoverable error
// occurs. It saves the checkpoint before returning.
func (p *Poller) Run(ctx context.Context) (err error) {
	if err := p.load(ctx); err != nil {
		return err
	}
	defer func() {
		// The final save runs even though ctx has ended.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.FinalSaveTimeout)
		defer cancel()
		if serr := p.commit.save(sctx, true); serr != nil && err == nil {
			err = &FinalSaveError{Err: serr}
		}
	}()
	cov := p.Coverage()
	p.noteCaughtUp(cov)
	p.obs.Covered(cov, p.cfg.Clock.Now())
	err = p.runLanes(ctx)
	if ctx.Err() != nil {
		// Stopping was asked for: what failed after that (an abandoned
		// request or publish) is its consequence, not a failure.
		return nil
	}
	return err
}

// FinalSaveError is Run's error when its lanes ended without failing (ctx
// ended, or a backfill finished) but the checkpoint saved on the way out
// could not be written. A caller stopping a poller tells it apart from a
// failure of the poller met just as the stop was asked.
type FinalSaveError struct{ Err error }

func (e *FinalSaveError) Error() string { return "final " + e.Err.Error() }

// Unwrap returns the store's error.
func (e *FinalSaveError) Unwrap() error { return e.Err }

// errFinished ends the lanes when a bounded backfill is done.
var errFinished = errors.New("backfill finished")

// runLanes runs the Workers of every lane of the table (in a bounded
// backfill, of the Backfill lanes only) and the saver until ctx ends, one
// of them fails, or a backfill finishes.
func (p *Poller) runLanes(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	var wg sync.WaitGroup
	spawn := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				cancel(err)
			}
		}()
	}
	for _, lane := range Lanes {
		for range lane.Spec().runners(p.cfg) {
			spawn(func(ctx context.Context) error { return p.runLane(ctx, lane) })
		}
	}
	spawn(p.runSaver)
	<-ctx.Done()
	wg.Wait()
	if parent.Err() != nil {
		return parent.Err()
	}
	if cause := context.Cause(ctx); !errors.Is(cause, errFinished) {
		return cause
	}
	return nil
}

// runLane runs one runner of lane until ctx ends, a query fails for good,
// or a bounded backfill has read everything. A lane with a Sweep rule runs
// rounds (runRevisits); otherwise it asks the lane's Next rule for the due
// query, runs it, records it done, and again.
func (p *Poller) runLane(ctx context.Context, lane Lane) error {
	ctx = WithLane(ctx, lane)
	spec := lane.Spec()
	if spec.Sweep != nil {
		return p.runRevisits(ctx, spec.Sweep)
	}
	for {
		p.mu.Lock()
		if p.sched.Finished() {
			p.mu.Unlock()
			return errFinished
		}
		q, ok, wake := spec.Next(p.sched, p.cfg.Clock.Now())
		changed := p.wake
		p.mu.Unlock()
		if !ok {
			if err := p.waitUntil(ctx, wake, changed); err != nil {
				return err
			}
			continue
		}
		if err := p.runQuery(ctx, q); err != nil {
			return err
		}
	}
}

// runRevisits plans, with the lane's sweep rule, the revisits due over the
// buckets of non-terminal conversations every Interval (at most every
// RevisitInterval) and runs them one after another.
func (p *Poller) runRevisits(ctx context.Context, sweep func(*Schedule, time.Time, []bucket) ([]Query, time.Duration)) error {
	for {
		now := p.cfg.Clock.Now()
		p.mu.Lock()
		from, to := p.sched.RevisitRange(now)
		p.mu.Unlock()
		buckets := p.buckets(from, to)
		p.mu.Lock()
		due, overdue := sweep(p.sched, now, buckets)
		p.mu.Unlock()
		p.obs.RevisitsDue(len(due), overdue)
		for _, q := range due {
			if err := p.runQuery(ctx, q); err != nil {
				return err
			}
		}
		if len(due) > 0 {
			p.cfg.Logger.Info("revisit sweep done", "source", p.cfg.Source, "buckets", len(due))
		}
		if err := p.sleep(ctx, min(p.cfg.Interval, p.cfg.RevisitInterval)); err != nil {
			return err
		}
	}
}

// buckets groups the non-terminal conversations started in [from, to) by
// Window-aligned bucket.
func (p *Poller) buckets(from, to time.Time) []bucket {
	spans := make(map[time.Time]*bucket)
	p.index.NonTerminal(func(start time.Time) bool {
		if start.Before(from) || !start.Before(to) {
			return true
		}
		k := start.Truncate(p.cfg.Window)
		b := spans[k]
		if b == nil {
			spans[k] = &bucket{key: k, first: start, end: start}
			return true
		}
		if start.Before(b.first) {
			b.first = start
		}
		if start.After(b.end) {
			b.end = start
		}
		return true
	})
	out := make([]bucket, 0, len(spans))
	for _, b := range spans {
		out = append(out, *b)
	}
	return out
}

// runQuery fetches and publishes q's window in Window-long pieces, then
// has the committer record it done, and wakes the lanes waiting for the
// schedule to change.
func (p *Poller) runQuery(ctx context.Context, q Query) error {
	p.mu.Lock()
	pieces := p.sched.Pieces(q)
	p.mu.Unlock()
	plan := p.newFetchPlan(q.Again)
	var requests atomic.Int64
	ctx = withRequestCount(ctx, &requests)
	for _, w := range pieces {
		rows, err := p.processWindow(ctx, w, q.Lane, plan)
		if err != nil {
			return err
		}
		q.Rows += rows
	}
	if p.cfg.Budget != nil {
		q.Requests, q.pieces = int(requests.Load()), len(pieces)
	}
	now := p.cfg.Clock.Now()
	cov := p.commit.done(q, now)
	p.mu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	rp := p.sched.RequestPlan()
	p.mu.Unlock()
	if q.Lane == LaneSettle {
		p.reportPlan(rp)
	}
	p.noteCaughtUp(cov)
	p.obs.Covered(cov, now)
	p.obs.Tracked(p.index.Len())
	return nil
}

// noteCaughtUp logs "caught up" the first time in this life that no history
// gap is left and the live lane has read up to its edge once.
func (p *Poller) noteCaughtUp(cov checkpoint.Coverage) {
	if len(cov.History) == 0 && cov.Live.End.After(cov.Live.Start) && !p.caughtUp.Swap(true) {
		p.cfg.Logger.Info("caught up", "source", p.cfg.Source, "cursor", cov.Cursor().UTC().Format(time.RFC3339))
	}
}

// runSaver offers the committer a save every CheckpointInterval of wall
// time; it saves when something was committed since the last save.
func (p *Poller) runSaver(ctx context.Context) error {
	t := time.NewTicker(p.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		// A save cut short because the run is ending is not a failure:
		// the final save follows.
		if err := p.commit.save(ctx, false); err != nil && ctx.Err() == nil {
			p.failure("checkpoint", err)
		}
	}
}

// waitUntil waits until wake (zero: no deadline), the schedule changes, or
// ctx ends.
func (p *Poller) waitUntil(ctx context.Context, wake time.Time, changed <-chan struct{}) error {
	var timer <-chan time.Time
	if !wake.IsZero() {
		d := wake.Sub(p.cfg.Clock.Now())
		if d <= 0 {
			return ctx.Err()
		}
		timer = p.cfg.Clock.After(d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
		return nil
	case <-timer:
		return nil
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

func (p *Poller) load(ctx context.Context) error {
	now := p.cfg.Clock.Now()
	sc := p.scheduleConfig()
	start := p.cfg.Start.Truncate(time.Second)
	cp, err := p.store.Load(ctx, p.cfg.Source)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		p.loaded(dedupe.New(), newSchedule(sc, initialCoverage(sc, start, now.Add(-p.cfg.Lag).Truncate(time.Second))))
		p.cfg.Logger.Info("no checkpoint: starting fresh", "source", p.cfg.Source, "start", start.UTC().Format(time.RFC3339))
		return nil
	case err != nil:
		return fmt.Errorf("load checkpoint: %w", err)
	}
	ix, err := dedupe.ReadSnapshot(bytes.NewReader(cp.Dedupe))
	if err != nil {
		return fmt.Errorf("load checkpoint of source %s: dedupe snapshot: %w", cp.Source, err)
	}
	var cov checkpoint.Coverage
	if cp.Coverage != nil {
		cov = *cp.Coverage
	} else {
		cov = migrateCursor(sc, cp.Cursor)
		p.cfg.Logger.Info("checkpoint of format version 1 migrated: the settle period behind its cursor is read again",
			"source", p.cfg.Source, "cursor", cp.Cursor.UTC().Format(time.RFC3339))
	}
	p.loaded(ix, newSchedule(sc, cov))
	p.mu.Lock()
	p.sched.restoreAccount(cp, p.learn, now, p.cfg.Logger)
	p.mu.Unlock()
	p.commit.marked = markedIn(cp, p.cfg.Logger)
	p.commit.written = p.commit.marked
	p.cfg.Logger.Info("checkpoint loaded", "source", p.cfg.Source, "cursor", cov.Cursor().UTC().Format(time.RFC3339),
		"history_gaps", len(cov.History), "live_end", cov.Live.End.UTC().Format(time.RFC3339),
		"saved_at", cp.SavedAt.UTC().Format(time.RFC3339), "tracked", ix.Len())
	p.obs.Tracked(ix.Len())
	return nil
}

// loaded installs what load built, and the committer over it, under the
// lock Coverage takes.
func (p *Poller) loaded(ix *dedupe.Index, s *Schedule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.index, p.sched = ix, s
	if p.learn == nil {
		p.learn = newLearner(p.cfg.Lag + 2*p.cfg.Interval)
	}
	s.account = p.learn.Account
	p.commit = &committer{store: p.store, index: ix, sched: s, schedMu: &p.mu, learn: p.learn, cfg: p.cfg, obs: p.obs}
}

func (p *Poller) failure(stage string, err error) {
	p.cfg.Logger.Warn("attempt failed, will retry", "stage", stage, "err", err)
	p.obs.Failure(stage, err)
}
