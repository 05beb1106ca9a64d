package jelousim

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		body        string
		from, to    string
		limit, page int
		err         bool
	}{
		{"vendor example", "limit=10", `{"startAt":"2025-01-01T00:00:00-05:00","endAt":"2025-01-01T23:59:59-05:00","getJson":true}`, "2025-01-01T05:00:00Z", "2025-01-02T04:59:59Z", 10, 1, false},
		{"zulu, defaults", "", `{"startAt":"2023-11-07T05:31:56Z","endAt":"2023-11-07T05:31:56Z","getJson":true}`, "2023-11-07T05:31:56Z", "2023-11-07T05:31:56Z", 10, 1, false},
		{"unknown members ignored", "page=3&limit=7&x=1", `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T00:00:01Z","getJson":true,"other":[1]}`, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z", 7, 3, false},
		{"keys are case-sensitive", "", `{"STARTAT":"2025-01-01T00:00:00Z","endAt":"2025-01-01T00:00:01Z","getJson":true}`, "", "", 0, 0, true},
		{"trailing garbage", "", `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T00:00:01Z","getJson":true} x`, "", "", 0, 0, true},
		{"null body", "", `null`, "", "", 0, 0, true},
		{"date only", "", `{"startAt":"2025-01-01","endAt":"2025-01-02","getJson":true}`, "", "", 0, 0, true},
		{"limit float", "limit=1.5", `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T00:00:01Z","getJson":true}`, "", "", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			r, err := parseRequest(q, []byte(tt.body), 0)
			if tt.err {
				var re *requestError
				if !errors.As(err, &re) {
					t.Fatalf("error %v, want a *requestError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			from, _ := time.Parse(time.RFC3339, tt.from)
			to, _ := time.Parse(time.RFC3339, tt.to)
			if r.from != from.Unix() || r.to != to.Unix() || r.limit != tt.limit || r.page != tt.page {
				t.Errorf("got %+v, want from %s to %s limit %d page %d", r, tt.from, tt.to, tt.limit, tt.page)
			}
		})
	}
}

// FuzzParseBody checks that no body panics the parser and that an accepted
// body describes a non-empty window that survives a round trip.
func FuzzParseBody(f *testing.F) {
	for _, seed := range []string{
		`{"startAt":"2025-01-01T00:00:00-05:00","endAt":"2025-01-01T23:59:59-05:00","getJson":true}`,
		`{"startAt":"2025-01-01T00:00:00.123Z","endAt":"2025-01-01T00:00:00.999Z","getJson":true}`,
		`{"startAt":"2025-01-01T00:00:00+0530","endAt":"2025-01-01T00:00:00Z","getJson":true}`,
		`{"startAt":null,"endAt":1,"getJson":"true"}`,
		`{}`, `[]`, `null`, `"x"`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		from, to, err := parseBody(body)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *requestError", err)
			}
			return
		}
		if to.Before(from) {
			t.Fatalf("accepted an inverted window %v..%v", from, to)
		}
		if from.Nanosecond() != 0 || to.Nanosecond() != 0 {
			t.Fatalf("window %v..%v keeps fractions of a second", from, to)
		}
		again, againTo, err := parseBody([]byte(windowBody(from, to)))
		if err != nil || !again.Equal(from) || !againTo.Equal(to) {
			t.Fatalf("round trip of %v..%v gave %v..%v, %v", from, to, again, againTo, err)
		}
	})
}
