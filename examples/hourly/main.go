// Command hourly is an example consumer of jelou-producer's topics that
// closes hourly aggregates on completeness watermarks: per source and per
// hour of start time, how many conversations started and in which latest
// state they are, emitted once the hour is final (no guessed delay).
//
// It reads the event topic from its first offset (one kafka-go reader per
// partition, tracking the position reached on each) and the watermark
// topic (KAFKA_WATERMARK_TOPIC of the producer). An hour is emitted once a
// watermark of its source with completeBefore at or after the hour's end
// has been read AND the positions on every partition of the event topic
// have reached the watermark's offsets: then every event of every
// conversation of the hour has been read. Hours are JSON lines on stdout;
// logs go to stderr.
//
// Usage:
//
//	go run ./examples/hourly -brokers localhost:9094 -watermark-topic jelou.watermarks
//
// Every flag can also be set from the environment as HOURLY_<FLAG>, dashes
// as underscores; -brokers falls back to KAFKA_BROKERS. SIGINT or SIGTERM
// stops it with exit status 0; a usage error exits 2, a Kafka error 1.
//
// It keeps nothing: a restart reads both topics again from the beginning
// and emits the closed hours again (the same lines).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Config is the consumer's configuration, from flags and environment.
type Config struct {
	// Brokers are the bootstrap brokers.
	Brokers []string
	// Topic is the event topic. Default: jelou.conversations.attended.
	Topic string
	// WatermarkTopic is the watermark topic. Required.
	WatermarkTopic string
}

const envPrefix = "HOURLY_"

// parseConfig reads args, then the environment (lookup) for every flag not
// on the command line.
func parseConfig(args []string, lookup func(string) (string, bool), stdout io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("hourly", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	brokers := fs.String("brokers", "", "comma-separated Kafka bootstrap brokers, host:port (default $KAFKA_BROKERS)")
	fs.StringVar(&c.Topic, "topic", "jelou.conversations.attended", "event topic jelou-producer publishes to")
	fs.StringVar(&c.WatermarkTopic, "watermark-topic", "", "watermark topic jelou-producer writes to (its KAFKA_WATERMARK_TOPIC); required")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hourly [flags]\n\nClose hourly aggregates of jelou-producer's events on its completeness watermarks.\nEvery flag can also be set as %s<FLAG> (dashes as underscores); the command line wins.\n\nflags:\n", envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = usage.WriteTo(stdout)
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(env); ok && !set[f.Name] {
			_ = f.Value.Set(v) // string flags: never fails
		}
	})
	if *brokers == "" {
		*brokers, _ = lookup("KAFKA_BROKERS")
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("-brokers (or HOURLY_BROKERS, KAFKA_BROKERS) is required"))
	}
	if c.WatermarkTopic == "" {
		errs = append(errs, errors.New("-watermark-topic (or HOURLY_WATERMARK_TOPIC) is required"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("-topic must not be empty"))
	}
	return c, errors.Join(errs...)
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := parseConfig(args, os.LookupEnv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "hourly: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewConsumer(cfg, stdout, log).Run(ctx); err != nil {
		fmt.Fprintf(stderr, "hourly: %v\n", err)
		return 1
	}
	return 0
}
