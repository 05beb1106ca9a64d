package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// NewFetcher returns the poller.Fetcher the service uses: client's
// FetchWindowLimit, counting fetched rows in m.
func NewFetcher(client *jelou.Client, m *telemetry.Metrics) poller.Fetcher {
	return clientFetcher{client: client, metrics: m}
}

// NewPublisher returns the poller.Publisher the service uses: each emission
// becomes a CloudEvent of source in the given mode, keyed by company id,
// written by pub; counts go to m, encoding failures to logger.
func NewPublisher(pub *publish.Publisher, source event.Source, mode event.Mode, m *telemetry.Metrics, logger *slog.Logger) poller.Publisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &eventPublisher{pub: pub, source: source, mode: mode, metrics: m, logger: logger}
}

// clientFetcher adapts *jelou.Client to poller.Fetcher.
type clientFetcher struct {
	client  *jelou.Client
	metrics *telemetry.Metrics
}

// Fetch fetches every page of w, stopping after the first page with a
// *poller.TooLargeError when the window needs more than maxPages pages.
func (f clientFetcher) Fetch(ctx context.Context, w jelou.Window, maxPages int) (poller.Result, error) {
	res, err := f.client.FetchWindowLimit(ctx, w, maxPages)
	var tooMany *jelou.TooManyPagesError
	if errors.As(err, &tooMany) {
		f.metrics.ConversationsFetched.Add(float64(len(tooMany.Received)))
		return poller.Result{}, &poller.TooLargeError{Window: w, Total: tooMany.Total, Pages: tooMany.Pages, Received: tooMany.Received}
	}
	if res != nil {
		f.metrics.ConversationsFetched.Add(float64(len(res.Conversations)))
	}
	if err != nil {
		if res == nil {
			return poller.Result{}, err
		}
		return poller.Result{Rows: res.Conversations, Pages: res.Pages}, err // rows before the failure
	}
	out := poller.Result{Rows: res.Conversations, Pages: res.Pages}
	if res.Drift.Detected() {
		out.Drift = res.Drift.String()
	}
	return out, nil
}

// eventPublisher adapts *publish.Publisher to poller.Publisher: it turns
// each emission into a CloudEvent record keyed by company id.
type eventPublisher struct {
	pub     *publish.Publisher
	source  event.Source
	mode    event.Mode
	metrics *telemetry.Metrics
	logger  *slog.Logger
}

// Publish encodes and writes the batch. A row that cannot be encoded (its
// raw JSON is not valid, which the decoder should have prevented) is left
// out, logged and counted as rejected instead of blocking the stream.
func (p *eventPublisher) Publish(ctx context.Context, batch []poller.Emission) error {
	records := make([]event.Record, 0, len(batch))
	fallbacks := 0
	for _, e := range batch {
		ev := event.New(p.source, e.Conversation, e.Previous, e.Window, e.Observed)
		rec, err := ev.Record(p.mode)
		if err != nil {
			p.metrics.RowsRejected.WithLabelValues("unencodable").Inc()
			p.logger.Error("row cannot be encoded as an event; skipped", "conversation", e.Conversation.ID, "state", string(e.Conversation.State), "err", err)
			continue
		}
		if _, fallback := ev.Key(); fallback {
			fallbacks++
		}
		records = append(records, rec)
	}
	if len(records) == 0 {
		return nil
	}
	if err := p.pub.Publish(ctx, records); err != nil {
		return fmt.Errorf("publish %d records: %w", len(records), err)
	}
	p.metrics.KeyFallback.Add(float64(fallbacks))
	for _, e := range batch {
		p.metrics.EventsPublished.WithLabelValues(telemetry.StateLabel(e.Conversation.State)).Inc()
	}
	return nil
}
