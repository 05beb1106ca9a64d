package telemetry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHealthTransitions(t *testing.T) {
	clk := newFakeClock()
	h := NewHealth(clk)
	type step struct {
		do        func()
		wantReady bool
		wantError map[string]string // check name → error ("" means ok)
	}
	steps := []struct {
		name string
		step
	}{
		{"no checks", step{func() {}, true, map[string]string{}}},
		{"declared", step{func() {
			h.Require("kafka", 0)
			h.Require("poll", 5*time.Minute)
		}, false, map[string]string{"kafka": "no result yet", "poll": "no result yet"}}},
		{"kafka up", step{func() { h.Set("kafka", nil) }, false, map[string]string{"kafka": "", "poll": "no result yet"}}},
		{"poll ok", step{func() { h.Set("poll", nil) }, true, map[string]string{"kafka": "", "poll": ""}}},
		{"poll stale", step{func() { clk.Advance(6 * time.Minute) }, false,
			map[string]string{"kafka": "", "poll": "last success 6m0s ago, more than 5m0s"}}},
		{"poll fresh", step{func() { h.Set("poll", nil) }, true, map[string]string{"kafka": "", "poll": ""}}},
		{"auth failure", step{func() { h.Set("jelou_auth", errors.New("jelou: 401 unauthorized")) }, false,
			map[string]string{"kafka": "", "poll": "", "jelou_auth": "jelou: 401 unauthorized"}}},
		{"auth fixed", step{func() { h.Set("jelou_auth", nil) }, true, map[string]string{"kafka": "", "poll": "", "jelou_auth": ""}}},
		{"kafka down", step{func() { h.Set("kafka", errors.New("dial tcp: refused")) }, false,
			map[string]string{"kafka": "dial tcp: refused", "poll": "", "jelou_auth": ""}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			r := h.Report()
			if r.Ready != s.wantReady || h.Ready() != s.wantReady {
				t.Errorf("Ready = %v, want %v", r.Ready, s.wantReady)
			}
			if len(r.Checks) != len(s.wantError) {
				t.Fatalf("%d checks, want %d: %+v", len(r.Checks), len(s.wantError), r.Checks)
			}
			for i, c := range r.Checks {
				if i > 0 && r.Checks[i-1].Name >= c.Name {
					t.Errorf("checks not sorted: %q before %q", r.Checks[i-1].Name, c.Name)
				}
				if want, ok := s.wantError[c.Name]; !ok || c.Error != want || c.OK != (want == "") {
					t.Errorf("check %s = ok %v, error %q; want error %q", c.Name, c.OK, c.Error, want)
				}
			}
		})
	}
}

func TestReadyHandler(t *testing.T) {
	clk := newFakeClock()
	h := NewHealth(clk)
	h.Require("kafka", time.Minute)
	srv := httptest.NewServer(Handler(prometheus.NewRegistry(), h))
	t.Cleanup(srv.Close)

	get := func() (int, Report) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		var r Report
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, r
	}

	if code, r := get(); code != http.StatusServiceUnavailable || r.Ready || r.Checks[0].Error != "no result yet" {
		t.Errorf("before first result: %d %+v", code, r)
	}
	h.Set("kafka", nil)
	code, r := get()
	if code != http.StatusOK || !r.Ready {
		t.Errorf("after success: %d %+v", code, r)
	}
	if c := r.Checks[0]; c.Name != "kafka" || c.MaxAge != "1m0s" || c.LastSuccess == nil || !c.LastSuccess.Equal(clk.Now()) {
		t.Errorf("check = %+v", c)
	}
}

func TestLiveHandler(t *testing.T) {
	h := NewHealth(nil)
	h.Set("kafka", errors.New("down")) // liveness ignores readiness
	rec := httptest.NewRecorder()
	h.LiveHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("/healthz = %d %q", rec.Code, rec.Body.String())
	}
}

