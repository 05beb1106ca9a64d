package event

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// encoded returns the fixture named name encoded in mode.
func encoded(t *testing.T, name string, mode Mode) ([]byte, []Header) {
	t.Helper()
	e := events(t)[name]
	value, headers, err := e.Encode(mode)
	if err != nil {
		t.Fatal(err)
	}
	return value, headers
}

// withHeader returns headers with key's value replaced, or removed when
// value is nil.
func withHeader(headers []Header, key string, value []byte) []Header {
	var out []Header
	for _, h := range headers {
		if h.Key != key {
			out = append(out, h)
		}
	}
	if value != nil {
		out = append(out, Header{Key: key, Value: value})
	}
	return out
}

func TestDecodeModes(t *testing.T) {
	structured, sh := encoded(t, "state change", Structured)
	data, bh := encoded(t, "state change", Binary)
	upper := make([]Header, len(bh))
	for i, h := range bh {
		upper[i] = Header{Key: strings.ToUpper(h.Key), Value: h.Value}
	}
	tests := []struct {
		name    string
		value   []byte
		headers []Header
	}{
		{"structured", structured, sh},
		{"structured, content-type in other case and without charset", structured, []Header{{"Content-Type", []byte("Application/CloudEvents+JSON")}}},
		{"structured sniffed without headers", structured, nil},
		{"structured with unrelated headers", structured, []Header{{"traceparent", []byte("00-abc-def-01")}}},
		{"binary", data, bh},
		{"binary, header names in upper case", data, upper},
		{"binary without content-type", data, withHeader(bh, "content-type", nil)},
		{"binary with charset", data, withHeader(bh, "content-type", []byte("application/json; charset=utf-8"))},
		{"binary with unknown extension", data, append(bh, Header{"ce_traceparent", []byte("x")})},
		{"structured with unknown attributes and members", bytes.Replace(
			bytes.Replace(structured, []byte(`{"specversion"`), []byte(`{"futureattr":{"a":[1]},"specversion"`), 1),
			[]byte(`"data":{`), []byte(`"data":{"futureMember":42,`), 1), sh},
	}
	want := events(t)["state change"]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.value, tt.headers)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalEvents(*got, want) {
				t.Errorf("got  %s\nwant %s", dump(*got), dump(want))
			}
		})
	}
}

func TestDecodeOffsetTimes(t *testing.T) {
	value, headers := encoded(t, "state change", Binary)
	headers = withHeader(headers, "ce_time", []byte("2024-05-01T05:31:00.123-05:00"))
	value = bytes.Replace(value, []byte(`"startAt":"2024-05-01T09:20:00Z"`), []byte(`"startAt":"2024-05-01T04:20:00-05:00"`), 1)
	got, err := Decode(value, headers)
	if err != nil {
		t.Fatal(err)
	}
	want := events(t)["state change"]
	if !got.Time.Equal(want.Time) || !got.Data.StartAt.Equal(want.Data.StartAt) {
		t.Errorf("times = %v, %v; want %v, %v", got.Time, got.Data.StartAt, want.Time, want.Data.StartAt)
	}
	if got.Time.Location().String() != "UTC" {
		t.Errorf("decoded time %v is not in UTC", got.Time)
	}
}

