package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"time"
)

// Attributes of a completeness watermark (schemas/jelou.conversation.attended.watermark.v1.json).
const (
	// TypeWatermarkV1 is the type attribute of version 1 of the watermark.
	TypeWatermarkV1 = "ai.jelou.conversation.attended.watermark.v1"
	// WatermarkDataSchema is the dataschema attribute of every watermark:
	// the "$id" of its JSON Schema, a versioned URN that never changes.
	WatermarkDataSchema = "urn:jelou-producer:schema:" + TypeWatermarkV1
)

// maxWatermarkBytes bounds a watermark value DecodeWatermark reads: one
// offset per partition of the event topic, a few dozen bytes each.
const maxWatermarkBytes = 1 << 20

// PartitionOffset is one partition of a topic and an offset in it.
type PartitionOffset struct {
	// Partition is the partition's number, from 0.
	Partition int `json:"partition"`
	// Offset is the offset: for a watermark, the partition's end offset
	// (the offset of the next record written to it).
	Offset int64 `json:"offset"`
}

// Watermark is a completeness watermark of one source: every conversation
// of the source whose start time is before CompleteBefore was read after
// settling and published, and those events were acknowledged by the brokers
// before the watermark was written. A consumer whose position on every
// partition of Topic is at or past the partition's offset in Offsets has
// read every such event. Build one with [NewWatermark] or
// [DecodeWatermark]; it is written in structured mode only, keyed by the
// source id ([Watermark.Record]).
type Watermark struct {
	// ID is "id", deterministic in (source id, CompleteBefore); see
	// [WatermarkID].
	ID string
	// Source is "source", the source's URI reference, as on its events.
	Source string
	// Subject is "subject", the source id: the record's key.
	Subject string
	// Time is "time", when the producer wrote the watermark.
	Time time.Time
	// DataSchema is "dataschema": [WatermarkDataSchema], or empty when a
	// decoded watermark has none.
	DataSchema string
	// CompleteBefore is "data.completeBefore".
	CompleteBefore time.Time
	// Topic is "data.topic", the event topic the covered events went to.
	Topic string
	// Offsets is "data.offsets", the end offsets of Topic's partitions
	// read after the covered events were acknowledged.
	Offsets []PartitionOffset
}

// NewWatermark returns the watermark of source sourceID (events from src)
// at completeBefore, for the event topic topic whose end offsets are
// offsets, written at written. It does not validate; [Watermark.Record]
// does.
func NewWatermark(src Source, sourceID string, completeBefore time.Time, topic string, offsets []PartitionOffset, written time.Time) Watermark {
	uri := src.URI
	if uri == "" {
		uri = DefaultSource
	}
	return Watermark{
		ID:             WatermarkID(sourceID, completeBefore),
		Source:         uri,
		Subject:        sourceID,
		Time:           utc(written),
		DataSchema:     WatermarkDataSchema,
		CompleteBefore: utc(completeBefore),
		Topic:          topic,
		Offsets:        offsets,
	}
}

// WatermarkID returns the id of source sourceID's watermark at
// completeBefore: the UUID version 5 of "<source id>/watermark/<completeBefore
// in RFC 3339 UTC>" under [Namespace]. A repeated watermark has the same id.
func WatermarkID(sourceID string, completeBefore time.Time) string {
	return uuidV5(namespace, sourceID+"/watermark/"+completeBefore.UTC().Format(timeFormat)).String()
}

// Validate reports the first attribute or data member of w that breaks the
// schema's rules, as a *[FieldError].
func (w *Watermark) Validate() error {
	switch {
	case w.ID == "":
		return fieldErr("id", "must not be empty")
	case w.Source == "":
		return fieldErr("source", "must not be empty")
	case w.Subject == "":
		return fieldErr("subject", "must not be empty (the source id)")
	case w.Time.IsZero() || !inRFC3339Range(w.Time):
		return fieldErr("time", "must be set, years 0000-9999")
	case w.CompleteBefore.IsZero() || !inRFC3339Range(w.CompleteBefore):
		return fieldErr("data.completeBefore", "must be set, years 0000-9999")
	case w.Topic == "":
		return fieldErr("data.topic", "must not be empty")
	}
	if _, err := url.Parse(w.Source); err != nil {
		return fieldErr("source", "must be a URI reference")
	}
	for i, o := range w.Offsets {
		if o.Partition < 0 || o.Offset < 0 {
			return fieldErr(fmt.Sprintf("data.offsets[%d]", i), "partition and offset must not be negative")
		}
	}
	return nil
}

// wireWatermark is the structured form of a watermark, written and read.
type wireWatermark struct {
	SpecVersion     string        `json:"specversion"`
	ID              string        `json:"id"`
	Source          string        `json:"source"`
	Type            string        `json:"type"`
	Subject         string        `json:"subject"`
	Time            string        `json:"time"`
	DataContentType string        `json:"datacontenttype"`
	DataSchema      string        `json:"dataschema,omitempty"`
	Data            wireWaterData `json:"data"`
}

type wireWaterData struct {
	CompleteBefore string            `json:"completeBefore"`
	Topic          string            `json:"topic"`
	Offsets        []PartitionOffset `json:"offsets"`
}