func TestReportCarriesOwnership(t *testing.T) {
	h := NewHealth(nil)
	if h.Report().Ownership != nil {
		t.Fatal("ownership reported before it was set")
	}
	owned := []string{"a"}
	h.SetOwnership(Ownership{Group: "g", Generation: 7, Member: "m-1", Sources: []string{"a", "b"}, Owned: owned})
	owned[0] = "changed" // SetOwnership keeps its own copy
	r := h.Report()
	if r.Ownership == nil || r.Ownership.Generation != 7 || len(r.Ownership.Owned) != 1 || r.Ownership.Owned[0] != "a" {
		t.Fatalf("ownership = %+v", r.Ownership)
	}
	h.SetOwnership(Ownership{Group: "g", Generation: 8, Sources: []string{"a", "b"}})
	b, err := json.Marshal(h.Report())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"owned":[]`) || !strings.Contains(string(b), `"generation":8`) {
		t.Errorf("a standby's report %s, want an empty owned list and generation 8", b)
	}
}

// TestHealthSources checks the per-source detail of /readyz: a failed
// source is listed with its reason and next retry but leaves the replica
// ready while another source it polls is ok; when every source it polls
// failed, the "sources" check fails; a retrying source (on probation)
// counts as not ok like a failed one; a source handed back is forgotten.
func TestHealthSources(t *testing.T) {
	clk := newFakeClock()
	h := NewHealth(clk)
	h.Set(CheckKafka, nil)
	if r := h.Report(); !r.Ready || r.Sources != nil || len(r.Checks) != 1 {
		t.Fatalf("without sources: %+v, want ready with the kafka check only", r)
	}
	now := clk.Now()
	next := now.Add(30 * time.Second)
	failed := SourceStatus{Source: "acme", State: SourceFailed, Reason: FailureAuth, Error: "authentication failed (HTTP 401)", Since: now, Failures: 1, NextRetry: &next}
	h.SetSource(SourceStatus{Source: "globex", State: SourceOK, Since: now})
	h.SetSource(failed)
	steps := []struct {
		name      string
		do        func()
		wantReady bool
		wantErr   string
		wantIDs   string
	}{
		{"one of two failed", func() {}, true, "", "acme globex"},
		{"both failed", func() {
			h.SetSource(SourceStatus{Source: "globex", State: SourceFailed, Reason: FailurePublish, Since: now})
		}, false, "every source polled here failed: acme, globex", "acme globex"},
		{"the failed globex handed back", func() { h.RemoveSource("globex") }, false, "every source polled here failed: acme", "acme"},
		{"acme retried, on probation", func() {
			h.SetSource(SourceStatus{Source: "acme", State: SourceRetrying, Reason: FailureAuth, Since: now, Failures: 1})
		}, false, "no source polled here is ok: acme (retrying)", "acme"},
		{"globex ok again, acme retrying", func() { h.SetSource(SourceStatus{Source: "globex", State: SourceOK, Since: now}) }, true, "", "acme globex"},
		{"globex handed back again", func() { h.RemoveSource("globex") }, false, "no source polled here is ok: acme (retrying)", "acme"},
		{"acme healed", func() { h.SetSource(SourceStatus{Source: "acme", State: SourceOK, Since: now}) }, true, "", "acme"},
	}
	for _, st := range steps {
		st.do()
		r := h.Report()
		var ids []string
		for _, s := range r.Sources {
			ids = append(ids, s.Source)
		}
		var check *CheckStatus
		for i := range r.Checks {
			if r.Checks[i].Name == CheckSources {
				check = &r.Checks[i]
			}
		}
		if r.Ready != st.wantReady || check == nil || check.Error != st.wantErr || strings.Join(ids, " ") != st.wantIDs {
			t.Errorf("%s: ready %v, sources check %+v, sources %q; want ready %v, error %q, sources %q", st.name, r.Ready, check, ids, st.wantReady, st.wantErr, st.wantIDs)
		}
	}
	h.SetSource(failed)
	rec := httptest.NewRecorder()
	h.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var body struct {
		Sources []map[string]any `json:"sources"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Sources) != 1 || body.Sources[0]["state"] != "failed" || body.Sources[0]["reason"] != "auth" || body.Sources[0]["next_retry"] == nil || body.Sources[0]["since"] == nil {
		t.Errorf("/readyz sources %v, want acme failed with reason auth, since and next_retry", body.Sources)
	}
}
