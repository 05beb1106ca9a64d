package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/poller"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
	"github.com/jelou-producer/jelou-producer/schemas"
)

// These tests hold schemas/asyncapi.json to the code: topic settings and
// their defaults to internal/config, headers to what pkg/event and the
// poller's dead-letter writer put on records, keys to pkg/event's, payloads
// to the embedded JSON Schemas, examples to the encoder. The AsyncAPI
// parser's own check is scripts/asyncapi-validate.sh (it needs Node).

// pendingVariables are variables the document names that other branches of
// issue 20 add to internal/config. A variable still missing from config is
// only logged; once it exists the test fails until it is removed from here,
// so that the document is then checked against it like the others.
var pendingVariables = map[string]bool{}

// doc is the AsyncAPI document as generic JSON.
type doc struct{ root any }

func loadDoc(t *testing.T) doc {
	t.Helper()
	b, err := schemas.FS.ReadFile(schemas.AsyncAPI)
	if err != nil {
		t.Fatal(err)
	}
	var root any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s is not JSON: %v", schemas.AsyncAPI, err)
	}
	return doc{root}
}

// at returns the value at a JSON pointer of the document ("" is the
// root), following the internal $refs met on the way (a message's
// bindings, say, may be a $ref to components).
func (d doc) at(t *testing.T, ptr string) any {
	t.Helper()
	v := d.root
	if ptr == "" {
		return v
	}
	for _, tok := range strings.Split(ptr, "/")[1:] {
		var err error
		if v, err = pointer(d.deref(t, v), "/"+tok); err != nil {
			t.Fatalf("%s: %s: %v", schemas.AsyncAPI, ptr, err)
		}
	}
	return v
}

// obj returns the object at ptr, following internal $refs.
func (d doc) obj(t *testing.T, ptr string) map[string]any {
	t.Helper()
	m, ok := d.deref(t, d.at(t, ptr)).(map[string]any)
	if !ok {
		t.Fatalf("%s: %s is not an object", schemas.AsyncAPI, ptr)
	}
	return m
}

// deref follows internal $refs ("#/...") of v until a value that is not
// one; external ones are left for the schema compiler.
func (d doc) deref(t *testing.T, v any) any {
	t.Helper()
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#") {
			return v
		}
		v = d.at(t, ref[1:])
	}
	t.Fatalf("%s: $ref chain too long", schemas.AsyncAPI)
	return nil
}

// pointer resolves a JSON pointer (RFC 6901) in v.
func pointer(v any, ptr string) (any, error) {
	if ptr == "" {
		return v, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("pointer %q does not start with /", ptr)
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("pointer %q: no member %q", ptr, tok)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("pointer %q: no element %q", ptr, tok)
			}
			v = c[i]
		default:
			return nil, fmt.Errorf("pointer %q: %q is inside a scalar", ptr, tok)
		}
	}
	return v, nil
}

// walk calls f with the JSON pointer and value of every node of v.
func walk(v any, ptr string, f func(ptr string, v any)) {
	f(ptr, v)
	switch c := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(c)) {
			walk(c[k], ptr+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), f)
		}
	case []any:
		for i, e := range c {
			walk(e, ptr+"/"+strconv.Itoa(i), f)
		}
	}
}

// base is where the compiler finds the embedded files: the document's
// relative $refs resolve against base+AsyncAPI.
const base = "file:///schemas/"

// fsLoader serves base+name from schemas.FS and nothing else, so that no
// schema is read from the disk or the network.
type fsLoader struct{}

func (fsLoader) Load(url string) (any, error) {
	name, ok := strings.CutPrefix(url, base)
	if !ok {
		return nil, fmt.Errorf("%s is not an embedded file", url)
	}
	b, err := schemas.FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// compiler compiles the schemas the document holds or names.
type compiler struct {
	d     doc
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema // by pointer
}

func newCompiler(d doc) *compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(fsLoader{})
	return &compiler{d: d, c: c, cache: map[string]*jsonschema.Schema{}}
}

