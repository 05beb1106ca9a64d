package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/registry"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
)

// asBinary makes the test binary run as jelou-producer (see TestMain).
const asBinary = "JELOU_PRODUCER_TEST_AS_BINARY"

// TestMain lets a test start this binary as the command itself, with its
// arguments, so that signals reach a real process without a build step.
func TestMain(m *testing.M) {
	if os.Getenv(asBinary) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runCmd calls run with args and returns the exit code and both outputs.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut testutil.SyncBuffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// clearEnv unsets every configuration variable for the test, so that the
// machine's environment cannot change the outcome.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range config.Variables() {
		t.Setenv(v.Name, "")
		os.Unsetenv(v.Name)
	}
}

// fixture is a simulated API on the wall clock (the command's clock), a
// topic on the shared test broker and a checkpoint directory, exported to
// the environment as the variables `run` reads.
type fixture struct {
	sim     *jelousim.Server
	url     string
	brokers []string
	topic   string
	dir     string
}

func newFixture(t *testing.T, simCfg jelousim.Config) *fixture {
	t.Helper()
	clearEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	if simCfg.Data.Count == 0 {
		simCfg.Data.Count = 2000
	}
	simCfg.Data.Seed = 3
	simCfg.Data.Start, simCfg.Data.End = now.Add(-24*time.Hour), now.Add(24*time.Hour)
	sim, err := jelousim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	f := &fixture{sim: sim, url: ts.URL, brokers: kafkatest.Brokers(t), topic: kafkatest.Topic(t, 3, nil), dir: t.TempDir()}
	for k, v := range map[string]string{
		"JELOU_BASE_URL":      f.url,
		"JELOU_CLIENT_ID":     "sim-client",
		"JELOU_CLIENT_SECRET": "sim-secret",
		"JELOU_RATE_LIMIT":    "100",
		"JELOU_RATE_BURST":    "10",
		"KAFKA_BROKERS":       strings.Join(f.brokers, ","),
		"KAFKA_TOPIC":         f.topic,
		"CHECKPOINT_PATH":     filepath.Join(f.dir, "checkpoint.json"),
		"CHECKPOINT_INTERVAL": "200ms",
		"HTTP_ADDR":           "127.0.0.1:0",
		"POLL_START_AT":       "2h",
		"POLL_INTERVAL":       "1s",
		"SHUTDOWN_TIMEOUT":    "10s",
	} {
		t.Setenv(k, v)
	}
	return f
}

// pairs reads the topic and returns its (conversation, state) pairs.
func (f *fixture) pairs(t *testing.T) map[jelousim.Pair]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, f.brokers, f.topic)
	if err != nil {
		t.Fatal(err)
	}
	n := make(map[jelousim.Pair]int)
	for _, r := range recs {
		ev, err := r.Event()
		if err != nil {
			t.Fatalf("record %d/%d: %v", r.Partition, r.Offset, err)
		}
		n[jelousim.Pair{ID: ev.Subject, State: ev.Data.State}]++
	}
	return n
}

func TestVersion(t *testing.T) {
	code, out, errOut := runCmd("version")
	if code != exitOK || errOut != "" {
		t.Fatalf("version: exit %d, stderr %q", code, errOut)
	}
	if !regexp.MustCompile(`^jelou-producer \S+ \(go\d[^)]*\)\n$`).MatchString(out) {
		t.Errorf("version printed %q", out)
	}
}

func TestConfigListsEveryVariable(t *testing.T) {
	clearEnv(t)
	code, out, errOut := runCmd("config")
	if code != exitOK || errOut != "" {
		t.Fatalf("config: exit %d, stderr %q", code, errOut)
	}
	for _, v := range config.Variables() {
		if !regexp.MustCompile(`(?m)^` + v.Name + `\s`).MatchString(out) {
			t.Errorf("config does not list %s", v.Name)
		}
	}
	code, md, _ := runCmd("config", "--markdown")
	if code != exitOK {
		t.Fatalf("config --markdown: exit %d", code)
	}
	if want := config.MarkdownTable(config.Variables()); md != want {
		t.Errorf("config --markdown differs from config.MarkdownTable:\n%s\nwant\n%s", md, want)
	}
	if code, _, _ := runCmd("config", "--bogus"); code != exitUsage {
		t.Errorf("config --bogus: exit %d, want %d", code, exitUsage)
	}
}

