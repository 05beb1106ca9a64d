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
// With a single source (and for a backfill), rejected credentials (401)
// stop Run with an error wrapping *jelou.AuthError, after marking the
// service not ready: the service never retries them. Fatal Kafka errors
// (authorization, record too large, missing topic), a response over
// JELOU_MAX_BODY_BYTES and a checkpoint that cannot be loaded stop it too.
// With several sources, such a failure stops its source alone: the source
// is held failed (source_up 0, /readyz lists it), keeps its lease in a
// consumer group, and is retried after Options.SourceRetry, doubling up to
// SourceRetryMax, with its *_FILE credentials read again; the other
// sources go on and Run does not return. Everything else (5xx, 429,
// network errors, a broker that is down) is retried with backoff for as
// long as it lasts, and shows in /readyz and the metrics.
package service
