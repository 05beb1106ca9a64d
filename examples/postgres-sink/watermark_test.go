package main

import (
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// decodeSink returns a sink of event topic "ev" with watermark topic "wm",
// logging every level to logs.
func decodeSink(logs *testutil.SyncBuffer) *Sink {
	return NewSink(Config{Topic: "ev", WatermarkTopic: "wm"}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// TestDecodeWatermarkRecords tables what the sink makes of the records of
// its watermark topic, decoded by pkg/event: a watermark of its event
// topic is kept; a CloudEvent of another type is skipped quietly; anything
// else is skipped with a warning.
func TestDecodeWatermarkRecords(t *testing.T) {
	cb := time.Date(2025, 3, 3, 11, 0, 0, 0, time.UTC)
	valid := watermarkMessage(t, "acme", "ev", cb, map[int]int64{0: 12, 2: 0})
	valid.Topic, valid.Partition, valid.Offset = "wm", 0, 41

	tests := []struct {
		name    string
		from    string // replaced in the valid record's value
		to      string
		headers []kafka.Header // replace the valid record's headers when set
		want    Kind
		log     string // in the sink's log line
	}{
		{name: "a watermark of the event topic", want: KindWatermark},
		{name: "a later major version", from: `watermark.v1"`, to: `watermark.v2"`, log: "level=DEBUG msg=\"skipping a record of another type\""},
		{name: "a conversation event", from: `"type":"ai.jelou.conversation.attended.watermark.v1"`, to: `"type":"ai.jelou.conversation.attended.v1"`,
			log: "level=DEBUG msg=\"skipping a record of another type\""},
		{name: "a watermark of another topic", from: `"topic":"ev"`, to: `"topic":"other"`, log: "level=WARN msg=\"skipping a watermark of another topic\""},
		{name: "no data.topic", from: `"topic":"ev",`, to: ``, log: "level=WARN msg=\"skipping a record that is not a watermark\""},
		{name: "completeBefore not a time", from: `"completeBefore":"2025-03-03T11:00:00Z"`, to: `"completeBefore":"yesterday"`,
			log: "level=WARN msg=\"skipping a record that is not a watermark\""},
		{name: "a negative offset", from: `"offset":12`, to: `"offset":-1`, log: "level=WARN msg=\"skipping a record that is not a watermark\""},
		{name: "another specversion", from: `"specversion":"1.0"`, to: `"specversion":"0.3"`, log: "level=WARN msg=\"skipping a record that is not a watermark\""},
		{name: "not JSON", from: `{"specversion"`, to: `{specversion`, log: "level=WARN msg=\"skipping a record that is not a watermark\""},
		{name: "a source with a NUL byte", from: `"source":"jelou-producer/acme"`, to: `"source":"jelou-producer/a\u0000cme"`,
			log: "level=WARN msg=\"skipping a "},
		{name: "not a CloudEvent", headers: []kafka.Header{{Key: "content-type", Value: []byte("text/plain")}},
			log: "level=WARN msg=\"skipping a record that is not a watermark\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid
			m.Value = []byte(strings.Replace(string(valid.Value), tt.from, tt.to, 1))
			if tt.from != "" && string(m.Value) == string(valid.Value) {
				t.Fatalf("%q is not in the valid record %s", tt.from, valid.Value)
			}
			if tt.headers != nil {
				m.Headers = tt.headers
			}
			var logs testutil.SyncBuffer
			it := decodeSink(&logs).decode(m)
			if it.Kind != tt.want || it.Topic != "wm" || it.Partition != 0 || it.Offset != 41 {
				t.Fatalf("item %+v, want kind %d at wm/0/41; logs:\n%s", it, tt.want, logs.String())
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("logs %q, want %q", logs.String(), tt.log)
			}
			if tt.want != KindWatermark {
				if it.Watermark != nil {
					t.Errorf("a skipped record has watermark %+v", it.Watermark)
				}
				return
			}
			w := it.Watermark
			if w == nil || w.Source != "jelou-producer/acme" || w.Subject != "acme" || w.Topic != "ev" || !w.CompleteBefore.Equal(cb) ||
				!maps.Equal(watermarkOffsets(w), map[string]int64{"0": 12, "2": 0}) {
				t.Errorf("watermark %+v", w)
			}
		})
	}
}

// TestWatermarkOffsets: the offsets stored for a watermark are reached
// exactly when [event.Watermark.Covers] says so, a partition listed twice
// included.
func TestWatermarkOffsets(t *testing.T) {
	w := &event.Watermark{Offsets: []event.PartitionOffset{{Partition: 0, Offset: 7}, {Partition: 3, Offset: 2}, {Partition: 0, Offset: 9}, {Partition: 0, Offset: 1}}}
	got := watermarkOffsets(w)
	if want := map[string]int64{"0": 9, "3": 2}; !maps.Equal(got, want) {
		t.Fatalf("offsets %v, want %v", got, want)
	}
	for _, pos := range []map[int]int64{{0: 9, 3: 2}, {0: 8, 3: 2}, {0: 9, 3: 1}, {0: 10, 3: 5}, {}} {
		reached := pos[0] >= got["0"] && pos[3] >= got["3"]
		if covers := w.Covers(pos); covers != reached {
			t.Errorf("positions %v: Covers %v, stored offsets reached %v", pos, covers, reached)
		}
	}
	if got := watermarkOffsets(&event.Watermark{}); len(got) != 0 {
		t.Errorf("no offsets: %v", got)
	}
}

// FuzzDecodeWatermarkRecord feeds the sink's decoding of watermark-topic
// records: whatever the value, a record it keeps is a watermark of its
// event topic that PostgreSQL can store, at the record's position.
func FuzzDecodeWatermarkRecord(f *testing.F) {
	valid := watermarkMessage(f, "acme", "ev", time.Date(2025, 3, 3, 11, 0, 0, 0, time.UTC), map[int]int64{0: 12, 2: 0})
	f.Add(valid.Value)
	f.Add([]byte(strings.Replace(string(valid.Value), `"topic":"ev"`, `"topic":"other"`, 1)))
	f.Add([]byte(strings.Replace(string(valid.Value), `watermark.v1"`, `watermark.v2"`, 1)))
	f.Add([]byte(`null`))
	s := NewSink(Config{Topic: "ev", WatermarkTopic: "wm"}, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, b []byte) {
		it := s.decode(kafka.Message{Topic: "wm", Partition: 1, Offset: 5, Value: b, Headers: valid.Headers})
		if it.Topic != "wm" || it.Partition != 1 || it.Offset != 5 {
			t.Fatalf("item at %s/%d/%d", it.Topic, it.Partition, it.Offset)
		}
		switch it.Kind {
		case KindSkip:
			return
		case KindWatermark:
		default:
			t.Fatalf("kind %d from the watermark topic", it.Kind)
		}
		w := it.Watermark
		if w.Topic != "ev" || w.Source == "" || !storable(w.Source) || w.CompleteBefore.IsZero() {
			t.Errorf("kept %q as %+v", b, w)
		}
		for p, o := range watermarkOffsets(w) {
			if strings.HasPrefix(p, "-") || o < 0 {
				t.Errorf("kept %q with offset %d of partition %s", b, o, p)
			}
		}
	})
}
