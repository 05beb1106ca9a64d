package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
)

// isoSpeed is the clock speed of the isolation scenarios: a failed
// source's first retry (30 simulated s) comes 0.1 s later, the longest
// (30 simulated min) 6 s later.
const isoSpeed = 300

// twoSources is an isolation scenario: one process polling two sources
// (SOURCES=good,<other>), each on a simulator and an output topic of its
// own; the other source reads its client secret from a file.
type twoSources struct {
	good, other *sim
	otherID     string
	secretFile  string // SOURCE_<OTHER>_CLIENT_SECRET_FILE
	b           *broker
	p           *producer
}

// startTwoSources starts the two simulators (the other one with
// otherArgs) and a broker, and configures the producer (not started) with
// extra.
func startTwoSources(t *testing.T, otherID string, otherArgs []string, extra map[string]string) *twoSources {
	t.Helper()
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	ts := &twoSources{otherID: otherID, secretFile: filepath.Join(dir, otherID+"-secret")}
	ts.good = startSimAs(t, dir, "jelou-sim-good", "e2e-client-good", simOptions{Count: 1500, Speed: isoSpeed, Seed: 41}, clockStart)
	ts.other = startSimAs(t, dir, "jelou-sim-"+otherID, "e2e-client-"+otherID,
		simOptions{Count: 1500, Speed: isoSpeed, Seed: 42, Args: otherArgs}, ts.good.Now())
	ts.b = startBroker(t, dir)
	ts.writeSecret(t, simClientSecret)
	up := strings.ToUpper(otherID)
	env := map[string]string{
		"SOURCES":                              "good," + otherID,
		"SOURCE_GOOD_BASE_URL":                 ts.good.url,
		"SOURCE_GOOD_CLIENT_ID":                "e2e-client-good",
		"SOURCE_GOOD_CLIENT_SECRET":            simClientSecret,
		"SOURCE_GOOD_TOPIC":                    topicName(t, "events-good"),
		"SOURCE_" + up + "_BASE_URL":           ts.other.url,
		"SOURCE_" + up + "_CLIENT_ID":          "e2e-client-" + otherID,
		"SOURCE_" + up + "_CLIENT_SECRET_FILE": ts.secretFile,
		"SOURCE_" + up + "_TOPIC":              topicName(t, "events-"+otherID),
	}
	for k, v := range extra {
		env[k] = v
	}
	ts.p = newProducer(t, dir, ts.good, ts.b, env)
	delete(ts.p.env, "JELOU_CLIENT_ID") // SOURCES is set: each source has its own
	delete(ts.p.env, "JELOU_CLIENT_SECRET")
	t.Cleanup(ts.p.checkSecret)
	return ts
}

// writeSecret replaces the other source's secret file the way a mounted
// secret is rotated: a new file renamed over the old one.
func (ts *twoSources) writeSecret(t *testing.T, secret string) {
	t.Helper()
	tmp := ts.secretFile + ".new"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, ts.secretFile); err != nil {
		t.Fatal(err)
	}
}

// topic is the output topic of source id.
func (ts *twoSources) topic(id string) string {
	return ts.p.env["SOURCE_"+strings.ToUpper(id)+"_TOPIC"]
}

// waitLive waits until the sources ids caught up and polled live.
func (ts *twoSources) waitLive(t *testing.T, ids ...string) {
	t.Helper()
	waitSourcesLive(t, []*replica{{producer: ts.p, name: "P", ended: map[*proc]time.Time{}}}, ids, 2*time.Minute)
}

