package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/ownership"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Options are what New needs besides the configuration. Zero fields take
// the documented defaults.
type Options struct {
	// Command is config.CommandRun (default) or config.CommandBackfill.
	Command config.Command
	// From and To bound a backfill; required for CommandBackfill.
	From, To time.Time
	// Registry receives the metrics. Default: telemetry.NewRegistry().
	Registry *prometheus.Registry
	// Logger receives the service's logs. Default: discard.
	Logger *slog.Logger
	// Clock is the time source shared with the poller. Default: wall clock.
	Clock clock.Clock
	// HTTPClient sends API requests. Default: the client package's.
	HTTPClient *http.Client
	// Observe, when set, wraps the service's observer of each source
	// (telemetry's Pipeline for that source; it is called once per source)
	// for progress views: embed the one it is given, call through from each
	// method you override, and keep what the sources share behind a
	// pointer.
	Observe func(poller.Observer) poller.Observer
	// ServeHTTP starts the metrics and health server on HTTP_ADDR.
	ServeHTTP bool
	// SourceRetry is how long a failed source waits before its first
	// retry, on Clock (see Run); each failure in a row doubles it, up to
	// SourceRetryMax. Defaults: DefaultSourceRetry, DefaultSourceRetryMax.
	SourceRetry, SourceRetryMax time.Duration
}

// Defaults of Options.SourceRetry and Options.SourceRetryMax.
const (
	DefaultSourceRetry    = 30 * time.Second
	DefaultSourceRetryMax = 30 * time.Minute
)

// Service is the running producer: the metrics and health server, one
// checkpoint store and one pipeline (API client, poller, publisher) per
// configured source. When the store implements checkpoint.Fencing (the
// Kafka backend), `run` shares the sources with the other replicas through
// a consumer group (package ownership) and polls those it owns; otherwise
// (and for a backfill) it polls every source itself. Create it with New,
// then call Run once.
type Service struct {
	cfg      config.Config
	opts     Options
	log      *slog.Logger
	metrics  *telemetry.Metrics
	pipeline *telemetry.Pipeline // unbound; each source reports through its ForSource
	health   *telemetry.Health
	http     *telemetry.Server
	sources  []*source
	byID     map[string]*source
	pubs     []*publish.Publisher
	// store keeps the checkpoints of every source.
	store checkpoint.Store
	// transport carries the checkpoint store's requests, with the
	// deployment's TLS and SASL settings (the group builds its own from
	// the same settings: see ownership.Config.Dialer).
	transport *kafka.Transport
	// memory bounds the response bodies and rows held by every source at
	// once, from GOMEMLIMIT.
	memory *poller.MemoryBudget
	// schemas holds each event topic's value schema in the Schema
	// Registry; nil when SCHEMA_REGISTRY_URL is not set.
	schemas map[string]schemaRef

	mu      sync.Mutex
	running map[string]*poller.Poller
}

// source is the pipeline of one configured source, without its poller,
// which is made afresh each time the source is taken on or retried (Run).
type source struct {
	id   string // the configured id
	pcfg poller.Config
	pub  *publish.Publisher
	// obs is what the source's API client reports to (pcfg.Observer
	// wraps it to notice a retried source that polls again).
	obs poller.Observer

	mu sync.Mutex
	// conf and client are replaced when a failed source is retried, with
	// its credentials read again.
	conf   config.Source
	client *jelou.Client
	// failures counts the failures in a row; it is reset once the source
	// has passed its probation after a retry (see healObserver).
	failures int
	// probationEnds is when a retried source, polling again, becomes ok
	// if it has not failed meanwhile; zero when it is not on probation.
	probationEnds time.Time
	// lastReason and lastErr describe its last failure, shown while it
	// is retrying.
	lastReason string
	lastErr    error
	// failedAt is the source's cursor when it last failed: a retried
	// source is ok again only once its cursor has passed it (a failure
	// on one window holds the cursor back until that window is read).
	failedAt time.Time
	// polled is set once a window of the source completed in this process.
	polled bool
}

