//go:build !race

package bench

// raceEnabled is true in a build with the race detector.
const raceEnabled = false
