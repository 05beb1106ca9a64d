package jelousim

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/jelou-producer/jelou-producer/internal/clock"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// APIPath is the one endpoint of the vendor API the simulator serves.
const APIPath = "/v1/metrics/conversations/attended/external"

// AdminPrefix is where the simulator's own endpoints live.
const AdminPrefix = "/_sim/"

// maxBody bounds a request body; larger bodies get 422.
const maxBody = 1 << 20

// AuthForms is a set of accepted Authorization header forms.
type AuthForms uint8

// The forms. The zero value means AuthBoth.
const (
	// AuthBasic accepts "Basic base64(clientId:clientSecret)".
	AuthBasic AuthForms = 1 << iota
	// AuthRaw accepts the bare "clientId:clientSecret" of the vendor's prose.
	AuthRaw
	// AuthBoth accepts either.
	AuthBoth = AuthBasic | AuthRaw
)

// ParseAuthForms reads "basic", "raw" or "both".
func ParseAuthForms(s string) (AuthForms, error) {
	switch strings.ToLower(s) {
	case "basic":
		return AuthBasic, nil
	case "raw":
		return AuthRaw, nil
	case "both", "":
		return AuthBoth, nil
	}
	return 0, fmt.Errorf("auth forms must be basic, raw or both, got %q", s)
}

// Config configures a [Server]. Zero fields take the defaults stated on them.
type Config struct {
	// Data selects the conversations. Data.Start defaults to the clock's now
	// minus 24h (whole seconds), Data.End to Data.Start plus 48h, so that by
	// default a day of history exists and a day of live traffic follows.
	Data DataConfig
	// Clock drives visibility and state changes. Default: [clock.Real].
	// Network delays (Latency, slow bodies, Retry-After dates, the rate
	// limit) always use wall time.
	Clock clock.Clock
	// Location is the zone of startAt and endAt in rows. Default: UTC.
	Location *time.Location
	// ActiveEndAt is how active rows carry endAt and endedReason. Default: null.
	ActiveEndAt ActiveEndAt
	// IncludePage adds "page" to pagination (the vendor's sample omits it).
	// Default: false.
	IncludePage bool
	// PageCap is the most rows a page holds whatever limit asks for; the
	// pagination block then reports the effective limit. Default: 100.
	PageCap int
	// MaxWindow rejects (422) windows wider than this. Default: 0, no limit.
	MaxWindow time.Duration
	// Order is the row order. Default: [OrderStartDesc].
	Order Order
	// ClientID and ClientSecret are the accepted credentials.
	// Default: "sim-client" and "sim-secret".
	ClientID, ClientSecret string
	// Auth is the set of accepted Authorization forms. Default: [AuthBoth].
	Auth AuthForms
	// RateLimit is the most API requests per second the server accepts
	// before answering 429 with Retry-After. Default: 0, no limit.
	RateLimit float64
	// RateBurst is the rate limiter's burst. Default: RateLimit rounded up.
	RateBurst int
	// Latency is added to every API request, plus a uniform random part of
	// up to LatencyJitter. Default: none.
	Latency, LatencyJitter time.Duration
	// FaultRates injects random faults. Default: none.
	FaultRates FaultRates
	// PadRow makes one conversation's row huge in every response that
	// holds it (see [Server.SetPadRow]). Default: none.
	PadRow PadRow
}

// PadRow makes one row of the data set larger than a Kafka record may be:
// every response that holds it carries a "notes" member of Size bytes of
// base64 (incompressible, the same for every response) in it. The row
// stays well-formed and counts as served.
type PadRow struct {
	// ID is the conversation; empty means the data set's first one
	// (Dataset.Conversation(0)).
	ID string
	// Size is the length of "notes" in bytes; zero or less pads nothing.
	Size int
}

