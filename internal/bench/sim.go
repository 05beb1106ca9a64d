package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
)

// Sim credentials, accepted by every simulator the harness starts.
const (
	SimClientID     = "bench-client"
	SimClientSecret = "bench-secret"
)

// Span is one API request as the simulator saw it.
type Span struct {
	Start, End time.Time
}

// Sim is a simulated Jelou API served over HTTP from the harness process,
// recording when each API request arrived and was answered.
type Sim struct {
	*jelousim.Server
	// URL is the base URL to give the producer (JELOU_BASE_URL).
	URL string
	srv *http.Server

	mu    sync.Mutex
	spans []Span
}

// StartSim generates the data set of cfg and serves it on a free port of
// 127.0.0.1.
func StartSim(cfg jelousim.Config) (*Sim, error) {
	cfg.ClientID, cfg.ClientSecret = SimClientID, SimClientSecret
	s, err := jelousim.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	sim := &Sim{Server: s, URL: "http://" + ln.Addr().String()}
	sim.srv = &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = sim.srv.Serve(ln) }()
	return sim, nil
}

// ServeHTTP serves the simulator, recording API requests.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != jelousim.APIPath {
		s.Server.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	s.Server.ServeHTTP(w, r)
	end := time.Now()
	s.mu.Lock()
	s.spans = append(s.spans, Span{Start: start, End: end})
	s.mu.Unlock()
}

// Spans returns the API requests received so far.
func (s *Sim) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Span(nil), s.spans...)
}

// WaitFirstRequest returns the arrival time of the first API request
// recorded, waiting for one until ctx ends.
func (s *Sim) WaitFirstRequest(ctx context.Context) (time.Time, error) {
	for {
		s.mu.Lock()
		if len(s.spans) > 0 {
			t := s.spans[0].Start
			s.mu.Unlock()
			return t, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return time.Time{}, errors.New("no API request reached the simulator")
		case <-time.After(time.Millisecond):
		}
	}
}

// Close stops serving.
func (s *Sim) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
