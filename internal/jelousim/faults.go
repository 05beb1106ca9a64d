package jelousim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// FaultKind names one way a response can go wrong.
type FaultKind string

// Status faults replace the whole response.
const (
	// FaultUnauthorized answers 401 with the documented body.
	FaultUnauthorized FaultKind = "401"
	// FaultValidation answers 422 with the documented body.
	FaultValidation FaultKind = "422"
	// FaultRateLimit answers 429 with the documented body and a Retry-After
	// header shaped by [Fault.RetryAfterForm].
	FaultRateLimit FaultKind = "429"
	// FaultInternal answers 500 with the documented body.
	FaultInternal FaultKind = "500"
	// FaultBadGateway answers 502 with an nginx-style text/html page.
	FaultBadGateway FaultKind = "502"
	// FaultUnavailable answers 503 with a small JSON body and a Retry-After
	// header shaped like 429's.
	FaultUnavailable FaultKind = "503"
)

// Response faults alter an otherwise successful 200 response. They are
// applied only to requests that pass authentication and validation.
const (
	// FaultTruncated sends the first half of the JSON body, then ends it.
	FaultTruncated FaultKind = "truncated"
	// FaultSlowBody sends the headers at once, then dribbles the body over
	// [Fault.Delay] of wall time.
	FaultSlowBody FaultKind = "slow-body"
	// FaultDrift changes the window's rows as if they moved while it was being
	// paged: [Fault.Rows] > 0 inserts that many rows before the first one
	// (rows of the window not yet visible, else repeats of its first rows),
	// [Fault.Rows] < 0 hides that many from the front. pagination.total
	// changes accordingly.
	FaultDrift FaultKind = "drift"
	// FaultMissingID drops "_id" from the first row of the page.
	FaultMissingID FaultKind = "missing-id"
	// FaultMissingState drops "state" from the first row.
	FaultMissingState FaultKind = "missing-state"
	// FaultUnknownState sets the first row's state to "pending".
	FaultUnknownState FaultKind = "unknown-state"
	// FaultWrongTypes sends the first row's numbers as strings and its
	// company id as a number.
	FaultWrongTypes FaultKind = "wrong-types"
	// FaultAbsurdDates sends startAt "0000-00-00 00:00:00" and a non-null
	// endAt "9999-99-99 99:99:99" in the first row.
	FaultAbsurdDates FaultKind = "absurd-dates"
	// FaultDuplicateRow appends a copy of the first row to the page, so the
	// page holds one row more than the limit allows.
	FaultDuplicateRow FaultKind = "duplicate-row"
	// FaultEmptyResults sends "results": [] with the true pagination.
	FaultEmptyResults FaultKind = "empty-results"
	// FaultAbsurdTotal makes the page's pagination claim 5,000,000 rows
	// (totalPages agreeing with it); the rows themselves are right.
	FaultAbsurdTotal FaultKind = "absurd-total"
	// FaultContradictoryPages sends a totalPages that disagrees with
	// total and limit (a thousand times too many pages).
	FaultContradictoryPages FaultKind = "contradictory-pages"
	// FaultOversized adds a "padding" string of [Fault.Size] bytes to an
	// otherwise valid body.
	FaultOversized FaultKind = "oversized"
	// FaultEndlessPages answers with a full page (limit rows, at most
	// PageCap) of rows made up for this response, each with an _id never
	// served before and a start time inside the window, and a pagination
	// that claims [AbsurdTotal] rows: a server whose pages never end and
	// never repeat. With [Fault.Size] > 0 the body also carries a "padding"
	// string of that many bytes (no default: 0 means no padding). Made-up
	// rows are not recorded by the oracle.
	FaultEndlessPages FaultKind = "endless-pages"
)

// FaultKinds lists every kind, status faults first.
var FaultKinds = []FaultKind{
	FaultUnauthorized, FaultValidation, FaultRateLimit, FaultInternal, FaultBadGateway, FaultUnavailable,
	FaultTruncated, FaultSlowBody, FaultDrift, FaultMissingID, FaultMissingState, FaultUnknownState,
	FaultWrongTypes, FaultAbsurdDates, FaultDuplicateRow, FaultEmptyResults, FaultAbsurdTotal,
	FaultContradictoryPages, FaultOversized, FaultEndlessPages,
}

