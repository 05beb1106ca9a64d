package event

import (
	"bytes"
	"strings"
	"testing"
)

// parseHeaders reads "key: value" lines; the fuzzer's stand-in for record
// headers.
func parseHeaders(s string) []Header {
	var hs []Header
	for line := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		hs = append(hs, Header{Key: k, Value: []byte(strings.TrimPrefix(v, " "))})
	}
	return hs
}

func formatHeaders(hs []Header) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.Key + ": " + string(h.Value) + "\n")
	}
	return b.String()
}

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// is a valid event that encodes in both modes, framed in the Schema
// Registry wire format or not, and decodes back to the same bytes; a framed
// value keeps its schema id.
func FuzzDecode(f *testing.F) {
	for _, e := range events(f) {
		for _, mode := range []Mode{Structured, Binary} {
			value, headers, err := e.Encode(mode)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(value, formatHeaders(headers))
			r, err := e.FramedRecord(mode, 7)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(r.Value, formatHeaders(r.Headers))
		}
	}
	f.Add([]byte(`{"specversion":"1.0"}`), "")
	f.Add([]byte(`[]`), "content-type: application/cloudevents-batch+json")
	f.Add([]byte(`{}`), "ce_specversion: 1.0\ncontent-type: application/json")
	f.Add([]byte{0, 0, 0}, "")
	f.Add([]byte{0, 0, 0, 0, 0, '{', '}'}, "")
	f.Fuzz(func(t *testing.T, value []byte, headerText string) {
		e, id, err := DecodeFramed(value, parseHeaders(headerText))
		if err != nil {
			if e != nil {
				t.Fatalf("Decode returned an event and error %v", err)
			}
			return
		}
		if framed := len(value) > 0 && value[0] == MagicByte; framed != (id != 0) {
			t.Fatalf("value starting with %#x decoded with schema id %d", value[0], id)
		}
		if id != 0 {
			for _, mode := range []Mode{Structured, Binary} {
				r, err := e.FramedRecord(mode, id)
				if err != nil {
					t.Fatalf("decoded event does not encode framed in %v mode: %v", mode, err)
				}
				if _, id2, err := DecodeFramed(r.Value, r.Headers); err != nil || id2 != id {
					t.Fatalf("framed %v encoding decodes with id %d, %v; want %d", mode, id2, err, id)
				}
			}
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded event is invalid: %v", err)
		}
		for _, mode := range []Mode{Structured, Binary} {
			v1, h1, err := e.Encode(mode)
			if err != nil {
				t.Fatalf("decoded event does not encode in %v mode: %v", mode, err)
			}
			e2, err := Decode(v1, h1)
			if err != nil {
				t.Fatalf("%v encoding of a decoded event does not decode: %v\n%s", mode, err, v1)
			}
			v2, _, err := e2.Encode(mode)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v1, v2) {
				t.Fatalf("%v encoding not stable:\n%s\n%s", mode, v1, v2)
			}
			if !bytes.Equal(e2.Data.Conversation, e.Data.Conversation) {
				t.Fatalf("conversation changed across %v round trip", mode)
			}
		}
	})
}
