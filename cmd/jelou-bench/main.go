// Command jelou-bench is the benchmark harness of jelou-producer: it runs
// the real producer binary against the simulated API and a broker in
// another process, in six scenarios (backfill, api, live, memory, catchup,
// budget), measures the producer process only, and prints one table.
//
// Usage:
//
//	jelou-bench [-short] [-only backfill,api,live,memory,catchup,budget] [-markdown] [-env KEY=VALUE]... [-producer BIN] [-kafka BIN] [-keep]
//
// With KAFKA_BENCH_BROKERS (or KAFKA_TEST_BROKERS) set it writes to that
// Apache Kafka; otherwise it starts the jelou-kafka command. The producer and
// jelou-kafka are built into a temporary directory unless given. Every
// figure is printed, none is asserted: a missed target shows as MISS, and
// the exit status is 0 as long as the scenarios ran (1 when one could not).
// See package internal/bench for what each scenario measures.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if role := os.Getenv(bench.ChildEnv); role != "" {
		// The harness running itself as a baseline child.
		if err := bench.RunChild(ctx, role, stdout); err != nil {
			fmt.Fprintf(stderr, "jelou-bench: %v\n", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("jelou-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "scale every scenario down (a few minutes in total; catchup alone runs 90s)")
	only := fs.String("only", strings.Join(bench.Scenarios, ","), "comma-separated scenarios to run")
	markdown := fs.Bool("markdown", false, "also print the table as Markdown")
	producer := fs.String("producer", "", "jelou-producer binary (default: built into a temporary directory)")
	kafkaBin := fs.String("kafka", "", "jelou-kafka binary (default: built into a temporary directory)")
	modes := fs.String("budget-modes", strings.Join(bench.BudgetModes, ","), "POLL_SETTLE_REREAD values the budget scenario runs (some of "+strings.Join(bench.BudgetModes, ",")+"); ratios need all")
	busyModes := fs.String("busy-modes", strings.Join(bench.BusyModes, ","), "POLL_SETTLE_REREAD values the busy scenario runs (some of "+strings.Join(bench.BusyModes, ",")+"); the budget sweep uses the last")
	busyRunsFlag := fs.String("busy-runs", "", "limit the busy scenario to these runs, RATE/BUDGET (some of "+strings.Join(bench.BusyRuns, ",")+"), each in every -busy-modes mode (default: all, the sweep in the last mode only)")
	keep := fs.Bool("keep", false, "keep the temporary directory (binaries, checkpoints)")
	var env envList
	fs.Var(&env, "env", "KEY=VALUE added to the producer's environment in every scenario (repeatable), to try a setting")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jelou-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	scenarios := strings.Split(*only, ",")
	for _, s := range scenarios {
		if !slices.Contains(bench.Scenarios, s) {
			fmt.Fprintf(stderr, "jelou-bench: -only: unknown scenario %q (want some of %s)\n", s, strings.Join(bench.Scenarios, ","))
			return 2
		}
	}
	budgetModes := strings.Split(*modes, ",")
	for _, m := range budgetModes {
		if !slices.Contains(bench.BudgetModes, m) {
			fmt.Fprintf(stderr, "jelou-bench: -budget-modes: unknown mode %q (want some of %s)\n", m, strings.Join(bench.BudgetModes, ","))
			return 2
		}
	}
	busy := strings.Split(*busyModes, ",")
	for _, m := range busy {
		if !slices.Contains(bench.BusyModes, m) {
			fmt.Fprintf(stderr, "jelou-bench: -busy-modes: unknown mode %q (want some of %s)\n", m, strings.Join(bench.BusyModes, ","))
			return 2
		}
	}
	var busyRuns []string
	if *busyRunsFlag != "" {
		busyRuns = strings.Split(*busyRunsFlag, ",")
		for _, r := range busyRuns {
			if !slices.Contains(bench.BusyRuns, r) {
				fmt.Fprintf(stderr, "jelou-bench: -busy-runs: unknown run %q (want some of %s)\n", r, strings.Join(bench.BusyRuns, ","))
				return 2
			}
		}
	}
	dir, err := os.MkdirTemp("", "jelou-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "jelou-bench: %v\n", err)
		return 1
	}
	if *keep {
		fmt.Fprintf(stderr, "jelou-bench: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	started := time.Now()
	table, err := bench.Run(ctx, bench.Options{
		Short:       *short,
		Only:        scenarios,
		ProducerEnv: env,
		BudgetModes: budgetModes,
		BusyModes:   busy,
		BusyRuns:    busyRuns,
		ProducerBin: *producer,
		KafkaBin:    *kafkaBin,
		Dir:         dir,
		Log:         stderr,
	})
	if table != nil {
		table.Add("total", "harness wall time", time.Since(started).Round(time.Second).String())
		fmt.Fprintln(stdout)
		_ = table.Write(stdout)
		if *markdown {
			fmt.Fprintln(stdout)
			_ = table.Markdown(stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "jelou-bench: %v\n", err)
		return 1
	}
	for _, r := range table.Rows {
		if r.Metric == "error" {
			return 1
		}
	}
	return 0
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}
