package jelousim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// MaxCount is the largest number of conversations a [Dataset] can hold: the
// last three bytes of an id are the conversation's index.
const MaxCount = 1 << 24

// MaxAttendDelay bounds the time between a conversation's start and the
// moment it becomes visible (an operator attended it).
const MaxAttendDelay = time.Hour

// DataConfig says which conversations to generate. The same DataConfig always
// generates the same conversations.
type DataConfig struct {
	// Seed selects the data set. Every value, zero included, is a valid seed.
	Seed uint64
	// Start is the earliest conversation start time. Required.
	Start time.Time
	// End is the latest conversation start time (exclusive). Required, after Start.
	End time.Time
	// Count is the number of conversations, at most [MaxCount]. Default: 10000.
	Count int
	// Companies is the number of distinct company ids. Default: 200.
	Companies int
	// LongLivedRatio is the fraction of conversations that stay active for
	// 10 to 30 hours. Default: 0.05; a negative value means none.
	LongLivedRatio float64
	// LateRatio is the fraction of conversations attended minutes (up to
	// [MaxAttendDelay]) rather than seconds after they start, which makes
	// them late rows of their window. Default: 0.1; a negative value means none.
	LateRatio float64
	// ActiveMin and ActiveMax, when ActiveMax is set, bound how long a
	// conversation that is not long-lived stays active once visible: drawn
	// uniformly in [ActiveMin, ActiveMax], whole seconds, ActiveMin at least
	// a second. Default (ActiveMax zero): 30 s plus an exponential draw of
	// mean 20 minutes, at most 8 hours.
	ActiveMin, ActiveMax time.Duration
	// AttendMin and AttendMax, when AttendMax is set, bound every
	// conversation's attend delay (start to visible): drawn uniformly in
	// [AttendMin, AttendMax], whole seconds, and LateRatio is ignored.
	// AttendMin may be zero (visible at once); AttendMax is at most
	// [MaxAttendDelay]. Default (AttendMax zero): see LateRatio.
	AttendMin, AttendMax time.Duration
}

func (c DataConfig) withDefaults() DataConfig {
	if c.Count == 0 {
		c.Count = 10000
	}
	if c.Companies == 0 {
		c.Companies = 200
	}
	if c.LongLivedRatio == 0 {
		c.LongLivedRatio = 0.05
	}
	if c.LateRatio == 0 {
		c.LateRatio = 0.1
	}
	return c
}

func (c DataConfig) validate() error {
	switch {
	case c.Start.IsZero() || c.End.IsZero():
		return errors.New("data start and end must be set")
	case !c.End.After(c.Start):
		return fmt.Errorf("data end %s must be after start %s", c.End.Format(time.RFC3339), c.Start.Format(time.RFC3339))
	case c.Count < 0 || c.Count > MaxCount:
		return fmt.Errorf("data count must be between 0 and %d, got %d", MaxCount, c.Count)
	case c.Companies < 0:
		return fmt.Errorf("data companies must be positive, got %d", c.Companies)
	case c.LongLivedRatio > 1 || c.LateRatio > 1 || math.IsNaN(c.LongLivedRatio) || math.IsNaN(c.LateRatio):
		return fmt.Errorf("data ratios must be at most 1, got long-lived %v and late %v", c.LongLivedRatio, c.LateRatio)
	case c.ActiveMax != 0 && (c.ActiveMin < time.Second || c.ActiveMax < c.ActiveMin):
		return fmt.Errorf("data active range must satisfy 1s <= min <= max, got [%s, %s]", c.ActiveMin, c.ActiveMax)
	case c.ActiveMax == 0 && c.ActiveMin != 0:
		return fmt.Errorf("data active min %s needs an active max", c.ActiveMin)
	case c.AttendMax != 0 && (c.AttendMin < 0 || c.AttendMax < c.AttendMin || c.AttendMax > MaxAttendDelay):
		return fmt.Errorf("data attend range must satisfy 0 <= min <= max <= %s, got [%s, %s]", MaxAttendDelay, c.AttendMin, c.AttendMax)
	case c.AttendMax == 0 && c.AttendMin != 0:
		return fmt.Errorf("data attend min %s needs an attend max", c.AttendMin)
	}
	return nil
}

// Dataset is an immutable, generated set of conversations sorted by start
// time. It stores 10 bytes per conversation (start time and attend delay);
// every other attribute is derived on demand from the seed and the
// conversation's index. A Dataset is safe for concurrent use.
type Dataset struct {
	cfg     DataConfig
	starts  []int64  // unix seconds, ascending
	delays  []uint16 // attend delay in seconds, cached: windows near now test it per row
	machine uint64   // 5 bytes of the ids, constant per seed
}

