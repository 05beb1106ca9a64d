package jelousim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// FaultRequest is the body of POST /_sim/faults. Every member is optional;
// they are applied in the order listed here.
type FaultRequest struct {
	// Clear empties the queue and removes random faults and latency first.
	Clear bool `json:"clear,omitempty"`
	// Next queues faults for the next requests.
	Next []QueuedFault `json:"next,omitempty"`
	// Rates replaces the random fault probabilities when present.
	Rates FaultRates `json:"rates,omitempty"`
	// Latency and Jitter ("50ms") replace the added latency when present.
	Latency *string `json:"latency,omitempty"`
	Jitter  *string `json:"jitter,omitempty"`
}

// QueuedFault is a fault and how many requests it applies to (default 1).
type QueuedFault struct {
	// Fault is the fault, in its JSON form ("kind", "retryAfter", ...).
	Fault
	// Count is how many requests get it ("count"). Default: 1.
	Count int
}

// UnmarshalJSON reads a fault object with an extra "count" member.
func (q *QueuedFault) UnmarshalJSON(b []byte) error {
	var c struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("decode queued fault: %w", err)
	}
	if err := json.Unmarshal(b, &q.Fault); err != nil {
		return err
	}
	q.Count = max(c.Count, 1)
	return nil
}

// CredentialsRequest is the body of POST /_sim/credentials: either revoke,
// or set new credentials.
type CredentialsRequest struct {
	// Revoke makes every API request fail with 401.
	Revoke bool `json:"revoke,omitempty"`
	// ClientID and ClientSecret replace the accepted credentials.
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty"`
}

func adminError(w http.ResponseWriter, status int, err error) {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	writeJSON(w, status, string(b))
}

func adminJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, string(b))
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	allowed := map[string]string{
		"stats": "GET", "served": "GET", "servable": "GET", "first-servable": "GET",
		"faults": "GET, POST, DELETE", "credentials": "POST", "reset": "POST",
	}[route]
	if allowed == "" {
		adminError(w, http.StatusNotFound, fmt.Errorf("no admin endpoint %s", r.URL.Path))
		return
	}
	if !strings.Contains(allowed, r.Method) {
		w.Header().Set("Allow", allowed)
		adminError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: method must be %s", r.Method, r.URL.Path, allowed))
		return
	}
	switch route {
	case "stats":
		adminJSON(w, s.Stats())
	case "served":
		streamPairs(w, s.ServedSeq(), "")
	case "servable":
		s.adminServable(w, r)
	case "first-servable":
		s.adminFirstServable(w, r)
	case "faults":
		s.adminFaults(w, r)
	case "credentials":
		s.adminCredentials(w, r)
	case "reset":
		s.ResetOracle()
		adminJSON(w, s.Stats())
	}
}

// streamPairs writes {"pairs":[...],"count":n} with extra members (already
// encoded, each ending in a comma) in front, one pair per line.
func streamPairs[P any](w http.ResponseWriter, pairs iter.Seq[P], extra string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "{%s\"pairs\":[\n", extra)
	n := 0
	for p := range pairs {
		b, err := json.Marshal(p)
		if err != nil {
			return
		}
		if n > 0 {
			bw.WriteString(",\n")
		}
		if _, err := bw.Write(b); err != nil {
			return // the client went away; the body is cut
		}
		n++
	}
	fmt.Fprintf(bw, "\n],\"count\":%d}\n", n)
	_ = bw.Flush()
}

func (s *Server) adminServable(w http.ResponseWriter, r *http.Request) {
	asOf := s.clock.Now()
	if v := r.URL.Query().Get("asOf"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("asOf: %w", err))
			return
		}
		asOf = t
	}
	stamp, _ := json.Marshal(asOf.UTC())
	streamPairs(w, s.ServableSeq(asOf), `"asOf":`+string(stamp)+`,`)
}

func (s *Server) adminFirstServable(w http.ResponseWriter, r *http.Request) {
	id, state := r.URL.Query().Get("id"), jelou.State(r.URL.Query().Get("state"))
	t, ok := s.FirstServable(id, state)
	if !ok {
		adminError(w, http.StatusNotFound, fmt.Errorf("conversation %q never serves state %q", id, state))
		return
	}
	adminJSON(w, ServablePair{ID: id, State: state, FirstServableAt: t})
}

func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodDelete:
		s.ClearFaults()
	case http.MethodPost:
		var req FaultRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("decode fault request: %w", err))
			return
		}
		if err := s.applyFaultRequest(req); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
	}
	adminJSON(w, s.Faults())
}

func (s *Server) applyFaultRequest(req FaultRequest) error {
	var latency, jitter time.Duration
	var err error
	current := s.Faults()
	for _, d := range []struct {
		in  *string
		def string
		out *time.Duration
	}{{req.Latency, current.Latency, &latency}, {req.Jitter, current.Jitter, &jitter}} {
		v := d.def
		if d.in != nil {
			v = *d.in
		}
		if *d.out, err = time.ParseDuration(v); err != nil || *d.out < 0 {
			return fmt.Errorf("latency and jitter must be non-negative durations, got %q", v)
		}
	}
	if req.Rates != nil {
		if err := req.Rates.validate(); err != nil {
			return err
		}
	}
	if req.Clear {
		s.ClearFaults()
	}
	for _, q := range req.Next {
		if err := s.InjectNext(q.Fault, q.Count); err != nil {
			return err
		}
	}
	if req.Rates != nil {
		if err := s.SetFaultRates(req.Rates); err != nil {
			return err
		}
	}
	if req.Latency != nil || req.Jitter != nil {
		s.SetLatency(latency, jitter)
	}
	return nil
}

func (s *Server) adminCredentials(w http.ResponseWriter, r *http.Request) {
	var req CredentialsRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		adminError(w, http.StatusBadRequest, fmt.Errorf("decode credentials request: %w", err))
		return
	}
	switch {
	case req.Revoke:
		s.Revoke()
	case req.ClientID != "" && req.ClientSecret != "":
		s.SetCredentials(req.ClientID, req.ClientSecret)
	default:
		adminError(w, http.StatusBadRequest, fmt.Errorf("give revoke, or clientId and clientSecret"))
		return
	}
	adminJSON(w, map[string]bool{"ok": true})
}
