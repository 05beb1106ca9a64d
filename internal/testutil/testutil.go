// Package testutil provides small helpers shared by the tests of several
// packages. Nothing outside tests imports it.
package testutil

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers, such as a log
// handler written by a server goroutine and read by the test. The zero
// value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Gauge returns the value of the first gauge series of name gathered from
// g that carries the given labels (name, value pairs), failing the test
// when g has no such series.
func Gauge(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	want := make(map[string]string, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	ms := series(t, g, name, want)
	if len(ms) == 0 {
		t.Fatalf("%s%q not gathered", name, labels)
	}
	return ms[0].GetGauge().GetValue()
}

// Sum returns the sum of the counter and gauge series of name gathered
// from g whose labels include want; 0 when there is no such series.
func Sum(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	total := 0.0
	for _, m := range series(t, g, name, want) {
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return total
}

// series gathers g and returns the series of name whose labels include want.
func series(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) []*dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, want) {
				out = append(out, m)
			}
		}
	}
	return out
}

// hasLabels reports whether m carries every label of want with its value.
func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// RealServer returns the address a test of a real server reads from the
// environment variable env (set by the script start names). Without it the
// test skips, or fails when CI=true: CI starts every such server, and a
// step that silently skips is a defect.
func RealServer(t testing.TB, env, start string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true: .ci/run must start the server (%s)", env, start)
		}
		t.Skipf("%s is not set: no real server (start one: %s)", env, start)
	}
	return v
}
