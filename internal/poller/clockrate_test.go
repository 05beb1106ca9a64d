package poller

import (
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
)

func TestClockRate(t *testing.T) {
	tests := []struct {
		name string
		clk  clock.Clock
		want float64
	}{
		{"wall clock", clock.Real{}, 5},
		{"ten times faster", clock.NewScaled(time.Unix(0, 0), 10), 0.5},
		{"slower than the wall", clock.NewScaled(time.Unix(0, 0), 0.5), 10},
	}
	for _, tt := range tests {
		if got := clockRate(5, tt.clk); got != tt.want {
			t.Errorf("%s: clockRate(5) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
