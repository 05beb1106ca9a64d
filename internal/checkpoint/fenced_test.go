package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

// TestFencingContract runs the fencing contract against every backend
// whose store implements Fencing. The Kafka store writes chunks of 64
// bytes, so that a checkpoint spans several chunk keys and a collision
// between two owners' chunks would show.
func TestFencingContract(t *testing.T) {
	for _, f := range factories(64) {
		t.Run(f.name, func(t *testing.T) {
			if _, ok := f.location(t)(t).(Fencing); !ok {
				t.Skipf("the %s store does not implement Fencing", f.name)
			}
			testFencingContract(t, f.location)
		})
	}
}

// fenced returns st's view for the owner in generation gen, member
// "member-<gen>".
func fenced(t *testing.T, st Store, gen uint64) Store {
	t.Helper()
	return fencedBy(t, st, Owner{Generation: gen, Member: fmt.Sprintf("member-%d", gen)})
}

// fencedBy returns st's view for owner.
func fencedBy(t *testing.T, st Store, owner Owner) Store {
	t.Helper()
	f, ok := st.(Fencing)
	if !ok {
		t.Fatalf("%T does not implement Fencing", st)
	}
	return f.Fenced(owner)
}

// epochOf returns the epoch of view's saves of source.
func epochOf(t *testing.T, view Store, source string) uint64 {
	t.Helper()
	e, ok := view.(interface{ Epoch(source string) uint64 })
	if !ok {
		t.Fatalf("the fenced view %T does not report its epoch", view)
	}
	return e.Epoch(source)
}

// testFencingContract is what a Fencing store promises, on the stores
// location opens: each test gets a fresh location, each open call is one
// process.
func testFencingContract(t *testing.T, location func(t *testing.T) opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		// A zombie: owner A (generation 1) saves, is paused past its
		// session timeout, owner B (generation 2) loads and saves, then A
		// wakes and saves an older checkpoint. Every later Load returns
		// B's, intact, whatever A writes.
		{"a stale owner cannot move the checkpoint back", func(t *testing.T, open opener) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Two processes: two stores on one location.
			a := fenced(t, open(t), 1)
			b := fenced(t, open(t), 2)

			if _, err := a.Load(ctx, "src"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("first Load = %v, want ErrNotFound", err)
			}
			if epochOf(t, a, "src") != 1 {
				t.Fatalf("A's epoch = %d, want 1", epochOf(t, a, "src"))
			}
			old := testCheckpoint("src", 300, 1)
			if err := a.Save(ctx, old); err != nil {
				t.Fatal(err)
			}

			got, err := b.Load(ctx, "src")
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, got, old)
			if epochOf(t, b, "src") != 2 {
				t.Fatalf("B's epoch = %d, want 2", epochOf(t, b, "src"))
			}
			newer := testCheckpoint("src", 400, 5)
			if err := b.Save(ctx, newer); err != nil {
				t.Fatal(err)
			}
			// A wakes up and saves twice (both chunk parities) before it notices.
			for _, seed := range []uint64{2, 3} {
				if err := a.Save(ctx, testCheckpoint("src", 500, seed)); err != nil {
					t.Fatal(err)
				}
			}
			fresh := open(t)
			got, err = fresh.Load(ctx, "src")
			if err != nil {
				t.Fatalf("Load after the stale owner's saves = %v", err)
			}
			assertSame(t, got, newer)

			// B keeps saving: each save is the one loaded.
			newest := testCheckpoint("src", 100, 6)
			if err := b.Save(ctx, newest); err != nil {
				t.Fatal(err)
			}
			got, err = fresh.Load(ctx, "src")
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, got, newest)
		}},
		// When the consumer group is deleted and its generations restart
		// at 1, the next owner's epoch still exceeds the one stored, so its
		// saves are the ones loaded.
		{"the epoch outlives the group", func(t *testing.T, open opener) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st := open(t)
			before := fenced(t, st, 57)
			if err := before.Save(ctx, testCheckpoint("src", 10, 1)); err != nil {
				t.Fatal(err)
			}
			after := fenced(t, st, 1)
			if _, err := after.Load(ctx, "src"); err != nil {
				t.Fatal(err)
			}
			if epochOf(t, after, "src") != 58 {
				t.Fatalf("epoch after a restarted generation count = %d, want 58", epochOf(t, after, "src"))
			}
			want := testCheckpoint("src", 10, 2)
			if err := after.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
			got, err := open(t).Load(ctx, "src")
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, got, want)
		}},
		// The epoch saturates: after a save at the largest epoch the next
		// owner's epoch stays there rather than wrapping to its
		// generation, below the stored one, where its saves are ignored.
		{"the epoch saturates", func(t *testing.T, open opener) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st := open(t)
			top := fenced(t, st, math.MaxUint64)
			if err := top.Save(ctx, testCheckpoint("src", 10, 1)); err != nil {
				t.Fatal(err)
			}
			next := fenced(t, open(t), 2)
			if _, err := next.Load(ctx, "src"); err != nil {
				t.Fatal(err)
			}
			if e := epochOf(t, next, "src"); e != math.MaxUint64 {
				t.Fatalf("epoch after a save at the largest epoch = %d, want %d", e, uint64(math.MaxUint64))
			}
		}},
		// The group is deleted and recreated while owner A (generation
		// 6 of the old group) is paused after its Load: B (generation 1
		// of the new group) loads the same checkpoint and gets the same
		// epoch. B saves first and keeps the epoch: A's save is refused,
		// and a save of that epoch by another member that slipped past the
		// check (written straight to the store) is ignored by Load.
		{"an equal epoch belongs to the member that saved it first", func(t *testing.T, open opener) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := fenced(t, open(t), 5).Save(ctx, testCheckpoint("src", 10, 1)); err != nil {
				t.Fatal(err)
			}
			a := fencedBy(t, open(t), Owner{Generation: 6, Member: "a"})
			b := fencedBy(t, open(t), Owner{Generation: 1, Member: "b"})
			for _, v := range []Store{a, b} {
				if _, err := v.Load(ctx, "src"); err != nil {
					t.Fatal(err)
				}
			}
			if ea, eb := epochOf(t, a, "src"), epochOf(t, b, "src"); ea != 6 || eb != 6 {
				t.Fatalf("epochs %d and %d, want 6 and 6", ea, eb)
			}
			newer := testCheckpoint("src", 400, 5)
			if err := b.Save(ctx, newer); err != nil {
				t.Fatal(err)
			}
			err := a.Save(ctx, testCheckpoint("src", 500, 2))
			var fe *FencedError
			if !errors.As(err, &fe) || fe.Epoch != 6 || fe.Holder.Member != "b" || fe.Holder.Generation != 1 || fe.Owner.Member != "a" {
				t.Fatalf("the second member's save under epoch 6 = %v, want a FencedError naming member b", err)
			}
			st := open(t)
			if err := st.(epochStore).save(ctx, testCheckpoint("src", 500, 3), stamp{epoch: 6, member: "a", generation: 6}); err != nil {
				t.Fatal(err)
			}
			got, err := open(t).Load(ctx, "src")
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, got, newer)
			// B keeps saving under its epoch.
			newest := testCheckpoint("src", 100, 6)
			if err := b.Save(ctx, newest); err != nil {
				t.Fatal(err)
			}
			got, err = open(t).Load(ctx, "src")
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, got, newest)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, location(t)) })
	}
}

