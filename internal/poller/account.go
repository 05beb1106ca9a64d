package poller

import (
	"slices"
	"sync"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Account is what a source's traffic looks like, learned online from what
// the live, settle and revisit lanes see: what the by-loss plan (planLoss)
// sizes its bands and periods from, and what telemetry exports. A zero
// count means the quantity is not known yet (the plan then assumes its
// prior, see planLoss).
type Account struct {
	// Density is new conversations per second of start time (rows per
	// second of the live and settle reads).
	Density float64
	// RowsPerRequest is how many rows one API request returned on average
	// (live and settle reads, retries and drifting re-reads included): what
	// a range of start times costs, in requests.
	RowsPerRequest float64
	// VisibleDelay is the 99th percentile of the delay from a
	// conversation's start to the first read that saw it (an upper bound of
	// the delay until it became visible: plus up to a re-read period), over
	// VisibleSamples recent first sightings.
	VisibleDelay   time.Duration
	VisibleSamples int
	// EndAge is the 99th percentile of the age (since its start) at which a
	// conversation seen active ended (halfway between the last read that
	// saw it active and the first that saw it terminal), over EndSamples
	// recent ones: start times older than that hold, in the main,
	// conversations that will not change any more.
	EndAge     time.Duration
	EndSamples int
	// EndAges are quantiles of the same end ages, EndAges[i] the
	// i/(endQuantiles−1)-th (the first the least, the last the most): the
	// distribution the warm band's reads are spent by (see endShare). All
	// zero while EndSamples is 0.
	EndAges [endQuantiles]time.Duration
	// ActiveFor is the 99th percentile of how long a conversation stayed
	// active: first seen active to its end (as in EndAge), over
	// ActiveSamples.
	ActiveFor     time.Duration
	ActiveSamples int
	// NeverEnding is the share of the conversations first seen active
	// longer than ActiveFor ago (and less than accountMinutes minutes ago)
	// that were not seen in a terminal state yet; NeverSamples is how many
	// conversations that share is of.
	NeverEnding  float64
	NeverSamples int
}

// accountRing is how many recent samples each quantile is taken over.
const accountRing = 4096

// accountMinutes is how many minutes of start times the never-ending
// share is counted over.
const accountMinutes = 120

// accountOpen bounds how many conversations seen active and not yet
// terminal the learner remembers the first sighting of (for ActiveFor);
// beyond it, new ones are not timed.
const accountOpen = 1 << 16

// learner learns a source's Account from the poller's sightings (every row
// the live, settle and revisit lanes read: a mutex and a map lookup each).
// It keeps nothing in the checkpoint: after a restart it learns again from
// new sightings (visibility delays within a minute or so of traffic, end
// ages as the conversations seen before end), and the plan uses its priors
// meanwhile. It is safe for concurrent use.
type learner struct {
	// liveAge bounds the age of a live read's first sighting taken as a
	// visibility sample: older rows in a live read are a catch-up's (the
	// first read after a start or an outage), not late.
	liveAge time.Duration

	mu sync.Mutex
	// since is the end of the first live read of this process: a row
	// started earlier and first seen by another lane may have been read
	// before a restart (published, its dedupe entry not saved) or been
	// visible while the first read of a start went on, so its age tells
	// nothing of when it became visible and is no sample. Zero until then.
	since          time.Time
	visible, ends  ring
	active         ring
	open           map[string]sighting   // conversations seen active, not yet terminal
	swept          int64                 // when open was last swept for room (Unix seconds)
	started, ended [accountMinutes]int   // by minute first seen active (ring): timed, then ended
	minute         [accountMinutes]int64 // the minute (Unix minutes) each slot counts
	// restored are the last reads, before this process began, of the
	// grains (grain seconds long, by start, Unix seconds) of unsettled
	// start times, from the checkpoint (learned.go): when a conversation
	// published active before a restart was last seen so.
	grain    int64
	restored map[int64]int64
}

// ring is a fixed ring of the last accountRing duration samples, in
// seconds.
type ring struct {
	s []int32
	n int // samples written so far
}

func (r *ring) add(d time.Duration) {
	if r.s == nil {
		r.s = make([]int32, accountRing)
	}
	r.s[r.n%accountRing] = int32(min(max(d/time.Second, 0), 1<<30))
	r.n++
}

// quantiles returns endQuantiles evenly spaced quantiles of the samples,
// the least first and the most last (all zero without samples).
func (r *ring) quantiles() [endQuantiles]time.Duration {
	var q [endQuantiles]time.Duration
	k := min(r.n, accountRing)
	if k == 0 {
		return q
	}
	c := slices.Clone(r.s[:k])
	slices.Sort(c)
	for i := range q {
		q[i] = time.Duration(c[i*(k-1)/(endQuantiles-1)]) * time.Second
	}
	return q
}

// p99 returns the 99th percentile of the samples and how many there are.
func (r *ring) p99() (time.Duration, int) {
	k := min(r.n, accountRing)
	if k == 0 {
		return 0, 0
	}
	c := slices.Clone(r.s[:k])
	slices.Sort(c)
	return time.Duration(c[(k*99-1)/100]) * time.Second, k
}

func newLearner(liveAge time.Duration) *learner {
	return &learner{liveAge: liveAge, open: make(map[string]sighting)}
}

// see records a row the lane just read and what dedupe said of it: emit,
// whether it is published (a new conversation or a new state), previous the
// state published before for the conversation ("" for a new one), observed
// when the read happened. Every row counts, published or not: an active
// state read again tells when the conversation was last seen active, so
// that its end is timed between that and the first terminal sighting.
func (l *learner) see(lane Lane, r jelou.Conversation, emit bool, previous jelou.State, observed time.Time) {
	if l == nil || !lane.Spec().FirstSeen || r.StartAt.IsZero() || observed.Before(r.StartAt) {
		return
	}
	now := observed.Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !emit:
		if o, ok := l.open[r.ID]; ok && r.State == jelou.StateActive {
			o.last = now
			l.open[r.ID] = o
		}
	case previous == "" && !lane.Spec().Revisit:
		if age := observed.Sub(r.StartAt); lane == LaneLive && age <= l.liveAge || lane != LaneLive && !l.since.IsZero() && !r.StartAt.Before(l.since) {
			l.visible.add(age)
		}
		if r.State == jelou.StateActive && l.track(r.ID, now) {
			if i := l.slot(now, true); i >= 0 {
				l.started[i]++
			}
		}
	case previous == jelou.StateActive && r.State.Terminal():
		// The state changed between the last read that saw it active and
		// this one: the middle. Without that read (seen active before a
		// restart), the last read of its grain before the restart saw it
		// active, if the checkpoint said when; else its end is not timed
		// (now would only bound it, and inflate the end ages after every
		// restart). An end found by a revisit (past POLL_SETTLE, of a
		// conversation that outlived the warm band) is no sample of the
		// ages the warm band covers: counted as ended, not timed.
		o, ok := l.open[r.ID]
		if ok {
			delete(l.open, r.ID)
			if i := l.slot(o.first, false); i >= 0 {
				l.ended[i]++
			}
		} else if last, found := l.readBefore(r.StartAt); found && last < now {
			o = sighting{first: -1, last: last}
		} else {
			return
		}
		if lane.Spec().Revisit {
			return
		}
		end := (o.last + now) / 2
		if o.first >= 0 {
			l.active.add(time.Duration(end-o.first) * time.Second)
		}
		l.ends.add(time.Duration(end-r.StartAt.Unix()) * time.Second)
	}
}

