package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// row describes one API row for a test event.
type row struct {
	id      string
	state   jelou.State
	company string
	start   time.Time // zero: startAt null
	reply   any       // timeRepliedOperator as it appears in the row; nil: absent
}

// newEvent builds the event jelou-producer publishes for r, observed at
// observed, with the raw row carrying what r says.
func newEvent(t testing.TB, r row, observed time.Time) event.Event {
	t.Helper()
	raw := map[string]any{"_id": r.id, "state": r.state, "company": map[string]string{"id": r.company}}
	if !r.start.IsZero() {
		raw["startAt"] = r.start.UTC().Format(time.DateTime)
	} else {
		raw["startAt"] = nil
	}
	if r.reply != nil {
		raw["timeRepliedOperator"] = r.reply
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	conv := jelou.Conversation{ID: r.id, State: r.state, Company: jelou.Company{ID: r.company}, StartAt: r.start, Raw: b}
	w := jelou.Window{Start: observed.Add(-time.Hour).Truncate(time.Hour), End: observed.Truncate(time.Hour).Add(-time.Second)}
	return event.New(event.NewSource("test"), conv, "", w, observed)
}
