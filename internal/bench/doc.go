// Package bench provides the benchmark harness of jelou-producer (run by
// cmd/jelou-bench): the four scenarios of the performance issue and the
// catch-up scenario of the core redesign (issue 10), the processes they
// measure, and the table they print.
//
// # Processes
//
// The producer under test is the real jelou-producer binary in a child
// process; only that process is measured: CPU from /proc/<pid>/stat while it
// runs and from its rusage once it exits, peak RSS from VmHWM in
// /proc/<pid>/status sampled every 50 ms (not ru_maxrss: Go starts children
// with a vfork-style clone, so a child's ru_maxrss includes the parent's).
// The broker is another process: real Apache Kafka when KAFKA_BENCH_BROKERS
// (or KAFKA_TEST_BROKERS) names one, else the jelou-kafka command (kfake).
// The simulated API runs inside the harness process (so that its oracle,
// FirstServable and the arrival time of every request are at hand without a
// network hop); it therefore never counts against the producer.
//
// # Rules
//
// Every comparison is a ratio of figures measured in the same run; absolute
// figures are printed, never asserted. The fetch-only and produce-only
// limits of scenario 1 run as child processes too (the harness binary again,
// selected by ChildEnv), measured like the producer, alternating with it for
// two rounds; each figure keeps its fastest round, so that load from other
// processes on a shared machine weighs less.
//
// # Scenarios
//
//   - backfill: 1,000,000 conversations over 30 days, 200 companies, no
//     latency or rate limit; end to end against min(fetch only, produce only).
//   - api: 50,000 conversations, 100 ms a page, 20 requests/s; wall time
//     against requests ÷ 20/s, and no 429.
//   - live: 50 new conversations/s for 3 minutes; delay from the first
//     moment the API would serve a (conversation, state) to its arrival at a
//     consumer of the topic; CPU between polls.
//   - memory: the dedupe index of 1,000,000 tracked conversations (heap,
//     snapshot, checkpoint size), then the producer restarted on that
//     checkpoint: time to its first API request.
//   - catchup: the producer started with 6 h of history at 2 conversations/s
//     (each active 20 s to 10 min, then terminal) to read, against an API
//     with a page cap of 50, a limit of 30 requests/s and 20 % errors
//     (429/500/502), run for 4 minutes of wall time; during the catch-up,
//     the (conversation, state) pairs served for 30 s that never reached
//     the topic, the delay from first servable to consumed at the live
//     edge, requests and rows fetched per published pair, and when history
//     was read. Its figures and their reading are in docs/catchup.md.
//   - budget (issue 11): a producer built with -tags testclock on the
//     simulator's accelerated clock, for POLL_SETTLE 15m, 1h, 4h at 2 and
//     20 new conversations/s, once with POLL_SETTLE_REREAD=all (the old live
//     tick) and once with by-age; rows fetched per published pair, requests
//     per simulated minute, delay visible → Kafka and missing pairs, all in
//     simulated time (see budget.go and docs/budget.md).
//
// Options.Short scales them down to run in a few minutes (catchup: 2 h of
// history, 90 s of wall time).
package bench
