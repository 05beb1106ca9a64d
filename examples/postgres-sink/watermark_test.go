package main

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jelou-producer/jelou-producer/schemas"
)

const validWatermark = `{"specversion":"1.0","id":"6f1c1e9e-3b1a-5c4e-9a51-0c6a1f1d2b3c","source":"jelou-producer/acme",
"type":"ai.jelou.conversation.attended.watermark.v1","subject":"acme","time":"2025-03-03T12:00:05Z",
"datacontenttype":"application/json","data":{"completeBefore":"2025-03-03T11:00:00Z","topic":"jelou.conversations.attended",
"offsets":[{"partition":0,"offset":12},{"partition":2,"offset":0}],"future":1},"extension":"x"}`

func TestDecodeWatermark(t *testing.T) {
	w, err := DecodeWatermark([]byte(validWatermark))
	if err != nil {
		t.Fatal(err)
	}
	want := Watermark{ID: "6f1c1e9e-3b1a-5c4e-9a51-0c6a1f1d2b3c", Source: "jelou-producer/acme", Subject: "acme",
		Time: time.Date(2025, 3, 3, 12, 0, 5, 0, time.UTC), CompleteBefore: time.Date(2025, 3, 3, 11, 0, 0, 0, time.UTC),
		Topic: "jelou.conversations.attended", Offsets: map[int]int64{0: 12, 2: 0}}
	if w.ID != want.ID || w.Source != want.Source || w.Subject != want.Subject || !w.Time.Equal(want.Time) ||
		!w.CompleteBefore.Equal(want.CompleteBefore) || w.Topic != want.Topic || !maps.Equal(w.Offsets, want.Offsets) {
		t.Errorf("got %+v\nwant %+v", w, want)
	}

	tests := []struct {
		name    string
		from    string // replaced in validWatermark
		to      string
		wantErr string
		notWM   bool // errors.Is(err, ErrNotWatermark)
	}{
		{"another type", `watermark.v1"`, `watermark.v2"`, "watermark.v2", true},
		{"a conversation event", `"type":"ai.jelou.conversation.attended.watermark.v1"`, `"type":"ai.jelou.conversation.attended.v1"`, "attended.v1", true},
		{"another specversion", `"specversion":"1.0"`, `"specversion":"0.3"`, "specversion", false},
		{"no id", `"id":"6f1c1e9e-3b1a-5c4e-9a51-0c6a1f1d2b3c",`, ``, "no id", false},
		{"no source", `"source":"jelou-producer/acme",`, ``, "no source", false},
		{"no topic", `"topic":"jelou.conversations.attended",`, ``, "data.topic", false},
		{"completeBefore not a time", `"completeBefore":"2025-03-03T11:00:00Z"`, `"completeBefore":"yesterday"`, "data.completeBefore", false},
		{"negative offset", `"offset":12`, `"offset":-1`, "out of range", false},
		{"negative partition", `"partition":2`, `"partition":-2`, "out of range", false},
		{"offset without partition", `"partition":2,`, ``, "lacks partition", false},
		{"a partition twice", `"partition":2`, `"partition":0`, "twice", false},
		{"no data", `"data":{`, `"other":{`, "no data", false},
		{"not JSON", `{"specversion"`, `{specversion`, "decode watermark", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(validWatermark, tt.from, tt.to, 1)
			if in == validWatermark {
				t.Fatalf("%q is not in the valid watermark", tt.from)
			}
			_, err := DecodeWatermark([]byte(in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrNotWatermark) != tt.notWM {
				t.Errorf("errors.Is(%v, ErrNotWatermark) = %v, want %v", err, !tt.notWM, tt.notWM)
			}
		})
	}
}

// TestWatermarkFixtureFollowsSchema validates the decoder's fixture, and a
// record the tests write, against the published schema: the decoder is
// tested on what the contract allows.
func TestWatermarkFixtureFollowsSchema(t *testing.T) {
	b, err := schemas.FS.ReadFile(schemas.WatermarkV1)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("watermark.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("watermark.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]byte{
		"fixture":     []byte(validWatermark),
		"test record": watermarkMessage(t, "acme", "jelou.conversations.attended", time.Date(2025, 3, 3, 11, 0, 0, 0, time.UTC), map[int]int64{0: 3, 1: 0}).Value,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(v)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s does not follow the schema: %v", name, err)
		}
	}
}

func FuzzDecodeWatermark(f *testing.F) {
	f.Add([]byte(validWatermark))
	f.Add([]byte(`{"specversion":"1.0","type":"ai.jelou.conversation.attended.watermark.v1","id":"x","source":"s","data":{"completeBefore":"2025-03-03T11:00:00Z","topic":"t","offsets":[]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeWatermark(b)
		if err != nil {
			return
		}
		if w.ID == "" || w.Source == "" || w.Topic == "" || w.CompleteBefore.Location() != time.UTC {
			t.Errorf("accepted %q as %+v", b, w)
		}
		for p, o := range w.Offsets {
			if p < 0 || o < 0 {
				t.Errorf("accepted %q with offset %d of partition %d", b, o, p)
			}
		}
	})
}
