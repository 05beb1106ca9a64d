package poller

import (
	"sort"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
)

// Lane is one stream of queries, an index into the lane table: what a lane
// is (its name, priority, schedule rule, what it reports) is its [LaneSpec].
// Lanes run side by side and share one API budget, served by priority.
type Lane int

// The lanes, one per row of the lane table.
const (
	// LaneLive reads the start times that appeared since its last tick,
	// every Interval, up to now−Lag.
	LaneLive Lane = iota
	// LaneSettle re-reads the live range that has not settled yet (start
	// times less than Settle old when last read), for late rows.
	LaneSettle
	// LaneRevisit re-reads the spans of conversations last seen in a
	// non-terminal state, on a cadence that lengthens with their age.
	LaneRevisit
	// LaneHistory reads, once, the ranges nothing has read yet: the backlog
	// from POLL_START_AT, a bounded backfill, or what was missed while the
	// service was down.
	LaneHistory
)

// LaneSpec is one row of the lane table: everything the poller, the budget,
// telemetry and the demo know of a lane. Code iterates over [Lanes] and asks
// a lane's spec instead of naming lanes, so a new lane is a constant, a row
// and its schedule rule (see docs/lanes.md).
type LaneSpec struct {
	// Name is the lane's name, which is also its metric label value.
	Name string
	// Priority orders the lanes, lowest first: the budget serves a waiting
	// request of a lower Priority first. Priorities are unique.
	Priority int
	// FirstSeen: a conversation this lane sees for the first time is
	// reported with how long after its start that was (Observer.FirstSeen,
	// row_first_seen_seconds). False for a lane reading backlog, whose rows
	// are old by design.
	FirstSeen bool
	// Revisit: the lane re-reads settled start times for state changes.
	// Its windows count as revisits (revisits_total), and a conversation it
	// sees for the first time is a late row: visible later than Settle after
	// its start (warned about, late_rows_total).
	Revisit bool
	// Backlog, when set, is how far behind the lane is at now given what
	// was read so far (lane_backlog_seconds); ok is false while that is not
	// known. Nil: the lane reports its backlog itself (the revisit lane,
	// through Observer.RevisitsDue).
	Backlog func(c checkpoint.Coverage, now time.Time) (d time.Duration, ok bool)
	// Backfill: the lane runs in a bounded backfill (Config.End set).
	Backfill bool
	// Workers is how many runners of the lane go at once under c; 0 turns
	// the lane off.
	Workers func(c Config) int
	// Next is the schedule rule of a lane that plans one query at a time:
	// the query due at now, or when to ask again (zero: after the next
	// Done). The runner calls it under the poller's lock.
	Next func(s *Schedule, now time.Time) (Query, bool, time.Time)
	// Sweep is the schedule rule of a lane that plans rounds instead, over
	// the buckets of non-terminal conversations: the queries due at now and
	// how long the most overdue one waited past its due time. Exactly one
	// of Next and Sweep is set.
	Sweep func(s *Schedule, now time.Time, buckets []bucket) ([]Query, time.Duration)
	// Done records a query of the lane whose rows Kafka acknowledged: it
	// moves what the checkpoint keeps of the lane (its part of the
	// Coverage), or the schedule's own memory for a lane the checkpoint
	// keeps nothing of.
	Done func(s *Schedule, q Query)
	// Oldest is the oldest start time the lane may still read (false:
	// none), a Window earlier where ranges overlap at their boundaries;
	// dedupe forgets conversations older than every lane's (EvictBefore).
	Oldest func(s *Schedule, now time.Time) (time.Time, bool)
	// NewestFirst cuts the lane's queries newest first into pieces that
	// double in length going back (near the live edge, so the freshest
	// rows go out first); otherwise into Window-long pieces, oldest first.
	NewestFirst bool
}

