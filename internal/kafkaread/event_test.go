package kafkaread_test

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaread"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestRecordEventDecodesBothModes(t *testing.T) {
	conv := jelou.Conversation{
		ID:      "64b0c1f2e4b0a1b2c3d4e5f6",
		Company: jelou.Company{ID: "1203"},
		State:   jelou.StateClosed,
		StartAt: time.Date(2024, 5, 1, 9, 0, 5, 0, time.UTC),
		Raw:     []byte(`{"_id":"64b0c1f2e4b0a1b2c3d4e5f6","company":{"id":"1203"},"state":"closed"}`),
	}
	w := jelou.Window{Start: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	want := event.New(event.NewSource("acme"), conv, jelou.StateActive, w, time.Date(2024, 5, 1, 9, 31, 0, 0, time.UTC))
	for _, mode := range []event.Mode{event.Structured, event.Binary} {
		value, headers, err := want.Encode(mode)
		if err != nil {
			t.Fatal(err)
		}
		r := kafkaread.Record{Value: value}
		for _, h := range headers {
			r.Headers = append(r.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		got, err := r.Event()
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		if got.ID != want.ID || got.Subject != conv.ID || got.Data.State != jelou.StateClosed || got.Data.PreviousState != jelou.StateActive {
			t.Errorf("mode %v: decoded %+v, want the encoded event %+v", mode, got, want)
		}
	}
	if _, err := (kafkaread.Record{Value: []byte("not an event")}).Event(); err == nil {
		t.Error("a record that is not an event decoded")
	}
}
