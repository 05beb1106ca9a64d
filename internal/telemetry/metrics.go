package telemetry

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/jelou-producer/jelou-producer/internal/buildinfo"
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Namespace prefixes every metric of this service.
const Namespace = "jelou_producer"

// Values of the result label of checkpoint_saves_total.
const (
	CheckpointOK    = "ok"
	CheckpointError = "error"
)

// Label values whose series [New] creates at zero, so that an alert on
// rate() or increase() fires on the first occurrence: a series born at 1
// has no earlier sample to rise from. Other values (an unusual HTTP code, a
// new failure kind) still count, from their first occurrence on. The lane
// label's values are [poller.Lanes].
var (
	// KnownStatuses are the status values of api_requests_total created at
	// start: success, the codes the vendor documents or the service handles
	// specially, the usual 5xx, and the attempts that got no response.
	KnownStatuses = []string{"200", "401", "403", "422", "429", "500", "502", "503", "504", "timeout", StatusError}
	// RetryReasons are the reason values of api_retries_total; [RetryReason]
	// returns only these.
	RetryReasons = []string{"rate_limited", "server_error", "timeout", "network", "other"}
	// KafkaErrorKinds are the kind values of kafka_write_errors_total: the
	// publisher's failure kinds.
	KafkaErrorKinds = []string{
		string(publish.KindTooLarge), string(publish.KindAuthorization), string(publish.KindTopic),
		string(publish.KindInvalid), string(publish.KindTLS), string(publish.KindClosed),
		string(publish.KindUnavailable), string(publish.KindTimeout), string(publish.KindCanceled),
		string(publish.KindOther),
	}
	// DuplicateReasons are the reason values of duplicates_skipped_total:
	// dedupe's reasons for not emitting.
	DuplicateReasons = []string{dedupe.ReasonDuplicate.String(), dedupe.ReasonRegression.String()}
	// RejectReasons are the reason values of rows_rejected_total.
	RejectReasons = []string{poller.RejectMissingID, poller.RejectMissingState, poller.RejectUnencodable}
	// DeadLetterReasons are the reason values of dead_letters_total.
	DeadLetterReasons = append([]string{poller.DeadLetterTooLarge}, RejectReasons...)
	// States are the state values of events_published_total; [StateLabel]
	// returns only these.
	States = []string{string(jelou.StateActive), string(jelou.StateClosed), string(jelou.StateResolved), string(jelou.StateExpired), "other"}
	// CheckpointResults are the result values of checkpoint_saves_total.
	CheckpointResults = []string{CheckpointOK, CheckpointError}
	// SourceFailureReasons are the reason values of
	// source_failures_total; [SourceFailureReason] returns only these.
	SourceFailureReasons = []string{
		FailureAuth, FailureRequest, FailureResponse, FailurePublish, FailureCheckpoint, FailureOther,
	}
)

// Values of the reason label of source_failures_total: why a source's
// poller stopped for a reason that does not pass by itself.
const (
	// FailureAuth: the API rejected the credentials (401, 403), or a
	// credential file could not be read again.
	FailureAuth = "auth"
	// FailureRequest: the API rejected a request that cannot be split
	// further (422, another 4xx).
	FailureRequest = "request"
	// FailureResponse: a response the client cannot use (larger than
	// JELOU_MAX_BODY_BYTES, not decodable, more pages than allowed).
	FailureResponse = "response"
	// FailurePublish: Kafka refused an event for good (too large, not
	// authorized, no topic).
	FailurePublish = "publish"
	// FailureCheckpoint: the source's checkpoint cannot be loaded or kept
	// (corrupt, another version, another source's, locked).
	FailureCheckpoint = "checkpoint"
	// FailureOther: anything else.
	FailureOther = "other"
)

// StatusError is the status label of an API attempt that got no HTTP
// response and did not say why (the client's RequestInfo.Status normally
// gives "timeout" or "error" itself).
const StatusError = "error"