// TestHelp checks that -h, -help and --help, on their own or after a
// command, print usage to stdout and exit 0 without reading the
// configuration (none is set), and that a wrong flag still exits 2 with the
// error and the usage on stderr.
func TestHelp(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{"-h", []string{"-h"}, []string{"usage: jelou-producer [command]", "backfill", "COMMAND -h"}},
		{"-help", []string{"-help"}, []string{"usage: jelou-producer [command]"}},
		{"--help", []string{"--help"}, []string{"usage: jelou-producer [command]"}},
		{"help", []string{"help"}, []string{"usage: jelou-producer [command]"}},
		{"run -h", []string{"run", "-h"}, []string{"usage: jelou-producer [run]", "SIGTERM"}},
		{"run --help", []string{"run", "--help"}, []string{"usage: jelou-producer [run]"}},
		{"backfill -h", []string{"backfill", "-h"}, []string{"usage: jelou-producer backfill --from T", "-from", "-progress", "-to"}},
		{"backfill --help after a flag", []string{"backfill", "--from", "1h", "--help"}, []string{"usage: jelou-producer backfill"}},
		{"demo -h", []string{"demo", "-h"}, []string{"usage: jelou-producer demo", "-duration", "-brokers"}},
		{"check -h", []string{"check", "-h"}, []string{"usage: jelou-producer check", "-timeout"}},
		{"config -h", []string{"config", "-h"}, []string{"usage: jelou-producer config [--markdown]", "-markdown"}},
		{"help backfill", []string{"help", "backfill"}, []string{"usage: jelou-producer backfill", "-from"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(tt.args...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, want 0; stderr:\n%s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}

	bad := []struct {
		name string
		args []string
		want string // usage line expected on stderr
	}{
		{"run", []string{"run", "-bogus"}, "usage: jelou-producer [run]"},
		{"no command", []string{"-bogus"}, "usage: jelou-producer [run]"},
		{"backfill", []string{"backfill", "--bogus"}, "usage: jelou-producer backfill"},
		{"help of an unknown command", []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, tt := range bad {
		t.Run("bad flag/"+tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(tt.args...)
			if code != exitUsage || out != "" {
				t.Fatalf("exit %d, want %d; stdout %q", code, exitUsage, out)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, errOut)
			}
		})
	}
}

// TestConfigurationErrors checks that a bad or missing variable exits 2
// before anything starts, with one line per problem naming the variable.
func TestConfigurationErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		lines []string // each must be a line of stderr, in order
	}{
		{"zero window", []string{"run"}, map[string]string{"POLL_WINDOW": "0s"},
			[]string{`jelou-producer: POLL_WINDOW must be positive, got "0s"`}},
		{"duration without unit", []string{"run"}, map[string]string{"POLL_INTERVAL": "10"},
			[]string{"jelou-producer: POLL_INTERVAL"}},
		{"two problems", []string{"run"}, map[string]string{"POLL_WINDOW": "0s", "KAFKA_COMPRESSION": "brotli"},
			[]string{"jelou-producer: POLL_WINDOW", "jelou-producer: KAFKA_COMPRESSION"}},
		{"bad start", []string{"backfill", "--from", "1h"}, map[string]string{"POLL_START_AT": "yesterday"},
			[]string{"jelou-producer: POLL_START_AT"}},
		{"missing credentials for run", []string{"run"}, map[string]string{"JELOU_CLIENT_ID": "-", "JELOU_CLIENT_SECRET": "-"},
			[]string{"jelou-producer: JELOU_CLIENT_ID is required for run", "jelou-producer: JELOU_CLIENT_SECRET is required for run"}},
		{"missing credentials for check", []string{"check"}, map[string]string{"JELOU_CLIENT_SECRET": "-"},
			[]string{"jelou-producer: JELOU_CLIENT_SECRET is required for check"}},
		{"missing brokers", []string{"backfill", "--from", "2h"}, map[string]string{"KAFKA_BROKERS": "-"},
			[]string{"jelou-producer: KAFKA_BROKERS is required for backfill"}},
		{"backfill without --from", []string{"backfill"}, nil, []string{"jelou-producer: backfill: --from is required"}},
		{"backfill range reversed", []string{"backfill", "--from", "1h", "--to", "2h"}, nil, []string{"jelou-producer: backfill: --to"}},
		{"unknown command", []string{"frobnicate"}, nil, []string{`jelou-producer: unknown command "frobnicate"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, jelousim.Config{Data: jelousim.DataConfig{Count: 10}})
			for k, v := range tt.env {
				t.Setenv(k, v)
				if v == "-" {
					os.Unsetenv(k)
				}
			}
			code, out, errOut := runCmd(tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, errOut)
			}
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			next := 0
			for _, l := range lines {
				if next < len(tt.lines) && strings.HasPrefix(l, tt.lines[next]) {
					next++
				}
			}
			if next < len(tt.lines) {
				t.Errorf("stderr lacks the line %q:\n%s", tt.lines[next], errOut)
			}
			if strings.Contains(out+errOut, "sim-secret") {
				t.Error("the client secret was printed")
			}
			if n := f.sim.Stats().Requests; n != 0 {
				t.Errorf("%d API requests, want none before the configuration is valid", n)
			}
		})
	}
}

// TestWrongCredentials checks that run and check exit 3 with one clear
// line when the API rejects the credentials, after very few requests.
func TestWrongCredentials(t *testing.T) {
	for _, cmd := range []string{"run", "check"} {
		t.Run(cmd, func(t *testing.T) {
			f := newFixture(t, jelousim.Config{})
			t.Setenv("JELOU_CLIENT_SECRET", "not-the-secret")
			done := make(chan struct{})
			var code int
			var out, errOut string
			go func() {
				defer close(done)
				code, out, errOut = runCmd(cmd)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("%s did not exit within a minute of a 401", cmd)
			}
			if code != exitAuth {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitAuth, out, errOut)
			}
			var final []string
			for _, l := range strings.Split(errOut, "\n") {
				if strings.HasPrefix(l, "jelou-producer: ") {
					final = append(final, l)
				}
			}
			if len(final) != 1 || !strings.Contains(final[0], "401") {
				t.Errorf("want one line saying the credentials were rejected (401), got %q", final)
			}
			unauthorized := f.sim.Stats().ByStatus[401]
			if unauthorized < 1 || unauthorized > int64(config.Defaults().Poll.Concurrency) {
				t.Errorf("%d requests got 401, want between 1 and POLL_CONCURRENCY (no retries)", unauthorized)
			}
			if cmd == "check" && !strings.Contains(out, "FAIL  Jelou API") {
				t.Errorf("check did not report the API failure:\n%s", out)
			}
			if strings.Contains(out+errOut, "not-the-secret") {
				t.Error("the client secret was printed")
			}
		})
	}
}

func TestCheckOK(t *testing.T) {
	f := newFixture(t, jelousim.Config{})
	code, out, errOut := runCmd("check")
	if code != exitOK {
		t.Fatalf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"ok    Jelou API " + f.url + ": credentials accepted",
		"ok    Kafka ",
		`topic "` + f.topic + `" has 3 partitions`,
		"ok    checkpoint " + filepath.Join(f.dir, "checkpoint.json") + ": none yet",
		"ok    jelou-producer ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("check reported a failure:\n%s", out)
	}
	if n := len(f.pairs(t)); n != 0 {
		t.Errorf("check published %d events", n)
	}
}

// TestCheckWarns checks that check prints the configuration's warnings
// (here a plain-http base URL off this machine) as warn lines.
func TestCheckWarns(t *testing.T) {
	newFixture(t, jelousim.Config{})
	t.Setenv("JELOU_BASE_URL", "http://jelou.invalid")
	code, out, errOut := runCmd("check", "--timeout", "5s")
	if code == exitOK {
		t.Fatalf("check passed with an unreachable API:\n%s", out)
	}
	if want := "warn  JELOU_BASE_URL is plain http (http://jelou.invalid): the API credentials travel unencrypted; use https\n"; !strings.HasPrefix(out, want) {
		t.Errorf("check output does not start with %q:\nstdout:\n%s\nstderr:\n%s", want, out, errOut)
	}
}

// TestBackfill runs a bounded range to completion: exit 0, progress lines
// on a non-terminal stderr, every pair served on the topic exactly once,
// and its own checkpoint saved next to the live one.
func TestBackfill(t *testing.T) {
	f := newFixture(t, jelousim.Config{Latency: 100 * time.Millisecond})
	t.Setenv("POLL_WINDOW", "30m")
	t.Setenv("POLL_CONCURRENCY", "1")
	code, _, errOut := runCmd("backfill", "--from", "6h", "--to", "1h", "--progress", "100ms")
	if code != exitOK {
		t.Fatalf("backfill: exit %d\n%s", code, errOut)
	}
	if n := len(regexp.MustCompile(`(?m)^backfill: \d+\.\d% .* eta=`).FindAllString(errOut, -1)); n < 3 {
		t.Errorf("%d progress lines, want periodic ones while the backfill runs:\n%s", n, errOut)
	}
	progress := regexp.MustCompile(`(?m)^backfill: 100\.0% cursor=\S+ windows=\d+ events=(\d+) rate=\d+/s elapsed=\S+ eta=\S+$`)
	m := progress.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no final progress line at 100%%:\n%s", errOut)
	}
	got := f.pairs(t)
	served := f.sim.Served()
	if len(served) == 0 {
		t.Fatal("the simulator served nothing")
	}
	if m[1] != strconv.Itoa(len(got)) {
		t.Errorf("progress says %s events, the topic holds %d pairs", m[1], len(got))
	}
	for _, p := range served {
		if got[p] != 1 {
			t.Errorf("served pair %s/%s is on the topic %d times, want 1", p.ID, p.State, got[p])
		}
	}
	cps, _ := filepath.Glob(filepath.Join(f.dir, "backfill-*.checkpoint"))
	if len(cps) != 1 {
		t.Fatalf("backfill checkpoints %v, want one", cps)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "checkpoint.json")); !os.IsNotExist(err) {
		t.Errorf("the live checkpoint was touched by a backfill: %v", err)
	}
}

// TestDemo runs the demo for five seconds: events flow and the summary
// read back from the topic says nothing is missing.
func TestDemo(t *testing.T) {
	clearEnv(t)
	code, out, errOut := runCmd("demo", "-duration", "5s", "-count", "5000", "-lines", "3")
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	sum := regexp.MustCompile(`summary: (\d+) events published .* missing (\d+), repeated (\d+)`).FindStringSubmatch(out)
	if sum == nil {
		t.Fatalf("no summary line:\n%s", out)
	}
	if sum[1] == "0" {
		t.Errorf("no event published:\n%s", out)
	}
	if sum[2] != "0" || sum[3] != "0" {
		t.Errorf("summary reports missing %s, repeated %s", sum[2], sum[3])
	}
	if !strings.Contains(out, "conversation ") {
		t.Errorf("no event line in the live view:\n%s", out)
	}
}

// TestRunSecretsNeverPrinted runs `run` at LOG_LEVEL=debug with
// distinctive credentials, through 500s, a proxy page and then a 401, on a
// broker that needs SASL, and checks that stdout and stderr never show the
// API secret, the SASL password or the base64 forms carrying them.
func TestRunSecretsNeverPrinted(t *testing.T) {
	const (
		id, secret = "leak-check-client", "Zebra-S3cret-7781"
		user, pass = "leak-check-user", "Kafka-Pa55-9413"
	)
	broker, err := kafkatest.StartInProcess(1, kfake.EnableSASL(), kfake.Superuser("PLAIN", user, pass))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	f := newFixture(t, jelousim.Config{ClientID: id, ClientSecret: "rotated"})
	for k, v := range map[string]string{
		"JELOU_CLIENT_ID": id, "JELOU_CLIENT_SECRET": secret, "LOG_LEVEL": "debug", "LOG_FORMAT": "text",
		"KAFKA_BROKERS": strings.Join(broker.Addrs, ","), "KAFKA_TOPIC_CREATE": "true",
		"KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": user, "KAFKA_SASL_PASSWORD": pass,
	} {
		t.Setenv(k, v)
	}
	for _, q := range []jelousim.Fault{{Kind: jelousim.FaultInternal}, {Kind: jelousim.FaultBadGateway}, {Kind: jelousim.FaultInternal}} {
		if err := f.sim.InjectNext(q, 1); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCmd("run")
	if code != exitAuth {
		t.Fatalf("exit %d, want %d\n%s", code, exitAuth, errOut)
	}
	all := out + errOut
	for _, want := range []string{"level=DEBUG", "HTTP 500", "HTTP 502", "KAFKA_SASL_PASSWORD=[REDACTED]", "JELOU_CLIENT_SECRET=[REDACTED]"} {
		if !strings.Contains(all, want) {
			t.Errorf("the output has no %q: the scenario did not run as intended\n%s", want, all)
		}
	}
	b64 := func(s string) string { return strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(s)), "=") }
	for _, s := range []string{secret, pass, b64(id + ":" + secret), b64("\x00" + user + "\x00" + pass)} {
		if strings.Contains(all, s) {
			t.Errorf("credential form %q printed", s)
		}
	}
}

// TestSIGTERM runs the command as a process of its own (this test binary,
// which behaves as jelou-producer when asBinary is set), sends SIGTERM once
// events flow, and checks exit status 0 within SHUTDOWN_TIMEOUT with the
// checkpoint saved, and that a restart publishes nothing twice.
func TestSIGTERM(t *testing.T) {
	f := newFixture(t, jelousim.Config{})
	t.Setenv(asBinary, "1")
	// Only the first commit and the final save on exit write the
	// checkpoint, so a cursor at the live edge proves the drain saved it.
	t.Setenv("CHECKPOINT_INTERVAL", "1h")
	const shutdown = 10 * time.Second
	start := func() (*exec.Cmd, *testutil.SyncBuffer) {
		cmd := exec.Command(os.Args[0], "run")
		var stderr testutil.SyncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, &stderr
	}
	waitFor := func(stderr *testutil.SyncBuffer, s string) {
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(stderr.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after a minute:\n%s", s, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd, stderr *testutil.SyncBuffer) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "draining") {
				t.Errorf("no drain message after SIGTERM:\n%s", stderr.String())
			}
		case <-time.After(shutdown + 5*time.Second):
			t.Fatalf("still running %s after SIGTERM\n%s", shutdown+5*time.Second, stderr.String())
		}
	}

	cmd, stderr := start()
	waitFor(stderr, `"msg":"caught up"`)
	stop(cmd, stderr)
	source := checkpoint.SourceID(f.url, "sim-client")
	st, err := checkpoint.NewFile(filepath.Join(f.dir, "checkpoint.json"), checkpoint.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cp, err := st.Load(context.Background(), source)
	if err != nil {
		t.Fatalf("no checkpoint after SIGTERM: %v", err)
	}
	if time.Since(cp.Cursor) > 10*time.Minute {
		t.Errorf("checkpoint cursor %s, want the live edge (saved by the drain)\n%s", cp.Cursor, stderr.String())
	}
	before := f.pairs(t)

	cmd, stderr = start()
	waitFor(stderr, "checkpoint loaded")
	waitFor(stderr, `"msg":"caught up"`)
	stop(cmd, stderr)
	after := f.pairs(t)
	for p, n := range after {
		if n > 1 {
			t.Errorf("pair %s/%s published %d times across the restart", p.ID, p.State, n)
		}
	}
	for p := range before {
		if after[p] == 0 {
			t.Errorf("pair %s/%s vanished", p.ID, p.State)
		}
	}
	if len(before) == 0 {
		t.Error("nothing was published before SIGTERM")
	}
}

// TestExitCodeRegistryRefusal: a schema or credentials the Schema
// Registry refuses at start-up is a configuration error, exit 2.
func TestExitCodeRegistryRefusal(t *testing.T) {
	err := fmt.Errorf("start: %w", &registry.RejectedError{Subject: "t-value", Status: 409, Reason: "incompatible", Err: errors.New("Incompatible")})
	var out bytes.Buffer
	if got := exitCode(err, &out); got != exitUsage {
		t.Errorf("exitCode = %d, want %d (exitUsage)", got, exitUsage)
	}
	if !strings.Contains(out.String(), `subject "t-value"`) {
		t.Errorf("printed %q, want the subject named", out.String())
	}
	if got := exitCode(errors.New("schema registry: look up subject: connection refused"), io.Discard); got != exitFailed {
		t.Errorf("exitCode of an unreachable registry = %d, want %d", got, exitFailed)
	}
}
