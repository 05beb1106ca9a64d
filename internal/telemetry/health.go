package telemetry

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/clock"
)

// Health tracks named readiness checks and serves /healthz and /readyz. It is
// safe for concurrent use.
//
// A check is declared with [Health.Require] and fed with [Health.Set] by the
// component that knows: the publisher after each write ("kafka"), the poller
// after each poll ("poll", with a max age), the API client on 401
// ("jelou_auth"). The service is ready when every check's last result was
// a success, no older than its max age.
//
// The sources this replica polls are reported one by one ([Health.SetSource]):
// a failed (or retrying) source does not make the service unready while
// another source it polls is ok; when none of them is ok, the "sources"
// check fails.
type Health struct {
	clock clock.Clock

	mu      sync.Mutex
	checks  map[string]*check
	owner   *Ownership
	sources map[string]SourceStatus
}

// CheckSources is the check /readyz lists while the replica polls sources
// ([Health.SetSource]): it fails when none of them is ok (each failed or
// retrying).
const CheckSources = "sources"

// Values of SourceStatus.State.
const (
	SourceOK     = "ok"     // the source polls
	SourceFailed = "failed" // the source stopped and waits to be retried
	// SourceRetrying: the source was retried and polls, on probation: it
	// counts as not ok (like failed) until it has polled without failing
	// for as long as the service's probation, then it is ok.
	SourceRetrying = "retrying"
)

// SourceStatus is the state of one source this replica polls, as /readyz
// reports it.
type SourceStatus struct {
	Source string `json:"source"`
	// State is SourceOK, SourceFailed or SourceRetrying.
	State string `json:"state"`
	// Reason is the (last) failure's reason label (auth, publish, ...) and
	// Error its message; both empty when ok.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Since is when the source entered State.
	Since time.Time `json:"since"`
	// Failures counts the failures in a row (0 when ok; kept while
	// retrying).
	Failures int `json:"failures,omitempty"`
	// NextRetry is when a failed source is tried again.
	NextRetry *time.Time `json:"next_retry,omitempty"`
}

// Ownership is what /readyz says of the sources this replica serves.
type Ownership struct {
	// Group is the consumer group; empty when the replica polls every
	// source itself (file checkpoint backend).
	Group string `json:"group,omitempty"`
	// Generation is the group generation; 0 outside a group or while
	// joining.
	Generation int64 `json:"generation"`
	// Member is this replica's member id in the group.
	Member string `json:"member,omitempty"`
	// Sources are the configured source ids.
	Sources []string `json:"sources"`
	// Owned are the sources this replica polls now; the others it stands
	// by for.
	Owned []string `json:"owned"`
}

type check struct {
	maxAge      time.Duration
	set         bool
	err         error
	lastSuccess time.Time
}

// CheckStatus is the state of one check, as /readyz reports it.
type CheckStatus struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Error says why the check fails; empty when OK.
	Error string `json:"error,omitempty"`
	// LastSuccess is when the check last passed; absent if it never did.
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// MaxAge is the longest time allowed since LastSuccess; 0 means no limit.
	MaxAge string `json:"max_age,omitempty"`
}

// Report is the body of /readyz.
type Report struct {
	Ready  bool          `json:"ready"`
	Checks []CheckStatus `json:"checks"`
	// Ownership is set once the service knows what it owns.
	Ownership *Ownership `json:"ownership,omitempty"`
	// Sources are the sources this replica polls, sorted by id.
	Sources []SourceStatus `json:"sources,omitempty"`
}

// NewHealth returns a Health with no checks, measuring ages on c (nil means
// the wall clock). With no checks it is ready.
func NewHealth(c clock.Clock) *Health {
	if c == nil {
		c = clock.Real{}
	}
	return &Health{clock: c, checks: map[string]*check{}, sources: map[string]SourceStatus{}}
}

// SetSource records the state of a source this replica polls.
func (h *Health) SetSource(st SourceStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sources[st.Source] = st
}

// RemoveSource forgets a source this replica no longer polls.
func (h *Health) RemoveSource(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sources, id)
}

// Require declares the check name, failing ("no result yet") until its first
// Set. When maxAge > 0 the check also fails once its last success is older
// than maxAge, which catches a component that stopped reporting. Declaring a
// check again changes its maxAge and keeps its state.
func (h *Health) Require(name string, maxAge time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lookup(name).maxAge = maxAge
}

// Set records the outcome of check name now: nil for success, the reason for
// failure. A check that was not declared is declared without a max age.
func (h *Health) Set(name string, err error) {
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.lookup(name)
	c.set, c.err = true, err
	if err == nil {
		c.lastSuccess = now
	}
}

// lookup returns the check name, declaring it without a max age if it was
// not declared yet. h.mu must be held.
func (h *Health) lookup(name string) *check {
	c := h.checks[name]
	if c == nil {
		c = &check{}
		h.checks[name] = c
	}
	return c
}

// SetOwnership records what this replica owns, for /readyz.
func (h *Health) SetOwnership(o Ownership) {
	o.Sources, o.Owned = slices.Clone(o.Sources), slices.Clone(o.Owned)
	if o.Owned == nil {
		o.Owned = []string{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.owner = &o
}

// Report returns the state of every check, sorted by name.
func (h *Health) Report() Report {
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := Report{Ready: true, Checks: make([]CheckStatus, 0, len(h.checks))}
	if h.owner != nil {
		o := *h.owner
		r.Ownership = &o
	}
	for name, c := range h.checks {
		s := CheckStatus{Name: name, OK: true}
		if !c.lastSuccess.IsZero() {
			t := c.lastSuccess
			s.LastSuccess = &t
		}
		if c.maxAge > 0 {
			s.MaxAge = c.maxAge.String()
		}
		switch age := now.Sub(c.lastSuccess); {
		case !c.set:
			s.OK, s.Error = false, "no result yet"
		case c.err != nil:
			s.OK, s.Error = false, c.err.Error()
		case c.maxAge > 0 && age > c.maxAge:
			s.OK, s.Error = false, fmt.Sprintf("last success %s ago, more than %s", age.Round(time.Second), c.maxAge)
		}
		r.Ready = r.Ready && s.OK
		r.Checks = append(r.Checks, s)
	}
	if len(h.sources) > 0 {
		s := CheckStatus{Name: CheckSources, OK: false}
		var notOK []string
		retrying := false
		for _, id := range slices.Sorted(maps.Keys(h.sources)) {
			st := h.sources[id]
			r.Sources = append(r.Sources, st)
			switch st.State {
			case SourceOK:
				s.OK = true
			case SourceRetrying:
				retrying = true
				notOK = append(notOK, id+" (retrying)")
			default:
				notOK = append(notOK, id)
			}
		}
		switch {
		case s.OK:
		case retrying:
			s.Error = "no source polled here is ok: " + strings.Join(notOK, ", ")
		default:
			s.Error = "every source polled here failed: " + strings.Join(notOK, ", ")
		}
		r.Ready = r.Ready && s.OK
		r.Checks = append(r.Checks, s)
	}
	slices.SortFunc(r.Checks, func(a, b CheckStatus) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// Ready reports whether every check passes.
func (h *Health) Ready() bool { return h.Report().Ready }

// LiveHandler serves /healthz: 200 "ok" while the process can serve HTTP.
func (h *Health) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// ReadyHandler serves /readyz: the [Report] as JSON, with status 200 when
// ready and 503 otherwise.
func (h *Health) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r := h.Report()
		body, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write(append(body, '\n'))
	})
}
