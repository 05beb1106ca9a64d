package telemetry

import (
	"log/slog"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Readiness check names, as listed by /readyz.
const (
	CheckKafka = "kafka"      // the broker answers and the last write succeeded
	CheckPoll  = "poll"       // a window completed recently
	CheckAuth  = "jelou_auth" // the API has not rejected the credentials
)

// Pipeline implements [poller.Observer], the one interface through which
// the API client, the Kafka writer and the poller report what they do: it
// feeds the metrics and the readiness checks. Safe for concurrent use.
//
// A pipeline reports for one source (the source label of the per-source
// gauges): give each source's poller its own from [Pipeline.ForSource].
type Pipeline struct {
	*Metrics
	health *Health
	log    *slog.Logger
	source string
}

var _ poller.Observer = (*Pipeline)(nil)

// NewPipeline returns the observer feeding m and h. h and log may be nil.
func NewPipeline(m *Metrics, h *Health, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{Metrics: m, health: h, log: log}
}

// ForSource returns a pipeline feeding the same metrics and checks that
// reports the per-source gauges under source.
func (p *Pipeline) ForSource(source string) *Pipeline {
	c := *p
	c.source = source
	return &c
}

func (p *Pipeline) setHealth(check string, err error) {
	if p.health != nil {
		p.health.Set(check, err)
	}
}

// Request implements [jelou.Observer]: it counts the attempt under the
// source's label (see [Metrics.RequestOf]) and, when a 429's Retry-After
// paused the source's requests, the pause and its length.
func (p *Pipeline) Request(ri jelou.RequestInfo) {
	p.RequestOf(p.source, ri)
	if ri.Pause > 0 {
		p.RateLimitedPauses.WithLabelValues(p.source).Inc()
		p.RateLimitedPauseSeconds.WithLabelValues(p.source).Add(ri.Pause.Seconds())
	}
}

// Retry implements [jelou.Observer]: it counts the retry under the source's
// label (see [Metrics.RetryOf]).
func (p *Pipeline) Retry(ri jelou.RetryInfo) { p.RetryOf(p.source, ri) }

// ObservePublish implements [publish.Observer]: it observes the produce
// call's duration and counts a failure by kind.
func (p *Pipeline) ObservePublish(o publish.Observation) {
	p.KafkaWriteDuration.Observe(o.Duration.Seconds())
	if o.Err != nil {
		p.KafkaWriteErrors.WithLabelValues(string(o.Kind)).Inc()
	}
}

// QueryDone counts a completed window by lane (a Revisit lane's also in
// revisits_total), records its time and marks polling healthy.
func (p *Pipeline) QueryDone(lane poller.Lane, _ jelou.Window, _, _ int, _ time.Duration) {
	p.WindowsCompleted.WithLabelValues(lane.String()).Inc()
	p.PollSucceeded(p.source)
	if lane.Spec().Revisit {
		p.Revisits.Inc()
	}
	p.setHealth(CheckPoll, nil)
}

// Published counts the acknowledged events by state and those sent under
// the fallback key, and marks Kafka healthy.
func (p *Pipeline) Published(batch []poller.Emission) {
	fallbacks := 0
	for _, e := range batch {
		p.EventsPublished.WithLabelValues(StateLabel(e.Conversation.State)).Inc()
		if e.FallbackKey {
			fallbacks++
		}
	}
	p.KeyFallback.Add(float64(fallbacks))
	p.setHealth(CheckKafka, nil)
}

// Skipped counts a row dedupe did not publish again.
func (p *Pipeline) Skipped(reason string) { p.DuplicatesSkipped.WithLabelValues(reason).Inc() }

// DeadLettered counts a row written to the dead-letter topic.
func (p *Pipeline) DeadLettered(reason string) {
	p.DeadLetters.WithLabelValues(p.source, reason).Inc()
}

// Rejected counts a row that can never be published.
func (p *Pipeline) Rejected(reason string) { p.RowsRejected.WithLabelValues(reason).Inc() }

// Covered sets the source's lane_backlog_seconds of every lane with a
// Backlog rule (poller.LaneSpec.Backlog): how far the live range's end is
// behind now, how far the settled mark is, and how much history (in seconds
// of start times) is still unread.
func (p *Pipeline) Covered(c checkpoint.Coverage, now time.Time) {
	for _, l := range poller.Lanes {
		backlog := l.Spec().Backlog
		if backlog == nil {
			continue
		}
		if d, ok := backlog(c, now); ok {
			p.LaneBacklog.WithLabelValues(p.source, l.String()).Set(d.Seconds())
		}
	}
}

// RevisitsDue sets lane_backlog_seconds{lane="revisit"}: how long the
// most overdue bucket has waited past its due time.
func (p *Pipeline) RevisitsDue(_ int, overdue time.Duration) {
	p.LaneBacklog.WithLabelValues(p.source, poller.LaneRevisit.String()).Set(overdue.Seconds())
}

// Saved counts a checkpoint save by result; a successful one records its
// time and moves the cursor behind checkpoint_lag_seconds, a failed one
// leaves both, so the lag keeps growing while saves fail.
func (p *Pipeline) Saved(cp *checkpoint.Checkpoint, _ int, err error) {
	p.CheckpointSaved(p.source, err) // counts ok/error, times the last success
	if err != nil {
		return
	}
	p.SetCheckpointCursor(p.source, cp.Cursor)
}

// FirstSeen observes row_first_seen_seconds; a first sighting by a
// Revisit lane (the revisit lane) also counts in late_rows_total.
func (p *Pipeline) FirstSeen(lane poller.Lane, sinceStart time.Duration) {
	p.RowFirstSeen.WithLabelValues(lane.String()).Observe(max(sinceStart, 0).Seconds())
	if lane.Spec().Revisit {
		p.LateRows.Inc()
	}
}

// NeededPromises are request_rate_needed's promise values: fresh (every
// state at POLL_FRESHNESS), active (every active state).
var NeededPromises = []string{"fresh", "active"}

// BudgetPromises are request_budget_short's degrades values, in the order
// they degrade: terminal first, active last.
var BudgetPromises = []string{"terminal", "active"}

// AccountQuantities are account's quantity values.
var AccountQuantities = []string{"density", "rows_per_request", "visible_delay_p99_seconds", "end_age_p99_seconds", "active_p99_seconds", "never_ending_ratio"}

// Planned sets request_rate_needed, request_budget, request_budget_short
// and account from a settle tick's plan.
func (p *Pipeline) Planned(rp poller.RequestPlan) {
	p.RequestRateNeeded.WithLabelValues(p.source, NeededPromises[0]).Set(rp.Needed)
	p.RequestRateNeeded.WithLabelValues(p.source, NeededPromises[1]).Set(rp.NeededActive)
	p.RequestBudget.WithLabelValues(p.source).Set(rp.Budget)
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	p.RequestBudgetShort.WithLabelValues(p.source, BudgetPromises[0]).Set(b(rp.Short))
	p.RequestBudgetShort.WithLabelValues(p.source, BudgetPromises[1]).Set(b(rp.ActiveShort))
	a := rp.Account
	for i, v := range []float64{a.Density, a.RowsPerRequest, a.VisibleDelay.Seconds(), a.EndAge.Seconds(), a.ActiveFor.Seconds(), a.NeverEnding} {
		p.Account.WithLabelValues(p.source, AccountQuantities[i]).Set(v)
	}
}

// Truncated counts a truncated read in windows_truncated_total.
func (p *Pipeline) Truncated(jelou.Window, int) { p.WindowsTruncated.WithLabelValues(p.source).Inc() }

// Watermarked sets the source's watermark_complete_before_timestamp_seconds.
func (p *Pipeline) Watermarked(completeBefore time.Time) {
	p.Watermark.WithLabelValues(p.source).Set(float64(completeBefore.Unix()))
}

// Tracked sets the source's tracked_conversations.
func (p *Pipeline) Tracked(n int) { p.TrackedConversations.WithLabelValues(p.source).Set(float64(n)) }

// Failure marks Kafka unhealthy when a write failed; the write is retried.
func (p *Pipeline) Failure(stage string, err error) {
	if stage == "publish" {
		p.setHealth(CheckKafka, err)
	}
}

// Drift logs a window whose pagination drift was healed by a re-fetch or a
// split (one that was not is logged by the poller as a warning).
func (p *Pipeline) Drift(w jelou.Window, detail string, resolved bool) {
	if resolved {
		p.log.Info("pagination drift healed", "window", w.String(), "detail", detail)
	}
}
