package poller

import (
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// ExtraAccount is the name, in a checkpoint's Extra, of what the poller
// learned of the source's traffic (the Account's distributions, the
// density and the cost of a request) and when each grain of the unsettled
// start times was last read: after a restart or a move to another replica
// the by-loss plan resumes from it, not from its priors (which read the
// whole settle period as if every conversation could still end, and spend
// the warm band on the grains it knows nothing of, the oldest first). It
// is advisory: one that is missing, unreadable or out of bounds is
// ignored, and the plan learns again.
const ExtraAccount = "account"

// savedAccount is the JSON of Extra[ExtraAccount].
type savedAccount struct {
	// Density is rows per second of start time; RowsPerRequest rows per
	// API request (0: not known).
	Density        float64 `json:"density,omitempty"`
	RowsPerRequest float64 `json:"rowsPerRequest,omitempty"`
	// Visible, Ends and Active are the learner's distributions: start →
	// first seen, start → end of active, first seen active → end.
	Visible savedRing `json:"visible"`
	Ends    savedRing `json:"ends"`
	Active  savedRing `json:"active"`
	// GrainSeconds is the length of a grain of Reads (the by-loss tick);
	// Reads are [grain start, its last read] in Unix seconds, oldest grain
	// first.
	GrainSeconds int64      `json:"grainSeconds,omitempty"`
	Reads        [][2]int64 `json:"reads,omitempty"`
}

// savedRing is a learned distribution: how many samples it was taken over
// and its percentiles (the 0th to the 100th), in seconds.
type savedRing struct {
	Samples     int     `json:"samples"`
	Percentiles []int32 `json:"percentiles,omitempty"`
}

// Bounds of a saved account, checked when it is loaded: a checkpoint is
// read from a store others can write.
const (
	maxSavedReads   = 4096
	maxSavedDensity = 1e6 // rows per second of start time
	maxSavedPerReq  = 1e5 // rows per request
	percentileCount = 101
)

// percentiles returns the 0th to the 100th percentile of the samples, in
// seconds; nil without samples.
func (r *ring) percentiles() []int32 {
	k := min(r.n, accountRing)
	if k == 0 {
		return nil
	}
	c := slices.Clone(r.s[:k])
	slices.Sort(c)
	out := make([]int32, percentileCount)
	for i := range out {
		out[i] = c[i*(k-1)/(percentileCount-1)]
	}
	return out
}

// seed fills an empty ring with min(n, accountTrust) samples spread evenly
// over the percentiles p (linearly between them), so that its quantiles
// are p's and the plan trusts them at once; samples learned afterwards
// replace them, the oldest first. A ring that holds samples is left alone.
func (r *ring) seed(p []int32, n int) {
	k := min(n, accountTrust)
	if r.n > 0 || len(p) < 2 || k < 2 {
		return
	}
	for i := range k {
		x := float64(i) * float64(len(p)-1) / float64(k-1)
		j := min(int(x), len(p)-2)
		f := x - float64(j)
		r.add(time.Duration(math.Round(float64(p[j])+f*float64(p[j+1]-p[j]))) * time.Second)
	}
}

// saved returns r as saved.
func (r *ring) saved() savedRing {
	return savedRing{Samples: min(r.n, accountRing), Percentiles: r.percentiles()}
}

// valid reports whether s can be seeded from: percentiles of the expected
// count, non-negative, non-decreasing, each at most maxSeconds.
func (s savedRing) valid(maxSeconds int64) bool {
	if len(s.Percentiles) != percentileCount || s.Samples < 0 {
		return false
	}
	for i, v := range s.Percentiles {
		if v < 0 || int64(v) > maxSeconds || i > 0 && v < s.Percentiles[i-1] {
			return false
		}
	}
	return true
}

// savedRings returns the learner's distributions as saved.
func (l *learner) savedRings() (visible, ends, active savedRing) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.visible.saved(), l.ends.saved(), l.active.saved()
}

// seed seeds the learner's empty distributions from saved ones (see
// ring.seed).
func (l *learner) seed(visible, ends, active savedRing) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.visible.seed(visible.Percentiles, visible.Samples)
	l.ends.seed(ends.Percentiles, ends.Samples)
	l.active.seed(active.Percentiles, active.Samples)
}

// restoreReads gives the learner the grains' last reads before this
// process began (see learner.restored).
func (l *learner) restoreReads(grain int64, reads map[int64]int64) {
	if l == nil || grain <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.grain, l.restored = grain, reads
}

