package poller

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// narrowPagesFactor is how many times MaxPages a read of a window as narrow
// as allowed may take before it stops, truncated.
const narrowPagesFactor = 10

// newFetchPlan is the plan of the poller's reads of one query.
func (p *Poller) newFetchPlan(again bool) fetchPlan {
	return fetchPlan{
		src: p.fetch, maxPages: p.cfg.MaxPages, narrowCap: p.cfg.MaxPages * narrowPagesFactor, clientPageSize: p.cfg.PageSize,
		minWindow: p.cfg.MinWindow, again: again, log: p.cfg.Logger, obs: p.obs, mem: p.cfg.Memory,
	}
}

// fetchPlan is how one query reads its windows: the bound on pages before a
// window is split, the narrowest split, what drift calls for, and where the
// rows go as they arrive.
type fetchPlan struct {
	src Fetcher
	// maxPages is how many pages a read may take before the window is
	// split; <= 0 at the narrowest window, where a read takes up to
	// narrowCap pages, then stops, truncated.
	maxPages  int
	narrowCap int
	minWindow time.Duration
	// pageSize is the rows a page asks for: the client's when 0, fewer
	// after a body too large at the narrowest window.
	pageSize int
	// clientPageSize is the client's page size, where shrinking starts.
	clientPageSize int
	// again says that the range will be read again within an interval or
	// so: then pagination drift is not healed by a re-fetch or a split now
	// (new rows at the live edge shift pages all the time; the next read
	// catches what moved), only reported.
	again bool
	log   *slog.Logger
	// obs, when set, is told of truncated reads.
	obs Observer
	// emit receives the rows in the order the API showed them (the older
	// observation first, as dedupe needs), a bounded batch at a time,
	// while the window is read; an error from it stops the read.
	emit func([]jelou.Conversation) error
	// mem bounds the rows a read holds before it hands them to emit; nil:
	// a read holds its whole window.
	mem *MemoryBudget
}

// fetched is what reading one window yielded, whatever happened: how many
// rows the API showed (all handed to emit), the drift met on the way, and
// the error that cut the read short (nil when the rows are the whole
// window).
type fetched struct {
	Rows  int
	Drift []driftSeen
	Err   error
}

// driftSeen is pagination drift met in one window: what disagreed, and
// whether it was healed (by a re-fetch or a split, or by the next read of a
// range read again) or persisted at the smallest window.
type driftSeen struct {
	Window jelou.Window
	Detail string
	Healed bool
}

// then returns r followed by next, a later read of the same range: the rows
// of both, the drift of both, and next's error.
func (r fetched) then(next fetched) fetched {
	r.Rows += next.Rows
	r.Drift = append(r.Drift, next.Drift...)
	r.Err = next.Err
	return r
}

// rowKey identifies an observation: a conversation in a state.
type rowKey struct {
	id    string
	state jelou.State
}

// read queries w once, handing every row to emit (but those whose key is
// in skip; the keys of the others go into keep when it is not nil), with
// at most maxPages pages, or when maxPages <= 0 (the window is as narrow
// as allowed) at most narrowCap whatever the pagination promises.
func (f fetchPlan) read(ctx context.Context, w jelou.Window, skip, keep map[rowKey]struct{}) (*jelou.WindowResult, int, error) {
	b := jelou.Bounds{MaxPages: f.maxPages, PageSize: f.pageSize}
	if f.maxPages <= 0 {
		b.PageCap = f.narrowCap
	}
	shown := 0
	var emitErr error
	b.Flush = func(rows []jelou.Conversation) error {
		shown += len(rows)
		out := rows[:0:0]
		for _, r := range rows {
			k := rowKey{r.ID, r.State}
			if _, ok := skip[k]; ok {
				continue
			}
			if keep != nil {
				keep[k] = struct{}{}
			}
			out = append(out, r)
		}
		if len(out) == 0 || f.emit == nil {
			return nil
		}
		emitErr = f.emit(out)
		return emitErr
	}
	if f.mem != nil {
		b.MaxBytes, b.Rows = f.mem.window, f.mem.rows
	}
	res, err := f.src.FetchWindowBounded(ctx, w, b)
	if len(res.Conversations) > 0 { // a Fetcher that ignores Flush
		if ferr := b.Flush(res.Conversations); err == nil {
			err = ferr
		}
	}
	if emitErr != nil {
		err = &emitError{err: emitErr}
	}
	return res, shown, err
}

