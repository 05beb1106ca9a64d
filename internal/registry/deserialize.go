package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// ErrNotFramed is returned by [Deserializer.Decode] for a record value
// without the Schema Registry framing.
var ErrNotFramed = errors.New("record value has no Schema Registry framing")

// Deserializer reads framed records the way a registry-aware consumer
// does: the schema id from the value's prefix, the schema fetched by id
// from the registry (once per id), the payload validated against it, then
// the event decoded. It is safe for concurrent use.
type Deserializer struct {
	c *Client

	mu      sync.Mutex
	schemas map[uint32]*jsonschema.Schema
}

// NewDeserializer returns a Deserializer fetching schemas through c.
func NewDeserializer(c *Client) *Deserializer {
	return &Deserializer{c: c, schemas: map[uint32]*jsonschema.Schema{}}
}

// Decode returns the event of r and the schema id its value is framed
// with, after validating the payload against that schema. A value without
// framing is an error wrapping [ErrNotFramed].
func (d *Deserializer) Decode(ctx context.Context, r event.Record) (*event.Event, uint32, error) {
	id, payload, err := event.Unframe(r.Value)
	if err != nil {
		return nil, 0, err
	}
	if id == 0 {
		return nil, 0, ErrNotFramed
	}
	sch, err := d.Schema(ctx, id)
	if err != nil {
		return nil, id, err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return nil, id, fmt.Errorf("payload of schema %d is not JSON: %w", id, err)
	}
	if err := sch.Validate(inst); err != nil {
		return nil, id, fmt.Errorf("payload does not follow schema %d: %w", id, err)
	}
	e, err := r.Event()
	return e, id, err
}

// Schema returns the compiled schema of id, fetching it from the registry
// the first time (bounded by the client's timeout). Formats are asserted.
func (d *Deserializer) Schema(ctx context.Context, id uint32) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[id]; ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.c.cfg.Timeout)
	defer cancel()
	got, err := d.c.sr.SchemaByID(ctx, int(id))
	if err != nil {
		return nil, fmt.Errorf("schema registry: fetch schema %d: %w", id, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(got.Schema)))
	if err != nil {
		return nil, fmt.Errorf("schema %d is not JSON: %w", id, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// The registry's URL, not the schema's $id, names the resource: the
	// $id (a URN) is resolved inside the document by the compiler.
	loc := d.c.SchemaURL(id)
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("schema %d does not compile: %w", id, err)
	}
	d.schemas[id] = s
	return s, nil
}
