// Command jelou-sim serves a simulated Jelou "attended conversations" API
// (see package internal/jelousim) for demos, compose setups and load tests.
//
// Every flag can also be set from the environment as JELOU_SIM_<FLAG>, with
// dashes as underscores (JELOU_SIM_CLIENT_SECRET); a flag on the command line
// wins. It stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // -zone works in images without a zone database

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	addr, start, end, clockStart, clientID, clientSecret string
	auth, faults, zone, order, activeEndAt, padRow       string
	seed                                                 uint64
	count, companies, pageCap, rateBurst                 int
	speed, rateLimit, longLived, late                    float64
	latency, jitter, maxWindow                           time.Duration
	includePage                                          bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("jelou-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.Uint64Var(&o.seed, "seed", 1, "data set seed")
	fs.IntVar(&o.count, "count", 20000, "number of conversations")
	fs.IntVar(&o.companies, "companies", 200, "number of companies")
	fs.StringVar(&o.start, "start", "-24h", "earliest conversation start: RFC 3339, or a duration relative to the clock start")
	fs.StringVar(&o.end, "end", "+24h", "latest conversation start (exclusive): RFC 3339, or a duration relative to the clock start")
	fs.StringVar(&o.clockStart, "clock-start", "", "simulated time at startup, RFC 3339 (default: now)")
	fs.Float64Var(&o.speed, "speed", 1, "clock speed: simulated seconds per real second")
	fs.StringVar(&o.clientID, "client-id", "sim-client", "accepted client id")
	fs.StringVar(&o.clientSecret, "client-secret", "sim-secret", "accepted client secret")
	fs.StringVar(&o.auth, "auth", "both", "accepted Authorization forms: basic, raw or both")
	fs.IntVar(&o.pageCap, "page-cap", 100, "most rows per page, whatever limit asks")
	fs.DurationVar(&o.maxWindow, "max-window", 0, "reject wider windows with 422 (0: no limit)")
	fs.DurationVar(&o.latency, "latency", 0, "added to every API request")
	fs.DurationVar(&o.jitter, "jitter", 0, "random extra latency, up to this")
	fs.StringVar(&o.faults, "faults", "", "random fault probabilities, e.g. 429=0.05,500=0.02,drift=0.01")
	fs.Float64Var(&o.rateLimit, "rate-limit", 0, "requests per second before 429 (0: no limit)")
	fs.IntVar(&o.rateBurst, "rate-burst", 0, "rate limit burst (0: the rate rounded up)")
	fs.StringVar(&o.zone, "zone", "UTC", "IANA zone of row timestamps")
	fs.StringVar(&o.order, "order", "start-desc", "row order: start-desc, start-asc or shuffled")
	fs.StringVar(&o.activeEndAt, "active-endat", "null", "endAt of active rows: null or empty")
	fs.BoolVar(&o.includePage, "include-page", false, `add "page" to pagination`)
	fs.StringVar(&o.padRow, "pad-row", "", `[ID:]BYTES: add "notes" of BYTES to conversation ID's row (default ID: the data set's first), e.g. to exceed Kafka's record limit`)
	fs.Float64Var(&o.longLived, "long-lived", 0.05, "fraction of conversations active 10 to 30 hours")
	fs.Float64Var(&o.late, "late", 0.1, "fraction of conversations attended minutes after they start")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "JELOU_SIM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[f.Name] && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return o, err
}

// parseTime reads an RFC 3339 time or a duration relative to base.
func parseTime(name, v string, base time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(v, "+"))
	if err != nil {
		return time.Time{}, fmt.Errorf("-%s must be an RFC 3339 time or a duration like -24h, got %q", name, v)
	}
	return base.Add(d).Truncate(time.Second), nil
}

func parseRates(s string) (jelousim.FaultRates, error) {
	rates := jelousim.FaultRates{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		p, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("-faults: %q is not kind=probability", item)
		}
		rates[jelousim.FaultKind(k)] = p
	}
	return rates, nil
}