// schema compiles the schema at ptr in the document: an inline schema is
// compiled where it stands (its relative $refs resolve beside the
// document), a $ref to a file is compiled from the embedded file.
func (c *compiler) schema(t *testing.T, ptr string) *jsonschema.Schema {
	t.Helper()
	if sch, ok := c.cache[ptr]; ok {
		return sch
	}
	v := c.d.deref(t, c.d.at(t, ptr))
	loc := base + schemas.AsyncAPI + "#" + ptr
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok && len(m) == 1 {
			loc = base + ref
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			loc = base + "inline" + strings.ReplaceAll(ptr, "/", "-") + ".json"
			if err := c.c.AddResource(loc, inst); err != nil {
				t.Fatalf("%s: %v", ptr, err)
			}
		}
	}
	sch, err := c.c.Compile(loc)
	if err != nil {
		t.Fatalf("compile the schema at %s (%s): %v", ptr, loc, err)
	}
	c.cache[ptr] = sch
	return sch
}

// validate validates the JSON in b against sch.
func validate(sch *jsonschema.Schema, b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(inst)
}

// validateValue validates a decoded JSON value against sch.
func validateValue(t *testing.T, sch *jsonschema.Schema, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return validate(sch, b)
}

// headerMap is headers as the JSON object a headers schema describes.
func headerMap(t *testing.T, headers []event.Header) map[string]any {
	t.Helper()
	m := map[string]any{}
	for _, h := range headers {
		if _, dup := m[h.Key]; dup {
			t.Errorf("header %s written twice", h.Key)
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestAsyncAPIRefs checks that every $ref resolves: internal ones in the
// document, the others to a JSON Schema file embedded beside it (never the
// document itself) and a place in it.
func TestAsyncAPIRefs(t *testing.T) {
	d := loadDoc(t)
	external := 0
	walk(d.root, "", func(ptr string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return
		}
		file, frag, _ := strings.Cut(ref, "#")
		if file == "" {
			if _, err := pointer(d.root, frag); err != nil {
				t.Errorf("%s: $ref %q: %v", ptr, ref, err)
			}
			return
		}
		external++
		if file == schemas.AsyncAPI || strings.ContainsAny(file, "/:") {
			t.Errorf("%s: $ref %q must name a schema file beside the document", ptr, ref)
			return
		}
		b, err := fs.ReadFile(schemas.FS, file)
		if err != nil {
			t.Errorf("%s: $ref %q: %v", ptr, ref, err)
			return
		}
		var target any
		if err := json.Unmarshal(b, &target); err != nil {
			t.Errorf("%s: $ref %q: %v", ptr, ref, err)
			return
		}
		if _, err := pointer(target, frag); err != nil {
			t.Errorf("%s: $ref %q: %v", ptr, ref, err)
		}
	})
	if external == 0 {
		t.Error("no payload refers to a schema file")
	}
}

// TestAsyncAPITopicSettings checks each topic parameter against
// internal/config: its x-env variable exists with the parameter's default,
// a per-source override is the one internal/config reads, every channel's
// address uses only its declared parameters, and every *_TOPIC variable
// of internal/config has a channel.
func TestAsyncAPITopicSettings(t *testing.T) {
	d := loadDoc(t)
	vars := map[string]config.Variable{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	perSource := map[string]config.Variable{}
	for _, v := range config.SourceVariables() {
		perSource[v.Name] = v
	}

	described := map[string]bool{}
	channels := d.obj(t, "/channels")
	for _, name := range slices.Sorted(maps.Keys(channels)) {
		ch := d.obj(t, "/channels/"+name)
		addr, _ := ch["address"].(string)
		params, _ := ch["parameters"].(map[string]any)
		used := map[string]bool{}
		for _, m := range regexp.MustCompile(`\{([^}]*)\}`).FindAllStringSubmatch(addr, -1) {
			used[m[1]] = true
		}
		if !reflect.DeepEqual(used, boolSet(slices.Collect(maps.Keys(params)))) {
			t.Errorf("channel %s: address %q uses parameters %v, declares %v", name, addr, slices.Sorted(maps.Keys(used)), slices.Sorted(maps.Keys(params)))
		}
		for _, pname := range slices.Sorted(maps.Keys(params)) {
			p := d.obj(t, "/channels/"+name+"/parameters/"+pname)
			env, _ := p["x-env"].(string)
			if env == "" {
				t.Errorf("channel %s parameter %s names no variable (x-env)", name, pname)
				continue
			}
			described[env] = true
			desc, _ := p["description"].(string)
			if !strings.Contains(desc, env) {
				t.Errorf("channel %s parameter %s: description %q does not name %s", name, pname, desc, env)
			}
			def, _ := p["default"].(string)
			v, ok := vars[env]
			switch {
			case !ok && pendingVariables[env]:
				t.Logf("channel %s: %s is not in internal/config yet (pending)", name, env)
				continue
			case !ok:
				t.Errorf("channel %s: %s is not a variable of internal/config", name, env)
				continue
			}
			if def != v.Default {
				t.Errorf("channel %s: default of %s is %q in the document, %q in internal/config", name, env, def, v.Default)
			}
			if ps, _ := p["x-env-per-source"].(string); ps != "" {
				sv, ok := perSource[ps]
				if !ok || sv.Default != "$"+env {
					t.Errorf("channel %s: %s is not the per-source override of %s in internal/config", name, ps, env)
				}
				if !strings.Contains(desc, ps) {
					t.Errorf("channel %s parameter %s: description %q does not name %s", name, pname, desc, ps)
				}
			}
		}
	}
	for _, v := range config.Variables() {
		if strings.HasSuffix(v.Name, "_TOPIC") && !described[v.Name] {
			t.Errorf("internal/config has topic variable %s, the document no channel on it", v.Name)
		}
	}
	for env := range pendingVariables {
		if _, ok := vars[env]; ok {
			t.Errorf("%s is now a variable of internal/config: remove it from pendingVariables (schemas/asyncapi_test.go) so that the document is checked against it", env)
		}
	}
}

// TestAsyncAPIVariables checks that every configuration variable the
// document's text names exists (or is pending).
func TestAsyncAPIVariables(t *testing.T) {
	d := loadDoc(t)
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
	}
	for _, v := range config.SourceVariables() {
		known[v.Name] = true
	}
	name := regexp.MustCompile(`\b(?:KAFKA|CHECKPOINT|GROUP|SCHEMA_REGISTRY|POLL|JELOU|SOURCE|EVENT)_(?:[A-Z0-9]+|<ID>)(?:_(?:[A-Z0-9]+|<ID>))*\b`)
	seen := 0
	walk(d.root, "", func(ptr string, v any) {
		s, ok := v.(string)
		if !ok {
			return
		}
		// A family (KAFKA_TLS_*) does not match: \b needs a non-word
		// character after the name.
		for _, n := range name.FindAllString(s, -1) {
			seen++
			if !known[n] && !pendingVariables[n] {
				t.Errorf("%s names %s, which is not a variable of internal/config", ptr, n)
			}
		}
	})
	if seen == 0 {
		t.Error("the document names no variable")
	}
}

func boolSet(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// eventMessages are the messages whose value is a conversation event, in
// the mode their headers tell, keyed as the channel's messages are.
var eventMessages = []struct {
	name string
	mode event.Mode
	key  func(e *event.Event) string
}{
	{"conversationAttended", event.Structured, companyKey},
	{"conversationAttendedBinary", event.Binary, companyKey},
	{"conversationState", event.Structured, conversationKey},
	{"conversationStateBinary", event.Binary, conversationKey},
}

func companyKey(e *event.Event) string { k, _ := e.Key(); return string(k) }

func conversationKey(e *event.Event) string { return e.Subject }

// fixtureEvents are the events of the rows of testdata/page.json as the
// producer builds them: decoded as the client decodes a page, each seen
// first and then in a new state.
func fixtureEvents(t *testing.T) []event.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "page.json"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := jelou.DecodePage(b, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	w := jelou.Window{Start: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 9, 59, 59, 0, time.UTC)}
	observed := time.Date(2024, 5, 1, 10, 1, 2, 345_000_000, time.UTC)
	var out []event.Event
	for _, conv := range page.Conversations {
		out = append(out,
			event.New(event.NewSource("acme"), conv, "", w, observed),
			event.New(event.Source{URI: "urn:example:producer"}, conv, jelou.StateActive, w, observed.Add(time.Minute)))
	}
	if len(out) < 10 {
		t.Fatalf("testdata/page.json gave %d events", len(out))
	}
	return out
}

// TestAsyncAPIEncoder checks that what pkg/event writes for the fixture
// rows, in both modes, is what each event message describes: its value
// valid against the payload schema the message names, its headers against
// the headers schema, which lists exactly the headers written and
// requires those written every time, and its key against the key schema.
func TestAsyncAPIEncoder(t *testing.T) {
	d := loadDoc(t)
	c := newCompiler(d)
	events := fixtureEvents(t)
	for _, m := range eventMessages {
		t.Run(m.name, func(t *testing.T) {
			msg := "/components/messages/" + m.name
			payload := c.schema(t, msg+"/payload")
			headers := c.schema(t, msg+"/headers")
			key := c.schema(t, msg+"/bindings/kafka/key")
			written := map[string]int{}
			for i := range events {
				e := &events[i]
				value, hs, err := e.Encode(m.mode)
				if err != nil {
					t.Fatal(err)
				}
				if err := validate(payload, value); err != nil {
					t.Errorf("event %s: the payload schema rejects the value: %v\n%s", e.ID, err, value)
				}
				if err := validateValue(t, headers, headerMap(t, hs)); err != nil {
					t.Errorf("event %s: the headers schema rejects the headers: %v", e.ID, err)
				}
				if err := validateValue(t, key, m.key(e)); err != nil {
					t.Errorf("event %s: the key schema rejects key %q: %v", e.ID, m.key(e), err)
				}
				for _, h := range hs {
					written[h.Key]++
				}
			}
			checkHeaderNames(t, d.obj(t, msg+"/headers"), written, len(events))
		})
	}
}

// checkHeaderNames checks that a headers schema declares exactly the
// header names written and requires exactly those written on all n records.
func checkHeaderNames(t *testing.T, sch map[string]any, written map[string]int, n int) {
	t.Helper()
	props, _ := sch["properties"].(map[string]any)
	declared := slices.Sorted(maps.Keys(props))
	if got := slices.Sorted(maps.Keys(written)); !slices.Equal(declared, got) {
		t.Errorf("headers declared %v, written %v", declared, got)
	}
	var required []string
	req, _ := sch["required"].([]any)
	for _, r := range req {
		required = append(required, r.(string))
	}
	slices.Sort(required)
	var always []string
	for k, c := range written {
		if c == n {
			always = append(always, k)
		}
	}
	slices.Sort(always)
	if !slices.Equal(required, always) {
		t.Errorf("headers required %v, written on every record %v", required, always)
	}
}

// TestAsyncAPIPayloadSchemas checks that the event messages name the
// schema file whose $id is the dataschema pkg/event writes, the structured
// ones the file itself and the binary ones its data, and that no other
// message refers to that file.
func TestAsyncAPIPayloadSchemas(t *testing.T) {
	d := loadDoc(t)
	b, err := schemas.FS.ReadFile(schemas.V1)
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		t.Fatal(err)
	}
	if head.ID != event.DefaultDataSchema {
		t.Fatalf("%s has $id %q, events name %q", schemas.V1, head.ID, event.DefaultDataSchema)
	}
	want := map[string]string{}
	for _, m := range eventMessages {
		want[m.name] = schemas.V1
		if m.mode == event.Binary {
			want[m.name] += "#/$defs/data"
		}
	}
	want["watermark"] = schemas.WatermarkV1
	messages := d.obj(t, "/components/messages")
	for _, name := range slices.Sorted(maps.Keys(messages)) {
		ref, _ := d.obj(t, "/components/messages/"+name)["payload"].(map[string]any)["$ref"].(string)
		if w, ok := want[name]; ok && ref != w {
			t.Errorf("message %s: payload $ref %q, want %q", name, ref, w)
		}
		if _, ok := want[name]; !ok && ref != "" {
			t.Errorf("message %s refers to %s: add it to the checks of this test", name, ref)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("message %s is not in the document", name)
	}
}

// TestAsyncAPIExamples validates every message example against the
// message's payload, headers and key schemas, and checks that the event
// examples are what pkg/event encodes: decoded and encoded again in the
// message's mode they give the same value, headers and key.
func TestAsyncAPIExamples(t *testing.T) {
	d := loadDoc(t)
	c := newCompiler(d)
	modes := map[string]event.Mode{}
	keys := map[string]func(*event.Event) string{}
	for _, m := range eventMessages {
		modes[m.name], keys[m.name] = m.mode, m.key
	}
	messages := d.obj(t, "/components/messages")
	total := 0
	for _, name := range slices.Sorted(maps.Keys(messages)) {
		msg := "/components/messages/" + name
		m := d.obj(t, msg)
		examples, _ := m["examples"].([]any)
		exampleKeys, _ := m["x-example-keys"].([]any)
		if len(exampleKeys) != len(examples) {
			t.Errorf("message %s: %d examples, %d x-example-keys", name, len(examples), len(exampleKeys))
			continue
		}
		for i, ex := range examples {
			total++
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				ex := ex.(map[string]any)
				payload, err := json.Marshal(ex["payload"])
				if err != nil {
					t.Fatal(err)
				}
				if err := validate(c.schema(t, msg+"/payload"), payload); err != nil {
					t.Errorf("payload: %v", err)
				}
				if _, ok := m["headers"]; ok {
					if err := validateValue(t, c.schema(t, msg+"/headers"), ex["headers"]); err != nil {
						t.Errorf("headers: %v", err)
					}
				}
				if err := validateValue(t, c.schema(t, msg+"/bindings/kafka/key"), exampleKeys[i]); err != nil {
					t.Errorf("key: %v", err)
				}
				if name == "watermark" {
					checkWatermarkExample(t, payload, ex["headers"], exampleKeys[i])
					return
				}
				mode, isEvent := modes[name]
				if !isEvent {
					return
				}
				var hs []event.Header
				for k, v := range ex["headers"].(map[string]any) {
					hs = append(hs, event.Header{Key: k, Value: []byte(v.(string))})
				}
				e, err := event.Decode(payload, hs)
				if err != nil {
					t.Fatalf("pkg/event cannot decode the example: %v", err)
				}
				if e.DataSchema != event.DefaultDataSchema {
					t.Errorf("dataschema %q, events name %q", e.DataSchema, event.DefaultDataSchema)
				}
				value, encHeaders, err := e.Encode(mode)
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, value, payload) {
					t.Errorf("the example's payload is not what pkg/event encodes:\n got %s\nwant %s", payload, value)
				}
				if got, want := ex["headers"], headerMap(t, encHeaders); !reflect.DeepEqual(got, want) {
					t.Errorf("the example's headers are not what pkg/event writes:\n got %v\nwant %v", got, want)
				}
				if got, want := exampleKeys[i], keys[name](e); got != want {
					t.Errorf("the example's key is %q, pkg/event's %q", got, want)
				}
			})
		}
	}
	if total == 0 {
		t.Error("no message has an example")
	}
}

