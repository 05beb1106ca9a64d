package demo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// The status line counts windows by lane, for every lane of the table, in
// its order.
func TestStatusCountsWindowsByLane(t *testing.T) {
	v := newView(nil, nil, 0).wrap(poller.NopObserver{})
	for _, l := range []poller.Lane{poller.LaneHistory, poller.LaneLive, poller.LaneHistory} {
		v.QueryDone(l, jelou.Window{}, 0, 0, 0)
	}
	if got, want := v.(*view).windowCounts(), "1 live, 0 settle, 0 revisit, 2 history"; got != want {
		t.Errorf("window counts %q, want %q", got, want)
	}
}

// The demo's simulated API answers the API path but not the admin
// endpoints, which the plain simulator serves.
func TestDemoSimulatorHasNoAdminEndpoints(t *testing.T) {
	now := time.Now().UTC()
	sim, err := jelousim.New(jelousim.Config{Data: jelousim.DataConfig{Seed: 1, Start: now.Add(-time.Hour), End: now, Count: 10}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		handler http.Handler
		want    int
	}{
		{"plain simulator", sim, http.StatusOK},
		{"demo", withoutAdmin(sim), http.StatusNotFound},
	} {
		for _, path := range []string{"/_sim/stats", "/_sim/served", "/_sim/faults"} {
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != tc.want {
				t.Errorf("%s: GET %s = %d, want %d", tc.name, path, rec.Code, tc.want)
			}
		}
		for _, method := range []string{http.MethodPost, http.MethodDelete} {
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, httptest.NewRequest(method, "/_sim/faults", strings.NewReader(`{}`)))
			if tc.name == "demo" && rec.Code != http.StatusNotFound {
				t.Errorf("demo: %s /_sim/faults = %d, want 404", method, rec.Code)
			}
		}
	}
	// The API itself still answers through the wrapper (401 without
	// credentials, not 404).
	rec := httptest.NewRecorder()
	withoutAdmin(sim).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, jelousim.APIPath, strings.NewReader(`{}`)))
	if rec.Code == http.StatusNotFound {
		t.Errorf("demo: POST %s = 404; the API must still be served", jelousim.APIPath)
	}
}
