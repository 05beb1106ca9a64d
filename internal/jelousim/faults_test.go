package jelousim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStatusFaults(t *testing.T) {
	tests := []struct {
		fault       Fault
		status      int
		golden      string // vendor body, when documented
		contentType string
		retryAfter  func(string) bool
	}{
		{Fault{Kind: FaultUnauthorized}, 401, "401.json", "application/json", nil},
		{Fault{Kind: FaultValidation}, 422, "422.json", "application/json", nil},
		{Fault{Kind: FaultRateLimit, RetryAfter: 2 * time.Second}, 429, "429.json", "application/json", func(v string) bool { return v == "2" }},
		{Fault{Kind: FaultRateLimit, RetryAfter: 1500 * time.Millisecond}, 429, "429.json", "application/json", func(v string) bool { return v == "2" }},
		{Fault{Kind: FaultRateLimit, RetryAfterForm: RetryAfterDate}, 429, "429.json", "application/json", func(v string) bool {
			at, err := http.ParseTime(v)
			return err == nil && at.After(time.Now())
		}},
		{Fault{Kind: FaultRateLimit, RetryAfterForm: RetryAfterNone}, 429, "429.json", "application/json", func(v string) bool { return v == "" }},
		{Fault{Kind: FaultInternal}, 500, "500.json", "application/json", nil},
		{Fault{Kind: FaultBadGateway}, 502, "", "text/html", nil},
		{Fault{Kind: FaultUnavailable, RetryAfter: 3 * time.Second}, 503, "", "application/json", func(v string) bool { return v == "3" }},
	}
	for _, tt := range tests {
		name := string(tt.fault.Kind) + " " + string(tt.fault.RetryAfterForm) + " " + tt.fault.RetryAfter.String()
		t.Run(name, func(t *testing.T) {
			f := setup(t, testConfig(), after)
			if err := f.sim.InjectNext(tt.fault, 1); err != nil {
				t.Fatal(err)
			}
			// No credentials: status faults are decided before authentication.
			resp, body := f.do(t, call{body: windowBody(day0, day0.Add(time.Hour))})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if tt.golden != "" {
				want, err := os.ReadFile("testdata/" + tt.golden)
				if err != nil {
					t.Fatal(err)
				}
				if !sameJSON(t, body, want) {
					t.Errorf("body %s, want %s", body, want)
				}
			}
			if tt.contentType == "text/html" && !strings.Contains(string(body), "<center><h1>502 Bad Gateway</h1></center>") {
				t.Errorf("body %q is not the nginx page", body)
			}
			if tt.retryAfter != nil && !tt.retryAfter(resp.Header.Get("Retry-After")) {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			// The fault was used once.
			if resp, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))}); resp.StatusCode != 200 {
				t.Errorf("next request: status %d, want 200", resp.StatusCode)
			}
			if got := f.sim.Stats().Faults[tt.fault.Kind]; got != 1 {
				t.Errorf("fault counter %d, want 1", got)
			}
		})
	}
}

