package jelou

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// maxListedDuplicates bounds Drift.DuplicateIDs.
const maxListedDuplicates = 100

// Pages returns an iterator over the pages of window w, from page 1, each
// fetched with FetchPage. It yields (page, nil) per page, or (nil, err) once
// and stops. Breaking out of the loop stops fetching.
//
// It stops after the page the server's pagination says is the last
// (totalPages, else ceil(total/limit) with the server's own limit), after
// an empty page, or, when a response has no pagination, after a page shorter
// than the requested limit. A window needing more than Config.MaxPages pages
// yields the pages fetched (only the first when its pagination already
// promises too many), then a *TooManyPagesError wrapping ErrTooManyPages.
func (c *Client) Pages(ctx context.Context, w Window) iter.Seq2[*Page, error] {
	return c.pages(ctx, w, c.cfg.MaxPages, 0, c.cfg.PageSize)
}

// TooManyPagesError reports a window that needs more pages than allowed. It
// wraps ErrTooManyPages.
type TooManyPagesError struct {
	// Window is the window asked for.
	Window Window
	// Total and Pages are what the first page's pagination promised; zero
	// when the bound was reached without a promise.
	Total, Pages int
	// Max is the bound that was exceeded.
	Max int
	// Truncated is true when Max was Bounds.PageCap, a hard cap: the
	// window's first Max pages were read and the rest was not.
	Truncated bool
}

func (e *TooManyPagesError) Error() string {
	if e.Truncated {
		return fmt.Sprintf("fetch %s: truncated after %d pages, the most one query may take", e.Window, e.Max)
	}
	if e.Pages > 0 {
		return fmt.Sprintf("fetch %s: %d rows in %d pages, more than %d pages", e.Window, e.Total, e.Pages, e.Max)
	}
	return fmt.Sprintf("fetch %s: more than %d pages", e.Window, e.Max)
}

// Unwrap returns ErrTooManyPages.
func (e *TooManyPagesError) Unwrap() error { return ErrTooManyPages }

// pages is Pages bounded by maxPages; maxPages <= 0 means no such bound.
// When the first page's pagination already promises more than maxPages
// pages, it yields that page, then a *TooManyPagesError instead of fetching
// the rest. A pagination that contradicts itself promises nothing: paging
// then goes on until the rows run out (an empty page) or the bound. pageCap,
// when > 0, is a hard bound whatever the pagination promises: after pageCap
// pages it yields a *TooManyPagesError with Truncated set. limit is the
// page size asked for.
func (c *Client) pages(ctx context.Context, w Window, maxPages, pageCap, limit int) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		for n := 1; ; n++ {
			if maxPages > 0 && n > maxPages {
				yield(nil, &TooManyPagesError{Window: w, Max: maxPages})
				return
			}
			if pageCap > 0 && n > pageCap {
				yield(nil, &TooManyPagesError{Window: w, Max: pageCap, Truncated: true})
				return
			}
			p, err := c.fetchPage(ctx, w, n, limit)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) {
				return
			}
			trusted := p.Pagination.Present && !p.Pagination.Contradictory(limit)
			if n == 1 && trusted && maxPages > 0 {
				if promised := p.Pagination.PageCount(limit); promised > maxPages {
					yield(nil, &TooManyPagesError{Window: w, Total: p.Pagination.Total, Pages: promised, Max: maxPages})
					return
				}
			}
			if !morePages(p, n, limit) {
				return
			}
		}
	}
}

// morePages decides whether page n, just received, is followed by another.
func morePages(p *Page, n, limit int) bool {
	rows := len(p.Conversations)
	switch {
	case rows == 0:
		return false
	case !p.Pagination.Present:
		return rows >= limit
	case p.Pagination.Contradictory(limit):
		return true // until the rows run out
	default:
		return n < p.Pagination.PageCount(limit)
	}
}

// WindowResult is every row of one window, with what was odd about paging.
type WindowResult struct {
	Window Window
	// Conversations are all rows of all pages, in the order received, with
	// duplicates kept (the dedupe stage absorbs them).
	Conversations []Conversation
	// Pages is the number of pages fetched.
	Pages int
	// Drift reports disagreements between what the server promised and
	// what arrived.
	Drift Drift
}

// Drift reports how the pages of one window disagreed with one another or
// with the rows received. The API pages a live, unsorted result set, so rows
// can appear, change or move between two pages; this package reports that
// and never hides it. The caller decides: a poller should re-fetch the
// window, or split it into smaller windows, while Detected is true.
type Drift struct {
	// FirstTotal and LastTotal are pagination.total of the first and last
	// page that had one.
	FirstTotal, LastTotal int
	// TotalChanged is true when pagination.total differed between pages.
	TotalChanged bool
	// Received is the number of rows received, duplicates included.
	Received int
	// PagesFetched is the number of pages fetched.
	PagesFetched int
	// PagesExpected is the page count promised by the last page's
	// pagination (at least 1: an empty window still takes one request).
	PagesExpected int
	// Duplicates counts rows whose _id was already received in this window.
	Duplicates int
	// DuplicateIDs lists those ids, sorted, at most 100 of them.
	DuplicateIDs []string
	// PageMismatches counts pages whose pagination.page differed from the
	// page asked for (a missing pagination.page is not a mismatch).
	PageMismatches int
	// PaginationMissing is true when some page had no usable pagination.
	PaginationMissing bool
	// Contradictory counts pages whose pagination disagreed with itself
	// (see Pagination.Contradictory); their promises were not trusted.
	Contradictory int
	// RepeatedPage is true when paging stopped at a page that brought no
	// _id not already received: a server repeating itself, which would
	// otherwise be paged forever.
	RepeatedPage bool
}

