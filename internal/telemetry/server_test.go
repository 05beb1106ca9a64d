package telemetry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// startServer starts a Server on a free port and shuts it down at cleanup.
func startServer(t *testing.T, g prometheus.Gatherer, h *Health) *Server {
	t.Helper()
	s := NewServer("127.0.0.1:0", g, h, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServerEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Revisits.Add(3)
	h := NewHealth(nil)
	h.Require("kafka", 0)
	s := startServer(t, reg, h)
	base := "http://" + s.Addr()

	tests := []struct {
		path     string
		wantCode int
		wantBody string // substring
	}{
		{"/metrics", http.StatusOK, "jelou_producer_revisits_total 3"},
		{"/healthz", http.StatusOK, "ok"},
		{"/readyz", http.StatusServiceUnavailable, `"ready": false`},
		{"/nope", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, base+tt.path)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	resp, err := http.Post(base+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", resp.StatusCode)
	}
}

func TestServerStartErrors(t *testing.T) {
	s := startServer(t, prometheus.NewRegistry(), NewHealth(nil))
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	busy := NewServer(s.Addr(), prometheus.NewRegistry(), NewHealth(nil), nil)
	if err := busy.Start(); err == nil || !strings.Contains(err.Error(), "listen on "+s.Addr()) {
		t.Errorf("Start on a busy port = %v", err)
	}
	if err := NewServer(":0", nil, NewHealth(nil), nil).Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start = %v", err)
	}
}

// blockingGatherer holds /metrics until released, to keep a request in flight.
type blockingGatherer struct {
	entered chan struct{}
	release chan struct{}
}

func (g *blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	close(g.entered)
	<-g.release
	return nil, nil
}

// inFlight starts a scrape that blocks in the gatherer and returns its
// result channel once the request is inside the handler.
func inFlight(t *testing.T, s *Server, g *blockingGatherer) <-chan error {
	t.Helper()
	result := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		result <- err
	}()
	<-g.entered
	return result
}

func TestShutdownDrainsInFlight(t *testing.T) {
	g := &blockingGatherer{entered: make(chan struct{}), release: make(chan struct{})}
	s := startServer(t, g, NewHealth(nil))
	result := inFlight(t, s, g)

	shutdown := make(chan error, 1)
	go func() { shutdown <- s.Shutdown(context.Background()) }()
	// Shutdown closes the listener first: once dialling fails, it is draining.
	for {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			break
		}
		conn.Close()
		runtime.Gosched()
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case err := <-result:
		t.Fatalf("request ended with %v before release", err)
	default:
	}
	close(g.release)
	if err := <-result; err != nil {
		t.Errorf("in-flight request: %v", err)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Error("server still answers after Shutdown")
	}
}

func TestShutdownDeadline(t *testing.T) {
	g := &blockingGatherer{entered: make(chan struct{}), release: make(chan struct{})}
	s := startServer(t, g, NewHealth(nil))
	result := inFlight(t, s, g)
	defer close(g.release)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with an expired context = %v, want context.Canceled", err)
	}
	if err := <-result; err == nil {
		t.Error("the cut-off request succeeded")
	}
}
