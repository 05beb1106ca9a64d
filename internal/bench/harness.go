package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// Scenario names accepted by Options.Only.
const (
	ScenarioBackfill = "backfill"
	ScenarioAPI      = "api"
	ScenarioLive     = "live"
	ScenarioMemory   = "memory"
	ScenarioCatchup  = "catchup"
	ScenarioBudget   = "budget"
	ScenarioBusy     = "busy"
)

// Scenarios lists every scenario in the order they run.
var Scenarios = []string{ScenarioBackfill, ScenarioAPI, ScenarioLive, ScenarioMemory, ScenarioCatchup, ScenarioBudget, ScenarioBusy}

// labels name the scenarios in the table.
var labels = map[string]string{
	ScenarioBackfill: "1 backfill", ScenarioAPI: "2 api-bound", ScenarioLive: "3 live", ScenarioMemory: "4 memory",
	ScenarioCatchup: "5 catch-up",
	ScenarioBudget:  "6 budget",
	ScenarioBusy:    "7 busy",
}

// Options configure a harness run. Zero fields mean the default stated.
type Options struct {
	// Short scales every scenario down so the run takes a few minutes (the
	// catch-up scenario alone runs 90 s of wall time).
	Short bool
	// Only lists the scenarios to run. Default: all of Scenarios.
	Only []string
	// ProducerBin and KafkaBin are the jelou-producer and jelou-kafka
	// binaries. Default: built by the harness into Dir.
	ProducerBin, KafkaBin string
	// SelfBin is the harness binary, run again as the baseline children.
	// Default: os.Executable.
	SelfBin string
	// ProducerEnv is appended to the producer's environment in every
	// scenario (KEY=VALUE), to try a setting; KAFKA_COMPRESSION also applies
	// to the produce-only baseline. Default: none.
	ProducerEnv []string
	// BudgetModes are the POLL_SETTLE_REREAD values the budget scenario
	// runs, in BudgetModes order. Default: all of BudgetModes.
	BudgetModes []string
	// BusyModes are the POLL_SETTLE_REREAD values the busy scenario runs,
	// in BusyModes order; the budget sweep uses the last. Default: all of
	// BusyModes.
	BusyModes []string
	// BusyRuns limits the busy scenario to these runs, "RATE/BUDGET" (new
	// conversations and requests per simulated second, some of BusyRuns),
	// each in every mode of BusyModes. Default: all of BusyRuns (the sweep
	// at 20/s in the last mode only).
	BusyRuns []string
	// Dir holds binaries, checkpoints and samples. Required.
	Dir string
	// Log receives progress lines. Default: discard.
	Log io.Writer
}

// Harness runs the scenarios and collects their table.
type Harness struct {
	opts   Options
	broker *Broker
	table  *Table
}

// Run builds what is missing, starts the broker, runs the selected
// scenarios and returns their table. A failing scenario is reported in the
// table and does not stop the others.
func Run(ctx context.Context, opts Options) (*Table, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if len(opts.Only) == 0 {
		opts.Only = Scenarios
	}
	for _, s := range opts.Only {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(Scenarios, ","))
		}
	}
	if opts.SelfBin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the harness binary: %w", err)
		}
		opts.SelfBin = self
	}
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&opts.ProducerBin, "jelou-producer"}, {&opts.KafkaBin, "jelou-kafka"}} {
		if *b.path != "" {
			continue
		}
		if b.pkg == "jelou-kafka" && BrokersFromEnv() != nil {
			continue
		}
		*b.path = opts.Dir + "/" + b.pkg
		fmt.Fprintf(opts.Log, "building %s\n", b.pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", *b.path, "github.com/jelou-producer/jelou-producer/cmd/"+b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w: %s", b.pkg, err, out)
		}
	}
	broker, err := StartBroker(ctx, opts.KafkaBin)
	if err != nil {
		return nil, err
	}
	defer broker.Close()
	mode := "full"
	if opts.Short {
		mode = "short (-short)"
	}
	h := &Harness{opts: opts, broker: broker, table: &Table{
		Title: fmt.Sprintf("jelou-bench %s: %d CPUs (GOMAXPROCS %d), %s/%s, %s, broker: %s",
			mode, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format(time.RFC3339), broker.Kind),
	}}
	run := map[string]func(context.Context) error{
		ScenarioBackfill: h.backfill,
		ScenarioAPI:      h.apiBound,
		ScenarioLive:     h.live,
		ScenarioMemory:   h.memory,
		ScenarioCatchup:  h.catchup,
		ScenarioBudget:   h.budget,
		ScenarioBusy:     h.busy,
	}
	for _, s := range Scenarios {
		if !slices.Contains(opts.Only, s) {
			continue
		}
		started := time.Now()
		fmt.Fprintf(opts.Log, "scenario %s: start\n", s)
		if err := run[s](ctx); err != nil {
			h.table.Rows = append(h.table.Rows, Row{Scenario: labels[s], Metric: "error", Value: err.Error(), Verdict: Miss})
			fmt.Fprintf(opts.Log, "scenario %s: %v\n", s, err)
		}
		h.table.Add(labels[s], "scenario wall time", dur(time.Since(started)))
		fmt.Fprintf(opts.Log, "scenario %s: done in %s\n", s, dur(time.Since(started)))
		if ctx.Err() != nil {
			return h.table, ctx.Err()
		}
	}
	return h.table, nil
}