// readBefore returns when the grain of start times holding start was last
// read before this process began, as the checkpoint recorded (Unix
// seconds), and whether it did.
func (l *learner) readBefore(start time.Time) (int64, bool) {
	if l.grain <= 0 || len(l.restored) == 0 {
		return 0, false
	}
	at, ok := l.restored[start.Truncate(time.Duration(l.grain)*time.Second).Unix()]
	return at, ok
}

// readLive records that the live lane read start times up to end: the
// first time, rows started from then on and first seen by another lane
// become visibility samples (see since).
func (l *learner) readLive(end time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.since.IsZero() {
		l.since = end
	}
}

// openFor is how long a conversation seen active may go unseen before the
// learner forgets it to make room.
const openFor = 30 * 60

// track remembers conversation id, first seen active at now, and reports
// whether it does: when the learner holds accountOpen of them it forgets
// those unseen for openFor (looking at most once a minute), and times no
// new one while still full.
func (l *learner) track(id string, now int64) bool {
	if len(l.open) >= accountOpen && now-l.swept >= 60 { // a sweep at most once a minute
		l.swept = now
		for k, o := range l.open {
			if o.last < now-openFor {
				delete(l.open, k)
			}
		}
	}
	if len(l.open) >= accountOpen {
		return false
	}
	l.open[id] = sighting{first: now, last: now}
	return true
}

// sighting is when an open conversation was first and last seen active,
// Unix seconds.
type sighting struct{ first, last int64 }

// slot returns the index of the minute of at (Unix seconds) in the
// per-minute counts; with reset, a slot still counting an older minute is
// cleared for it, otherwise -1 is returned when the slot counts another
// minute.
func (l *learner) slot(at int64, reset bool) int {
	m := at / 60
	i := int(m % accountMinutes)
	if i < 0 {
		i += accountMinutes
	}
	if l.minute[i] != m {
		if !reset || m < l.minute[i] {
			return -1
		}
		l.minute[i], l.started[i], l.ended[i] = m, 0, 0
	}
	return i
}

// Account returns what was learned so far, at now (for the never-ending
// share: which start minutes are old enough to count), with the density
// and rows per request the schedule learned.
func (l *learner) Account(now time.Time) Account {
	l.mu.Lock()
	defer l.mu.Unlock()
	var a Account
	a.VisibleDelay, a.VisibleSamples = l.visible.p99()
	a.EndAge, a.EndSamples = l.ends.p99()
	a.EndAges = l.ends.quantiles()
	a.ActiveFor, a.ActiveSamples = l.active.p99()
	if a.ActiveSamples > 0 {
		mature := now.Add(-a.ActiveFor).Unix() / 60
		var started, ended int
		for i, m := range l.minute {
			if m != 0 && m < mature && m > now.Unix()/60-accountMinutes {
				started += l.started[i]
				ended += l.ended[i]
			}
		}
		if started > 0 {
			a.NeverEnding = max(float64(started-ended)/float64(started), 0)
			a.NeverSamples = started
		}
	}
	return a
}
