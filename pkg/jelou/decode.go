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

// Contradictory reports whether the pagination disagrees with itself:
// totalPages given and different from ceil(total/limit), a negative
// number, or a limit that is not positive while rows are promised. A
// contradictory pagination promises nothing a pager can rely on.
func (p Pagination) Contradictory(requestedLimit int) bool {
	if !p.Present {
		return false
	}
	if p.Total < 0 || p.TotalPages < 0 || p.Limit < 0 || p.Offset < 0 || p.Page < 0 {
		return true
	}
	if p.TotalPages == 0 {
		return false
	}
	limit := p.Limit
	if limit <= 0 {
		limit = requestedLimit
	}
	if limit <= 0 {
		return false
	}
	return p.TotalPages != (p.Total+limit-1)/limit
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

// vendorTime parses v when it is a JSON string holding exactly the vendor's
// form "2006-01-02 15:04:05" with a valid, plausible date, the common case,
// without allocating; it returns what ParseTime(s, loc) returns for it. For
// anything else ok is false and the caller falls back to ParseTime.
func vendorTime(v []byte, loc *time.Location) (t time.Time, ok bool) {
	const layout = `"dddd-dd-dd dd:dd:dd"`
	if len(v) != len(layout) {
		return time.Time{}, false
	}
	for i := range len(layout) {
		if c := v[i]; layout[i] == 'd' && (c < '0' || c > '9') || layout[i] != 'd' && c != layout[i] {
			return time.Time{}, false
		}
	}
	num := func(i, n int) int {
		x := 0
		for _, c := range v[i : i+n] {
			x = x*10 + int(c-'0')
		}
		return x
	}
	year, month, day := num(1, 4), num(6, 2), num(9, 2)
	hour, minute, sec := num(12, 2), num(15, 2), num(18, 2)
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc)
	if t.Before(minPlausible) || !t.Before(maxPlausible) {
		return time.Time{}, false
	}
	return t, true
}

