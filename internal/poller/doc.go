// Package poller provides the loop that turns Jelou's date-range API into a
// complete, duplicate-free stream of (conversation, state) events: it walks
// time windows, re-polls recent ones, revisits conversations still active,
// dedupes, publishes and commits an offset checkpoint.
//
// # Windows
//
// A cursor moves over successive windows [cursor, cursor+Window]. The API's
// end bound is inclusive, so consecutive windows share their boundary second:
// they overlap rather than risk a gap, and dedupe absorbs the overlap. While
// the cursor is more than one window behind now−Lag, up to Concurrency windows
// are in flight at once (backfill). The cursor passes a window only when it
// and every earlier window were fetched and every event from them was
// acknowledged by Kafka. Empty windows advance the cursor like any other.
//
// Once caught up (live mode), every Interval the poller queries
// [min(cursor, now−Lag−Settle, settled), now−Lag], so rows that become
// visible after their window was first polled (late rows) are still found
// for Settle. The settled watermark is how far every start time has been
// queried at least Settle after it began; it holds the live query back after
// a stall (an outage, a long backfill, a restart) so that the stall does not
// eat into anyone's settle period.
//
// A window whose first page promises more than MaxPages pages, or that the API
// rejects with 422 as too wide, is split in halves (down to MinWindow). When
// pages of one window disagree (total changes between pages, fewer rows than
// promised), the window is fetched again, then split; drift that survives
// that at MinWindow is published, logged and counted, never silently dropped.
//
// # Revisits
//
// Conversations last seen in a non-terminal state are revisited: the span of
// their start times inside each Window-aligned bucket is queried again when
// due. A bucket is due RevisitInterval after its last visit, growing with the
// age of its conversations (age/8, at most 1h), until it holds no
// non-terminal conversation or every one is older than Revisit. The extra
// requests per hour are therefore bounded by the number of such buckets
// (Revisit/Window) times their pages, and are counted.
//
// # Guarantees
//
// Every (conversation, state) the API serves for at least Settle+Interval
// after it became visible is published at least once. In an uninterrupted run
// each pair is published exactly once. After a crash, pairs from the work in
// flight since the last checkpoint may be published again, with the same
// event id; nothing before the checkpoint is repeated and nothing is lost.
// A failed publish fails the whole batch; it is retried until it succeeds or
// the context ends, and the checkpoint never moves past it.
package poller
