package jelou

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckResponse(t *testing.T) {
	date := "Tue, 10 Jun 2025 12:00:00 GMT"
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      []byte
		check     func(t *testing.T, err error)
		temporary bool
		wantMsg   string
	}{
		{name: "200", status: 200, body: []byte("anything")},
		{name: "204", status: 204},
		{
			name: "401", status: 401, body: readTestdata(t, "error_401.json"),
			wantMsg: "authentication failed (HTTP 401): Authentication failed",
			check:   isType[*AuthError],
		},
		{
			name: "403 empty body", status: 403,
			wantMsg: "authentication failed (HTTP 403): Forbidden",
			check:   isType[*AuthError],
		},
		{
			name: "422", status: 422, body: readTestdata(t, "error_422.json"),
			wantMsg: `request rejected (HTTP 422, code "E0422", key "VALIDATOR_ERROR"): The values entered are not correct.`,
			check: func(t *testing.T, err error) {
				ve := wantType[*ValidationError](t, err)
				if ve.Code != "E0422" || ve.Key != "VALIDATOR_ERROR" || len(ve.Messages) != 1 {
					t.Errorf("ValidationError = %+v", ve)
				}
			},
		},
		{
			name: "429 delta-seconds", status: 429, header: http.Header{"Retry-After": {"7"}},
			body: readTestdata(t, "error_429.json"), temporary: true,
			wantMsg: "rate limited (HTTP 429, retry after 7s): Rate limit exceeded",
			check:   wantRetryAfter(7 * time.Second),
		},
		{
			name: "429 HTTP-date from Date header", status: 429, temporary: true,
			header:  http.Header{"Retry-After": {"Tue, 10 Jun 2025 12:01:30 GMT"}, "Date": {date}},
			body:    readTestdata(t, "error_429.json"),
			wantMsg: "rate limited (HTTP 429, retry after 1m30s)",
			check:   wantRetryAfter(90 * time.Second),
		},
		{
			name: "429 HTTP-date in the past", status: 429, temporary: true,
			header: http.Header{"Retry-After": {"Tue, 10 Jun 2025 11:00:00 GMT"}, "Date": {date}},
			check:  wantRetryAfter(0),
		},
		{
			name: "429 none", status: 429, body: readTestdata(t, "error_429.json"), temporary: true,
			wantMsg: "rate limited (HTTP 429): Rate limit exceeded",
			check:   wantRetryAfter(0),
		},
		{
			name: "429 garbage header", status: 429, header: http.Header{"Retry-After": {"soon"}}, temporary: true,
			check: wantRetryAfter(0),
		},
		{
			name: "429 absurd seconds", status: 429, header: http.Header{"Retry-After": {"99999999999999999"}}, temporary: true,
			check: wantRetryAfter(24 * time.Hour),
		},
		{
			name: "429 seconds overflowing int64", status: 429, header: http.Header{"Retry-After": {"99999999999999999999"}}, temporary: true,
			check: wantRetryAfter(24 * time.Hour),
		},
		{
			name: "429 negative seconds", status: 429, header: http.Header{"Retry-After": {"-5"}}, temporary: true,
			check: wantRetryAfter(0),
		},
		{
			name: "429 negative seconds overflowing int64", status: 429, header: http.Header{"Retry-After": {"-99999999999999999999"}}, temporary: true,
			check: wantRetryAfter(0),
		},
		{
			name: "500", status: 500, body: readTestdata(t, "error_500.json"), temporary: true,
			wantMsg: "server error (HTTP 500): We are having trouble processing your request. Please try again later.",
			check:   isType[*ServerError],
		},
		{
			name: "502 html from a proxy", status: 502, body: readTestdata(t, "error_502.html"), temporary: true,
			wantMsg: `server error (HTTP 502): <html> <head><title>502 Bad Gateway</title></head>`,
			check:   isType[*ServerError],
		},
		{
			name: "503 empty", status: 503, temporary: true,
			wantMsg: "server error (HTTP 503): Service Unavailable",
			check:   isType[*ServerError],
		},
		{
			name: "404 html", status: 404, body: readTestdata(t, "error_404.html"),
			wantMsg: "unexpected status (HTTP 404): <!DOCTYPE html><html><body><pre>Cannot POST",
			check:   isType[*StatusError],
		},
		{
			name: "400 json", status: 400, body: readTestdata(t, "error_400.json"),
			wantMsg: "unexpected status (HTTP 400): Bad Request",
			check:   isType[*StatusError],
		},
		{
			name: "408", status: 408, temporary: true,
			check: isType[*StatusError],
		},
		{
			name: "302", status: 302,
			check: isType[*StatusError],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: tt.header}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			err := CheckResponse(resp, tt.body)
			if tt.check == nil {
				if err != nil {
					t.Fatalf("CheckResponse = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckResponse = nil, want an error")
			}
			tt.check(t, err)
			if got := IsTemporary(err); got != tt.temporary {
				t.Errorf("IsTemporary = %v, want %v", got, tt.temporary)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("error = %q, want prefix %q", err, tt.wantMsg)
			}
		})
	}
}

