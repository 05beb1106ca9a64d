// Package service provides the jelou-producer service: it wires the
// configuration into the Jelou API client, the poller, the event encoder, the
// Kafka publisher, the checkpoint store and the metrics and health server,
// and runs them until the context ends.
//
// # Lifecycle
//
// New checks what can be checked before work starts (the configuration, the
// topic, the checkpoint store) and fails with one clear error. Run polls
// until its context ends, then drains within SHUTDOWN_TIMEOUT: in-flight
// requests are abandoned, the batch being published is either acknowledged
// or left out of the checkpoint, the checkpoint is saved, the writer is
// flushed and closed, and the HTTP server is shut down.
//
// # Failure
//
// A failure that does not pass by itself (rejected credentials, a fatal
// Kafka error such as a record too large, a response over
// JELOU_MAX_BODY_BYTES, a checkpoint that cannot be loaded) stops its
// source alone, whatever the number of sources: the source is held failed
// (source_up 0, /readyz lists it), keeps its lease in a consumer group,
// and is retried after Options.SourceRetry, doubling up to SourceRetryMax,
// with its *_FILE credentials read again; a retried source is on
// probation (retrying, source_up still 0, its failures kept) until it has
// polled without failing for the delay before the retry (at least three
// POLL_INTERVALs); the other sources go on and Run does not return. Two exceptions stop Run with the error: a backfill's
// failure, and a single source's credentials rejected before any of its
// windows completed (an error wrapping *jelou.AuthError, after marking the
// service not ready: a configuration error at start-up, exit 3).
// Everything else (5xx, 429, network errors, a broker that is down) is
// retried with backoff for as long as it lasts, and shows in /readyz and
// the metrics.
package service
