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
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/config"
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
	// Observe, when set, wraps the service's observer (telemetry's
	// Pipeline) for progress views: embed the one it is given and call
	// through from each method you override.
	Observe func(poller.Observer) poller.Observer
	// ServeHTTP starts the metrics and health server on HTTP_ADDR.
	ServeHTTP bool
}

// Service is one running source: API client, poller, publisher, checkpoint
// store and telemetry. Create it with New, then call Run once.
type Service struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	metrics *telemetry.Metrics
	health  *telemetry.Health
	http    *telemetry.Server
	pub     *publish.Publisher
	store   checkpoint.Store
	poller  *poller.Poller
	source  string
}

// New builds the service from cfg, which must have passed Validate. It
// connects to Kafka and checks the topic (creating it when
// KAFKA_TOPIC_CREATE is set) and opens the checkpoint store, so that a bad
// broker address or a missing topic fail here, with a clear error.
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
	s := &Service{cfg: cfg, opts: opts, log: opts.Logger}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	s.metrics = telemetry.New(opts.Registry, telemetry.WithClock(opts.Clock))
	s.health = telemetry.NewHealth(opts.Clock)
	s.health.Require(telemetry.CheckAuth, 0)
	s.health.Require(telemetry.CheckKafka, 0)
	s.health.Require(telemetry.CheckPoll, pollMaxAge(cfg))
	s.health.Set(telemetry.CheckAuth, nil)
	var obs poller.Observer = telemetry.NewPipeline(s.metrics, s.health, s.log)
	if opts.Observe != nil {
		obs = opts.Observe(obs)
	}

	budget := poller.NewBudget(cfg.Jelou.RateLimit, cfg.Jelou.RateBurst)
	client, err := jelou.New(clientConfig(cfg, budget, obs, opts.HTTPClient, s.log))
	if err != nil {
		return nil, fmt.Errorf("jelou client: %w", err)
	}

	pc := publishConfig(cfg, obs, s.log)
	s.pub, err = publish.New(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	s.health.Set(telemetry.CheckKafka, nil)

	s.source = checkpoint.SourceID(cfg.Jelou.BaseURL, cfg.Jelou.ClientID)
	pcfg := poller.Config{
		Source:             s.source,
		Start:              cfg.Poll.StartAt.Resolve(opts.Clock.Now()),
		Window:             cfg.Poll.Window,
		Interval:           cfg.Poll.Interval,
		Lag:                cfg.Poll.Lag,
		Settle:             cfg.Poll.Settle,
		Reread:             poller.Reread(cfg.Poll.SettleReread),
		SettleHot:          cfg.Poll.SettleHot,
		PageSize:           cfg.Jelou.PageSize,
		Budget:             budget,
		Revisit:            cfg.Poll.Revisit,
		RevisitInterval:    cfg.Poll.RevisitInterval,
		Concurrency:        cfg.Poll.Concurrency,
		MaxPages:           cfg.Poll.MaxPages,
		MinWindow:          cfg.Poll.MinWindow,
		CheckpointInterval: cfg.Checkpoint.Interval,
		PublishTimeout:     cfg.ShutdownTimeout / 2,
		FinalSaveTimeout:   cfg.ShutdownTimeout / 2,
		EventSource:        eventSource(cfg, s.source),
		Mode:               eventMode(cfg),
		Clock:              opts.Clock,
		Logger:             s.log,
		Observer:           obs,
	}
	storePath := cfg.Checkpoint.Path
	if opts.Command == config.CommandBackfill {
		if opts.From.IsZero() || !opts.To.After(opts.From) {
			return nil, fmt.Errorf("backfill needs --from before --to, got %s and %s", opts.From.Format(time.RFC3339), opts.To.Format(time.RFC3339))
		}
		// A backfill keeps its own checkpoint, so that an interrupted one
		// resumes where it stopped and the live cursor is left alone.
		pcfg.Start, pcfg.End = opts.From, opts.To
		pcfg.Source = backfillSource(s.source, opts.From, opts.To)
		storePath = filepath.Join(filepath.Dir(cfg.Checkpoint.Path), "backfill-"+pcfg.Source+".checkpoint")
	}
	s.store, err = openStore(ctx, cfg, storePath, pc)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	s.poller, err = poller.New(pcfg, client, s.pub, s.store)
	if err != nil {
		return nil, err
	}
	if opts.ServeHTTP {
		s.http = telemetry.NewServer(cfg.HTTP.Addr, opts.Registry, s.health, s.log)
		if err := s.http.Start(); err != nil {
			return nil, fmt.Errorf("http server on %s: %w", cfg.HTTP.Addr, err)
		}
	}
	return s, nil
}

