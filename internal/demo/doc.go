// Package demo provides `jelou-producer demo`: the real pipeline run against
// the simulated Jelou API and an in-process Kafka broker (or a real one), on
// an accelerated clock, with a live, readable view of what it publishes.
//
// # What runs
//
// The simulated API (internal/jelousim) serves a seeded population of
// conversations that appear and change state on a clock that runs Speed
// times faster than real time (default 60: a simulated minute per second).
// The service (internal/service) polls it with the same code and settings
// that production uses, publishes to a topic on an in-process broker
// (github.com/twmb/franz-go/pkg/kfake over TCP) unless Brokers names a real
// one, and checkpoints to a temporary directory.
//
// # What it shows
//
// A line per published event (company, conversation, state change), a
// status line every few seconds (simulated time, windows done, events and
// rate, duplicates skipped, checkpoint lag, API requests), and on exit a
// summary that reads the topic back and compares it with what the simulated
// API served: every pair served is on the topic, none twice.
package demo
