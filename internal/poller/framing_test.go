package poller_test

import (
	"context"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// TestSchemaIDFramesEveryRecord backfills a range with Config.SchemaID set,
// in both modes, and checks that every record on the topic carries the
// Schema Registry framing with that id and still decodes to its event.
func TestSchemaIDFramesEveryRecord(t *testing.T) {
	for _, mode := range []event.Mode{event.Structured, event.Binary} {
		t.Run(mode.String(), func(t *testing.T) {
			dataStart := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
			clk := clock.NewScaled(dataStart.Add(8*time.Hour), 1)
			h := newHarness(t, jelousim.Config{Data: jelousim.DataConfig{Seed: 3, Start: dataStart, End: dataStart.Add(2 * time.Hour), Count: 200}}, clk)
			end := dataStart.Add(2 * time.Hour)
			const id = 77
			p := h.newPoller(t, poller.Config{Start: dataStart, End: end, Window: time.Hour, Mode: mode, SchemaID: id}, 100)
			if err := p.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			recs, err := kafkatest.ReadAll(ctx, h.brokers, h.topic)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) < 50 {
				t.Fatalf("only %d records: the test proves nothing", len(recs))
			}
			for _, r := range recs {
				got, err := r.SchemaID()
				if err != nil || got != id || r.Value[0] != event.MagicByte {
					t.Fatalf("record at %d/%d: schema id %d (%v), want framed with %d", r.Partition, r.Offset, got, err, id)
				}
				if _, err := r.Event(); err != nil {
					t.Fatalf("framed record does not decode: %v", err)
				}
			}
			h.checkServedOnceEach(t, h.onTopic(t))
		})
	}
}
