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

// Check verifies what `jelou-producer check` promises: the API answers the
// credentials (one page of the last hour), the topic exists and is
// describable, and the checkpoint can be read. It writes one line per
// finding to out and returns the first failure, wrapped; an authentication
// failure wraps *jelou.AuthError. It never publishes nor creates anything.
func Check(ctx context.Context, cfg config.Config, out io.Writer) error {
	var errs []error
	jc := clientConfig(cfg, poller.NewBudget(cfg.Jelou.RateLimit, cfg.Jelou.RateBurst), nil, nil, nil)
	jc.Retry.MaxAttempts = 1 // say what is wrong now; no retry storm
	client, err := jelou.New(jc)
	if err == nil {
		now := time.Now().Truncate(time.Second)
		w := jelou.Window{Start: now.Add(-time.Hour), End: now}
		var page *jelou.Page
		page, err = client.FetchPage(ctx, w, 1)
		if err == nil {
			fmt.Fprintf(out, "ok    Jelou API %s: credentials accepted (%s scheme); %d conversations in the last hour\n",
				cfg.Jelou.BaseURL, cfg.Jelou.AuthScheme, page.Pagination.Total)
		}
	}
	if err != nil {
		fmt.Fprintf(out, "FAIL  Jelou API %s: %v\n", cfg.Jelou.BaseURL, err)
		errs = append(errs, fmt.Errorf("jelou api: %w", err))
	}

	pc := publishConfig(cfg, nil, nil)
	info, err := publish.Check(ctx, pc)
	if err != nil {
		fmt.Fprintf(out, "FAIL  Kafka %v: %v\n", cfg.Kafka.Brokers, err)
		errs = append(errs, fmt.Errorf("kafka: %w", err))
	} else {
		fmt.Fprintf(out, "ok    Kafka %v: topic %q has %d partitions\n", cfg.Kafka.Brokers, info.Topic, info.Partitions)
	}

	source := checkpoint.SourceID(cfg.Jelou.BaseURL, cfg.Jelou.ClientID)
	if err := checkCheckpoint(ctx, cfg, pc, source, out); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", err))
	}
	if len(errs) == 0 {
		fmt.Fprintf(out, "ok    jelou-producer %s is ready to run (source %s)\n", buildinfo.Get(), source)
	}
	return errors.Join(errs...)
}

func checkCheckpoint(ctx context.Context, cfg config.Config, pc publish.Config, source string, out io.Writer) error {
	where := cfg.Checkpoint.Path
	if cfg.Checkpoint.Backend == "kafka" {
		where = "topic " + cfg.Checkpoint.Topic
	}
	store, err := openStore(ctx, cfg, cfg.Checkpoint.Path, pc)
	if err != nil {
		fmt.Fprintf(out, "FAIL  checkpoint %s: %v\n", where, err)
		return err
	}
	defer store.Close()
	cp, err := store.Load(ctx, source)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		fmt.Fprintf(out, "ok    checkpoint %s: none yet; the first run starts at POLL_START_AT (%s)\n", where, cfg.Poll.StartAt)
		return nil
	case err != nil:
		fmt.Fprintf(out, "FAIL  checkpoint %s: %v\n", where, err)
		return err
	}
	fmt.Fprintf(out, "ok    checkpoint %s: cursor %s, saved %s, %d bytes of dedupe state\n",
		where, cp.Cursor.UTC().Format(time.RFC3339), cp.SavedAt.UTC().Format(time.RFC3339), len(cp.Dedupe))
	return nil
}
