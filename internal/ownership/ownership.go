package ownership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
)

// Defaults of [Config].
const (
	DefaultGroupID           = "jelou-producer"
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
)

// Config configures [Run]. Zero durations take the defaults.
type Config struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Dialer carries TLS and SASL for the group's connections and for the
	// admin requests that create the assignment topic; nil dials plain TCP.
	Dialer *kafka.Dialer
	// GroupID names the consumer group; replicas sharing sources share it.
	GroupID string
	// Topic is the assignment topic (created when missing).
	Topic string
	// Replication is the assignment topic's replication factor when it is
	// created; 0 means the broker's default.
	Replication int
	// Sources are the ids this replica serves.
	Sources []string
	// SessionTimeout is how long the coordinator waits for a silent member
	// before giving its sources to others.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member checks in; a member that
	// lost its sources learns it at its next heartbeat.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for members to
	// rejoin, so it must cover an owner's final checkpoint save.
	RebalanceTimeout time.Duration
	// Logger receives membership changes. Default: discard.
	Logger *slog.Logger
	// Observer is told each generation's assignment. Optional.
	Observer Observer
}

// Observer is told what this replica owns.
type Observer interface {
	// Assigned is called at the start of every generation with the
	// sources this replica owns in it (empty for a standby).
	Assigned(generation int64, member string, owned []string)
}

// Lease is one source owned for one generation.
type Lease struct {
	// Source is the source id.
	Source string
	// Generation is the group generation that granted it; it only grows
	// while the group exists.
	Generation int64
	// Member is this replica's member id in the group.
	Member string
}

// OwnFunc polls one source for as long as ctx lasts: when ctx ends (the
// generation ended or Run is stopping) it must stop fetching, flush, save
// its checkpoint and return nil. An error it returns before ctx ends is
// fatal: Run stops every source and returns it.
type OwnFunc func(ctx context.Context, lease Lease) error

// ErrNoSources is returned by Run when Config.Sources is empty.
var ErrNoSources = errors.New("ownership: no sources to serve")

// Run joins the group and, for every generation, calls own once per
// source this replica was assigned, until ctx ends (nil, after every owner
// function returned and the replica left the group) or an owner function
// fails (its error).
func Run(ctx context.Context, cfg Config, own OwnFunc) error {
	cfg = cfg.withDefaults()
	if len(cfg.Sources) == 0 {
		return ErrNoSources
	}
	if err := ensureTopic(ctx, cfg); err != nil {
		return err
	}
	sorted := slices.Clone(cfg.Sources)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)

	var mu sync.Mutex
	var owned []string
	var ownedGen int64
	bal := Balancer{topic: cfg.Topic, data: func() memberData {
		mu.Lock()
		defer mu.Unlock()
		return memberData{Sources: sorted, Owned: slices.Clone(owned), Generation: ownedGen}
	}, shared: func(others []string) {
		cfg.Logger.Warn("consumer group is shared with other deployments: each keeps its own sources, but every join or leave of one pauses all; give each deployment its own GROUP_ID",
			"group", cfg.GroupID, "topic", cfg.Topic, "other_topics", others)
	}}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.GroupID,
		Brokers:           cfg.Brokers,
		Dialer:            cfg.Dialer,
		Topics:            []string{cfg.Topic},
		GroupBalancers:    []kafka.GroupBalancer{bal},
		HeartbeatInterval: cfg.HeartbeatInterval,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset,
		Timeout:           10 * time.Second,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { cfg.Logger.Debug("consumer group: " + fmt.Sprintf(f, a...)) }),
	})
	if err != nil {
		return fmt.Errorf("join group %s: %w", cfg.GroupID, err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var fatalOnce sync.Once
	var fatal error
	fail := func(err error) {
		fatalOnce.Do(func() { fatal = err; stop() })
	}
	for {
		gen, err := cg.Next(runCtx)
		if runCtx.Err() != nil {
			break
		}
		if err != nil {
			// Joining failed (coordinator moving, broker down): kafka-go
			// retries on its own; say so and wait for the next one.
			cfg.Logger.Warn("consumer group: no generation yet, retrying", "group", cfg.GroupID, "err", err)
			continue
		}
		mine := sourcesOf(gen.Assignments[cfg.Topic], sorted)
		mu.Lock()
		owned, ownedGen = mine, int64(gen.ID)
		mu.Unlock()
		cfg.Logger.Info("sources assigned", "group", cfg.GroupID, "generation", gen.ID, "member", gen.MemberID, "owned", mine)
		if cfg.Observer != nil {
			cfg.Observer.Assigned(int64(gen.ID), gen.MemberID, mine)
		}
		for _, src := range mine {
			lease := Lease{Source: src, Generation: int64(gen.ID), Member: gen.MemberID}
			gen.Start(func(gctx context.Context) {
				if err := own(gctx, lease); err != nil && gctx.Err() == nil {
					fail(fmt.Errorf("source %s: %w", src, err))
				}
			})
		}
	}
	// Close ends the generation, waits for every owner function (their
	// final saves) and only then leaves the group.
	cerr := cg.Close()
	if cfg.Observer != nil {
		cfg.Observer.Assigned(0, "", nil)
	}
	if fatal != nil {
		return fatal
	}
	if cerr != nil && !errors.Is(cerr, kafka.ErrGroupClosed) {
		cfg.Logger.Warn("leave group", "group", cfg.GroupID, "err", cerr)
	}
	return nil
}

// sourcesOf maps assigned partitions back to source ids (indexes into this
// member's sorted list); an index out of range is ignored.
func sourcesOf(parts []kafka.PartitionAssignment, sorted []string) []string {
	var out []string
	for _, p := range parts {
		if p.ID >= 0 && p.ID < len(sorted) {
			out = append(out, sorted[p.ID])
		}
	}
	slices.Sort(out)
	return out
}

func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ensureTopic creates the assignment topic, or adds partitions to it, so
// that it has one partition per source of this replica.
func ensureTopic(ctx context.Context, cfg Config) error {
	// A transport of its own: one built for another topic caches metadata
	// of that topic only, in which the assignment topic never appears.
	tr := &kafka.Transport{}
	if d := cfg.Dialer; d != nil {
		tr = &kafka.Transport{ClientID: d.ClientID, DialTimeout: d.Timeout, TLS: d.TLS, SASL: d.SASLMechanism}
	}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second}
	want := max(len(cfg.Sources), 1)
	t, err := kafkaadmin.EnsureTopic(ctx, client, kafkaadmin.Spec{Name: cfg.Topic, Partitions: want, Replication: cfg.Replication})
	if err != nil {
		return fmt.Errorf("assignment topic %s: %w", cfg.Topic, err)
	}
	if have := t.Partitions; have < want {
		res, err := client.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{
			Name: cfg.Topic, Count: int32(want),
		}}})
		if err == nil {
			err = res.Errors[cfg.Topic]
		}
		if err != nil && !errors.Is(err, kafka.InvalidPartitionNumber) {
			return fmt.Errorf("assignment topic %s: grow from %d to %d partitions: %w", cfg.Topic, have, want, err)
		}
	}
	return nil
}
