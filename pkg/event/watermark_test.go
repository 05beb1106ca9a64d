package event

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// watermarkSchemaFile is the published schema of the watermark.
const watermarkSchemaFile = "../../schemas/jelou.conversation.attended.watermark.v1.json"

var sampleWatermark = NewWatermark(source, "acme", time.Date(2024, 5, 1, 11, 0, 0, 0, guayaquil), "jelou.conversations.attended",
	[]PartitionOffset{{Partition: 0, Offset: 12}, {Partition: 1, Offset: 0}, {Partition: 2, Offset: 7}}, observed)

func TestWatermarkRecordRoundTrip(t *testing.T) {
	rec, err := sampleWatermark.Record()
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Key) != "acme" {
		t.Errorf("key %q, want the source id", rec.Key)
	}
	want := `{"specversion":"1.0","id":"` + sampleWatermark.ID + `","source":"jelou-producer/acme","type":"ai.jelou.conversation.attended.watermark.v1","subject":"acme","time":"2024-05-01T10:31:00.123Z","datacontenttype":"application/json","dataschema":"urn:jelou-producer:schema:ai.jelou.conversation.attended.watermark.v1","data":{"completeBefore":"2024-05-01T16:00:00Z","topic":"jelou.conversations.attended","offsets":[{"partition":0,"offset":12},{"partition":1,"offset":0},{"partition":2,"offset":7}]}}`
	if string(rec.Value) != want {
		t.Errorf("value\n%s\nwant\n%s", rec.Value, want)
	}
	got, err := DecodeWatermark(rec.Value, rec.Headers)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, sampleWatermark) {
		t.Errorf("decoded %+v, want %+v", *got, sampleWatermark)
	}
}

func TestWatermarkID(t *testing.T) {
	a := WatermarkID("acme", time.Date(2024, 5, 1, 16, 0, 0, 0, time.UTC))
	if a != WatermarkID("acme", time.Date(2024, 5, 1, 11, 0, 0, 0, guayaquil)) {
		t.Error("the id depends on the zone of completeBefore")
	}
	for _, other := range []string{WatermarkID("acme", time.Date(2024, 5, 1, 16, 0, 1, 0, time.UTC)), WatermarkID("beta", time.Date(2024, 5, 1, 16, 0, 0, 0, time.UTC))} {
		if other == a {
			t.Error("two watermarks share an id")
		}
	}
	// Pinned: consumers may store it; it must never change.
	if want := uuidV5(namespace, "acme/watermark/2024-05-01T16:00:00Z").String(); a != want {
		t.Errorf("id %s, want %s", a, want)
	}
}

func TestWatermarkSchemaAcceptsEncoded(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	sch, err := c.Compile(watermarkSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	empty := sampleWatermark
	empty.Offsets = nil
	for _, w := range []Watermark{sampleWatermark, empty} {
		rec, err := w.Record()
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.Value))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("schema rejects %s: %v", rec.Value, err)
		}
	}
}

func TestDecodeWatermarkErrors(t *testing.T) {
	ok, _ := sampleWatermark.Record()
	swap := func(old, new string) []byte { return bytes.Replace(ok.Value, []byte(old), []byte(new), 1) }
	for _, tc := range []struct {
		name    string
		value   []byte
		headers []Header
		want    error
		field   string
	}{
		{"not JSON", []byte("nope"), nil, ErrNotEvent, ""},
		{"not CloudEvents", ok.Value, []Header{{Key: "content-type", Value: []byte("application/json")}}, ErrNotEvent, ""},
		{"conversation event", swap(TypeWatermarkV1, TypeV1), nil, ErrUnknownType, "type"},
		{"v2", swap(".watermark.v1\"", ".watermark.v2\""), nil, ErrUnknownType, "type"},
		{"spec 0.3", swap(`"1.0"`, `"0.3"`), nil, ErrUnsupported, "specversion"},
		{"no offsets", swap(`"offsets"`, `"offsetz"`), nil, nil, "data.offsets"},
		{"local time", swap(`16:00:00Z`, `16:00:00+01:00`), nil, nil, "data.completeBefore"},
		{"no subject", swap(`"subject":"acme"`, `"subject":""`), nil, nil, "subject"},
		{"negative offset", swap(`"offset":12`, `"offset":-1`), nil, nil, "data.offsets[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeWatermark(tc.value, tc.headers)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			var fe *FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Errorf("error %v, want a field error of %s", err, tc.field)
			}
		})
	}
}

func TestWatermarkCovers(t *testing.T) {
	w := sampleWatermark // offsets 0:12 1:0 2:7
	for _, tc := range []struct {
		positions map[int]int64
		want      bool
	}{
		{map[int]int64{0: 12, 2: 7}, true},
		{map[int]int64{0: 13, 1: 4, 2: 9}, true},
		{map[int]int64{0: 11, 2: 7}, false},
		{map[int]int64{0: 12}, false},
		{nil, false},
	} {
		if got := w.Covers(tc.positions); got != tc.want {
			t.Errorf("Covers(%v) = %v, want %v", tc.positions, got, tc.want)
		}
	}
}

// FuzzDecodeWatermark checks that DecodeWatermark never panics and that
// whatever it accepts encodes and decodes back to the same watermark.
func FuzzDecodeWatermark(f *testing.F) {
	rec, err := sampleWatermark.Record()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec.Value)
	f.Add([]byte(`{"specversion":"1.0","type":"ai.jelou.conversation.attended.watermark.v1","data":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		w, err := DecodeWatermark(value, nil)
		if err != nil {
			return
		}
		again, err := w.Record()
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", value, err)
		}
		w2, err := DecodeWatermark(again.Value, again.Headers)
		if err != nil {
			t.Fatalf("cannot decode its own encoding %s: %v", again.Value, err)
		}
		if !w.CompleteBefore.Equal(w2.CompleteBefore) || !w.Time.Equal(w2.Time) || w.ID != w2.ID || w.Topic != w2.Topic || !reflect.DeepEqual(w.Offsets, w2.Offsets) && len(w.Offsets)+len(w2.Offsets) > 0 {
			t.Fatalf("round trip changed %+v into %+v", w, w2)
		}
	})
}