// laneTable is the lane table, indexed by Lane.
var laneTable = [...]LaneSpec{
	LaneLive: {
		Name: "live", Priority: 0, FirstSeen: true,
		// Behind by now minus the end of the live range.
		Backlog: func(c checkpoint.Coverage, now time.Time) (time.Duration, bool) {
			return max(now.Sub(c.Live.End), 0), !c.Live.End.IsZero()
		},
		Workers: one,
		Next:    (*Schedule).Live,
		// The checkpoint keeps the end of the live range.
		Done: (*Schedule).doneLive,
		Oldest: func(s *Schedule, _ time.Time) (time.Time, bool) {
			return s.cov.Live.End.Add(-s.cfg.Window), true
		},
		NewestFirst: true,
	},
	LaneSettle: {
		Name: "settle", Priority: 1, FirstSeen: true,
		// Behind by now minus the settled mark.
		Backlog: func(c checkpoint.Coverage, now time.Time) (time.Duration, bool) {
			return max(now.Sub(c.Settled), 0), !c.Live.End.IsZero()
		},
		// Two under RereadByLoss: its hot band and its warm band, cut in
		// chunks, are read side by side (a read is latency-bound, not
		// budget-bound, on a single runner).
		Workers: func(c Config) int {
			if c.Reread == RereadByLoss {
				return 2
			}
			return 1
		},
		Next: (*Schedule).Settle,
		// The checkpoint keeps the settled mark.
		Done: (*Schedule).doneSettle,
		Oldest: func(s *Schedule, _ time.Time) (time.Time, bool) {
			return s.cov.Settled.Add(-s.cfg.Window), true
		},
		NewestFirst: true,
	},
	LaneRevisit: {
		Name: "revisit", Priority: 2, FirstSeen: true, Revisit: true,
		Workers: func(c Config) int {
			if c.Revisit > 0 {
				return 1
			}
			return 0
		},
		Sweep: (*Schedule).Revisits,
		// The checkpoint keeps nothing: after a restart every bucket is due.
		Done: (*Schedule).doneRevisit,
		Oldest: func(s *Schedule, now time.Time) (time.Time, bool) {
			return now.Add(-s.cfg.Revisit), true
		},
	},
	LaneHistory: {
		Name: "history", Priority: 3,
		// Behind by the seconds of start times not read yet.
		Backlog: func(c checkpoint.Coverage, _ time.Time) (time.Duration, bool) {
			var d time.Duration
			for _, g := range c.History {
				d += g.End.Sub(g.Start)
			}
			return d, true
		},
		Backfill: true,
		Workers:  func(c Config) int { return c.Concurrency },
		Next:     (*Schedule).History,
		// The checkpoint keeps the gaps not read yet.
		Done: (*Schedule).doneHistory,
		Oldest: func(s *Schedule, _ time.Time) (time.Time, bool) {
			if len(s.cov.History) == 0 {
				return time.Time{}, false
			}
			return s.cov.History[0].Start.Add(-s.cfg.Window), true
		},
	},
}

// runners is how many runners of the lane go under c: its Workers, none
// in a bounded backfill unless the lane is a Backfill lane.
func (s *LaneSpec) runners(c Config) int {
	if !c.End.IsZero() && !s.Backfill {
		return 0
	}
	return s.Workers(c)
}

// one is the Workers of a lane that runs one runner.
func one(Config) int { return 1 }

// Lanes lists every lane, by priority (highest first).
var Lanes = lanesByPriority()

func lanesByPriority() []Lane {
	out := make([]Lane, len(laneTable))
	for i := range out {
		out[i] = Lane(i)
	}
	sort.SliceStable(out, func(i, j int) bool { return laneTable[out[i]].Priority < laneTable[out[j]].Priority })
	return out
}

// unknownLane is the spec of a Lane outside the table.
var unknownLane = LaneSpec{Name: "unknown"}

// Spec returns the lane's row of the lane table.
func (l Lane) Spec() *LaneSpec {
	if l < 0 || int(l) >= len(laneTable) {
		return &unknownLane
	}
	return &laneTable[l]
}

// String returns the lane's name, which is also its metric label.
func (l Lane) String() string { return l.Spec().Name }
