package main

import (
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"

	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// parseTime reads an RFC 3339 time, or a duration meaning that long ago.
func parseTime(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("--%s is required (RFC 3339 time, or a duration meaning that long ago)", name)
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d).Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--%s must be an RFC 3339 time or a duration ago, got %q", name, v)
}

func cmdBackfill(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backfill", "backfill --from T [--to T] [--progress D]", "Publish the conversations that started in one bounded range, then exit 0. T is an RFC 3339 time or a\nduration meaning that long ago. The range keeps its own checkpoint next to CHECKPOINT_PATH, so an\ninterrupted backfill resumes; the live cursor is left alone.")
	fromS := fs.String("from", "", "start of the range: RFC 3339 time, or a duration meaning that long ago")
	toS := fs.String("to", "0s", "end of the range: RFC 3339 time, or a duration meaning that long ago")
	every := fs.Duration("progress", 10*time.Second, "how often progress lines are written when stderr is not a terminal")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	now := time.Now()
	from, err := parseTime("from", *fromS, now)
	if err == nil {
		var to time.Time
		to, err = parseTime("to", *toS, now)
		if err == nil && !to.After(from) {
			err = fmt.Errorf("--to %s must be after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
		}
		if err == nil {
			return backfill(from, to, *every, stderr)
		}
	}
	fmt.Fprintf(stderr, "jelou-producer: backfill: %v\n", err)
	return exitUsage
}

func backfill(from, to time.Time, every time.Duration, stderr io.Writer) int {
	cfg, ok := loadConfig(config.CommandBackfill, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	logWarnings(log, cfg)
	ctx, stop := signalContext(stderr)
	defer stop()
	p := newProgress(from, to, stderr, isTerminal(stderr))
	svc, err := service.New(ctx, cfg, service.Options{
		Command: config.CommandBackfill, From: from, To: to, Logger: log, ServeHTTP: true, Observe: p.wrap,
	})
	if err != nil {
		return exitCode(err, stderr)
	}
	pctx, stopProgress := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.loop(pctx, every) }()
	err = svc.Run(ctx)
	stopProgress()
	wg.Wait()
	p.print(true)
	return exitCode(err, stderr)
}

// progress reports a backfill's advance: a bar redrawn in place on a
// terminal, a line with rate and ETA every few seconds otherwise.
type progress struct {
	poller.Observer // the service's observer of one source, called through
	*progressState  // shared by the sources' progress
}

// progressState is what progress prints from.
type progressState struct {
	from, to time.Time
	out      io.Writer
	tty      bool
	started  time.Time
	cursor   atomic.Int64
	events   atomic.Int64
	windows  atomic.Int64
}

func newProgress(from, to time.Time, out io.Writer, tty bool) *progress {
	p := &progress{progressState: &progressState{from: from, to: to, out: out, tty: tty, started: time.Now()}}
	p.cursor.Store(from.Unix())
	return p
}

// wrap is service.Options.Observe, called once per source: progress
// observes the pipeline on top of the service's own observer.
func (p *progress) wrap(o poller.Observer) poller.Observer {
	return &progress{Observer: o, progressState: p.progressState}
}

// Covered moves the bar: a backfill's coverage is one history gap, whose
// start advances.
func (p *progress) Covered(c checkpoint.Coverage, now time.Time) {
	p.Observer.Covered(c, now)
	p.cursor.Store(c.Cursor().Unix())
}

// Published counts events.
func (p *progress) Published(b []poller.Emission) {
	p.Observer.Published(b)
	p.events.Add(int64(len(b)))
}

// QueryDone counts windows.
func (p *progress) QueryDone(lane poller.Lane, w jelou.Window, rows, published int, took time.Duration) {
	p.Observer.QueryDone(lane, w, rows, published, took)
	p.windows.Add(1)
}

func (p *progress) loop(ctx context.Context, every time.Duration) {
	if p.tty {
		every = 500 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.print(false)
		}
	}
}

func (p *progress) print(final bool) {
	total := p.to.Sub(p.from).Seconds()
	cursorUnix := p.cursor.Load()
	done := float64(cursorUnix) - float64(p.from.Unix())
	frac := min(max(done/total, 0), 1)
	elapsed := time.Since(p.started)
	events := p.events.Load()
	rate := float64(events) / max(elapsed.Seconds(), 0.001)
	eta := "-"
	if frac > 0 && frac < 1 {
		eta = time.Duration(float64(elapsed) * (1 - frac) / frac).Round(time.Second).String()
	}
	cursor := time.Unix(cursorUnix, 0).UTC().Format(time.RFC3339)
	if p.tty {
		const width = 30
		n := int(frac * width)
		bar := strings.Repeat("█", n) + strings.Repeat("░", width-n)
		fmt.Fprintf(p.out, "\r%s %5.1f%% │ %s │ %d events (%.0f/s) │ ETA %s   ", bar, frac*100, cursor, events, rate, eta)
		if final {
			fmt.Fprintln(p.out)
		}
		return
	}
	fmt.Fprintf(p.out, "backfill: %.1f%% cursor=%s windows=%d events=%d rate=%.0f/s elapsed=%s eta=%s\n",
		frac*100, cursor, p.windows.Load(), events, rate, elapsed.Round(time.Second), eta)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
