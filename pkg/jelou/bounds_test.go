package jelou

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// endlessServer answers every page with limit rows never sent before and
// a pagination promising five million rows.
func endlessServer(limit int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		_, _ = w.Write([]byte(body(rows("e", (n-1)*limit, limit), `{"limit":10,"total":5000000,"totalPages":500000}`)))
	}
}

// countingBudget is a RowBudget of size bytes that records the most it
// ever lent at once and checks that nothing waits while its caller holds.
type countingBudget struct {
	mu         sync.Mutex
	size, used int64
	peak       int64
	waits      int
}

func (b *countingBudget) TryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.size {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

func (b *countingBudget) Acquire(_ context.Context, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waits++
	if b.used != 0 {
		return errors.New("Acquire called while rows are still held: it could wait forever")
	}
	b.used += min(n, b.size)
	b.peak = max(b.peak, b.used)
	return nil
}

func (b *countingBudget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= min(n, b.size)
}

// TestFetchWindowBoundedCapsPagesWhateverThePaginationPromises: a hard
// PageCap stops a server whose pages never end and never repeat, after
// PageCap requests, with a truncated *TooManyPagesError; the rows read go
// to Flush.
func TestFetchWindowBoundedCapsPagesWhateverThePaginationPromises(t *testing.T) {
	var calls atomic.Int32
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		endlessServer(10)(w, r)
	}), func(c *Config) { c.PageSize = 10 })
	flushed := 0
	res, err := c.FetchWindowBounded(context.Background(), testWindow, Bounds{PageCap: 7, Flush: func(rs []Conversation) error {
		flushed += len(rs)
		return nil
	}})
	var tm *TooManyPagesError
	if !errors.As(err, &tm) || !tm.Truncated || tm.Max != 7 || !errors.Is(err, ErrTooManyPages) {
		t.Fatalf("err = %v, want a truncated *TooManyPagesError after 7 pages", err)
	}
	if calls.Load() != 7 || flushed != 70 || len(res.Conversations) != 0 || res.Drift.Received != 70 {
		t.Fatalf("%d requests, %d rows flushed, %d kept, %d received; want 7, 70, 0, 70", calls.Load(), flushed, len(res.Conversations), res.Drift.Received)
	}
}

// TestFetchWindowBoundedFlushesInBoundedBatches: with MaxBytes and a Rows
// budget, the rows are handed over in order as they arrive, no batch holds
// more than MaxBytes and one page, the budget is never exceeded nor waited
// on while rows are held, and all of it is given back at the end.
func TestFetchWindowBoundedFlushesInBoundedBatches(t *testing.T) {
	page := RowBytes(make([]Conversation, 10)) + 10*int64(len(rows("e", 0, 1)[0])) // about one page
	tests := []struct {
		name     string
		maxBytes int64
		budget   int64
	}{
		{"batches of three pages", 3 * page, 100 * page},
		{"a budget of two pages", 100 * page, 2 * page},
		{"a budget smaller than a page", 100 * page, page / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := setup(t, endlessServer(10), func(c *Config) { c.PageSize = 10 })
			rb := &countingBudget{size: tt.budget}
			var got []string
			var batches []int64
			_, err := c.FetchWindowBounded(context.Background(), testWindow, Bounds{PageCap: 20, MaxBytes: tt.maxBytes, Rows: rb,
				Flush: func(rs []Conversation) error {
					batches = append(batches, RowBytes(rs))
					for _, r := range rs {
						got = append(got, r.ID)
					}
					return nil
				}})
			if !errors.Is(err, ErrTooManyPages) {
				t.Fatalf("err = %v, want the page cap", err)
			}
			if len(got) != 200 || got[0] != "e0" || got[199] != "e199" || len(batches) < 2 {
				t.Fatalf("%d rows in %d batches (first %v), want 200 in order, in several batches", len(got), len(batches), got[:1])
			}
			for i, id := range got {
				if id != "e"+strconv.Itoa(i) {
					t.Fatalf("row %d is %s: out of order", i, id)
				}
			}
			for _, b := range batches {
				if b > tt.maxBytes+page {
					t.Errorf("a batch of %d bytes, more than MaxBytes %d and a page", b, tt.maxBytes)
				}
			}
			if rb.peak > tt.budget || rb.used != 0 {
				t.Errorf("budget lent %d at most (size %d), %d still lent at the end", rb.peak, tt.budget, rb.used)
			}
		})
	}
}

