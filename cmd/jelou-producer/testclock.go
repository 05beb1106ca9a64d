//go:build testclock

package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
)

// Test clock, compiled only with `-tags testclock` (the end-to-end suite
// builds the producer so; release builds use testclock_release.go and carry
// none of this): variables, deliberately left out of `jelou-producer
// config`, that run the service on an accelerated clock so that an
// end-to-end test can drive the built binary against a simulated API
// (cmd/jelou-sim -speed) and pass hours of simulated time in seconds.
//
//	JELOU_PRODUCER_CLOCK_SPEED  simulated seconds per real second (> 0)
//	JELOU_PRODUCER_CLOCK_START  RFC 3339 time the clock reads at CLOCK_AT
//	JELOU_PRODUCER_CLOCK_AT     RFC 3339 wall time at which it reads CLOCK_START
//	                            (default: when the process starts)
//
// CLOCK_AT lets a restarted process continue the same timeline as the
// simulator: the clock reads START + (wall now − AT) × SPEED.
const (
	envClockSpeed = "JELOU_PRODUCER_CLOCK_SPEED"
	envClockStart = "JELOU_PRODUCER_CLOCK_START"
	envClockAt    = "JELOU_PRODUCER_CLOCK_AT"
)

// testClock returns the scaled clock the test variables ask for, or nil
// (the wall clock) when JELOU_PRODUCER_CLOCK_SPEED is unset.
func testClock(getenv func(string) string, wallNow time.Time) (*clock.Scaled, error) {
	speedS := getenv(envClockSpeed)
	if speedS == "" {
		return nil, nil
	}
	speed, err := strconv.ParseFloat(speedS, 64)
	if err != nil || !(speed > 0) || speed > 1e6 {
		return nil, fmt.Errorf("%s must be a number above 0, got %q", envClockSpeed, speedS)
	}
	start, err := time.Parse(time.RFC3339Nano, getenv(envClockStart))
	if err != nil {
		return nil, fmt.Errorf("%s must be an RFC 3339 time when %s is set, got %q", envClockStart, envClockSpeed, getenv(envClockStart))
	}
	at := wallNow
	if s := getenv(envClockAt); s != "" {
		if at, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, fmt.Errorf("%s must be an RFC 3339 time, got %q", envClockAt, s)
		}
	}
	now := start.Add(time.Duration(float64(wallNow.Sub(at)) * speed))
	return clock.NewScaled(now, speed), nil
}

// serviceClock is testClock on the process environment, as the
// service.Options field: nil means the wall clock.
func serviceClock() (clock.Clock, error) {
	c, err := testClock(os.Getenv, time.Now())
	if c == nil || err != nil {
		return nil, err
	}
	return c, nil
}
