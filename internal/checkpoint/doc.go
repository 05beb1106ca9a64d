// Package checkpoint provides durable, atomic storage of each source's
// progress (cursor, dedupe snapshot and small extra state) in a local file or
// in a compacted Kafka topic.
//
// Callers use the [Store] interface. [Open] builds the store a [Spec] asks
// for ([BackendFile]: one file per source; [BackendKafka]: a compacted
// topic); [NewFile] and [NewKafka] build one backend's store directly. A
// store that replicas can share implements [Fencing]. Checkpoints are keyed
// by a source id from [SourceID].
//
// # Guarantees
//
// Save is atomic: after a crash at any point, Load returns the previous
// checkpoint or the new one, never a mix, and never garbage. Load returns
// [ErrNotFound] only when nothing was ever saved; a checkpoint that exists
// but cannot be read back intact is a [*CorruptError], one written by a newer
// build a [*VersionError], one of another source a [*SourceMismatchError],
// one saved for another account an [*AccountMismatchError]. None of these
// is ever turned into a silent fresh start: the caller stops and the
// operator decides.
//
// # Accounts
//
// A checkpoint records the account whose progress it is: [Account], a
// fingerprint of the API's base URL and the client id (not the secret,
// which may rotate). A store told a source's account ([File].Account, for
// every backend [Open] builds) writes it into each save and refuses to load
// a checkpoint of another account, so that two deployments sharing a
// checkpoint topic with sources of one name, or a source whose client id
// changed, never resume from another account's progress. A checkpoint
// without an account (saved by an earlier build) loads on any account and
// records it at its next save.
//
// # Encoding
//
// Both backends store the same encoding (format version [FormatVersion]):
//
//	{"format":"jelou-producer-checkpoint","version":2,"source":…,"account":…,"cursor":…,"savedAt":…,"dedupeLen":N,"extra":{…}}\n
//	<N raw dedupe bytes>
//	\ncrc32c:<8 hex digits>\n
//
// The header is one JSON line (times in RFC 3339 UTC), readable with head -1.
// The trailer holds the CRC-32C (Castagnoli) of everything before it. A
// header whose version is newer than this build's is reported before
// anything else is checked, since a newer layout may differ.
//
// # File backend
//
// [FileStore] keeps one source's checkpoint in one file; the store [Open]
// builds holds one per source of [Spec].Files. Save writes a
// temporary file in the same directory (mode 0640; the directory is created
// with mode 0750), fsyncs it, hard-links the current file to <path>.prev,
// renames the temporary file over the path and fsyncs the directory. The
// rename is the commit point. <path>.prev is for an operator only; Load
// never falls back to it.
//
// The default file name is [DefaultFileName]. [NewFile] renames a checkpoint
// left under the earlier default, [LegacyFileName], in the same directory
// when the path it opens is named [DefaultFileName] and does not exist yet,
// and the file named by [FormerPath] ([File].Former) likewise.
//
// One process per file: [NewFile] creates the directory and takes an
// exclusive, non-blocking flock(2) on <path>.lock (the suffix is
// [LockSuffix]), held until Close, and writes its holder (pid, host, start
// time) into it as one JSON line. A second open of the path, by another
// process or by this one, fails with a [*LockedError] naming the path and
// that holder (errors.Is(err, [ErrLocked])). The kernel releases the lock
// when its process dies, so a lock file left by a crash does not block. Close
// empties the lock file but leaves it: deleting a flock file races with a
// process that has just opened it. [ReadOnly] opens a file for Load only,
// without the lock. On platforms without flock(2) (Windows, Plan 9, wasm,
// Solaris, AIX) the lock is a no-op and a second process is not refused.
//
// # Kafka backend
//
// [KafkaStore] writes everything to partition 0 of a topic with
// cleanup.policy=compact (created when missing). The encoding of a
// checkpoint is split into chunks of at most [KafkaConfig].ChunkSize bytes
// under the keys <source>/g<sequence%2>/<n>, each with its save's sequence
// number in a header; once every chunk is acknowledged (acks=all), a JSON
// manifest (sequence, chunk count, length, SHA-256) is written under the
// key <source>. Save N+1 writes to the keys of the other parity than save
// N, so a crash while writing it leaves save N, which the manifest still
// names, untouched. Load reads the partition from its start to the high
// watermark, takes the latest manifest of the source and assembles the
// chunks of its sequence. On the wire the sequence is still called
// "generation" (the manifest's JSON field and the chunks' header), as
// earlier builds wrote it; in this package "generation" means only the
// consumer group's.
//
// # Fencing
//
// Replicas that share sources through a consumer group save through
// [Fencing].Fenced ([KafkaStore.Fenced]), a view bound to the [Owner] (group
// generation and member id) the lease names. Its manifests carry an epoch
// (max(epoch loaded + 1, generation), saturating at the largest uint64)
// and the owner, and its chunks live under <source>/e<epoch>/g<parity>/<n>,
// so two owners of different epochs never overwrite each other's chunks.
// Load takes the manifest of the highest epoch and, among those, the
// latest of the member that wrote the first of them (the epoch's
// claimant). A stale owner that saves after the new owner loaded writes
// under a lower epoch and is ignored: the checkpoint never moves
// backwards. Two owners share an epoch only when both loaded the same
// checkpoint and the group's generation did not lift the newer above it
// (the group was deleted and its generations restarted): then, before its
// first save of the source, a view checks the stored manifest, and when
// another member already saved under its epoch Save fails with a
// [*FencedError] and writes nothing. Chunks of lower epochs are deleted
// after the next manifest is acknowledged. Manifests written without a
// view have epoch 0 (the format before fencing), so a topic written by an
// older build loads unchanged; the other way round, a build without
// fencing that saves after a fenced one is ignored once a fenced build
// runs again (its progress is read again: events repeat, none is lost).
//
// To start a source afresh, delete its manifest with a tombstone (a record
// with key <source> and a null value); Load then returns ErrNotFound.
package checkpoint
