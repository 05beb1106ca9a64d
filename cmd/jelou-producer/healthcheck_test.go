package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	var mu sync.Mutex
	status := map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusServiceUnavailable}
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.URL.Path)
		code, ok := status[r.URL.Path]
		if !ok {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// A closed port: nothing listens there once the listener is closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	tests := []struct {
		name, addr string
		args       []string
		want       int
		path       string // the path the server must have been asked for
		stderr     string // a fragment of the one-line reason
	}{
		{"healthz 200", ":" + port, nil, exitOK, "/healthz", ""},
		{"wildcard host", "0.0.0.0:" + port, nil, exitOK, "/healthz", ""},
		{"readyz 503", "127.0.0.1:" + port, []string{"--ready"}, exitFailed, "/readyz", "503 Service Unavailable"},
		{"nothing listens", closed, nil, exitFailed, "", "connection refused"},
		{"bad flag", ":" + port, []string{"--nope"}, exitUsage, "", "flag provided but not defined"},
		{"extra argument", ":" + port, []string{"now"}, exitUsage, "", "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("HTTP_ADDR", tt.addr)
			mu.Lock()
			seen = nil
			mu.Unlock()
			code, _, stderr := runCmd(append([]string{"healthcheck"}, tt.args...)...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not say %q", stderr, tt.stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.path != "" && (len(seen) != 1 || seen[0] != tt.path) {
				t.Errorf("server saw %v, want one GET %s", seen, tt.path)
			}
		})
	}
}

func TestProbeURL(t *testing.T) {
	for addr, want := range map[string]string{
		":9464":          "http://127.0.0.1:9464/healthz",
		"0.0.0.0:9464":   "http://127.0.0.1:9464/healthz",
		"[::]:9464":      "http://[::1]:9464/healthz",
		"10.1.2.3:80":    "http://10.1.2.3:80/healthz",
		"localhost:9464": "http://localhost:9464/healthz",
	} {
		got, err := probeURL(addr, "/healthz")
		if err != nil || got != want {
			t.Errorf("probeURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := probeURL("9464", "/healthz"); err == nil {
		t.Error("probeURL accepted an address without a port")
	}
}