// New builds the service from cfg, which must have passed Validate. It
// connects to Kafka and checks every source's topic (creating it when
// KAFKA_TOPIC_CREATE is set) and opens the checkpoint store, so that a bad
// broker address, a missing topic or a checkpoint file in use fail here,
// with a clear error.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *Service, err error) {
	if opts.Command == "" {
		opts.Command = config.CommandRun
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Registry == nil {
		opts.Registry = telemetry.NewRegistry()
	}
	if opts.SourceRetry <= 0 {
		opts.SourceRetry = DefaultSourceRetry
	}
	if opts.SourceRetryMax <= 0 {
		opts.SourceRetryMax = DefaultSourceRetryMax
	}
	opts.SourceRetryMax = max(opts.SourceRetryMax, opts.SourceRetry)
	if opts.Command == config.CommandBackfill && (opts.From.IsZero() || !opts.To.After(opts.From)) {
		return nil, fmt.Errorf("backfill needs --from before --to, got %s and %s", opts.From.Format(time.RFC3339), opts.To.Format(time.RFC3339))
	}
	confs := cfg.Sources()
	s := &Service{cfg: cfg, opts: opts, log: opts.Logger, byID: map[string]*source{}, running: map[string]*poller.Poller{}, memory: poller.NewMemoryBudget(0)}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	ids := make([]string, 0, len(confs))
	for _, c := range confs {
		ids = append(ids, c.ID)
	}
	s.metrics = telemetry.New(opts.Registry, telemetry.WithClock(opts.Clock), telemetry.WithSources(ids...))
	s.health = telemetry.NewHealth(opts.Clock)
	s.health.Require(telemetry.CheckAuth, 0)
	s.health.Require(telemetry.CheckKafka, 0)
	s.health.Require(telemetry.CheckPoll, pollMaxAge(cfg))
	s.health.Set(telemetry.CheckAuth, nil)
	s.pipeline = telemetry.NewPipeline(s.metrics, s.health, s.log)

	s.transport, err = publishConfig(cfg, cfg.Checkpoint.Topic, s.pipeline, s.log).Transport()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	files := make([]checkpoint.File, len(confs))
	for i, c := range confs {
		files[i] = checkpointFile(cfg, opts, c)
	}
	s.store, err = checkpoint.Open(ctx, checkpointSpec(cfg, files, s.transport, s.log))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	_, shared := s.fencing()

	if s.schemas, err = registerSchemas(ctx, cfg, eventTopics(confs), s.log); err != nil {
		return nil, err
	}
	pubs := map[string]*publish.Publisher{}
	for i, c := range confs {
		src, err := s.newSource(ctx, c, files[i].Source, s.observer(c.ID), pubs)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", c.ID, err)
		}
		s.sources = append(s.sources, src)
		s.byID[c.ID] = src
	}
	s.health.Set(telemetry.CheckKafka, nil)
	if !shared {
		s.health.SetOwnership(telemetry.Ownership{Sources: ids, Owned: ids})
		for _, id := range ids {
			s.metrics.SourceOwned.WithLabelValues(id).Set(1)
		}
	}
	if opts.ServeHTTP {
		s.http = telemetry.NewServer(cfg.HTTP.Addr, opts.Registry, s.health, s.log)
		if err := s.http.Start(); err != nil {
			return nil, fmt.Errorf("http server on %s: %w", cfg.HTTP.Addr, err)
		}
	}
	return s, nil
}

// observer returns what source id's client, publisher and poller report
// to: the pipeline bound to the source, wrapped by Options.Observe.
func (s *Service) observer(id string) poller.Observer {
	var o poller.Observer = s.pipeline.ForSource(id)
	if s.opts.Observe != nil {
		o = s.opts.Observe(o)
	}
	return o
}

// fencing returns the store's fencing capability when `run` shares the
// sources with other replicas: when the store has it.
func (s *Service) fencing() (checkpoint.Fencing, bool) {
	f, ok := s.store.(checkpoint.Fencing)
	return f, ok && s.opts.Command == config.CommandRun
}

