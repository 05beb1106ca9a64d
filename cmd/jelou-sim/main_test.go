package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/testutil"
)

// start runs the command with args on a free port and returns its base URL
// and a function that stops it and returns its exit status.
func start(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &testutil.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("no listening line; exit %d, stderr:\n%s", <-done, stderr)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url, ok := strings.CutPrefix(lines.Text(), "jelou-sim listening on ")
	if !ok {
		t.Fatalf("unexpected first line %q", lines.Text())
	}
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			if strings.Contains(stderr.String(), "sim-secret") {
				t.Error("the secret was logged")
			}
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("run did not return after cancel")
			return -1
		}
	}
	return url, stop
}

func post(t *testing.T, url, auth, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/metrics/conversations/attended/external?limit=2", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestRunServesTheDocumentedAPI(t *testing.T) {
	t.Setenv("JELOU_SIM_CLIENT_SECRET", "from-env")
	url, stop := start(t, "-count", "500", "-seed", "3", "-clock-start", "2025-01-03T00:00:00Z",
		"-start", "2025-01-01T00:00:00Z", "-end", "2025-01-02T00:00:00Z", "-zone", "America/Guayaquil", "-client-id", "acme")
	window := `{"startAt":"2025-01-01T00:00:00-05:00","endAt":"2025-01-01T23:59:59-05:00","getJson":true}`

	code, body := post(t, url, "acme:from-env", window)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var page struct {
		Message    []string
		Status     string
		Results    []map[string]any
		Pagination map[string]int
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if page.Status != "success" || len(page.Results) != 2 || page.Pagination["limit"] != 2 || page.Pagination["total"] == 0 {
		t.Errorf("page %+v", page)
	}
	if s, _ := page.Results[0]["startAt"].(string); len(s) != len("2006-01-02 15:04:05") {
		t.Errorf("startAt %q", s)
	}

	code, body = post(t, url, "acme:sim-secret", window)
	if code != 401 || string(body) != `{"message":"Authentication failed"}` {
		t.Errorf("wrong secret: %d %s", code, body)
	}
	code, body = post(t, url, "acme:from-env", `{"startAt":"2025-01-01","getJson":true}`)
	if code != 422 || !strings.Contains(string(body), `"E0422"`) {
		t.Errorf("bad body: %d %s", code, body)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit status %d after cancel, want 0", code)
	}
}

func TestRunFaultFlags(t *testing.T) {
	url, stop := start(t, "-count", "100", "-faults", "500=1")
	defer stop()
	code, body := post(t, url, "sim-client:sim-secret", `{"startAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T01:00:00Z","getJson":true}`)
	if code != 500 || !strings.Contains(string(body), "We are having trouble") {
		t.Errorf("status %d %s, want the documented 500", code, body)
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "", "flag provided but not defined"},
		{"bad start", []string{"-start", "yesterday"}, "", "-start must be an RFC 3339 time or a duration"},
		{"bad zone", []string{"-zone", "Mars/Olympus"}, "", "-zone"},
		{"bad auth", []string{"-auth", "token"}, "", "auth forms must be basic, raw or both"},
		{"bad faults", []string{"-faults", "500"}, "", "not kind=probability"},
		{"unknown fault", []string{"-faults", "418=0.5"}, "", "unknown fault kind"},
		{"bad order", []string{"-order", "random"}, "", "order must be"},
		{"bad env", nil, "abc", "JELOU_SIM_COUNT"},
		{"end before start", []string{"-start", "+1h", "-end", "-1h"}, "", "must be after start"},
		{"extra argument", []string{"serve"}, "", "unexpected arguments"},
		{"bad pad-row", []string{"-pad-row", "abc:1k"}, "", "-pad-row must be [ID:]BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("JELOU_SIM_COUNT", tt.env)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "-page-cap") {
		t.Errorf("exit %d, usage %q", code, stderr.String())
	}
}
