package poller

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
)

// committer is the one writer of what a checkpoint holds, and the one
// that saves it. A row's way, call by call: decide (index.Observe: the
// state is pending) → the Kafka write → ack (the state is acknowledged in
// the index) → done, once every window of the row's query was acknowledged
// (the schedule's coverage moves) → save (the coverage, then the snapshot
// of the index, then the store).
//
// Every ack and done is a commit, counted in seq under mu; save reads the
// count with the coverage under mu and records the count it wrote, so a
// state with commits not yet saved is one whose count moved since.
type committer struct {
	store checkpoint.Store
	index *dedupe.Index
	// sched is guarded by schedMu, the poller's lock, which the lanes
	// take to plan their queries.
	sched   *Schedule
	schedMu *sync.Mutex
	// learn is what the poller learned of the source's traffic, saved with
	// the schedule's (learned.go).
	learn *learner
	// cfg gives Source, Clock and CheckpointInterval.
	cfg Config
	obs Observer

	mu  sync.Mutex
	seq uint64 // commits so far; guarded by mu

	// saveMu serialises saves; it is not mu, so that commits do not wait
	// for the snapshot and the store's I/O.
	saveMu   sync.Mutex
	saved    uint64    // seq written by the last successful save; guarded by saveMu
	lastSave time.Time // wall time of that save; guarded by saveMu

	// Watermarks (watermark.go), guarded by saveMu: the completeness
	// bound the last successful save stored (or the loaded checkpoint
	// held), and the last watermark this life wrote (from the loaded
	// bound on: no watermark at or before it is written).
	marked  time.Time
	written time.Time
}

// ack records that Kafka acknowledged the events of batch (unencodable
// rows included: they can never be published): the index holds their
// states as acknowledged, and the next save writes them.
func (c *committer) ack(batch []Emission) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range batch {
		c.index.Ack(e.Conversation.ID, e.Conversation.State)
	}
	c.seq++
}

// release gives up on batch, whose write failed: its states are no longer
// pending, so a later read publishes them again. The checkpoint holds
// acknowledged states only, so nothing to save changed.
func (c *committer) release(batch []Emission) {
	for _, e := range batch {
		c.index.Release(e.Conversation.ID, e.Conversation.State)
	}
}

// done records q as read, every window of it acknowledged before (ack
// returned for each of its batches): the coverage moves, and what no lane
// can return again leaves the index. It returns the new coverage.
func (c *committer) done(q Query, now time.Time) checkpoint.Coverage {
	c.mu.Lock()
	c.schedMu.Lock()
	c.sched.Done(q)
	cov := c.sched.Coverage()
	bound := c.sched.EvictBefore(now)
	c.schedMu.Unlock()
	c.seq++
	c.mu.Unlock()
	c.index.Evict(bound)
	return cov
}

// committed returns the commits so far and the coverage, read together:
// every window the coverage covers was acknowledged before it moved, so a
// snapshot of the index taken after this holds those states, and a commit
// made after this counts past the returned seq.
func (c *committer) committed() (uint64, checkpoint.Coverage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	return c.seq, c.sched.Coverage()
}

// learned returns what the schedule and the learner know of the source's
// traffic, to be saved (learned.go): taken only for a save that happens,
// not for every call that finds nothing to save (it sorts the learner's
// samples).
func (c *committer) learned() savedAccount {
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	return c.sched.savedAccount(c.learn)
}

// save writes the checkpoint when forced, or when something was committed
// since the last save and CheckpointInterval of wall time passed since it
// (the interval bounds I/O, whatever the configured clock). A failed save
// leaves the state unsaved: the next one writes it. With a watermark
// writer, the checkpoint records the completeness bound of what it holds,
// and the watermark at that bound is written after the save (and when
// there is nothing to save, if the last write failed): see watermark.go.
func (c *committer) save(ctx context.Context, force bool) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	now := time.Now()
	seq, cov := c.committed()
	if !force && (seq == c.saved || now.Sub(c.lastSave) < c.cfg.CheckpointInterval) {
		return c.mark(ctx) // one that failed is tried again
	}
	learned := c.learned()
	// Read before the snapshot: a conversation closed and acknowledged
	// after this is in the snapshot as closed, so a restart does not read
	// it again (watermark.go).
	var open time.Time
	if c.cfg.Watermarks != nil {
		open, _ = c.index.OldestOpen()
	}
	var buf bytes.Buffer
	if err := c.index.WriteSnapshot(&buf); err != nil {
		return fmt.Errorf("save checkpoint: snapshot dedupe: %w", err)
	}
	marked := c.bound(cov, open)
	cp := &checkpoint.Checkpoint{
		Source:   c.cfg.Source,
		Cursor:   cov.Cursor(),
		Coverage: &cov,
		SavedAt:  c.cfg.Clock.Now(),
		Dedupe:   buf.Bytes(),
		Extra:    extra(marked, learned),
	}
	err := c.store.Save(ctx, cp)
	c.obs.Saved(cp, buf.Len(), err)
	if err != nil {
		return fmt.Errorf("save checkpoint (cursor %s): %w", cp.Cursor.UTC().Format(time.RFC3339), err)
	}
	c.saved, c.lastSave, c.marked = seq, now, marked
	return c.mark(ctx)
}
