package poller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// planForward cuts [cursor, edge] into Window-long forward windows. Only
// whole windows are planned unless bounded is set (a backfill, whose last
// window ends at edge); the remainder is left to the live tick.
func planForward(cursor, edge time.Time, window time.Duration, bounded bool) []jelou.Window {
	var plan []jelou.Window
	for s := cursor; ; s = s.Add(window) {
		e := s.Add(window)
		if e.After(edge) {
			if bounded && s.Before(edge) {
				plan = append(plan, jelou.Window{Start: s, End: edge})
			}
			return plan
		}
		if !bounded && !edge.After(e) {
			// The window ending exactly at the edge belongs to the live
			// tick, which also re-polls the settle period.
			return plan
		}
		plan = append(plan, jelou.Window{Start: s, End: e})
	}
}

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
func (p *Poller) processWindow(ctx context.Context, w jelou.Window, kind Kind) error {
	started := time.Now()
	var rows []jelou.Conversation
	published := 0
	err := p.retry(ctx, "fetch", func() error {
		var err error
		rows, err = p.fetchAll(ctx, w, p.cfg.MaxPages)
		if err != nil && len(rows) > 0 && ctx.Err() == nil {
			// The pages received before the failure were shown by the
			// API: publish them now, whatever the retry sees later.
			n, perr := p.publishRows(ctx, rows, w, kind)
			published += n
			if perr != nil {
				return backoff.Permanent(perr)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("fetch window %s: %w", w, err)
	}
	n, err := p.publishRows(ctx, rows, w, kind)
	if err != nil {
		return err
	}
	published += n
	took := time.Since(started)
	p.cfg.Logger.Info("window done", "kind", string(kind), "window", w.String(), "rows", len(rows), "published", published, "took", took.Round(time.Millisecond).String())
	if h := p.cfg.Hooks.WindowDone; h != nil {
		h(kind, w, len(rows), published, took)
	}
	return nil
}

// publishRows runs rows through dedupe, publishes what is new and
// acknowledges it in the index, and returns how many events it published.
// The publish is retried until it succeeds, fails unrecoverably or ctx ends.
func (p *Poller) publishRows(ctx context.Context, rows []jelou.Conversation, w jelou.Window, kind Kind) (int, error) {
	batch := p.decide(rows, w, kind)
	if len(batch) == 0 {
		return 0, nil
	}
	err := p.retry(ctx, "publish", func() error {
		// Not cancelled with ctx: a stop lets the attempt finish (within
		// PublishTimeout) rather than leave a batch half-written.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.PublishTimeout)
		defer cancel()
		return p.pub.Publish(actx, batch)
	})
	if err != nil {
		for _, e := range batch {
			p.index.Release(e.Conversation.ID, e.Conversation.State)
		}
		return 0, fmt.Errorf("publish %d events of window %s: %w", len(batch), w, err)
	}
	for _, e := range batch {
		p.index.Ack(e.Conversation.ID, e.Conversation.State)
	}
	p.changed.Store(true)
	if h := p.cfg.Hooks.Published; h != nil {
		h(batch)
	}
	return len(batch), nil
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
	}, backoff.WithContext(b, ctx), func(err error, _ time.Duration) { p.hookFailure(stage, err) })
}

// fetchAll returns every row of w, splitting it when it is too large or too
// wide for one query and re-fetching it when its pages drifted.
func (p *Poller) fetchAll(ctx context.Context, w jelou.Window, maxPages int) ([]jelou.Conversation, error) {
	res, err := p.fetch.Fetch(ctx, w, maxPages)
	var tooLarge *TooLargeError
	var invalid *jelou.ValidationError
	switch {
	case errors.As(err, &tooLarge):
		// The rows of the probing page were shown by the API: keep them,
		// whatever the narrower queries return a moment later.
		var rows []jelou.Conversation
		if a, b, ok := halve(w, p.cfg.MinWindow); ok {
			rows, err = p.fetchHalves(ctx, a, b, maxPages)
		} else {
			// As narrow as allowed: take every page.
			rows, err = p.fetchAll(ctx, w, 0)
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
		return p.fetchHalves(ctx, a, b, maxPages)
	case err != nil:
		return res.Rows, err // the rows before the failure, if any
	}
	if res.Drift == "" {
		return res.Rows, nil
	}
	// The pages disagreed: rows may have shifted between pages. Fetch again;
	// if it still drifts, split (fewer rows per query, less room to shift).
	// Every row already received is kept: a row the API showed once is
	// published even if a later query no longer lists it.
	seen, drift := res.Rows, res.Drift
	res, err = p.fetch.Fetch(ctx, w, maxPages)
	if err == nil {
		seen = unionRows(seen, res.Rows)
		if res.Drift == "" {
			p.hookDrift(w, drift, true)
			return seen, nil
		}
	}
	if a, b, ok := halve(w, p.cfg.MinWindow); ok {
		p.hookDrift(w, drift+"; split after it drifted again", true)
		rows, err := p.fetchHalves(ctx, a, b, maxPages)
		if err != nil {
			return nil, err
		}
		return unionRows(seen, rows), nil
	}
	if err != nil {
		return nil, err
	}
	p.hookDrift(w, res.Drift, false)
	p.cfg.Logger.Warn("pagination drift persists at the smallest window; publishing what was received, the next poll of this range will catch what moved",
		"window", w.String(), "drift", res.Drift)
	return seen, nil
}

func (p *Poller) fetchHalves(ctx context.Context, a, b jelou.Window, maxPages int) ([]jelou.Conversation, error) {
	ra, err := p.fetchAll(ctx, a, maxPages)
	if err != nil {
		return nil, err
	}
	rb, err := p.fetchAll(ctx, b, maxPages)
	if err != nil {
		return nil, err
	}
	return append(ra, rb...), nil
}

func (p *Poller) hookDrift(w jelou.Window, detail string, resolved bool) {
	if h := p.cfg.Hooks.Drift; h != nil {
		h(w, detail, resolved)
	}
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

// Skip reasons for rows that are not published, besides dedupe's own.
const (
	SkipMissingID    = "missing_id"
	SkipMissingState = "missing_state"
)

// decide runs every row through dedupe and returns what must be published,
// ordered by start time so that one conversation's states and one
// company's conversations keep their order.
func (p *Poller) decide(rows []jelou.Conversation, w jelou.Window, kind Kind) []Emission {
	observed := p.cfg.Clock.Now().UTC()
	var batch []Emission
	for _, r := range rows {
		switch {
		case r.ID == "":
			p.skip(SkipMissingID)
			continue
		case r.State == "":
			p.skip(SkipMissingState)
			continue
		}
		res := p.index.Observe(r.ID, r.State, indexTime(r.StartAt, w))
		if !res.Emit {
			p.skip(res.Reason.String())
			continue
		}
		batch = append(batch, Emission{Conversation: r, Previous: res.Previous, Window: w, Observed: observed, Kind: kind})
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

func (p *Poller) skip(reason string) {
	if h := p.cfg.Hooks.Skipped; h != nil {
		h(reason)
	}
}
