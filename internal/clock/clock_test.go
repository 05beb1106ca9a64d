package clock

import (
	"testing"
	"time"
)

func TestScaledAdvancesFaster(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewScaled(start, 3600) // one real millisecond is 3.6 simulated seconds
	before := time.Now()
	<-c.After(time.Hour) // about one real second
	realElapsed := time.Since(before)
	if realElapsed < 900*time.Millisecond {
		t.Fatalf("After(1h) at speed 3600 returned after %v of real time, want about 1s", realElapsed)
	}
	if got := c.Now().Sub(start); got < time.Hour {
		t.Fatalf("simulated elapsed %v, want at least 1h", got)
	}
}

func TestScaledZeroSpeedIsRealTime(t *testing.T) {
	c := NewScaled(time.Unix(0, 0), 0)
	if c.Speed() != 1 {
		t.Fatalf("speed %v, want 1", c.Speed())
	}
}

func TestRealIsWallClock(t *testing.T) {
	var c Clock = Real{}
	if d := time.Since(c.Now()); d < 0 || d > time.Second {
		t.Fatalf("Real.Now is %v away from time.Now", d)
	}
}