// newSource builds the pipeline of one source, whose checkpoint is filed
// under id, sharing a publisher with the sources already built that write
// to the same topic.
func (s *Service) newSource(ctx context.Context, c config.Source, id string, obs poller.Observer, pubs map[string]*publish.Publisher) (*source, error) {
	cfg, opts := s.cfg, s.opts
	budget := poller.NewBudget(c.Jelou.RateLimit, c.Jelou.RateBurst)
	jcfg := clientConfig(c.Jelou, budget, obs, opts.HTTPClient, s.log)
	jcfg.BodyBudget = s.memory
	client, err := jelou.New(jcfg)
	if err != nil {
		return nil, fmt.Errorf("jelou client: %w", err)
	}
	pub := pubs[c.Topic]
	if pub == nil {
		pub, err = publish.New(ctx, publishConfig(cfg, c.Topic, obs, s.log))
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		pubs[c.Topic] = pub
		s.pubs = append(s.pubs, pub)
	}
	dlq, err := s.deadLetters(ctx, obs, pubs)
	if err != nil {
		return nil, err
	}
	pcfg := poller.Config{
		Source:             id,
		Start:              cfg.Poll.StartAt.Resolve(opts.Clock.Now()),
		Window:             cfg.Poll.Window,
		Interval:           cfg.Poll.Interval,
		Lag:                cfg.Poll.Lag,
		Settle:             cfg.Poll.Settle,
		Reread:             poller.Reread(cfg.Poll.SettleReread),
		SettleHot:          cfg.Poll.SettleHot,
		MinActive:          cfg.Poll.MinActive,
		Freshness:          cfg.Poll.Freshness,
		PageSize:           c.Jelou.PageSize,
		Budget:             budget,
		Memory:             s.memory,
		Revisit:            cfg.Poll.Revisit,
		RevisitInterval:    cfg.Poll.RevisitInterval,
		Concurrency:        cfg.Poll.Concurrency,
		MaxPages:           cfg.Poll.MaxPages,
		MinWindow:          cfg.Poll.MinWindow,
		CheckpointInterval: cfg.Checkpoint.Interval,
		PublishTimeout:     cfg.ShutdownTimeout / 2,
		FinalSaveTimeout:   cfg.ShutdownTimeout / 2,
		EventSource:        eventSource(cfg, checkpointID(c)),
		Mode:               eventMode(cfg),
		MaxRecordBytes:     int(cfg.Kafka.BatchBytes),
		Clock:              opts.Clock,
		Logger:             s.log.With("source", c.ID),
		Observer:           obs,
	}
	if dlq != nil {
		pcfg.DeadLetters = dlq
	}
	if ref, ok := s.schemas[c.Topic]; ok {
		pcfg.SchemaID, pcfg.EventSource.DataSchema = ref.ID, ref.URL
		pcfg.StateSchemaID = s.schemas[c.StateTopic].ID
	}
	if err := s.stateAndWatermarks(ctx, c, pub, obs, pubs, &pcfg); err != nil {
		return nil, err
	}
	if opts.Command == config.CommandBackfill {
		pcfg.Start, pcfg.End = opts.From, opts.To
	}
	src := &source{id: c.ID, conf: c, pcfg: pcfg, obs: obs, client: client, pub: pub}
	src.pcfg.Observer = healObserver{Observer: obs, s: s, src: src}
	return src, nil
}

// deadLetters returns the publisher of KAFKA_DLQ_TOPIC, built (checking or
// creating the topic like the event topics) by the first source that asks
// and shared with the others through pubs; nil when the topic is not set.
func (s *Service) deadLetters(ctx context.Context, obs poller.Observer, pubs map[string]*publish.Publisher) (*publish.Publisher, error) {
	topic := s.cfg.Kafka.DLQTopic
	if topic == "" {
		return nil, nil
	}
	if pub := pubs[topic]; pub != nil {
		return pub, nil
	}
	pub, err := publish.New(ctx, publishConfig(s.cfg, topic, obs, s.log))
	if err != nil {
		return nil, fmt.Errorf("kafka dead-letter topic: %w", err)
	}
	pubs[topic] = pub
	s.pubs = append(s.pubs, pub)
	return pub, nil
}

