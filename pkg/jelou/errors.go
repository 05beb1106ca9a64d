package jelou

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// snippetLen is how many bytes of a body an error quotes at most.
const snippetLen = 200

// maxRetryAfter clamps absurd Retry-After values before they overflow.
const maxRetryAfter = 24 * time.Hour

// ErrTooManyPages is returned by Pages and FetchWindow when a window needs
// more than Config.MaxPages pages. Split the window or raise the bound.
var ErrTooManyPages = errors.New("too many pages")

// AuthError reports that the API refused the credentials (HTTP 401, and 403
// which means the same thing for this endpoint). It is never retried: the
// credentials or the AuthScheme must change.
type AuthError struct {
	StatusCode int
	// Message is the API's message, or a snippet of the body.
	Message string
}

// Error describes the failure for logs and operators.
func (e *AuthError) Error() string {
	return fmt.Sprintf("authentication failed (HTTP %d): %s; check the client id, client secret and auth scheme", e.StatusCode, e.Message)
}

// Temporary returns false: repeating the request cannot help.
func (e *AuthError) Temporary() bool { return false }

// ValidationError reports that the API rejected the request (HTTP 422). It
// is not retried: the same request would fail again.
type ValidationError struct {
	StatusCode int
	// Code is the body's error.code, e.g. "E0422".
	Code string
	// Key is the body's error.key, e.g. "VALIDATOR_ERROR".
	Key string
	// Messages are the body's message (a string or an array of strings).
	Messages []string
}

// Error describes the failure for logs and operators.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("request rejected (HTTP %d, code %q, key %q): %s", e.StatusCode, e.Code, e.Key, strings.Join(e.Messages, "; "))
}

// Temporary returns false.
func (e *ValidationError) Temporary() bool { return false }

// RateLimitError reports HTTP 429. It is temporary: the client pauses its
// Limiter for RetryAfter (capped by RetryConfig.MaxRetryAfter), and the
// retry loop waits at least that long before trying again, or gives up
// when the pause ends past RetryConfig.MaxElapsedTime.
type RateLimitError struct {
	// RetryAfter is the wait the Retry-After header asked for, given as
	// delta-seconds or as an HTTP date (measured from the response's Date
	// header when present, else from the local clock). Zero when absent,
	// unparseable, negative or past; clamped to 24h (overflowing
	// delta-seconds included). The client pauses its limiter for it,
	// capped by RetryConfig.MaxRetryAfter.
	RetryAfter time.Duration
	// Message is the API's message, or a snippet of the body.
	Message string
}

// Error describes the failure for logs and operators.
func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("rate limited (HTTP 429, retry after %s): %s", e.RetryAfter, e.Message)
	}
	return fmt.Sprintf("rate limited (HTTP 429): %s", e.Message)
}

// Temporary returns true.
func (e *RateLimitError) Temporary() bool { return true }

// ServerError reports a 5xx response, including HTML error pages from a
// proxy in front of the API. It is temporary.
type ServerError struct {
	StatusCode int
	// Message is the API's message when the body is the API's JSON, else
	// a sanitised snippet of the body.
	Message string
	// RetryAfter is the wait a Retry-After header asked for (503s often
	// carry one), as seconds or an HTTP date; zero when absent. The retry
	// loop waits at least this long, like after a 429.
	RetryAfter time.Duration
}

// Error describes the failure for logs and operators.
func (e *ServerError) Error() string {
	return fmt.Sprintf("server error (HTTP %d): %s", e.StatusCode, e.Message)
}

// Temporary returns true.
func (e *ServerError) Temporary() bool { return true }

// StatusError reports any other status the API does not document (404, 400,
// a 3xx redirect, ...). Only 408 Request Timeout is temporary.
type StatusError struct {
	StatusCode int
	// Message is the API's message, or a sanitised snippet of the body.
	Message string
}

// Error describes the failure for logs and operators.
func (e *StatusError) Error() string {
	return fmt.Sprintf("unexpected status (HTTP %d): %s", e.StatusCode, e.Message)
}

// Temporary reports whether the status is 408.
func (e *StatusError) Temporary() bool { return e.StatusCode == http.StatusRequestTimeout }

// DecodeError reports a successful status whose body is not a page of
// conversations: not JSON, truncated, or JSON of another shape. It is
// temporary, since a garbled body may come from a proxy having a bad moment,
// but FetchPage does not repeat the request at once (it would likely return
// the same bytes): the caller fetches the window again on its own schedule.
type DecodeError struct {
	// StatusCode is the HTTP status; zero when DecodePage was called
	// directly.
	StatusCode int
	// Snippet is the start of the body, at most 200 bytes, with control
	// characters and invalid UTF-8 replaced.
	Snippet string
	Err     error
}

// Error describes the failure for logs and operators.
func (e *DecodeError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("decode response (HTTP %d): %v; body starts %q", e.StatusCode, e.Err, e.Snippet)
	}
	return fmt.Sprintf("decode response: %v; body starts %q", e.Err, e.Snippet)
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Temporary returns true: fetching the window again later may help.
func (e *DecodeError) Temporary() bool { return true }

