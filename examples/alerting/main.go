// Command alerting is an example consumer of jelou-producer's topic, to start
// from: a kafka-go consumer-group reader that decodes each record with
// pkg/event and raises an alert when a conversation stays active longer than
// a threshold without a terminal event (closed, resolved, expired), or when
// an operator's first reply (timeRepliedOperator) took longer than another.
//
// Alerts are JSON lines on stdout and, with -webhook-url, JSON documents
// POSTed to a URL; logs go to stderr. A ticker checks the tracked
// conversations, so a conversation that goes quiet raises its alert on time,
// without waiting for another record.
//
// Usage:
//
//	go run ./examples/alerting -brokers localhost:9094 [flags]
//
// Every flag can also be set from the environment as ALERTS_<FLAG>, dashes
// as underscores (ALERTS_ACTIVE_FOR=45m); the command line wins. -brokers
// falls back to KAFKA_BROKERS. SIGINT or SIGTERM stops it, committing the
// offsets read, with exit status 0; a usage error exits 2, a Kafka error 1.
//
// # What it keeps
//
// The tracker lives in memory. A restarted consumer resumes after the
// group's committed offsets and no longer knows the conversations it saw
// active before: for them no active_too_long alert is raised. A new group
// starts at the end of the topic (-from-beginning reads it all; then old
// conversations whose terminal event is further on may alert while it
// catches up).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Config is the consumer's configuration, from flags and environment.
type Config struct {
	// Brokers are the bootstrap brokers.
	Brokers []string
	// Topic is jelou-producer's topic. Default: jelou.conversations.attended.
	Topic string
	// Group is the consumer group. Default: jelou-alerts.
	Group string
	// ActiveFor is how long a conversation may stay active. Default: 30m.
	ActiveFor time.Duration
	// ReplyOver is the longest acceptable operator reply time; 0 disables
	// the reply alert. Default: 5m.
	ReplyOver time.Duration
	// CheckEvery is the ticker's period. Default: 10s.
	CheckEvery time.Duration
	// ForgetAfter bounds how long conversations are tracked. Default: 48h.
	ForgetAfter time.Duration
	// WebhookURL, when set, receives each alert as a POSTed JSON document.
	WebhookURL string
	// WebhookTimeout bounds one POST. Default: 5s.
	WebhookTimeout time.Duration
	// FromBeginning starts a new group at the topic's first offset instead
	// of its end.
	FromBeginning bool
}

const envPrefix = "ALERTS_"

// parseConfig reads args, then the environment (lookup) for every flag not
// on the command line. It returns flag.ErrHelp after printing the usage to
// stdout when help was asked for.
func parseConfig(args []string, lookup func(string) (string, bool), stdout io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("alerting", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	brokers := fs.String("brokers", "", "comma-separated Kafka bootstrap brokers, host:port (default $KAFKA_BROKERS)")
	fs.StringVar(&c.Topic, "topic", "jelou.conversations.attended", "topic jelou-producer publishes to")
	fs.StringVar(&c.Group, "group", "jelou-alerts", "consumer group id")
	fs.DurationVar(&c.ActiveFor, "active-for", 30*time.Minute, "alert when a conversation stays active longer than this")
	fs.DurationVar(&c.ReplyOver, "reply-over", 5*time.Minute, "alert when timeRepliedOperator exceeds this (0 disables)")
	fs.DurationVar(&c.CheckEvery, "check-every", 10*time.Second, "how often active conversations are checked against -active-for")
	fs.DurationVar(&c.ForgetAfter, "forget-after", 48*time.Hour, "stop tracking conversations older than this (jelou-producer's POLL_REVISIT)")
	fs.StringVar(&c.WebhookURL, "webhook-url", "", "also POST each alert as JSON to this http(s) URL")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", 5*time.Second, "time limit of one webhook POST")
	fs.BoolVar(&c.FromBeginning, "from-beginning", false, "a new group starts at the first offset instead of the end of the topic")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: alerting [flags]\n\nRaise alerts from jelou-producer's events: conversations active too long, slow operator replies.\nEvery flag can also be set as %s<FLAG> (dashes as underscores); the command line wins.\n\nflags:\n", envPrefix)
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
	bad := map[string]bool{} // set from a variable that did not parse
	fs.VisitAll(func(f *flag.Flag) {
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(env); ok && !set[f.Name] {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
				bad[f.Name] = true
			}
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
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("-brokers (or ALERTS_BROKERS, KAFKA_BROKERS) is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		zero bool // zero allowed
	}{{"active-for", c.ActiveFor, false}, {"reply-over", c.ReplyOver, true}, {"check-every", c.CheckEvery, false}, {"forget-after", c.ForgetAfter, false}, {"webhook-timeout", c.WebhookTimeout, false}} {
		if !bad[d.name] && (d.v < 0 || (d.v == 0 && !d.zero)) {
			errs = append(errs, fmt.Errorf("-%s must be positive, got %s", d.name, d.v))
		}
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("-webhook-url must be an http or https URL, got %q", c.WebhookURL))
		}
	}
	if c.Topic == "" || c.Group == "" {
		errs = append(errs, errors.New("-topic and -group must not be empty"))
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
			fmt.Fprintf(stderr, "alerting: %s\n", line)
		}
		fmt.Fprintln(stderr, "alerting: run 'alerting -h' for usage")
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	c := NewConsumer(cfg, stdout, log)
	if err := c.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "alerting: %v\n", err)
		return 1
	}
	s := c.Stats()
	log.Info("stopped", "read", s.Read, "decoded", s.Decoded, "skipped", s.Skipped, "alerts", s.Alerts, "sinkErrors", s.SinkErrors)
	return 0
}
