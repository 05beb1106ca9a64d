package event

import (
	"bytes"
	"errors"
	"testing"
)

func TestUnframe(t *testing.T) {
	tests := []struct {
		name    string
		value   []byte
		id      uint32
		payload []byte
		err     bool
	}{
		{"plain JSON", []byte(`{"a":1}`), 0, []byte(`{"a":1}`), false},
		{"empty", nil, 0, nil, false},
		{"framed", []byte{0, 0, 0, 1, 2, '{', '}'}, 258, []byte(`{}`), false},
		{"framed, empty payload", []byte{0, 0x7f, 0xff, 0xff, 0xff}, 0x7fffffff, []byte{}, false},
		{"highest id", []byte{0, 0xff, 0xff, 0xff, 0xff, '{', '}'}, 0xffffffff, []byte(`{}`), false},
		{"magic byte alone", []byte{0}, 0, nil, true},
		{"id cut short", []byte{0, 0, 0, 1}, 0, nil, true},
		{"id 0", []byte{0, 0, 0, 0, 0, '{', '}'}, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, payload, err := Unframe(tt.value)
			if (err != nil) != tt.err {
				t.Fatalf("Unframe error = %v, want error %v", err, tt.err)
			}
			if err != nil {
				if !errors.Is(err, ErrFrame) {
					t.Errorf("error %v does not wrap ErrFrame", err)
				}
				return
			}
			if id != tt.id || !bytes.Equal(payload, tt.payload) {
				t.Errorf("Unframe = %d, %q; want %d, %q", id, payload, tt.id, tt.payload)
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	got := AppendFrame([]byte("x"), 0x01020304)
	if want := []byte{'x', 0, 1, 2, 3, 4}; !bytes.Equal(got, want) {
		t.Errorf("AppendFrame = %v, want %v", got, want)
	}
}

// TestFramedRecord checks that a framed record is the plain record's value
// behind the prefix, with the same key and headers, in both modes, and
// that Record.Event, Decode and DecodeFramed read it back.
func TestFramedRecord(t *testing.T) {
	for _, f := range fixtures(t) {
		e := New(source, f.conv, f.previous, window, observed)
		for _, mode := range []Mode{Structured, Binary} {
			plain, err := e.Record(mode)
			if err != nil {
				t.Fatal(err)
			}
			framed, err := e.FramedRecord(mode, 42)
			if err != nil {
				t.Fatalf("%s %v: %v", f.name, mode, err)
			}
			if want := append([]byte{0, 0, 0, 0, 42}, plain.Value...); !bytes.Equal(framed.Value, want) {
				t.Errorf("%s %v: framed value\n%q\nwant\n%q", f.name, mode, framed.Value, want)
			}
			if !bytes.Equal(framed.Key, plain.Key) || formatHeaders(framed.Headers) != formatHeaders(plain.Headers) {
				t.Errorf("%s %v: framing changed the key or headers", f.name, mode)
			}
			if id, err := framed.SchemaID(); id != 42 || err != nil {
				t.Errorf("%s %v: SchemaID = %d, %v; want 42", f.name, mode, id, err)
			}
			if id, err := plain.SchemaID(); id != 0 || err != nil {
				t.Errorf("%s %v: plain SchemaID = %d, %v; want 0", f.name, mode, id, err)
			}
			got, err := framed.Event()
			if err != nil {
				t.Fatalf("%s %v: a framed record does not decode: %v", f.name, mode, err)
			}
			if got.ID != e.ID || !bytes.Equal(got.Data.Conversation, e.Data.Conversation) {
				t.Errorf("%s %v: decoded %+v, want %+v", f.name, mode, got, e)
			}
			_, id, err := DecodeFramed(framed.Value, framed.Headers)
			if err != nil || id != 42 {
				t.Errorf("%s %v: DecodeFramed id = %d, %v; want 42", f.name, mode, id, err)
			}
			_, id, err = DecodeFramed(plain.Value, plain.Headers)
			if err != nil || id != 0 {
				t.Errorf("%s %v: DecodeFramed of the plain value: id = %d, %v; want 0", f.name, mode, id, err)
			}
			unframed, err := e.FramedRecord(mode, 0)
			if err != nil || !bytes.Equal(unframed.Value, plain.Value) {
				t.Errorf("%s %v: FramedRecord with id 0 is not Record: %v", f.name, mode, err)
			}
		}
	}
	if _, err := Decode([]byte{0, 0, 1}, nil); !errors.Is(err, ErrFrame) {
		t.Errorf("Decode of a cut frame: %v, want ErrFrame", err)
	}
	bad := New(source, fixtures(t)[0].conv, "", window, observed)
	bad.Subject = ""
	if _, err := bad.FramedRecord(Structured, 1); err == nil {
		t.Error("FramedRecord of an invalid event succeeded")
	}
	if _, err := bad.FramedRecord(Mode(7), 1); err == nil {
		t.Error("FramedRecord in an unknown mode succeeded")
	}
}