// emitError is an error of emit (a publish that failed for good), which
// no re-read can cure.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// fetch reads w, splitting it when it is too large or too wide for one
// query and re-fetching it when its pages drifted (unless f.again). Rows
// whose key is in skip (handed over by an earlier read of w) are not
// handed over again.
func (f fetchPlan) fetch(ctx context.Context, w jelou.Window, skip map[rowKey]struct{}) fetched {
	first := make(map[rowKey]struct{})
	res, n, err := f.read(ctx, w, skip, first)
	got := fetched{Rows: n, Err: err}
	var (
		invalid  *jelou.ValidationError
		tooLarge *jelou.BodyTooLargeError
		tooMany  *jelou.TooManyPagesError
		emitted  *emitError
	)
	switch {
	case errors.As(err, &emitted):
		return got
	case errors.As(err, &tooMany) && tooMany.Truncated:
		// The narrowest window still had pages after the cap: its rows so
		// far are published; the window is not done, and is read again.
		f.log.Warn("window truncated: pages did not end within the cap; published what was read, will read it again",
			"window", w.String(), "pages", tooMany.Max)
		if f.obs != nil {
			f.obs.Truncated(w, tooMany.Max)
		}
		return got
	case errors.Is(err, jelou.ErrTooManyPages):
		// The rows of the probing page were shown by the API: keep them,
		// whatever the narrower reads return a moment later.
		return got.then(f.split(ctx, w, first))
	case errors.As(err, &invalid), errors.As(err, &tooLarge):
		// 422: the request is wrong; the likeliest cause is a window too
		// wide for the server. A body too large: fewer rows a query. Never
		// retry it unchanged: split, ask for smaller pages, or give up.
		a, b, ok := halve(w, f.minWindow)
		if !ok {
			if tooLarge == nil {
				return got
			}
			return got.then(f.shrink(ctx, w, first, err))
		}
		f.log.Warn("window rejected, splitting", "window", w.String(), "err", err)
		return got.then(f.halves(ctx, a, b))
	case err != nil || !res.Drift.Detected():
		return got
	case f.again:
		got.Drift = []driftSeen{{Window: w, Detail: res.Drift.String() + "; read again next interval", Healed: true}}
		return got
	}
	return f.heal(ctx, w, got, first, res.Drift.String())
}

// shrink reads w, as narrow as allowed, again with half as many rows a page
// as the read whose body was too large (err), skipping the rows of that
// read (their keys are in first); at one row a page it gives up with err.
func (f fetchPlan) shrink(ctx context.Context, w jelou.Window, first map[rowKey]struct{}, err error) fetched {
	size := f.pageSize
	if size <= 0 {
		size = f.clientPageSize
	}
	if size <= 1 {
		return fetched{Err: err}
	}
	f.pageSize = size / 2
	f.log.Warn("response body too large at the smallest window, asking for smaller pages", "window", w.String(), "page_size", f.pageSize, "err", err)
	return f.fetch(ctx, w, first)
}

// split reads w in halves or, when it is as narrow as allowed, whole,
// with the narrowest window's hard cap on pages instead of the split bound
// (so this cannot come back here), skipping the rows of the first read
// (their keys are in first).
func (f fetchPlan) split(ctx context.Context, w jelou.Window, first map[rowKey]struct{}) fetched {
	if a, b, ok := halve(w, f.minWindow); ok {
		return f.halves(ctx, a, b)
	}
	f.maxPages = 0
	return f.fetch(ctx, w, first)
}

// heal follows a first read of w (got, whose rows have the keys in first)
// whose pages disagreed: rows may have shifted between pages, or the
// numbers are wrong. It fetches w again; if that still drifts, it splits w
// (fewer rows per query, less room to shift). Every row received is
// published: a row the API showed once is published even if a later query
// no longer lists it; the re-read hands over only rows the first did not.
func (f fetchPlan) heal(ctx context.Context, w jelou.Window, got fetched, first map[rowKey]struct{}, drift string) fetched {
	res, n, err := f.read(ctx, w, first, nil)
	got.Rows += n
	if _, emitted := errors.AsType[*emitError](err); emitted {
		got.Err = err
		return got
	}
	if err == nil && !res.Drift.Detected() {
		got.Drift = append(got.Drift, driftSeen{Window: w, Detail: drift, Healed: true})
		return got
	}
	if a, b, ok := halve(w, f.minWindow); ok {
		got.Drift = append(got.Drift, driftSeen{Window: w, Detail: drift + "; split after it drifted again", Healed: true})
		return got.then(f.halves(ctx, a, b))
	}
	if err != nil {
		got.Err = err
		return got
	}
	got.Drift = append(got.Drift, driftSeen{Window: w, Detail: res.Drift.String()})
	return got
}

// halves reads a, then b, the halves of one window, handing their rows
// over one after the other (dedupe absorbs the shared boundary second); it
// stops at the first half that fails.
func (f fetchPlan) halves(ctx context.Context, a, b jelou.Window) fetched {
	first := f.fetch(ctx, a, nil)
	if first.Err != nil {
		return first
	}
	return first.then(f.fetch(ctx, b, nil))
}
