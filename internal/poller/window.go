package poller

import (
	"github.com/jelou-producer/jelou-producer/pkg/event"

	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// splitEven cuts w into pieces no longer than max, sharing boundary seconds.
func splitEven(w jelou.Window, max time.Duration) []jelou.Window {
	if w.Duration() <= max {
		return []jelou.Window{w}
	}
	var out []jelou.Window
	for s := w.Start; s.Before(w.End); s = s.Add(max) {
		e := s.Add(max)
		if e.After(w.End) {
			e = w.End
		}
		out = append(out, jelou.Window{Start: s, End: e})
	}
	return out
}

// halve splits w at its middle second; ok is false when the halves would be
// shorter than min.
func halve(w jelou.Window, min time.Duration) (a, b jelou.Window, ok bool) {
	d := w.Duration()
	if d/2 < min || d < 2*time.Second {
		return w, w, false
	}
	mid := w.Start.Add(d / 2).Truncate(time.Second)
	return jelou.Window{Start: w.Start, End: mid}, jelou.Window{Start: mid, End: w.End}, true
}

// processWindow fetches w, dedupes its rows, publishes what is new and
// acknowledges it in the index. Temporary failures are retried with
// jittered backoff until ctx ends; it returns only nil, ctx's error, or an
// unrecoverable error.
//
// again says that the range will be read again within an interval or so:
// then pagination drift is not healed by a re-fetch or a split now (new
// rows at the live edge shift pages all the time; the next read catches
// what moved), only reported.
func (p *Poller) processWindow(ctx context.Context, w jelou.Window, lane Lane, again bool) (int, error) {
	started := time.Now()
	var rows []jelou.Conversation
	published := 0
	err := p.retry(ctx, "fetch", func() error {
		var err error
		rows, err = p.fetchAll(ctx, w, p.cfg.MaxPages, again)
		if err != nil && len(rows) > 0 && ctx.Err() == nil {
			// The pages received before the failure were shown by the
			// API: publish them now, whatever the retry sees later.
			n, perr := p.publishRows(ctx, rows, w, lane)
			published += n
			if perr != nil {
				return backoff.Permanent(perr)
			}
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fetch window %s: %w", w, err)
	}
	n, err := p.publishRows(ctx, rows, w, lane)
	if err != nil {
		return 0, err
	}
	published += n
	took := time.Since(started)
	p.cfg.Logger.Info("window done", "lane", lane.String(), "window", w.String(), "rows", len(rows), "published", published, "took", took.Round(time.Millisecond).String())
	p.obs.QueryDone(lane, w, len(rows), published, took)
	return len(rows), nil
}

// publishRows runs rows through dedupe, encodes and writes what is new,
// acknowledges it in the index, and returns how many events it published.
// The write is retried until it succeeds, fails unrecoverably or ctx ends.
// A row that cannot be encoded (its raw JSON is not valid, which the
// decoder should have prevented) is left out, logged and counted as
// rejected instead of blocking the stream.
func (p *Poller) publishRows(ctx context.Context, rows []jelou.Conversation, w jelou.Window, lane Lane) (int, error) {
	batch := p.decide(rows, w, lane)
	if len(batch) == 0 {
		return 0, nil
	}
	records, sent := p.encode(batch)
	if len(records) > 0 {
		err := p.retry(ctx, "publish", func() error {
			// Not cancelled with ctx: a stop lets the attempt finish (within
			// PublishTimeout) rather than leave a batch half-written.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.PublishTimeout)
			defer cancel()
			return p.out.Publish(actx, records)
		})
		if err != nil {
			for _, e := range batch {
				p.index.Release(e.Conversation.ID, e.Conversation.State)
			}
			return 0, fmt.Errorf("publish %d events of window %s: %w", len(records), w, err)
		}
	}
	// Unencodable rows are acknowledged too: they can never be published.
	for _, e := range batch {
		p.index.Ack(e.Conversation.ID, e.Conversation.State)
	}
	p.changed.Store(true)
	if len(sent) > 0 {
		p.obs.Published(sent)
	}
	return len(sent), nil
}

// encode turns each emission into a CloudEvent record keyed by company id.
// It returns the records and the emissions they came from.
func (p *Poller) encode(batch []Emission) ([]event.Record, []Emission) {
	records := make([]event.Record, 0, len(batch))
	sent := make([]Emission, 0, len(batch))
	for _, e := range batch {
		ev := event.New(p.cfg.EventSource, e.Conversation, e.Previous, e.Window, e.Observed)
		_, fallback := ev.Key()
		rec, err := ev.Record(p.cfg.Mode)
		if err != nil {
			p.obs.Rejected(RejectUnencodable)
			p.cfg.Logger.Error("row cannot be encoded as an event; skipped", "conversation", e.Conversation.ID, "state", string(e.Conversation.State), "err", err)
			continue
		}
		records = append(records, rec)
		e.FallbackKey = fallback
		sent = append(sent, e)
	}
	return records, sent
}

// fatal reports whether err must stop the poller instead of being retried.
func fatal(err error) bool {
	var auth *jelou.AuthError
	if errors.As(err, &auth) {
		return true
	}
	var v *jelou.ValidationError
	if errors.As(err, &v) {
		return true
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && !t.Temporary() {
		var d *jelou.DecodeError
		// A garbled body may come from a proxy having a bad moment: retry it.
		return !errors.As(err, &d)
	}
	return false
}

// retry runs op until it succeeds, fails unrecoverably, or ctx ends.
func (p *Poller) retry(ctx context.Context, stage string, op func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.cfg.RetryMin
	b.MaxInterval = p.cfg.RetryMax
	b.MaxElapsedTime = 0
	return backoff.RetryNotify(func() error {
		err := op()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if fatal(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx), func(err error, _ time.Duration) { p.failure(stage, err) })
}

// fetchAll returns every row of w, splitting it when it is too large or too
// wide for one query and re-fetching it when its pages drifted. maxPages
// <= 0 takes every page (the window is as narrow as allowed).
func (p *Poller) fetchAll(ctx context.Context, w jelou.Window, maxPages int, again bool) ([]jelou.Conversation, error) {
	res, err := p.fetch.FetchWindowLimit(ctx, w, maxPages)
	var tooLarge *jelou.TooManyPagesError
	var invalid *jelou.ValidationError
	switch {
	case errors.As(err, &tooLarge):
		// The rows of the probing page were shown by the API: keep them,
		// whatever the narrower queries return a moment later.
		var rows []jelou.Conversation
		if a, b, ok := halve(w, p.cfg.MinWindow); ok {
			rows, err = p.fetchHalves(ctx, a, b, maxPages, again)
		} else {
			// As narrow as allowed: take every page (no bound, so this
			// cannot come back here).
			rows, err = p.fetchAll(ctx, w, 0, again)
		}
		if err != nil {
			return nil, err
		}
		return unionRows(tooLarge.Received, rows), nil
	case errors.As(err, &invalid):
		// 422: the request is wrong; the likeliest cause is a window too
		// wide for the server. Never retry it unchanged: split or give up.
		a, b, ok := halve(w, p.cfg.MinWindow)
		if !ok {
			return nil, err
		}
		p.cfg.Logger.Warn("window rejected as invalid, splitting", "window", w.String(), "err", err)
		return p.fetchHalves(ctx, a, b, maxPages, again)
	case err != nil:
		if res != nil {
			return res.Conversations, err // the rows before the failure
		}
		return nil, err
	}
	if !res.Drift.Detected() {
		return res.Conversations, nil
	}
	if again {
		p.obs.Drift(w, res.Drift.String()+"; read again next interval", true)
		return res.Conversations, nil
	}
	// The pages disagreed: rows may have shifted between pages, or the
	// numbers are wrong. Fetch again; if it still drifts, split (fewer
	// rows per query, less room to shift). Every row already received is
	// kept: a row the API showed once is published even if a later query
	// no longer lists it.
	seen, drift := res.Conversations, res.Drift.String()
	res, err = p.fetch.FetchWindowLimit(ctx, w, maxPages)
	if err == nil {
		seen = unionRows(seen, res.Conversations)
		if !res.Drift.Detected() {
			p.obs.Drift(w, drift, true)
			return seen, nil
		}
	}
	if a, b, ok := halve(w, p.cfg.MinWindow); ok {
		p.obs.Drift(w, drift+"; split after it drifted again", true)
		rows, err := p.fetchHalves(ctx, a, b, maxPages, again)
		if err != nil {
			return nil, err
		}
		return unionRows(seen, rows), nil
	}
	if err != nil {
		if res != nil {
			seen = unionRows(seen, res.Conversations)
		}
		return seen, err
	}
	p.obs.Drift(w, res.Drift.String(), false)
	p.cfg.Logger.Warn("pagination drift persists at the smallest window; publishing what was received, the next read of this range will catch what moved",
		"window", w.String(), "drift", res.Drift.String())
	return seen, nil
}

func (p *Poller) fetchHalves(ctx context.Context, a, b jelou.Window, maxPages int, again bool) ([]jelou.Conversation, error) {
	ra, err := p.fetchAll(ctx, a, maxPages, again)
	if err != nil {
		return nil, err
	}
	rb, err := p.fetchAll(ctx, b, maxPages, again)
	if err != nil {
		return nil, err
	}
	return append(ra, rb...), nil
}

// unionRows returns a followed by the rows of b not already in a (by _id and
// state); dedupe would drop them anyway, this keeps batches small. a must be
// the older observation: dedupe judges rows in order, so a conversation
// seen active before and closed after is published as both, where the
// other order would skip active as a regression.
func unionRows(a, b []jelou.Conversation) []jelou.Conversation {
	type key struct {
		id    string
		state jelou.State
	}
	seen := make(map[key]struct{}, len(a))
	for _, r := range a {
		seen[key{r.ID, r.State}] = struct{}{}
	}
	out := append(make([]jelou.Conversation, 0, len(a)+len(b)), a...)
	for _, r := range b {
		if _, ok := seen[key{r.ID, r.State}]; !ok {
			out = append(out, r)
		}
	}
	return out
}

// decide runs every row through dedupe and returns what must be published,
// ordered by start time so that one conversation's states and one
// company's conversations keep their order.
func (p *Poller) decide(rows []jelou.Conversation, w jelou.Window, lane Lane) []Emission {
	observed := p.cfg.Clock.Now().UTC()
	var batch []Emission
	for _, r := range rows {
		switch {
		case r.ID == "":
			p.obs.Rejected(RejectMissingID)
			continue
		case r.State == "":
			p.obs.Rejected(RejectMissingState)
			continue
		}
		res := p.index.Observe(r.ID, r.State, indexTime(r.StartAt, w))
		if !res.Emit {
			p.obs.Skipped(res.Reason.String())
			continue
		}
		if res.Previous == "" && lane.Spec().FirstSeen && !r.StartAt.IsZero() {
			p.firstSeen(lane, r, observed)
		}
		batch = append(batch, Emission{Conversation: r, Previous: res.Previous, Window: w, Observed: observed, Lane: lane})
	}
	sort.SliceStable(batch, func(i, j int) bool {
		return batch[i].Conversation.StartAt.Before(batch[j].Conversation.StartAt)
	})
	return batch
}

// indexTime is the start time under which a row is indexed: its own, unless
// that is missing or absurd for the window it came from (then the window's
// start, so eviction keeps it as long as the window can be queried).
func indexTime(start time.Time, w jelou.Window) time.Time {
	if start.IsZero() || start.Before(w.Start.Add(-24*time.Hour)) || start.After(w.End.Add(24*time.Hour)) {
		return w.Start
	}
	return start
}

// lateWarnEvery bounds how often the late-row warning is logged.
const lateWarnEvery = time.Minute

// firstSeen reports a conversation seen for the first time, and warns
// when the revisit lane found it: its start time had settled (it was read
// POLL_SETTLE after it began), so the row became visible later than that
// and was found only because a revisit happened to cover it.
func (p *Poller) firstSeen(lane Lane, r jelou.Conversation, observed time.Time) {
	p.obs.FirstSeen(lane, observed.Sub(r.StartAt))
	if !lane.Spec().Revisit {
		return
	}
	n := p.lateRows.Add(1)
	now := time.Now().UnixNano()
	last := p.lateWarned.Load()
	if now-last < int64(lateWarnEvery) || !p.lateWarned.CompareAndSwap(last, now) {
		return
	}
	p.cfg.Logger.Warn("a row became visible later than POLL_SETTLE after its start and was found only by a revisit; rows like it in windows without an active conversation are missed: raise POLL_SETTLE",
		"conversation", r.ID, "start", r.StartAt.UTC().Format(time.RFC3339), "seen_after", observed.Sub(r.StartAt).Round(time.Second).String(),
		"settle", p.cfg.Settle.String(), "late_rows_so_far", n)
}
