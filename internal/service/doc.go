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
// Rejected credentials (401) stop Run with an error wrapping
// *jelou.AuthError, after marking the service not ready: the service never
// retries them. Fatal Kafka errors (authorization, record too large, missing
// topic) stop it too. Everything else (5xx, 429, network errors, a broker
// that is down) is retried with backoff for as long as it lasts, and shows
// in /readyz and the metrics.
package service