// markRead records that w was read as of at: every grain wholly inside it
// (the by-loss plan's grains of unsettled start times, a tick long) was
// last read then, unless a later read is known, both for the plan
// (lastRead, also set when a read is planned) and for the checkpoint
// (readDone: only reads done, so that a restart does not take a read
// planned before it, and never made, for one). Only under by-loss.
func (s *Schedule) markRead(w jelou.Window, at time.Time) {
	if s.cfg.Reread != RereadByLoss || at.IsZero() {
		return
	}
	if s.lastRead == nil {
		s.lastRead = make(map[int64]time.Time)
	}
	if s.readDone == nil {
		s.readDone = make(map[int64]time.Time)
	}
	grain := s.cfg.lossTick()
	for c := w.Start.Truncate(grain); c.Before(w.End); c = c.Add(grain) {
		if c.Before(w.Start) || c.Add(grain).After(w.End) || !c.Add(grain).After(s.cov.Settled) {
			continue
		}
		if at.After(s.lastRead[c.Unix()]) {
			s.lastRead[c.Unix()] = at
		}
		if at.After(s.readDone[c.Unix()]) {
			s.readDone[c.Unix()] = at
		}
	}
}

// savedAccount returns what the schedule and the learner l know of the
// source's traffic, to be saved with the checkpoint. The caller holds the
// poller's lock.
func (s *Schedule) savedAccount(l *learner) savedAccount {
	a := savedAccount{Density: s.density, RowsPerRequest: s.rowsPerReq}
	a.Visible, a.Ends, a.Active = l.savedRings()
	if len(s.readDone) > 0 {
		a.GrainSeconds = int64(s.cfg.lossTick() / time.Second)
		for c, at := range s.readDone {
			if time.Unix(c, 0).Add(s.cfg.lossTick()).After(s.cov.Settled) {
				a.Reads = append(a.Reads, [2]int64{c, at.Unix()})
			}
		}
		slices.SortFunc(a.Reads, func(x, y [2]int64) int { return int(x[0] - y[0]) })
		if len(a.Reads) > maxSavedReads {
			a.Reads = a.Reads[len(a.Reads)-maxSavedReads:] // the youngest grains
		}
	}
	return a
}

// restoreAccount resumes the schedule and the learner l from the account
// saved in cp, at now: the distributions seed l's empty ones, the density
// and the cost of a request the schedule's, and the grains' last reads
// (those of the same grain length, not in the future) the by-loss plan's.
// Anything out of bounds is ignored, with a warning: the plan then learns
// it again. The caller holds the poller's lock or owns s alone.
func (s *Schedule) restoreAccount(cp *checkpoint.Checkpoint, l *learner, now time.Time, log *slog.Logger) {
	raw, ok := cp.Extra[ExtraAccount]
	if !ok {
		return
	}
	var a savedAccount
	if err := json.Unmarshal(raw, &a); err != nil {
		log.Warn("checkpoint holds an unreadable learned account; learning it again", "source", cp.Source, "err", err)
		return
	}
	maxAge := int64(max(s.cfg.Settle, s.cfg.Revisit, time.Hour) / time.Second)
	var bad []string
	switch {
	case !(a.Density >= 0 && a.Density <= maxSavedDensity && a.RowsPerRequest >= 0 && a.RowsPerRequest <= maxSavedPerReq):
		bad = append(bad, "density")
	case s.cfg.Reread == RereadByLoss:
		// Only by-loss plans from them; the other modes learn the density
		// afresh, as they always did.
		s.density, s.rowsPerReq = a.Density, a.RowsPerRequest
	}
	rings := []*savedRing{&a.Visible, &a.Ends, &a.Active}
	for i, r := range rings {
		if r.Samples > 0 && !r.valid(maxAge) {
			bad = append(bad, []string{"visible", "ends", "active"}[i])
			*r = savedRing{}
		}
	}
	l.seed(a.Visible, a.Ends, a.Active)
	switch {
	case len(a.Reads) == 0:
	case len(a.Reads) > maxSavedReads:
		bad = append(bad, "reads")
	case a.GrainSeconds != int64(s.cfg.lossTick()/time.Second):
		// Another tick: the grains do not line up; they are read again.
	default:
		restored := make(map[int64]int64, len(a.Reads))
		for _, r := range a.Reads {
			c, at := time.Unix(r[0], 0).UTC(), time.Unix(r[1], 0).UTC()
			if at.After(now) || at.Before(c) {
				continue
			}
			s.markRead(jelou.Window{Start: c, End: c.Add(s.cfg.lossTick())}, at)
			restored[r[0]] = r[1]
		}
		l.restoreReads(a.GrainSeconds, restored)
	}
	if len(bad) > 0 {
		log.Warn("checkpoint's learned account partly out of bounds; those parts are learned again", "source", cp.Source, "parts", bad)
	}
}

// extraAccount returns the JSON of a saved account, nil when it cannot be
// encoded (never, in practice: it is numbers).
func extraAccount(a savedAccount) json.RawMessage {
	b, err := json.Marshal(a)
	if err != nil {
		return nil
	}
	return b
}
