package jelou

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

const (
	testClientID = "client-id-7Q2"
	testSecret   = "s3cr3t-VALUE-xyz"
)

// testWindow is 2025-01-01 in UTC−5, the vendor's example.
var testWindow = Window{
	Start: time.Date(2025, 1, 1, 5, 0, 0, 0, time.UTC),
	End:   time.Date(2025, 1, 2, 4, 59, 59, 0, time.UTC),
}

// recorder is an Observer that keeps everything it is told.
type recorder struct {
	mu       sync.Mutex
	requests []RequestInfo
	retries  []RetryInfo
}

func (r *recorder) Request(i RequestInfo) {
	r.mu.Lock()
	r.requests = append(r.requests, i)
	r.mu.Unlock()
}
func (r *recorder) Retry(i RetryInfo) { r.mu.Lock(); r.retries = append(r.retries, i); r.mu.Unlock() }

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, i := range r.requests {
		s = append(s, i.Status)
	}
	return s
}

// setup starts an httptest server running h and returns a Client for it:
// no client-side rate limit, tiny backoff, at most 3 attempts. mutate, when
// not nil, adjusts the configuration first.
func setup(t *testing.T, h http.Handler, mutate func(*Config)) (*Client, *recorder) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	cfg := Config{
		BaseURL:     srv.URL,
		Credentials: Credentials{ClientID: testClientID, ClientSecret: testSecret},
		RateLimit:   -1,
		Retry: RetryConfig{
			InitialInterval: time.Millisecond,
			MaxInterval:     2 * time.Millisecond,
			MaxElapsedTime:  10 * time.Second,
			MaxAttempts:     3,
		},
		Observer: rec,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// serveFile answers every request with status and the testdata file name.
func serveFile(t *testing.T, status int, name string, header http.Header) http.HandlerFunc {
	body := readTestdata(t, name)
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// hang blocks a handler until the client goes away or the test ends. It
// reads the body first: the server notices a closed connection (and cancels
// r.Context) only once the request body has been consumed.
func hang(t *testing.T, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-t.Context().Done():
	}
}

func TestFetchPageRequest(t *testing.T) {
	var (
		got     *http.Request
		gotBody []byte
	)
	h := func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		gotBody, _ = io.ReadAll(r.Body)
		_, _ = w.Write(readTestdata(t, "page_vendor_sample.json"))
	}
	c, _ := setup(t, http.HandlerFunc(h), func(c *Config) {
		c.Location = guayaquil
		c.PageSize = 25
		c.Version = "1.2.3"
	})
	p, err := c.FetchPage(context.Background(), testWindow, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Number != 2 || len(p.Conversations) != 1 {
		t.Errorf("page Number = %d with %d rows", p.Number, len(p.Conversations))
	}
	checks := []struct{ name, got, want string }{
		{"method", got.Method, "POST"},
		{"path", got.URL.Path, "/v1/metrics/conversations/attended/external"},
		{"query", got.URL.RawQuery, "limit=25&page=2"},
		{"Content-Type", got.Header.Get("Content-Type"), "application/json;charset=UTF-8"},
		{"Accept", got.Header.Get("Accept"), "application/json"},
		{"User-Agent", got.Header.Get("User-Agent"), "jelou-producer/1.2.3"},
		{"body", string(gotBody), `{"startAt":"2025-01-01T00:00:00-05:00","endAt":"2025-01-01T23:59:59-05:00","getJson":true}`},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
}

func TestFetchPageUTCOffsetAndFraction(t *testing.T) {
	var gotBody []byte
	h := func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		_, _ = w.Write(readTestdata(t, "page_message_string.json"))
	}
	c, _ := setup(t, http.HandlerFunc(h), nil)
	w := Window{Start: time.Date(2025, 1, 1, 0, 0, 0, 900e6, time.UTC), End: time.Date(2025, 1, 1, 0, 59, 59, 999e6, time.UTC)}
	if _, err := c.FetchPage(context.Background(), w, 1); err != nil {
		t.Fatal(err)
	}
	want := `{"startAt":"2025-01-01T00:00:00+00:00","endAt":"2025-01-01T00:59:59+00:00","getJson":true}`
	if string(gotBody) != want {
		t.Errorf("body = %s, want %s", gotBody, want)
	}
}

func TestAuthHeader(t *testing.T) {
	pair := testClientID + ":" + testSecret
	tests := []struct {
		scheme AuthScheme
		want   string
	}{
		{"", "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))},
		{AuthBasic, "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))},
		{AuthRaw, pair},
	}
	for _, tt := range tests {
		t.Run(string(tt.scheme), func(t *testing.T) {
			var got string
			h := func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("Authorization")
				_, _ = w.Write(readTestdata(t, "page_message_string.json"))
			}
			c, _ := setup(t, http.HandlerFunc(h), func(c *Config) { c.AuthScheme = tt.scheme })
			if _, err := c.FetchPage(context.Background(), testWindow, 1); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFetchPageStatuses(t *testing.T) {
	huge := append([]byte(`{"results":[`), bytes.Repeat([]byte(`{"_id":"x"},`), 200)...)
	tests := []struct {
		name     string
		status   int              // with file and header, the response of serveFile
		file     string           // testdata file served
		header   http.Header      // response headers
		handler  http.HandlerFunc // instead of serveFile
		mutate   func(*Config)
		attempts int
		check    func(t *testing.T, err error)
		contains string
	}{
		{
			name: "200", status: 200, file: "page_vendor_sample.json",
			attempts: 1,
		},
		{
			name: "401 not retried", status: 401, file: "error_401.json",
			attempts: 1, check: isType[*AuthError], contains: "Authentication failed",
		},
		{
			name: "422 not retried", status: 422, file: "error_422.json",
			attempts: 1, check: isType[*ValidationError], contains: "E0422",
		},
		{
			name: "429 seconds retried", status: 429, file: "error_429.json",
			header:   http.Header{"Retry-After": {"1"}},
			mutate:   func(c *Config) { c.Retry.MaxRetryAfter = 5 * time.Millisecond },
			attempts: 3, check: wantRetryAfter(time.Second), contains: "after 3 attempts",
		},
		{
			name: "429 HTTP-date retried", status: 429, file: "error_429.json",
			header: http.Header{
				"Retry-After": {"Tue, 10 Jun 2025 12:00:02 GMT"},
				"Date":        {"Tue, 10 Jun 2025 12:00:00 GMT"},
			},
			mutate:   func(c *Config) { c.Retry.MaxRetryAfter = 5 * time.Millisecond },
			attempts: 3, check: wantRetryAfter(2 * time.Second),
		},
		{
			name: "429 without Retry-After retried", status: 429, file: "error_429.json",
			attempts: 3, check: wantRetryAfter(0),
		},
		{
			name: "500 retried", status: 500, file: "error_500.json",
			attempts: 3, check: isType[*ServerError], contains: "trouble processing",
		},
		{
			name: "502 html retried", status: 502, file: "error_502.html",
			attempts: 3, check: isType[*ServerError], contains: "502 Bad Gateway",
		},
		{
			name: "503 retried", status: 503, file: "error_500.json",
			attempts: 3, check: isType[*ServerError],
		},
		{
			name: "404 not retried", status: 404, file: "error_404.html",
			attempts: 1, check: isType[*StatusError], contains: "Cannot POST",
		},
		{
			name: "400 not retried", status: 400, file: "error_400.json",
			attempts: 1, check: isType[*StatusError],
		},
		{
			name: "truncated JSON", status: 200, file: "page_truncated.json",
			attempts: 1, check: isType[*DecodeError], contains: "decode response (HTTP 200): truncated JSON",
		},
		{
			name: "200 not JSON", status: 200, file: "page_not_json.txt",
			attempts: 1, check: isType[*DecodeError], contains: "Service temporarily in maintenance",
		},
		{
			name: "oversized body without length",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.(http.Flusher).Flush() // chunked: no Content-Length
				_, _ = w.Write(huge)
			},
			mutate:   func(c *Config) { c.MaxBodyBytes = 1000 },
			attempts: 1, check: isType[*BodyTooLargeError], contains: "exceeds the 1000-byte limit",
		},
		{
			name:     "oversized body with length",
			handler:  func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(huge) },
			mutate:   func(c *Config) { c.MaxBodyBytes = 1000 },
			attempts: 1, check: isType[*BodyTooLargeError],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			inner := tt.handler
			if inner == nil {
				inner = serveFile(t, tt.status, tt.file, tt.header)
			}
			h := func(w http.ResponseWriter, r *http.Request) { calls.Add(1); inner(w, r) }
			c, rec := setup(t, http.HandlerFunc(h), tt.mutate)
			p, err := c.FetchPage(context.Background(), testWindow, 1)
			if got := int(calls.Load()); got != tt.attempts {
				t.Errorf("server saw %d requests, want %d", got, tt.attempts)
			}
			if len(rec.requests) != tt.attempts || len(rec.retries) != tt.attempts-1 {
				t.Errorf("observer saw %d requests and %d retries, want %d and %d",
					len(rec.requests), len(rec.retries), tt.attempts, tt.attempts-1)
			}
			if tt.check == nil {
				if err != nil || p == nil {
					t.Fatalf("FetchPage = %v, %v", p, err)
				}
				return
			}
			if err == nil {
				t.Fatal("FetchPage succeeded, want an error")
			}
			tt.check(t, err)
			if !strings.HasPrefix(err.Error(), "fetch "+testWindow.String()+" page 1: ") {
				t.Errorf("error %q lacks the fetch context", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	var calls atomic.Int32
	h := func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(readTestdata(t, "page_vendor_sample.json"))
	}
	c, rec := setup(t, http.HandlerFunc(h), nil)
	p, err := c.FetchPage(context.Background(), testWindow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conversations) != 1 {
		t.Errorf("got %d rows", len(p.Conversations))
	}
	if got, want := strings.Join(rec.statuses(), ","), "503,503,200"; got != want {
		t.Errorf("statuses = %s, want %s", got, want)
	}
	for i, r := range rec.retries {
		if r.Attempt != i+1 || r.Page != 1 || r.Window != testWindow || !IsTemporary(r.Err) {
			t.Errorf("retry %d = %+v", i, r)
		}
	}
	if last := rec.requests[2]; last.Attempt != 3 || last.Rows != 1 || last.StatusCode != 200 || last.Err != nil {
		t.Errorf("last request = %+v", last)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		maxWait    time.Duration // RetryConfig.MaxRetryAfter
		atLeast    time.Duration
		atMost     time.Duration
	}{
		// The exponential policy alone waits 1–2ms here.
		{"429 seconds, capped", 429, "120", 40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond},
		{"429 absent", 429, "", 40 * time.Millisecond, 0, 3 * time.Millisecond},
		{"503 seconds, capped", 503, "120", 40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond},
		{"503 absent", 503, "", 40 * time.Millisecond, 0, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					w.WriteHeader(tt.status)
					return
				}
				_, _ = w.Write(readTestdata(t, "page_message_string.json"))
			}
			c, rec := setup(t, http.HandlerFunc(h), func(c *Config) { c.Retry.MaxRetryAfter = tt.maxWait })
			if _, err := c.FetchPage(context.Background(), testWindow, 1); err != nil {
				t.Fatal(err)
			}
			if len(rec.retries) != 1 {
				t.Fatalf("got %d retries, want 1", len(rec.retries))
			}
			if w := rec.retries[0].Wait; w < tt.atLeast || w > tt.atMost {
				t.Errorf("wait before retry = %s, want within [%s, %s]", w, tt.atLeast, tt.atMost)
			}
		})
	}
}

func TestRetryAfterBeyondBudgetStops(t *testing.T) {
	var calls atomic.Int32
	h := func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	c, _ := setup(t, http.HandlerFunc(h), func(c *Config) {
		c.Retry.MaxElapsedTime = time.Second
		c.Retry.MaxRetryAfter = time.Hour
		c.Retry.MaxAttempts = 0
	})
	_, err := c.FetchPage(context.Background(), testWindow, 1)
	if rl := wantType[*RateLimitError](t, err); rl.RetryAfter != 2*time.Minute {
		t.Errorf("RetryAfter = %s", rl.RetryAfter)
	}
	if calls.Load() != 1 {
		t.Errorf("server saw %d requests, want 1: a wait past MaxElapsedTime must not be started", calls.Load())
	}
}

func TestRateLimiterShared(t *testing.T) {
	// One token, refilled every ~17 minutes: the first request takes it, any
	// later request of the same Client (retry or not) must wait, which the
	// context's deadline forbids.
	tests := []struct {
		name   string
		status int
		second bool // make a second FetchPage call
	}{
		{"across requests", 200, true},
		{"across retries", 503, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tt.status)
				_, _ = w.Write(readTestdata(t, "page_message_string.json"))
			}
			c, _ := setup(t, http.HandlerFunc(h), func(c *Config) { c.RateLimit = 0.001; c.RateBurst = 1 })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := c.FetchPage(ctx, testWindow, 1)
			if tt.second {
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.FetchPage(ctx, testWindow, 2)
			}
			if err == nil || !strings.Contains(err.Error(), "wait for rate limiter") {
				t.Fatalf("error = %v, want a rate limiter wait failure", err)
			}
			if calls.Load() != 1 {
				t.Errorf("server saw %d requests, want 1", calls.Load())
			}
		})
	}
}

func TestSharedLimiterAcrossClients(t *testing.T) {
	lim := rate.NewLimiter(0.001, 1)
	h := serveFile(t, 200, "page_message_string.json", nil)
	a, _ := setup(t, h, func(c *Config) { c.Limiter = lim })
	b, _ := setup(t, h, func(c *Config) { c.Limiter = lim })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.FetchPage(ctx, testWindow, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.FetchPage(ctx, testWindow, 1); err == nil {
		t.Fatal("second client was not held back by the shared limiter")
	}
}

func TestCancellation(t *testing.T) {
	arrived := make(chan struct{}, 1)
	h := func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		hang(t, r)
	}
	c, rec := setup(t, http.HandlerFunc(h), nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	_, err := c.FetchPage(ctx, testWindow, 1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if len(rec.requests) != 1 || len(rec.retries) != 0 {
		t.Errorf("a cancelled request was retried: %d requests, %d retries", len(rec.requests), len(rec.retries))
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	c, rec := setup(t, serveFile(t, 200, "page_message_string.json", nil), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.FetchPage(ctx, testWindow, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if len(rec.requests) != 0 {
		t.Errorf("%d requests sent with a cancelled context", len(rec.requests))
	}
}

func TestPerRequestTimeout(t *testing.T) {
	var calls atomic.Int32
	h := func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			hang(t, r)
			return
		}
		_, _ = w.Write(readTestdata(t, "page_message_string.json"))
	}
	c, rec := setup(t, http.HandlerFunc(h), func(c *Config) { c.Timeout = 50 * time.Millisecond })
	if _, err := c.FetchPage(context.Background(), testWindow, 1); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rec.statuses(), ","), "timeout,200"; got != want {
		t.Errorf("statuses = %s, want %s", got, want)
	}
	if ne := wantType[*NetworkError](t, rec.requests[0].Err); !ne.Timeout || !ne.Temporary() {
		t.Errorf("first attempt error = %+v, want a temporary timeout", ne)
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	c, rec := setup(t, http.NotFoundHandler(), func(c *Config) {
		c.BaseURL = url
		c.Retry = RetryConfig{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxAttempts: 2}
	})
	_, err := c.FetchPage(context.Background(), testWindow, 1)
	if ne := wantType[*NetworkError](t, err); ne.Timeout {
		t.Errorf("connection refused reported as a timeout: %v", ne)
	}
	if got := strings.Join(rec.statuses(), ","); got != "error,error" {
		t.Errorf("statuses = %s, want error,error", got)
	}
}

func TestFetchPageArguments(t *testing.T) {
	c, rec := setup(t, serveFile(t, 200, "page_message_string.json", nil), nil)
	tests := []struct {
		name string
		w    Window
		page int
	}{
		{"zero window", Window{}, 1},
		{"inverted window", Window{Start: testWindow.End, End: testWindow.Start}, 1},
		{"page 0", testWindow, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.FetchPage(context.Background(), tt.w, tt.page); err == nil {
				t.Error("FetchPage succeeded")
			}
		})
	}
	if len(rec.requests) != 0 {
		t.Errorf("%d requests sent for invalid arguments", len(rec.requests))
	}
}

func TestNewValidates(t *testing.T) {
	creds := Credentials{ClientID: "id", ClientSecret: "secret"}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no credentials", Config{}, "jelou: client id and client secret are both required"},
		{"no secret", Config{Credentials: Credentials{ClientID: "id"}}, "jelou: client id and client secret are both required"},
		{"bad scheme", Config{Credentials: creds, AuthScheme: "bearer"}, `jelou: AuthScheme must be "basic" or "raw", got "bearer"`},
		{"bad URL", Config{Credentials: creds, BaseURL: "ftp://u:hunter2@x"}, `jelou: BaseURL must be an http or https URL with a host, got "ftp://u:xxxxx@x"`},
		{"negative page size", Config{Credentials: creds, PageSize: -1}, "jelou: PageSize must not be negative, got -1"},
		{"negative timeout", Config{Credentials: creds, Timeout: -time.Second}, "jelou: Timeout must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("New error = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c, err := New(Config{Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		if c.PageSize() != DefaultPageSize || c.Location() != time.UTC || c.cfg.Timeout != DefaultTimeout ||
			c.cfg.MaxBodyBytes != DefaultMaxBodyBytes || c.cfg.Retry.MaxElapsedTime != DefaultMaxElapsed ||
			c.limiter.(*pauseGate).Limiter.(*rate.Limiter).Limit() != DefaultRateLimit || c.endpoint.String() != DefaultBaseURL+Path {
			t.Errorf("defaults not applied: %+v", c.cfg)
		}
	})
}

// TestCredentialsNeverPrinted prints and logs every value that holds the
// credentials in every way a developer might, and looks for any form of them.
func TestCredentialsNeverPrinted(t *testing.T) {
	pair := testClientID + ":" + testSecret
	forbidden := []string{testSecret, pair, base64.StdEncoding.EncodeToString([]byte(pair))}
	// A proxy echoing the request's headers in its error page.
	echo := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "<html>denied for Authorization: "+r.Header.Get("Authorization")+" secret="+testSecret+"</html>")
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, scheme := range []AuthScheme{AuthBasic, AuthRaw} {
		t.Run(string(scheme), func(t *testing.T) {
			var cfg Config
			c, _ := setup(t, http.HandlerFunc(echo), func(c *Config) {
				c.AuthScheme = scheme
				c.Logger = logger
				cfg = *c
			})
			_, err := c.FetchPage(context.Background(), testWindow, 1)
			if err == nil {
				t.Fatal("want an error")
			}
			logger.Info("values", "config", cfg, "client", c, "credentials", cfg.Credentials, "secret", cfg.Credentials.ClientSecret)
			var out strings.Builder
			for _, v := range []any{cfg, &cfg, cfg.Credentials, &cfg.Credentials, cfg.Credentials.ClientSecret, c, *c} {
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
					out.WriteString(fmt.Sprintf(verb, v) + "\n")
				}
			}
			out.WriteString(err.Error() + "\n" + logs.String())
			for _, f := range forbidden {
				if strings.Contains(out.String(), f) {
					t.Errorf("output contains the credential %q:\n%s", f, out.String())
				}
			}
			if !strings.Contains(logs.String(), `"msg":"jelou request"`) {
				t.Errorf("no debug record per request was logged:\n%s", logs.String())
			}
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("echoed credentials were not replaced: %v", err)
			}
			if !strings.Contains(fmt.Sprintf("%v", cfg), "Credentials{ClientID:[set] ClientSecret:[set]}") {
				t.Errorf("Config prints as %v", cfg)
			}
		})
	}
}

// TestErrorsRedactEncodedCredentials has the vendor echo the credentials in
// its error bodies raw, JSON-escaped (\/, \u002b, \u00e9), base64 (of
// "id:secret" and of the secret alone) and URL-encoded (+ for a space,
// either case of hex), for each error type, and checks that the error text
// holds none of them.
func TestErrorsRedactEncodedCredentials(t *testing.T) {
	const secret = "k+/ S3cr3té~~??>>" // base64 of it and of the pair holds + and /
	pair := testClientID + ":" + secret
	b64 := base64.StdEncoding.EncodeToString([]byte(pair))
	b64Secret := base64.StdEncoding.EncodeToString([]byte(secret))
	if !strings.ContainsAny(b64, "+") || !strings.ContainsAny(b64, "/") {
		t.Fatalf("pick a secret whose base64 holds + and /: %s", b64)
	}
	jsonSlash := func(s string) string { return strings.ReplaceAll(s, "/", `\/`) }
	jsonUnicode := func(s string) string {
		return strings.NewReplacer("+", `\u002B`, "/", `\u002f`, "é", `\u00e9`, ">", `\u003e`, " ", `\u0020`).Replace(s)
	}
	lowerHex := func(s string) string {
		return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(s, strings.ToLower)
	}
	echoes := map[string]string{
		"raw":                 pair,
		"json slash":          jsonSlash("Basic " + b64),
		"json unicode":        jsonUnicode(pair),
		"json unicode secret": jsonUnicode(secret),
		"base64 secret":       jsonSlash(b64Secret),
		"base64 url":          base64.RawURLEncoding.EncodeToString([]byte(pair)),
		"query escaped":       url.QueryEscape(pair),
		"query escaped lower": lowerHex(url.QueryEscape(secret)),
		"path escaped":        url.PathEscape(secret),
		"base64 query":        url.QueryEscape(b64),
	}
	forbidden := []string{secret, pair, b64, b64Secret, strings.TrimRight(b64Secret, "="),
		base64.URLEncoding.EncodeToString([]byte(pair)), url.QueryEscape(pair), url.QueryEscape(secret),
		url.PathEscape(secret), lowerHex(url.QueryEscape(secret)), url.QueryEscape(b64), jsonSlash(b64)}
	bodies := []struct {
		status int
		body   string // %s is the echo, already escaped for a JSON string
	}{
		{http.StatusUnauthorized, `{"message":"bad Authorization %s"}`},
		{http.StatusUnprocessableEntity, `{"message":["bad %s"],"error":{"code":"%s","key":"%s"}}`},
		{http.StatusTooManyRequests, `{"message":"slow down %s"}`},
		{http.StatusBadGateway, `{"message":"upstream said %s"}`},
		{http.StatusTeapot, `{"message":"teapot %s"}`},
		{http.StatusTeapot, `<html>%s</html>`},
		{http.StatusOK, `{"results":[%s`},
	}
	for name, echo := range echoes {
		for _, b := range bodies {
			t.Run(fmt.Sprintf("%s/%d", name, b.status), func(t *testing.T) {
				body := strings.ReplaceAll(b.body, "%s", echo)
				c, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(b.status)
					_, _ = io.WriteString(w, body)
				}), func(c *Config) {
					c.Credentials.ClientSecret = secret
					c.Retry.MaxAttempts = 1
				})
				_, err := c.FetchPage(context.Background(), testWindow, 1)
				if err == nil {
					t.Fatal("want an error")
				}
				msg := err.Error()
				for _, f := range forbidden {
					if strings.Contains(msg, f) {
						t.Errorf("error shows the credential as %q: %s", f, msg)
					}
				}
				if !strings.Contains(msg, "[REDACTED]") {
					t.Errorf("echoed credentials were not replaced: %s", msg)
				}
			})
		}
	}
}

// TestNetworkErrorMasksBaseURLUserinfo sends to a closed port through a
// base URL with a token as user name, and with user:password, and checks
// that the network error shows neither.
func TestNetworkErrorMasksBaseURLUserinfo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for _, base := range []string{"http://tok3n-XYZZY@" + addr, "http://user:hunter2-PLUGH@" + addr} {
		c, err := New(Config{BaseURL: base, Credentials: Credentials{ClientID: testClientID, ClientSecret: testSecret},
			RateLimit: -1, Retry: RetryConfig{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.FetchPage(context.Background(), testWindow, 1)
		if err == nil {
			t.Fatal("want a network error")
		}
		if msg := err.Error(); strings.Contains(msg, "tok3n-XYZZY") || strings.Contains(msg, "hunter2-PLUGH") || !strings.Contains(msg, "xxxxx@") {
			t.Errorf("error shows the base URL's credentials or no mask: %s", msg)
		}
	}
}
