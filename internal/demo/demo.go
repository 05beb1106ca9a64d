package demo

import (
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"

	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Options configure a demo run. Zero fields take the documented defaults.
type Options struct {
	// Speed is how many times faster than real time the simulated clock
	// runs. Default: 60.
	Speed float64
	// Count is how many conversations the simulated API holds, spread over
	// History before now and a day after it. Default: 20000.
	Count int
	// History is how far back the first window starts. Default: 6h.
	History time.Duration
	// Duration stops the demo after this much real time. Zero runs until
	// the context ends (Ctrl-C).
	Duration time.Duration
	// Brokers, when set, publishes to this real Kafka cluster instead of an
	// in-process broker (the topic is created when missing).
	Brokers []string
	// Topic is the topic published to. Default: KAFKA_TOPIC's default.
	Topic string
	// MaxLines is how many event lines are printed per second at most; the
	// rest are counted. Default: 15. Negative prints none.
	MaxLines int
	// Seed selects the simulated data. Default: 1.
	Seed uint64
	// Logger receives the service's logs. Default: discard (the view is the
	// output).
	Logger *slog.Logger
}

// Defaults returns the options a zero field stands for.
func Defaults() Options {
	return Options{
		Speed:    60,
		Count:    20000,
		History:  6 * time.Hour,
		Topic:    config.Defaults().Kafka.Topic,
		MaxLines: 15,
		Seed:     1,
		Logger:   slog.New(slog.DiscardHandler),
	}
}

func (o *Options) setDefaults() {
	d := Defaults()
	if o.Speed <= 0 {
		o.Speed = d.Speed
	}
	if o.Count <= 0 {
		o.Count = d.Count
	}
	if o.History <= 0 {
		o.History = d.History
	}
	if o.Topic == "" {
		o.Topic = d.Topic
	}
	if o.MaxLines == 0 {
		o.MaxLines = d.MaxLines
	}
	if o.Seed == 0 {
		o.Seed = d.Seed
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
}

// Summary is what a demo run did, checked against the simulated API.
type Summary struct {
	// Published is how many events Kafka acknowledged.
	Published int64
	// Served is how many distinct (conversation, state) pairs the API served.
	Served int
	// OnTopic is how many records the topic holds, Distinct how many
	// distinct (conversation, state) pairs they carry.
	OnTopic, Distinct int
	// Missing is how many served pairs are not on the topic.
	Missing int
	// Requests is how many API requests were made.
	Requests int
}

// Run runs the demo until ctx ends or Duration passes, writing the view to
// out, and returns the summary.
func Run(ctx context.Context, opts Options, out io.Writer) (Summary, error) {
	opts.setDefaults()
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	realStart := time.Now()
	clk := clock.NewScaled(realStart.UTC().Truncate(time.Second), opts.Speed)
	now := clk.Now()

	sim, err := jelousim.New(jelousim.Config{
		Data:  jelousim.DataConfig{Seed: opts.Seed, Start: now.Add(-opts.History), End: now.Add(24 * time.Hour), Count: opts.Count},
		Clock: clk,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("start simulated API: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Summary{}, fmt.Errorf("start simulated API: %w", err)
	}
	httpSrv := &http.Server{Handler: withoutAdmin(sim), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	defer httpSrv.Close()
	apiURL := "http://" + ln.Addr().String()

	brokers := opts.Brokers
	brokerDesc := "Kafka at " + strings.Join(brokers, ",")
	if len(brokers) == 0 {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, opts.Topic))
		if err != nil {
			return Summary{}, fmt.Errorf("start in-process Kafka broker: %w", err)
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		brokerDesc = "in-process Kafka broker at " + strings.Join(brokers, ",")
	}

	dir, err := os.MkdirTemp("", "jelou-demo-*")
	if err != nil {
		return Summary{}, fmt.Errorf("checkpoint directory: %w", err)
	}
	defer os.RemoveAll(dir)

	cfg := config.Defaults()
	cfg.Jelou.BaseURL = apiURL
	cfg.Jelou.ClientID, cfg.Jelou.ClientSecret = sim.Config().ClientID, jelou.Secret(sim.Config().ClientSecret)
	cfg.Jelou.RateLimit = 20
	cfg.Jelou.RateBurst = 5
	cfg.Poll.StartAt = config.StartAt{Ago: opts.History}
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Topic = opts.Topic
	cfg.Kafka.TopicCreate = true
	cfg.Checkpoint.Path = dir + "/checkpoint"
	cfg.Checkpoint.Interval = time.Second
	cfg.HTTP.Addr = "127.0.0.1:0"
	if err := cfg.Validate(config.CommandDemo); err != nil {
		return Summary{}, fmt.Errorf("demo configuration: %w", err)
	}

	v := newView(out, clk, opts.MaxLines)
	reg := telemetry.NewRegistry()
	svc, err := service.New(ctx, cfg, service.Options{
		Registry: reg, Logger: opts.Logger, Clock: clk, Observe: v.wrap, ServeHTTP: true,
	})
	if err != nil {
		return Summary{}, err
	}
	fmt.Fprintf(out, "jelou-producer demo: simulated Jelou API at %s (%d conversations, clock ×%g), %s, topic %q\n",
		apiURL, opts.Count, opts.Speed, brokerDesc, opts.Topic)
	fmt.Fprintf(out, "metrics at http://%s/metrics, readiness at http://%s/readyz; Ctrl-C stops and prints a summary\n\n",
		svc.HTTPAddr(), svc.HTTPAddr())

	statusCtx, stopStatus := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		v.statusLoop(statusCtx, sim, svc)
	}()
	runErr := svc.Run(ctx)
	stopStatus()
	wg.Wait()
	if runErr != nil {
		return Summary{}, runErr
	}

	sum := Summary{Published: v.published.Load(), Served: sim.ServedCount(), Requests: int(sim.Stats().Requests)}
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkaadmin.All(rctx, brokers, opts.Topic)
	if err != nil {
		return sum, fmt.Errorf("read the topic back: %w", err)
	}
	onTopic := make(map[jelousim.Pair]bool, len(recs))
	for _, r := range recs {
		ev, err := r.Event()
		if err != nil {
			continue
		}
		onTopic[jelousim.Pair{ID: ev.Subject, State: ev.Data.State}] = true
	}
	sum.OnTopic, sum.Distinct = len(recs), len(onTopic)
	for p := range sim.ServedSeq() {
		if !onTopic[p] {
			sum.Missing++
		}
	}
	fmt.Fprintf(out, "\nsummary: %d events published in %s; the API served %d (conversation, state) pairs in %d requests; "+
		"the topic holds %d records, %d distinct pairs; missing %d, repeated %d\n",
		sum.Published, time.Since(realStart).Round(time.Second), sum.Served, sum.Requests, sum.OnTopic, sum.Distinct, sum.Missing, sum.OnTopic-sum.Distinct)
	return sum, nil
}

// view prints events and status lines. It observes the pipeline by
// wrapping the service's observer of each source, calling through from
// every method it overrides; the sources' views share one viewState.
type view struct {
	poller.Observer
	*viewState
}

// viewState is what a view prints from, shared by the sources' views.
type viewState struct {
	out      io.Writer
	clk      *clock.Scaled
	maxLines int

	mu        sync.Mutex
	lineSec   int64
	lines     int
	elided    int
	published atomic.Int64
	skipped   atomic.Int64
	windows   []atomic.Int64 // by poller.Lane
	liveEnd   atomic.Int64   // end of the live range, Unix seconds
}

func newView(out io.Writer, clk *clock.Scaled, maxLines int) *view {
	return &view{viewState: &viewState{out: out, clk: clk, maxLines: maxLines, windows: make([]atomic.Int64, len(poller.Lanes))}}
}

// wrap is service.Options.Observe, called once per source.
func (v *view) wrap(o poller.Observer) poller.Observer {
	return &view{Observer: o, viewState: v.viewState}
}

// Skipped counts rows dedupe did not publish again.
func (v *view) Skipped(reason string) {
	v.Observer.Skipped(reason)
	v.skipped.Add(1)
}

// QueryDone counts windows by lane.
func (v *view) QueryDone(lane poller.Lane, w jelou.Window, rows, published int, took time.Duration) {
	v.Observer.QueryDone(lane, w, rows, published, took)
	if lane >= 0 && int(lane) < len(v.windows) {
		v.windows[lane].Add(1)
	}
}

// Covered remembers the end of the live range.
func (v *view) Covered(c checkpoint.Coverage, now time.Time) {
	v.Observer.Covered(c, now)
	if !c.Live.End.IsZero() {
		v.liveEnd.Store(c.Live.End.Unix())
	}
}

// Published prints the events Kafka acknowledged.
func (v *view) Published(batch []poller.Emission) {
	v.Observer.Published(batch)
	v.onPublished(batch)
}

func (v *view) onPublished(batch []poller.Emission) {
	v.published.Add(int64(len(batch)))
	if v.maxLines < 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range batch {
		sec := time.Now().Unix()
		if sec != v.lineSec {
			if v.elided > 0 {
				fmt.Fprintf(v.out, "           … and %d more events\n", v.elided)
			}
			v.lineSec, v.lines, v.elided = sec, 0, 0
		}
		if v.lines >= v.maxLines {
			v.elided++
			continue
		}
		v.lines++
		c := e.Conversation
		change := "new → " + string(c.State)
		if e.Previous != "" {
			change = string(e.Previous) + " → " + string(c.State)
		}
		company := c.Company.ID
		if company == "" {
			company = event.FallbackKey
		}
		fmt.Fprintf(v.out, "%s  %-7s company %-6s conversation %s  %s\n",
			v.clk.Now().UTC().Format("15:04:05"), e.Lane, company, c.ID, change)
	}
}

func (v *view) statusLoop(ctx context.Context, sim *jelousim.Server, svc *service.Service) {
	start := time.Now()
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := v.published.Load()
		rate := float64(n) / time.Since(start).Seconds()
		behind := "-"
		if c := v.liveEnd.Load(); c != 0 {
			behind = v.clk.Now().Sub(time.Unix(c, 0)).Round(time.Second).String()
		}
		ready := "ready"
		if !svc.Health().Ready() {
			ready = "NOT READY"
		}
		v.mu.Lock()
		fmt.Fprintf(v.out, "── sim time %s │ windows %s │ %d events (%.0f/s) │ %d duplicates skipped │ live edge %s behind │ %d API requests │ %s\n",
			v.clk.Now().UTC().Format("2006-01-02 15:04"), v.windowCounts(), n, rate, v.skipped.Load(), behind, sim.Stats().Requests, ready)
		v.mu.Unlock()
	}
}

// windowCounts lists the windows completed by lane, in lane order: "3
// live, 1 settle, 0 revisit, 2 history".
func (v *view) windowCounts() string {
	parts := make([]string, 0, len(poller.Lanes))
	for _, l := range poller.Lanes {
		parts = append(parts, fmt.Sprintf("%d %s", v.windows[l].Load(), l))
	}
	return strings.Join(parts, ", ")
}

// withoutAdmin serves h but answers 404 under [jelousim.AdminPrefix]: the
// demo reads the simulator's oracle in process, so the unauthenticated
// admin endpoints (faults, credentials, reset) stay off in the release image.
func withoutAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, jelousim.AdminPrefix) || r.URL.Path == strings.TrimSuffix(jelousim.AdminPrefix, "/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