// Metrics holds the service's Prometheus metrics; it implements
// [jelou.Observer] for the API client. The fields are safe for
// concurrent use; label values must come from small fixed sets (doc.go lists
// them) so that the number of series stays bounded.
type Metrics struct {
	// APIRequests counts API attempts by source and status ("200", "429",
	// "timeout", "error"); [Pipeline.Request] feeds it.
	APIRequests *prometheus.CounterVec
	// APIRequestDuration observes each request's latency, body included,
	// by source.
	APIRequestDuration *prometheus.HistogramVec
	// APIRetries counts retried requests by source and reason;
	// [Pipeline.Retry] feeds it.
	APIRetries *prometheus.CounterVec
	// RateLimitedPauses counts the 429s whose Retry-After paused a source's
	// request budget; labels source. [Pipeline.Request] feeds it.
	RateLimitedPauses *prometheus.CounterVec
	// RateLimitedPauseSeconds adds up the pauses those 429s asked for,
	// capped by the client's maximum; labels source.
	RateLimitedPauseSeconds *prometheus.CounterVec
	// ConversationsFetched counts rows received from the API, before dedupe.
	ConversationsFetched prometheus.Counter
	// EventsPublished counts events acknowledged by Kafka, by conversation
	// state; use [StateLabel] for the label value.
	EventsPublished *prometheus.CounterVec
	// DuplicatesSkipped counts rows not published because dedupe had seen them.
	DuplicatesSkipped *prometheus.CounterVec
	// RowsRejected counts rows that could not be turned into an event.
	RowsRejected *prometheus.CounterVec
	// DeadLetters counts rows written to the dead-letter topic; labels
	// source and reason.
	DeadLetters *prometheus.CounterVec
	// Revisits counts windows queried again for non-terminal conversations.
	Revisits prometheus.Counter
	// WindowsCompleted counts fully fetched and acknowledged windows by kind.
	WindowsCompleted *prometheus.CounterVec
	// KafkaWriteErrors counts failed produce calls by kind.
	KafkaWriteErrors *prometheus.CounterVec
	// KafkaWriteDuration observes each produce call until acknowledged.
	KafkaWriteDuration prometheus.Histogram
	// CheckpointSaves counts checkpoint saves by result.
	CheckpointSaves *prometheus.CounterVec
	// TrackedConversations is the number of conversations in each source's
	// dedupe index; labels source.
	TrackedConversations *prometheus.GaugeVec
	// Watermark is the completeBefore of the last completeness watermark
	// written for each source, in Unix seconds (0 until one is written
	// here); labels source.
	Watermark *prometheus.GaugeVec
	// KeyFallback counts events published under the fallback key because the
	// conversation had no company id.
	KeyFallback prometheus.Counter
	// RowFirstSeen observes, by lane, how long after its start a
	// conversation was first seen (the lanes whose spec has FirstSeen:
	// live, settle and revisit).
	RowFirstSeen *prometheus.HistogramVec
	// LateRows counts conversations first seen by the revisit lane: they
	// became visible later than POLL_SETTLE after their start.
	LateRows prometheus.Counter
	// WindowsTruncated counts reads of a window as narrow as allowed that
	// stopped at the page cap with pages left; labels source.
	WindowsTruncated *prometheus.CounterVec
	// LaneBacklog is how far each lane of each source is behind, in seconds
	// (see [Pipeline.Covered]); labels source and lane.
	LaneBacklog *prometheus.GaugeVec
	// RequestRateNeeded is the API request rate a source needs, labels
	// source and promise: fresh, complete capture at the configured
	// freshness (every state, terminal ones within POLL_FRESHNESS); active,
	// every active state visible for POLL_MIN_ACTIVE (terminal ones later).
	// RequestBudget is its budget (JELOU_RATE_LIMIT); both in requests per
	// second (see [Pipeline.Planned]).
	RequestRateNeeded, RequestBudget *prometheus.GaugeVec
	// Account is what was learned of a source's traffic; labels source and
	// quantity (density, rows_per_request, visible_delay_p99_seconds,
	// end_age_p99_seconds, active_p99_seconds, never_ending_ratio).
	Account *prometheus.GaugeVec
	// RequestBudgetShort is 1 while a source's budget is short of complete
	// capture, labels source and degrades (terminal: terminal states are
	// delayed past POLL_FRESHNESS; active: active states may be lost too).
	RequestBudgetShort *prometheus.GaugeVec
	// GroupGeneration is the consumer-group generation this replica is in
	// (0 outside a group, or while joining).
	GroupGeneration prometheus.Gauge
	// SourceOwned is 1 for each configured source this replica polls, 0
	// for the others (standby); label source, from the configuration.
	SourceOwned *prometheus.GaugeVec
	// SourceUp is 0 while this replica holds a source failed (its poller
	// stopped for a reason that does not pass by itself, and it waits to
	// retry it), 1 otherwise; label source.
	SourceUp *prometheus.GaugeVec
	// SourceFailures counts those failures by source and reason (one of
	// [SourceFailureReasons]).
	SourceFailures *prometheus.CounterVec

	clock   clock.Clock
	sources []string

	mu    sync.Mutex
	times map[string]*sourceTimes // by source id
}

