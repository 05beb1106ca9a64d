package jelou

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Page is one decoded response of the endpoint.
type Page struct {
	// Number is the page that was asked for (1-based). Pagination.Page is
	// what the server said, which the vendor's sample omits.
	Number int
	// Message is the response's message, a string or an array of strings in
	// the wild, always a slice here.
	Message []string
	// Status is the response's status ("success"), as text.
	Status string
	// Conversations are the rows of results, in the order received. Each
	// keeps its exact bytes in Raw; rows whose fields could not all be
	// decoded carry Problems.
	Conversations []Conversation
	// Pagination is the response's pagination object.
	Pagination Pagination
	// Links are the response's links.
	Links []Link
	// Problems lists what could not be decoded outside results (a missing
	// or malformed pagination, links or message). The page is still usable.
	Problems []string
}

// Pagination is the response's pagination object. Fields the server left
// out are zero.
type Pagination struct {
	// Limit is the server's effective page size.
	Limit int
	// Page is the page the server says it returned; zero when omitted, as
	// in the vendor's own sample.
	Page int
	// Total is the number of conversations matching the window.
	Total int
	// Offset is how many conversations precede this page.
	Offset int
	// TotalPages is the number of pages; zero when omitted.
	TotalPages int
	// Present is true when the response had a pagination object with a
	// numeric total. When false, the other fields say nothing.
	Present bool
}

// PageCount is the number of pages the server promises: TotalPages when
// given, else ceil(Total/limit) with limit the server's Limit, or
// requestedLimit when the server gave none. Zero when Present is false.
func (p Pagination) PageCount(requestedLimit int) int {
	if !p.Present {
		return 0
	}
	if p.TotalPages > 0 {
		return p.TotalPages
	}
	limit := p.Limit
	if limit <= 0 {
		limit = requestedLimit
	}
	if limit <= 0 || p.Total <= 0 {
		return 0
	}
	return (p.Total + limit - 1) / limit
}

// Link is one entry of the response's links.
type Link struct {
	Number int
	URL    string
}

// timeLayouts are tried in order on response timestamps. Layouts without an
// offset are read in the configured Location; fractional seconds are
// accepted after the seconds by every layout.
var timeLayouts = []struct {
	layout string
	zoned  bool
}{
	{"2006-01-02 15:04:05", false}, // the vendor's sample
	{time.RFC3339, true},
	{"2006-01-02 15:04:05Z07:00", true},
	{"2006-01-02T15:04:05", false},
}

