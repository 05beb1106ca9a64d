//go:build !testclock

package main

import "github.com/jelou-producer/jelou-producer/internal/clock"

// serviceClock returns nil, the wall clock: a release build has no test
// clock and reads no variable for one. The accelerated clock of the
// end-to-end suite is in testclock.go, built only with -tags testclock.
func serviceClock() (clock.Clock, error) { return nil, nil }
