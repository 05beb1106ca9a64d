package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// producer is the configuration of jelou-producer in one test and the
// processes started with it, one per life (restart).
type producer struct {
	t      *testing.T
	dir    string
	sim    *sim
	broker *broker
	env    map[string]string
	lives  []*proc
}

// newProducer configures jelou-producer against s and b. The defaults poll
// a day of history in 1 h windows, then the live edge every simulated
// minute, with a settle period above the simulator's longest attend delay
// (1 h) so that every late row is in reach; extra overrides them.
func newProducer(t *testing.T, dir string, s *sim, b *broker, extra map[string]string) *producer {
	env := map[string]string{
		"JELOU_BASE_URL":         s.url,
		"JELOU_CLIENT_ID":        simClientID,
		"JELOU_CLIENT_SECRET":    simClientSecret,
		"JELOU_RATE_LIMIT":       "50",
		"JELOU_RATE_BURST":       "5",
		"JELOU_TIMEOUT":          "10s",
		"POLL_START_AT":          clockStart.Add(-24 * time.Hour).Format(time.RFC3339),
		"POLL_WINDOW":            "1h",
		"POLL_INTERVAL":          "1m",
		"POLL_LAG":               "30s",
		"POLL_SETTLE":            "75m",
		"POLL_CONCURRENCY":       "4",
		"KAFKA_BROKERS":          strings.Join(b.addrs, ","),
		"KAFKA_TOPIC":            topicName(t, "events"),
		"KAFKA_TOPIC_CREATE":     "true",
		"KAFKA_TOPIC_PARTITIONS": "3",
		"CHECKPOINT_PATH":        filepath.Join(dir, "checkpoint", "jelou.checkpoint"),
		"CHECKPOINT_TOPIC":       topicName(t, "checkpoints"),
		"GROUP_ID":               topicName(t, "group"),
		"CHECKPOINT_INTERVAL":    "1s",
		"HTTP_ADDR":              freeAddr(t),
		"LOG_FORMAT":             "json",
		"LOG_LEVEL":              "debug",
		"SHUTDOWN_TIMEOUT":       "10s",
	}
	for k, v := range extra {
		env[k] = v
	}
	return &producer{t: t, dir: dir, sim: s, broker: b, env: env}
}

func (p *producer) topic() string { return p.env["KAFKA_TOPIC"] }

// start starts a new life of the producer: `jelou-producer run` on the
// simulator's clock, logging to producer-<n>.log.
func (p *producer) start() *proc {
	p.t.Helper()
	env := append(p.sim.clockEnv(), "TZ=UTC")
	for k, v := range p.env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	name := fmt.Sprintf("producer-%d", len(p.lives)+1)
	pr, _ := startProc(p.t, p.dir, name, bins.producer, []string{"run"}, env, "")
	p.lives = append(p.lives, pr)
	if len(p.lives) == 1 {
		p.t.Cleanup(func() {
			if p.t.Failed() {
				last := p.lives[len(p.lives)-1]
				p.t.Logf("%s (%d lives) log tail:\n%s", last.name, len(p.lives), tail(last.log, 10))
			}
		})
	}
	return pr
}

// logLine is one JSON log line of the producer.
type logLine struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	Lane  string    `json:"lane"`
	// Source is the last "source" attribute: a checkpoint id on poller
	// lines that add one; Generation is the group's, on ownership lines.
	Source     string `json:"source"`
	Generation int64  `json:"generation"`
	raw        string
}

// logs returns the JSON lines of a life's log (other lines are skipped).
func logs(pr *proc) []logLine {
	b, _ := os.ReadFile(pr.log)
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			l.raw = sc.Text()
			out = append(out, l)
		}
	}
	return out
}

// windowsDone counts the windows of a lane (live, settle, revisit, history) a life
// completed so far.
func windowsDone(pr *proc, lane string) int {
	n := 0
	for _, l := range logs(pr) {
		if l.Msg == "window done" && l.Lane == lane {
			n++
		}
	}
	return n
}

// waitLive waits until the life caught up (its history lane read every
// gap: the "caught up" log line) and then completed n live windows.
func (p *producer) waitLive(pr *proc, n int, limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for liveAfterCatchUp(pr) < n {
		if !pr.running() {
			p.t.Fatalf("%s exited (code %d) before reaching the live edge:\n%s", pr.name, pr.exitCode(), tail(pr.log, 20))
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not reach the live edge within %s:\n%s", pr.name, limit, tail(pr.log, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveAfterCatchUp counts the live windows a life completed after it
// logged "caught up".
func liveAfterCatchUp(pr *proc) int {
	n, caught := 0, false
	for _, l := range logs(pr) {
		switch {
		case l.Msg == "caught up":
			caught = true
		case caught && l.Msg == "window done" && l.Lane == "live":
			n++
		}
	}
	return n
}

// readyz returns the status code and body of /readyz (0 when the server
// does not answer).
func (p *producer) readyz() (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.env["HTTP_ADDR"] + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// source is the checkpoint key of the producer's source.
func (p *producer) source() string {
	return checkpoint.SourceID(p.env["JELOU_BASE_URL"], p.env["JELOU_CLIENT_ID"])
}

// checkpoint loads the producer's last saved checkpoint from its backend
// (nil when none was saved yet).
func (p *producer) checkpoint() *checkpoint.Checkpoint {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st checkpoint.Store
	var err error
	if p.env["CHECKPOINT_BACKEND"] == "kafka" {
		st, err = checkpoint.NewKafka(ctx, checkpoint.KafkaConfig{Brokers: p.broker.addrs, Topic: p.env["CHECKPOINT_TOPIC"]})
	} else {
		st, err = checkpoint.NewFile(p.env["CHECKPOINT_PATH"], checkpoint.ReadOnly()) // the producer may be running: no lock
	}
	if err != nil {
		p.t.Fatalf("open checkpoint: %v", err)
	}
	defer st.Close()
	cp, err := st.Load(ctx, p.source())
	if errors.Is(err, checkpoint.ErrNotFound) {
		return nil
	}
	if err != nil {
		p.t.Fatalf("load checkpoint: %v", err)
	}
	return cp
}

// ackedIn returns the pairs of ps that the checkpoint's dedupe snapshot
// holds as acknowledged: after a restart from it, the producer must not
// publish them again.
func ackedIn(t *testing.T, cp *checkpoint.Checkpoint, ps []pair) pairSet {
	t.Helper()
	out := make(pairSet)
	if cp == nil || len(cp.Dedupe) == 0 {
		return out
	}
	ix, err := dedupe.ReadSnapshot(bytes.NewReader(cp.Dedupe))
	if err != nil {
		t.Fatalf("checkpoint dedupe snapshot: %v", err)
	}
	for _, p := range ps {
		res := ix.Observe(p.id, jelou.State(p.state), startOf(p.id))
		if res.Emit {
			ix.Release(p.id, jelou.State(p.state)) // undo: this was a query
			continue
		}
		out.add(p)
	}
	return out
}

// checkSecret fails the test when the client secret, or the Basic
// credentials built from it, appear in any log of the producer.
func (p *producer) checkSecret() {
	p.t.Helper()
	forms := []string{
		simClientSecret,
		base64.StdEncoding.EncodeToString([]byte(simClientID + ":" + simClientSecret)),
	}
	for _, pr := range p.lives {
		b, _ := os.ReadFile(pr.log)
		for _, f := range forms {
			if bytes.Contains(b, []byte(f)) {
				p.t.Errorf("%s: the log contains the client secret (form %q…)", pr.log, f[:6])
			}
		}
	}
}
