package event

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// TestEncodeGolden pins the structured form byte for byte: a change here is
// a change of the published contract.
func TestEncodeGolden(t *testing.T) {
	for _, name := range []string{"first sight expired", "missing company"} {
		t.Run(name, func(t *testing.T) {
			e := events(t)[name]
			value, headers, err := e.Encode(Structured)
			if err != nil {
				t.Fatal(err)
			}
			if want := []Header{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}; !reflect.DeepEqual(headers, want) {
				t.Errorf("headers = %q, want %q", headers, want)
			}
			golden := filepath.Join("testdata", strings.ReplaceAll(name, " ", "_")+".golden.json")
			if *update {
				if err := os.WriteFile(golden, value, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(value, want) {
				t.Errorf("structured value differs from %s (run with -update if intended)\ngot:  %s\nwant: %s", golden, value, want)
			}
		})
	}
}

func TestEncodeBinaryHeaders(t *testing.T) {
	tests := []struct {
		name string
		want []Header
	}{
		{"state change", []Header{
			{"ce_specversion", []byte("1.0")},
			{"ce_id", []byte(ID("64b0c1f2e4b0a1b2c3d4e5f8", jelou.StateResolved))},
			{"ce_source", []byte("jelou-producer/acme")},
			{"ce_type", []byte("ai.jelou.conversation.attended.v1")},
			{"ce_subject", []byte("64b0c1f2e4b0a1b2c3d4e5f8")},
			{"ce_time", []byte("2024-05-01T10:31:00.123Z")},
			{"ce_dataschema", []byte(DefaultDataSchema)},
			{"ce_companyid", []byte("1203")},
			{"content-type", []byte("application/json")},
		}},
		{"missing company", []Header{
			{"ce_specversion", []byte("1.0")},
			{"ce_id", []byte(ID("64b0c1f2e4b0a1b2c3d4e5f7", jelou.StateClosed))},
			{"ce_source", []byte("jelou-producer/acme")},
			{"ce_type", []byte("ai.jelou.conversation.attended.v1")},
			{"ce_subject", []byte("64b0c1f2e4b0a1b2c3d4e5f7")},
			{"ce_time", []byte("2024-05-01T10:31:00.123Z")},
			{"ce_dataschema", []byte(DefaultDataSchema)},
			{"content-type", []byte("application/json")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := events(t)[tt.name]
			value, headers, err := e.Encode(Binary)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(headers, tt.want) {
				t.Errorf("headers:\ngot  %q\nwant %q", headers, tt.want)
			}
			// Not json.Marshal: it would re-escape the raw row's < > &.
			data, err := e.Data.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(value, data) {
				t.Errorf("binary value is not the data object:\ngot  %s\nwant %s", value, data)
			}
		})
	}
}

// TestRoundTrip encodes every fixture in both modes, decodes it, and
// expects the same event back and the same bytes when encoded again.
func TestRoundTrip(t *testing.T) {
	for _, mode := range []Mode{Structured, Binary} {
		for _, f := range fixtures(t) {
			t.Run(mode.String()+"/"+f.name, func(t *testing.T) {
				e := New(source, f.conv, f.previous, window, observed)
				value, headers, err := e.Encode(mode)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Decode(value, headers)
				if err != nil {
					t.Fatalf("Decode: %v\nvalue: %s", err, value)
				}
				if !equalEvents(*got, e) {
					t.Errorf("round trip changed the event:\ngot  %s\nwant %s", dump(*got), dump(e))
				}
				if !bytes.Equal(got.Data.Conversation, f.conv.Raw) {
					t.Errorf("raw row not preserved byte for byte:\ngot  %s\nwant %s", got.Data.Conversation, f.conv.Raw)
				}
				if !bytes.Contains(value, f.conv.Raw) {
					t.Errorf("encoded value does not hold the raw row verbatim")
				}
				again, _, err := got.Encode(mode)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, value) {
					t.Errorf("re-encoding differs:\ngot  %s\nwant %s", again, value)
				}
			})
		}
	}
}

// equalEvents compares events, times by instant.
func equalEvents(a, b Event) bool {
	times := [][2]time.Time{{a.Time, b.Time}, {a.Data.StartAt, b.Data.StartAt}, {a.Data.EndAt, b.Data.EndAt},
		{a.Data.Window.Start, b.Data.Window.Start}, {a.Data.Window.End, b.Data.Window.End}}
	for _, p := range times {
		if !p[0].Equal(p[1]) {
			return false
		}
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	a.Data.StartAt, b.Data.StartAt = time.Time{}, time.Time{}
	a.Data.EndAt, b.Data.EndAt = time.Time{}, time.Time{}
	a.Data.Window, b.Data.Window = jelou.Window{}, jelou.Window{}
	return reflect.DeepEqual(a, b)
}

func TestEncodeTimesUTC(t *testing.T) {
	e := events(t)["state change"]
	e.Time = time.Date(2024, 5, 1, 5, 31, 0, 0, guayaquil)
	e.Data.StartAt = time.Date(2024, 5, 1, 4, 20, 0, 500_000_000, guayaquil)
	value, _, err := e.Encode(Structured)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Time string `json:"time"`
		Data struct {
			StartAt string `json:"startAt"`
			EndAt   string `json:"endAt"`
			Window  struct{ Start, End string }
		} `json:"data"`
	}
	if err := json.Unmarshal(value, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{"time", doc.Time, "2024-05-01T10:31:00Z"},
		{"data.startAt", doc.Data.StartAt, "2024-05-01T09:20:00.5Z"},
		{"data.endAt", doc.Data.EndAt, "2024-05-01T10:00:00Z"},
		{"data.window.start", doc.Data.Window.Start, "2024-05-01T09:00:00Z"},
		{"data.window.end", doc.Data.Window.End, "2024-05-01T09:59:59Z"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestEncodeOptionalMembers(t *testing.T) {
	tests := []struct {
		name        string
		present     []string
		absent      []string
		nullMembers []string
	}{
		{"first sight expired", []string{`"companyid":"COMPANY_ID"`, `"companyId":"COMPANY_ID"`}, []string{`"previousState"`, `"problems"`}, nil},
		{"active with null endAt", []string{`"state":"active"`}, []string{`"previousState"`}, []string{`"endAt":null`}},
		{"state change", []string{`"previousState":"active"`, `"state":"resolved"`}, []string{`"problems"`}, nil},
		{"missing company", nil, []string{`"companyid"`, `"companyId"`}, nil},
		{"problems", []string{`"problems":["startAt: unparseable \"yesterday\"","timeRepliedOperator: not a number: \"fast\""]`}, nil, []string{`"startAt":null`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := events(t)[tt.name]
			value, _, err := e.Encode(Structured)
			if err != nil {
				t.Fatal(err)
			}
			// Only look outside data.conversation, which is the raw row.
			outer := bytes.Replace(value, e.Data.Conversation, []byte("{}"), 1)
			for _, s := range append(tt.present, tt.nullMembers...) {
				if !bytes.Contains(outer, []byte(s)) {
					t.Errorf("value lacks %s: %s", s, outer)
				}
			}
			for _, s := range tt.absent {
				if bytes.Contains(outer, []byte(s)) {
					t.Errorf("value has %s: %s", s, outer)
				}
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	tests := []string{
		"", "plain", `quote " backslash \`, "tab\tnewline\nreturn\r", "\x00\x01\x1f\x7f",
		"<html> & co", "ñandú 😀", "line\u2028sep\u2029", "bad \xff utf8 \xe2\x82", "José",
	}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			got := appendString(nil, s)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			// encoding/json escapes the replacement of invalid UTF-8 as
			// \ufffd; appendString writes the character, which decodes the
			// same and re-encodes to the same bytes.
			want := bytes.ReplaceAll(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte(`\ufffd`), []byte("\ufffd"))
			if !bytes.Equal(got, want) {
				t.Errorf("appendString(%q) = %s, want %s (encoding/json, replacement unescaped)", s, got, want)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil || !bytes.Equal(appendString(nil, back), got) {
				t.Errorf("appendString(%q) = %s does not round-trip (%v)", s, got, err)
			}
		})
	}
}

func TestEncodeUnknownMode(t *testing.T) {
	e := events(t)["first sight expired"]
	if _, _, err := e.Encode(Mode(7)); err == nil {
		t.Error("Encode(Mode(7)) succeeded")
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"", Structured, false}, {"structured", Structured, false}, {"binary", Binary, false}, {"Binary", 0, true}, {"avro", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseMode(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
