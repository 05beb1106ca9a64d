// Package poller provides the loop that turns Jelou's date-range API into a
// complete, duplicate-free stream of (conversation, state) events: fetch →
// dedupe → encode → write → commit, in four lanes that share one request
// budget.
//
// # Lanes
//
// What has been read is the Coverage (stored in the checkpoint): history
// gaps not read yet, the live range read at least once, and the settled mark
// inside it. Four lanes run side by side, each asking the [Schedule] what is
// due:
//
//   - live: every Interval, [end of the live range, now−Lag]; the freshest
//     rows, and nothing else, so its cost follows the interval's volume.
//   - settle: every Interval, the part of the live range not settled yet
//     ([Settled, end of the live range]); rows that become visible after
//     their start time was first read (late rows) are found there for
//     Settle. A start time is settled once it was read Settle after it
//     began.
//   - revisit: the spans of conversations last seen in a non-terminal state
//     (Window-aligned buckets), re-read when due: RevisitInterval after the
//     last visit, growing with age (age/8, at most 1h), until they reach a
//     terminal state or are older than Revisit. After a start every bucket
//     is due once.
//   - history: the gaps, newest first, in Window-long windows with up to
//     Concurrency in flight. A gap's start passes a window only when it and
//     every earlier window of the gap are acknowledged ([prefix]).
//
// Requests of all lanes take their tokens from one [Budget], which serves a
// waiting live request before any other, then settle, revisit, history: the
// live edge keeps its cadence during a backfill, a catch-up or a long
// revisit sweep.
//
// # Start and restart
//
// Without a checkpoint the live lane starts at now−Lag−max(Settle,
// Interval), so its first query reads the recent past; history reads from
// Start up to there. With one, every lane resumes from its coverage. When
// the live range fell more than a settle period and an interval behind the
// edge (the service was down, or the API was), its unsettled part becomes a
// history gap, read once (old enough to be settled by that read), and the
// live range starts again from the recent past. A checkpoint of format
// version 1 (a cursor only) is read as a live range ending at the cursor
// whose last Settle is not settled.
//
// # Windows
//
// Windows are inclusive at both ends: consecutive windows share their
// boundary second and dedupe absorbs the overlap. A window whose first page
// promises more than MaxPages pages, that the API rejects with 422 as too
// wide, or whose body is larger than the client accepts, is split in halves
// down to MinWindow, where a read takes up to ten times MaxPages pages,
// whatever the pagination says; one still not exhausted then is truncated:
// what was read is published and the window is read again after the
// backoff, never marked done. A window's rows are published in bounded
// batches as its pages arrive (Config.Memory), never held whole.
// When pages of one window disagree (total changes between pages, fewer
// rows than promised, numbers that contradict each other), the window is
// fetched again, then split; drift that survives that at MinWindow is
// published, logged and counted, never silently dropped. Every row the API
// showed is published, including the rows of a probing page and of pages
// received before a failed one.
//
// # Commit
//
// A read of a window yields a fetched value (rows, drift, error) whatever
// happened; its rows are published as they arrive, then handed to the
// committer, the one writer of what the checkpoint holds: ack (the index
// holds the states as acknowledged), done (the coverage moves once a query's every window was
// acknowledged), save (coverage, then index snapshot, then the store; at
// most every CheckpointInterval when something was committed, and always
// on exit).
//
// # Guarantees
//
// Every (conversation, state) the API serves for at least Settle+Interval
// after it became visible is published at least once. In an uninterrupted
// run each pair is published exactly once. After a crash, pairs from the work
// in flight since the last checkpoint may be published again, with the same
// event id; nothing before the checkpoint is repeated and nothing is lost.
// A failed write fails the whole batch; it is retried until it succeeds or
// the context ends, and no coverage moves past it. A conversation read by
// two lanes at once is published once per state; its states are published in
// state order, a state older than one already published being skipped as a
// regression (two lanes read the same start time at once only where the
// revisit and history or settle ranges touch).
package poller