// runOn lets the process run past the simulators' grace plus ten
// simulated minutes, checking that it never exits (and calling watch, when
// not nil, every 200 ms), and returns what each simulator had served at
// the start and the end of that period.
func (ts *twoSources) runOn(t *testing.T, pr *proc, watch func()) (marks map[*sim]pairSet, ends map[*sim]time.Time) {
	t.Helper()
	marks = map[*sim]pairSet{ts.good: ts.good.served(), ts.other: ts.other.served()}
	end := ts.good.Now().Add(ts.good.grace() + 10*time.Minute)
	for ts.good.Now().Before(end) {
		if !pr.running() {
			t.Fatalf("the process exited (code %d):\n%s", pr.exitCode(), tail(pr.log, 20))
		}
		if watch != nil {
			watch()
		}
		time.Sleep(200 * time.Millisecond)
	}
	ends = map[*sim]time.Time{ts.good: ts.good.Now(), ts.other: ts.other.Now()}
	return marks, ends
}

// stop sends SIGTERM: the process, which never exited, must exit 0.
func (ts *twoSources) stop(t *testing.T, pr *proc) {
	t.Helper()
	if !pr.running() {
		t.Fatalf("the process exited by itself (code %d):\n%s", pr.exitCode(), tail(pr.log, 20))
	}
	if code, _, err := pr.signal(syscall.SIGTERM, 30*time.Second); err != nil || code != 0 {
		t.Errorf("on SIGTERM: exit %d, %v", code, err)
	}
}

// judgeSource judges source id's topic against its simulator (leaving
// conversation skip out when not empty); in these scenarios no source may
// repeat a record.
func (ts *twoSources) judgeSource(t *testing.T, id string, marks map[*sim]pairSet, ends map[*sim]time.Time, skip string) verdict {
	t.Helper()
	s := ts.good
	if id != "good" {
		s = ts.other
	}
	v := judgeWithout(t, s, ts.b, ts.topic(id), marks[s], ends[s].Add(-s.grace()), ends[s], skip)
	if v.rep.repeats != 0 {
		t.Errorf("%s: %d records repeated", id, v.rep.repeats)
	}
	return v
}

// sources returns /readyz's state of every source polled, by id.
func (p *producer) sources() map[string]telemetry.SourceStatus {
	_, body := p.readyz()
	var r telemetry.Report
	out := map[string]telemetry.SourceStatus{}
	if json.Unmarshal([]byte(body), &r) != nil {
		return out
	}
	for _, s := range r.Sources {
		out[s.Source] = s
	}
	return out
}

