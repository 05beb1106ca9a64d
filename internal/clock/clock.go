// Package clock provides the time source shared by the poller and the simulated
// Jelou API, so that tests and demos can run hours of simulated time in seconds.
//
// # Clocks
//
// [Real] is the wall clock. [Scaled] runs from a chosen start at a chosen speed
// (Speed 60 turns one real second into one simulated minute); its timers fire
// after the scaled real duration. Both are safe for concurrent use.
package clock

import (
	"time"
)

// Clock tells the time and waits. Implementations are safe for concurrent use.
type Clock interface {
	// Now returns the current time of this clock.
	Now() time.Time
	// After waits for d of this clock's time, then sends the time on the channel.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Scaled is a clock that starts at Start when created with [NewScaled] and
// advances Speed times faster than the wall clock.
type Scaled struct {
	start time.Time
	base  time.Time // wall time when the clock was created
	speed float64
}

// NewScaled returns a clock that reads start now and advances speed times
// faster than real time. A speed of zero or less means 1.
func NewScaled(start time.Time, speed float64) *Scaled {
	if speed <= 0 {
		speed = 1
	}
	return &Scaled{start: start, base: time.Now(), speed: speed}
}

// Now returns Start plus the real time elapsed since creation times Speed.
func (s *Scaled) Now() time.Time {
	elapsed := time.Since(s.base)
	return s.start.Add(time.Duration(float64(elapsed) * s.speed))
}

// Speed returns how many times faster than real time the clock runs.
func (s *Scaled) Speed() float64 { return s.speed }

// After waits d/Speed of real time, then sends this clock's time.
func (s *Scaled) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(s.Real(d), func() { ch <- s.Now() })
	return ch
}

// Real returns the real duration that d of this clock's time takes.
func (s *Scaled) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.speed)
}
