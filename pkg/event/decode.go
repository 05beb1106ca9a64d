package event

import (
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Decode reads the event in a Kafka record's value and headers, in either
// mode. The mode comes from the content-type header
// (application/cloudevents+json: structured; anything else with
// ce_specversion: binary); without one, a ce_specversion header means
// binary, and otherwise the value is read as a structured event. Header
// names are matched case-insensitively; unknown headers, attributes and
// data members are ignored.
//
// A value in the Schema Registry wire format (see [Unframe]) is read after
// its prefix, in either mode; [DecodeFramed] also returns its schema id.
//
// Errors wrap [ErrNotEvent], [ErrUnsupported], [ErrUnknownType] or
// [ErrFrame], or a *[FieldError] naming the attribute or data member at
// fault. The returned event shares no memory with value.
func Decode(value []byte, headers []Header) (*Event, error) {
	e, _, err := DecodeFramed(value, headers)
	return e, err
}

// DecodeFramed is [Decode] that also returns the Schema Registry schema id
// of a framed value, 0 when the value is plain JSON. Checking the payload
// against that schema is the caller's business (a registry client's).
func DecodeFramed(value []byte, headers []Header) (*Event, uint32, error) {
	id, payload, err := Unframe(value)
	if err != nil {
		return nil, 0, fmt.Errorf("decode event: %w", err)
	}
	e, err := decode(payload, headers)
	if err != nil {
		return nil, 0, err
	}
	return e, id, nil
}

// decode is [Decode] of an unframed value.
func decode(value []byte, headers []Header) (*Event, error) {
	ct, hasCT := header(headers, HeaderContentType)
	_, hasSpec := header(headers, HeaderPrefix+"specversion")
	mode := Structured
	if hasCT {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, fmt.Errorf("decode event: content-type %q: %w", ct, err)
		}
		switch {
		case mt == "application/cloudevents+json":
		case mt == "application/cloudevents-batch+json":
			return nil, fmt.Errorf("decode event: content-type %q: batch mode: %w", ct, ErrUnsupported)
		case strings.HasPrefix(mt, "application/cloudevents"):
			return nil, fmt.Errorf("decode event: content-type %q: event format: %w", ct, ErrUnsupported)
		case hasSpec:
			mode = Binary
		default:
			return nil, fmt.Errorf("decode event: content-type %q and no ce_specversion header: %w", ct, ErrNotEvent)
		}
	} else if hasSpec {
		mode = Binary
	}
	var e Event
	var err error
	if mode == Binary {
		err = e.decodeBinary(value, headers)
	} else {
		err = e.decodeStructured(value)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %v event: %w", mode, err)
	}
	return &e, nil
}

// UnmarshalJSON reads a structured event, checking it like [Decode].
func (e *Event) UnmarshalJSON(b []byte) error {
	var d Event
	if err := d.decodeStructured(b); err != nil {
		return fmt.Errorf("decode structured event: %w", err)
	}
	*e = d
	return nil
}

// UnmarshalJSON reads a data object, checking it like [Decode].
func (d *Data) UnmarshalJSON(b []byte) error {
	var v Data
	if err := v.decode(b); err != nil {
		return fmt.Errorf("decode event data: %w", err)
	}
	*d = v
	return nil
}