// checkWatermarkExample checks a watermark example against pkg/event's
// watermark encoder: it decodes, its id is the one WatermarkID gives, and
// encoding it again gives the example's payload, headers and key.
func checkWatermarkExample(t *testing.T, payload []byte, headers, key any) {
	t.Helper()
	var hs []event.Header
	for k, v := range headers.(map[string]any) {
		hs = append(hs, event.Header{Key: k, Value: []byte(v.(string))})
	}
	w, err := event.DecodeWatermark(payload, hs)
	if err != nil {
		t.Fatalf("pkg/event cannot decode the watermark example: %v", err)
	}
	if want := event.WatermarkID(w.Subject, w.CompleteBefore); w.ID != want {
		t.Errorf("the example's id is %s, pkg/event's WatermarkID %s", w.ID, want)
	}
	rec, err := w.Record()
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, rec.Value, payload) {
		t.Errorf("the example's payload is not what pkg/event encodes:\n got %s\nwant %s", payload, rec.Value)
	}
	if got, want := headers, headerMap(t, rec.Headers); !reflect.DeepEqual(got, want) {
		t.Errorf("the example's headers are not what pkg/event writes:\n got %v\nwant %v", got, want)
	}
	if string(rec.Key) != key {
		t.Errorf("the example's key is %q, pkg/event's %q", key, rec.Key)
	}
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}

