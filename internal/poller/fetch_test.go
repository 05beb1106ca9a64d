package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestFetchPlan pins what reading one window yields whatever happened: the
// rows the API showed, the drift met, the error that cut the read short,
// and the queries it took to get there.
func TestFetchPlan(t *testing.T) {
	w := win(t0, at(1, 0))
	a, b := win(t0, at(0, 30)), win(at(0, 30), at(1, 0))
	conv := func(id string) jelou.Conversation {
		return jelou.Conversation{ID: id, State: jelou.StateActive, StartAt: at(0, 10)}
	}
	page := func(drift bool, ids ...string) *jelou.WindowResult {
		var convs []jelou.Conversation
		for _, id := range ids {
			convs = append(convs, conv(id))
		}
		return rows(drift, convs...)
	}
	tooMany := &jelou.TooManyPagesError{Window: w, Total: 5000, Pages: 50, Max: 10}
	invalid := &jelou.ValidationError{StatusCode: 422, Messages: []string{"range too wide"}}
	failed := &jelou.ServerError{StatusCode: 502, Message: "bad gateway"}
	tooLarge := &jelou.BodyTooLargeError{StatusCode: 200, Limit: 32 << 20}
	truncated := &jelou.TooManyPagesError{Window: w, Max: 100, Truncated: true}
	asked := func(ws ...any) []string {
		var out []string
		for i := 0; i < len(ws); i += 2 {
			out = append(out, fmt.Sprintf("%s max=%d", ws[i], ws[i+1]))
		}
		return out
	}
	// drift is one expected driftSeen: its window, whether healed, and
	// how its detail ends.
	type drift struct {
		w      jelou.Window
		healed bool
		suffix string
	}
	tests := []struct {
		name      string
		narrow    bool // MinWindow is the whole window: it cannot be halved
		again     bool
		results   []*jelou.WindowResult
		errs      []error
		wantAsked []string
		wantRows  string
		wantDrift []drift
		wantErr   error
		wantCaps  []int // Bounds.PageCap per query, when set
		wantSizes []int // Bounds.PageSize per query, when set
	}{
		{
			name:    "too many pages: the probing page's rows, then both halves",
			results: []*jelou.WindowResult{page(false, "p"), page(false, "a"), page(false, "b")}, errs: []error{tooMany},
			wantAsked: asked(w, 10, a, 10, b, 10), wantRows: "p a b",
		},
		{
			name: "too many pages at the narrowest window: every page", narrow: true,
			results: []*jelou.WindowResult{page(false, "p"), page(false, "p", "q")}, errs: []error{tooMany},
			wantAsked: asked(w, 10, w, 0), wantRows: "p q",
		},
		{
			name: "too many pages at the narrowest window, and still more after the cap: what was read, truncated", narrow: true,
			results: []*jelou.WindowResult{page(false, "p"), page(false, "p", "q")}, errs: []error{tooMany, truncated},
			wantAsked: asked(w, 10, w, 0), wantCaps: []int{0, 100}, wantRows: "p q", wantErr: truncated,
		},
		{
			name:    "a body too large: both halves",
			results: []*jelou.WindowResult{nil, page(false, "a"), page(false, "b")}, errs: []error{tooLarge},
			wantAsked: asked(w, 10, a, 10, b, 10), wantRows: "a b",
		},
		{
			name: "a body too large at the narrowest window: smaller pages", narrow: true,
			results: []*jelou.WindowResult{nil, page(false, "a")}, errs: []error{tooLarge},
			wantAsked: asked(w, 10, w, 10), wantSizes: []int{0, 50}, wantRows: "a",
		},
		{
			name: "a body too large at the narrowest window down to one row a page: the error", narrow: true,
			errs:      []error{tooLarge, tooLarge, tooLarge, tooLarge, tooLarge, tooLarge, tooLarge},
			wantAsked: asked(w, 10, w, 10, w, 10, w, 10, w, 10, w, 10, w, 10), wantSizes: []int{0, 50, 25, 12, 6, 3, 1}, wantErr: tooLarge,
		},
		{
			name:    "422: both halves",
			results: []*jelou.WindowResult{nil, page(false, "a"), page(false, "b")}, errs: []error{invalid},
			wantAsked: asked(w, 10, a, 10, b, 10), wantRows: "a b",
		},
		{
			name: "422 at the narrowest window: the error", narrow: true,
			errs:      []error{invalid},
			wantAsked: asked(w, 10), wantErr: invalid,
		},
		{
			name: "drift, read again soon: reported, not healed now", again: true,
			results:   []*jelou.WindowResult{page(true, "d")},
			wantAsked: asked(w, 10), wantRows: "d", wantDrift: []drift{{w, true, "; read again next interval"}},
		},
		{
			name:      "drift healed by a re-fetch, the rows of both reads kept",
			results:   []*jelou.WindowResult{page(true, "1"), page(false, "2")},
			wantAsked: asked(w, 10, w, 10), wantRows: "1 2", wantDrift: []drift{{w, true, ""}},
		},
		{
			name:      "drift twice: split, every row kept",
			results:   []*jelou.WindowResult{page(true, "1"), page(true), page(false, "2"), page(false, "3")},
			wantAsked: asked(w, 10, w, 10, a, 10, b, 10), wantRows: "1 2 3",
			wantDrift: []drift{{w, true, "; split after it drifted again"}},
		},
		{
			name: "drift twice at the narrowest window: reported as persisting", narrow: true,
			results:   []*jelou.WindowResult{page(true, "1"), page(true, "1")},
			wantAsked: asked(w, 10, w, 10), wantRows: "1", wantDrift: []drift{{w, false, ""}},
		},
		{
			name:    "a failed page: the rows received before it, and the error",
			results: []*jelou.WindowResult{page(false, "1")}, errs: []error{failed},
			wantAsked: asked(w, 10), wantRows: "1", wantErr: failed,
		},
		{
			name:    "the second half fails: every row shown so far, and the error",
			results: []*jelou.WindowResult{page(false, "p"), page(false, "a"), page(false, "b")}, errs: []error{tooMany, nil, failed},
			wantAsked: asked(w, 10, a, 10, b, 10), wantRows: "p a b", wantErr: failed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &scriptedFetcher{results: tt.results, errs: tt.errs}
			var ids []string
			obs := &truncationObserver{}
			plan := fetchPlan{src: f, maxPages: 10, narrowCap: 100, clientPageSize: 100, minWindow: time.Minute, again: tt.again, log: slog.New(slog.DiscardHandler), obs: obs,
				emit: func(rows []jelou.Conversation) error {
					for _, r := range rows {
						ids = append(ids, r.ID)
					}
					return nil
				}}
			if tt.narrow {
				plan.minWindow = w.Duration()
			}
			got := plan.fetch(context.Background(), w, nil)
			if fmt.Sprint(f.asked) != fmt.Sprint(tt.wantAsked) {
				t.Errorf("asked %v\nwant  %v", f.asked, tt.wantAsked)
			}
			if tt.wantCaps != nil && fmt.Sprint(f.caps) != fmt.Sprint(tt.wantCaps) {
				t.Errorf("page caps %v, want %v", f.caps, tt.wantCaps)
			}
			if tt.wantSizes != nil && fmt.Sprint(f.sizes) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("page sizes %v, want %v", f.sizes, tt.wantSizes)
			}
			if truncated := errors.As(tt.wantErr, new(*jelou.TooManyPagesError)); (obs.n == 1) != truncated || obs.n > 1 {
				t.Errorf("%d truncations observed, want %v", obs.n, truncated)
			}
			if strings.Join(ids, " ") != tt.wantRows {
				t.Errorf("rows %v, want %s", ids, tt.wantRows)
			}
			if !errors.Is(got.Err, tt.wantErr) || (got.Err == nil) != (tt.wantErr == nil) {
				t.Errorf("error %v, want %v", got.Err, tt.wantErr)
			}
			if len(got.Drift) != len(tt.wantDrift) {
				t.Fatalf("drift %+v, want %+v", got.Drift, tt.wantDrift)
			}
			for i, d := range got.Drift {
				want := tt.wantDrift[i]
				if d.Window != want.w || d.Healed != want.healed || !strings.HasSuffix(d.Detail, want.suffix) || d.Detail == want.suffix {
					t.Errorf("drift %d = %+v, want %+v", i, d, want)
				}
			}
		})
	}
}

// truncationObserver counts the truncated reads it is told of.
type truncationObserver struct {
	NopObserver
	n int
}

func (o *truncationObserver) Truncated(jelou.Window, int) { o.n++ }