// Plausible bounds for conversation timestamps; anything outside is treated
// as garbage rather than published as year 1 or 9999.
var (
	minPlausible = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxPlausible = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseTime parses a response timestamp: "2006-01-02 15:04:05" (the vendor's
// form, no zone) in loc, RFC 3339 with "Z" or an offset, with or without
// fractional seconds, and the two mixed forms. A nil loc means UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		var t time.Time
		var err error
		if l.zoned {
			t, err = time.Parse(l.layout, s)
		} else {
			t, err = time.ParseInLocation(l.layout, s, loc)
		}
		if err != nil {
			continue
		}
		if t.Before(minPlausible) || !t.Before(maxPlausible) {
			return time.Time{}, fmt.Errorf("implausible time %q", s)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("unparseable time %q", s)
}

// DecodePage decodes a response body of the endpoint. Timestamps without an
// offset are read in loc (nil means UTC).
//
// It fails, with a *DecodeError, only when the body is not a JSON object,
// is truncated, has a results that is not an array, or has neither results
// nor pagination (a 200 carrying something else). Everything else is
// tolerated: rows are decoded one by one, each keeping its exact bytes in
// Raw and listing in Problems the fields that could not be typed; page-level
// oddities go to Page.Problems.
func DecodePage(body []byte, loc *time.Location) (*Page, error) {
	if loc == nil {
		loc = time.UTC
	}
	fail := func(err error) (*Page, error) {
		return nil, &DecodeError{Snippet: Snippet(body), Err: err}
	}
	if kindOf(body) != kindObject {
		if len(bytes.TrimSpace(body)) == 0 {
			return fail(errors.New("empty body"))
		}
		if !json.Valid(body) {
			return fail(syntaxError(body))
		}
		return fail(errors.New("body is not a JSON object"))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return fail(syntaxError(body))
	}
	results, hasResults := top["results"]
	pagination, hasPagination := top["pagination"]
	if !hasResults && !hasPagination {
		return fail(errors.New("neither results nor pagination: not a page of conversations"))
	}
	p := &Page{}
	var rows []json.RawMessage
	switch kindOf(results) {
	case kindNull:
	case kindArray:
		if err := json.Unmarshal(results, &rows); err != nil {
			return fail(fmt.Errorf("results: %w", err))
		}
	default:
		return fail(fmt.Errorf("results is a %s, not an array", kindOf(results)))
	}
	if !hasResults {
		p.Problems = append(p.Problems, "results: missing")
	}
	p.Conversations = make([]Conversation, len(rows))
	for i, row := range rows {
		p.Conversations[i] = decodeConversation(row, loc)
	}

	var problem string
	if p.Message, problem = decodeMessage(top["message"]); problem != "" {
		p.Problems = append(p.Problems, "message: "+problem)
	}
	switch k := kindOf(top["status"]); k {
	case kindMissing, kindNull:
	case kindString, kindNumber:
		// Error bodies carry "status": 0; keep the text either way.
		p.Status = scalarText(top["status"])
	default:
		p.Problems = append(p.Problems, fmt.Sprintf("status: %s, expected a string", k))
	}
	p.Pagination, p.Problems = decodePagination(pagination, p.Problems)
	p.Links, p.Problems = decodeLinks(top["links"], p.Problems)
	return p, nil
}

// syntaxError returns json's own description of what is wrong with body,
// with the byte offset, which says "truncated" when the input ends early.
func syntaxError(body []byte) error {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if se.Error() == "unexpected end of JSON input" {
			return fmt.Errorf("truncated JSON (%d bytes): %w", len(body), err)
		}
		return fmt.Errorf("invalid JSON after %d bytes: %w", se.Offset-1, err)
	}
	if err == nil {
		return errors.New("invalid JSON")
	}
	return err
}

// decodeMessage accepts a string, an array of strings (other elements kept
// as their JSON text) or null. It returns a problem for anything else.
func decodeMessage(raw json.RawMessage) ([]string, string) {
	switch kindOf(raw) {
	case kindMissing, kindNull:
		return nil, ""
	case kindString:
		return []string{scalarText(raw)}, ""
	case kindArray:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err.Error()
		}
		out := make([]string, 0, len(items))
		problem := ""
		for _, it := range items {
			if kindOf(it) == kindString {
				out = append(out, scalarText(it))
				continue
			}
			out = append(out, string(it))
			problem = "array holds a non-string"
		}
		return out, problem
	default:
		return []string{string(raw)}, fmt.Sprintf("%s, expected a string or an array of strings", kindOf(raw))
	}
}

func decodePagination(raw json.RawMessage, problems []string) (Pagination, []string) {
	var p Pagination
	switch kindOf(raw) {
	case kindObject:
	case kindMissing:
		return p, append(problems, "pagination: missing")
	default:
		return p, append(problems, fmt.Sprintf("pagination: %s, expected an object", kindOf(raw)))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return p, append(problems, "pagination: "+err.Error())
	}
	field := func(name string, dst *int) bool {
		v, ok := m[name]
		if !ok || kindOf(v) == kindNull {
			return false
		}
		n, err := intValue(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("pagination.%s: %v", name, err))
			return false
		}
		if n < 0 || n > math.MaxInt32 {
			problems = append(problems, fmt.Sprintf("pagination.%s: out of range: %d", name, n))
			return false
		}
		*dst = int(n)
		return true
	}
	field("limit", &p.Limit)
	field("page", &p.Page)
	field("offset", &p.Offset)
	field("totalPages", &p.TotalPages)
	p.Present = field("total", &p.Total)
	if !p.Present {
		problems = append(problems, "pagination.total: missing")
	}
	return p, problems
}

func decodeLinks(raw json.RawMessage, problems []string) ([]Link, []string) {
	switch kindOf(raw) {
	case kindMissing, kindNull:
		return nil, problems
	case kindArray:
	default:
		return nil, append(problems, fmt.Sprintf("links: %s, expected an array", kindOf(raw)))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, append(problems, "links: "+err.Error())
	}
	links := make([]Link, 0, len(items))
	for i, it := range items {
		var m map[string]json.RawMessage
		if kindOf(it) != kindObject || json.Unmarshal(it, &m) != nil {
			problems = append(problems, fmt.Sprintf("links[%d]: %s, expected an object", i, kindOf(it)))
			continue
		}
		var l Link
		if v, ok := m["number"]; ok {
			if n, err := intValue(v); err == nil && n >= 0 && n <= math.MaxInt32 {
				l.Number = int(n)
			} else if kindOf(v) != kindNull {
				problems = append(problems, fmt.Sprintf("links[%d].number: not an integer", i))
			}
		}
		l.URL = scalarText(m["url"])
		links = append(links, l)
	}
	return links, problems
}

