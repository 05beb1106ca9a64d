package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server timeouts. A scrape is small, so the limits are tight enough that a
// stuck client cannot hold a connection for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Server serves /metrics, /healthz and /readyz. Start and Shutdown may be
// called from different goroutines, each at most once.
type Server struct {
	srv *http.Server

	mu   sync.Mutex
	ln   net.Listener
	done chan error // receives Serve's result, then is closed
}

// NewServer returns a server for addr (host:port, ":0" for any free port)
// exposing g on /metrics and h on /healthz and /readyz. log receives
// HTTP-level errors; nil means slog.Default().
func NewServer(addr string, g prometheus.Gatherer, h *Health, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{srv: &http.Server{
		Addr:              addr,
		Handler:           Handler(g, h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
}

// Handler returns the mux the server uses: GET /metrics, /healthz, /readyz.
func Handler(g prometheus.Gatherer, h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.Handle("GET /healthz", h.LiveHandler())
	mux.Handle("GET /readyz", h.ReadyHandler())
	return mux
}

// Start binds the address and serves in the background. A bind error (port
// in use, bad address) is returned here; a later serve error is returned by
// Shutdown.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("telemetry: server already started")
	}
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("telemetry: listen on %s: %w", s.srv.Addr, err)
	}
	s.ln, s.done = ln, make(chan error, 1)
	go func() {
		s.done <- s.srv.Serve(ln)
		close(s.done)
	}()
	return nil
}

// Addr returns the bound address (useful with ":0"), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish or ctx to end, whichever comes first. It returns ctx's error if
// requests were cut off, and any error the server hit while serving.
// Shutdown before Start does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = fmt.Errorf("telemetry: shutdown: %w", err)
		_ = s.srv.Close() // cut what did not drain
	}
	if serveErr := <-done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("telemetry: serve: %w", serveErr))
	}
	return err
}
