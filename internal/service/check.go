package service

import (
	"github.com/jelou-producer/jelou-producer/internal/poller"

	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Check verifies what `jelou-producer check` promises, for every
// configured source: the API answers its credentials (one page of the last
// hour), its topic exists and is describable, and its checkpoint can be
// read; that KAFKA_DLQ_TOPIC, when set, exists; that the state and
// watermark topics, when set, exist and are compacted; and, with
// SCHEMA_REGISTRY_URL, that each event topic's value subject holds the
// schema or would take it (a refusal wraps *registry.RejectedError). It
// writes one line per finding to out and returns the failures,
// wrapped; an authentication failure wraps *jelou.AuthError. It never
// publishes nor creates anything.
func Check(ctx context.Context, cfg config.Config, out io.Writer) error {
	var errs []error
	sources := cfg.Sources()
	for _, src := range sources {
		name := ""
		if src.Named {
			name = "source " + src.ID + ": "
		}
		if err := checkSource(ctx, cfg, src, name, out); err != nil {
			errs = append(errs, err)
		}
	}
	if topic := cfg.Kafka.DLQTopic; topic != "" {
		if info, err := publish.Check(ctx, publishConfig(cfg, topic, nil, nil)); err != nil {
			fmt.Fprintf(out, "FAIL  Kafka %v: dead-letter topic: %v\n", cfg.Kafka.Brokers, err)
			errs = append(errs, fmt.Errorf("kafka dead-letter topic: %w", err))
		} else {
			fmt.Fprintf(out, "ok    Kafka %v: dead-letter topic %q has %d partitions\n", cfg.Kafka.Brokers, info.Topic, info.Partitions)
		}
	}
	if err := checkRegistry(ctx, cfg, eventTopics(sources), out); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkCompactedTopics(ctx, cfg, out)...)
	if len(errs) == 0 {
		fmt.Fprintf(out, "ok    jelou-producer %s is ready to run (%d source(s), first %s)\n", buildinfo.Get(), len(sources), checkpointID(sources[0]))
	}
	return errors.Join(errs...)
}

// checkSource checks one source; name prefixes its lines.
func checkSource(ctx context.Context, cfg config.Config, src config.Source, name string, out io.Writer) error {
	var errs []error
	jc := clientConfig(src.Jelou, poller.NewBudget(src.Jelou.RateLimit, src.Jelou.RateBurst), nil, nil, nil)
	jc.Retry.MaxAttempts = 1 // say what is wrong now; no retry storm
	client, err := jelou.New(jc)
	if err == nil {
		now := time.Now().Truncate(time.Second)
		w := jelou.Window{Start: now.Add(-time.Hour), End: now}
		var page *jelou.Page
		page, err = client.FetchPage(ctx, w, 1)
		if err == nil {
			fmt.Fprintf(out, "ok    %sJelou API %s: credentials accepted (%s scheme); %d conversations in the last hour\n",
				name, jelou.RedactURL(src.Jelou.BaseURL), src.Jelou.AuthScheme, page.Pagination.Total)
		}
	}
	if err != nil {
		fmt.Fprintf(out, "FAIL  %sJelou API %s: %v\n", name, jelou.RedactURL(src.Jelou.BaseURL), err)
		errs = append(errs, fmt.Errorf("%sjelou api: %w", name, err))
	}

	pc := publishConfig(cfg, src.Topic, nil, nil)
	info, err := publish.Check(ctx, pc)
	if err != nil {
		fmt.Fprintf(out, "FAIL  %sKafka %v: %v\n", name, cfg.Kafka.Brokers, err)
		errs = append(errs, fmt.Errorf("%skafka: %w", name, err))
	} else {
		fmt.Fprintf(out, "ok    %sKafka %v: topic %q has %d partitions\n", name, cfg.Kafka.Brokers, info.Topic, info.Partitions)
	}

	if err := checkCheckpoint(ctx, cfg, pc, src, name, out); err != nil {
		errs = append(errs, fmt.Errorf("%scheckpoint: %w", name, err))
	}
	return errors.Join(errs...)
}

// checkCheckpoint loads the checkpoint of src, read-only: check must work
// beside a running producer, which holds the file's lock. The kafka
// backend talks to the brokers with the publisher's security settings on a
// transport of its own.
func checkCheckpoint(ctx context.Context, cfg config.Config, pc publish.Config, src config.Source, name string, out io.Writer) error {
	id := checkpointID(src)
	spec := checkpointSpec(cfg, []checkpoint.File{checkpointFile(cfg, Options{Command: config.CommandCheck}, src)}, nil, pc.Logger)
	spec.ReadOnly = true
	where := spec.Where(id)
	pc.Topic = cfg.Checkpoint.Topic
	tr, err := pc.Transport()
	var store checkpoint.Store
	if err == nil {
		defer tr.CloseIdleConnections()
		spec.Transport = tr
		store, err = checkpoint.Open(ctx, spec)
	}
	if err != nil {
		fmt.Fprintf(out, "FAIL  %scheckpoint %s: %v\n", name, where, err)
		return err
	}
	defer store.Close()
	cp, err := store.Load(ctx, id)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		fmt.Fprintf(out, "ok    %scheckpoint %s: none yet; the first run starts at POLL_START_AT (%s)\n", name, where, cfg.Poll.StartAt)
		return nil
	case err != nil:
		fmt.Fprintf(out, "FAIL  %scheckpoint %s: %v\n", name, where, err)
		return err
	}
	fmt.Fprintf(out, "ok    %scheckpoint %s: cursor %s, saved %s, %d bytes of dedupe state\n",
		name, where, cp.Cursor.UTC().Format(time.RFC3339), cp.SavedAt.UTC().Format(time.RFC3339), len(cp.Dedupe))
	return nil
}

// checkCompactedTopics checks that every state topic of the sources and
// KAFKA_WATERMARK_TOPIC, when set, exist and are compacted.
func checkCompactedTopics(ctx context.Context, cfg config.Config, out io.Writer) []error {
	var topics []string
	what := map[string]string{}
	for _, src := range cfg.Sources() {
		if t := src.StateTopic; t != "" && what[t] == "" {
			topics, what[t] = append(topics, t), "state"
		}
	}
	if t := cfg.Kafka.WatermarkTopic; t != "" && what[t] == "" {
		topics, what[t] = append(topics, t), "watermark"
	}
	var errs []error
	for _, t := range topics {
		pc := publishConfig(cfg, t, nil, nil)
		info, err := publish.Check(ctx, pc)
		if err == nil {
			err = publish.CheckCompacted(ctx, pc)
		}
		if err != nil {
			fmt.Fprintf(out, "FAIL  Kafka %v: %s topic: %v\n", cfg.Kafka.Brokers, what[t], err)
			errs = append(errs, fmt.Errorf("kafka %s topic: %w", what[t], err))
			continue
		}
		fmt.Fprintf(out, "ok    Kafka %v: %s topic %q has %d partitions and is compacted\n", cfg.Kafka.Brokers, what[t], info.Topic, info.Partitions)
	}
	return errs
}
