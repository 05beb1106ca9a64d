// Package dedupe provides the compact in-memory index that decides which
// (conversation id, state) pairs must be published, and its snapshot format.
//
// # Rules
//
// One event per (id, state). [Index.Observe] answers for one row:
//
//   - first sight of an id: emit ([ReasonNew], Previous "");
//   - a state not yet emitted for the id: emit ([ReasonStateChange], Previous
//     is the state emitted last, pending or acknowledged);
//   - a state already emitted, pending or acknowledged: skip ([ReasonDuplicate]);
//   - a non-terminal state (active, or an undocumented value) once a terminal
//     state (closed, resolved, expired) was emitted: skip ([ReasonRegression]).
//
// States rank active = undocumented = 0 and terminal = 1. A different
// terminal state after a terminal one (closed, then resolved) is a new state
// and is emitted; so is active after an undocumented value and the reverse.
//
// # Undocumented states
//
// A state string other than the four documented ones is kept, not dropped:
// it ranks like active and is emitted once per distinct value. Each entry has
// one slot for such a value, so a new undocumented value replaces the
// previous one (an id that alternates between two undocumented values emits
// each change). Values are interned per index, up to [MaxUnknownStates]
// distinct values of at most [MaxUnknownStateLen] bytes; beyond that they
// share one overflow slot, reported as Previous [OverflowState]. The empty
// string is an undocumented value like any other.
//
// # Pending and acknowledged
//
// An emitted state is pending at once, so that overlapping windows in flight
// never emit the same pair twice. [Index.Ack] marks it acknowledged (Kafka
// took it); [Index.Release] forgets it (the publish was abandoned) so that
// the next observation emits it again. Snapshots keep only acknowledged
// states: after a restart, in-flight work is repeated, never lost.
//
// # Memory and collisions
//
// Entries are keyed by the 64-bit FNV-1a hash of the id, with a packed
// 64-bit value (start second, acknowledged and pending state bits, last
// emitted and last acknowledged state, undocumented-value code): 16 bytes per
// entry, in 64 independently locked open-addressed Robin Hood tables that
// grow by a quarter at 90 % load, so they stay 72–90 % full: about 18–22
// bytes of heap per entry, 21 MB for a million.
//
// Two ids with the same hash are taken for one: the second one's first
// state may be judged a duplicate or a regression and then is NOT published
// (a skipped event), or it is published with the other id's state as
// Previous. With n ids tracked at once the chance that any pair collides is
// about n²/2⁶⁵: 3·10⁻⁸ for a million.
//
// # Eviction
//
// Nothing ages out by itself: the poller calls [Index.Evict] with a bound
// derived from its revisit horizon and cursor. An entry's start time is the
// latest start time observed for it, at second granularity, clamped to
// 1970–2514; a zero time counts as 1970 and is evicted first.
//
// # Snapshot format
//
// [Index.WriteSnapshot] writes a binary, versioned stream: the magic "JDDX",
// a version (1), blocks of entries (about 12–13 bytes per entry: the 8-byte
// key, then a varint of start-time offset and state bits) each framed with
// its length and a CRC-32C, then an end block holding the entry total and
// the undocumented values. [ReadSnapshot] reports [ErrNotSnapshot],
// [*VersionError], [ErrTruncated], [*ChecksumError] or [*FormatError], and
// never allocates more than the bytes it was given justify.
package dedupe
