package dedupe

import (
	"math/bits"
	"sync"
)

// Table shape. Each shard is an open-addressed Robin Hood hash table with
// linear probing and backward-shift deletion (no tombstones). Capacities are
// not powers of two: a slot is chosen by multiplying the mixed hash by the
// capacity, so tables grow by a quarter rather than doubling, which keeps the
// load between 72 % and 90 % (about 20 bytes of heap per entry).
const (
	shardBits = 6
	numShards = 1 << shardBits

	minCap = 8
	// A shard grows by a quarter when its load would exceed 9/10.
	loadNum, loadDen = 9, 10
)

// slot is one cell of a shard. val == 0 marks an empty slot; a live entry
// always has a non-zero last-emitted field.
type slot struct {
	key uint64 // FNV-1a 64 of the conversation id
	val uint64 // packed entry
}

// shard is one lock's worth of the index.
type shard struct {
	mu    sync.Mutex
	slots []slot
	n     int
}

// FNV-1a 64 parameters (hash/fnv uses the same).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// hashID returns the FNV-1a 64 hash of id. It is the key stored in
// snapshots, so it must never change.
func hashID(id string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= fnvPrime64
	}
	return h
}

// mix spreads the bits of a key (the murmur3 64-bit finaliser). FNV-1a's
// low bits are weak; mixed bits choose the shard and the home slot.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// shardOf returns the shard index of a key (the mixed hash's low bits; the
// home slot uses its high bits).
func shardOf(k uint64) int { return int(mix(k) & (numShards - 1)) }

// home returns the preferred slot of key in a table of capacity n.
func home(key uint64, n int) int {
	hi, _ := bits.Mul64(mix(key), uint64(n))
	return int(hi)
}

// dist returns how far slot i is from the home slot of key.
func (s *shard) dist(i int, key uint64) int {
	d := i - home(key, len(s.slots))
	if d < 0 {
		d += len(s.slots)
	}
	return d
}

// find returns the slot holding key and true, or false when key is absent.
func (s *shard) find(key uint64) (int, bool) {
	n := len(s.slots)
	if n == 0 {
		return 0, false
	}
	i := home(key, n)
	for d := 0; ; d++ {
		sl := &s.slots[i]
		if sl.val == 0 {
			return 0, false
		}
		if sl.key == key {
			return i, true
		}
		// Robin Hood invariant: had key been here, it would have displaced
		// any resident closer to its own home than key is to its.
		if s.dist(i, sl.key) < d {
			return 0, false
		}
		if i++; i == n {
			i = 0
		}
	}
}

// reserve makes room for n more entries without growing while they arrive.
// Inserting keys in home order (as a snapshot lists them) into a table that
// keeps growing would pile them into long runs; one resize up front avoids it.
func (s *shard) reserve(n int) {
	if want := (s.n + n) * loadDen / loadNum; want > len(s.slots) {
		s.resize(max(minCap, want+1))
	}
}

// insert adds key, which must be absent, growing the table when needed.
func (s *shard) insert(key, val uint64) {
	if (s.n+1)*loadDen > len(s.slots)*loadNum {
		s.resize(max(minCap, len(s.slots)+len(s.slots)/4))
	}
	s.place(key, val)
	s.n++
}

// place stores key in a table known to have room.
func (s *shard) place(key, val uint64) {
	n := len(s.slots)
	i := home(key, n)
	for d := 0; ; d++ {
		sl := &s.slots[i]
		if sl.val == 0 {
			*sl = slot{key, val}
			return
		}
		if rd := s.dist(i, sl.key); rd < d {
			// Take from the rich: key settles here, the resident moves on.
			sl.key, key = key, sl.key
			sl.val, val = val, sl.val
			d = rd
		}
		if i++; i == n {
			i = 0
		}
	}
}

// deleteAt empties slot i, shifting the following run back by one so that
// no tombstone is needed.
func (s *shard) deleteAt(i int) {
	n := len(s.slots)
	for {
		j := i + 1
		if j == n {
			j = 0
		}
		next := s.slots[j]
		if next.val == 0 || s.dist(j, next.key) == 0 {
			s.slots[i] = slot{}
			break
		}
		s.slots[i] = next
		i = j
	}
	s.n--
}

// resize moves every entry into a table of capacity n.
func (s *shard) resize(n int) {
	old := s.slots
	s.slots = make([]slot, n)
	for _, sl := range old {
		if sl.val != 0 {
			s.place(sl.key, sl.val)
		}
	}
}

// shrink gives memory back after deletions leave the table under a quarter
// full, resizing it to about half full.
func (s *shard) shrink() {
	if len(s.slots) > minCap && s.n*4 < len(s.slots) {
		s.resize(max(minCap, s.n*2))
	}
}

// deleteIf removes every entry for which drop returns true and reports how
// many it removed.
func (s *shard) deleteIf(drop func(val uint64) bool) int {
	removed := 0
	for i := 0; i < len(s.slots); {
		if v := s.slots[i].val; v != 0 && drop(v) {
			// The backward shift may pull an unvisited entry into slot i,
			// so look at i again. Entries pulled across the wrap-around
			// were already kept once; keeping them again is harmless.
			s.deleteAt(i)
			removed++
			continue
		}
		i++
	}
	return removed
}
