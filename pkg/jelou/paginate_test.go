package jelou

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rows returns n result rows with ids prefix+from, prefix+(from+1), ...
func rows(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"_id":"%s%d","state":"active","startAt":"2025-01-01 00:00:00"}`, prefix, from+i)
	}
	return out
}

// body builds a response from rows and a pagination object ("" leaves it out).
func body(rs []string, pagination string) string {
	b := `{"message":["ok"],"status":"success","results":[` + strings.Join(rs, ",") + `]`
	if pagination != "" {
		b += `,"pagination":` + pagination
	}
	return b + "}"
}

// pagedServer serves a window of total rows in pages of limit, as the
// vendor's sample does (no "page" in pagination).
func pagedServer(total, limit int) func(n int) string {
	return func(n int) string {
		from := (n - 1) * limit
		k := max(0, min(limit, total-from))
		pages := (total + limit - 1) / limit
		return body(rows("c", from, k), fmt.Sprintf(`{"limit":%d,"total":%d,"offset":%d,"totalPages":%d}`, limit, total, from, pages))
	}
}

func TestFetchWindowPagination(t *testing.T) {
	tests := []struct {
		name      string
		pageSize  int
		maxPages  int
		page      func(n int) string
		wantCalls int
		wantRows  int
		wantDrift Drift
		wantErr   error
	}{
		{
			name: "three pages, no page field", pageSize: 10, page: pagedServer(25, 10),
			wantCalls: 3, wantRows: 25,
			wantDrift: Drift{FirstTotal: 25, LastTotal: 25, Received: 25, PagesFetched: 3, PagesExpected: 3},
		},
		{
			name: "empty window", pageSize: 10, page: pagedServer(0, 10),
			wantCalls: 1, wantRows: 0,
			wantDrift: Drift{PagesFetched: 1, PagesExpected: 1},
		},
		{
			name: "no totalPages: ceil(total/limit)", pageSize: 10,
			page: func(n int) string {
				from := (n - 1) * 10
				return body(rows("c", from, min(10, 21-from)), fmt.Sprintf(`{"limit":10,"page":%d,"total":21,"offset":%d}`, n, from))
			},
			wantCalls: 3, wantRows: 21,
			wantDrift: Drift{FirstTotal: 21, LastTotal: 21, Received: 21, PagesFetched: 3, PagesExpected: 3},
		},
		{
			name: "server caps the page size and says so", pageSize: 10,
			page: func(n int) string {
				from := (n - 1) * 4
				return body(rows("c", from, min(4, 10-from)), fmt.Sprintf(`{"limit":4,"total":10,"offset":%d}`, from))
			},
			wantCalls: 3, wantRows: 10,
			wantDrift: Drift{FirstTotal: 10, LastTotal: 10, Received: 10, PagesFetched: 3, PagesExpected: 3},
		},
		{
			name: "short pages the pagination does not admit", pageSize: 10,
			page: func(n int) string {
				// Claims 10 per page over 2 pages but sends 7.
				return body(rows("c", (n-1)*10, 7), `{"limit":10,"total":20,"offset":0,"totalPages":2}`)
			},
			wantCalls: 2, wantRows: 14,
			wantDrift: Drift{FirstTotal: 20, LastTotal: 20, Received: 14, PagesFetched: 2, PagesExpected: 2},
		},
		{
			name: "total grows while paging: rows shift", pageSize: 10,
			page: func(n int) string {
				if n == 1 {
					return body(rows("c", 0, 10), `{"limit":10,"total":20,"offset":0,"totalPages":2}`)
				}
				// Two new rows arrived first in the server's order: page 2
				// repeats c8, c9 and the window now has 22 rows.
				if n == 2 {
					return body(rows("c", 8, 10), `{"limit":10,"total":22,"offset":10,"totalPages":3}`)
				}
				return body(rows("c", 18, 2), `{"limit":10,"total":22,"offset":20,"totalPages":3}`)
			},
			wantCalls: 3, wantRows: 22, // two new rows never seen, two seen twice
			wantDrift: Drift{
				FirstTotal: 20, LastTotal: 22, TotalChanged: true, Received: 22, PagesFetched: 3, PagesExpected: 3,
				Duplicates: 2, DuplicateIDs: []string{"c8", "c9"},
			},
		},
		{
			name: "empty page before totalPages", pageSize: 10,
			page: func(n int) string {
				if n == 1 {
					return body(rows("c", 0, 10), `{"limit":10,"total":30,"totalPages":3}`)
				}
				return body(nil, `{"limit":10,"total":30,"totalPages":3}`)
			},
			wantCalls: 2, wantRows: 10,
			wantDrift: Drift{FirstTotal: 30, LastTotal: 30, Received: 10, PagesFetched: 2, PagesExpected: 3},
		},
		{
			name: "server ignores page", pageSize: 5,
			page: func(n int) string {
				return body(rows("c", 0, 5), `{"limit":5,"page":1,"total":10,"totalPages":2}`)
			},
			wantCalls: 2, wantRows: 10,
			wantDrift: Drift{
				FirstTotal: 10, LastTotal: 10, Received: 10, PagesFetched: 2, PagesExpected: 2,
				Duplicates: 5, DuplicateIDs: []string{"c0", "c1", "c2", "c3", "c4"}, PageMismatches: 1,
				RepeatedPage: true,
			},
		},
		{
			name: "no pagination: until a short page", pageSize: 5,
			page: func(n int) string {
				return body(rows("c", (n-1)*5, max(0, min(5, 12-(n-1)*5))), "")
			},
			wantCalls: 3, wantRows: 12,
			wantDrift: Drift{Received: 12, PagesFetched: 3, PagesExpected: 1, PaginationMissing: true},
		},
		{
			name: "more pages promised than allowed: stop after the first", pageSize: 10, maxPages: 3,
			page: func(n int) string {
				return body(rows("c", (n-1)*10, 10), `{"limit":10,"total":100000,"totalPages":10000}`)
			},
			wantCalls: 1, wantErr: ErrTooManyPages,
		},
		{
			name: "endless full pages without pagination", pageSize: 10, maxPages: 3,
			page: func(n int) string {
				return body(rows("c", (n-1)*10, 10), "")
			},
			wantCalls: 3, wantErr: ErrTooManyPages,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				n, err := strconv.Atoi(r.URL.Query().Get("page"))
				if err != nil || r.URL.Query().Get("limit") != strconv.Itoa(tt.pageSize) {
					http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
					return
				}
				_, _ = w.Write([]byte(tt.page(n)))
			}
			c, _ := setup(t, http.HandlerFunc(h), func(c *Config) { c.PageSize = tt.pageSize; c.MaxPages = tt.maxPages })
			res, err := c.FetchWindow(context.Background(), testWindow)
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tt.wantCalls)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Conversations) != tt.wantRows || res.Pages != tt.wantCalls {
				t.Errorf("got %d rows in %d pages, want %d rows", len(res.Conversations), res.Pages, tt.wantRows)
			}
			if !reflect.DeepEqual(res.Drift, tt.wantDrift) {
				t.Errorf("Drift = %+v\nwant    %+v", res.Drift, tt.wantDrift)
			}
			wantDetected := !reflect.DeepEqual(tt.wantDrift, Drift{FirstTotal: tt.wantRows, LastTotal: tt.wantRows, Received: tt.wantRows, PagesFetched: tt.wantCalls, PagesExpected: tt.wantCalls})
			if res.Drift.Detected() != wantDetected {
				t.Errorf("Detected = %v, want %v (%s)", res.Drift.Detected(), wantDetected, res.Drift)
			}
		})
	}
}

func TestFetchWindowPageError(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Authentication failed"}`))
			return
		}
		_, _ = w.Write([]byte(pagedServer(30, 10)(1)))
	}
	c, _ := setup(t, http.HandlerFunc(h), func(c *Config) { c.PageSize = 10 })
	res, err := c.FetchWindow(context.Background(), testWindow)
	if res != nil {
		t.Errorf("partial result returned: %d rows", len(res.Conversations))
	}
	wantType[*AuthError](t, err)
	if want := "fetch " + testWindow.String() + " page 2: authentication failed"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want prefix %q", err, want)
	}
}

