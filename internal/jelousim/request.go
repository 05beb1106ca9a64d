package jelousim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"
)

// requestError says why a request got the documented 422 body. The reason
// goes to the X-Sim-Reason header only; the body is always the vendor's.
type requestError struct{ reason string }

func (e *requestError) Error() string { return e.reason }

func badRequest(format string, args ...any) error {
	return &requestError{reason: fmt.Sprintf(format, args...)}
}

// request is one validated API call.
type request struct {
	from, to int64 // unix seconds, both inclusive
	limit    int   // as asked, before the page-size cap
	page     int
}

// requestTimeLayouts are the ISO 8601 forms accepted for startAt and endAt:
// an offset ("-05:00" or "-0500") or "Z" is required, fractions are allowed.
var requestTimeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
}

func parseRequestTime(field string, raw json.RawMessage) (time.Time, error) {
	if raw == nil {
		return time.Time{}, badRequest("%s is required", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, badRequest("%s must be a string", field)
	}
	for _, layout := range requestTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("%s %q is not an ISO 8601 time with an offset", field, s)
}

// parseBody validates the JSON body {startAt, endAt, getJson}. Keys match
// exactly (case-sensitive); unknown keys are ignored. Fractions of a second
// are truncated: the filter works on whole seconds.
func parseBody(body []byte) (from, to time.Time, err error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return from, to, badRequest("body must be a JSON object")
	}
	if dec.More() {
		return from, to, badRequest("body must hold a single JSON object")
	}
	if from, err = parseRequestTime("startAt", fields["startAt"]); err != nil {
		return from, to, err
	}
	if to, err = parseRequestTime("endAt", fields["endAt"]); err != nil {
		return from, to, err
	}
	var getJSON bool
	if raw, ok := fields["getJson"]; !ok || json.Unmarshal(raw, &getJSON) != nil || !getJSON {
		return from, to, badRequest("getJson must be true")
	}
	from, to = from.Truncate(time.Second), to.Truncate(time.Second)
	if to.Before(from) {
		return from, to, badRequest("endAt is before startAt")
	}
	return from, to, nil
}

// parsePositive reads an optional positive integer query parameter.
func parsePositive(q url.Values, name string, def int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, badRequest("%s must be a positive integer, got %q", name, s)
	}
	return n, nil
}

// parseRequest validates the whole call; maxWindow of zero means no limit.
func parseRequest(q url.Values, body []byte, maxWindow time.Duration) (request, error) {
	var r request
	var err error
	if r.limit, err = parsePositive(q, "limit", 10); err != nil {
		return r, err
	}
	if r.page, err = parsePositive(q, "page", 1); err != nil {
		return r, err
	}
	if r.page > math.MaxInt32 {
		return r, badRequest("page %d is too large", r.page)
	}
	from, to, err := parseBody(body)
	if err != nil {
		return r, err
	}
	if maxWindow > 0 && to.Sub(from) > maxWindow {
		return r, badRequest("window %s is wider than %s", to.Sub(from), maxWindow)
	}
	r.from, r.to = from.Unix(), to.Unix()
	return r, nil
}
