package poller

import (
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Observer receives what the whole pipeline does, for metrics, health and
// progress views: the API client's requests and retries (jelou.Observer),
// the Kafka writer's produce calls (publish.Observer), and the poller's own
// steps. It is the one way to observe the pipeline: telemetry implements
// it, and the service hands the same value to the client, the writer and
// the poller. Methods are called from several goroutines and must be quick.
type Observer interface {
	jelou.Observer
	publish.Observer
	// QueryDone is called when one window of a lane's query was fetched
	// and every event from it acknowledged.
	QueryDone(lane Lane, w jelou.Window, rows, published int, took time.Duration)
	// Published is called with the emissions Kafka acknowledged (rows
	// that could not be encoded are not among them).
	Published(batch []Emission)
	// Skipped is called for a row dedupe did not publish again, with
	// dedupe's reason (duplicate, regression).
	Skipped(reason string)
	// Rejected is called for a row that can never be published, with the
	// reason (RejectMissingID, RejectMissingState, RejectUnencodable).
	Rejected(reason string)
	// DeadLettered is called for a row that can never be published once
	// the dead-letter writer acknowledged it, with the reason
	// (DeadLetterTooLarge or a Reject* reason); such a row is not also
	// Rejected.
	DeadLettered(reason string)
	// Covered is called when a lane's query was acknowledged, with what
	// has been read so far.
	Covered(c checkpoint.Coverage, now time.Time)
	// RevisitsDue is called each time the revisit lane plans a round,
	// with the buckets due and how long the most overdue one has waited
	// past its due time (the revisit lane's backlog).
	RevisitsDue(buckets int, overdue time.Duration)
	// Saved is called after each checkpoint save attempt with the
	// checkpoint, its size, and the error (nil when it was stored).
	Saved(cp *checkpoint.Checkpoint, bytes int, err error)
	// FirstSeen is called for each conversation seen for the first time by
	// the live, settle or revisit lane, with how long after its start it
	// was seen (how late rows become visible, plus up to an interval and
	// the lag; after a restart, also the time the service was down).
	FirstSeen(lane Lane, sinceStart time.Duration)
	// Tracked is called with the number of conversations in the index.
	Tracked(n int)
	// Failure is called for every failed attempt that will be retried;
	// stage is "fetch", "publish" or "checkpoint".
	Failure(stage string, err error)
	// Drift is called when a window's pages disagreed; resolved reports
	// whether a re-fetch or split healed it.
	Drift(w jelou.Window, detail string, resolved bool)
	// Truncated is called when a read of w, a window as narrow as allowed,
	// stopped after pages pages with pages left; w is read again.
	Truncated(w jelou.Window, pages int)
	// Watermarked is called when the source's completeness watermark at
	// completeBefore was written (see watermark.go).
	Watermarked(completeBefore time.Time)
	// Planned is called after each settle read with the plan of its tick
	// and what was learned of the traffic, rates in requests per second of
	// the budget (JELOU_RATE_LIMIT's unit).
	Planned(p RequestPlan)
}

// NopObserver ignores everything. Embed it to implement only some methods.
type NopObserver struct{}

var _ Observer = NopObserver{}

// Request does nothing.
func (NopObserver) Request(jelou.RequestInfo) {}

// Retry does nothing.
func (NopObserver) Retry(jelou.RetryInfo) {}

// ObservePublish does nothing.
func (NopObserver) ObservePublish(publish.Observation) {}

// QueryDone does nothing.
func (NopObserver) QueryDone(Lane, jelou.Window, int, int, time.Duration) {}

// Published does nothing.
func (NopObserver) Published([]Emission) {}

// Skipped does nothing.
func (NopObserver) Skipped(string) {}

// Rejected does nothing.
func (NopObserver) Rejected(string) {}

// DeadLettered does nothing.
func (NopObserver) DeadLettered(string) {}

// Covered does nothing.
func (NopObserver) Covered(checkpoint.Coverage, time.Time) {}

// RevisitsDue does nothing.
func (NopObserver) RevisitsDue(int, time.Duration) {}

// Saved does nothing.
func (NopObserver) Saved(*checkpoint.Checkpoint, int, error) {}

// FirstSeen does nothing.
func (NopObserver) FirstSeen(Lane, time.Duration) {}

// Tracked does nothing.
func (NopObserver) Tracked(int) {}

// Failure does nothing.
func (NopObserver) Failure(string, error) {}

// Drift does nothing.
func (NopObserver) Drift(jelou.Window, string, bool) {}

// Truncated does nothing.
func (NopObserver) Truncated(jelou.Window, int) {}

// Watermarked does nothing.
func (NopObserver) Watermarked(time.Time) {}

// Planned does nothing.
func (NopObserver) Planned(RequestPlan) {}