// daysIn returns the number of days of month m of year y.
func daysIn(m time.Month, y int) int {
	if m == time.February {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
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
	return decodePage(body, loc, 0)
}

// maxPageRows is the most rows the client decodes from one page asked for
// limit rows: twice as many, and some. A page with more is refused before
// its rows are decoded, since a decoded row takes far more memory than its
// bytes (hundreds of bytes for a row "{}"): a server ignoring the limit
// must not turn a body within MaxBodyBytes into gigabytes.
func maxPageRows(limit int) int { return 2*limit + 16 }

// decodePage is DecodePage refusing, with a *DecodeError, a page of more
// than maxRows rows; maxRows <= 0 means no bound.
func decodePage(body []byte, loc *time.Location, maxRows int) (*Page, error) {
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
	if !json.Valid(body) {
		return fail(syntaxError(body))
	}
	// One walk over the validated body; a repeated name keeps its last
	// value, as encoding/json does.
	var top struct{ results, pagination, message, status, links json.RawMessage }
	it := newObjectIter(bytes.TrimLeft(body, " \t\r\n"))
	for {
		name, v, ok := it.next()
		if !ok {
			break
		}
		switch string(name) {
		case "results":
			top.results = v
		case "pagination":
			top.pagination = v
		case "message":
			top.message = v
		case "status":
			top.status = v
		case "links":
			top.links = v
		}
	}
	results, hasResults := top.results, top.results != nil
	pagination, hasPagination := top.pagination, top.pagination != nil
	if !hasResults && !hasPagination {
		return fail(errors.New("neither results nor pagination: not a page of conversations"))
	}
	p := &Page{}
	n := 0
	switch kindOf(results) {
	case kindNull:
	case kindArray:
		for rows := newArrayIter(results); ; n++ {
			if _, ok := rows.next(); !ok {
				break
			}
		}
	default:
		return fail(fmt.Errorf("results is a %s, not an array", kindOf(results)))
	}
	if maxRows > 0 && n > maxRows {
		return fail(fmt.Errorf("%d rows in one page, more than %d (twice the page size asked for, and some)", n, maxRows))
	}
	if !hasResults {
		p.Problems = append(p.Problems, "results: missing")
	}
	p.Conversations = make([]Conversation, n)
	if n > 0 {
		rows := newArrayIter(results)
		for i := range p.Conversations {
			row, _ := rows.next()
			p.Conversations[i] = decodeConversation(row, loc)
		}
	}

	var problem string
	if p.Message, problem = decodeMessage(top.message); problem != "" {
		p.Problems = append(p.Problems, "message: "+problem)
	}
	switch k := kindOf(top.status); k {
	case kindMissing, kindNull:
	case kindString, kindNumber:
		// Error bodies carry "status": 0; keep the text either way.
		p.Status = scalarText(top.status)
	default:
		p.Problems = append(p.Problems, fmt.Sprintf("status: %s, expected a string", k))
	}
	p.Pagination, p.Problems = decodePagination(pagination, p.Problems)
	p.Links, p.Problems = decodeLinks(top.links, p.Problems)
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

// rowFields are the value spans of the documented members of one row, nil
// when absent. A repeated name keeps its last value, as encoding/json does.
type rowFields struct {
	id, operator, user, bot, company, assignationMethod json.RawMessage
	state, endedReason, startAt, endAt, origin          json.RawMessage
	timeRepliedOperator, conversationDuration           json.RawMessage
}

// decodeConversation fills a Conversation from one row, tolerantly: every
// field that cannot be typed is left zero and named in Problems. The row is
// walked once; Raw is a copy of its bytes.
func decodeConversation(row json.RawMessage, loc *time.Location) Conversation {
	c := Conversation{Raw: append(json.RawMessage(nil), row...)}
	if k := kindOf(row); k != kindObject {
		c.Problems = append(c.Problems, fmt.Sprintf("row: %s, expected an object", k))
		return c
	}
	var f rowFields
	it := newObjectIter(row)
	for {
		name, v, ok := it.next()
		if !ok {
			break
		}
		switch string(name) {
		case "_id":
			f.id = v
		case "operator":
			f.operator = v
		case "user":
			f.user = v
		case "bot":
			f.bot = v
		case "company":
			f.company = v
		case "assignationMethod":
			f.assignationMethod = v
		case "state":
			f.state = v
		case "endedReason":
			f.endedReason = v
		case "startAt":
			f.startAt = v
		case "endAt":
			f.endAt = v
		case "origin":
			f.origin = v
		case "timeRepliedOperator":
			f.timeRepliedOperator = v
		case "conversationDuration":
			f.conversationDuration = v
		}
	}
	d := rowDecoder{c: &c, loc: loc}
	c.ID = d.str(f.id, "_id", true)
	c.Operator.Names = d.nested(f.operator, "operator", "names", "operator.names")
	c.User.ID = d.nested(f.user, "user", "id", "user.id")
	c.Bot.Name = d.nested(f.bot, "bot", "name", "bot.name")
	c.Company.ID = d.nested(f.company, "company", "id", "company.id")
	c.AssignationMethod.TeamName = d.nested(f.assignationMethod, "assignationMethod", "teamName", "assignationMethod.teamName")
	c.State = knownState(f.state)
	if c.State == "" {
		c.State = State(d.str(f.state, "state", true))
	}
	c.EndedReason = d.str(f.endedReason, "endedReason", false)
	c.StartAt = d.when(f.startAt, "startAt", true)
	c.EndAt = d.when(f.endAt, "endAt", false)
	c.Origin = d.str(f.origin, "origin", false)
	c.TimeRepliedOperator = d.millis(f.timeRepliedOperator, "timeRepliedOperator")
	c.ConversationDuration = d.millis(f.conversationDuration, "conversationDuration")
	return c
}

// knownState returns the documented state v spells as a plain JSON string,
// without allocating, or "" for anything else.
func knownState(v []byte) State {
	switch string(v) {
	case `"active"`:
		return StateActive
	case `"closed"`:
		return StateClosed
	case `"resolved"`:
		return StateResolved
	case `"expired"`:
		return StateExpired
	}
	return ""
}

// rowDecoder types the fields of one row, naming what it cannot type in the
// conversation's Problems.
type rowDecoder struct {
	c   *Conversation
	loc *time.Location
}

func (d rowDecoder) problem(format string, args ...any) {
	d.c.Problems = append(d.c.Problems, fmt.Sprintf(format, args...))
}

// str reads a string field; a number keeps its text (an id sent as a number
// is still an id) but is reported.
func (d rowDecoder) str(v json.RawMessage, path string, required bool) string {
	switch k := kindOf(v); k {
	case kindMissing, kindNull:
		if required {
			d.problem("%s: missing", path)
		}
		return ""
	case kindString:
		return scalarText(v)
	case kindNumber:
		d.problem("%s: number, expected a string", path)
		return string(v)
	default:
		d.problem("%s: %s, expected a string", path, k)
		return ""
	}
}

// nested reads the optional string member sub of the object field key;
// path is key + "." + sub.
func (d rowDecoder) nested(v json.RawMessage, key, sub, path string) string {
	switch k := kindOf(v); k {
	case kindMissing, kindNull:
		return ""
	case kindObject:
		return d.str(member(v, sub), path, false)
	default:
		d.problem("%s: %s, expected an object", key, k)
		return ""
	}
}

// when reads a timestamp; null or blank is zero, a problem only if required.
func (d rowDecoder) when(v json.RawMessage, key string, required bool) time.Time {
	switch k := kindOf(v); k {
	case kindMissing, kindNull:
		if required {
			d.problem("%s: missing", key)
		}
		return time.Time{}
	case kindString:
	default:
		d.problem("%s: %s, expected a string", key, k)
		return time.Time{}
	}
	if t, ok := vendorTime(v, d.loc); ok {
		return t
	}
	s := scalarText(v)
	if strings.TrimSpace(s) == "" {
		if required {
			d.problem("%s: empty", key)
		}
		return time.Time{}
	}
	t, err := ParseTime(s, d.loc)
	if err != nil {
		d.problem("%s: %v", key, err)
	}
	return t
}

// millis reads a duration in milliseconds; negative values are kept but
// reported.
func (d rowDecoder) millis(v json.RawMessage, key string) int64 {
	if k := kindOf(v); k == kindMissing || k == kindNull {
		return 0
	}
	n, err := intValue(v)
	if err != nil {
		d.problem("%s: %v", key, err)
		return 0
	}
	if n < 0 {
		d.problem("%s: negative: %d", key, n)
	}
	return n
}

// intValue reads a JSON number as an int64: integers as they are, other
// numbers rounded to the nearest integer. Strings, booleans and numbers out
// of the int64 range are errors.
func intValue(raw json.RawMessage) (int64, error) {
	if k := kindOf(raw); k != kindNumber {
		return 0, fmt.Errorf("%s, expected a number", k)
	}
	if n, ok := smallInt(raw); ok {
		return n, nil
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

// smallInt reads b when it is an optional minus and 1 to 18 decimal digits
// (which always fit an int64), the common case, without allocating.
func smallInt(b []byte) (int64, bool) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(b) {
		n = -n
	}
	return n, true
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
	for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t' || raw[0] == '\r' || raw[0] == '\n') {
		raw = raw[1:]
	}
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