// TestAsyncAPIDeadLetters checks the dead-letter headers against the
// poller: the names of its HeaderDLQ* constants (read from its source, so
// that a new header is caught too), the one that is optional, the reasons
// and the lanes.
func TestAsyncAPIDeadLetters(t *testing.T) {
	d := loadDoc(t)
	sch := d.obj(t, "/components/messages/deadLetter/headers")
	consts := stringConsts(t, filepath.Join("..", "internal", "poller"))
	written := map[string]int{}
	for name, value := range consts {
		if strings.HasPrefix(name, "HeaderDLQ") {
			written[value] = 1
		}
	}
	if len(written) == 0 {
		t.Fatal("no HeaderDLQ constant found in internal/poller")
	}
	// Every header is written on every record but the truncation one.
	n := 2
	for k := range written {
		if k != poller.HeaderDLQTruncated {
			written[k] = n
		}
	}
	checkHeaderNames(t, sch, written, n)

	props := sch["properties"].(map[string]any)
	enum := func(header string) []string {
		var out []string
		for _, v := range props[header].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		slices.Sort(out)
		return out
	}
	reasons := []string{poller.DeadLetterTooLarge, poller.RejectMissingID, poller.RejectMissingState, poller.RejectUnencodable}
	slices.Sort(reasons)
	if got := enum(poller.HeaderDLQReason); !slices.Equal(got, reasons) {
		t.Errorf("%s: enum %v, the poller's reasons %v", poller.HeaderDLQReason, got, reasons)
	}
	var lanes []string
	for _, l := range poller.Lanes {
		lanes = append(lanes, l.String())
	}
	slices.Sort(lanes)
	if got := enum(poller.HeaderDLQLane); !slices.Equal(got, lanes) {
		t.Errorf("%s: enum %v, the poller's lanes %v", poller.HeaderDLQLane, got, lanes)
	}
}

