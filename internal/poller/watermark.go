package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// A completeness watermark (Config.Watermarks) states, for the source,
// "every conversation that started before T was read after settling and
// published, its revisits are done, and those events were acknowledged".
// T is derived from the coverage a checkpoint save stores and from the
// dedupe index as that save snapshots it ([CompleteBefore]). The save
// records T in the checkpoint (Extra[ExtraWatermark]) and, once the
// checkpoint is stored, the record is written with the end offsets of the
// event topic read then, so every covered event is below them.
//
// T only moves forward: a save records the later of T and the bound
// already recorded, and only a bound past the last one written is
// written. A process that loads the checkpoint (after a restart, or the
// replica taking the source over) starts from the recorded bound and
// writes nothing at or before it, even when the previous owner stored the
// checkpoint but never wrote that watermark (its write failed, it was
// stopped, or its final save was fenced): watermarks are cumulative, and
// the next one covers what a missing one would have.

// ExtraWatermark is the name, in a checkpoint's Extra, of the last
// watermark written for the source: {"completeBefore": RFC 3339 time}.
const ExtraWatermark = "watermark"

// savedWatermark is the JSON of Extra[ExtraWatermark].
type savedWatermark struct {
	CompleteBefore time.Time `json:"completeBefore"`
}

// CompleteBefore returns the completeness bound of cov and the index: every
// conversation that started before it was read at least POLL_SETTLE after
// it began, and will publish nothing more, every event of it acknowledged.
// It is the earliest of
//
//   - the settled mark (every start time in [Live.Start, Settled] was read
//     settled);
//   - the start of the oldest history gap (what is before Live.Start and
//     not in a gap was read by the history lane, at least a settle period
//     after it began, or settled in an earlier live range);
//   - oldestOpen, when not zero: the earliest start of a conversation that
//     may still publish (not in a terminal state, or with a state not yet
//     acknowledged; [dedupe.Index.OldestOpen]). A conversation that stays
//     active holds the bound back until it leaves the revisit horizon
//     (POLL_REVISIT), when it is evicted and no lane reads it again.
//
// The zero time means nothing is known complete (a coverage without a live
// range).
func CompleteBefore(cov checkpoint.Coverage, oldestOpen time.Time) time.Time {
	if cov.Live.Start.IsZero() || cov.Settled.IsZero() {
		return time.Time{}
	}
	t := cov.Settled
	if t.After(cov.Live.End) {
		t = cov.Live.End
	}
	if len(cov.History) > 0 && cov.History[0].Start.Before(t) {
		t = cov.History[0].Start
	}
	if !oldestOpen.IsZero() && oldestOpen.Before(t) {
		t = oldestOpen
	}
	return t.UTC()
}

// markedIn returns the last watermark a loaded checkpoint records, zero
// when none (or unreadable: logged, and the coverage's bound rules alone).
func markedIn(cp *checkpoint.Checkpoint, log *slog.Logger) time.Time {
	raw, ok := cp.Extra[ExtraWatermark]
	if !ok {
		return time.Time{}
	}
	var w savedWatermark
	if err := json.Unmarshal(raw, &w); err != nil {
		log.Warn("checkpoint holds an unreadable last watermark; ignored", "source", cp.Source, "err", err)
		return time.Time{}
	}
	return w.CompleteBefore.UTC()
}

// bound returns the completeness bound a save of cov, with the index's
// oldest open conversation at open, records: CompleteBefore when it is
// past the bound recorded before and past where the source's history
// begins (before that it says nothing), else the bound recorded before.
// Zero without a watermark writer.
func (c *committer) bound(cov checkpoint.Coverage, open time.Time) time.Time {
	if c.cfg.Watermarks == nil {
		return c.marked
	}
	if t := CompleteBefore(cov, open); t.After(c.marked) && t.After(c.cfg.Start) {
		return t
	}
	return c.marked
}

// extra returns a checkpoint's Extra: the completeness bound marked (none
// when zero) and the learned account (learned.go).
func extra(marked time.Time, learned savedAccount) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, 2)
	if b := extraAccount(learned); b != nil {
		out[ExtraAccount] = b
	}
	if marked.IsZero() {
		return out
	}
	if b, err := json.Marshal(savedWatermark{CompleteBefore: marked.UTC()}); err == nil {
		out[ExtraWatermark] = b
	}
	return out
}

// mark writes the watermark at the bound the last successful save
// recorded, when it is past the last one written; a failure is returned
// and tried again at the next save. Called under saveMu. A run that is
// stopping (a replica losing the source) writes none: the next owner
// starts from the recorded bound.
func (c *committer) mark(ctx context.Context) error {
	t := c.marked
	if c.cfg.Watermarks == nil || !t.After(c.written) || ctx.Err() != nil {
		return nil
	}
	offsets, err := c.cfg.EventOffsets(ctx)
	if err != nil {
		return fmt.Errorf("watermark %s: end offsets of %s: %w", t.Format(time.RFC3339), c.cfg.EventTopic, err)
	}
	w := event.NewWatermark(c.cfg.EventSource, c.cfg.Source, t, c.cfg.EventTopic, offsets, c.cfg.Clock.Now())
	rec, err := w.Record()
	if err != nil {
		return fmt.Errorf("watermark %s: %w", t.Format(time.RFC3339), err)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.PublishTimeout)
	defer cancel()
	if err := c.cfg.Watermarks.Publish(actx, []event.Record{rec}); err != nil {
		return fmt.Errorf("write watermark %s: %w", t.Format(time.RFC3339), err)
	}
	c.written = t
	c.obs.Watermarked(t)
	c.cfg.Logger.Debug("watermark written", "source", c.cfg.Source, "complete_before", t.Format(time.RFC3339))
	return nil
}