// metric returns the sum of the samples of name on /metrics whose labels
// include every pair of labels ("k", "v", …).
func (p *producer) metric(name string, labels ...string) float64 {
	p.t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.env["HTTP_ADDR"] + "/metrics")
	if err != nil {
		p.t.Fatalf("/metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		match := true
		for j := 0; j+1 < len(labels); j += 2 {
			if !strings.Contains(line[:i], labels[j]+`="`+labels[j+1]+`"`) {
				match = false
			}
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && match {
			sum += v
		}
	}
	return sum
}

// waitFor polls cond until it holds or limit passes (the test fails,
// naming what), failing at once if pr exits.
func waitFor(t *testing.T, pr *proc, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if !pr.running() {
			t.Fatalf("the process exited (code %d) while waiting for %s:\n%s", pr.exitCode(), what, tail(pr.log, 20))
		}
		if time.Since(start) > limit {
			t.Fatalf("no %s within %s:\n%s", what, limit, tail(pr.log, 10))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestSourceRevokedHeals: of two sources, one has its credentials revoked
// in the live phase (the simulator accepts a new secret, the process holds
// the old one). That source alone stops, reported failed with reason auth
// on /readyz and /metrics, and is retried; the other goes on. Its secret
// file is then rotated: it heals without a restart. Nothing is lost or
// repeated on either source, and the process never exits.
func TestSourceRevokedHeals(t *testing.T) {
	ts := startTwoSources(t, "bad", nil, nil)
	p := ts.p
	pr := p.start()
	ts.waitLive(t, "good", "bad")

	const rotated = "e2e-ROTATED-4b8e2f60"
	before := ts.other.stats().ByStatus[401]
	goodBefore := ts.good.stats().Requests
	ts.other.post("/_sim/credentials", jelousim.CredentialsRequest{ClientID: "e2e-client-bad", ClientSecret: rotated})
	var failed telemetry.SourceStatus
	toFail := waitFor(t, pr, 30*time.Second, "bad source failed with reason auth on /readyz", func() bool {
		failed = p.sources()["bad"]
		return failed.State == telemetry.SourceFailed && failed.Reason == telemetry.FailureAuth
	})
	// Let it fail its retries a few times (each reads the old secret again).
	waitFor(t, pr, 30*time.Second, "three failures in a row", func() bool {
		failed = p.sources()["bad"]
		return failed.Failures >= 3
	})
	up := p.metric("jelou_producer_source_up", "source", "bad")
	authFailures := p.metric("jelou_producer_source_failures_total", "source", "bad", "reason", "auth")
	goodState := p.sources()["good"].State
	if up != 0 || authFailures < 1 || goodState != telemetry.SourceOK {
		t.Errorf("while failed: source_up{bad} %v, source_failures_total{bad,auth} %v, good %q; want 0, ≥ 1, ok", up, authFailures, goodState)
	}
	if code, _ := p.readyz(); code != http.StatusOK {
		t.Errorf("/readyz %d while one of two sources failed, want 200", code)
	}
	goodDuring := ts.good.stats().Requests - goodBefore
	if goodDuring == 0 {
		t.Errorf("the good source sent no request while bad was failed")
	}

	ts.writeSecret(t, rotated)
	toHeal := waitFor(t, pr, time.Minute, "bad source ok again after the secret file was rotated", func() bool {
		return p.sources()["bad"].State == telemetry.SourceOK && p.metric("jelou_producer_source_up", "source", "bad") == 1
	})
	unauthorized := ts.other.stats().ByStatus[401] - before

	marks, ends := ts.runOn(t, pr, nil)
	ts.stop(t, pr)
	for _, l := range p.lives {
		if b, _ := os.ReadFile(l.log); bytes.Contains(b, []byte(rotated)) {
			t.Errorf("%s: the log contains the rotated secret", l.log)
		}
	}
	good := ts.judgeSource(t, "good", marks, ends, "")
	bad := ts.judgeSource(t, "bad", marks, ends, "")
	result(t, "two sources: one revoked, secret file rotated",
		"SOURCES=good,bad, ×300; bad's secret replaced on its simulator in the live phase; its SOURCE_BAD_CLIENT_SECRET_FILE rewritten a few retries later",
		good.lost+bad.lost, good.rep.repeats+bad.rep.repeats,
		fmt.Sprintf("process never exited (exit 0 on SIGTERM); bad failed (reason auth) %s after the revocation, %d failures in a row, %d requests got 401; while failed: source_up{bad} %v, source_failures_total{bad,auth} %v, good ok with %d requests, /readyz 200; healed %s after the rotation without a restart; lost/repeated/expected good %d/%d/%d, bad %d/%d/%d",
			toFail.Round(10*time.Millisecond), failed.Failures, unauthorized, up, authFailures, goodDuring,
			toHeal.Round(10*time.Millisecond), good.lost, good.rep.repeats, good.want, bad.lost, bad.rep.repeats, bad.want))
}

// padBytes is the size of the padding of the row too large: above the
// default KAFKA_BATCH_BYTES (1 MiB) and a broker's default
// message.max.bytes.
const padBytes = 2000000

var paddedRow = regexp.MustCompile(`msg="padded row" conversation=([0-9a-f]{24})`)

// padded returns the id of the conversation s pads (from its log).
func padded(t *testing.T, s *sim) string {
	t.Helper()
	b, _ := os.ReadFile(s.proc.log)
	m := paddedRow.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no padded row in %s:\n%s", s.proc.log, tail(s.proc.log, 5))
	}
	return string(m[1])
}

// TestSourceRowTooLarge: of two sources, one serves a row whose event is
// larger than Kafka accepts. Without KAFKA_DLQ_TOPIC that source alone
// stops (reason publish, a log line naming KAFKA_DLQ_TOPIC) and stays
// failed through its retries; with it, the row goes to the dead-letter
// topic and the source moves on. Either way the other source loses and
// repeats nothing and the process never exits.
func TestSourceRowTooLarge(t *testing.T) {
	t.Run("no DLQ", func(t *testing.T) {
		ts := startTwoSources(t, "big", []string{"-pad-row", strconv.Itoa(padBytes)}, nil)
		p := ts.p
		id := padded(t, ts.other)
		pr := p.start()
		ts.waitLive(t, "good")
		var failed telemetry.SourceStatus
		toFail := waitFor(t, pr, time.Minute, "big source failed with reason publish on /readyz", func() bool {
			failed = p.sources()["big"]
			return failed.State == telemetry.SourceFailed && failed.Reason == telemetry.FailurePublish
		})
		if !strings.Contains(failed.Error, "KAFKA_DLQ_TOPIC") || !strings.Contains(failed.Error, id) {
			t.Errorf("/readyz error of big %q, want it to name conversation %s and KAFKA_DLQ_TOPIC", failed.Error, id)
		}
		upFailed := p.metric("jelou_producer_source_up", "source", "big")
		// From its first failure to the end, big is never ok: each retry
		// is on probation and fails again within it (docs/guarantees.md,
		// "Retry"), so source_up stays 0 and the delay keeps doubling.
		samples, upSeen, okSeen, retrying := 0, 0, 0, 0
		marks, ends := ts.runOn(t, pr, func() {
			samples++
			if p.metric("jelou_producer_source_up", "source", "big") != 0 {
				upSeen++
			}
			switch p.sources()["big"].State {
			case telemetry.SourceOK:
				okSeen++
			case telemetry.SourceRetrying:
				retrying++
			}
		})
		st := p.sources()
		upEnd := p.metric("jelou_producer_source_up", "source", "big")
		publishFailures := p.metric("jelou_producer_source_failures_total", "source", "big", "reason", "publish")
		if st["good"].State != telemetry.SourceOK || publishFailures < 2 || publishFailures > 15 {
			t.Errorf("at the end: good %q, source_failures_total{big,publish} %v; want ok, 2 to 15 (retried, failing again, the delay doubling)", st["good"].State, publishFailures)
		}
		if upSeen != 0 || okSeen != 0 || upEnd != 0 || st["big"].State == telemetry.SourceOK {
			t.Errorf("big after its first failure: source_up 1 in %d of %d looks, ok in %d, at the end source_up %v and %q; want source_up 0 and never ok", upSeen, samples, okSeen, upEnd, st["big"].State)
		}
		ts.stop(t, pr)
		hint, heals := 0, 0
		for _, l := range logs(pr) {
			switch {
			case l.Level == "ERROR" && strings.Contains(l.raw, "KAFKA_DLQ_TOPIC") && strings.Contains(l.raw, `"source":"big"`):
				hint++
			case l.Msg == "source polls again" && l.Source == "big":
				heals++
			}
		}
		if hint == 0 {
			t.Errorf("no ERROR log line of source big naming KAFKA_DLQ_TOPIC")
		}
		if heals != 0 {
			t.Errorf("%d \"source polls again\" log lines of big, want none: a retry that fails again within its probation is no heal", heals)
		}
		for _, r := range ts.b.readTopic(ts.topic("big")) {
			if r.Event.Subject == id {
				t.Errorf("conversation %s (%s) is on big's event topic", id, r.Event.Data.State)
			}
		}
		good := ts.judgeSource(t, "good", marks, ends, "")
		bigRecs := len(ts.b.readTopic(ts.topic("big")))
		result(t, "two sources: a row too large, no dead-letter topic",
			fmt.Sprintf("SOURCES=good,big, ×300; big's simulator pads one row to %d bytes (-pad-row), KAFKA_DLQ_TOPIC unset", padBytes),
			good.lost, good.rep.repeats,
			fmt.Sprintf("process never exited (exit 0 on SIGTERM); big failed (reason publish, /readyz naming the row and KAFKA_DLQ_TOPIC, source_up{big} %v) %s after good polled live; source_failures_total{big,publish} %v by the end, %d ERROR lines naming KAFKA_DLQ_TOPIC, %d \"source polls again\"; source_up{big} 1 in %d of %d looks after the failure, ok in %d, retrying in %d, %q at the end; %d records of big published; good: lost/repeated/expected %d/%d/%d",
				upFailed, toFail.Round(10*time.Millisecond), publishFailures, hint, heals, upSeen, samples, okSeen, retrying, st["big"].State, bigRecs, good.lost, good.rep.repeats, good.want))
	})
	t.Run("DLQ", func(t *testing.T) {
		ts := startTwoSources(t, "big", []string{"-pad-row", strconv.Itoa(padBytes)},
			map[string]string{"KAFKA_DLQ_TOPIC": topicName(t, "dlq")})
		p := ts.p
		id := padded(t, ts.other)
		pr := p.start()
		ts.waitLive(t, "good", "big")
		marks, ends := ts.runOn(t, pr, nil)
		st := p.sources()
		up := p.metric("jelou_producer_source_up", "source", "big")
		failures := p.metric("jelou_producer_source_failures_total", "source", "big")
		dead := p.metric("jelou_producer_dead_letters_total", "source", "big", "reason", "too_large")
		if st["big"].State != telemetry.SourceOK || up != 1 || failures != 0 || dead < 1 {
			t.Errorf("at the end: big %q, source_up{big} %v, source_failures_total{big} %v, dead_letters_total{big,too_large} %v; want ok, 1, 0, ≥ 1",
				st["big"].State, up, failures, dead)
		}
		ts.stop(t, pr)

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dlq, err := kafkaadmin.All(ctx, ts.b.addrs, p.env["KAFKA_DLQ_TOPIC"])
		if err != nil {
			t.Fatalf("read the dead-letter topic: %v", err)
		}
		if len(dlq) == 0 {
			t.Errorf("the dead-letter topic is empty, want conversation %s", id)
		}
		for _, r := range dlq {
			reason, truncated := "", ""
			for _, h := range r.Headers {
				switch h.Key {
				case poller.HeaderDLQReason:
					reason = string(h.Value)
				case poller.HeaderDLQTruncated:
					truncated = string(h.Value)
				}
			}
			full, _ := strconv.Atoi(truncated)
			if string(r.Key) != id || reason != "too_large" || !bytes.HasPrefix(r.Value, []byte("{")) || len(r.Value) > 1<<20 || full < padBytes {
				t.Errorf("dead letter %d/%d: key %q, %s %q, %d bytes, %s %q; want key %s, too_large, the raw row cut to 1 MiB, its length > %d",
					r.Partition, r.Offset, r.Key, poller.HeaderDLQReason, reason, len(r.Value), poller.HeaderDLQTruncated, truncated, id, padBytes)
			}
		}
		good := ts.judgeSource(t, "good", marks, ends, "")
		big := ts.judgeSource(t, "big", marks, ends, id)
		result(t, "two sources: a row too large, dead-letter topic",
			"as above, KAFKA_DLQ_TOPIC set",
			good.lost+big.lost, good.rep.repeats+big.rep.repeats,
			fmt.Sprintf("process never exited (exit 0 on SIGTERM); big never failed (source_up{big} %v, source_failures_total{big} %v); %d dead letters, each keyed by the padded conversation, reason too_large, the raw row cut to fit 1 MiB (dead_letters_total %v); lost/repeated/expected good %d/%d/%d, big (every other row) %d/%d/%d",
				up, failures, len(dlq), dead, good.lost, good.rep.repeats, good.want, big.lost, big.rep.repeats, big.want))
	})
}