// Valid reports whether k is one of [FaultKinds].
func (k FaultKind) Valid() bool { return slices.Contains(FaultKinds, k) }

// replacesResponse reports whether k is a status fault, decided before
// authentication.
func (k FaultKind) replacesResponse() bool {
	switch k {
	case FaultUnauthorized, FaultValidation, FaultRateLimit, FaultInternal, FaultBadGateway, FaultUnavailable:
		return true
	}
	return false
}

// RetryAfterForm is how a 429 or 503 carries Retry-After.
type RetryAfterForm string

// The Retry-After forms. The zero value means RetryAfterSeconds.
const (
	RetryAfterSeconds RetryAfterForm = "seconds"
	RetryAfterDate    RetryAfterForm = "date"
	RetryAfterNone    RetryAfterForm = "none"
)

// Fault is one injected failure. Zero fields take the defaults stated on them.
type Fault struct {
	// Kind selects the failure. Required.
	Kind FaultKind
	// RetryAfter is the wait announced by 429 and 503, rounded up to whole
	// seconds. Default: 1s.
	RetryAfter time.Duration
	// RetryAfterForm shapes the Retry-After header. Default: seconds.
	RetryAfterForm RetryAfterForm
	// Rows is the drift in rows: positive inserts, negative hides. Default: 1.
	Rows int
	// Delay is how long a slow body takes to arrive, in wall time. Default: 3s.
	Delay time.Duration
	// Size is the padding of an oversized body in bytes. Default: 64 MiB
	// for FaultOversized, none for FaultEndlessPages.
	Size int64
}

func (f Fault) withDefaults() Fault {
	if f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	if f.RetryAfterForm == "" {
		f.RetryAfterForm = RetryAfterSeconds
	}
	if f.Rows == 0 {
		f.Rows = 1
	}
	if f.Delay <= 0 {
		f.Delay = 3 * time.Second
	}
	if f.Size <= 0 && f.Kind == FaultOversized {
		f.Size = 64 << 20
	}
	return f
}

func (f Fault) validate() error {
	if !f.Kind.Valid() {
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	switch f.RetryAfterForm {
	case "", RetryAfterSeconds, RetryAfterDate, RetryAfterNone:
	default:
		return fmt.Errorf("fault %s: retryAfterForm must be seconds, date or none, got %q", f.Kind, f.RetryAfterForm)
	}
	return nil
}

// faultJSON is the wire form of a Fault on the admin API.
type faultJSON struct {
	Kind           FaultKind      `json:"kind"`
	RetryAfter     string         `json:"retryAfter,omitempty"`
	RetryAfterForm RetryAfterForm `json:"retryAfterForm,omitempty"`
	Rows           int            `json:"rows,omitempty"`
	Delay          string         `json:"delay,omitempty"`
	Size           int64          `json:"size,omitempty"`
}

// MarshalJSON encodes f with durations as Go duration strings ("1.5s").
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Kind: f.Kind, RetryAfterForm: f.RetryAfterForm, Rows: f.Rows, Size: f.Size}
	if f.RetryAfter != 0 {
		j.RetryAfter = f.RetryAfter.String()
	}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form MarshalJSON writes and validates it.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode fault: %w", err)
	}
	out := Fault{Kind: j.Kind, RetryAfterForm: j.RetryAfterForm, Rows: j.Rows, Size: j.Size}
	var err error
	if j.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(j.RetryAfter); err != nil {
			return fmt.Errorf("decode fault %s: retryAfter: %w", j.Kind, err)
		}
	}
	if j.Delay != "" {
		if out.Delay, err = time.ParseDuration(j.Delay); err != nil {
			return fmt.Errorf("decode fault %s: delay: %w", j.Kind, err)
		}
	}
	if err := out.validate(); err != nil {
		return err
	}
	*f = out
	return nil
}

// FaultRates maps a fault kind to the probability that a request suffers it.
// Each request draws once; the probabilities must add up to at most 1.
type FaultRates map[FaultKind]float64

