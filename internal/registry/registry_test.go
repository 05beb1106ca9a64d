package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
	"github.com/jelou-producer/jelou-producer/schemas"
)

// testEvents builds events from the recorded rows of pkg/event: with and
// without a company, a state change, a row with problems.
func testEvents(t *testing.T) []event.Event {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "event", "testdata", "rows", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	at := func(s string) time.Time { return time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC).Add(mustDuration(t, s)) }
	w := jelou.Window{Start: at("0s"), End: at("59m59s")}
	convs := []jelou.Conversation{
		{ID: "a1", Company: jelou.Company{ID: "1203"}, State: jelou.StateActive, StartAt: at("5s"), Raw: read("active")},
		{ID: "a2", State: jelou.StateClosed, StartAt: at("10m"), EndAt: at("30m"), Raw: read("no_company")},
		{ID: "a3", Company: jelou.Company{ID: "1203"}, State: jelou.StateClosed, EndAt: at("1h"), Raw: read("problems"),
			Problems: []string{`startAt: unparseable "yesterday"`}},
	}
	var out []event.Event
	for i, c := range convs {
		prev := jelou.State("")
		if i == 1 {
			prev = jelou.StateActive
		}
		out = append(out, event.New(event.NewSource("acme"), c, prev, w, at("31m")))
	}
	return out
}