// checkpointSpec is the checkpoint store cfg asks for, keeping files (the
// file backend's) and talking to Kafka through tr. The checkpoint topic's
// replication is CHECKPOINT_TOPIC_REPLICATION, by default the broker's,
// not KAFKA_TOPIC_REPLICATION (1 by default: one broker lost would lose
// every checkpoint).
func checkpointSpec(cfg config.Config, files []checkpoint.File, tr kafka.RoundTripper, log *slog.Logger) checkpoint.Spec {
	return checkpoint.Spec{
		Backend:     cfg.Checkpoint.Backend,
		Files:       files,
		Topic:       cfg.Checkpoint.Topic,
		Brokers:     cfg.Kafka.Brokers,
		Replication: cfg.Checkpoint.TopicReplication,
		Transport:   tr,
		Logger:      log,
	}
}

// checkpointFile is the checkpoint of source c under opts.Command: its id,
// its file (the file backend's) and the fingerprint of its account (base
// URL and client id: a new secret keeps the checkpoint, another client id
// is refused). A backfill keeps its own checkpoint,
// backfill-<hash>.checkpoint beside CHECKPOINT_PATH, so that an interrupted
// one resumes where it stopped and the live cursor is left alone; earlier
// releases named it backfill-backfill-<hash>.checkpoint, which is renamed.
func checkpointFile(cfg config.Config, opts Options, c config.Source) checkpoint.File {
	id := checkpointID(c)
	account := checkpoint.Account(c.Jelou.BaseURL, c.Jelou.ClientID)
	if opts.Command != config.CommandBackfill {
		return checkpoint.File{Source: id, Path: sourcePath(cfg.Checkpoint.Path, c), Account: account}
	}
	id = backfillSource(id, opts.From, opts.To)
	dir := filepath.Dir(cfg.Checkpoint.Path)
	return checkpoint.File{
		Source:  id,
		Path:    filepath.Join(dir, id+".checkpoint"),
		Former:  filepath.Join(dir, "backfill-"+id+".checkpoint"),
		Account: account,
	}
}

// checkpointID is the id a source's checkpoint and events are filed under:
// for the default source, derived from its API URL and client id as before
// sources could be named; for a named source, its id, so that rotating its
// secret keeps its checkpoint. The checkpoint records its account as well
// (checkpointFile): a named source of one id on another account, in
// another deployment on the same topic or after its client id changed, is
// refused its checkpoint rather than resumed from it.
func checkpointID(c config.Source) string {
	if !c.Named {
		return checkpoint.SourceID(c.Jelou.BaseURL, c.Jelou.ClientID)
	}
	return "source-" + c.ID
}

// sourcePath is the checkpoint file of a source: CHECKPOINT_PATH for the
// default source, and for a named one the same name with ".<id>" before
// its extension (/data/jelou-producer.checkpoint becomes
// /data/jelou-producer.acme.checkpoint).
func sourcePath(path string, c config.Source) string {
	if !c.Named {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + c.ID + ext
}

// Source returns the checkpoint id of the first configured source.
func (s *Service) Source() string { return s.sources[0].pcfg.Source }

// Health returns the readiness checks, for tests and the demo.
func (s *Service) Health() *telemetry.Health { return s.health }

// HTTPAddr returns the address of the metrics server, or "" when off.
func (s *Service) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.Addr()
}

// Cursor returns the cursor of the first configured source's poller while
// this replica polls it (the zero time otherwise).
func (s *Service) Cursor() time.Time { return s.CursorOf(s.sources[0].id) }

// CursorOf returns the cursor of source id's poller while this replica
// polls it (the zero time otherwise).
func (s *Service) CursorOf(id string) time.Time {
	s.mu.Lock()
	p := s.running[id]
	s.mu.Unlock()
	if p == nil {
		return time.Time{}
	}
	return p.Cursor()
}