// Generate builds the conversations described by c.
func Generate(c DataConfig) (*Dataset, error) {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	r := rand.New(rand.NewPCG(c.Seed, 0x6a656c6f7573696d)) // "jelousim"
	first, span := c.Start.Unix(), c.End.Unix()-c.Start.Unix()
	if c.Start.Nanosecond() > 0 { // starts are whole seconds inside [Start, End)
		first++
		span--
	}
	starts := make([]int64, c.Count)
	if span > 0 {
		for i := range starts {
			starts[i] = first + r.Int64N(span)
		}
	}
	slices.Sort(starts)
	d := &Dataset{cfg: c, starts: starts, delays: make([]uint16, len(starts)), machine: mix(c.Seed^0x9e3779b97f4a7c15) & (1<<40 - 1)}
	for i := range d.delays {
		d.delays[i] = d.attendDelay(i)
	}
	return d, nil
}

// attendDelay draws conversation i's attend delay in seconds: usually
// seconds, for LateRatio of them minutes, never more than MaxAttendDelay.
func (d *Dataset) attendDelay(i int) uint16 {
	s := newStream(d.cfg.Seed, i, saltDelay)
	if d.cfg.AttendMax > 0 {
		lo, hi := int(d.cfg.AttendMin/time.Second), int(d.cfg.AttendMax/time.Second)
		return uint16(lo + s.intn(hi-lo+1))
	}
	switch {
	case s.float() >= d.cfg.LateRatio:
		return 2 + uint16(s.intn(58)) // 2 to 59 seconds
	case s.float() < 0.9:
		return 60 + uint16(s.intn(19*60)) // 1 to 20 minutes
	default:
		return 20*60 + uint16(s.intn(40*60)) // 20 to 60 minutes
	}
}

// Config returns the configuration the data set was generated from, with
// defaults filled in.
func (d *Dataset) Config() DataConfig { return d.cfg }

// Len returns the number of conversations.
func (d *Dataset) Len() int { return len(d.starts) }

// Conversation is one generated conversation with its whole timeline.
type Conversation struct {
	// Index is the conversation's position in start order.
	Index int
	// ID is a 24-hex Mongo-like id: start time, a per-seed machine part and Index.
	ID string
	// Start is when the conversation started (whole seconds).
	Start time.Time
	// VisibleAt is when an operator attended it and the API starts listing it.
	VisibleAt time.Time
	// Transition is when it leaves active for FinalState.
	Transition time.Time
	// FinalState is the terminal state it reaches at Transition.
	FinalState jelou.State
	// EndedReason is the endedReason reported once terminal.
	EndedReason string
	// CompanyID, OperatorNames, UserID, BotName, TeamName and Origin are the
	// row's descriptive fields.
	CompanyID, OperatorNames, UserID, BotName, TeamName, Origin string
	// RepliedMs is timeRepliedOperator in milliseconds.
	RepliedMs int64
	// DurationMs is conversationDuration once terminal, in milliseconds.
	DurationMs int64
	// Tags is the undocumented extra field "tags".
	Tags []string
}

// StateAt returns the conversation's state at t: active before Transition,
// FinalState from then on.
func (c Conversation) StateAt(t time.Time) jelou.State {
	if t.Before(c.Transition) {
		return jelou.StateActive
	}
	return c.FinalState
}

// timeline is the part of a conversation needed to filter and to judge
// visibility, cheap enough to compute for every row of a window.
type timeline struct {
	start, visible, transition int64 // unix seconds
	final                      jelou.State
}

// stream is a splitmix64 sequence keyed by seed and index.
type stream uint64

func newStream(seed uint64, i int, salt uint64) stream {
	return stream(mix(seed ^ mix(uint64(i)+salt)))
}

func (s *stream) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix(uint64(*s))
}

func (s *stream) intn(n int) int { return int(s.next() % uint64(n)) }

func (s *stream) float() float64 { return float64(s.next()>>11) / (1 << 53) }

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const (
	saltTimeline = 1
	saltAttrs    = 2
	saltDelay    = 3
)

// visibleAt returns conversation i's visibility time in unix seconds.
func (d *Dataset) visibleAt(i int) int64 { return d.starts[i] + int64(d.delays[i]) }