func buildConfig(o options) (jelousim.Config, error) {
	var cfg jelousim.Config
	base := time.Now()
	if o.clockStart != "" {
		t, err := time.Parse(time.RFC3339, o.clockStart)
		if err != nil {
			return cfg, fmt.Errorf("-clock-start must be an RFC 3339 time, got %q", o.clockStart)
		}
		base = t
	}
	if o.clockStart != "" || o.speed != 1 {
		cfg.Clock = clock.NewScaled(base, o.speed)
	}
	start, err := parseTime("start", o.start, base)
	if err != nil {
		return cfg, err
	}
	end, err := parseTime("end", o.end, base)
	if err != nil {
		return cfg, err
	}
	loc, err := time.LoadLocation(o.zone)
	if err != nil {
		return cfg, fmt.Errorf("-zone: %w", err)
	}
	auth, err := jelousim.ParseAuthForms(o.auth)
	if err != nil {
		return cfg, fmt.Errorf("-auth: %w", err)
	}
	rates, err := parseRates(o.faults)
	if err != nil {
		return cfg, err
	}
	if o.count <= 0 || o.companies <= 0 || o.pageCap <= 0 {
		return cfg, fmt.Errorf("-count, -companies and -page-cap must be positive, got %d, %d and %d", o.count, o.companies, o.pageCap)
	}
	if o.longLived <= 0 {
		o.longLived = -1 // the library reads zero as "default"
	}
	if o.late <= 0 {
		o.late = -1
	}
	cfg.Data = jelousim.DataConfig{Seed: o.seed, Start: start, End: end, Count: o.count, Companies: o.companies, LongLivedRatio: o.longLived, LateRatio: o.late}
	cfg.Location = loc
	cfg.ActiveEndAt = jelousim.ActiveEndAt(o.activeEndAt)
	cfg.IncludePage = o.includePage
	cfg.PageCap = o.pageCap
	cfg.MaxWindow = o.maxWindow
	cfg.Order = jelousim.Order(o.order)
	cfg.ClientID, cfg.ClientSecret = o.clientID, o.clientSecret
	cfg.Auth = auth
	cfg.RateLimit, cfg.RateBurst = o.rateLimit, o.rateBurst
	cfg.Latency, cfg.LatencyJitter = o.latency, o.jitter
	cfg.FaultRates = rates
	if cfg.PadRow, err = parsePadRow(o.padRow); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parsePadRow reads -pad-row, "[ID:]BYTES"; empty pads nothing.
func parsePadRow(v string) (jelousim.PadRow, error) {
	if v == "" {
		return jelousim.PadRow{}, nil
	}
	id, size, ok := strings.Cut(v, ":")
	if !ok {
		id, size = "", v
	}
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return jelousim.PadRow{}, fmt.Errorf("-pad-row must be [ID:]BYTES with BYTES a positive integer, got %q", v)
	}
	return jelousim.PadRow{ID: id, Size: n}, nil
}

// run serves until ctx ends and returns the exit status: 0 after a clean
// shutdown, 1 on a runtime error, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "jelou-sim:", err)
		return 2
	}
	cfg, err := buildConfig(o)
	if err != nil {
		fmt.Fprintln(stderr, "jelou-sim:", err)
		return 2
	}
	began := time.Now()
	sim, err := jelousim.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "jelou-sim:", err)
		return 2
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintln(stderr, "jelou-sim:", err)
		return 1
	}
	c := sim.Config()
	log.Info("data generated", "conversations", c.Data.Count, "companies", c.Data.Companies,
		"start", c.Data.Start.UTC().Format(time.RFC3339), "end", c.Data.End.UTC().Format(time.RFC3339),
		"clock", sim.Now().UTC().Format(time.RFC3339), "speed", o.speed, "took", time.Since(began).Round(time.Millisecond))
	if cfg.PadRow.Size > 0 {
		log.Info("padded row", "conversation", sim.SetPadRow(cfg.PadRow), "bytes", cfg.PadRow.Size)
	}
	fmt.Fprintf(stdout, "jelou-sim listening on http://%s\n", ln.Addr())

	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintln(stderr, "jelou-sim:", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintln(stderr, "jelou-sim: shutdown:", err)
		return 1
	}
	st := sim.Stats()
	log.Info("stopped", "requests", st.Requests, "served_pairs", st.ServedPairs)
	return 0
}