// sourceTimes are one source's moments, Unix nanoseconds, 0 for "never";
// the time gauges read them at each scrape.
type sourceTimes struct {
	cursor   atomic.Int64 // the saved checkpoint's cursor
	lastPoll atomic.Int64 // the last completed window
	lastSave atomic.Int64 // the last successful checkpoint save
}

// Option configures [New].
type Option func(*Metrics)

// WithClock makes checkpoint_lag_seconds and the last-poll and last-save
// timestamps read c instead of the wall clock (for demos on a scaled clock).
func WithClock(c clock.Clock) Option { return func(m *Metrics) { m.clock = c } }

// WithSources creates the series of each configured source at 0:
// source_owned (until the replica owns it), the time gauges, the lane
// backlogs, tracked_conversations, the API request counters by status and
// reason and source_failures_total by reason; and source_up at 1. A source
// not named here gets its series when first reported.
func WithSources(ids ...string) Option {
	return func(m *Metrics) { m.sources = append(m.sources, ids...) }
}

// New creates the metrics and registers them with reg. A nil reg creates
// working but unregistered metrics, which suits tests of other packages.
// Registering twice with one registry panics, as prometheus.MustRegister does.
func New(reg prometheus.Registerer, opts ...Option) *Metrics {
	m := &Metrics{clock: clock.Real{}, times: map[string]*sourceTimes{}}
	for _, o := range opts {
		o(m)
	}
	f := promauto.With(reg)
	if reg != nil {
		reg.MustRegister(timesCollector{m})
	}
	m.APIRequests = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_requests_total",
		Help: "Jelou API attempts by source and status: HTTP code, timeout, or error (no response).",
	}, []string{"source", "status"})
	m.APIRequestDuration = f.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "api_request_duration_seconds",
		Help:    "Latency of Jelou API requests, body included, by source.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"source"})
	m.APIRetries = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_retries_total",
		Help: "Jelou API requests retried, by source and reason.",
	}, []string{"source", "reason"})
	m.RateLimitedPauses = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_rate_limited_pauses_total",
		Help: "429 responses whose Retry-After paused every request of the source.",
	}, []string{"source"})
	m.RateLimitedPauseSeconds = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_rate_limited_pause_seconds_total",
		Help: "Seconds of pause asked for by 429 Retry-After headers, each capped at the client's maximum (overlapping pauses add up).",
	}, []string{"source"})
	m.ConversationsFetched = f.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "conversations_fetched_total",
		Help: "Conversation rows received from the API, before dedupe.",
	})
	m.EventsPublished = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "events_published_total",
		Help: "Events acknowledged by Kafka, by conversation state.",
	}, []string{"state"})
	m.DuplicatesSkipped = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "duplicates_skipped_total",
		Help: "Rows not published because their (id, state) was already published, by reason.",
	}, []string{"reason"})
	m.RowsRejected = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rows_rejected_total",
		Help: "Rows that could not be turned into an event, by reason.",
	}, []string{"reason"})
	m.DeadLetters = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "dead_letters_total",
		Help: "Rows that can never be published written to the dead-letter topic (KAFKA_DLQ_TOPIC), by source and reason.",
	}, []string{"source", "reason"})
	m.Revisits = f.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "revisits_total",
		Help: "Windows queried again for conversations in a non-terminal state.",
	})
	m.WindowsCompleted = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "windows_completed_total",
		Help: "Windows fully fetched with every event acknowledged, by lane (live, settle, revisit, history).",
	}, []string{"lane"})
	m.KafkaWriteErrors = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "kafka_write_errors_total",
		Help: "Failed Kafka produce calls, by kind.",
	}, []string{"kind"})
	m.KafkaWriteDuration = f.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "kafka_write_duration_seconds",
		Help:    "Duration of Kafka produce calls until acknowledged.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	})
	m.CheckpointSaves = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "checkpoint_saves_total",
		Help: "Checkpoint saves by result (ok, error).",
	}, []string{"result"})
	m.TrackedConversations = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "tracked_conversations",
		Help: "Conversations held in the source's dedupe index.",
	}, []string{"source"})
	m.Watermark = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "watermark_complete_before_timestamp_seconds",
		Help: "completeBefore of the last completeness watermark written for the source (KAFKA_WATERMARK_TOPIC), Unix seconds.",
	}, []string{"source"})
	m.KeyFallback = f.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "key_fallback_total",
		Help: "Events published under the fallback key because the conversation had no company id.",
	})
	m.RowFirstSeen = f.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "row_first_seen_seconds",
		Help:    "How long after its start a conversation was first seen, by lane (live, settle, revisit): how late rows become visible.",
		Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200},
	}, []string{"lane"})
	m.LateRows = f.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "late_rows_total",
		Help: "Conversations first seen by the revisit lane: visible later than POLL_SETTLE after their start (raise POLL_SETTLE when it grows).",
	})
	m.WindowsTruncated = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "windows_truncated_total",
		Help: "Reads of a POLL_MIN_WINDOW window that stopped after 10 x POLL_MAX_PAGES pages with pages left: what was read is published and the window is read again; a server whose pages never end.",
	}, []string{"source"})
	m.LaneBacklog = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "lane_backlog_seconds",
		Help: "How far each lane of a source is behind: live, now minus the end of the live range; settle, now minus the settled mark; revisit, the most overdue revisit's wait past its due time; history, seconds of start times not read yet.",
	}, []string{"source", "lane"})
	m.RequestRateNeeded = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "request_rate_needed",
		Help: "API requests per second a source needs, learned from its traffic, by promise: fresh (every state, terminal ones within POLL_FRESHNESS), active (every active state visible for POLL_MIN_ACTIVE; terminal ones later); compare with request_budget.",
	}, []string{"source", "promise"})
	m.RequestBudget = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "request_budget",
		Help: "A source's API request budget, requests per second (JELOU_RATE_LIMIT).",
	}, []string{"source"})
	m.RequestBudgetShort = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "request_budget_short",
		Help: "1 while a source's request budget is short of complete capture, by what degrades: terminal (terminal states later than POLL_FRESHNESS; first) or active (active states may be lost; last).",
	}, []string{"source", "degrades"})
	m.Account = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "account",
		Help: "What was learned of a source's traffic, by quantity: density (new conversations per second of start time), rows_per_request, visible_delay_p99_seconds (start to first seen), end_age_p99_seconds (start to first seen terminal), active_p99_seconds (first seen active to first seen terminal), never_ending_ratio.",
	}, []string{"source", "quantity"})
	m.GroupGeneration = f.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "group_generation",
		Help: "Consumer-group generation this replica is in; 0 outside a group or while joining.",
	})
	m.SourceOwned = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "source_owned",
		Help: "1 for each configured source this replica polls, 0 for those it stands by for.",
	}, []string{"source"})
	m.SourceUp = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "source_up",
		Help: "0 while this replica holds the source failed (stopped for a reason that does not pass by itself, waiting to retry it), 1 otherwise.",
	}, []string{"source"})
	m.SourceFailures = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "source_failures_total",
		Help: "Times a source's poller stopped for a reason that does not pass by itself, by source and reason (auth, request, response, publish, checkpoint, other).",
	}, []string{"source", "reason"})
	for _, id := range m.sources {
		m.RateLimitedPauses.WithLabelValues(id)
		m.RateLimitedPauseSeconds.WithLabelValues(id)
		m.SourceOwned.WithLabelValues(id).Set(0)
		m.WindowsTruncated.WithLabelValues(id)
		m.Watermark.WithLabelValues(id).Set(0)
		m.SourceUp.WithLabelValues(id).Set(1)
		m.APIRequestDuration.WithLabelValues(id)
		for _, d := range BudgetPromises {
			m.RequestBudgetShort.WithLabelValues(id, d).Set(0)
		}
		for _, pr := range NeededPromises {
			m.RequestRateNeeded.WithLabelValues(id, pr).Set(0)
		}
		m.RequestBudget.WithLabelValues(id).Set(0)
		for _, q := range AccountQuantities {
			m.Account.WithLabelValues(id, q).Set(0)
		}
		for _, pre := range []struct {
			vec    *prometheus.CounterVec
			values []string
		}{
			{m.APIRequests, KnownStatuses},
			{m.APIRetries, RetryReasons},
			{m.SourceFailures, SourceFailureReasons},
			{m.DeadLetters, DeadLetterReasons},
		} {
			for _, v := range pre.values {
				pre.vec.WithLabelValues(id, v)
			}
		}
		m.Standby(id) // creates the source's series at 0
	}
	f.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; the labels give the version and Go version of the binary.",
		ConstLabels: prometheus.Labels{"version": buildinfo.Get(), "goversion": buildinfo.GoVersion()},
	}).Set(1)

	// Series of known label values exist from the start, so that rate() and
	// increase() alerts fire on the first occurrence.
	for _, l := range poller.Lanes {
		m.WindowsCompleted.WithLabelValues(l.String())
		if l.Spec().FirstSeen {
			m.RowFirstSeen.WithLabelValues(l.String())
		}
	}
	for _, pre := range []struct {
		vec    *prometheus.CounterVec
		values []string
	}{
		{m.EventsPublished, States},
		{m.DuplicatesSkipped, DuplicateReasons},
		{m.RowsRejected, RejectReasons},
		{m.KafkaWriteErrors, KafkaErrorKinds},
		{m.CheckpointSaves, CheckpointResults},
	} {
		for _, v := range pre.values {
			pre.vec.WithLabelValues(v)
		}
	}
	return m
}