// MarshalJSON returns the structured form of w, after [Watermark.Validate].
func (w Watermark) MarshalJSON() ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("encode watermark %s: %w", w.ID, err)
	}
	offsets := w.Offsets
	if offsets == nil {
		offsets = []PartitionOffset{}
	}
	return json.Marshal(wireWatermark{
		SpecVersion:     SpecVersion,
		ID:              w.ID,
		Source:          w.Source,
		Type:            TypeWatermarkV1,
		Subject:         w.Subject,
		Time:            w.Time.UTC().Format(timeFormat),
		DataContentType: ContentTypeJSON,
		DataSchema:      w.DataSchema,
		Data: wireWaterData{
			CompleteBefore: w.CompleteBefore.UTC().Format(timeFormat),
			Topic:          w.Topic,
			Offsets:        offsets,
		},
	})
}

// Record validates w and returns its Kafka record: key the source id
// (Subject), value the structured event, header content-type
// [ContentTypeStructured]. Watermarks are always structured, whatever the
// mode of the events.
func (w *Watermark) Record() (Record, error) {
	value, err := w.MarshalJSON()
	if err != nil {
		return Record{}, err
	}
	return Record{
		Key:     []byte(w.Subject),
		Value:   value,
		Headers: []Header{{Key: HeaderContentType, Value: []byte(ContentTypeStructured)}},
	}, nil
}

// DecodeWatermark reads the watermark in a record's value (structured
// mode). A content-type header other than a CloudEvents JSON one is
// [ErrNotEvent]; a CloudEvent of another type wraps [ErrUnknownType] (a
// later major version: skip it); a malformed one is a *[FieldError].
// Unknown members are ignored.
func DecodeWatermark(value []byte, headers []Header) (*Watermark, error) {
	if ct, ok := header(headers, HeaderContentType); ok {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/cloudevents+json" {
			return nil, fmt.Errorf("decode watermark: content-type %q: %w", ct, ErrNotEvent)
		}
	}
	if len(value) > maxWatermarkBytes {
		return nil, fmt.Errorf("decode watermark: %d bytes, at most %d read: %w", len(value), maxWatermarkBytes, ErrUnsupported)
	}
	v := trimSpace(value)
	if len(v) == 0 || v[0] != '{' {
		return nil, fmt.Errorf("decode watermark: value is not a JSON object: %w", ErrNotEvent)
	}
	var raw struct {
		wireWatermark
		SpecVersion *string `json:"specversion"`
		Data        *struct {
			CompleteBefore string             `json:"completeBefore"`
			Topic          string             `json:"topic"`
			Offsets        *[]PartitionOffset `json:"offsets"`
		} `json:"data"`
	}
	if err := json.Unmarshal(value, &raw); err != nil {
		return nil, fmt.Errorf("decode watermark: %w", err)
	}
	switch {
	case raw.SpecVersion == nil:
		return nil, fmt.Errorf("decode watermark: value has no specversion: %w", ErrNotEvent)
	case *raw.SpecVersion != SpecVersion:
		return nil, fmt.Errorf("decode watermark: %w", &FieldError{Field: "specversion", Err: fmt.Errorf("%q: %w", *raw.SpecVersion, ErrUnsupported)})
	case !isJSONMediaType(raw.DataContentType):
		return nil, fmt.Errorf("decode watermark: %w", &FieldError{Field: "datacontenttype", Err: fmt.Errorf("%q: %w", raw.DataContentType, ErrUnsupported)})
	case raw.Type != TypeWatermarkV1:
		return nil, fmt.Errorf("decode watermark: %w", &FieldError{Field: "type", Err: fmt.Errorf("%q: %w", raw.Type, ErrUnknownType)})
	case raw.Data == nil:
		return nil, fmt.Errorf("decode watermark: %w", fieldErr("data", "is missing"))
	case raw.Data.Offsets == nil:
		return nil, fmt.Errorf("decode watermark: %w", fieldErr("data.offsets", "is missing"))
	}
	w := Watermark{ID: raw.ID, Source: raw.Source, Subject: raw.Subject, DataSchema: raw.DataSchema, Topic: raw.Data.Topic, Offsets: *raw.Data.Offsets}
	var err error
	if w.Time, err = parseWatermarkTime("time", raw.Time); err != nil {
		return nil, fmt.Errorf("decode watermark: %w", err)
	}
	if w.CompleteBefore, err = parseWatermarkTime("data.completeBefore", raw.Data.CompleteBefore); err != nil {
		return nil, fmt.Errorf("decode watermark: %w", err)
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("decode watermark: %w", err)
	}
	return &w, nil
}

// parseWatermarkTime reads an RFC 3339 time in UTC.
func parseWatermarkTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Err: errors.New("must be an RFC 3339 time")}
	}
	if _, off := t.Zone(); off != 0 {
		return time.Time{}, &FieldError{Field: field, Err: errors.New("must be in UTC")}
	}
	return t.UTC(), nil
}

// Covers reports whether a consumer at positions (next offset to read, by
// partition) has read every event w covers: its position on every
// partition of w.Offsets is at or past the partition's offset. A partition
// missing from positions counts as position 0.
func (w *Watermark) Covers(positions map[int]int64) bool {
	for _, o := range w.Offsets {
		if positions[o.Partition] < o.Offset {
			return false
		}
	}
	return true
}