// Run polls until ctx ends (nil), a backfill completes (nil), or an
// unrecoverable error occurs, then drains everything within
// SHUTDOWN_TIMEOUT. With several sources, a source's unrecoverable error
// stops that source alone (see runSource) and Run goes on.
func (s *Service) Run(ctx context.Context) error {
	pingCtx, stopPing := context.WithCancel(ctx)
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		s.pingKafka(pingCtx)
	}()

	var err error
	if f, shared := s.fencing(); shared {
		err = ownership.Run(ctx, s.ownershipConfig(), func(ctx context.Context, l ownership.Lease) error {
			return s.own(ctx, f, l)
		})
	} else {
		err = s.runAll(ctx)
	}
	stopPing()
	<-pingDone

	var auth *jelou.AuthError
	switch {
	case errors.As(err, &auth):
		s.health.Set(telemetry.CheckAuth, err)
		s.log.Error("the Jelou API rejected the credentials; stopping (check the source's client id, secret and auth scheme)", "err", err)
	case err != nil:
		s.log.Error("stopping", "err", err)
	}
	if cerr := s.shutdown(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// runAll polls every source until ctx ends or one fails; a failure stops
// the others (each saves its checkpoint) and is returned.
func (s *Service) runAll(ctx context.Context) error {
	if len(s.sources) == 1 {
		return s.runSource(ctx, s.sources[0], s.store)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(s.sources))
	for _, src := range s.sources {
		go func() {
			err := s.runSource(ctx, src, s.store)
			if err != nil {
				err = fmt.Errorf("source %s: %w", src.id, err)
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for range s.sources {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// own polls a source leased by the group until the lease ends, saving
// through f's view for the lease's generation and member.
func (s *Service) own(ctx context.Context, f checkpoint.Fencing, l ownership.Lease) error {
	src := s.byID[l.Source]
	if src == nil {
		return fmt.Errorf("leased source %q is not configured here", l.Source)
	}
	s.log.Info("taking on source", "source", l.Source, "generation", l.Generation)
	defer s.log.Info("handed source back", "source", l.Source, "generation", l.Generation)
	// Once the poller has stopped (after its final save), the source's
	// lag, backlogs and tracked count stop describing it here.
	defer s.metrics.Standby(l.Source)
	return s.runSource(ctx, src, f.Fenced(checkpoint.Owner{Generation: uint64(l.Generation), Member: l.Member}))
}

// runSource polls src on store until ctx ends (nil, or the final save's
// error) or its failure stops the service (the error; see stopsService).
// Any other failure stops this source alone: the source is held failed
// (source_up 0, /readyz names it), and after Options.SourceRetry, doubled
// by each failure in a row up to SourceRetryMax, a fresh poller is tried with an API client built from
// the source's credentials read again (a rotated *_FILE secret heals it).
// The retried source is on probation (see sourceRetrying): it polls but
// is not ok, nor its failures forgotten, until it has polled without
// failing for the delay that preceded the retry (at least three
// POLL_INTERVALs), so a failure met again shortly after each retry still
// doubles the delay and keeps source_up at 0.
// Within a consumer group the replica keeps the lease meanwhile, so the
// source does not move to a standby that would meet the same failure.
func (s *Service) runSource(ctx context.Context, src *source, store checkpoint.Store) (err error) {
	s.sourcePolling(src)
	defer func() {
		if err == nil || ctx.Err() != nil {
			s.sourceReleased(src)
		}
	}()
	for {
		err := s.runPoller(ctx, src, store)
		if err == nil {
			return nil
		}
		reason := telemetry.SourceFailureReason(err)
		if s.stopsService(src, err) {
			s.metrics.SourceFailed(src.id, reason)
			return err
		}
		if ctx.Err() != nil {
			// Stopping: the final save's failure is Run's; a failure
			// the poller met just before the stop was asked (it
			// returned it, then ctx ended) is the source's, as it
			// would have been a moment earlier.
			var final *poller.FinalSaveError
			if errors.As(err, &final) {
				return err
			}
			s.metrics.SourceFailed(src.id, reason)
			s.log.Error("source failed as the service stopped", "source", src.id, "reason", reason, "err", err)
			return nil
		}
		var delay time.Duration
		for err != nil {
			delay = s.sourceFailed(src, reason, err)
			select {
			case <-ctx.Done():
				return nil
			case <-s.opts.Clock.After(delay):
			}
			if err = s.renewClient(src); err != nil {
				reason = telemetry.FailureAuth
			}
		}
		s.sourceRetrying(src, delay)
	}
}

// stopsService reports whether err, src's poller's failure, stops the
// service instead of src alone. A backfill stops on any failure (it is a
// bounded job, rerun by hand); run stops only when its one source's
// credentials are rejected before any window of it completed: a
// configuration error at start-up, exit 3 as before. Every other failure,
// and a 401 after the source polled (a secret revoked or rotated while
// running), stops the source alone, so that neither the other sources nor
// a standby replica meet it again in a crash loop.
func (s *Service) stopsService(src *source, err error) bool {
	if s.opts.Command != config.CommandRun {
		return true
	}
	src.mu.Lock()
	polled := src.polled
	src.mu.Unlock()
	var auth *jelou.AuthError
	return len(s.sources) == 1 && !polled && errors.As(err, &auth)
}

// runPoller runs a fresh poller of src on store until ctx ends or it fails.
func (s *Service) runPoller(ctx context.Context, src *source, store checkpoint.Store) error {
	src.mu.Lock()
	client := src.client
	src.mu.Unlock()
	p, err := poller.New(src.pcfg, client, src.pub, store)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.running[src.id] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, src.id)
		s.mu.Unlock()
	}()
	err = p.Run(ctx)
	if err != nil {
		src.mu.Lock()
		src.failedAt = p.Cursor()
		src.mu.Unlock()
	}
	return err
}

// renewClient rebuilds src's API client from its credentials read again.
func (s *Service) renewClient(src *source) error {
	src.mu.Lock()
	conf := src.conf
	src.mu.Unlock()
	conf, err := conf.RereadCredentials()
	if err != nil {
		return fmt.Errorf("read credentials again: %w", err)
	}
	client, err := jelou.New(clientConfig(conf.Jelou, src.pcfg.Budget, src.obs, s.opts.HTTPClient, s.log))
	if err != nil {
		return fmt.Errorf("jelou client: %w", err)
	}
	src.mu.Lock()
	src.conf, src.client = conf, client
	src.mu.Unlock()
	return nil
}

// sourcePolling reports src as polled here and ok.
func (s *Service) sourcePolling(src *source) {
	s.metrics.SourceRecovered(src.id)
	s.health.SetSource(telemetry.SourceStatus{Source: src.id, State: telemetry.SourceOK, Since: s.opts.Clock.Now()})
}

// sourceReleased reports src as no longer polled here (its lease ended, or
// Run is stopping): not held failed, and not listed by /readyz. A failure
// that stops the service keeps its state for the end instead.
func (s *Service) sourceReleased(src *source) {
	s.metrics.SourceRecovered(src.id)
	s.health.RemoveSource(src.id)
}

// sourceFailed holds src failed for err, counts it under reason, and
// returns how long to wait before the next try.
func (s *Service) sourceFailed(src *source, reason string, err error) time.Duration {
	src.mu.Lock()
	src.failures++
	n := src.failures
	src.probationEnds, src.lastReason, src.lastErr = time.Time{}, reason, err
	src.mu.Unlock()
	delay := s.opts.SourceRetry
	for i := 1; i < n && delay < s.opts.SourceRetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, s.opts.SourceRetryMax)
	now := s.opts.Clock.Now()
	next := now.Add(delay)
	s.metrics.SourceFailed(src.id, reason)
	s.health.SetSource(telemetry.SourceStatus{
		Source: src.id, State: telemetry.SourceFailed, Reason: reason, Error: err.Error(),
		Since: now, Failures: n, NextRetry: &next,
	})
	s.log.Error("source stopped; the other sources go on, and it is retried", "source", src.id, "reason", reason,
		"failures", n, "retry_in", delay.String(), "err", err)
	return delay
}

// probation is how long a retried source must poll without failing
// before it is ok again: the delay that preceded the retry, and at least
// three POLL_INTERVALs, so that a source failing on the same row or the
// same credentials shortly after each retry is never seen healed.
func (s *Service) probation(delay time.Duration) time.Duration {
	return max(delay, 3*s.cfg.Poll.Interval)
}

// sourceRetrying puts src, retried after delay, on probation: it polls,
// /readyz shows it retrying with its failures and last failure, and
// source_up stays 0 until healObserver sees a window complete after the
// probation ends.
func (s *Service) sourceRetrying(src *source, delay time.Duration) {
	now := s.opts.Clock.Now()
	src.mu.Lock()
	src.probationEnds = now.Add(s.probation(delay))
	n, reason, err := src.failures, src.lastReason, src.lastErr
	src.mu.Unlock()
	st := telemetry.SourceStatus{Source: src.id, State: telemetry.SourceRetrying, Reason: reason, Since: now, Failures: n}
	if err != nil {
		st.Error = err.Error()
	}
	s.health.SetSource(st)
	s.log.Info("retrying source", "source", src.id, "failures", n, "probation", s.probation(delay).String())
}

// healObserver is the observer of a source's poller: it passes everything
// on, and marks a retried source as ok (polling again) at the first window
// of it completed once its probation has ended and its cursor has passed
// where it stood at the failure. A window that cannot be published holds
// the cursor back (commits are ordered), so a source failing on it again
// and again is never seen healed, however long it takes to reach it.
type healObserver struct {
	poller.Observer
	s   *Service
	src *source
}

// QueryDone implements poller.Observer.
func (o healObserver) QueryDone(lane poller.Lane, w jelou.Window, rows, published int, took time.Duration) {
	o.Observer.QueryDone(lane, w, rows, published, took)
	now := o.s.opts.Clock.Now()
	cursor := o.s.CursorOf(o.src.id)
	o.src.mu.Lock()
	o.src.polled = true
	healed := !o.src.probationEnds.IsZero() && !now.Before(o.src.probationEnds) && cursor.After(o.src.failedAt)
	if healed {
		o.src.failures, o.src.probationEnds, o.src.lastReason, o.src.lastErr = 0, time.Time{}, "", nil
	}
	o.src.mu.Unlock()
	if healed {
		o.s.log.Info("source polls again", "source", o.src.id)
		o.s.sourcePolling(o.src)
	}
}

// ownershipConfig maps the configuration to the group's.
func (s *Service) ownershipConfig() ownership.Config {
	cfg := s.cfg
	ids := make([]string, 0, len(s.sources))
	for _, src := range s.sources {
		ids = append(ids, src.id)
	}
	pc := publishConfig(cfg, cfg.Kafka.Topic, nil, s.log)
	dialer, _ := pc.Dialer() // its settings were checked when the publishers were built
	return ownership.Config{
		Brokers: cfg.Kafka.Brokers,
		Dialer:  dialer,
		GroupID: cfg.Group.ID,
		Topic:   cfg.Checkpoint.Topic + ".owners",
		// Internal like the checkpoint topic beside it: created alike.
		Replication:       cfg.Checkpoint.TopicReplication,
		Sources:           ids,
		SessionTimeout:    cfg.Group.SessionTimeout,
		HeartbeatInterval: cfg.Group.HeartbeatInterval,
		// The coordinator waits this long for members to rejoin: enough
		// for every owner's final save.
		RebalanceTimeout: 2 * cfg.ShutdownTimeout,
		Logger:           s.log,
		Observer:         ownershipView{s: s, ids: ids},
	}
}

// ownershipView feeds what the group assigned to the metrics and /readyz.
type ownershipView struct {
	s   *Service
	ids []string
}

// Assigned implements ownership.Observer.
func (v ownershipView) Assigned(generation int64, member string, owned []string) {
	m, h := v.s.metrics, v.s.health
	m.GroupGeneration.Set(float64(generation))
	for _, id := range v.ids {
		m.SourceOwned.WithLabelValues(id).Set(0)
	}
	for _, id := range owned {
		m.SourceOwned.WithLabelValues(id).Set(1)
	}
	h.SetOwnership(telemetry.Ownership{Group: v.s.cfg.Group.ID, Generation: generation, Member: member, Sources: v.ids, Owned: owned})
	if len(owned) == 0 {
		// A standby polls nothing: its poll check must not go stale.
		h.Require(telemetry.CheckPoll, 0)
		h.Set(telemetry.CheckPoll, nil)
	} else {
		h.Require(telemetry.CheckPoll, pollMaxAge(v.s.cfg))
	}
}

// shutdown flushes and closes the writer and store and stops the HTTP
// server within SHUTDOWN_TIMEOUT.
func (s *Service) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http server: %w", err))
		}
		s.http = nil
	}
	errs = append(errs, s.closeAll())
	return errors.Join(errs...)
}

