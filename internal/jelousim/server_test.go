package jelousim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// sameJSON reports whether a and b hold equal JSON values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %q: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestErrorBodies(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWindow = 48 * time.Hour
	f := setup(t, cfg, after)
	ok := windowBody(day0, day0.Add(time.Hour))
	tests := []struct {
		name   string
		call   call
		status int
		golden string // testdata file with the vendor's body
		reason string // substring of X-Sim-Reason
	}{
		{"no authorization", call{body: ok}, 401, "401.json", ""},
		{"wrong secret", call{auth: basic("sim-client", "nope"), body: ok}, 401, "401.json", ""},
		{"missing startAt", call{auth: defaultAuth, body: `{"endAt":"2025-01-01T01:00:00Z","getJson":true}`}, 422, "422.json", "startAt is required"},
		{"missing endAt", call{auth: defaultAuth, body: `{"startAt":"2025-01-01T01:00:00Z","getJson":true}`}, 422, "422.json", "endAt is required"},
		{"unparseable startAt", call{auth: defaultAuth, body: `{"startAt":"yesterday","endAt":"2025-01-01T01:00:00Z","getJson":true}`}, 422, "422.json", "startAt"},
		{"startAt without offset", call{auth: defaultAuth, body: `{"startAt":"2025-01-01T00:00:00","endAt":"2025-01-01T01:00:00Z","getJson":true}`}, 422, "422.json", "offset"},
		{"startAt a number", call{auth: defaultAuth, body: `{"startAt":1735689600,"endAt":"2025-01-01T01:00:00Z","getJson":true}`}, 422, "422.json", "must be a string"},
		{"getJson false", call{auth: defaultAuth, body: `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T01:00:00Z","getJson":false}`}, 422, "422.json", "getJson"},
		{"getJson a string", call{auth: defaultAuth, body: `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T01:00:00Z","getJson":"true"}`}, 422, "422.json", "getJson"},
		{"getJson missing", call{auth: defaultAuth, body: `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T01:00:00Z"}`}, 422, "422.json", "getJson"},
		{"endAt before startAt", call{auth: defaultAuth, body: windowBody(day0.Add(time.Hour), day0)}, 422, "422.json", "before"},
		{"window too wide", call{auth: defaultAuth, body: windowBody(day0, day0.Add(49*time.Hour))}, 422, "422.json", "wider"},
		{"body not an object", call{auth: defaultAuth, body: `[1,2]`}, 422, "422.json", "JSON object"},
		{"empty body", call{auth: defaultAuth}, 422, "422.json", "JSON object"},
		{"limit zero", call{auth: defaultAuth, body: ok, query: url.Values{"limit": {"0"}}}, 422, "422.json", "limit"},
		{"limit not a number", call{auth: defaultAuth, body: ok, query: url.Values{"limit": {"ten"}}}, 422, "422.json", "limit"},
		{"page negative", call{auth: defaultAuth, body: ok, query: url.Values{"page": {"-1"}}}, 422, "422.json", "page"},
		{"page huge", call{auth: defaultAuth, body: ok, query: url.Values{"page": {"99999999999"}}}, 422, "422.json", "page"},
		{"body too large", call{auth: defaultAuth, body: `{"x":"` + strings.Repeat("a", maxBody) + `"}`}, 422, "422.json", "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.call)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			want, err := os.ReadFile("testdata/" + tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, body, want) {
				t.Errorf("body %s, want the vendor's %s", body, want)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type %q", got)
			}
			if got := resp.Header.Get("X-Sim-Reason"); !strings.Contains(got, tt.reason) {
				t.Errorf("X-Sim-Reason %q, want it to mention %q", got, tt.reason)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	f := setup(t, testConfig(), after)
	tests := []struct {
		name   string
		call   call
		status int
		allow  string
	}{
		{"GET on the endpoint", call{method: http.MethodGet, auth: defaultAuth}, 405, "POST"},
		{"PUT on the endpoint", call{method: http.MethodPut, auth: defaultAuth}, 405, "POST"},
		{"other path", call{path: "/v1/metrics/conversations", auth: defaultAuth}, 404, ""},
		{"trailing slash", call{path: APIPath + "/", auth: defaultAuth}, 404, ""},
		{"unknown admin path", call{path: "/_sim/nothing", method: http.MethodGet}, 404, ""},
		{"admin wrong method", call{path: "/_sim/stats", method: http.MethodPost}, 405, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.call)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if !json.Valid(body) {
				t.Errorf("body is not JSON: %s", body)
			}
		})
	}
}