// padding is the notes of the padded row.
type padding struct {
	id    string
	notes []byte
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Data.Start.IsZero() {
		c.Data.Start = c.Clock.Now().Add(-24 * time.Hour).Truncate(time.Second)
	}
	if c.Data.End.IsZero() {
		c.Data.End = c.Data.Start.Add(48 * time.Hour)
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.ActiveEndAt == "" {
		c.ActiveEndAt = ActiveEndAtNull
	}
	if c.PageCap == 0 {
		c.PageCap = 100
	}
	if c.Order == "" {
		c.Order = OrderStartDesc
	}
	if c.ClientID == "" {
		c.ClientID = "sim-client"
	}
	if c.ClientSecret == "" {
		c.ClientSecret = "sim-secret"
	}
	if c.Auth == 0 {
		c.Auth = AuthBoth
	}
	if c.RateBurst == 0 {
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.ActiveEndAt != ActiveEndAtNull && c.ActiveEndAt != ActiveEndAtEmpty {
		errs = append(errs, fmt.Errorf("active endAt must be null or empty, got %q", c.ActiveEndAt))
	}
	if c.PageCap < 1 {
		errs = append(errs, fmt.Errorf("page cap must be positive, got %d", c.PageCap))
	}
	if c.MaxWindow < 0 {
		errs = append(errs, fmt.Errorf("max window must not be negative, got %s", c.MaxWindow))
	}
	if err := c.Order.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Auth&^AuthBoth != 0 {
		errs = append(errs, fmt.Errorf("auth forms %d unknown", c.Auth))
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("rate limit and burst must not be negative, got %v and %d", c.RateLimit, c.RateBurst))
	}
	if c.Latency < 0 || c.LatencyJitter < 0 {
		errs = append(errs, fmt.Errorf("latency and jitter must not be negative, got %s and %s", c.Latency, c.LatencyJitter))
	}
	return errors.Join(errs...)
}

// Server is the simulated API, an [http.Handler]. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	data    *Dataset
	clock   clock.Clock
	creds   atomic.Pointer[string] // "id:secret"; nil when revoked
	limiter *rate.Limiter          // nil without a rate limit
	faults  *faults
	oracle  *oracle
	stats   counters
	made    atomic.Uint64 // rows made up by FaultEndlessPages so far
	pad     atomic.Pointer[padding]
}

// New generates the data set and returns a server for it.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("jelousim config: %w", err)
	}
	data, err := Generate(cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("jelousim config: %w", err)
	}
	cfg.Data = data.Config()
	f, err := newFaults(cfg.Data.Seed, cfg.FaultRates, cfg.Latency, cfg.LatencyJitter)
	if err != nil {
		return nil, fmt.Errorf("jelousim config: %w", err)
	}
	s := &Server{cfg: cfg, data: data, clock: cfg.Clock, faults: f, oracle: newOracle(data.Len())}
	s.SetCredentials(cfg.ClientID, cfg.ClientSecret)
	s.SetPadRow(cfg.PadRow)
	if cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst)
	}
	return s, nil
}

// Config returns the server's configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Dataset returns the conversations the server serves.
func (s *Server) Dataset() *Dataset { return s.data }

// Now returns the server clock's time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// SetCredentials replaces the accepted credentials; requests with the old
// ones get 401 from then on.
func (s *Server) SetCredentials(clientID, clientSecret string) {
	v := clientID + ":" + clientSecret
	s.creds.Store(&v)
}

// Revoke makes every request fail with 401 until [Server.SetCredentials].
func (s *Server) Revoke() { s.creds.Store(nil) }

// InjectNext queues n copies of f; they are used, in order, by the next
// requests of f's phase (status faults before authentication, response
// faults once a request is valid). A fault that changes a row waits for a
// page that has one.
func (s *Server) InjectNext(f Fault, n int) error { return s.faults.inject(f, n) }

// SetFaultRates replaces the random fault probabilities.
func (s *Server) SetFaultRates(r FaultRates) error { return s.faults.setRates(r) }

// SetLatency replaces the added latency and its jitter.
func (s *Server) SetLatency(latency, jitter time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.latency, s.faults.jitter = max(0, latency), max(0, jitter)
}

// ClearFaults empties the queue and removes random faults and latency.
func (s *Server) ClearFaults() { s.faults.clear() }

// SetPadRow pads the row p names from the next response on (replacing any
// padded row; a Size of zero removes it) and returns its conversation id.
func (s *Server) SetPadRow(p PadRow) string {
	if p.Size <= 0 {
		s.pad.Store(nil)
		return ""
	}
	id := p.ID
	if id == "" && s.data.Len() > 0 {
		id = s.data.Conversation(0).ID
	}
	seed := fnv.New64a()
	_, _ = seed.Write([]byte(id))
	rng := rand.New(rand.NewPCG(seed.Sum64(), 0x9ad))
	raw := make([]byte, p.Size*3/4+3)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	notes := []byte(base64.StdEncoding.EncodeToString(raw))[:p.Size]
	s.pad.Store(&padding{id: id, notes: notes})
	return id
}