// TestFencedReadsUnfencedCheckpoints: a topic written before fencing
// existed (epoch 0, the old chunk keys) loads through a fenced view, whose
// first save supersedes it and deletes its chunks.
func TestFencedReadsUnfencedCheckpoints(t *testing.T) {
	topic := kafkatest.TopicName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plain := kafkaStore(t, topic, 64)
	old := testCheckpoint("src", 300, 1)
	if err := plain.Save(ctx, old); err != nil {
		t.Fatal(err)
	}
	f := kafkaStore(t, topic, 64).Fenced(Owner{Generation: 3, Member: "m"})
	got, err := f.Load(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, old)
	want := testCheckpoint("src", 200, 2)
	if err := f.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	sc, err := plain.scan(ctx, "src", true)
	if err != nil {
		t.Fatal(err)
	}
	for key := range sc.chunks {
		if sl, _, _ := parseChunkKey(key, "src"); sl.epoch == 0 {
			t.Errorf("chunk %s of epoch 0 still holds a value after the fenced save", key)
		}
	}
	got, err = plain.Load(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, want)
}

func TestChunkKeyRoundTrip(t *testing.T) {
	tests := []struct {
		sl  slot
		n   int
		key string
	}{
		{slot{0, 0}, 0, "s/g0/0"},
		{slot{0, 1}, 12, "s/g1/12"},
		{slot{7, 1}, 3, "s/e7/g1/3"},
	}
	for _, tt := range tests {
		if got := chunkKey("s", tt.sl, tt.n); got != tt.key {
			t.Errorf("chunkKey(%v, %d) = %q, want %q", tt.sl, tt.n, got, tt.key)
		}
		sl, n, ok := parseChunkKey(tt.key, "s")
		if !ok || sl != tt.sl || n != tt.n {
			t.Errorf("parseChunkKey(%q) = %v, %d, %v", tt.key, sl, n, ok)
		}
	}
	for _, bad := range []string{"s/e0/g1/3", "s/e/g1/3", "s/e01/g1/3", "s/g2/1", "s/x/g1/1", "t/g0/0", "s/e5/g0/-1"} {
		if _, _, ok := parseChunkKey(bad, "s"); ok {
			t.Errorf("parseChunkKey(%q) accepted", bad)
		}
	}
}