func mustDuration(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSchema checks the schema registered in each mode: the file (or its
// data schema) with only $schema changed to draft 7, and, compiled as a
// registry-aware consumer compiles it, it accepts the values the encoder
// writes in that mode and refuses a broken one.
func TestSchema(t *testing.T) {
	file, _ := schemas.FS.ReadFile(schemas.V1)
	data, err := schemas.Data(schemas.V1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode   event.Mode
		source []byte
		broken func(map[string]any)
	}{
		{event.Structured, file, func(v map[string]any) { delete(v, "subject") }},
		{event.Binary, data, func(v map[string]any) { v["window"] = "yesterday" }},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			s, err := Schema(tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal([]byte(s), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(tt.source, &want); err != nil {
				t.Fatal(err)
			}
			if got["$schema"] != Draft07 {
				t.Errorf("$schema = %v, want %s", got["$schema"], Draft07)
			}
			want["$schema"] = Draft07
			if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
				t.Errorf("schema differs from its source beyond $schema")
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
			if err != nil {
				t.Fatal(err)
			}
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			if err := c.AddResource("mem://schema", doc); err != nil {
				t.Fatal(err)
			}
			sch, err := c.Compile("mem://schema")
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			for _, e := range testEvents(t) {
				value, _, err := e.Encode(tt.mode)
				if err != nil {
					t.Fatal(err)
				}
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(inst); err != nil {
					t.Errorf("schema refuses the %v value of %s: %v", tt.mode, e.Subject, err)
				}
				m := inst.(map[string]any)
				tt.broken(m)
				if sch.Validate(m) == nil {
					t.Errorf("schema accepts a broken %v value", tt.mode)
				}
			}
		})
	}
	if _, err := Schema(event.Mode(9)); err == nil {
		t.Error("Schema of an unknown mode succeeded")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFramingIsConfluents checks pkg/event's framing byte for byte against
// franz-go's implementation of Confluent's wire format, both ways.
func TestFramingIsConfluents(t *testing.T) {
	var h sr.ConfluentHeader
	for _, id := range []uint32{1, 258, 1 << 31, 1<<32 - 1} {
		want, err := h.AppendEncode(nil, int(id), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := event.AppendFrame(nil, id); !bytes.Equal(got, want) {
			t.Errorf("AppendFrame(%d) = %v, Confluent header %v", id, got, want)
		}
		rec, err := testEvents(t)[0].FramedRecord(event.Structured, id)
		if err != nil {
			t.Fatal(err)
		}
		got, rest, err := h.DecodeID(rec.Value)
		if err != nil || uint32(got) != id || rest[0] != '{' {
			t.Errorf("franz-go reads id %d (%v) from a record framed with %d", got, err, id)
		}
	}
}

// TestRequests runs the client against an HTTP server answering as a
// registry does, and checks what this package adds to franz-go's client:
// basic auth on every request, lookup before registration, refusals
// classified, other failures not, the timeout, the body bound, and no
// credential in any error.
func TestRequests(t *testing.T) {
	const password = "Pa55-registry-XYZZY"
	type answer struct {
		status int
		body   string
		delay  time.Duration
	}
	var mu sync.Mutex
	var seen []string
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	serve := func(lookup, register answer) *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, pass, _ := r.BasicAuth()
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path+" "+user+":"+pass)
			mu.Unlock()
			a := lookup
			if strings.HasSuffix(r.URL.Path, "/versions") {
				a = register
			}
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
			w.WriteHeader(a.status)
			_, _ = w.Write([]byte(a.body))
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	notFound := answer{404, `{"error_code":40401,"message":"Subject not found"}`, 0}
	tests := []struct {
		name             string
		lookup, register answer
		rejected         int // the RejectedError's status; 0: none
		err              string
		id               uint32
		registered       bool
	}{
		{name: "found", lookup: answer{200, `{"subject":"t-value","version":3,"id":7}`, 0}, id: 7},
		{name: "registered", lookup: notFound, register: answer{200, `{"id":8}`, 0}, id: 8, registered: true},
		{name: "incompatible", lookup: notFound, register: answer{409, `{"error_code":409,"message":"Incompatible"}`, 0}, rejected: 409},
		{name: "invalid", lookup: notFound, register: answer{422, `{"error_code":42201,"message":"Invalid schema"}`, 0}, rejected: 422},
		{name: "unauthorized", lookup: answer{401, `{"error_code":401,"message":"Unauthorized"}`, 0}, rejected: 401},
		{name: "server error", lookup: notFound, register: answer{500, `{"error_code":50001,"message":"boom"}`, 0}, err: "boom"},
		{name: "id zero", lookup: notFound, register: answer{200, `{"id":0}`, 0}, err: "cannot carry"},
		{name: "timeout", lookup: answer{200, `{}`, time.Second}, err: "look up"},
		{name: "body too large", lookup: answer{200, `{"id":7,"x":"` + strings.Repeat("x", MaxResponseBytes) + `"}`, 0}, err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			ts := serve(tt.lookup, tt.register)
			timeout := 10 * time.Second
			if tt.lookup.delay > 0 {
				timeout = 300 * time.Millisecond
			}
			c, err := New(Config{URL: ts.URL + "/api/", Username: "producer", Password: password, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			regs, err := c.Register(context.Background(), []string{"t", "t"}, `{"type":"object"}`)
			var rej *RejectedError
			switch {
			case tt.rejected != 0:
				if !errors.As(err, &rej) || rej.Status != tt.rejected || rej.Subject != "t-value" {
					t.Fatalf("Register = %v, want a *RejectedError with status %d", err, tt.rejected)
				}
			case tt.err != "":
				if err == nil || errors.As(err, &rej) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Register = %v, want a plain error with %q", err, tt.err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if len(regs) != 1 || regs[0].ID != tt.id || regs[0].Registered != tt.registered || regs[0].Subject != "t-value" {
					t.Fatalf("Register = %+v, want one registration of id %d (registered %v)", regs, tt.id, tt.registered)
				}
			}
			if err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
			seen := requests()
			for _, s := range seen {
				if !strings.HasPrefix(s, "POST /api/subjects/t-value") || !strings.HasSuffix(s, " producer:"+password) {
					t.Errorf("request %q: want POST to the subject with basic auth", s)
				}
			}
			if len(seen) == 0 || !strings.HasPrefix(seen[0], "POST /api/subjects/t-value ") {
				t.Errorf("requests %q: want the lookup first", seen)
			}
			if got := c.SchemaURL(12); got != ts.URL+"/api/schemas/ids/12" {
				t.Errorf("SchemaURL = %q", got)
			}
		})
	}
	if s := (Config{URL: "https://r", Username: "u", Password: password}).String(); strings.Contains(s, password) {
		t.Errorf("Config.String shows the password: %s", s)
	}
}

// TestTLS reaches an https registry whose certificate the system does not
// trust: refused without SCHEMA_REGISTRY_TLS_CA_FILE, accepted with it.
func TestTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"subject":"t-value","version":1,"id":3}`))
	}))
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}
	if err := os.WriteFile(ca, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		tls  publish.TLSConfig
		ok   bool
	}{
		{"system roots", publish.TLSConfig{}, false},
		{"CA file", publish.TLSConfig{CAFile: ca}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{URL: ts.URL, TLS: tt.tls, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			regs, err := c.Register(context.Background(), []string{"t"}, `{}`)
			if tt.ok && (err != nil || len(regs) != 1 || regs[0].ID != 3) {
				t.Fatalf("Register = %+v, %v; want id 3", regs, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("Register = %v, want a certificate error", err)
			}
		})
	}
	if _, err := New(Config{URL: ts.URL, TLS: publish.TLSConfig{CAFile: filepath.Join(t.TempDir(), "missing.pem")}}); err == nil {
		t.Error("New with a missing CA file succeeded")
	}
}
