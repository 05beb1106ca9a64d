package jelou

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// guayaquil is UTC−5 all year, like the vendor's examples.
var guayaquil = time.FixedZone("ECT", -5*3600)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testdataNames returns the names of every file in testdata.
func testdataNames(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// addTestdataSeeds adds every file in testdata to the seed corpus of f.
func addTestdataSeeds(f *testing.F) {
	f.Helper()
	for _, name := range testdataNames(f) {
		f.Add(readTestdata(f, name))
	}
}

func TestDecodePageVendorSample(t *testing.T) {
	body := readTestdata(t, "page_vendor_sample.json")
	p, err := DecodePage(body, guayaquil)
	if err != nil {
		t.Fatalf("DecodePage: %v", err)
	}
	if got, want := p.Message, []string{"Retrieving conversations succeeded"}; !slices.Equal(got, want) {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if p.Status != "success" {
		t.Errorf("Status = %q", p.Status)
	}
	wantPag := Pagination{Limit: 1, Total: 61, Offset: 0, TotalPages: 61, Present: true}
	if p.Pagination != wantPag {
		t.Errorf("Pagination = %+v, want %+v", p.Pagination, wantPag)
	}
	if len(p.Links) != 2 || p.Links[1] != (Link{Number: 2, URL: "/v1/metrics/conversations/attended/external?limit=1&page=2"}) {
		t.Errorf("Links = %+v", p.Links)
	}
	if len(p.Problems) != 0 {
		t.Errorf("Problems = %q, want none", p.Problems)
	}
	if len(p.Conversations) != 1 {
		t.Fatalf("got %d conversations, want 1", len(p.Conversations))
	}
	c := p.Conversations[0]
	if len(c.Problems) != 0 {
		t.Errorf("row Problems = %q, want none", c.Problems)
	}
	want := Conversation{
		ID:                   "CONVERSATION_ID",
		Operator:             Operator{Names: "OPERATOR_NAME"},
		User:                 User{ID: "ID"},
		Bot:                  Bot{Name: "BOT_NAME"},
		Company:              Company{ID: "COMPANY_ID"},
		AssignationMethod:    AssignationMethod{TeamName: "TEAM_NAME"},
		State:                StateExpired,
		EndedReason:          "expired",
		Origin:               "ticket",
		TimeRepliedOperator:  795880,
		ConversationDuration: 26115953,
	}
	got := c
	got.StartAt, got.EndAt, got.Raw, got.Problems = time.Time{}, time.Time{}, nil, nil
	if !equalConversation(got, want) {
		t.Errorf("conversation = %+v\nwant %+v", got, want)
	}
	// The zone-less timestamps are read in the configured zone (UTC−5).
	if want := time.Date(2023, 6, 8, 20, 52, 41, 0, time.UTC); !c.StartAt.Equal(want) {
		t.Errorf("StartAt = %s, want %s", c.StartAt.UTC(), want)
	}
	if want := time.Date(2023, 6, 9, 4, 7, 56, 0, time.UTC); !c.EndAt.Equal(want) {
		t.Errorf("EndAt = %s, want %s", c.EndAt.UTC(), want)
	}
	// Raw is the row's exact bytes, whitespace included.
	if !bytes.Contains(body, c.Raw) || !bytes.HasPrefix(c.Raw, []byte("{\n      \"_id\"")) {
		t.Errorf("Raw is not the row's exact bytes: %q", c.Raw)
	}
}

func equalConversation(a, b Conversation) bool {
	return a.ID == b.ID && a.Operator == b.Operator && a.User == b.User && a.Bot == b.Bot &&
		a.Company == b.Company && a.AssignationMethod == b.AssignationMethod && a.State == b.State &&
		a.EndedReason == b.EndedReason && a.Origin == b.Origin &&
		a.TimeRepliedOperator == b.TimeRepliedOperator && a.ConversationDuration == b.ConversationDuration
}

func TestDecodePageMessageForms(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    []string
		problem bool
	}{
		{"string", `"ok"`, []string{"ok"}, false},
		{"array", `["a","b"]`, []string{"a", "b"}, false},
		{"empty array", `[]`, []string{}, false},
		{"null", `null`, nil, false},
		{"array with a number", `["a",1]`, []string{"a", "1"}, true},
		{"object", `{"x":1}`, []string{`{"x":1}`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"message":` + tt.message + `,"results":[],"pagination":{"total":0}}`
			p, err := DecodePage([]byte(body), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Message, tt.want) || (p.Message == nil) != (tt.want == nil) {
				t.Errorf("Message = %#v, want %#v", p.Message, tt.want)
			}
			if got := hasProblem(p.Problems, "message"); got != tt.problem {
				t.Errorf("message problem = %v, want %v (%q)", got, tt.problem, p.Problems)
			}
		})
	}
	t.Run("testdata string form", func(t *testing.T) {
		p, err := DecodePage(readTestdata(t, "page_message_string.json"), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Message, []string{"Retrieving conversations succeeded"}) {
			t.Errorf("Message = %q", p.Message)
		}
		c := p.Conversations[0]
		if !c.EndAt.IsZero() || len(c.Problems) != 0 {
			t.Errorf("null endAt: EndAt = %v, Problems = %q", c.EndAt, c.Problems)
		}
	})
}

func hasProblem(problems []string, prefix string) bool {
	return slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, prefix) })
}

func TestDecodePageTolerantRows(t *testing.T) {
	body := readTestdata(t, "page_mixed_rows.json")
	p, err := DecodePage(body, guayaquil)
	if err != nil {
		t.Fatalf("DecodePage: %v", err)
	}
	if len(p.Conversations) != 5 {
		t.Fatalf("got %d rows, want all 5", len(p.Conversations))
	}
	tests := []struct {
		name     string
		check    func(c Conversation) bool
		problems []string // prefixes, in order
	}{
		{
			name: "rfc3339 times, float millis, unknown fields",
			check: func(c Conversation) bool {
				return c.ID == "ok-rfc3339" && c.State == StateClosed &&
					c.StartAt.Equal(time.Date(2024, 3, 10, 13, 0, 0, 0, time.UTC)) &&
					c.EndAt.Equal(time.Date(2024, 3, 10, 13, 30, 0, 250e6, time.UTC)) &&
					c.TimeRepliedOperator == 1501 && c.ConversationDuration == 19800000 &&
					c.Company.ID == "co-1" &&
					bytes.Contains(c.Raw, []byte(`"tags": ["vip"]`)) && bytes.Contains(c.Raw, []byte(`"plan": "gold"`))
			},
		},
		{
			name: "number id, empty endAt, wrong types",
			check: func(c Conversation) bool {
				return c.ID == "12345" && c.EndAt.IsZero() && c.TimeRepliedOperator == 0 &&
					c.ConversationDuration == -5 && c.Operator.Names == "" &&
					c.StartAt.Equal(time.Date(2024, 3, 10, 13, 0, 0, 0, time.UTC))
			},
			problems: []string{"_id: number", "operator: string", "timeRepliedOperator: string", "conversationDuration: negative"},
		},
		{
			name:     "absurd dates, array names",
			check:    func(c Conversation) bool { return c.ID == "bad-dates" && c.StartAt.IsZero() && c.EndAt.IsZero() },
			problems: []string{"operator.names: array", "startAt: unparseable", "endAt: implausible"},
		},
		{
			name: "missing id, unknown state, fractional seconds, huge number",
			check: func(c Conversation) bool {
				return c.ID == "" && c.State == "escalated" && !c.State.Known() &&
					c.StartAt.Equal(time.Date(2024, 3, 10, 13, 0, 0, 123e6, time.UTC))
			},
			problems: []string{"_id: missing", "timeRepliedOperator: number out of range"},
		},
		{
			name:     "row not an object",
			check:    func(c Conversation) bool { return string(c.Raw) == `"not a row"` },
			problems: []string{"row: string"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.Conversations[i]
			if !tt.check(c) {
				t.Errorf("row %d decoded as %+v", i, c)
			}
			if len(c.Problems) != len(tt.problems) {
				t.Fatalf("Problems = %q, want prefixes %q", c.Problems, tt.problems)
			}
			for j, want := range tt.problems {
				if !strings.HasPrefix(c.Problems[j], want) {
					t.Errorf("Problems[%d] = %q, want prefix %q", j, c.Problems[j], want)
				}
			}
			if !json.Valid(c.Raw) || !bytes.Contains(body, c.Raw) {
				t.Errorf("Raw is not the row's bytes: %q", c.Raw)
			}
		})
	}
}

func TestDecodePagePagination(t *testing.T) {
	tests := []struct {
		name     string
		pag      string
		want     Pagination
		problems []string
		pages    int // PageCount(10)
	}{
		{"vendor sample, no page", `{"limit":1,"total":61,"offset":0,"totalPages":61}`, Pagination{Limit: 1, Total: 61, TotalPages: 61, Present: true}, nil, 61},
		{"no totalPages uses server limit", `{"limit":5,"page":2,"total":12,"offset":5}`, Pagination{Limit: 5, Page: 2, Total: 12, Offset: 5, Present: true}, nil, 3},
		{"no limit uses requested", `{"total":25}`, Pagination{Total: 25, Present: true}, nil, 3},
		{"floats and null", `{"limit":10.0,"page":null,"total":3}`, Pagination{Limit: 10, Total: 3, Present: true}, nil, 1},
		{"string total", `{"limit":10,"total":"12"}`, Pagination{Limit: 10}, []string{"pagination.total: string", "pagination.total: missing"}, 0},
		{"negative", `{"total":-1}`, Pagination{}, []string{"pagination.total: out of range", "pagination.total: missing"}, 0},
		{"not an object", `[1]`, Pagination{}, []string{"pagination: array"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePage([]byte(`{"results":[],"pagination":`+tt.pag+`}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Pagination != tt.want {
				t.Errorf("Pagination = %+v, want %+v", p.Pagination, tt.want)
			}
			if !slices.EqualFunc(p.Problems, tt.problems, strings.HasPrefix) {
				t.Errorf("Problems = %q, want prefixes %q", p.Problems, tt.problems)
			}
			if got := p.Pagination.PageCount(10); got != tt.pages {
				t.Errorf("PageCount(10) = %d, want %d", got, tt.pages)
			}
		})
	}
}

func TestDecodePageErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		wantErr string
	}{
		{"truncated", readTestdata(t, "page_truncated.json"), "truncated JSON"},
		{"html", readTestdata(t, "page_not_json.txt"), "invalid JSON after 0 bytes"},
		{"empty", nil, "empty body"},
		{"blank", []byte(" \n"), "empty body"},
		{"null", []byte("null"), "not a JSON object"},
		{"array", []byte(`[{"_id":"x"}]`), "not a JSON object"},
		{"empty object", []byte(`{}`), "neither results nor pagination"},
		{"error envelope", readTestdata(t, "error_500.json"), "neither results nor pagination"},
		{"results object", []byte(`{"results":{"_id":"x"},"pagination":{"total":1}}`), "results is a object"},
		{"trailing garbage", []byte(`{"results":[]} x`), "invalid JSON"},
		{"long garbage", bytes.Repeat([]byte("<p>\x00\xff"), 200), "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePage(tt.body, nil)
			if err == nil {
				t.Fatalf("DecodePage = %+v, want an error", p)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v, want *DecodeError", err, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if len(de.Snippet) > snippetLen+len("…") || strings.ContainsAny(de.Snippet, "\x00\n") {
				t.Errorf("Snippet not bounded or not sanitised: %q", de.Snippet)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"2023-06-08 15:52:41", time.Date(2023, 6, 8, 20, 52, 41, 0, time.UTC), ""},
		{"2023-06-08 15:52:41.5", time.Date(2023, 6, 8, 20, 52, 41, 5e8, time.UTC), ""},
		{"2023-06-08T15:52:41", time.Date(2023, 6, 8, 20, 52, 41, 0, time.UTC), ""},
		{"2023-06-08T15:52:41Z", time.Date(2023, 6, 8, 15, 52, 41, 0, time.UTC), ""},
		{"2023-06-08T15:52:41.123456Z", time.Date(2023, 6, 8, 15, 52, 41, 123456e3, time.UTC), ""},
		{"2023-06-08T15:52:41+02:00", time.Date(2023, 6, 8, 13, 52, 41, 0, time.UTC), ""},
		{"2023-06-08 15:52:41-03:00", time.Date(2023, 6, 8, 18, 52, 41, 0, time.UTC), ""},
		{" 2023-06-08 15:52:41 ", time.Date(2023, 6, 8, 20, 52, 41, 0, time.UTC), ""},
		{"2023-13-45 99:99:99", time.Time{}, "unparseable"},
		{"08/06/2023", time.Time{}, "unparseable"},
		{"1970-01-01 00:00:00", time.Time{}, "implausible"},
		{"9999-12-31T23:59:59Z", time.Time{}, "implausible"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, guayaquil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTime = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("ParseTime = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// BenchmarkDecodePage decodes a page of 100 rows shaped like the vendor's
// sample (about 40 KB).
func BenchmarkDecodePage(b *testing.B) {
	data := benchPage(100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePage(data, guayaquil); err != nil {
			b.Fatal(err)
		}
	}
}