func TestSuccessBody(t *testing.T) {
	f := setup(t, testConfig(), after)
	_, body := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(24*time.Hour)), query: url.Values{"limit": {"1"}}})
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"links", "message", "pagination", "results", "status"}; !slices.Equal(keys, want) {
		t.Errorf("top-level members %v, want %v", keys, want)
	}
	if string(top["message"]) != `["Retrieving conversations succeeded"]` || string(top["status"]) != `"success"` {
		t.Errorf("message %s status %s", top["message"], top["status"])
	}
	p := decodePage(t, body)
	if len(p.Results) != 1 {
		t.Fatalf("%d results, want 1", len(p.Results))
	}
	row := p.Results[0]
	for _, field := range []string{"_id", "operator", "user", "bot", "company", "assignationMethod", "state", "endedReason", "startAt", "endAt", "origin", "timeRepliedOperator", "conversationDuration", "tags"} {
		if _, ok := row[field]; !ok {
			t.Errorf("row lacks %q: %v", field, row)
		}
	}
	for path, v := range map[string]any{
		"operator.names": row["operator"].(map[string]any)["names"], "user.id": row["user"].(map[string]any)["id"],
		"bot.name": row["bot"].(map[string]any)["name"], "company.id": row["company"].(map[string]any)["id"],
		"assignationMethod.teamName": row["assignationMethod"].(map[string]any)["teamName"],
	} {
		if s, ok := v.(string); !ok || s == "" {
			t.Errorf("%s is %#v, want a non-empty string", path, v)
		}
	}
	if _, ok := p.Pagination["page"]; ok {
		t.Errorf("pagination has page by default: %v", p.Pagination)
	}
}

func TestRowValuesAreConsistent(t *testing.T) {
	f := setup(t, testConfig(), after)
	d := f.sim.Dataset()
	for i := range d.Len() {
		c := d.Conversation(i)
		if !(c.Start.Before(c.VisibleAt) && c.VisibleAt.Before(c.Transition)) {
			t.Fatalf("conversation %d: start %v, visible %v, transition %v out of order", i, c.Start, c.VisibleAt, c.Transition)
		}
		if got := c.RepliedMs / 1000; got != int64(c.VisibleAt.Sub(c.Start)/time.Second) {
			t.Fatalf("conversation %d: timeRepliedOperator %dms, attend delay %v", i, c.RepliedMs, c.VisibleAt.Sub(c.Start))
		}
		if got := c.DurationMs / 1000; got != int64(c.Transition.Sub(c.Start)/time.Second) {
			t.Fatalf("conversation %d: conversationDuration %dms, life %v", i, c.DurationMs, c.Transition.Sub(c.Start))
		}
		if !c.FinalState.Terminal() {
			t.Fatalf("conversation %d: final state %q", i, c.FinalState)
		}
		if j, ok := d.Lookup(c.ID); !ok || j != i {
			t.Fatalf("Lookup(%s) = %d, %v; want %d", c.ID, j, ok, i)
		}
	}
}

