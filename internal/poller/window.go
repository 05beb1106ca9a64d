package poller

import (
	"github.com/jelou-producer/jelou-producer/pkg/event"

	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// splitEven cuts w into pieces no longer than max, sharing boundary seconds.
func splitEven(w jelou.Window, max time.Duration) []jelou.Window {
	if w.Duration() <= max {
		return []jelou.Window{w}
	}
	var out []jelou.Window
	for s := w.Start; s.Before(w.End); s = s.Add(max) {
		e := s.Add(max)
		if e.After(w.End) {
			e = w.End
		}
		out = append(out, jelou.Window{Start: s, End: e})
	}
	return out
}

// halve splits w at its middle second; ok is false when the halves would be
// shorter than min.
func halve(w jelou.Window, min time.Duration) (a, b jelou.Window, ok bool) {
	d := w.Duration()
	if d/2 < min || d < 2*time.Second {
		return w, w, false
	}
	mid := w.Start.Add(d / 2).Truncate(time.Second)
	return jelou.Window{Start: w.Start, End: mid}, jelou.Window{Start: mid, End: w.End}, true
}

// processWindow reads w with plan until a read ends without error, and
// publishes and acknowledges what is new among the rows the API shows as
// they arrive, a bounded batch at a time (plan's memory budget), also when
// a read fails part way (the API did show those rows: they are published
// whatever the next attempt sees). Temporary failures, and a read
// truncated at the narrowest window, are retried with jittered backoff
// until ctx ends; the window is done only when a read ended without error.
// It returns the number of rows of the read that succeeded, or ctx's
// error, or an unrecoverable error.
func (p *Poller) processWindow(ctx context.Context, w jelou.Window, lane Lane, plan fetchPlan) (int, error) {
	started := time.Now()
	wait := p.backoff()
	published := 0
	var pubErr error
	plan.emit = func(rows []jelou.Conversation) error {
		n, err := p.publishRows(ctx, rows, w, lane)
		published += n
		if err != nil {
			pubErr = err
		}
		return err
	}
	for {
		got := plan.fetch(ctx, w, nil)
		p.reportDrift(got.Drift)
		if pubErr != nil {
			return 0, pubErr
		}
		if got.Err != nil && ctx.Err() != nil {
			return 0, fmt.Errorf("fetch window %s: %w", w, ctx.Err())
		}
		if got.Err == nil {
			took := time.Since(started)
			p.cfg.Logger.Info("window done", "lane", lane.String(), "window", w.String(), "rows", got.Rows, "published", published, "took", took.Round(time.Millisecond).String())
			p.obs.QueryDone(lane, w, got.Rows, published, took)
			return got.Rows, nil
		}
		if err := p.pause(ctx, wait, "fetch", got.Err); err != nil {
			return 0, fmt.Errorf("fetch window %s: %w", w, err)
		}
	}
}

// reportDrift reports the drift a read met, and warns of drift that
// persisted at the smallest window.
func (p *Poller) reportDrift(drift []driftSeen) {
	for _, d := range drift {
		p.obs.Drift(d.Window, d.Detail, d.Healed)
		if !d.Healed {
			p.cfg.Logger.Warn("pagination drift persists at the smallest window; publishing what was received, the next read of this range will catch what moved",
				"window", d.Window.String(), "drift", d.Detail)
		}
	}
}

// publishRows runs rows through dedupe, encodes and writes what is new,
// hands the batch to the committer (acknowledged when written, released
// when not), and returns how many events it published. The write is
// retried until it succeeds, fails unrecoverably or ctx ends. A row that
// can never be published (no _id or state, not encodable, too large) goes
// to the dead-letter writer in the same batch, before the ack, so that
// the checkpoint passes it only once it is there; without that writer
// see [Poller.deadLetters].
func (p *Poller) publishRows(ctx context.Context, rows []jelou.Conversation, w jelou.Window, lane Lane) (int, error) {
	batch, dead := p.decide(rows, w, lane)
	if len(batch) == 0 && len(dead) == 0 {
		return 0, nil
	}
	records, sent, bad := p.encode(batch)
	dead = append(dead, bad...)
	if len(records) > 0 {
		refused, err := p.write(ctx, records, 0)
		if err != nil {
			p.commit.release(batch)
			return 0, fmt.Errorf("publish %d events of window %s: %w", len(records), w, err)
		}
		drop := make([]int, len(refused))
		for k, r := range refused {
			e := sent[r.index]
			dead = append(dead, deadLetter{row: e.Conversation, reason: DeadLetterTooLarge, err: r.err, window: w, observed: e.Observed, lane: lane})
			drop[k] = r.index
		}
		sent, records = without(sent, drop), without(records, drop)
	}
	if err := p.deadLetters(ctx, dead); err != nil {
		var u *UndeliverableError
		if errors.As(err, &u) {
			// What was written stays acknowledged (with its current
			// states); the rows too large are released, read again when
			// the source is restarted.
			big, rest := splitTooLarge(batch, dead)
			p.commit.release(big)
			if serr := p.writeStates(ctx, sent, records); serr != nil {
				p.commit.release(rest)
				return 0, errors.Join(err, serr)
			}
			p.commit.ack(rest)
			if len(sent) > 0 {
				p.obs.Published(sent)
			}
		} else {
			p.commit.release(batch)
		}
		return 0, err
	}
	// The current states, after their events and before the ack (state.go).
	if err := p.writeStates(ctx, sent, records); err != nil {
		p.commit.release(batch)
		return 0, err
	}
	// Rows that can never be published are acknowledged too, dead-lettered
	// or rejected.
	p.commit.ack(batch)
	if len(sent) > 0 {
		p.obs.Published(sent)
	}
	return len(sent), nil
}

// without returns batch less the elements at the ascending indices drop.
func without[T any](batch []T, drop []int) []T {
	if len(drop) == 0 {
		return batch
	}
	out := make([]T, 0, len(batch)-len(drop))
	for i, e := range batch {
		if len(drop) > 0 && drop[0] == i {
			drop = drop[1:]
			continue
		}
		out = append(out, e)
	}
	return out
}

// splitTooLarge splits batch into the emissions dead as too large and the
// rest.
func splitTooLarge(batch []Emission, dead []deadLetter) (big, rest []Emission) {
	type pair struct {
		id    string
		state jelou.State
	}
	refused := make(map[pair]bool)
	for _, d := range dead {
		if d.reason == DeadLetterTooLarge {
			refused[pair{d.row.ID, d.row.State}] = true
		}
	}
	for _, e := range batch {
		if refused[pair{e.Conversation.ID, e.Conversation.State}] {
			big = append(big, e)
		} else {
			rest = append(rest, e)
		}
	}
	return big, rest
}

// encode turns each emission into a CloudEvent record keyed by company id.
// It returns the records, the emissions they came from, and the dead
// letters of the emissions that cannot be encoded or, with a dead-letter
// writer, whose record is over MaxRecordBytes.
func (p *Poller) encode(batch []Emission) ([]event.Record, []Emission, []deadLetter) {
	records := make([]event.Record, 0, len(batch))
	sent := make([]Emission, 0, len(batch))
	var dead []deadLetter
	for _, e := range batch {
		ev := event.New(p.cfg.EventSource, e.Conversation, e.Previous, e.Window, e.Observed)
		_, fallback := ev.Key()
		rec, err := ev.FramedRecord(p.cfg.Mode, p.cfg.SchemaID)
		if err == nil && p.cfg.DeadLetters != nil && p.cfg.MaxRecordBytes > 0 && recordSize(rec) > p.cfg.MaxRecordBytes {
			dead = append(dead, deadLetter{row: e.Conversation, reason: DeadLetterTooLarge, window: e.Window, observed: e.Observed, lane: e.Lane,
				err: fmt.Errorf("event of at least %d bytes is over the producer's limit of %d bytes (KAFKA_BATCH_BYTES)", recordSize(rec), p.cfg.MaxRecordBytes)})
			continue
		}
		if err != nil {
			dead = append(dead, deadLetter{row: e.Conversation, reason: RejectUnencodable, err: err, window: e.Window, observed: e.Observed, lane: e.Lane})
			continue
		}
		records = append(records, rec)
		e.FallbackKey = fallback
		sent = append(sent, e)
	}
	return records, sent, dead
}

// fatal reports whether err must stop the poller instead of being retried:
// when err says, through its Temporary method, that trying again cannot
// help (jelou's auth, validation and other permanent errors, a Kafka
// write that is not retriable). An error without that method is retried.
func fatal(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && !t.Temporary()
}

// retry runs op until it succeeds, fails unrecoverably, or ctx ends.
func (p *Poller) retry(ctx context.Context, stage string, op func() error) error {
	wait := p.backoff()
	for {
		err := op()
		if err == nil {
			return nil
		}
		if err := p.pause(ctx, wait, stage, err); err != nil {
			return err
		}
	}
}

// backoff returns the jittered, growing pauses between the attempts of a
// failing window or publish, from RetryMin to RetryMax, without end.
func (p *Poller) backoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.cfg.RetryMin
	b.MaxInterval = p.cfg.RetryMax
	b.MaxElapsedTime = 0
	return b
}