// TestAsyncAPICheckpoints checks the internal checkpoint messages against
// internal/checkpoint's Kafka store: the chunk header and the manifest's
// format.
func TestAsyncAPICheckpoints(t *testing.T) {
	d := loadDoc(t)
	consts := stringConsts(t, filepath.Join("..", "internal", "checkpoint"))
	chunk := d.obj(t, "/components/messages/checkpointChunk/headers")
	checkHeaderNames(t, chunk, map[string]int{consts["seqHeader"]: 1}, 1)
	format := d.obj(t, "/components/messages/checkpointManifest/payload")["properties"].(map[string]any)["format"].(map[string]any)["const"]
	if format != consts["manifestFormat"] {
		t.Errorf("manifest format %v, internal/checkpoint writes %q", format, consts["manifestFormat"])
	}
}

// TestAsyncAPIOwners checks the ownership channel's address against the
// service, which names the assignment topic after the checkpoint topic.
func TestAsyncAPIOwners(t *testing.T) {
	d := loadDoc(t)
	addr := d.obj(t, "/channels/owners")["address"].(string)
	suffix, ok := strings.CutPrefix(addr, "{checkpointTopic}")
	if !ok || suffix == "" {
		t.Fatalf("owners address %q is not the checkpoint topic and a suffix", addr)
	}
	found := false
	for _, f := range goFiles(t, filepath.Join("..", "internal", "service")) {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value == strconv.Quote(suffix) {
				found = true
			}
			return true
		})
	}
	if !found {
		t.Errorf("internal/service has no string %q: the assignment topic is no longer the checkpoint topic + %q", suffix, suffix)
	}
}

