package dedupe

import (
	"math/rand/v2"
	"testing"
)

// TestShardAgainstMap drives one shard through random inserts, lookups,
// single deletions and bulk deletions, small enough to wrap around often,
// and compares it with a map after every operation batch.
func TestShardAgainstMap(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var s shard
		ref := map[uint64]uint64{}
		// Few distinct keys so that inserts, hits and deletions all happen.
		key := func() uint64 { return rng.Uint64N(3000) * 0x9e3779b97f4a7c15 }
		for op := range 20000 {
			k := key()
			switch r := rng.IntN(100); {
			case r < 60:
				v := rng.Uint64N(1<<20) + 1
				if i, ok := s.find(k); ok {
					s.slots[i].val = v
				} else {
					s.insert(k, v)
				}
				ref[k] = v
			case r < 85:
				if i, ok := s.find(k); ok {
					s.deleteAt(i)
					s.shrink()
				}
				delete(ref, k)
			case r < 99:
				i, ok := s.find(k)
				want, wok := ref[k]
				if ok != wok || ok && s.slots[i].val != want {
					t.Fatalf("seed %d op %d: find(%x) = %v, want %v", seed, op, k, ok, wok)
				}
			default:
				bound := rng.Uint64N(1 << 20)
				s.deleteIf(func(v uint64) bool { return v < bound })
				s.shrink()
				for k, v := range ref {
					if v < bound {
						delete(ref, k)
					}
				}
			}
		}
		checkShard(t, &s, ref)
	}
}

func checkShard(t *testing.T, s *shard, ref map[uint64]uint64) {
	t.Helper()
	if s.n != len(ref) {
		t.Fatalf("shard holds %d entries, want %d", s.n, len(ref))
	}
	live := 0
	for i, sl := range s.slots {
		if sl.val == 0 {
			continue
		}
		live++
		if ref[sl.key] != sl.val {
			t.Fatalf("slot %d: key %x val %d, want %d", i, sl.key, sl.val, ref[sl.key])
		}
		// Robin Hood invariant: no entry is further from home than the
		// one before it plus one.
		prev := i - 1
		if prev < 0 {
			prev = len(s.slots) - 1
		}
		if d := s.dist(i, sl.key); d > 0 {
			p := s.slots[prev]
			if p.val == 0 || s.dist(prev, p.key) < d-1 {
				t.Fatalf("slot %d: distance %d breaks the probe run", i, d)
			}
		}
	}
	if live != len(ref) {
		t.Fatalf("%d live slots, want %d", live, len(ref))
	}
	if s.n*loadDen > len(s.slots)*loadNum {
		t.Fatalf("load %d/%d above the limit", s.n, len(s.slots))
	}
}

func TestStateTableOverflow(t *testing.T) {
	var tab stateTable
	for i := range MaxUnknownStates {
		if c := tab.code(stateName(i), true); int(c) != i+1 {
			t.Fatalf("code of value %d = %d, want %d", i, c, i+1)
		}
	}
	if c := tab.code("one-too-many", true); c != overflowCode {
		t.Errorf("code past the limit = %d, want overflow", c)
	}
	if c := tab.code(stateName(7), false); c != 8 {
		t.Errorf("code of an interned value once full = %d, want 8", c)
	}
	if got := tab.name(8); got != stateName(7) {
		t.Errorf("name(8) = %q, want %q", got, stateName(7))
	}
	if got := tab.name(overflowCode); got != OverflowState {
		t.Errorf("name(overflow) = %q, want %q", got, OverflowState)
	}
}