func (r FaultRates) validate() error {
	sum := 0.0
	for k, p := range r {
		if !k.Valid() {
			return fmt.Errorf("fault rates: unknown fault kind %q", k)
		}
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("fault rates: probability of %s must be in [0, 1], got %v", k, p)
		}
		sum += p
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("fault rates add up to %v, more than 1", sum)
	}
	return nil
}

// faults holds the scripted queue and the random rates. Safe for concurrent use.
type faults struct {
	mu      sync.Mutex
	queue   []Fault
	rates   FaultRates
	kinds   []FaultKind // rates' keys in FaultKinds order, for a deterministic draw
	rng     *rand.Rand
	latency time.Duration
	jitter  time.Duration
}

func newFaults(seed uint64, rates FaultRates, latency, jitter time.Duration) (*faults, error) {
	f := &faults{rng: rand.New(rand.NewPCG(seed, 0xfa17)), latency: latency, jitter: jitter}
	if err := f.setRates(rates); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *faults) setRates(r FaultRates) error {
	if err := r.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates = make(FaultRates, len(r))
	f.kinds = f.kinds[:0]
	for _, k := range FaultKinds {
		if p := r[k]; p > 0 {
			f.rates[k] = p
			f.kinds = append(f.kinds, k)
		}
	}
	return nil
}

func (f *faults) inject(x Fault, n int) error {
	if err := x.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for ; n > 0; n-- {
		f.queue = append(f.queue, x)
	}
	return nil
}

func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = nil
	f.rates = FaultRates{}
	f.kinds = nil
	f.latency, f.jitter = 0, 0
}

// delay returns the latency to add to one request.
func (f *faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.latency
	if f.jitter > 0 {
		d += time.Duration(f.rng.Int64N(int64(f.jitter)))
	}
	return d
}

// draw picks the random fault of one request, if any.
func (f *faults) draw() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.kinds) == 0 {
		return Fault{}, false
	}
	u := f.rng.Float64()
	for _, k := range f.kinds {
		if u -= f.rates[k]; u < 0 {
			x := Fault{Kind: k}
			switch k {
			case FaultRateLimit, FaultUnavailable:
				x.RetryAfterForm = []RetryAfterForm{RetryAfterSeconds, RetryAfterDate, RetryAfterNone}[f.rng.IntN(3)]
			case FaultDrift:
				x.Rows = []int{-2, -1, 1, 2}[f.rng.IntN(4)]
			}
			return x, true
		}
	}
	return Fault{}, false
}

// needsRow reports whether k changes a row of the page, so that a scripted
// fault of that kind waits for a page that has one.
func (k FaultKind) needsRow() bool {
	switch k {
	case FaultMissingID, FaultMissingState, FaultUnknownState, FaultWrongTypes, FaultAbsurdDates, FaultDuplicateRow:
		return true
	}
	return false
}

// pop takes the head of the scripted queue when it belongs to the phase
// asked for: status faults before authentication, response faults after
// validation.
func (f *faults) pop(status bool) (Fault, bool) {
	return f.popIf(status, true)
}

// popIf is pop for a page that has rows or not: a scripted fault that
// changes a row stays queued for a page with rows.
func (f *faults) popIf(status, hasRows bool) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 || f.queue[0].Kind.replacesResponse() != status || (!hasRows && f.queue[0].Kind.needsRow()) {
		return Fault{}, false
	}
	x := f.queue[0]
	f.queue = f.queue[1:]
	return x, true
}

// FaultSettings is a snapshot of the fault configuration.
type FaultSettings struct {
	// Queued is the scripted queue, next first.
	Queued []Fault `json:"queued"`
	// Rates are the random fault probabilities.
	Rates FaultRates `json:"rates"`
	// Latency and Jitter are added to every API request, in wall time.
	Latency string `json:"latency"`
	Jitter  string `json:"jitter"`
}

func (f *faults) settings() FaultSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FaultSettings{
		Queued:  slices.Clone(f.queue),
		Rates:   maps.Clone(f.rates),
		Latency: f.latency.String(),
		Jitter:  f.jitter.String(),
	}
}