func (d *Dataset) timeline(i int) timeline {
	s := newStream(d.cfg.Seed, i, saltTimeline)
	start, delay := d.starts[i], int64(d.delays[i])
	var life int64
	long := s.float() < d.cfg.LongLivedRatio
	switch {
	case long:
		life = 10*3600 + int64(s.intn(20*3600))
	case d.cfg.ActiveMax > 0:
		lo, hi := int64(d.cfg.ActiveMin/time.Second), int64(d.cfg.ActiveMax/time.Second)
		life = delay + lo + int64(s.intn(int(hi-lo+1)))
	default:
		life = delay + 30 + int64(math.Min(-math.Log(1-s.float())*1200, 8*3600))
	}
	u := s.intn(100)
	var final jelou.State
	switch {
	case long && u < 70, !long && u < 15:
		final = jelou.StateExpired
	case long && u < 90, !long && u < 60:
		final = jelou.StateClosed
	default:
		final = jelou.StateResolved
	}
	return timeline{start: start, visible: start + delay, transition: start + life, final: final}
}

// Conversation returns conversation i, 0 <= i < Len.
func (d *Dataset) Conversation(i int) Conversation {
	tl := d.timeline(i)
	s := newStream(d.cfg.Seed, i, saltAttrs)
	company := s.intn(d.cfg.Companies)
	c := Conversation{
		Index:         i,
		ID:            d.id(i),
		Start:         unix(tl.start),
		VisibleAt:     unix(tl.visible),
		Transition:    unix(tl.transition),
		FinalState:    tl.final,
		CompanyID:     strconv.Itoa(1000 + company),
		OperatorNames: firstNames[s.intn(len(firstNames))] + " " + lastNames[s.intn(len(lastNames))],
		UserID:        fmt.Sprintf("5939%08d", s.intn(100000000)),
		BotName:       botNames[(company*3+s.intn(2))%len(botNames)],
		TeamName:      teamNames[s.intn(len(teamNames))],
		RepliedMs:     (tl.visible-tl.start)*1000 + int64(s.intn(1000)),
		DurationMs:    (tl.transition-tl.start)*1000 + int64(s.intn(1000)),
	}
	o := s.intn(100)
	for _, org := range origins {
		if o < org.cum {
			c.Origin = org.name
			break
		}
	}
	switch tl.final {
	case jelou.StateClosed:
		c.EndedReason = closedReasons[s.intn(len(closedReasons))]
	default:
		c.EndedReason = string(tl.final)
	}
	for n := s.intn(4) - 1; n > 0; n-- { // half the rows get no tag
		c.Tags = append(c.Tags, tagNames[s.intn(len(tagNames))])
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	return c
}

func (d *Dataset) id(i int) string {
	var b [12]byte
	ts := uint32(d.starts[i])
	b[0], b[1], b[2], b[3] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	for k := 0; k < 5; k++ {
		b[4+k] = byte(d.machine >> (8 * (4 - k)))
	}
	b[9], b[10], b[11] = byte(i>>16), byte(i>>8), byte(i)
	return hex.EncodeToString(b[:])
}

// Lookup returns the index of the conversation with the given id.
func (d *Dataset) Lookup(id string) (int, bool) {
	if len(id) != 24 {
		return 0, false
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return 0, false
	}
	i := int(b[9])<<16 | int(b[10])<<8 | int(b[11])
	if i >= len(d.starts) || d.id(i) != id {
		return 0, false
	}
	return i, true
}

// Range returns the indexes [lo, hi) of the conversations whose start lies
// in [from, to], both inclusive, at second granularity.
func (d *Dataset) Range(from, to int64) (lo, hi int) {
	lo = sort.Search(len(d.starts), func(i int) bool { return d.starts[i] >= from })
	hi = sort.Search(len(d.starts), func(i int) bool { return d.starts[i] > to })
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// FirstServable returns the first time a perfect poller could have seen the
// conversation with the given id in state st: VisibleAt for active (when it
// is visible before its transition), max(VisibleAt, Transition) for its final
// state. It returns false for an unknown id or a state it never reaches.
func (d *Dataset) FirstServable(id string, st jelou.State) (time.Time, bool) {
	i, ok := d.Lookup(id)
	if !ok {
		return time.Time{}, false
	}
	from, _, ok := d.servableRange(d.timeline(i), st)
	if !ok {
		return time.Time{}, false
	}
	return unix(from), true
}

// servableRange returns [from, until) during which state st of the
// conversation is served; until is 0 when it is served forever.
func (d *Dataset) servableRange(tl timeline, st jelou.State) (from, until int64, ok bool) {
	switch st {
	case jelou.StateActive:
		if tl.visible >= tl.transition {
			return 0, 0, false
		}
		return tl.visible, tl.transition, true
	case tl.final:
		return max(tl.visible, tl.transition), 0, true
	}
	return 0, 0, false
}
