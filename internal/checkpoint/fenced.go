package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
)

// epochStore is a store whose saves carry a fencing epoch and whose Load
// takes the save of the highest epoch, the latest among equals: what a
// [FencedStore] view needs of its store.
type epochStore interface {
	// load is Load that also returns the epoch of what it read (0 when
	// nothing was saved).
	load(ctx context.Context, source string) (*Checkpoint, uint64, error)
	// save is Save stamped with epoch.
	save(ctx context.Context, cp *Checkpoint, epoch uint64) error
	// currentEpoch returns the epoch of what Load would read.
	currentEpoch(ctx context.Context, source string) (uint64, error)
}

// fence returns the view of s for the owner of a source in the consumer
// group's generation generation (at least 1). Its Load fixes the view's
// epoch for that source at max(the epoch loaded + 1, generation); its saves
// are stamped with it. A stale owner (a member paused past its session
// timeout that has not yet noticed it lost the source) saves under its
// older, lower epoch, so whatever it writes after the new owner loaded is
// ignored by every later Load: the checkpoint never moves backwards. Two
// owners can share an epoch only if both loaded the same checkpoint and the
// group's generation counter restarted below it (the group was deleted);
// then the latest save wins, as without fencing.
func fence(s epochStore, generation uint64) *FencedStore {
	return &FencedStore{s: s, floor: max(generation, 1), epochs: map[string]uint64{}}
}

// nextEpoch is e+1, saturating at math.MaxUint64: a wrap to 0 would put
// every later save below the one stored, ignored by every Load.
func nextEpoch(e uint64) uint64 {
	if e == math.MaxUint64 {
		return e
	}
	return e + 1
}

// FencedStore is the view a [Fencing] store's Fenced returns (see
// [KafkaStore.Fenced]). It is safe for concurrent use. Closing it does not
// close the store.
type FencedStore struct {
	s     epochStore
	floor uint64

	mu     sync.Mutex
	epochs map[string]uint64
}

var _ Store = (*FencedStore)(nil)

// Load loads source and fixes the epoch of this view's saves of it.
func (f *FencedStore) Load(ctx context.Context, source string) (*Checkpoint, error) {
	cp, epoch, err := f.s.load(ctx, source)
	if err == nil || errors.Is(err, ErrNotFound) {
		f.mu.Lock()
		f.epochs[source] = max(nextEpoch(epoch), f.floor)
		f.mu.Unlock()
	}
	return cp, err
}

// Save saves cp under this view's epoch for its source (found as in Load
// when Load was not called first).
func (f *FencedStore) Save(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		return f.s.save(ctx, cp, 0) // reports the invalid checkpoint
	}
	f.mu.Lock()
	epoch, ok := f.epochs[cp.Source]
	f.mu.Unlock()
	if !ok {
		found, err := f.s.currentEpoch(ctx, cp.Source)
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		epoch = max(nextEpoch(found), f.floor)
		f.mu.Lock()
		f.epochs[cp.Source] = epoch
		f.mu.Unlock()
	}
	return f.s.save(ctx, cp, epoch)
}

// Epoch returns the epoch of this view's saves of source, 0 before the
// first Load or Save of it.
func (f *FencedStore) Epoch(source string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.epochs[source]
}

// Close does nothing: the underlying store belongs to its creator.
func (f *FencedStore) Close() error { return nil }