// Source returns the stable id of the source this service polls.
func (s *Service) Source() string { return s.source }

// Health returns the readiness checks, for tests and the demo.
func (s *Service) Health() *telemetry.Health { return s.health }

// HTTPAddr returns the address of the metrics server, or "" when off.
func (s *Service) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.Addr()
}

// Cursor returns the poller's cursor.
func (s *Service) Cursor() time.Time { return s.poller.Cursor() }

// Run polls until ctx ends (nil), a backfill completes (nil), or an
// unrecoverable error occurs, then drains everything within
// SHUTDOWN_TIMEOUT.
func (s *Service) Run(ctx context.Context) error {
	pingCtx, stopPing := context.WithCancel(ctx)
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		s.pingKafka(pingCtx)
	}()

	err := s.poller.Run(ctx)
	stopPing()
	<-pingDone

	var auth *jelou.AuthError
	switch {
	case errors.As(err, &auth):
		s.health.Set(telemetry.CheckAuth, err)
		s.log.Error("the Jelou API rejected the credentials; stopping (check JELOU_CLIENT_ID, JELOU_CLIENT_SECRET and JELOU_AUTH_SCHEME)", "err", err)
	case err != nil:
		s.log.Error("stopping", "err", err)
	}
	if cerr := s.shutdown(); cerr != nil && err == nil {
		err = cerr
	}
	return err
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
	if s.pub != nil {
		if err := s.pub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("flush kafka writer: %w", err))
		}
		s.pub = nil
	}
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
		err := s.pub.Ping(pctx)
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
func clientConfig(cfg config.Config, budget *poller.Budget, obs jelou.Observer, hc *http.Client, log *slog.Logger) jelou.Config {
	return jelou.Config{
		BaseURL:      cfg.Jelou.BaseURL,
		Credentials:  jelou.Credentials{ClientID: cfg.Jelou.ClientID, ClientSecret: cfg.Jelou.ClientSecret},
		AuthScheme:   jelou.AuthScheme(cfg.Jelou.AuthScheme),
		PageSize:     cfg.Jelou.PageSize,
		Location:     cfg.Jelou.Timezone.Location(),
		Limiter:      budget,
		Timeout:      cfg.Jelou.Timeout,
		MaxBodyBytes: int64(cfg.Jelou.MaxBodyBytes),
		Retry:        jelou.RetryConfig{MaxElapsedTime: cfg.Jelou.MaxRetryTime},
		Version:      buildinfo.Get(),
		HTTPClient:   hc,
		Observer:     obs,
		Logger:       log,
	}
}

// publishConfig maps the configuration to the publisher's.
func publishConfig(cfg config.Config, obs publish.Observer, log *slog.Logger) publish.Config {
	k := cfg.Kafka
	return publish.Config{
		Brokers:          k.Brokers,
		Topic:            k.Topic,
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

// openStore opens the configured checkpoint backend. The kafka backend
// uses the publisher's security settings on a transport of its own.
func openStore(ctx context.Context, cfg config.Config, path string, pc publish.Config) (checkpoint.Store, error) {
	if cfg.Checkpoint.Backend != "kafka" {
		return checkpoint.NewFile(path, checkpoint.WithLogger(pc.Logger))
	}
	pc.Topic = cfg.Checkpoint.Topic
	tr, err := pc.Transport()
	if err != nil {
		return nil, err
	}
	st, err := checkpoint.NewKafka(ctx, checkpoint.KafkaConfig{
		Brokers:     cfg.Kafka.Brokers,
		Topic:       cfg.Checkpoint.Topic,
		Replication: cfg.Kafka.TopicReplication,
		Transport:   tr,
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return closeTransport{st, tr}, nil
}

// closeTransport closes the store, then the transport it was given.
type closeTransport struct {
	checkpoint.Store
	tr interface{ CloseIdleConnections() }
}

func (c closeTransport) Close() error {
	err := c.Store.Close()
	c.tr.CloseIdleConnections()
	return err
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