// goFiles parses the non-test Go files of dir.
func goFiles(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*ast.File
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatalf("no Go file in %s", dir)
	}
	return out
}

// stringConsts returns the string constants declared in the non-test Go
// files of dir, by name.
func stringConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range goFiles(t, dir) {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[name.Name] = s
				}
			}
		}
	}
	return out
}

// TestAsyncAPIOperations checks that every channel with messages has one
// send operation that sends all of them, and that a channel without
// messages (the ownership topic, which nothing writes) has none.
func TestAsyncAPIOperations(t *testing.T) {
	d := loadDoc(t)
	sends := map[string][]string{}
	operations := d.obj(t, "/operations")
	for _, name := range slices.Sorted(maps.Keys(operations)) {
		op := d.obj(t, "/operations/"+name)
		if op["action"] != "send" {
			t.Errorf("operation %s: action %v: the service only writes", name, op["action"])
		}
		ch := strings.TrimPrefix(op["channel"].(map[string]any)["$ref"].(string), "#/channels/")
		if _, dup := sends[ch]; dup {
			t.Errorf("channel %s has two operations", ch)
		}
		sends[ch] = []string{}
		for _, m := range op["messages"].([]any) {
			sends[ch] = append(sends[ch], m.(map[string]any)["$ref"].(string))
		}
		slices.Sort(sends[ch])
	}
	channels := d.obj(t, "/channels")
	for _, name := range slices.Sorted(maps.Keys(channels)) {
		msgs, _ := d.obj(t, "/channels/"+name)["messages"].(map[string]any)
		var want []string
		for m := range msgs {
			want = append(want, "#/channels/"+name+"/messages/"+m)
		}
		slices.Sort(want)
		got, ok := sends[name]
		switch {
		case len(want) == 0 && ok:
			t.Errorf("channel %s has no message but an operation", name)
		case len(want) > 0 && !slices.Equal(got, want):
			t.Errorf("channel %s: operation sends %v, channel has %v", name, got, want)
		}
	}
}
