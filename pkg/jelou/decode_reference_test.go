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

// This file keeps the decoder as it was before the one-pass rewrite, as a
// test-only reference: FuzzDifferentialDecodePage checks that DecodePage
// returns exactly what it returns, for any body.

// referenceDecodePage is the original DecodePage (one map per object),
// kept to check the one-pass decoder against: it decodes a response body of the endpoint. Timestamps without an
// offset are read in loc (nil means UTC).
//
// It fails, with a *DecodeError, only when the body is not a JSON object,
// is truncated, has a results that is not an array, or has neither results
// nor pagination (a 200 carrying something else). Everything else is
// tolerated: rows are decoded one by one, each keeping its exact bytes in
// Raw and listing in Problems the fields that could not be typed; page-level
// oddities go to Page.Problems.
func referenceDecodePage(body []byte, loc *time.Location) (*Page, error) {
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
		p.Conversations[i] = referenceDecodeConversation(row, loc)
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

// referenceDecodeConversation is the original decodeConversation: it fills a Conversation from one row, tolerantly: every
// field that cannot be typed is left zero and named in Problems.
func referenceDecodeConversation(row json.RawMessage, loc *time.Location) Conversation {
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
		n, err := referenceIntValue(v)
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

// referenceIntValue is the original intValue: it reads a JSON number as an int64: integers as they are, other
// numbers rounded to the nearest integer. Strings, booleans and numbers out
// of the int64 range are errors.
func referenceIntValue(raw json.RawMessage) (int64, error) {
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
