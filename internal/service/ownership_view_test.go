package service

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	tu "github.com/jelou-producer/jelou-producer/internal/testutil"
)

// TestOwnershipViewStandby: a replica whose generation gives it nothing
// after it owned a source reports source_owned 0, the new generation, and
// no checkpoint lag or live backlog left over from the source it lost.
func TestOwnershipViewStandby(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := &Service{cfg: config.Defaults(), metrics: telemetry.New(reg, telemetry.WithSources("default")), health: telemetry.NewHealth(clock.Real{})}
	v := ownershipView{s: s, ids: []string{"default"}}

	v.Assigned(3, "m-1", []string{"default"})
	s.metrics.SetCheckpointCursor(time.Now().Add(-time.Hour))
	s.metrics.LaneBacklog.WithLabelValues("live").Set(900)
	if got := testutil.ToFloat64(s.metrics.SourceOwned.WithLabelValues("default")); got != 1 {
		t.Fatalf("source_owned while owning = %v, want 1", got)
	}

	v.Assigned(4, "m-1", nil)
	for name, got := range map[string]float64{
		"source_owned":           testutil.ToFloat64(s.metrics.SourceOwned.WithLabelValues("default")),
		"lane_backlog live":      testutil.ToFloat64(s.metrics.LaneBacklog.WithLabelValues("live")),
		"group_generation - 4":   testutil.ToFloat64(s.metrics.GroupGeneration) - 4,
		"checkpoint_lag_seconds": tu.Gauge(t, reg, "jelou_producer_checkpoint_lag_seconds"),
	} {
		if got != 0 {
			t.Errorf("standby's %s = %v, want 0", name, got)
		}
	}
}
