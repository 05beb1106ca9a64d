package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
)

// stamp is what a fenced save records beside its checkpoint: the epoch
// and the owner that saved it. A save without a view has the zero stamp.
type stamp struct {
	epoch      uint64
	member     string
	generation uint64
}

// epochStore is a store whose saves carry a stamp and whose Load takes
// the save of the highest epoch and, among saves of that epoch, the latest
// of the member that saved it first (the epoch's claimant): what a
// [FencedStore] view needs of its store.
type epochStore interface {
	// load is Load that also returns the stamp of what it read (zero when
	// nothing was saved).
	load(ctx context.Context, source string) (*Checkpoint, stamp, error)
	// save is Save stamped with st.
	save(ctx context.Context, cp *Checkpoint, st stamp) error
	// current returns the stamp of what Load would read.
	current(ctx context.Context, source string) (stamp, error)
}

// fence returns the view of s for owner. Its Load fixes the view's epoch
// for that source at max(the epoch loaded + 1, generation) (saturating at
// math.MaxUint64); its saves are stamped with it and the owner.
//
// A stale owner (a member paused past its session timeout that has not yet
// noticed it lost the source) saves under its older, lower epoch, so
// whatever it writes after the new owner loaded is ignored by every later
// Load: the checkpoint never moves backwards.
//
// Two owners share an epoch when both loaded the same checkpoint and the
// group's generation did not lift the newer one above it (the group was
// deleted and its generations restarted, or the epoch outgrew them
// earlier). The data cannot tell which is newer, so the first member to
// save under the epoch keeps it: before its first save of a source, a view
// reads the stamp stored; when it has the view's epoch and another member,
// Save fails with a *FencedError and writes nothing, and Load ignores a
// save of that epoch by any other member than its first. The owner refused
// stops; a newer one that was refused gets the source back at the next
// rebalance, under a higher epoch.
func fence(s epochStore, owner Owner) *FencedStore {
	return &FencedStore{s: s, owner: owner, floor: max(owner.Generation, 1), epochs: map[string]epochState{}}
}

// nextEpoch is e+1, saturating at math.MaxUint64: a wrap to 0 would put
// every later save below the one stored, ignored by every Load.
func nextEpoch(e uint64) uint64 {
	if e == math.MaxUint64 {
		return e
	}
	return e + 1
}

// FencedError reports a save refused because another member of the group
// already saved the source under the view's epoch: both loaded the same
// checkpoint, and the other saved first. This owner must stop polling the
// source; the next rebalance gives it an owner under a higher epoch.
type FencedError struct {
	// Source is the source id.
	Source string
	// Epoch is the epoch both owners hold.
	Epoch uint64
	// Owner is the view's owner; Holder the member that saved first.
	Owner, Holder Owner
}

// Error implements error.
func (e *FencedError) Error() string {
	return fmt.Sprintf("checkpoint of source %s: epoch %d was taken by member %q (generation %d) before member %q (generation %d) saved: "+
		"another replica owns or owned the source; this one stops polling it", e.Source, e.Epoch,
		e.Holder.Member, e.Holder.Generation, e.Owner.Member, e.Owner.Generation)
}

// FencedStore is the view a [Fencing] store's Fenced returns (see
// [KafkaStore.Fenced] and fence). It is safe for concurrent use. Closing it
// does not close the store.
type FencedStore struct {
	s     epochStore
	owner Owner
	floor uint64

	mu     sync.Mutex
	epochs map[string]epochState
}

// epochState is a view's epoch for one source.
type epochState struct {
	epoch uint64
	// claimed is set once a save under epoch succeeded, after the check
	// that no other member saved under it first.
	claimed bool
}

var _ Store = (*FencedStore)(nil)

// Load loads source and fixes the epoch of this view's saves of it.
func (f *FencedStore) Load(ctx context.Context, source string) (*Checkpoint, error) {
	cp, st, err := f.s.load(ctx, source)
	if err == nil || errors.Is(err, ErrNotFound) {
		f.mu.Lock()
		f.epochs[source] = epochState{epoch: max(nextEpoch(st.epoch), f.floor)}
		f.mu.Unlock()
	}
	return cp, err
}

// Save saves cp under this view's epoch for its source (found as in Load
// when Load was not called first). Its first save of a source fails with a
// *FencedError when another member saved under that epoch first.
func (f *FencedStore) Save(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		return f.s.save(ctx, cp, stamp{}) // reports the invalid checkpoint
	}
	f.mu.Lock()
	es, ok := f.epochs[cp.Source]
	f.mu.Unlock()
	if !es.claimed {
		found, err := f.s.current(ctx, cp.Source)
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		if !ok {
			es.epoch = max(nextEpoch(found.epoch), f.floor)
		}
		if found.epoch == es.epoch && found.member != f.owner.Member {
			return &FencedError{Source: cp.Source, Epoch: es.epoch, Owner: f.owner,
				Holder: Owner{Generation: found.generation, Member: found.member}}
		}
	}
	if err := f.s.save(ctx, cp, stamp{epoch: es.epoch, member: f.owner.Member, generation: f.owner.Generation}); err != nil {
		return err
	}
	es.claimed = true
	f.mu.Lock()
	f.epochs[cp.Source] = es
	f.mu.Unlock()
	return nil
}

// Epoch returns the epoch of this view's saves of source, 0 before the
// first Load or Save of it.
func (f *FencedStore) Epoch(source string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.epochs[source].epoch
}

// Close does nothing: the underlying store belongs to its creator.
func (f *FencedStore) Close() error { return nil }
