package poller

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// fetchPlan is how one query reads its windows: the bound on pages before a
// window is split, the narrowest split, and what drift calls for.
type fetchPlan struct {
	src Fetcher
	// maxPages is how many pages a read may take before the window is
	// split; <= 0 takes every page (the window is as narrow as allowed).
	maxPages  int
	minWindow time.Duration
	// again says that the range will be read again within an interval or
	// so: then pagination drift is not healed by a re-fetch or a split now
	// (new rows at the live edge shift pages all the time; the next read
	// catches what moved), only reported.
	again bool
	log   *slog.Logger
}

// fetched is what reading one window yielded, whatever happened: every row
// the API showed (the older observation first, as dedupe needs), the drift
// met on the way, and the error that cut the read short (nil when the rows
// are the whole window).
type fetched struct {
	Rows  []jelou.Conversation
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
// of next not already in r, the drift of both, and next's error.
func (r fetched) then(next fetched) fetched {
	r.Rows = unionRows(r.Rows, next.Rows)
	r.Drift = append(r.Drift, next.Drift...)
	r.Err = next.Err
	return r
}

// fetch reads w, splitting it when it is too large or too wide for one
// query and re-fetching it when its pages drifted (unless f.again).
func (f fetchPlan) fetch(ctx context.Context, w jelou.Window) fetched {
	res, err := f.src.FetchWindowLimit(ctx, w, f.maxPages)
	got := fetched{Rows: res.Conversations, Err: err}
	var invalid *jelou.ValidationError
	switch {
	case errors.Is(err, jelou.ErrTooManyPages):
		// The rows of the probing page were shown by the API: keep them,
		// whatever the narrower reads return a moment later.
		return got.then(f.split(ctx, w))
	case errors.As(err, &invalid):
		// 422: the request is wrong; the likeliest cause is a window too
		// wide for the server. Never retry it unchanged: split or give up.
		a, b, ok := halve(w, f.minWindow)
		if !ok {
			return got
		}
		f.log.Warn("window rejected as invalid, splitting", "window", w.String(), "err", err)
		return got.then(f.halves(ctx, a, b))
	case err != nil || !res.Drift.Detected():
		return got
	case f.again:
		got.Drift = []driftSeen{{Window: w, Detail: res.Drift.String() + "; read again next interval", Healed: true}}
		return got
	}
	return f.heal(ctx, w, got, res.Drift.String())
}

// split reads w in halves or, when it is as narrow as allowed, whole,
// taking every page (no bound, so this cannot come back here).
func (f fetchPlan) split(ctx context.Context, w jelou.Window) fetched {
	if a, b, ok := halve(w, f.minWindow); ok {
		return f.halves(ctx, a, b)
	}
	f.maxPages = 0
	return f.fetch(ctx, w)
}

// heal follows a first read of w (got) whose pages disagreed: rows may have
// shifted between pages, or the numbers are wrong. It fetches w again; if
// that still drifts, it splits w (fewer rows per query, less room to
// shift). Every row already received is kept: a row the API showed once is
// published even if a later query no longer lists it.
func (f fetchPlan) heal(ctx context.Context, w jelou.Window, got fetched, drift string) fetched {
	res, err := f.src.FetchWindowLimit(ctx, w, f.maxPages)
	got.Rows = unionRows(got.Rows, res.Conversations)
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

// halves reads a, then b, the halves of one window, and returns their rows
// one after the other (dedupe absorbs the shared boundary second); it stops
// at the first half that fails.
func (f fetchPlan) halves(ctx context.Context, a, b jelou.Window) fetched {
	first := f.fetch(ctx, a)
	if first.Err != nil {
		return first
	}
	second := f.fetch(ctx, b)
	first.Rows = append(first.Rows, second.Rows...)
	first.Drift = append(first.Drift, second.Drift...)
	first.Err = second.Err
	return first
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