// pause follows an attempt of stage that failed with err: it returns ctx's
// error when ctx ended, err itself when it is fatal, and otherwise reports
// the failure, waits wait's next pause and returns nil (try again).
func (p *Poller) pause(ctx context.Context, wait backoff.BackOff, stage string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case fatal(err):
		return err
	}
	t := time.NewTimer(wait.NextBackOff())
	defer t.Stop()
	p.failure(stage, err)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decide runs every row through dedupe and returns what must be published,
// ordered by start time so that one conversation's states and one
// company's conversations keep their order, and the rows without an _id
// or a state, which dedupe cannot track.
func (p *Poller) decide(rows []jelou.Conversation, w jelou.Window, lane Lane) ([]Emission, []deadLetter) {
	observed := p.cfg.Clock.Now().UTC()
	var batch []Emission
	var dead []deadLetter
	if lane == LaneLive {
		p.learn.readLive(w.End)
	}
	for _, r := range rows {
		switch {
		case r.ID == "":
			dead = append(dead, deadLetter{row: r, reason: RejectMissingID, err: errors.New("row has no _id"), window: w, observed: observed, lane: lane})
			continue
		case r.State == "":
			dead = append(dead, deadLetter{row: r, reason: RejectMissingState, err: errors.New("row has no state"), window: w, observed: observed, lane: lane})
			continue
		}
		res := p.index.Observe(r.ID, r.State, indexTime(r.StartAt, w))
		p.learn.see(lane, r, res.Emit, res.Previous, observed)
		if !res.Emit {
			p.obs.Skipped(res.Reason.String())
			continue
		}
		if res.Previous == "" && lane.Spec().FirstSeen && !r.StartAt.IsZero() {
			p.firstSeen(lane, r, observed)
		}
		batch = append(batch, Emission{Conversation: r, Previous: res.Previous, Window: w, Observed: observed, Lane: lane})
	}
	sort.SliceStable(batch, func(i, j int) bool {
		return batch[i].Conversation.StartAt.Before(batch[j].Conversation.StartAt)
	})
	return batch, dead
}