func TestPagesStopsWhenTheLoopBreaks(t *testing.T) {
	var calls atomic.Int32
	h := func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(pagedServer(100, 10)(1)))
	}
	c, _ := setup(t, http.HandlerFunc(h), func(c *Config) { c.PageSize = 10 })
	for p, err := range c.Pages(context.Background(), testWindow) {
		if err != nil || p.Number != 1 {
			t.Fatalf("first page = %+v, %v", p, err)
		}
		break
	}
	if calls.Load() != 1 {
		t.Errorf("server saw %d requests after the loop broke, want 1", calls.Load())
	}
}

func TestDriftString(t *testing.T) {
	tests := []struct {
		d    Drift
		want string
	}{
		{Drift{FirstTotal: 3, LastTotal: 3, Received: 3, PagesFetched: 1, PagesExpected: 1}, "none"},
		{
			Drift{FirstTotal: 20, LastTotal: 22, TotalChanged: true, Received: 20, PagesFetched: 2, PagesExpected: 3, Duplicates: 2},
			"total changed from 20 to 22; received 20 rows, total says 22; fetched 2 pages, pagination says 3; 2 duplicate _id rows",
		},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.d.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFetchWindowLimitStopsAfterFirstPage(t *testing.T) {
	var calls atomic.Int32
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(body(rows("c", 0, 100), `{"limit":100,"total":950,"offset":0,"totalPages":10}`)))
	}), nil)
	w := Window{Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)}
	res, err := c.FetchWindowLimit(context.Background(), w, 4)
	var tm *TooManyPagesError
	if !errors.As(err, &tm) || !errors.Is(err, ErrTooManyPages) {
		t.Fatalf("err = %v, want a *TooManyPagesError wrapping ErrTooManyPages", err)
	}
	if res == nil || len(res.Conversations) != 100 || res.Pages != 1 {
		t.Fatalf("result = %+v, want the 100 rows of the first page along with the error", res)
	}
	if tm.Total != 950 || tm.Pages != 10 || tm.Max != 4 || tm.Window != w {
		t.Fatalf("error = %+v, want total 950 in 10 pages over max 4 for %v", tm, w)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("made %d requests, want 1: the first page already says the window is too large", n)
	}
}

