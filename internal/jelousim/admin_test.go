package jelousim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAdminEndpoints(t *testing.T) {
	f := setup(t, testConfig(), after)
	admin := func(method, path, body string, want int, out any) {
		t.Helper()
		resp, b := f.do(t, call{method: method, path: path, body: body})
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}
	api := func() int {
		resp, _ := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(24*time.Hour)), query: url.Values{"limit": {"100"}}})
		return resp.StatusCode
	}

	t.Run("faults", func(t *testing.T) {
		admin("POST", "/_sim/faults", `{"next":[{"kind":"429","retryAfter":"2s","count":2},{"kind":"drift","rows":-1}],"latency":"1ms"}`, 200, nil)
		var fs FaultSettings
		admin("GET", "/_sim/faults", "", 200, &fs)
		if len(fs.Queued) != 3 || fs.Latency != "1ms" {
			t.Errorf("settings %+v", fs)
		}
		for _, want := range []int{429, 429, 200, 200} {
			if got := api(); got != want {
				t.Errorf("status %d, want %d", got, want)
			}
		}
		admin("POST", "/_sim/faults", `{"rates":{"500":1}}`, 200, nil)
		if got := api(); got != 500 {
			t.Errorf("status %d with a 500 rate of 1", got)
		}
		admin("DELETE", "/_sim/faults", "", 200, &fs)
		if len(fs.Rates) != 0 || fs.Latency != "0s" {
			t.Errorf("after DELETE: %+v", fs)
		}
		admin("POST", "/_sim/faults", `{"next":[{"kind":"418"}]}`, 400, nil)
		admin("POST", "/_sim/faults", `{"rates":{"500":2}}`, 400, nil)
		admin("POST", "/_sim/faults", `{"latency":"soon"}`, 400, nil)
		admin("POST", "/_sim/faults", `{"bogus":true}`, 400, nil)
	})

	t.Run("stats and oracle", func(t *testing.T) {
		admin("POST", "/_sim/reset", "", 200, nil)
		if got := api(); got != 200 {
			t.Fatalf("status %d", got)
		}
		var st Stats
		admin("GET", "/_sim/stats", "", 200, &st)
		if st.Requests != 1 || st.ByStatus[200] != 1 || st.ServedPairs != 100 || st.Conversations != 1000 {
			t.Errorf("stats %+v", st)
		}
		var served struct {
			Pairs []Pair `json:"pairs"`
			Count int    `json:"count"`
		}
		admin("GET", "/_sim/served", "", 200, &served)
		if served.Count != 100 || len(served.Pairs) != 100 {
			t.Errorf("served %d pairs, count %d", len(served.Pairs), served.Count)
		}
		var servable struct {
			AsOf  time.Time      `json:"asOf"`
			Pairs []ServablePair `json:"pairs"`
			Count int            `json:"count"`
		}
		admin("GET", "/_sim/servable?asOf="+url.QueryEscape(day0.Add(time.Hour).Format(time.RFC3339)), "", 200, &servable)
		if want := f.sim.ServableCount(day0.Add(time.Hour)); servable.Count != want || len(servable.Pairs) != want || !servable.AsOf.Equal(day0.Add(time.Hour)) {
			t.Errorf("servable %d pairs, count %d, asOf %v; want %d", len(servable.Pairs), servable.Count, servable.AsOf, want)
		}
		admin("GET", "/_sim/servable?asOf=yesterday", "", 400, nil)
		p := served.Pairs[0]
		var first ServablePair
		admin("GET", "/_sim/first-servable?id="+p.ID+"&state="+string(p.State), "", 200, &first)
		if want, _ := f.sim.FirstServable(p.ID, p.State); !first.FirstServableAt.Equal(want) {
			t.Errorf("first-servable %v, want %v", first.FirstServableAt, want)
		}
		admin("GET", "/_sim/first-servable?id=nope&state=active", "", 404, nil)
	})

	t.Run("credentials", func(t *testing.T) {
		admin("POST", "/_sim/credentials", `{"revoke":true}`, 200, nil)
		if got := api(); got != http.StatusUnauthorized {
			t.Errorf("after revoke: %d", got)
		}
		admin("POST", "/_sim/credentials", `{"clientId":"sim-client","clientSecret":"sim-secret"}`, 200, nil)
		if got := api(); got != 200 {
			t.Errorf("after restore: %d", got)
		}
		admin("POST", "/_sim/credentials", `{}`, 400, nil)
		admin("POST", "/_sim/credentials", `not json`, 400, nil)
	})
}

func TestAdminErrorsAreJSON(t *testing.T) {
	f := setup(t, testConfig(), after)
	resp, b := f.do(t, call{method: "POST", path: "/_sim/faults", body: `{"next":[{"kind":"x"}]}`})
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != 400 || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, `unknown fault kind "x"`) {
		t.Errorf("status %d body %s", resp.StatusCode, b)
	}
}
