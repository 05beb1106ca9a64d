// Package telemetry provides the service's Prometheus metrics, its health
// checks, and the HTTP server exposing /metrics, /healthz and /readyz.
//
// # Metrics
//
// [New] creates every metric and registers it with the given
// prometheus.Registerer (tests pass prometheus.NewRegistry(); [NewRegistry]
// adds the Go and process collectors for the binary). All names carry the
// jelou_producer_ prefix and a unit suffix. Label values come from small
// fixed sets; series of known values are created at zero on start.
//
//	| Metric                                        | Type      | Labels                                    | Meaning |
//	|-----------------------------------------------|-----------|-------------------------------------------|---------|
//	| jelou_producer_api_requests_total             | counter   | status: HTTP code, timeout, error         | Jelou API attempts |
//	| jelou_producer_api_request_duration_seconds   | histogram |                                           | API request latency, body included |
//	| jelou_producer_api_retries_total              | counter   | reason: rate_limited, server_error, timeout, network, other | requests retried |
//	| jelou_producer_conversations_fetched_total    | counter   |                                           | rows received, before dedupe |
//	| jelou_producer_events_published_total         | counter   | state: active, closed, resolved, expired, other | events acknowledged by Kafka |
//	| jelou_producer_duplicates_skipped_total       | counter   | reason: e.g. published, regressed         | rows skipped by dedupe |
//	| jelou_producer_rows_rejected_total            | counter   | reason: e.g. missing_id                   | rows that could not become an event |
//	| jelou_producer_revisits_total                 | counter   |                                           | windows re-queried for non-terminal conversations |
//	| jelou_producer_windows_completed_total        | counter   | lane: live, settle, revisit, history      | windows fetched with every event acknowledged |
//	| jelou_producer_kafka_write_errors_total       | counter   | kind: e.g. timeout, broker, too_large     | failed produce calls |
//	| jelou_producer_kafka_write_duration_seconds   | histogram |                                           | produce call latency until acknowledged |
//	| jelou_producer_checkpoint_saves_total         | counter   | result: ok, error                         | checkpoint saves |
//	| jelou_producer_checkpoint_lag_seconds         | gauge     |                                           | now − saved cursor, computed at scrape; 0 before the first save |
//	| jelou_producer_tracked_conversations          | gauge     |                                           | conversations in the dedupe index |
//	| jelou_producer_key_fallback_total             | counter   |                                           | events keyed by the fallback because company.id was missing |
//	| jelou_producer_lane_backlog_seconds           | gauge     | lane: live, settle, revisit, history      | how far a lane is behind (live: now − end of the live range; settle: now − settled mark; history: seconds of start times unread) |
//	| jelou_producer_build_info                     | gauge     | version, goversion                        | always 1 |
//
// The reason and kind values marked "e.g." are chosen by the packages that
// count them; each must stay a short fixed list.
//
// [Pipeline] implements the poller's Observer, the one interface through
// which the API client, the Kafka writer and the poller report what they
// do; it feeds these metrics and the readiness checks.
//
// # Health
//
// [Health] holds named readiness checks fed by the components that know
// (see [Health.Require] and [Health.Set]). /healthz answers 200 "ok" while the
// process serves HTTP: a restart would not help anything else. /readyz
// answers 200 only when every check passes, else 503, with a JSON [Report]
// listing each check, its state, its last success and its error.
//
// # Server
//
// [Server] serves /metrics, /healthz and /readyz with read, write and idle
// timeouts. [Server.Start] returns bind errors at once; [Server.Shutdown]
// drains in-flight requests under the caller's deadline.
package telemetry
