package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/demo"
	"github.com/jelou-producer/jelou-producer/internal/registry"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // unrecoverable runtime error
	exitUsage  = 2 // bad command line or configuration
	exitAuth   = 3 // the Jelou API rejected the credentials
)

const usage = `usage: jelou-producer [command] [flags]

commands:
  run        poll the Jelou API and publish to Kafka until stopped (default)
  backfill   publish one bounded range, then exit: backfill --from T --to T
  demo       run against a simulated API and an in-process broker, with a live view
  check      validate the configuration, reach the API and the topic, report
  config     list every environment variable, its default and meaning
  healthcheck  GET this host's /healthz (--ready: /readyz); exit 0 when 200
  version    print the version

Run 'jelou-producer COMMAND -h' for a command's flags. Configuration is read
from environment variables; see 'jelou-producer config'.
`

// run executes one command and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || isHelpFlag(args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return cmdRun(args, stdout, stderr)
	case "backfill":
		return cmdBackfill(args, stdout, stderr)
	case "demo":
		return cmdDemo(args, stdout, stderr)
	case "check":
		return cmdCheck(args, stdout, stderr)
	case "config":
		return cmdConfig(args, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "jelou-producer %s (%s)\n", buildinfo.Get(), buildinfo.GoVersion())
		return exitOK
	case "help", "-h", "-help", "--help":
		if len(args) > 0 && cmd == "help" { // help COMMAND = COMMAND -h
			return run([]string{args[0], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "jelou-producer: unknown command %q\n%s", cmd, usage)
		return exitUsage
	}
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM;
// a second one exits the process at once.
func signalContext(stderr io.Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "jelou-producer: %s: draining (send it again to exit at once)\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		<-sigs
		fmt.Fprintln(stderr, "jelou-producer: second signal: exiting now")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// loadConfig reads and validates the environment for cmd, printing every
// problem on its own line.
func loadConfig(cmd config.Command, stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load()
	if err == nil {
		err = cfg.Validate(cmd)
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "jelou-producer: %s\n", line)
		}
		return cfg, false
	}
	return cfg, true
}

// logWarnings logs each of cfg's warnings (valid but unsafe settings) on
// a line of its own.
func logWarnings(log *slog.Logger, cfg config.Config) {
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// exitCode maps a service error to an exit code and prints its one line.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "jelou-producer: %v\n", err)
	var auth *jelou.AuthError
	if errors.As(err, &auth) {
		return exitAuth
	}
	var rejected *registry.RejectedError
	if errors.As(err, &rejected) {
		return exitUsage // the schema or the registry credentials: configuration
	}
	return exitFailed
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "[run]", "Poll the Jelou API and publish every (conversation, state) to Kafka until SIGINT or SIGTERM.")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	cfg, ok := loadConfig(config.CommandRun, stderr)
	if !ok {
		return exitUsage
	}
	clk, err := serviceClock()
	if err != nil {
		fmt.Fprintf(stderr, "jelou-producer: %v\n", err)
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	logWarnings(log, cfg)
	if clk != nil {
		log.Warn("running on an accelerated test clock (a testclock build); never in production", "now", clk.Now().UTC().Format(time.RFC3339))
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	svc, err := service.New(ctx, cfg, service.Options{Logger: log, ServeHTTP: true, Clock: clk})
	if err != nil {
		return exitCode(err, stderr)
	}
	log.Info("jelou-producer started", "version", buildinfo.Get(), "source", svc.Source(), "config", cfg)
	return exitCode(svc.Run(ctx), stderr)
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("config", "config [--markdown]", "List every environment variable: its type, default, the commands that require it, and its meaning.")
	markdown := fs.Bool("markdown", false, "print the table as Markdown (the form of docs/configuration.md)")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *markdown {
		fmt.Fprint(stdout, config.MarkdownTable(config.Variables()))
		return exitOK
	}
	fmt.Fprint(stdout, config.TextTable(config.Variables()))
	return exitOK
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "demo [flags]", "Run the real pipeline against a simulated Jelou API and an in-process Kafka broker, with a live view;\nCtrl-C (or -duration) stops it and prints a summary that reads the topic back.")
	var o demo.Options
	d := demo.Defaults()
	fs.Float64Var(&o.Speed, "speed", d.Speed, "simulated clock speed (60: a simulated minute per second)")
	fs.IntVar(&o.Count, "count", d.Count, "conversations in the simulated API")
	fs.DurationVar(&o.History, "history", d.History, "how far back the first window starts")
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	brokers := fs.String("brokers", os.Getenv("KAFKA_BROKERS"), "publish to this Kafka cluster instead of an in-process broker (default $KAFKA_BROKERS)")
	fs.StringVar(&o.Topic, "topic", "", "topic (default jelou.conversations.attended)")
	fs.IntVar(&o.MaxLines, "lines", d.MaxLines, "event lines printed per second at most (-1: none)")
	verbose := fs.Bool("v", false, "also print the service's logs (text, to stderr)")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *brokers != "" {
		o.Brokers = strings.Split(*brokers, ",")
	}
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	_, err := demo.Run(ctx, o, stdout)
	return exitCode(err, stderr)
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check [--timeout D]", "Validate the configuration, make one API request with the credentials, describe the topic and read the\ncheckpoint; print ok or FAIL for each. The exit status is the verdict.")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	cfg, ok := loadConfig(config.CommandCheck, stderr)
	if !ok {
		return exitUsage
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "warn  %s\n", w)
	}
	return exitCode(service.Check(ctx, cfg, stdout), stderr)
}
