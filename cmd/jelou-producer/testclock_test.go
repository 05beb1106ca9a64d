//go:build testclock

package main

import (
	"testing"
	"time"
)

func TestTestClock(t *testing.T) {
	wall := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	sim := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		env     map[string]string
		want    time.Time // zero: wall clock (nil)
		wantErr bool
	}{
		{name: "unset", env: nil},
		{name: "start now", env: map[string]string{envClockSpeed: "60", envClockStart: sim.Format(time.RFC3339)}, want: sim},
		{name: "anchored 10s ago at 60x", env: map[string]string{
			envClockSpeed: "60", envClockStart: sim.Format(time.RFC3339), envClockAt: wall.Add(-10 * time.Second).Format(time.RFC3339Nano),
		}, want: sim.Add(10 * time.Minute)},
		{name: "bad speed", env: map[string]string{envClockSpeed: "0", envClockStart: sim.Format(time.RFC3339)}, wantErr: true},
		{name: "NaN speed", env: map[string]string{envClockSpeed: "NaN", envClockStart: sim.Format(time.RFC3339)}, wantErr: true},
		{name: "missing start", env: map[string]string{envClockSpeed: "60"}, wantErr: true},
		{name: "bad at", env: map[string]string{envClockSpeed: "60", envClockStart: sim.Format(time.RFC3339), envClockAt: "yesterday"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := testClock(func(k string) string { return tt.env[k] }, wall)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if tt.want.IsZero() {
				if c != nil {
					t.Fatalf("clock = %v, want nil (wall clock)", c.Now())
				}
				return
			}
			// The clock started at test time, a moment ago; allow a minute
			// of simulated time (one real second at 60x) for that.
			if got := c.Now(); got.Before(tt.want) || got.After(tt.want.Add(time.Minute)) {
				t.Errorf("Now = %s, want %s", got, tt.want)
			}
		})
	}
}