// Request implements [jelou.Observer] for a client that is no source's: it
// counts as [Metrics.RequestOf] under an empty source label (which
// Prometheus stores as no label). A source's client reports through
// [Pipeline.ForSource], whose Request counts under the source.
func (m *Metrics) Request(ri jelou.RequestInfo) { m.RequestOf("", ri) }

// RequestOf counts one API attempt of source under the client's status
// label ("200", "429", "timeout", "error"), observes its duration, and
// counts the rows of a page received.
func (m *Metrics) RequestOf(source string, ri jelou.RequestInfo) {
	if ri.Err == nil {
		m.ConversationsFetched.Add(float64(ri.Rows))
	}
	status := ri.Status
	if status == "" {
		status = StatusError
		if ri.StatusCode > 0 {
			status = strconv.Itoa(ri.StatusCode)
		}
	}
	m.APIRequests.WithLabelValues(source, status).Inc()
	m.APIRequestDuration.WithLabelValues(source).Observe(ri.Duration.Seconds())
}

// Retry implements [jelou.Observer] for a client that is no source's: it
// counts as [Metrics.RetryOf] under an empty source label.
func (m *Metrics) Retry(ri jelou.RetryInfo) { m.RetryOf("", ri) }

// RetryOf counts one retry of source under a reason derived from the
// failed attempt's error (see [RetryReason]).
func (m *Metrics) RetryOf(source string, ri jelou.RetryInfo) {
	m.APIRetries.WithLabelValues(source, RetryReason(ri.Err)).Inc()
}

