// Command postgres-sink is an example analytics pipeline from
// jelou-producer's topics into PostgreSQL, to start from. It keeps three
// tables in one schema:
//
//   - conversation_events, the history: one row per event, from the event
//     topic, idempotent on the CloudEvent id (a repeated event is ignored);
//   - conversations, the current state: one row per conversation _id with
//     its latest state, from the current-state topic (-state-topic) when
//     given, else derived from the event topic; a row never moves back (an
//     active record met after a terminal one is ignored; within a rank the
//     later observation wins);
//   - conversations_hourly: conversations started per UTC hour, per source,
//     company and latest state, written only for hours a completeness
//     watermark (-watermark-topic) closes: hour [h, h+1h) of a source is
//     closed once a watermark of that source with completeBefore >= h+1h
//     has been read and the sink has read the event topic up to the
//     watermark's offsets on every partition it lists. A closed hour's rows
//     are recomputed when a later event (a state change found by a revisit)
//     of one of its conversations arrives.
//
// Usage:
//
//	go run ./examples/postgres-sink -brokers localhost:9094 -dsn postgres://... [flags]
//
// Every flag can also be set from the environment as SINK_<FLAG>, dashes as
// underscores (SINK_STATE_TOPIC); the command line wins. -brokers, -topic,
// -state-topic and -watermark-topic fall back to the producer's
// KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_STATE_TOPIC and KAFKA_WATERMARK_TOPIC,
// -dsn to DATABASE_URL. SIGINT or SIGTERM stops it with exit status 0; a
// usage error exits 2, a Kafka or database error 1.
//
// # Exactly once into the tables
//
// The sink reads every partition of its topics itself (no consumer group:
// closing an hour needs the positions on every partition of the event
// topic) and stores the next offset of each partition in the sink_offsets
// table, in the same transaction as the rows of the batch. A restarted
// sink resumes from there, so nothing is lost or applied twice; and since
// every write is idempotent, re-reading a topic from the start changes
// nothing either. One sink writes a schema at a time (a PostgreSQL advisory
// lock); a second one exits with an error.
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
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Config is the sink's configuration, from flags and environment.
type Config struct {
	// Brokers are the bootstrap brokers.
	Brokers []string
	// Topic is the event topic. Default: jelou.conversations.attended.
	Topic string
	// StateTopic is the current-state topic; empty: the current state is
	// derived from the event topic.
	StateTopic string
	// WatermarkTopic is the completeness watermark topic; empty: no hour
	// is ever closed.
	WatermarkTopic string
	// DSN is the PostgreSQL connection string (URL or key=value).
	DSN string
	// Schema is the PostgreSQL schema of the tables. Default: jelou_sink.
	Schema string
	// BatchSize is the most records written in one transaction. Default: 1000.
	BatchSize int
	// FlushEvery is the longest a record waits for its batch. Default: 200ms.
	FlushEvery time.Duration
}

const envPrefix = "SINK_"

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// parseConfig reads args, then the environment (lookup) for every flag not
// on the command line. It returns flag.ErrHelp after printing the usage to
// stdout when help was asked for.
func parseConfig(args []string, lookup func(string) (string, bool), stdout io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("postgres-sink", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	brokers := fs.String("brokers", "", "comma-separated Kafka bootstrap brokers, host:port (default $KAFKA_BROKERS)")
	fs.StringVar(&c.Topic, "topic", "", "event topic (default $KAFKA_TOPIC, else jelou.conversations.attended)")
	fs.StringVar(&c.StateTopic, "state-topic", "", "current-state topic; empty derives the current state from the event topic (default $KAFKA_STATE_TOPIC)")
	fs.StringVar(&c.WatermarkTopic, "watermark-topic", "", "completeness watermark topic; empty closes no hour (default $KAFKA_WATERMARK_TOPIC)")
	fs.StringVar(&c.DSN, "dsn", "", "PostgreSQL connection string, URL or key=value (default $DATABASE_URL)")
	fs.StringVar(&c.Schema, "schema", "jelou_sink", "PostgreSQL schema of the tables (created when missing)")
	fs.IntVar(&c.BatchSize, "batch-size", 1000, "most records written in one transaction")
	fs.DurationVar(&c.FlushEvery, "flush-every", 200*time.Millisecond, "longest a record waits for its batch to be written")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: postgres-sink [flags]\n\nKeep jelou-producer's events in PostgreSQL: history, current state, hourly counts closed by watermarks.\nEvery flag can also be set as %s<FLAG> (dashes as underscores); the command line wins.\n\nflags:\n", envPrefix)
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
	var errs []error
	bad := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(env); ok && !set[f.Name] {
			set[f.Name] = true
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
				bad[f.Name] = true
			}
		}
	})
	for name, fallback := range map[string]string{"brokers": "KAFKA_BROKERS", "topic": "KAFKA_TOPIC", "state-topic": "KAFKA_STATE_TOPIC", "watermark-topic": "KAFKA_WATERMARK_TOPIC", "dsn": "DATABASE_URL"} {
		if v, ok := lookup(fallback); ok && !set[name] {
			_ = fs.Set(name, v) // string flags: cannot fail
		}
	}
	if c.Topic == "" {
		c.Topic = "jelou.conversations.attended"
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := brokerAddr(b); err != nil {
				errs = append(errs, fmt.Errorf("-brokers: %q is not host:port: %w", b, err))
			}
			c.Brokers = append(c.Brokers, b)
		}
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("-brokers (or SINK_BROKERS, KAFKA_BROKERS) is required"))
	}
	if c.DSN == "" {
		errs = append(errs, errors.New("-dsn (or SINK_DSN, DATABASE_URL) is required"))
	}
	if !schemaName.MatchString(c.Schema) {
		errs = append(errs, fmt.Errorf("-schema must be a lowercase identifier (letters, digits, _), got %q", c.Schema))
	}
	if !bad["batch-size"] && (c.BatchSize < 1 || c.BatchSize > 100000) {
		errs = append(errs, fmt.Errorf("-batch-size must be between 1 and 100000, got %d", c.BatchSize))
	}
	if !bad["flush-every"] && c.FlushEvery <= 0 {
		errs = append(errs, fmt.Errorf("-flush-every must be positive, got %s", c.FlushEvery))
	}
	topics := map[string]string{}
	for _, t := range []struct{ flag, topic string }{{"topic", c.Topic}, {"state-topic", c.StateTopic}, {"watermark-topic", c.WatermarkTopic}} {
		if t.topic == "" {
			continue
		}
		if other, dup := topics[t.topic]; dup {
			errs = append(errs, fmt.Errorf("-%s and -%s name the same topic %q", other, t.flag, t.topic))
		}
		topics[t.topic] = t.flag
	}
	return c, errors.Join(errs...)
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the command: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, os.LookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "postgres-sink: %s\n", line)
		}
		fmt.Fprintln(stderr, "postgres-sink: run 'postgres-sink -h' for usage")
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s := NewSink(cfg, log)
	if err := s.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "postgres-sink: %v\n", err)
		return 1
	}
	st := s.Stats()
	log.Info("stopped", "read", st.Read, "skipped", st.Skipped, "events", st.Events, "duplicates", st.Duplicates,
		"states", st.States, "stale", st.Stale, "watermarks", st.Watermarks, "batches", st.Batches)
	return 0
}
