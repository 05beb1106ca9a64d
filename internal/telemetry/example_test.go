package telemetry_test

import (
	"github.com/jelou-producer/jelou-producer/internal/poller"

	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func ExampleNew() {
	reg := prometheus.NewRegistry()
	m := telemetry.New(reg, telemetry.WithSources("acme"))
	obs := telemetry.NewPipeline(m, nil, nil).ForSource("acme") // the acme client's Observer
	obs.Request(jelou.RequestInfo{StatusCode: 200, Status: "200", Duration: 150 * time.Millisecond})
	m.WindowsCompleted.WithLabelValues(poller.LaneHistory.String()).Inc()
	fmt.Println(testutil.ToFloat64(m.APIRequests.WithLabelValues("acme", "200")))
	fmt.Println(testutil.ToFloat64(m.WindowsCompleted.WithLabelValues(poller.LaneHistory.String())))
	// Output:
	// 1
	// 1
}

func ExampleHealth() {
	h := telemetry.NewHealth(nil)
	h.Require("poll", 5*time.Minute) // the poller must succeed at least every 5 minutes
	h.Set("jelou_auth", errors.New("jelou: 401 unauthorized"))
	h.Set("poll", nil)

	rec := httptest.NewRecorder()
	h.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Println(rec.Code)
	for _, c := range h.Report().Checks {
		fmt.Printf("%s ok=%v %s\n", c.Name, c.OK, c.Error)
	}
	// Output:
	// 503
	// jelou_auth ok=false jelou: 401 unauthorized
	// poll ok=true
}