// indexTime is the start time under which a row is indexed: its own, unless
// that is missing or absurd for the window it came from (then the window's
// start, so eviction keeps it as long as the window can be queried).
func indexTime(start time.Time, w jelou.Window) time.Time {
	if start.IsZero() || start.Before(w.Start.Add(-24*time.Hour)) || start.After(w.End.Add(24*time.Hour)) {
		return w.Start
	}
	return start
}

// lateWarnEvery bounds how often the late-row warning is logged.
const lateWarnEvery = time.Minute

// firstSeen reports a conversation seen for the first time, and warns
// when the revisit lane found it: its start time had settled (it was read
// POLL_SETTLE after it began), so the row became visible later than that
// and was found only because a revisit happened to cover it.
func (p *Poller) firstSeen(lane Lane, r jelou.Conversation, observed time.Time) {
	p.obs.FirstSeen(lane, observed.Sub(r.StartAt))
	if !lane.Spec().Revisit {
		return
	}
	n := p.lateRows.Add(1)
	now := time.Now().UnixNano()
	last := p.lateWarned.Load()
	if now-last < int64(lateWarnEvery) || !p.lateWarned.CompareAndSwap(last, now) {
		return
	}
	p.cfg.Logger.Warn("a row became visible later than POLL_SETTLE after its start and was found only by a revisit; rows like it in windows without an active conversation are missed: raise POLL_SETTLE",
		"conversation", r.ID, "start", r.StartAt.UTC().Format(time.RFC3339), "seen_after", observed.Sub(r.StartAt).Round(time.Second).String(),
		"settle", p.cfg.Settle.String(), "late_rows_so_far", n)
}