func TestDecodeErrors(t *testing.T) {
	structured, sh := encoded(t, "first sight expired", Structured)
	data, bh := encoded(t, "first sight expired", Binary)
	replace := func(old, new string) []byte {
		if !bytes.Contains(structured, []byte(old)) {
			t.Fatalf("fixture lacks %s", old)
		}
		return bytes.Replace(structured, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name      string
		value     []byte
		headers   []Header
		wantIs    error  // sentinel, or nil
		wantField string // FieldError.Field, or ""
	}{
		{"empty record", nil, nil, ErrNotEvent, ""},
		{"plain JSON", []byte(`{"hello":"world"}`), nil, ErrNotEvent, ""},
		{"JSON array", []byte(`[1,2]`), nil, ErrNotEvent, ""},
		{"plain JSON content type without ce headers", data, []Header{{"content-type", []byte("application/json")}}, ErrNotEvent, ""},
		{"bad content-type", structured, []Header{{"content-type", []byte("application/;;")}}, nil, ""},
		{"batch mode", []byte(`[` + string(structured) + `]`), []Header{{"content-type", []byte("application/cloudevents-batch+json")}}, ErrUnsupported, ""},
		{"avro format", structured, []Header{{"content-type", []byte("application/cloudevents+avro")}}, ErrUnsupported, ""},
		{"truncated structured", structured[:len(structured)/2], sh, nil, ""},
		{"specversion 0.3", replace(`"specversion":"1.0"`, `"specversion":"0.3"`), sh, ErrUnsupported, "specversion"},
		{"data_base64", replace(`"data":`, `"data_base64":"e30=","data":`), sh, ErrUnsupported, "data_base64"},
		{"no data", replace(`,"data":{`, `,"nodata":{`), sh, nil, "data"},
		{"data not an object", replace(`"data":{`, `"data":"x","nodata":{`), sh, nil, "data"},
		{"xml data", replace(`"datacontenttype":"application/json"`, `"datacontenttype":"application/xml"`), sh, ErrUnsupported, "datacontenttype"},
		{"missing id", replace(`"id":"76dd2b81-1dac-5231-a1c0-83dbb5365a88",`, ``), sh, nil, "id"},
		{"missing source", replace(`"source":"jelou-producer/acme",`, ``), sh, nil, "source"},
		{"missing subject", replace(`"subject":"CONVERSATION_ID",`, ``), sh, nil, "subject"},
		{"missing time", replace(`"time":"2024-05-01T10:31:00.123Z",`, ``), sh, nil, "time"},
		{"bad time", replace(`"time":"2024-05-01T10:31:00.123Z"`, `"time":"2024-05-01 10:31:00"`), sh, nil, "time"},
		{"id not a string", replace(`"id":"76dd2b81-1dac-5231-a1c0-83dbb5365a88"`, `"id":7`), sh, nil, ""},
		{"other type", replace(`"type":"ai.jelou.conversation.attended.v1"`, `"type":"ai.jelou.conversation.attended.v2"`), sh, ErrUnknownType, "type"},
		{"no state", replace(`"state":"expired","companyId"`, `"companyId"`), sh, nil, "data.state"},
		{"no window", replace(`"window":{"start":"2024-05-01T09:00:00Z","end":"2024-05-01T09:59:59Z"},`, ``), sh, nil, "data.window"},
		{"bad window end", replace(`"end":"2024-05-01T09:59:59Z"`, `"end":"soon"`), sh, nil, "data.window.end"},
		{"bad startAt", replace(`"startAt":"2023-06-08T15:52:41Z"`, `"startAt":"2023-06-08 15:52:41"`), sh, nil, "data.startAt"},
		{"bad endAt", replace(`"endAt":"2023-06-08T23:07:56Z"`, `"endAt":"never"`), sh, nil, "data.endAt"},
		{"null conversation", bytes.Replace(data, data[bytes.Index(data, []byte(`"conversation":`)):len(data)-1], []byte(`"conversation":null`), 1), bh, nil, "data.conversation"},
		{"binary, data not an object", []byte(`"x"`), bh, nil, "data"},
		{"binary, data not JSON", []byte(`{"state":`), bh, nil, "data"},
		{"binary, no ce_id", data, withHeader(bh, "ce_id", nil), nil, "id"},
		{"binary, bad ce_time", data, withHeader(bh, "ce_time", []byte("yesterday")), nil, "time"},
		{"binary, text/plain data", data, withHeader(bh, "content-type", []byte("text/plain")), ErrUnsupported, "datacontenttype"},
		{"binary, specversion 2.0", data, withHeader(bh, "ce_specversion", []byte("2.0")), ErrUnsupported, "specversion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode(tt.value, tt.headers)
			if err == nil {
				t.Fatalf("Decode succeeded: %s", dump(*e))
			}
			if e != nil {
				t.Errorf("Decode returned an event with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "decode ") {
				t.Errorf("error %q lacks the decode prefix", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Decode error %q is not %q", err, tt.wantIs)
			}
			var fe *FieldError
			if tt.wantField != "" && (!errors.As(err, &fe) || fe.Field != tt.wantField) {
				t.Errorf("Decode error %q, want a FieldError on %q", err, tt.wantField)
			}
		})
	}
}

func TestUnmarshalJSON(t *testing.T) {
	want := events(t)["problems"]
	value, _ := encoded(t, "problems", Structured)
	var e Event
	if err := e.UnmarshalJSON(value); err != nil {
		t.Fatal(err)
	}
	if !equalEvents(e, want) {
		t.Errorf("got  %s\nwant %s", dump(e), dump(want))
	}
	var d Data
	if err := d.UnmarshalJSON([]byte(`{"state":"active"}`)); err == nil {
		t.Error("Data.UnmarshalJSON accepted data without window and conversation")
	}
	if err := e.UnmarshalJSON([]byte(`{"specversion":"1.0"}`)); err == nil {
		t.Error("Event.UnmarshalJSON accepted an event without data")
	}
	if !equalEvents(e, want) {
		t.Error("a failed UnmarshalJSON changed the event")
	}
}