// Faults returns the current fault settings.
func (s *Server) Faults() FaultSettings { return s.faults.settings() }

// ResetOracle forgets which pairs were served and zeroes the counters.
func (s *Server) ResetOracle() {
	s.oracle.reset()
	s.stats.reset()
}

// counters count API requests by status and injected faults by kind.
type counters struct {
	total       atomic.Int64
	byStatus    [600]atomic.Int64
	rateLimited atomic.Int64
	mu          sync.Mutex
	faults      map[FaultKind]int64
}

func (c *counters) reset() {
	c.total.Store(0)
	for i := range c.byStatus {
		c.byStatus[i].Store(0)
	}
	c.rateLimited.Store(0)
	c.mu.Lock()
	c.faults = nil
	c.mu.Unlock()
}

func (c *counters) fault(k FaultKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faults == nil {
		c.faults = map[FaultKind]int64{}
	}
	c.faults[k]++
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Now is the server clock's time.
	Now time.Time `json:"now"`
	// Conversations is the size of the data set.
	Conversations int `json:"conversations"`
	// Requests counts requests outside AdminPrefix that got a response.
	Requests int64 `json:"requests"`
	// ByStatus counts them by HTTP status.
	ByStatus map[int]int64 `json:"byStatus"`
	// RateLimited counts 429s from the server-side rate limit (not faults).
	RateLimited int64 `json:"rateLimited"`
	// Faults counts injected faults by kind.
	Faults map[FaultKind]int64 `json:"faults"`
	// ServedPairs is [Server.ServedCount].
	ServedPairs int `json:"servedPairs"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Now:           s.clock.Now(),
		Conversations: s.data.Len(),
		Requests:      s.stats.total.Load(),
		ByStatus:      map[int]int64{},
		RateLimited:   s.stats.rateLimited.Load(),
		Faults:        map[FaultKind]int64{},
		ServedPairs:   s.ServedCount(),
	}
	for code := range s.stats.byStatus {
		if n := s.stats.byStatus[code].Load(); n > 0 {
			st.ByStatus[code] = n
		}
	}
	s.stats.mu.Lock()
	for k, n := range s.stats.faults {
		st.Faults[k] = n
	}
	s.stats.mu.Unlock()
	return st
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ServeHTTP serves APIPath, the admin endpoints under AdminPrefix, and 404
// for everything else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if sw.status > 0 {
			s.stats.total.Add(1)
			if sw.status < len(s.stats.byStatus) {
				s.stats.byStatus[sw.status].Add(1)
			}
		}
	}()
	switch {
	case r.URL.Path != APIPath:
		writeJSON(sw, http.StatusNotFound, bodyNotFound)
	case r.Method != http.MethodPost:
		sw.Header().Set("Allow", http.MethodPost)
		writeJSON(sw, http.StatusMethodNotAllowed, bodyMethod)
	default:
		s.serveAPI(sw, r)
	}
}

func writeBody(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	writeBody(w, status, "application/json; charset=utf-8", body)
}

// sleep waits d of wall time or until ctx ends; it reports whether d passed.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !sleep(r, s.faults.delay()) {
		return
	}
	if s.limiter != nil {
		res := s.limiter.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			s.stats.rateLimited.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, bodyRateLimited)
			return
		}
	}
	random, randomOK := s.faults.draw()
	if f, ok := s.faults.pop(true); ok {
		s.writeStatusFault(w, f)
		return
	}
	if randomOK && random.Kind.replacesResponse() {
		s.writeStatusFault(w, random)
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		writeJSON(w, http.StatusUnauthorized, bodyUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err == nil && len(body) > maxBody {
		err = badRequest("body is larger than %d bytes", maxBody)
	}
	var req request
	if err == nil {
		req, err = parseRequest(r.URL.Query(), body, s.cfg.MaxWindow)
	}
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) {
			return // the client went away while sending its body
		}
		w.Header().Set("X-Sim-Reason", re.reason)
		writeJSON(w, http.StatusUnprocessableEntity, bodyValidation)
		return
	}
	f, ok := s.faults.popIf(false, s.pageHasRows(req))
	if !ok && randomOK {
		f, ok = random, true
	}
	if ok {
		s.stats.fault(f.Kind)
		f = f.withDefaults()
	}
	s.serveWindow(w, r, req, f)
}

func (s *Server) authorized(header string) bool {
	want := s.creds.Load()
	if want == nil {
		return false
	}
	header = strings.TrimSpace(header)
	if scheme, token, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Basic") {
		if s.cfg.Auth&AuthBasic == 0 {
			return false
		}
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		return err == nil && subtle.ConstantTimeCompare(got, []byte(*want)) == 1
	}
	return s.cfg.Auth&AuthRaw != 0 && subtle.ConstantTimeCompare([]byte(header), []byte(*want)) == 1
}

func (s *Server) writeStatusFault(w http.ResponseWriter, f Fault) {
	s.stats.fault(f.Kind)
	f = f.withDefaults()
	switch f.Kind {
	case FaultUnauthorized:
		writeJSON(w, http.StatusUnauthorized, bodyUnauthorized)
	case FaultValidation:
		w.Header().Set("X-Sim-Reason", "injected fault")
		writeJSON(w, http.StatusUnprocessableEntity, bodyValidation)
	case FaultRateLimit:
		setRetryAfter(w, f)
		writeJSON(w, http.StatusTooManyRequests, bodyRateLimited)
	case FaultInternal:
		writeJSON(w, http.StatusInternalServerError, bodyInternal)
	case FaultBadGateway:
		writeBody(w, http.StatusBadGateway, "text/html", bodyBadGateway)
	case FaultUnavailable:
		setRetryAfter(w, f)
		writeJSON(w, http.StatusServiceUnavailable, bodyUnavailable)
	}
}

func setRetryAfter(w http.ResponseWriter, f Fault) {
	secs := int(math.Ceil(f.RetryAfter.Seconds()))
	switch f.RetryAfterForm {
	case RetryAfterSeconds:
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	case RetryAfterDate:
		// An HTTP date has whole seconds: round up so the wait is never shorter.
		at := time.Now().Add(time.Duration(secs+1) * time.Second).Truncate(time.Second)
		w.Header().Set("Retry-After", at.UTC().Format(http.TimeFormat))
	}
}

// AbsurdTotal is the pagination.total a FaultAbsurdTotal response claims.
const AbsurdTotal = 5_000_000

// pageHasRows reports whether the page req asks for holds a row now.
func (s *Server) pageHasRows(req request) bool {
	sel := s.data.selectWindow(req.from, req.to, s.clock.Now().Unix())
	n := sel.len()
	limit := min(req.limit, s.cfg.PageCap)
	return n > (req.page-1)*limit
}

// mark is one pair a page served.
type mark struct {
	index    int
	terminal bool
}

// serveWindow answers a valid request with its page, applying response
// fault f when f.Kind is set.
func (s *Server) serveWindow(w http.ResponseWriter, r *http.Request, req request, f Fault) {
	now := s.clock.Now()
	l := listing{
		sel:   s.data.selectWindow(req.from, req.to, now.Unix()),
		order: s.cfg.Order,
		key:   mix(s.cfg.Data.Seed ^ mix(uint64(req.from)) ^ mix(uint64(req.to)<<1)),
	}
	if f.Kind == FaultEndlessPages {
		s.serveEndless(w, req, now, f.Size)
		return
	}
	if f.Kind == FaultDrift {
		l.drift(f.Rows)
	}
	total := l.len()
	limit := min(req.limit, s.cfg.PageCap)
	p := pagination{limit: limit, page: req.page, total: total, offset: (req.page - 1) * limit, totalPages: (total + limit - 1) / limit}
	switch f.Kind {
	case FaultAbsurdTotal:
		p.total = AbsurdTotal
		p.totalPages = (AbsurdTotal + limit - 1) / limit
	case FaultContradictoryPages:
		p.totalPages = p.totalPages*1000 + 7
	}
	var idx []int
	for pos := p.offset; pos < total && pos < p.offset+limit; pos++ {
		idx = append(idx, l.at(pos))
	}
	if s.cfg.Order == OrderShuffled {
		rand.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	if f.Kind == FaultEmptyResults {
		idx = nil
	}
	opts := rowOptions{now: now, loc: s.cfg.Location, emptyEnd: s.cfg.ActiveEndAt == ActiveEndAtEmpty}
	b := appendEnvelopeHead(make([]byte, 0, 256+len(idx)*512))
	marks := make([]mark, 0, len(idx))
	var dup []byte
	for k, i := range idx {
		if k > 0 {
			b = append(b, ',')
		}
		o := opts
		if k == 0 {
			switch f.Kind {
			case FaultMissingID, FaultMissingState, FaultUnknownState, FaultWrongTypes, FaultAbsurdDates:
				o.corrupt = f.Kind
			}
		}
		rowStart := len(b)
		var state jelou.State
		var intact bool
		c := s.data.Conversation(i)
		if pd := s.pad.Load(); pd != nil && c.ID == pd.id {
			o.notes = pd.notes
		}
		b, state, intact = appendRow(b, c, o)
		if intact {
			marks = append(marks, mark{index: i, terminal: state.Terminal()})
		}
		if k == 0 && f.Kind == FaultDuplicateRow {
			dup = append([]byte(nil), b[rowStart:]...)
		}
	}
	if dup != nil {
		b = append(append(b, ','), dup...)
	}
	b = appendEnvelopeTail(b, p, s.cfg.IncludePage)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	switch f.Kind {
	case FaultTruncated:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b[:len(b)/2])
		return
	case FaultOversized:
		s.writeOversized(w, b, f.Size)
		return
	case FaultSlowBody:
		if !s.writeSlowly(w, r, b, f.Delay) {
			return
		}
	default:
		h.Set("Content-Length", strconv.Itoa(len(b)))
		if _, err := w.Write(b); err != nil {
			return
		}
	}
	for _, m := range marks {
		s.oracle.mark(m.index, m.terminal)
	}
}

// serveEndless answers req with a full page of rows made up for it (ids
// never served before, start times inside the window) and a pagination
// claiming AbsurdTotal rows, padded with size bytes when size > 0.
func (s *Server) serveEndless(w http.ResponseWriter, req request, now time.Time, size int64) {
	limit := min(req.limit, s.cfg.PageCap)
	p := pagination{limit: limit, page: req.page, total: AbsurdTotal, offset: (req.page - 1) * limit, totalPages: (AbsurdTotal + limit - 1) / limit}
	opts := rowOptions{now: now, loc: s.cfg.Location, emptyEnd: s.cfg.ActiveEndAt == ActiveEndAtEmpty}
	b := appendEnvelopeHead(make([]byte, 0, 256+limit*512))
	span := req.to - req.from + 1
	for k := range limit {
		if k > 0 {
			b = append(b, ',')
		}
		n := s.made.Add(1)
		start := unix(req.from + int64(n)%span)
		c := Conversation{
			ID:            fmt.Sprintf("%08xee%014x", uint32(start.Unix()), n),
			Start:         start,
			VisibleAt:     start,
			Transition:    start.Add(time.Minute),
			FinalState:    jelou.StateClosed,
			EndedReason:   "endless",
			CompanyID:     "1000",
			OperatorNames: "Endless Pages",
			UserID:        "593900000000",
			BotName:       "endless",
			TeamName:      "endless",
			Origin:        "endless",
		}
		b, _, _ = appendRow(b, c, opts)
	}
	b = appendEnvelopeTail(b, p, s.cfg.IncludePage)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if size > 0 {
		s.writeOversized(w, b, size)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// writeOversized sends body with a "padding" member of size bytes added.
func (s *Server) writeOversized(w http.ResponseWriter, body []byte, size int64) {
	head := append(body[:len(body)-1:len(body)-1], `,"padding":"`...)
	const tail = `"}`
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+size+int64(len(tail)), 10))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(head); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("x", 32<<10))
	for size > 0 {
		n := min(size, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		size -= n
	}
	_, _ = io.WriteString(w, tail)
}

// writeSlowly sends the headers, then body in ten pieces spread over d.
func (s *Server) writeSlowly(w http.ResponseWriter, r *http.Request, body []byte, d time.Duration) bool {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	const pieces = 10
	for k := range pieces {
		if !sleep(r, d/pieces) {
			return false
		}
		from, to := len(body)*k/pieces, len(body)*(k+1)/pieces
		if _, err := w.Write(body[from:to]); err != nil {
			return false
		}
		_ = http.NewResponseController(w).Flush()
	}
	return true
}