// SourceFailed records that source's poller stopped for reason (one of
// [SourceFailureReasons]): source_failures_total counts it and source_up
// drops to 0 until [Metrics.SourceRecovered].
func (m *Metrics) SourceFailed(source, reason string) {
	m.SourceFailures.WithLabelValues(source, reason).Inc()
	m.SourceUp.WithLabelValues(source).Set(0)
}

// SourceRecovered sets source's source_up back to 1: it polls again, or
// this replica no longer holds it.
func (m *Metrics) SourceRecovered(source string) { m.SourceUp.WithLabelValues(source).Set(1) }

// SourceFailureReason maps the error that stopped a source's poller to the
// reason label of source_failures_total (see the Failure* constants).
func SourceFailureReason(err error) string {
	var (
		auth     *jelou.AuthError
		invalid  *jelou.ValidationError
		status   *jelou.StatusError
		tooLarge *jelou.BodyTooLargeError
		decode   *jelou.DecodeError
		pages    *jelou.TooManyPagesError
		write    *publish.WriteError
		topic    *publish.TopicError
		corrupt  *checkpoint.CorruptError
		version  *checkpoint.VersionError
		mismatch *checkpoint.SourceMismatchError
		locked   *checkpoint.LockedError
	)
	switch {
	case errors.As(err, &auth):
		return FailureAuth
	case errors.As(err, &invalid), errors.As(err, &status):
		return FailureRequest
	case errors.As(err, &tooLarge), errors.As(err, &decode), errors.As(err, &pages), errors.Is(err, jelou.ErrTooManyPages):
		return FailureResponse
	case errors.As(err, &write), errors.As(err, &topic):
		return FailurePublish
	case errors.As(err, &corrupt), errors.As(err, &version), errors.As(err, &mismatch), errors.As(err, &locked):
		return FailureCheckpoint
	}
	return FailureOther
}