func (s *Service) closeAll() error {
	var errs []error
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close checkpoint store: %w", err))
		}
		s.store = nil
	}
	if s.transport != nil {
		s.transport.CloseIdleConnections()
		s.transport = nil
	}
	for _, pub := range s.pubs {
		if err := pub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("flush kafka writer: %w", err))
		}
	}
	s.pubs = nil
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
		s.http = nil
	}
	return errors.Join(errs...)
}

// pingKafka refreshes the kafka readiness check every 10 seconds, so that
// an idle service notices a broker that went away.
func (s *Service) pingKafka(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.pubs[0].Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.health.Set(telemetry.CheckKafka, err)
	}
}

// pollMaxAge is how long without a completed window before /readyz fails.
func pollMaxAge(cfg config.Config) time.Duration {
	return max(3*cfg.Poll.Interval, 5*time.Minute)
}

// clientConfig maps the configuration to the API client's. The client's
// requests take their tokens from budget, which serves the live lane first.
func clientConfig(j config.Jelou, budget *poller.Budget, obs jelou.Observer, hc *http.Client, log *slog.Logger) jelou.Config {
	return jelou.Config{
		BaseURL:      j.BaseURL,
		Credentials:  jelou.Credentials{ClientID: j.ClientID, ClientSecret: j.ClientSecret},
		AuthScheme:   jelou.AuthScheme(j.AuthScheme),
		PageSize:     j.PageSize,
		Location:     j.Timezone.Location(),
		Limiter:      budget,
		Timeout:      j.Timeout,
		MaxBodyBytes: int64(j.MaxBodyBytes),
		Retry:        jelou.RetryConfig{MaxElapsedTime: j.MaxRetryTime},
		Version:      buildinfo.Get(),
		HTTPClient:   hc,
		Observer:     obs,
		Logger:       log,
	}
}