func wantType[E error](t *testing.T, err error) E {
	t.Helper()
	e, ok := errors.AsType[E](err)
	if !ok {
		var zero E
		t.Fatalf("error %T (%v), want %T", err, err, zero)
	}
	return e
}

func wantRetryAfter(d time.Duration) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if rl := wantType[*RateLimitError](t, err); rl.RetryAfter != d {
			t.Errorf("RetryAfter = %s, want %s", rl.RetryAfter, d)
		}
	}
}

func TestRetryAfterDateWithoutDateHeader(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(45 * time.Second).Format(http.TimeFormat)}}
	if got := parseRetryAfter(h, now); got != 45*time.Second {
		t.Errorf("parseRetryAfter = %s, want 45s", got)
	}
}

func TestSnippet(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "hello", "hello"},
		{"whitespace collapsed", "a\n\n\t b\r\n", "a b"},
		{"controls", "a\x00\x01b", "a b"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"cut", strings.Repeat("x", 250), strings.Repeat("x", 200) + "…"},
		{"cut inside a rune", strings.Repeat("x", 199) + "ééé", strings.Repeat("x", 199) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Snippet([]byte(tt.in)); got != tt.want {
				t.Errorf("Snippet = %q, want %q", got, tt.want)
			}
		})
	}
}

// isType is wantType as a check function of the table.
func isType[E error](t *testing.T, err error) {
	t.Helper()
	wantType[E](t, err)
}

// TestTemporaryAndRetryNow pins the one classification (Temporary) and
// FetchPage's narrower rule for an immediate repeat: a garbled body is
// worth fetching again later, not at once.
func TestTemporaryAndRetryNow(t *testing.T) {
	tests := []struct {
		err                 error
		temporary, retryNow bool
	}{
		{&AuthError{StatusCode: 401}, false, false},
		{&ValidationError{StatusCode: 422}, false, false},
		{&StatusError{StatusCode: 404}, false, false},
		{&BodyTooLargeError{StatusCode: 200}, false, false},
		{&StatusError{StatusCode: 408}, true, true},
		{&RateLimitError{}, true, true},
		{&ServerError{StatusCode: 502}, true, true},
		{&NetworkError{Err: errors.New("reset")}, true, true},
		{&DecodeError{StatusCode: 200, Err: errors.New("truncated JSON")}, true, false},
		{errors.New("no Temporary method"), false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.err), func(t *testing.T) {
			wrapped := fmt.Errorf("fetch page 1: %w", tt.err)
			if got := IsTemporary(wrapped); got != tt.temporary {
				t.Errorf("IsTemporary = %v, want %v", got, tt.temporary)
			}
			if got := retryNow(wrapped); got != tt.retryNow {
				t.Errorf("retryNow = %v, want %v", got, tt.retryNow)
			}
		})
	}
}

// TestInvalidWindowIsNotTemporary: a window the caller got wrong is never
// sent and never retried (a poller classifies errors by Temporary; a plain
// error was retried forever).
func TestInvalidWindowIsNotTemporary(t *testing.T) {
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", Credentials: Credentials{ClientID: "id", ClientSecret: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	ten := time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		w    Window
	}{
		{"end before start", Window{Start: ten, End: ten.Add(-time.Minute)}},
		{"no start", Window{End: ten}},
		{"no end", Window{Start: ten}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.FetchPage(context.Background(), tc.w, 1)
			var we *WindowError
			if !errors.As(err, &we) || we.Temporary() {
				t.Fatalf("FetchPage(%s) = %v, want a *WindowError that is not temporary", tc.w, err)
			}
		})
	}
}