// RetryReason maps the error of a retried attempt to the reason label:
// rate_limited (429), server_error (5xx), timeout (the attempt ran out of
// time), network (no response otherwise), other.
func RetryReason(err error) string {
	var (
		rl *jelou.RateLimitError
		se *jelou.ServerError
		ne *jelou.NetworkError
	)
	switch {
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.As(err, &se):
		return "server_error"
	case errors.As(err, &ne) && ne.Timeout:
		return "timeout"
	case errors.As(err, &ne):
		return "network"
	}
	return "other"
}

// StateLabel returns the state label for s: the state itself when the vendor
// documents it, "other" otherwise, so that an unexpected value from the API
// cannot create series without bound.
func StateLabel(s jelou.State) string {
	if s.Known() {
		return string(s)
	}
	return "other"
}

// source returns the moments of source, created on first use.
func (m *Metrics) source(id string) *sourceTimes {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.times[id]
	if st == nil {
		st = &sourceTimes{}
		m.times[id] = st
	}
	return st
}

// SetCheckpointCursor records the cursor of source's last saved
// checkpoint; checkpoint_lag_seconds is computed from it at each scrape, so
// the lag keeps growing while saves stall. A zero cursor resets the lag to 0.
func (m *Metrics) SetCheckpointCursor(source string, cursor time.Time) {
	st := m.source(source)
	if cursor.IsZero() {
		st.cursor.Store(0)
		return
	}
	st.cursor.Store(cursor.UnixNano())
}