// publishConfig maps the configuration to the publisher's for topic.
func publishConfig(cfg config.Config, topic string, obs publish.Observer, log *slog.Logger) publish.Config {
	k := cfg.Kafka
	return publish.Config{
		Brokers:          k.Brokers,
		Topic:            topic,
		ClientID:         k.ClientID,
		Compression:      k.Compression,
		Partitioner:      k.Partitioner,
		BatchSize:        k.BatchSize,
		BatchBytes:       int64(k.BatchBytes),
		Linger:           k.Linger,
		WriteTimeout:     k.WriteTimeout,
		TopicCreate:      k.TopicCreate,
		TopicPartitions:  k.TopicPartitions,
		TopicReplication: k.TopicReplication,
		TopicConfig:      k.TopicConfig,
		TLS: publish.TLSConfig{
			Enabled: k.KafkaTLS.Enabled, CAFile: k.KafkaTLS.CAFile, CertFile: k.KafkaTLS.CertFile,
			KeyFile: k.KafkaTLS.KeyFile, ServerName: k.KafkaTLS.ServerName, InsecureSkipVerify: k.KafkaTLS.InsecureSkipVerify,
		},
		SASL: publish.SASLConfig{
			Mechanism: k.KafkaSASL.Mechanism, Username: k.KafkaSASL.Username, Password: k.KafkaSASL.Password.Reveal(),
		},
		Observer: obs,
		Logger:   log,
	}
}

// backfillSource is the checkpoint id of one backfill range of a source.
func backfillSource(source string, from, to time.Time) string {
	sum := sha256.Sum256([]byte(source + "\x00" + from.UTC().Format(time.RFC3339) + "\x00" + to.UTC().Format(time.RFC3339)))
	return "backfill-" + hex.EncodeToString(sum[:8])
}

func eventSource(cfg config.Config, source string) event.Source {
	if cfg.EventSource != "" {
		return event.Source{URI: cfg.EventSource}
	}
	return event.NewSource(source)
}

func eventMode(cfg config.Config) event.Mode {
	m, err := event.ParseMode(cfg.Kafka.EventMode)
	if err != nil {
		return event.Structured
	}
	return m
}