// Detected reports whether anything disagreed: the total changed, rows
// received differ from the last total, pages fetched differ from pages
// promised, an _id repeated, a page number mismatched, pagination was
// missing or contradicted itself, or a page repeated.
func (d Drift) Detected() bool {
	return d.TotalChanged || d.Received != d.LastTotal || d.PagesFetched != d.PagesExpected ||
		d.Duplicates > 0 || d.PageMismatches > 0 || d.PaginationMissing || d.Contradictory > 0 || d.RepeatedPage
}

// String lists what drifted, or "none".
func (d Drift) String() string {
	var parts []string
	if d.TotalChanged {
		parts = append(parts, fmt.Sprintf("total changed from %d to %d", d.FirstTotal, d.LastTotal))
	}
	if d.Received != d.LastTotal {
		parts = append(parts, fmt.Sprintf("received %d rows, total says %d", d.Received, d.LastTotal))
	}
	if d.PagesFetched != d.PagesExpected {
		parts = append(parts, fmt.Sprintf("fetched %d pages, pagination says %d", d.PagesFetched, d.PagesExpected))
	}
	if d.Duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicate _id rows", d.Duplicates))
	}
	if d.PageMismatches > 0 {
		parts = append(parts, fmt.Sprintf("%d pages answered for another page number", d.PageMismatches))
	}
	if d.PaginationMissing {
		parts = append(parts, "pagination missing")
	}
	if d.Contradictory > 0 {
		parts = append(parts, fmt.Sprintf("%d pages whose pagination contradicts itself", d.Contradictory))
	}
	if d.RepeatedPage {
		parts = append(parts, "a page brought no new row; stopped paging")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// FetchWindow fetches every page of window w (see Pages), at most
// Config.MaxPages of them, and returns all rows with a Drift report. It
// fails if any page fails; partial results are not returned, since a window
// is only useful whole. A nil error with Drift.Detected true means the rows
// are what the server sent but may be incomplete or overlapping: re-fetch
// or split the window.
func (c *Client) FetchWindow(ctx context.Context, w Window) (*WindowResult, error) {
	res, err := c.FetchWindowLimit(ctx, w, c.cfg.MaxPages)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// FetchWindowLimit is FetchWindow with its own bound on pages, and with a
// result whatever happened: FetchWindowBounded with Bounds{MaxPages:
// maxPages}. When maxPages > 0 and the first page promises more than
// maxPages pages, it stops with a *TooManyPagesError after that one request,
// so that the caller can split the window cheaply. maxPages <= 0 means no
// bound: it pages until the rows run out, whatever the pagination promised,
// and stops at a page that brings no new _id (reported as
// Drift.RepeatedPage), so a server whose numbers are wrong is never paged
// forever.
//
// The result is never nil. Unlike FetchWindow, when it stops early (a page
// failed, or the window needs too many pages) it returns, along with the
// error, the rows and Drift of the pages received before it: the API did
// show those rows (for a window too large, the first page's), and a caller
// may publish them before it splits the window or tries it again.
func (c *Client) FetchWindowLimit(ctx context.Context, w Window, maxPages int) (*WindowResult, error) {
	return c.FetchWindowBounded(ctx, w, Bounds{MaxPages: maxPages})
}

// Reserver is a budget of bytes shared by concurrent users: Acquire waits
// until n bytes are free (or ctx ends) and takes them, Release gives them
// back. *semaphore.Weighted-like types implement it.
type Reserver interface {
	Acquire(ctx context.Context, n int64) error
	Release(n int64)
}

// RowBudget is the Reserver that the rows held between a page's arrival
// and their hand-over are taken from; TryAcquire takes n bytes only if
// they are free now.
type RowBudget interface {
	Reserver
	TryAcquire(n int64) bool
}

// Bounds bound what one read of a window may cost.
type Bounds struct {
	// MaxPages is how many pages the window may need before the read stops
	// with a *TooManyPagesError (after the first page when its pagination
	// already promises more). <= 0: no such bound.
	MaxPages int
	// PageSize is the rows a page asked for (the request's limit), in place
	// of Config.PageSize when > 0: fewer make smaller bodies.
	PageSize int
	// PageCap is a hard bound on the pages of the read, whatever the
	// pagination promises; reaching it stops the read with a
	// *TooManyPagesError whose Truncated is set. <= 0: none.
	PageCap int
	// Flush, when set, receives the rows in order as the read goes: every
	// time the rows held reach MaxBytes, when Rows has no room for the
	// next page, and at the end of the read (also when it failed). The
	// result's Conversations are then empty: every row went to Flush. An
	// error from Flush stops the read and is returned.
	Flush func([]Conversation) error
	// MaxBytes is how many bytes of rows (see RowBytes) are held before
	// they are flushed. <= 0: no bound. Used only with Flush.
	MaxBytes int64
	// Rows, when set, is the budget every page's rows are taken from
	// before they are held, given back once flushed. A read holding rows
	// flushes them rather than wait for room. Used only with Flush.
	Rows RowBudget
}

// rowOverhead approximates what a decoded row costs beyond its raw bytes:
// the Conversation struct and its strings.
const rowOverhead = 512

// RowBytes is what rows are counted as holding in memory: their raw bytes
// and a fixed overhead per row.
func RowBytes(rows []Conversation) int64 {
	n := int64(0)
	for _, r := range rows {
		n += int64(len(r.Raw)) + rowOverhead
	}
	return n
}

// FetchWindowBounded is FetchWindowLimit with every bound of b: pages, and
// with b.Flush the rows held. With b.Flush set the rows are handed over in
// order as they arrive (see Bounds), so a read never holds more than about
// b.MaxBytes, and one page, whatever the server sends.
func (c *Client) FetchWindowBounded(ctx context.Context, w Window, b Bounds) (*WindowResult, error) {
	res := &WindowResult{Window: w}
	d := &res.Drift
	seen := make(map[string]struct{})
	dups := make(map[string]struct{})
	sawTotal := false
	held := int64(0)
	flush := func() error {
		if b.Flush == nil {
			return nil
		}
		rows := res.Conversations
		res.Conversations = nil
		var err error
		if len(rows) > 0 {
			err = b.Flush(rows)
		}
		if b.Rows != nil && held > 0 {
			b.Rows.Release(held)
		}
		held = 0
		return err
	}
	var err error
	limit := c.cfg.PageSize
	if b.PageSize > 0 {
		limit = b.PageSize
	}
	for p, perr := range c.pages(ctx, w, b.MaxPages, b.PageCap, limit) {
		if perr != nil {
			err = perr
			break
		}
		res.Pages++
		pg := p.Pagination
		if pg.Present {
			if !sawTotal {
				d.FirstTotal = pg.Total
				sawTotal = true
			} else if pg.Total != d.LastTotal {
				d.TotalChanged = true
			}
			d.LastTotal = pg.Total
			d.PagesExpected = max(pg.PageCount(limit), 1)
			if pg.Contradictory(limit) {
				d.Contradictory++
			}
		} else {
			d.PaginationMissing = true
		}
		if pg.Page != 0 && pg.Page != p.Number {
			d.PageMismatches++
		}
		fresh := 0
		for _, conv := range p.Conversations {
			if conv.ID == "" {
				fresh++ // unidentifiable: cannot be judged a repeat
				continue
			}
			if _, ok := seen[conv.ID]; ok {
				d.Duplicates++
				dups[conv.ID] = struct{}{}
				continue
			}
			seen[conv.ID] = struct{}{}
			fresh++
		}
		if b.Flush != nil {
			if err = hold(ctx, w, b, &held, RowBytes(p.Conversations), flush); err != nil {
				break
			}
		}
		res.Conversations = append(res.Conversations, p.Conversations...)
		d.Received += len(p.Conversations)
		if p.Number > 1 && len(p.Conversations) > 0 && fresh == 0 {
			d.RepeatedPage = true
			break
		}
		if b.Flush != nil && b.MaxBytes > 0 && held >= b.MaxBytes {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if ferr := flush(); err == nil {
		err = ferr
	}
	d.PagesFetched = res.Pages
	if !sawTotal {
		d.PagesExpected = max(d.PagesExpected, 1)
	}
	for id := range dups {
		d.DuplicateIDs = append(d.DuplicateIDs, id)
	}
	slices.Sort(d.DuplicateIDs)
	if len(d.DuplicateIDs) > maxListedDuplicates {
		d.DuplicateIDs = d.DuplicateIDs[:maxListedDuplicates]
	}
	return res, err
}

// hold takes n bytes from b.Rows for a page about to be held, adding them
// to *held: at once when they are free, else, after flushing what is held
// (never wait while holding), by waiting for them.
func hold(ctx context.Context, w Window, b Bounds, held *int64, n int64, flush func() error) error {
	if b.Rows == nil {
		*held += n
		return nil
	}
	if *held > 0 && b.Rows.TryAcquire(n) {
		*held += n
		return nil
	}
	if err := flush(); err != nil {
		return err
	}
	if err := b.Rows.Acquire(ctx, n); err != nil {
		return fmt.Errorf("fetch %s: wait for memory: %w", w, err)
	}
	*held = n
	return nil
}