// wireEvent is the structured form as encoding/json reads it. Pointers tell
// a missing member from an empty one.
type wireEvent struct {
	SpecVersion     *string         `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	Data            json.RawMessage `json:"data"`
	DataBase64      *string         `json:"data_base64"`
}

func (e *Event) decodeStructured(value []byte) error {
	v := trimSpace(value)
	if len(v) == 0 || v[0] != '{' {
		return fmt.Errorf("value is not a JSON object: %w", ErrNotEvent)
	}
	var w wireEvent
	if err := json.Unmarshal(value, &w); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if w.SpecVersion == nil {
		return fmt.Errorf("value has no specversion: %w", ErrNotEvent)
	}
	if w.DataBase64 != nil {
		return &FieldError{Field: "data_base64", Err: ErrUnsupported}
	}
	if len(w.Data) == 0 {
		return fieldErr("data", "is missing")
	}
	return e.fill(attributes{
		specVersion:     *w.SpecVersion,
		id:              w.ID,
		source:          w.Source,
		typ:             w.Type,
		subject:         w.Subject,
		time:            w.Time,
		dataContentType: w.DataContentType,
		dataSchema:      w.DataSchema,
	}, w.Data)
}

func (e *Event) decodeBinary(value []byte, headers []Header) error {
	var a attributes
	a.specVersion, _ = header(headers, HeaderPrefix+"specversion")
	a.id, _ = header(headers, HeaderPrefix+"id")
	a.source, _ = header(headers, HeaderPrefix+"source")
	a.typ, _ = header(headers, HeaderPrefix+"type")
	a.subject, _ = header(headers, HeaderPrefix+"subject")
	a.time, _ = header(headers, HeaderPrefix+"time")
	a.dataContentType, _ = header(headers, HeaderContentType)
	a.dataSchema, _ = header(headers, HeaderPrefix+"dataschema")
	return e.fill(a, value)
}

// attributes are the context attributes as strings, from either mode.
type attributes struct {
	specVersion, id, source, typ, subject, time, dataContentType, dataSchema string
}

// fill sets e from attributes and the data JSON, then validates e (data
// is validated by its decode, the attributes here). The type is checked
// last, so that a malformed event is reported as such before an unknown
// type.
func (e *Event) fill(a attributes, data []byte) error {
	if a.specVersion != SpecVersion {
		return &FieldError{Field: "specversion", Err: fmt.Errorf("%q: %w", a.specVersion, ErrUnsupported)}
	}
	if !isJSONMediaType(a.dataContentType) {
		return &FieldError{Field: "datacontenttype", Err: fmt.Errorf("%q: %w", a.dataContentType, ErrUnsupported)}
	}
	*e = Event{
		SpecVersion:     a.specVersion,
		ID:              a.id,
		Source:          a.source,
		Type:            a.typ,
		Subject:         a.subject,
		DataContentType: ContentTypeJSON, // checked above, normalised
		DataSchema:      a.dataSchema,
	}
	if a.time != "" {
		t, err := parseTime("time", a.time)
		if err != nil {
			return err
		}
		e.Time = t
	}
	if err := e.Data.decode(data); err != nil {
		return err
	}
	if err := e.validateAttributes(); err != nil {
		return err
	}
	if e.Type != TypeV1 {
		return &FieldError{Field: "type", Err: fmt.Errorf("%q: %w", e.Type, ErrUnknownType)}
	}
	return nil
}

// wireData is the data object as encoding/json reads it.
type wireData struct {
	State         string  `json:"state"`
	PreviousState string  `json:"previousState"`
	CompanyID     string  `json:"companyId"`
	StartAt       *string `json:"startAt"`
	EndAt         *string `json:"endAt"`
	Window        *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"window"`
	Problems     []string        `json:"problems"`
	Conversation json.RawMessage `json:"conversation"`
}

func (d *Data) decode(b []byte) error {
	v := trimSpace(b)
	if len(v) == 0 || v[0] != '{' {
		return fieldErr("data", "must be a JSON object")
	}
	var w wireData
	if err := json.Unmarshal(b, &w); err != nil {
		return &FieldError{Field: "data", Err: err}
	}
	if w.Window == nil {
		return fieldErr("data.window", "is missing")
	}
	*d = Data{
		State:         jelou.State(w.State),
		PreviousState: jelou.State(w.PreviousState),
		CompanyID:     companyID(w.CompanyID),
		Problems:      w.Problems,
		// Unmarshal copies the member's bytes as they are.
		Conversation: w.Conversation,
	}
	var err error
	if d.StartAt, err = parseOptionalTime("data.startAt", w.StartAt); err != nil {
		return err
	}
	if d.EndAt, err = parseOptionalTime("data.endAt", w.EndAt); err != nil {
		return err
	}
	if d.Window.Start, err = parseTime("data.window.start", w.Window.Start); err != nil {
		return err
	}
	if d.Window.End, err = parseTime("data.window.end", w.Window.End); err != nil {
		return err
	}
	return d.validate()
}

// parseTime parses an RFC 3339 time (any offset, returned in UTC).
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Err: fmt.Errorf("not an RFC 3339 time: %q", s)}
	}
	return t.UTC(), nil
}

// parseOptionalTime is parseTime where null, a missing member and "" mean
// the zero time.
func parseOptionalTime(field string, s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	return parseTime(field, *s)
}

// header returns the value of the first header named key, compared
// case-insensitively.
func header(headers []Header, key string) (string, bool) {
	for _, h := range headers {
		if strings.EqualFold(h.Key, key) {
			return string(h.Value), true
		}
	}
	return "", false
}