func TestPagination(t *testing.T) {
	cfg := testConfig()
	cfg.PageCap = 50
	f := setup(t, cfg, after)
	from, to := day0, day0.Add(6*time.Hour)
	total := len(expected(f.sim.Dataset(), from, to, after))
	if total < 120 {
		t.Fatalf("test data has only %d rows in the window", total)
	}
	lastPage := (total + 9) / 10
	tests := []struct {
		name                                   string
		limit, page                            int
		wantLimit, wantOffset, wantRows, pages int
		links                                  []int
	}{
		{"defaults", 0, 0, 10, 0, 10, lastPage, []int{1, 2}},
		{"second page", 10, 2, 10, 10, 10, lastPage, []int{1, 2, 3}},
		{"last short page", 10, lastPage, 10, (lastPage - 1) * 10, total - (lastPage-1)*10, lastPage, []int{lastPage - 1, lastPage}},
		{"page beyond the end", 10, lastPage + 1, 10, lastPage * 10, 0, lastPage, []int{lastPage}},
		{"far beyond the end", 10, lastPage + 5, 10, (lastPage + 4) * 10, 0, lastPage, nil},
		{"limit capped", 500, 1, 50, 0, 50, (total + 49) / 50, []int{1, 2}},
		{"one per page", 1, 1, 1, 0, 1, total, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.fetch(t, from, to, tt.limit, tt.page)
			want := map[string]int{"limit": tt.wantLimit, "total": total, "offset": tt.wantOffset, "totalPages": tt.pages}
			if !reflect.DeepEqual(p.Pagination, want) {
				t.Errorf("pagination %v, want %v", p.Pagination, want)
			}
			if len(p.Results) != tt.wantRows {
				t.Errorf("%d rows, want %d", len(p.Results), tt.wantRows)
			}
			var links []int
			for _, l := range p.Links {
				links = append(links, l.Number)
				if want := fmt.Sprintf("%s?limit=%d&page=%d", APIPath, tt.wantLimit, l.Number); l.URL != want {
					t.Errorf("link url %q, want %q", l.URL, want)
				}
			}
			if !slices.Equal(links, tt.links) {
				t.Errorf("links %v, want %v", links, tt.links)
			}
		})
	}
}

func TestEmptyWindow(t *testing.T) {
	f := setup(t, testConfig(), after)
	p := f.fetch(t, day0.Add(-48*time.Hour), day0.Add(-24*time.Hour), 10, 1)
	want := map[string]int{"limit": 10, "total": 0, "offset": 0, "totalPages": 0}
	if !reflect.DeepEqual(p.Pagination, want) || len(p.Results) != 0 || len(p.Links) != 0 {
		t.Errorf("empty window: pagination %v, %d rows, links %v", p.Pagination, len(p.Results), p.Links)
	}
}

func TestIncludePage(t *testing.T) {
	cfg := testConfig()
	cfg.IncludePage = true
	f := setup(t, cfg, after)
	p := f.fetch(t, day0, day0.Add(time.Hour), 5, 2)
	if p.Pagination["page"] != 2 {
		t.Errorf("pagination %v, want page 2", p.Pagination)
	}
}

// TestPagingCoversWindow pages through a window in every order and checks
// that each visible conversation comes exactly once.
func TestPagingCoversWindow(t *testing.T) {
	for _, order := range []Order{OrderStartDesc, OrderStartAsc, OrderShuffled} {
		t.Run(string(order), func(t *testing.T) {
			cfg := testConfig()
			cfg.Order = order
			f := setup(t, cfg, after)
			from, to := day0.Add(3*time.Hour), day0.Add(9*time.Hour)
			want := expected(f.sim.Dataset(), from, to, after)
			seen := map[string]int{}
			var starts []string
			for pg := 1; ; pg++ {
				p := f.fetch(t, from, to, 7, pg)
				if len(p.Results) == 0 {
					break
				}
				for _, r := range p.Results {
					seen[r["_id"].(string)]++
					starts = append(starts, r["startAt"].(string))
				}
			}
			if len(seen) != len(want) {
				t.Errorf("saw %d conversations, want %d", len(seen), len(want))
			}
			for id, n := range seen {
				if _, ok := want[id]; !ok || n != 1 {
					t.Errorf("conversation %s seen %d times, expected: %v", id, n, ok)
				}
			}
			switch order {
			case OrderStartAsc:
				if !slices.IsSorted(starts) {
					t.Error("start-asc rows are not ascending")
				}
			case OrderStartDesc:
				if !slices.IsSortedFunc(starts, func(a, b string) int { return strings.Compare(b, a) }) {
					t.Error("start-desc rows are not descending")
				}
			case OrderShuffled:
				if slices.IsSorted(starts) || slices.IsSortedFunc(starts, func(a, b string) int { return strings.Compare(b, a) }) {
					t.Error("shuffled rows are sorted")
				}
			}
		})
	}
}