// Standby clears what describes a source this replica no longer polls (it
// was handed to another replica, or never came here): its checkpoint
// cursor (so checkpoint_lag_seconds is 0 rather than growing from a cursor
// nobody moves here any more), every lane's backlog and the tracked
// conversations. The last poll and save times stay: they are history, and
// the alerts ignore the sources a replica does not own.
func (m *Metrics) Standby(source string) {
	m.source(source).cursor.Store(0)
	for _, l := range poller.Lanes {
		m.LaneBacklog.WithLabelValues(source, l.String()).Set(0)
	}
	m.TrackedConversations.WithLabelValues(source).Set(0)
}

// PollSucceeded records that a window of source was fetched with every
// event acknowledged, now: poll_last_success_timestamp_seconds.
func (m *Metrics) PollSucceeded(source string) {
	m.source(source).lastPoll.Store(m.clock.Now().UnixNano())
}

// CheckpointSaved counts one checkpoint save under its result (err == nil
// is ok) and, on success, records the time in source's
// checkpoint_last_save_timestamp_seconds.
func (m *Metrics) CheckpointSaved(source string, err error) {
	if err != nil {
		m.CheckpointSaves.WithLabelValues(CheckpointError).Inc()
		return
	}
	m.CheckpointSaves.WithLabelValues(CheckpointOK).Inc()
	m.source(source).lastSave.Store(m.clock.Now().UnixNano())
}

// timesCollector exports each source's moments, read at scrape time, so
// that checkpoint_lag_seconds grows between saves.
type timesCollector struct{ m *Metrics }

var (
	descLag = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "checkpoint_lag_seconds"),
		"Now minus the source's saved checkpoint cursor; 0 before the first save and while another replica owns the source.", []string{"source"}, nil)
	descCursor = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "checkpoint_cursor_timestamp_seconds"),
		"The source's saved checkpoint cursor as a Unix time: everything before it is published; 0 before the first save.", []string{"source"}, nil)
	descLastSave = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "checkpoint_last_save_timestamp_seconds"),
		"Unix time of the source's last successful checkpoint save here; 0 before the first.", []string{"source"}, nil)
	descLastPoll = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "poll_last_success_timestamp_seconds"),
		"Unix time of the source's last window fetched here with every event acknowledged; 0 before the first.", []string{"source"}, nil)
)

// Describe implements prometheus.Collector.
func (c timesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descCursor, descLastSave, descLastPoll} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c timesCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	ids := slices.Sorted(maps.Keys(c.m.times))
	times := make([]*sourceTimes, len(ids))
	for i, id := range ids {
		times[i] = c.m.times[id]
	}
	c.m.mu.Unlock()
	now := c.m.clock.Now()
	for i, id := range ids {
		st := times[i]
		cursor := st.cursor.Load()
		lag := 0.0
		if cursor != 0 {
			lag = now.Sub(time.Unix(0, cursor)).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag, id)
		ch <- prometheus.MustNewConstMetric(descCursor, prometheus.GaugeValue, unixSeconds(cursor), id)
		ch <- prometheus.MustNewConstMetric(descLastSave, prometheus.GaugeValue, unixSeconds(st.lastSave.Load()), id)
		ch <- prometheus.MustNewConstMetric(descLastPoll, prometheus.GaugeValue, unixSeconds(st.lastPoll.Load()), id)
	}
}

// unixSeconds converts Unix nanoseconds to seconds, keeping 0 for "never".
func unixSeconds(ns int64) float64 {
	if ns == 0 {
		return 0
	}
	return float64(ns) / 1e9
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors, ready for [New] and for [NewServer] as its Gatherer.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
