package jelousim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now().Add(d)
	return ch
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var (
	day0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// after is when every test conversation is visible and all but the
	// long-lived ones are terminal.
	after = day0.Add(36 * time.Hour)
)

// testConfig is a small data set over day0's 24 hours.
func testConfig() Config {
	return Config{Data: DataConfig{Seed: 7, Start: day0, End: day0.Add(24 * time.Hour), Count: 1000, Companies: 20}}
}

type fixture struct {
	sim   *Server
	clock *manualClock
	url   string
}

// setup starts a simulator for cfg at clock time now, on a manual clock.
func setup(t *testing.T, cfg Config, now time.Time) *fixture {
	t.Helper()
	clk := &manualClock{t: now}
	cfg.Clock = clk
	f := serve(t, cfg)
	f.clock = clk
	return f
}

// serve starts a simulator for cfg on cfg's own clock; f.clock is nil.
func serve(t *testing.T, cfg Config) *fixture {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &fixture{sim: sim, url: ts.URL}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

var defaultAuth = basic("sim-client", "sim-secret")

func windowBody(from, to time.Time) string {
	return `{"startAt":"` + from.Format(time.RFC3339) + `","endAt":"` + to.Format(time.RFC3339) + `","getJson":true}`
}

// call is one API request.
type call struct {
	method, path, auth, body string
	query                    url.Values
}

func (f *fixture) do(t *testing.T, c call) (*http.Response, []byte) {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.path == "" {
		c.path = APIPath
	}
	u := f.url + c.path
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	req, err := http.NewRequest(c.method, u, bytes.NewBufferString(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// fetch posts a window query and decodes the 200 body.
func (f *fixture) fetch(t *testing.T, from, to time.Time, limit, page int) page {
	t.Helper()
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	resp, body := f.do(t, call{auth: defaultAuth, body: windowBody(from, to), query: q})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	return decodePage(t, body)
}

// page is a 200 body decoded independently of pkg/jelou.
type page struct {
	Message    []string         `json:"message"`
	Status     string           `json:"status"`
	Results    []map[string]any `json:"results"`
	Pagination map[string]int   `json:"pagination"`
	Links      []struct {
		Number int    `json:"number"`
		URL    string `json:"url"`
	} `json:"links"`
}

func decodePage(t *testing.T, body []byte) page {
	t.Helper()
	var p page
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode 200 body: %v\n%.500s", err, body)
	}
	return p
}

// row returns the row of conversation id, or nil when the page lacks it.
func (p page) row(id string) map[string]any {
	var row map[string]any
	for _, r := range p.Results {
		if r["_id"] == id {
			row = r
		}
	}
	return row
}

func (p page) ids() []string {
	var ids []string
	for _, r := range p.Results {
		id, _ := r["_id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// expected lists, independently of the serving code, the conversations of
// [from, to] visible at now.
func expected(d *Dataset, from, to, now time.Time) map[string]Conversation {
	out := map[string]Conversation{}
	for i := range d.Len() {
		c := d.Conversation(i)
		if !c.Start.Before(from) && !c.Start.After(to) && !c.VisibleAt.After(now) {
			out[c.ID] = c
		}
	}
	return out
}

// discard is an http.ResponseWriter that drops everything.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
