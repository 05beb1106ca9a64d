// Package e2e provides the process-level end-to-end suite of jelou-producer:
// its tests build cmd/jelou-sim, cmd/jelou-kafka and cmd/jelou-producer, run
// each as a separate process, inject faults (API faults, SIGKILL, SIGTERM, a
// broker that goes away, revoked credentials) and judge the outcome against
// the simulator's oracle and a full read of the output topic.
//
// The package holds no code outside its tests. Run it with
// `go test ./test/e2e/` (about a minute); every scenario logs a line starting
// with RESULT, the row of the reliability table in docs/testing.md.
//
// # Clock
//
// The simulator runs on an accelerated clock (-speed, -clock-start). The
// suite builds the producer with `-tags testclock`, and that build shares
// the timeline through its test variables JELOU_PRODUCER_CLOCK_SPEED,
// JELOU_PRODUCER_CLOCK_START and JELOU_PRODUCER_CLOCK_AT (see
// cmd/jelou-producer/testclock.go), anchored to the simulator's
// /_sim/stats "now", so that a restarted producer continues the same
// timeline. Release builds (Makefile, Dockerfile) have no test clock and
// ignore the variables; internal/deploytest checks that their binary does
// not even contain the names.
//
// # Broker
//
// Each test starts its own jelou-kafka process (restartable on the same
// address with the same data directory), unless KAFKA_TEST_BROKERS names a
// real cluster; then tests use unique topics on it, and the broker-down
// scenario is skipped.
//
// # Rules
//
//   - Every child process is killed in t.Cleanup; ports are picked by the
//     kernel; files live in t.TempDir.
//   - Timings are never asserted, except the deadlines the product
//     promises (exit within SHUTDOWN_TIMEOUT).
//   - -short skips the suite; -e2e.long (or E2E_LONG=1) runs the long
//     variants; E2E_SEED fixes the random kill moments; E2E_LOG_DIR keeps
//     every process's log (JSON, debug level) under that directory.
package e2e
