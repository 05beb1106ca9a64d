//go:build race

package poller_test

// raceEnabled is true in a build with the race detector.
const raceEnabled = true