func TestResponseFaults(t *testing.T) {
	from, to := day0, day0.Add(2*time.Hour)
	// A window with active conversations that are not visible yet, for drift.
	now := day0.Add(90 * time.Minute)
	tests := []struct {
		fault Fault
		check func(t *testing.T, body []byte, clean page)
	}{
		{Fault{Kind: FaultTruncated}, func(t *testing.T, body []byte, clean page) {
			if json.Valid(body) || !strings.HasPrefix(string(body), `{"message":["Retrieving conversations succeeded"]`) {
				t.Errorf("body is not a cut JSON document: %.80s", body)
			}
		}},
		{Fault{Kind: FaultSlowBody, Delay: 50 * time.Millisecond}, func(t *testing.T, body []byte, clean page) {
			if p := decodePage(t, body); len(p.Results) != len(clean.Results) {
				t.Errorf("slow body has %d rows, want %d", len(p.Results), len(clean.Results))
			}
		}},
		{Fault{Kind: FaultDrift, Rows: 2}, func(t *testing.T, body []byte, clean page) {
			p := decodePage(t, body)
			if p.Pagination["total"] != clean.Pagination["total"]+2 {
				t.Errorf("total %d, want %d", p.Pagination["total"], clean.Pagination["total"]+2)
			}
			if p.ids()[2] != clean.ids()[0] {
				t.Errorf("rows did not shift by two: %v vs %v", p.ids(), clean.ids())
			}
		}},
		{Fault{Kind: FaultDrift, Rows: -3}, func(t *testing.T, body []byte, clean page) {
			p := decodePage(t, body)
			if p.Pagination["total"] != clean.Pagination["total"]-3 {
				t.Errorf("total %d, want %d", p.Pagination["total"], clean.Pagination["total"]-3)
			}
			if p.ids()[0] != clean.ids()[3] {
				t.Errorf("rows did not shift by three: %v vs %v", p.ids(), clean.ids())
			}
		}},
		{Fault{Kind: FaultMissingID}, func(t *testing.T, body []byte, clean page) {
			if _, ok := decodePage(t, body).Results[0]["_id"]; ok {
				t.Error("first row has _id")
			}
		}},
		{Fault{Kind: FaultMissingState}, func(t *testing.T, body []byte, clean page) {
			if _, ok := decodePage(t, body).Results[0]["state"]; ok {
				t.Error("first row has state")
			}
		}},
		{Fault{Kind: FaultUnknownState}, func(t *testing.T, body []byte, clean page) {
			if s := decodePage(t, body).Results[0]["state"]; s != "pending" {
				t.Errorf("first row state %v", s)
			}
		}},
		{Fault{Kind: FaultWrongTypes}, func(t *testing.T, body []byte, clean page) {
			r := decodePage(t, body).Results[0]
			_, s1 := r["timeRepliedOperator"].(string)
			_, s2 := r["conversationDuration"].(string)
			_, n := r["company"].(map[string]any)["id"].(float64)
			if !s1 || !s2 || !n {
				t.Errorf("first row types unchanged: %v", r)
			}
		}},
		{Fault{Kind: FaultAbsurdDates}, func(t *testing.T, body []byte, clean page) {
			r := decodePage(t, body).Results[0]
			if r["startAt"] != "0000-00-00 00:00:00" || r["endAt"] != "9999-99-99 99:99:99" {
				t.Errorf("dates %v %v", r["startAt"], r["endAt"])
			}
		}},
		{Fault{Kind: FaultDuplicateRow}, func(t *testing.T, body []byte, clean page) {
			ids := decodePage(t, body).ids()
			if len(ids) != len(clean.Results)+1 || ids[0] != ids[len(ids)-1] {
				t.Errorf("ids %v", ids)
			}
		}},
		{Fault{Kind: FaultEmptyResults}, func(t *testing.T, body []byte, clean page) {
			p := decodePage(t, body)
			if len(p.Results) != 0 || p.Pagination["total"] != clean.Pagination["total"] || p.Pagination["total"] == 0 {
				t.Errorf("%d rows, pagination %v", len(p.Results), p.Pagination)
			}
		}},
		{Fault{Kind: FaultEndlessPages}, func(t *testing.T, body []byte, clean page) {
			p := decodePage(t, body)
			known := map[string]bool{}
			for _, id := range clean.ids() {
				known[id] = true
			}
			if len(p.Results) != 10 || p.Pagination["total"] != AbsurdTotal {
				t.Errorf("%d rows, pagination %v; want a full page of 10, total %d", len(p.Results), p.Pagination, AbsurdTotal)
			}
			for _, r := range p.Results {
				start, err := time.ParseInLocation("2006-01-02 15:04:05", r["startAt"].(string), time.UTC)
				if id := r["_id"].(string); known[id] || len(id) != 24 || err != nil || start.Before(from) || start.After(to) {
					t.Errorf("row %v: want a new 24-hex _id starting in the window", r)
				}
				known[r["_id"].(string)] = true
			}
		}},
		{Fault{Kind: FaultEndlessPages, Size: 1 << 20}, func(t *testing.T, body []byte, clean page) {
			var v struct {
				Padding string           `json:"padding"`
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(body, &v); err != nil || len(v.Padding) != 1<<20 || len(v.Results) != 10 {
				t.Errorf("padded endless page: %v, padding %d bytes, %d rows", err, len(v.Padding), len(v.Results))
			}
		}},
		{Fault{Kind: FaultOversized, Size: 1 << 20}, func(t *testing.T, body []byte, clean page) {
			var v struct {
				Padding string          `json:"padding"`
				Results json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal(body, &v); err != nil || len(v.Padding) != 1<<20 {
				t.Errorf("oversized body: %v, padding %d bytes", err, len(v.Padding))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault.Kind)+" "+strconv.Itoa(tt.fault.Rows), func(t *testing.T) {
			f := setup(t, testConfig(), now)
			clean := f.fetch(t, from, to, 10, 1)
			if len(f.sim.dataWindowLate(from, to, now)) < 2 {
				t.Fatal("test window has too few late rows for drift")
			}
			if err := f.sim.InjectNext(tt.fault, 1); err != nil {
				t.Fatal(err)
			}
			// Status faults queued behind wait; a bad request does not use a response fault.
			if resp, _ := f.do(t, call{body: windowBody(from, to)}); resp.StatusCode != 401 {
				t.Fatalf("unauthenticated request: %d", resp.StatusCode)
			}
			resp, body := f.do(t, call{auth: defaultAuth, body: windowBody(from, to), query: url.Values{"limit": {"10"}}})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			tt.check(t, body, clean)
			if after := f.fetch(t, from, to, 10, 1); after.Pagination["total"] != clean.Pagination["total"] {
				t.Error("fault outlived its request")
			}
		})
	}
}

// dataWindowLate lists the not-yet-visible conversations of a window.
func (s *Server) dataWindowLate(from, to, now time.Time) []int32 {
	return s.data.selectWindow(from.Unix(), to.Unix(), now.Unix()).late
}

func TestFaultQueueOrder(t *testing.T) {
	f := setup(t, testConfig(), after)
	if err := f.sim.InjectNext(Fault{Kind: FaultInternal}, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.InjectNext(Fault{Kind: FaultBadGateway}, 1); err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 4 {
		resp, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))})
		got = append(got, resp.StatusCode)
	}
	if want := []int{500, 500, 502, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if err := f.sim.InjectNext(Fault{Kind: "teapot"}, 1); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestRandomFaults(t *testing.T) {
	cfg := testConfig()
	cfg.FaultRates = FaultRates{FaultInternal: 1}
	f := setup(t, cfg, after)
	for range 3 {
		if resp, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))}); resp.StatusCode != 500 {
			t.Fatalf("status %d with a 500 rate of 1", resp.StatusCode)
		}
	}
	if err := f.sim.SetFaultRates(FaultRates{FaultRateLimit: 0.25, FaultDrift: 0.25}); err != nil {
		t.Fatal(err)
	}
	statuses := map[int]int{}
	for range 200 {
		resp, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))})
		statuses[resp.StatusCode]++
	}
	if statuses[429] == 0 || statuses[200] == 0 || statuses[429]+statuses[200] != 200 {
		t.Errorf("statuses %v, want a mix of 200 and 429", statuses)
	}
	if f.sim.Stats().Faults[FaultDrift] == 0 {
		t.Error("no drift was injected")
	}
	f.sim.ClearFaults()
	if resp, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))}); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 0.001 // one request, then a wait of 1000 s
	f := setup(t, cfg, after)
	first, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))})
	second, body := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(time.Hour))})
	if first.StatusCode != 200 || second.StatusCode != 429 {
		t.Fatalf("statuses %d, %d; want 200, 429", first.StatusCode, second.StatusCode)
	}
	if !sameJSON(t, body, []byte(bodyRateLimited)) {
		t.Errorf("body %s", body)
	}
	if secs, err := strconv.Atoi(second.Header.Get("Retry-After")); err != nil || secs < 900 || secs > 1000 {
		t.Errorf("Retry-After %q, want about 1000", second.Header.Get("Retry-After"))
	}
	if st := f.sim.Stats(); st.RateLimited != 1 || st.ByStatus[429] != 1 || st.ByStatus[200] != 1 || st.Requests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaultJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Fault
		err  string
	}{
		{`{"kind":"429","retryAfter":"2s","retryAfterForm":"date"}`, Fault{Kind: FaultRateLimit, RetryAfter: 2 * time.Second, RetryAfterForm: RetryAfterDate}, ""},
		{`{"kind":"drift","rows":-2}`, Fault{Kind: FaultDrift, Rows: -2}, ""},
		{`{"kind":"slow-body","delay":"250ms"}`, Fault{Kind: FaultSlowBody, Delay: 250 * time.Millisecond}, ""},
		{`{"kind":"oversized","size":1024}`, Fault{Kind: FaultOversized, Size: 1024}, ""},
		{`{"kind":"nope"}`, Fault{}, "unknown fault kind"},
		{`{"kind":"429","retryAfter":"soon"}`, Fault{}, "retryAfter"},
		{`{"kind":"429","retryAfterForm":"later"}`, Fault{}, "retryAfterForm"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Fault
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			b, err := json.Marshal(got)
			var back Fault
			if err != nil || json.Unmarshal(b, &back) != nil || back != got {
				t.Errorf("round trip %s gave %+v", b, back)
			}
		})
	}
}