// decodeConversation fills a Conversation from one row, tolerantly: every
// field that cannot be typed is left zero and named in Problems.
func decodeConversation(row json.RawMessage, loc *time.Location) Conversation {
	c := Conversation{Raw: row}
	var m map[string]json.RawMessage
	if kindOf(row) != kindObject || json.Unmarshal(row, &m) != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("row: %s, expected an object", kindOf(row)))
		return c
	}
	problem := func(format string, args ...any) {
		c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
	}
	str := func(obj map[string]json.RawMessage, path, key string, required bool) string {
		v, ok := obj[key]
		k := kindOf(v)
		switch {
		case !ok || k == kindNull:
			if required {
				problem("%s: missing", path)
			}
			return ""
		case k == kindString:
			return scalarText(v)
		case k == kindNumber:
			// Keep the number's text: an id sent as a number is still an id.
			problem("%s: number, expected a string", path)
			return string(v)
		default:
			problem("%s: %s, expected a string", path, k)
			return ""
		}
	}
	nested := func(key, sub string) string {
		v, ok := m[key]
		k := kindOf(v)
		if !ok || k == kindNull {
			return ""
		}
		var obj map[string]json.RawMessage
		if k != kindObject || json.Unmarshal(v, &obj) != nil {
			problem("%s: %s, expected an object", key, k)
			return ""
		}
		return str(obj, key+"."+sub, sub, false)
	}
	when := func(key string, required bool) time.Time {
		v, ok := m[key]
		k := kindOf(v)
		if !ok || k == kindNull {
			if required {
				problem("%s: missing", key)
			}
			return time.Time{}
		}
		if k != kindString {
			problem("%s: %s, expected a string", key, k)
			return time.Time{}
		}
		s := scalarText(v)
		if strings.TrimSpace(s) == "" {
			if required {
				problem("%s: empty", key)
			}
			return time.Time{}
		}
		t, err := ParseTime(s, loc)
		if err != nil {
			problem("%s: %v", key, err)
		}
		return t
	}
	millis := func(key string) int64 {
		v, ok := m[key]
		if !ok || kindOf(v) == kindNull {
			return 0
		}
		n, err := intValue(v)
		if err != nil {
			problem("%s: %v", key, err)
			return 0
		}
		if n < 0 {
			problem("%s: negative: %d", key, n)
		}
		return n
	}

	c.ID = str(m, "_id", "_id", true)
	c.Operator.Names = nested("operator", "names")
	c.User.ID = nested("user", "id")
	c.Bot.Name = nested("bot", "name")
	c.Company.ID = nested("company", "id")
	c.AssignationMethod.TeamName = nested("assignationMethod", "teamName")
	c.State = State(str(m, "state", "state", true))
	c.EndedReason = str(m, "endedReason", "endedReason", false)
	c.StartAt = when("startAt", true)
	c.EndAt = when("endAt", false)
	c.Origin = str(m, "origin", "origin", false)
	c.TimeRepliedOperator = millis("timeRepliedOperator")
	c.ConversationDuration = millis("conversationDuration")
	return c
}

// intValue reads a JSON number as an int64: integers as they are, other
// numbers rounded to the nearest integer. Strings, booleans and numbers out
// of the int64 range are errors.
func intValue(raw json.RawMessage) (int64, error) {
	if k := kindOf(raw); k != kindNumber {
		return 0, fmt.Errorf("%s, expected a number", k)
	}
	s := string(bytes.TrimSpace(raw))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, fmt.Errorf("number out of range: %s", s)
	}
	return int64(math.Round(f)), nil
}

// jsonKind is the type of a JSON value, judged by its first byte.
type jsonKind int

const (
	kindMissing jsonKind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
	kindInvalid
)

func (k jsonKind) String() string {
	return [...]string{"missing", "null", "boolean", "number", "string", "array", "object", "invalid JSON"}[k]
}

func kindOf(raw []byte) jsonKind {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return kindMissing
	}
	switch c := raw[0]; {
	case c == 'n':
		return kindNull
	case c == 't' || c == 'f':
		return kindBool
	case c == '"':
		return kindString
	case c == '[':
		return kindArray
	case c == '{':
		return kindObject
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	}
	return kindInvalid
}