// TestFetchWindowBoundedStopsWhenFlushFails: an error from Flush ends the
// read with that error.
func TestFetchWindowBoundedStopsWhenFlushFails(t *testing.T) {
	var calls atomic.Int32
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		endlessServer(10)(w, r)
	}), func(c *Config) { c.PageSize = 10 })
	boom := errors.New("publish failed")
	_, err := c.FetchWindowBounded(context.Background(), testWindow, Bounds{PageCap: 50, MaxBytes: 1, Flush: func([]Conversation) error { return boom }})
	if !errors.Is(err, boom) || calls.Load() != 1 {
		t.Fatalf("err = %v after %d requests, want the flush error after 1", err, calls.Load())
	}
}

// recordingReserver is a Reserver that records what it was asked for.
type recordingReserver struct {
	mu                 sync.Mutex
	acquired, released []int64
}

func (r *recordingReserver) Acquire(_ context.Context, n int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acquired = append(r.acquired, n)
	return nil
}

func (r *recordingReserver) Release(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, n)
}

// TestBodyBudgetIsTakenBeforeTheBodyIsRead: a successful response's body
// takes its Content-Length from Config.BodyBudget, and gives it back.
func TestBodyBudgetIsTakenBeforeTheBodyIsRead(t *testing.T) {
	b := body(rows("c", 0, 3), `{"limit":10,"total":3,"offset":0,"totalPages":1}`)
	rr := &recordingReserver{}
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write([]byte(b))
	}), func(c *Config) { c.PageSize = 10; c.BodyBudget = rr })
	if _, err := c.FetchPage(context.Background(), testWindow, 1); err != nil {
		t.Fatal(err)
	}
	want := []int64{int64(len(b))}
	if len(rr.acquired) != 1 || rr.acquired[0] != want[0] || len(rr.released) != 1 || rr.released[0] != want[0] {
		t.Fatalf("acquired %v, released %v; want %v each", rr.acquired, rr.released, want)
	}
}

// TestFetchWindowBoundedAsksForItsPageSize: Bounds.PageSize is the limit
// every request of the read asks for, and the page count follows it.
func TestFetchWindowBoundedAsksForItsPageSize(t *testing.T) {
	var limits []string
	var mu sync.Mutex
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		limits = append(limits, r.URL.Query().Get("limit"))
		mu.Unlock()
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		from := (n - 1) * 4
		_, _ = w.Write([]byte(body(rows("c", from, max(0, min(4, 10-from))), `{"limit":4,"total":10,"totalPages":3}`)))
	}), func(c *Config) { c.PageSize = 100 })
	res, err := c.FetchWindowBounded(context.Background(), testWindow, Bounds{PageSize: 4})
	if err != nil || len(res.Conversations) != 10 || res.Drift.Detected() {
		t.Fatalf("%d rows, %v, drift %s; want 10 rows without drift", len(res.Conversations), err, res.Drift)
	}
	if len(limits) != 3 || limits[0] != "4" || limits[2] != "4" {
		t.Fatalf("limits asked %v, want 4 three times", limits)
	}
}

// TestPageOfTooManyRowsIsRefused: a page of far more rows than asked for
// is refused before its rows are decoded, with a *DecodeError.
func TestPageOfTooManyRowsIsRefused(t *testing.T) {
	tests := []struct {
		name    string
		rows    int
		wantErr bool
	}{
		{"as asked", 10, false},
		{"one duplicate more", 11, false},
		{"twice and some", maxPageRows(10), false},
		{"ten thousand tiny rows", 10000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := `{"results":[{}` + strings.Repeat(`,{}`, tt.rows-1) + `],"pagination":{"limit":10,"total":10,"totalPages":1}}`
			c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(b))
			}), func(c *Config) { c.PageSize = 10 })
			p, err := c.FetchPage(context.Background(), testWindow, 1)
			var de *DecodeError
			if got := errors.As(err, &de); got != tt.wantErr {
				t.Fatalf("FetchPage = %v; want a *DecodeError: %v", err, tt.wantErr)
			}
			if !tt.wantErr && len(p.Conversations) != tt.rows {
				t.Fatalf("%d rows, want %d", len(p.Conversations), tt.rows)
			}
		})
	}
}
