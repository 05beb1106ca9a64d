package service

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
)

// TestOwnershipViewStandby: a replica whose generation gives it nothing
// after it owned a source reports source_owned 0, the new generation, and
// a poll check that cannot go stale. (The lost source's lag and backlogs
// are cleared when its poller stops: see own, and the e2e replica tests.)
func TestOwnershipViewStandby(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := &Service{cfg: config.Defaults(), metrics: telemetry.New(reg, telemetry.WithSources("default")), health: telemetry.NewHealth(clock.Real{})}
	s.health.Require(telemetry.CheckPoll, pollMaxAge(s.cfg))
	v := ownershipView{s: s, ids: []string{"default"}}

	v.Assigned(3, "m-1", []string{"default"})
	if got := testutil.ToFloat64(s.metrics.SourceOwned.WithLabelValues("default")); got != 1 {
		t.Fatalf("source_owned while owning = %v, want 1", got)
	}

	v.Assigned(4, "m-1", nil)
	for name, got := range map[string]float64{
		"source_owned":         testutil.ToFloat64(s.metrics.SourceOwned.WithLabelValues("default")),
		"group_generation - 4": testutil.ToFloat64(s.metrics.GroupGeneration) - 4,
	} {
		if got != 0 {
			t.Errorf("standby's %s = %v, want 0", name, got)
		}
	}
	if r := s.health.Report(); !r.Ready {
		t.Errorf("a standby is not ready: %+v", r)
	}
}