// BodyTooLargeError reports a successful response larger than
// Config.MaxBodyBytes. It is not retried: lower the page size or split the
// window.
type BodyTooLargeError struct {
	StatusCode int
	Limit      int64
}

// Error describes the failure for logs and operators.
func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("response body (HTTP %d) exceeds the %d-byte limit; lower the page size", e.StatusCode, e.Limit)
}

// Temporary returns false.
func (e *BodyTooLargeError) Temporary() bool { return false }

// NetworkError reports a failure to send the request or read the response:
// connection refused or reset, DNS, TLS, a body cut short, or the
// per-attempt Timeout. It is temporary.
type NetworkError struct {
	// Timeout is true when the attempt ran out of Config.Timeout.
	Timeout bool
	Err     error
}

// Error describes the failure for logs and operators.
func (e *NetworkError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("request timed out: %v", e.Err)
	}
	return fmt.Sprintf("network error: %v", e.Err)
}

// Unwrap returns the underlying error.
func (e *NetworkError) Unwrap() error { return e.Err }

// Temporary returns true.
func (e *NetworkError) Temporary() bool { return true }

// IsTemporary reports whether err, or an error it wraps, says retrying may
// help (its Temporary method returns true). Temporary is this package's one
// classification of its errors: true for *RateLimitError, *ServerError, a
// 408 *StatusError, *NetworkError and *DecodeError; false for *AuthError,
// *ValidationError, any other *StatusError and *BodyTooLargeError.
func IsTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// retryNow reports whether FetchPage repeats the request that failed with
// err at once: when err is temporary, except a *DecodeError, whose bytes a
// repeat would likely bring back; fetching the window later is the
// caller's call.
func retryNow(err error) bool {
	_, garbled := errors.AsType[*DecodeError](err)
	return IsTemporary(err) && !garbled
}

// errorBody is the shape of the API's documented error bodies.
type errorBody struct {
	Message json.RawMessage `json:"message"`
	Error   struct {
		Code json.RawMessage `json:"code"`
		Key  json.RawMessage `json:"key"`
	} `json:"error"`
}

// CheckResponse turns a response into a typed error, and is the only place
// that does: nil for 2xx, else *AuthError (401, 403), *ValidationError (422),
// *RateLimitError (429), *ServerError (5xx) or *StatusError (anything else).
// body is the response body, already read (and bounded) by the caller; it
// is only quoted, at most 200 bytes of it.
func CheckResponse(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	var eb errorBody
	isJSON := json.Unmarshal(body, &eb) == nil
	messages, _ := decodeMessage(eb.Message)
	msg := strings.Join(messages, "; ")
	if !isJSON || msg == "" {
		msg = Snippet(body)
		if msg == "" {
			msg = http.StatusText(code)
		}
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &AuthError{StatusCode: code, Message: msg}
	case code == http.StatusUnprocessableEntity:
		if len(messages) == 0 {
			messages = []string{msg}
		}
		return &ValidationError{
			StatusCode: code,
			Code:       scalarText(eb.Error.Code),
			Key:        scalarText(eb.Error.Key),
			Messages:   messages,
		}
	case code == http.StatusTooManyRequests:
		return &RateLimitError{RetryAfter: parseRetryAfter(resp.Header, time.Now()), Message: msg}
	case code >= 500 && code <= 599:
		return &ServerError{StatusCode: code, Message: msg, RetryAfter: parseRetryAfter(resp.Header, time.Now())}
	default:
		return &StatusError{StatusCode: code, Message: msg}
	}
}

// parseRetryAfter reads Retry-After as delta-seconds or an HTTP date. A date
// is measured from the response's own Date header when it has one (so a
// skewed local clock does not matter), else from now. Absent, unparseable,
// negative or past values give zero; values past 24h, delta-seconds too
// large for an int64 included, give 24h (which the client's
// RetryConfig.MaxRetryAfter caps further).
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	// On overflow ParseInt returns its bound with ErrRange: the clamps below
	// take it from there.
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	d := at.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// scalarText returns a JSON string's value, or the literal text of any other
// scalar (error.code might be a number); empty for null or absent.
func scalarText(raw json.RawMessage) string {
	switch kindOf(raw) {
	case kindString:
		raw = bytes.TrimSpace(raw)
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return ""
		}
		// Fast path: no escapes to undo, no invalid UTF-8 to replace.
		if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 && bytes.IndexByte(in, '"') < 0 && utf8.Valid(in) {
			return string(in)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case kindNumber, kindBool:
		return string(raw)
	}
	return ""
}

// Snippet returns the start of body fit for an error message or a log line:
// invalid UTF-8 replaced by U+FFFD, control characters and runs of white
// space by one space, at most 200 bytes, and "…" appended when cut.
func Snippet(body []byte) string {
	cut := len(body) > snippetLen
	if cut {
		body = body[:snippetLen]
		// Do not split the last rune.
		for i := 0; i < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); i++ {
			body = body[:len(body)-1]
		}
	}
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(string(body), "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		n := utf8.RuneLen(r)
		if space && b.Len() > 0 {
			n++
		}
		if b.Len()+n > snippetLen {
			cut = true
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}