// producerEnv is the producer's environment for sim and topic, with the
// given overrides.
func (h *Harness) producerEnv(sim *Sim, topic, checkpointPath string, extra ...string) []string {
	env := append(baseEnv(),
		"JELOU_BASE_URL="+sim.URL,
		"JELOU_CLIENT_ID="+SimClientID,
		"JELOU_CLIENT_SECRET="+SimClientSecret,
		"KAFKA_BROKERS="+strings.Join(h.broker.Addrs, ","),
		"KAFKA_TOPIC="+topic,
		"CHECKPOINT_PATH="+checkpointPath,
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=warn",
		"LOG_FORMAT=text",
	)
	env = append(env, extra...)
	return append(env, h.opts.ProducerEnv...)
}

// compression is the producer's KAFKA_COMPRESSION: the last override, else
// the default.
func (h *Harness) compression() string {
	c := config.Defaults().Kafka.Compression
	for _, kv := range h.opts.ProducerEnv {
		if v, ok := strings.CutPrefix(kv, "KAFKA_COMPRESSION="); ok {
			c = v
		}
	}
	return c
}

// outlet is where a run of a scenario's producer writes and the scenario
// reads back: a fresh topic of 6 partitions, a tailer of it from the start,
// and a work folder for the producer's checkpoint and log.
type outlet struct {
	topic string
	cons  *tailer
	dir   string
}

// newOutlet sets up the outlet of a run of scenario name. The returned
// function closes the tailer and deletes the topic (the folder stays, under
// Options.Dir, for a look at the logs).
func (h *Harness) newOutlet(ctx context.Context, name string) (*outlet, func(), error) {
	topic := topicName(name)
	if err := h.broker.CreateTopic(ctx, topic, 6); err != nil {
		return nil, nil, err
	}
	drop := func() { _ = h.broker.DeleteTopic(context.WithoutCancel(ctx), topic) }
	cons, err := newTailer(h.broker.Addrs, topic)
	if err != nil {
		drop()
		return nil, nil, err
	}
	done := func() { cons.Close(); drop() }
	dir, err := os.MkdirTemp(h.opts.Dir, name+"-")
	if err != nil {
		done()
		return nil, nil, err
	}
	return &outlet{topic: topic, cons: cons, dir: dir}, done, nil
}

// serveLoopback serves handler on a free loopback port and returns its
// base URL and the function that stops it.
func serveLoopback(handler http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = hs.Close() }, nil
}

// topicName returns a fresh topic name for a scenario.
func topicName(s string) string {
	return "bench-" + s + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func (h *Harness) logf(format string, args ...any) {
	fmt.Fprintf(h.opts.Log, "  "+format+"\n", args...)
}

// pick returns full or short by the Short option.
func pick[T any](h *Harness, full, short T) T {
	if h.opts.Short {
		return short
	}
	return full
}