func TestFetchWindowLimitReturnsRowsBeforeAFailedPage(t *testing.T) {
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "1" {
			_, _ = w.Write([]byte(body(rows("c", 0, 100), `{"limit":100,"total":150,"offset":0,"totalPages":2}`)))
			return
		}
		http.Error(w, "not found", http.StatusNotFound) // not retried
	}), nil)
	w := Window{Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)}
	res, err := c.FetchWindowLimit(context.Background(), w, 0)
	if err == nil || res == nil || len(res.Conversations) != 100 {
		t.Fatalf("FetchWindowLimit = %v rows, %v; want page 1's 100 rows and the error of page 2", res, err)
	}
	if res, err := c.FetchWindow(context.Background(), w); err == nil || res != nil {
		t.Fatalf("FetchWindow = %v, %v; want no partial result with the error", res, err)
	}
}

// TestFetchWindowLimitUnboundedPagesUntilTheRowsRunOut pins the meaning of
// maxPages <= 0 ("no bound", as the poller means it): a first page promising
// five million rows must not stop the fetch with *TooManyPagesError (the
// poller asked for every page because it cannot split any further), and
// paging ends when the rows do.
func TestFetchWindowLimitUnboundedPagesUntilTheRowsRunOut(t *testing.T) {
	tests := []struct {
		name       string
		pagination func(n int) string
		rows       int // real rows, in pages of 10
		wantCalls  int
		wantDrift  func(Drift) bool
	}{
		{
			name: "absurd total",
			pagination: func(n int) string {
				return fmt.Sprintf(`{"limit":10,"page":%d,"total":5000000,"totalPages":500000}`, n)
			},
			rows: 25, wantCalls: 4, // 3 pages of rows, then an empty one
			wantDrift: func(d Drift) bool { return d.Received == 25 && d.LastTotal == 5000000 && d.Detected() },
		},
		{
			name:       "totalPages contradicts total",
			pagination: func(n int) string { return fmt.Sprintf(`{"limit":10,"page":%d,"total":25,"totalPages":900000}`, n) },
			rows:       25, wantCalls: 4,
			wantDrift: func(d Drift) bool { return d.Contradictory == 4 && d.Detected() },
		},
		{
			name:       "fewer pages promised than rows delivered",
			pagination: func(n int) string { return fmt.Sprintf(`{"limit":10,"page":%d,"total":5,"totalPages":7}`, n) },
			rows:       35, wantCalls: 5,
			wantDrift: func(d Drift) bool { return d.Received == 35 && d.Contradictory > 0 && d.Detected() },
		},
		{
			name:       "negative total",
			pagination: func(n int) string { return fmt.Sprintf(`{"limit":10,"page":%d,"total":-3,"totalPages":2}`, n) },
			rows:       15, wantCalls: 2, // the decoder drops a negative total: no pagination, a short page ends it
			wantDrift: func(d Drift) bool { return d.Received == 15 && d.Detected() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				n, _ := strconv.Atoi(r.URL.Query().Get("page"))
				from := (n - 1) * 10
				_, _ = w.Write([]byte(body(rows("c", from, max(0, min(10, tt.rows-from))), tt.pagination(n))))
			}
			c, _ := setup(t, http.HandlerFunc(h), func(c *Config) { c.PageSize = 10; c.MaxPages = 2 })
			res, err := c.FetchWindowLimit(context.Background(), testWindow, 0)
			if err != nil {
				t.Fatalf("FetchWindowLimit(…, 0) = %v, want every row", err)
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tt.wantCalls)
			}
			if len(res.Conversations) != tt.rows {
				t.Errorf("got %d rows, want %d", len(res.Conversations), tt.rows)
			}
			if !tt.wantDrift(res.Drift) {
				t.Errorf("Drift = %+v (%s)", res.Drift, res.Drift)
			}
		})
	}
}

// TestFetchWindowLimitUnboundedStopsOnARepeatingServer: a server that
// answers every page with the same full page would be paged forever
// without a bound; paging stops at the first page bringing nothing new.
func TestFetchWindowLimitUnboundedStopsOnARepeatingServer(t *testing.T) {
	var calls atomic.Int32
	c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(body(rows("c", 0, 10), `{"limit":10,"total":5000000,"totalPages":500000}`)))
	}), func(c *Config) { c.PageSize = 10 })
	res, err := c.FetchWindowLimit(context.Background(), testWindow, 0)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || !res.Drift.RepeatedPage {
		t.Fatalf("server saw %d requests, drift %s; want 2 and a repeated page", calls.Load(), res.Drift)
	}
}
