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
// docs/metrics.md lists every metric with its type, labels and meaning, and
// the alerts built on them; TestDocsMetricsTable keeps that table equal to
// what New registers. The label values New creates at start are exported
// ([KnownStatuses], [RetryReasons], [KafkaErrorKinds], …).
//
// The reason and kind values are chosen by the packages that count them;
// each must stay a short fixed list, and TestLabelValuesMatchProducers keeps
// the lists here equal to theirs.
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
