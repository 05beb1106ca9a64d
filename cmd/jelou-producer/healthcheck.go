package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// cmdHealthcheck probes the running service's own HTTP server, for the
// image's HEALTHCHECK and compose's healthcheck: distroless has no curl. It
// GETs /healthz (or /readyz with --ready) on the port of HTTP_ADDR and exits
// 0 on a 200, 1 otherwise.
func cmdHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ready := fs.Bool("ready", false, "probe /readyz (broker reachable, recent poll) instead of /healthz (process alive)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jelou-producer: healthcheck takes no arguments, got %q\n", fs.Args())
		return exitUsage
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "jelou-producer: healthcheck: %v\n", err)
		return exitFailed
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	url, err := probeURL(cfg.HTTP.Addr, path)
	if err != nil {
		fmt.Fprintf(stderr, "jelou-producer: healthcheck: %v\n", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	status, err := probe(ctx, url)
	if err != nil {
		fmt.Fprintf(stderr, "jelou-producer: healthcheck: %v\n", err)
		return exitFailed
	}
	if status != http.StatusOK {
		fmt.Fprintf(stderr, "jelou-producer: healthcheck: GET %s: %d %s\n", url, status, http.StatusText(status))
		return exitFailed
	}
	fmt.Fprintf(stdout, "GET %s: 200 OK\n", url)
	return exitOK
}

// probeURL turns the listen address addr into the URL of path on this
// host: a wildcard or empty host becomes the loopback address.
func probeURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("HTTP_ADDR %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// probe GETs url once, without following redirects, and returns the status.
func probe(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}
