package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
)

// Credentials every test uses. The secret is distinctive so that a test can
// prove it never reaches a log.
const (
	simClientID     = "e2e-client"
	simClientSecret = "e2e-SECRET-7f3a9c1d"
)

// simOptions configure one jelou-sim process.
type simOptions struct {
	Count   int           // conversations, over the 48 h around ClockStart
	Speed   float64       // clock speed
	Faults  string        // -faults rates, e.g. "500=0.02"
	Latency time.Duration // -latency
	Seed    int
	Args    []string // further flags, e.g. -pad-row
}

// clockStart is the simulated time at which every simulator starts.
var clockStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sim is a running jelou-sim and the mapping of its clock to wall time.
type sim struct {
	t     *testing.T
	proc  *proc
	url   string  // http://host:port
	speed float64 // clock speed
	at    time.Time
	now   time.Time // the simulated time at wall time at
	http  *http.Client
}

// startSim starts the jelou-sim of a test, logging to dir/jelou-sim.log,
// accepting the test client and starting its clock at clockStart.
func startSim(t *testing.T, dir string, o simOptions) *sim {
	t.Helper()
	return startSimAs(t, dir, "jelou-sim", simClientID, o, clockStart)
}

// startSimAs starts a jelou-sim logging to dir/name.log that accepts
// clientID and whose clock starts at clockAt.
func startSimAs(t *testing.T, dir, name, clientID string, o simOptions, clockAt time.Time) *sim {
	t.Helper()
	args := []string{
		"-addr", "127.0.0.1:0",
		"-seed", strconv.Itoa(max(o.Seed, 1)),
		"-count", strconv.Itoa(o.Count),
		"-clock-start", clockAt.UTC().Format(time.RFC3339Nano),
		"-speed", strconv.FormatFloat(o.Speed, 'f', -1, 64),
		"-client-id", clientID,
		"-client-secret", simClientSecret,
		"-order", "shuffled",
	}
	if o.Faults != "" {
		args = append(args, "-faults", o.Faults)
	}
	if o.Latency > 0 {
		args = append(args, "-latency", o.Latency.String(), "-jitter", (o.Latency / 2).String())
	}
	args = append(args, o.Args...)
	p, addr := startProc(t, dir, name, bins.sim, args, nil, "jelou-sim listening on ")
	s := &sim{t: t, proc: p, url: addr, speed: o.Speed, http: &http.Client{Timeout: 30 * time.Second}}
	// Anchor the clock: the simulated now at the middle of a round trip.
	before := time.Now()
	st := s.stats()
	after := time.Now()
	s.at = before.Add(after.Sub(before) / 2)
	s.now = st.Now
	return s
}

// Now is the simulator's clock as the test computes it from the anchor.
func (s *sim) Now() time.Time {
	return s.now.Add(time.Duration(float64(time.Since(s.at)) * s.speed))
}

// wallOf is the wall time at which the simulator's clock read t.
func (s *sim) wallOf(t time.Time) time.Time {
	return s.at.Add(time.Duration(float64(t.Sub(s.now)) / s.speed))
}

// Real is the wall time that d of simulated time takes.
func (s *sim) Real(d time.Duration) time.Duration { return time.Duration(float64(d) / s.speed) }

// grace is how long, in simulated time, a pair servable at some moment may
// take to be published: a terminal state of a tracked conversation is
// found by the next revisit of its bucket, at most an hour apart, plus
// ticks and a few real seconds of retry backoff (which runs on wall time).
func (s *sim) grace() time.Duration {
	return 70*time.Minute + time.Duration(4*s.speed)*time.Second
}

// clockEnv is the producer's test clock on the simulator's timeline.
func (s *sim) clockEnv() []string {
	return []string{
		"JELOU_PRODUCER_CLOCK_SPEED=" + strconv.FormatFloat(s.speed, 'f', -1, 64),
		"JELOU_PRODUCER_CLOCK_START=" + s.now.Format(time.RFC3339Nano),
		"JELOU_PRODUCER_CLOCK_AT=" + s.at.Format(time.RFC3339Nano),
	}
}

func (s *sim) get(path string, out any) {
	s.t.Helper()
	resp, err := s.http.Get(s.url + path)
	if err != nil {
		s.t.Fatalf("sim %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("sim %s: %d %v %s", path, resp.StatusCode, err, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		s.t.Fatalf("sim %s: %v", path, err)
	}
}

func (s *sim) post(path string, in any) {
	s.t.Helper()
	b, _ := json.Marshal(in)
	resp, err := s.http.Post(s.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatalf("sim %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("sim %s: %d %s", path, resp.StatusCode, body)
	}
}

func (s *sim) stats() jelousim.Stats {
	var st jelousim.Stats
	s.get("/_sim/stats", &st)
	return st
}

// served is every pair the simulator delivered in a complete 200.
func (s *sim) served() pairSet {
	var r struct {
		Pairs []jelousim.Pair `json:"pairs"`
	}
	s.get("/_sim/served", &r)
	out := make(pairSet, len(r.Pairs))
	for _, p := range r.Pairs {
		out.add(pair{p.ID, string(p.State)})
	}
	return out
}

// servable is every pair a perfect poller could have seen by asOf.
func (s *sim) servable(asOf time.Time) []jelousim.ServablePair {
	var r struct {
		Pairs []jelousim.ServablePair `json:"pairs"`
	}
	s.get("/_sim/servable?asOf="+url.QueryEscape(asOf.Format(time.RFC3339)), &r)
	return r.Pairs
}

func (s *sim) revoke() { s.post("/_sim/credentials", jelousim.CredentialsRequest{Revoke: true}) }

// waitUntil waits until the simulator's clock passes t.
func (s *sim) waitUntil(t time.Time) {
	if d := t.Sub(s.Now()); d > 0 {
		time.Sleep(s.Real(d))
	}
}
