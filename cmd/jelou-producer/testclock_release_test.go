//go:build !testclock

package main

import "testing"

// TestReleaseIgnoresClockVariables sets the test build's clock variables
// and checks that a release build still runs on the wall clock.
func TestReleaseIgnoresClockVariables(t *testing.T) {
	t.Setenv("JELOU_PRODUCER_CLOCK_SPEED", "60")
	t.Setenv("JELOU_PRODUCER_CLOCK_START", "2025-03-01T12:00:00Z")
	c, err := serviceClock()
	if c != nil || err != nil {
		t.Fatalf("serviceClock() = %v, %v; want nil, nil (the wall clock)", c, err)
	}
}
