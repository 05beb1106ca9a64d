package event_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestRecordRoundTrip encodes an event into a Record in both modes, with
// and without a company, and decodes it back with Record.Event.
func TestRecordRoundTrip(t *testing.T) {
	w := jelou.Window{Start: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	for _, company := range []string{"1203", ""} {
		conv := jelou.Conversation{
			ID:      "64b0c1f2e4b0a1b2c3d4e5f6",
			Company: jelou.Company{ID: company},
			State:   jelou.StateClosed,
			StartAt: time.Date(2024, 5, 1, 9, 0, 5, 0, time.UTC),
			Raw:     []byte(`{"_id":"64b0c1f2e4b0a1b2c3d4e5f6","company":{"id":"` + company + `"},"state":"closed"}`),
		}
		want := event.New(event.NewSource("acme"), conv, jelou.StateActive, w, time.Date(2024, 5, 1, 9, 31, 0, 0, time.UTC))
		wantKey, _ := want.Key()
		for _, mode := range []event.Mode{event.Structured, event.Binary} {
			r, err := want.Record(mode)
			if err != nil {
				t.Fatalf("company %q mode %v: %v", company, mode, err)
			}
			value, headers, err := want.Encode(mode)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Key, wantKey) || !bytes.Equal(r.Value, value) || len(r.Headers) != len(headers) {
				t.Errorf("company %q mode %v: Record = key %q, %d headers; want key %q and Encode's value and %d headers",
					company, mode, r.Key, len(r.Headers), wantKey, len(headers))
			}
			got, err := r.Event()
			if err != nil {
				t.Fatalf("company %q mode %v: %v", company, mode, err)
			}
			if got.ID != want.ID || got.Subject != conv.ID || got.Data.State != jelou.StateClosed ||
				got.Data.PreviousState != jelou.StateActive || got.Data.CompanyID != company {
				t.Errorf("company %q mode %v: decoded %+v, want the encoded event %+v", company, mode, got, want)
			}
		}
	}
	if _, err := (event.Record{Value: []byte("not an event")}).Event(); err == nil {
		t.Error("a record that is not an event decoded")
	}
	bad := event.New(event.NewSource("acme"), jelou.Conversation{}, "", w, time.Time{})
	if _, err := bad.Record(event.Structured); err == nil {
		t.Error("Record of an invalid event succeeded")
	}
}