func TestFilterIsInclusive(t *testing.T) {
	f := setup(t, testConfig(), after)
	c := f.sim.Dataset().Conversation(500)
	s := c.Start
	ect := time.FixedZone("ECT", -5*3600)
	has := func(body string) bool {
		t.Helper()
		resp, b := f.do(t, call{auth: defaultAuth, body: body, query: url.Values{"limit": {"100"}}})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return slices.Contains(decodePage(t, b).ids(), c.ID)
	}
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"single second", windowBody(s, s), true},
		{"starts at it", windowBody(s, s.Add(time.Minute)), true},
		{"ends at it", windowBody(s.Add(-time.Minute), s), true},
		{"starts a second later", windowBody(s.Add(time.Second), s.Add(time.Minute)), false},
		{"ends a second earlier", windowBody(s.Add(-time.Minute), s.Add(-time.Second)), false},
		{"same instant with an offset", windowBody(s.In(ect), s.In(ect)), true},
		{"fraction truncated", `{"startAt":"` + s.Format("2006-01-02T15:04:05") + `.900Z","endAt":"` + s.Format("2006-01-02T15:04:05") + `.100Z","getJson":true}`, true},
		{"basic offset form", `{"startAt":"` + s.In(ect).Format("2006-01-02T15:04:05-0700") + `","endAt":"` + s.Format(time.RFC3339) + `","getJson":true}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := has(tt.body); got != tt.want {
				t.Errorf("conversation started %s listed: %v, want %v (body %s)", s.Format(time.RFC3339), got, tt.want, tt.body)
			}
		})
	}
}

func TestRowFormatting(t *testing.T) {
	ect := time.FixedZone("ECT", -5*3600)
	tests := []struct {
		name    string
		loc     *time.Location
		endAt   ActiveEndAt
		wantEnd any // for an active row
	}{
		{"UTC and null", nil, "", nil},
		{"Guayaquil and empty", ect, ActiveEndAtEmpty, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Location, cfg.ActiveEndAt = tt.loc, tt.endAt
			f := setup(t, cfg, after)
			d := f.sim.Dataset()
			// A conversation active at `after`, and a terminal one.
			var active, done Conversation
			for i := range d.Len() {
				c := d.Conversation(i)
				if c.StateAt(after) == jelou.StateActive && active.ID == "" {
					active = c
				}
				if c.StateAt(after).Terminal() && done.ID == "" {
					done = c
				}
			}
			if active.ID == "" || done.ID == "" {
				t.Fatal("test data lacks an active or a terminal conversation")
			}
			loc := tt.loc
			if loc == nil {
				loc = time.UTC
			}
			for _, c := range []Conversation{active, done} {
				row := f.fetch(t, c.Start, c.Start, 100, 1).row(c.ID)
				if row == nil {
					t.Fatalf("conversation %s not listed", c.ID)
				}
				if got, want := row["startAt"], c.Start.In(loc).Format(RowTimeLayout); got != want {
					t.Errorf("startAt %v, want %v", got, want)
				}
				var wantEnd, wantReason any = tt.wantEnd, tt.wantEnd
				if c.ID == done.ID {
					wantEnd, wantReason = c.Transition.In(loc).Format(RowTimeLayout), c.EndedReason
				}
				if row["endAt"] != wantEnd || row["endedReason"] != wantReason {
					t.Errorf("%s row: endAt %#v endedReason %#v, want %#v and %#v", row["state"], row["endAt"], row["endedReason"], wantEnd, wantReason)
				}
			}
		})
	}
}

func TestAuthForms(t *testing.T) {
	raw := "sim-client:sim-secret"
	tests := []struct {
		forms  AuthForms
		header string
		want   int
	}{
		{AuthBoth, defaultAuth, 200},
		{AuthBoth, raw, 200},
		{AuthBoth, "basic " + defaultAuth[len("Basic "):], 200},
		{AuthBasic, defaultAuth, 200},
		{AuthBasic, raw, 401},
		{AuthRaw, raw, 200},
		{AuthRaw, defaultAuth, 401},
		{AuthBoth, "Basic " + raw, 401},
		{AuthBoth, "Basic !!!", 401},
		{AuthBoth, "Bearer " + raw, 401},
		{AuthBoth, "sim-client:other", 401},
		{AuthBoth, "", 401},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("forms %d header %q", tt.forms, tt.header), func(t *testing.T) {
			cfg := testConfig()
			cfg.Auth = tt.forms
			f := setup(t, cfg, after)
			resp, body := f.do(t, call{auth: tt.header, body: windowBody(day0, day0.Add(time.Hour))})
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
		})
	}
}

func TestCredentialsChangeAtRunTime(t *testing.T) {
	f := setup(t, testConfig(), after)
	status := func(auth string) int {
		resp, _ := f.do(t, call{auth: auth, body: windowBody(day0, day0.Add(time.Hour))})
		return resp.StatusCode
	}
	if got := status(defaultAuth); got != 200 {
		t.Fatalf("before revoke: %d", got)
	}
	f.sim.Revoke()
	if got := status(defaultAuth); got != 401 {
		t.Errorf("after revoke: %d, want 401", got)
	}
	f.sim.SetCredentials("new-id", "new-secret")
	if got := status(defaultAuth); got != 401 {
		t.Errorf("old credentials after change: %d, want 401", got)
	}
	if got := status("new-id:new-secret"); got != 200 {
		t.Errorf("new credentials: %d, want 200", got)
	}
}

// TestLateRowsAndTransitions moves a manual clock through one
// conversation's life.
func TestLateRowsAndTransitions(t *testing.T) {
	f := setup(t, testConfig(), day0)
	d := f.sim.Dataset()
	var c Conversation
	for i := range d.Len() { // a late row: attended minutes after it started
		if c = d.Conversation(i); c.VisibleAt.Sub(c.Start) > 2*time.Minute {
			break
		}
	}
	if c.VisibleAt.Sub(c.Start) <= 2*time.Minute {
		t.Fatal("test data has no late row")
	}
	tests := []struct {
		name  string
		now   time.Time
		state string // "" when not listed
		end   any
	}{
		{"before start", c.Start.Add(-time.Second), "", nil},
		{"started, not attended", c.Start, "", nil},
		{"a second before visible", c.VisibleAt.Add(-time.Second), "", nil},
		{"visible", c.VisibleAt, "active", nil},
		{"a second before transition", c.Transition.Add(-time.Second), "active", nil},
		{"transition", c.Transition, string(c.FinalState), c.Transition.Format(RowTimeLayout)},
		{"much later", c.Transition.Add(48 * time.Hour), string(c.FinalState), c.Transition.Format(RowTimeLayout)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Set(tt.now)
			row := f.fetch(t, c.Start, c.Start, 100, 1).row(c.ID)
			switch {
			case tt.state == "" && row != nil:
				t.Errorf("listed at %v: %v", tt.now, row)
			case tt.state != "" && row == nil:
				t.Errorf("not listed at %v", tt.now)
			case row != nil && (row["state"] != tt.state || row["endAt"] != tt.end):
				t.Errorf("state %v endAt %v, want %v and %v", row["state"], row["endAt"], tt.state, tt.end)
			}
		})
	}
}

// TestScaledClockTransition runs a conversation's transition under a fast
// clock.Scaled: the row must eventually turn terminal.
func TestScaledClockTransition(t *testing.T) {
	cfg := testConfig()
	probe, err := Generate(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	c := probe.Conversation(0)
	for i := range probe.Len() {
		if c = probe.Conversation(i); c.Transition.Sub(c.VisibleAt) < 30*time.Minute {
			break
		}
	}
	cfg.Clock = clock.NewScaled(c.VisibleAt, 3600) // one real second is one simulated hour
	f := serve(t, cfg)
	states := map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r := f.fetch(t, c.Start, c.Start, 100, 1).row(c.ID); r != nil {
			states[r["state"].(string)] = true
		}
		if states[string(c.FinalState)] {
			break
		}
	}
	if !states[string(c.FinalState)] {
		t.Fatalf("conversation never reached %s; saw %v", c.FinalState, states)
	}
}

func TestDeterministicBySeed(t *testing.T) {
	body := func(seed uint64) []byte {
		cfg := testConfig()
		cfg.Data.Seed = seed
		f := setup(t, cfg, after)
		_, b := f.do(t, call{auth: defaultAuth, body: windowBody(day0, day0.Add(24*time.Hour)), query: url.Values{"limit": {"100"}, "page": {"3"}}})
		return b
	}
	a, b, other := body(42), body(42), body(43)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different bodies")
	}
	if bytes.Equal(a, other) {
		t.Error("different seeds, same body")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"end before start", func(c *Config) { c.Data.End = c.Data.Start.Add(-time.Hour) }, "must be after start"},
		{"too many", func(c *Config) { c.Data.Count = MaxCount + 1 }, "count must be between"},
		{"negative cap", func(c *Config) { c.PageCap = -1 }, "page cap must be positive"},
		{"bad order", func(c *Config) { c.Order = "random" }, "order must be"},
		{"bad endAt form", func(c *Config) { c.ActiveEndAt = "none" }, "active endAt"},
		{"bad fault kind", func(c *Config) { c.FaultRates = FaultRates{"418": 0.1} }, "unknown fault kind"},
		{"rates above one", func(c *Config) { c.FaultRates = FaultRates{FaultInternal: 0.6, FaultBadGateway: 0.6} }, "more than 1"},
		{"negative rate limit", func(c *Config) { c.RateLimit = -1 }, "rate limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mod(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestPadRow checks that the padded row carries its notes in every
// response that holds it, the same each time, and that no other row does.
func TestPadRow(t *testing.T) {
	cfg := testConfig()
	cfg.PadRow = PadRow{Size: 100 << 10}
	f := setup(t, cfg, after)
	c := f.sim.Dataset().Conversation(0)
	from, to := c.Start.Add(-time.Minute), c.Start.Add(time.Minute)
	var first string
	for i := range 2 {
		p := f.fetch(t, from, to, 100, 1)
		for _, r := range p.Results {
			notes, padded := r["notes"].(string)
			switch {
			case r["_id"] != c.ID && padded:
				t.Errorf("row %v is padded too", r["_id"])
			case r["_id"] == c.ID && len(notes) != 100<<10:
				t.Errorf("padded row has %d bytes of notes, want %d", len(notes), 100<<10)
			case r["_id"] == c.ID && i == 0:
				first = notes
			case r["_id"] == c.ID && notes != first:
				t.Error("the padding changed between two responses")
			}
		}
		if p.row(c.ID) == nil {
			t.Fatalf("the window around %s does not hold it", c.ID)
		}
	}
	if id := f.sim.SetPadRow(PadRow{}); id != "" {
		t.Errorf("SetPadRow(zero) = %q, want none", id)
	}
	if _, padded := f.fetch(t, from, to, 100, 1).row(c.ID)["notes"]; padded {
		t.Error("the row is still padded after SetPadRow(PadRow{})")
	}
}
