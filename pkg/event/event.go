package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// CloudEvents attribute values this package writes.
const (
	// SpecVersion is the CloudEvents version of every event.
	SpecVersion = "1.0"
	// TypeV1 is the type attribute of version 1 of the event. A breaking
	// change to the event gets a new type ending in ".v2".
	TypeV1 = "ai.jelou.conversation.attended.v1"
	// ContentTypeJSON is the datacontenttype of every event: data is JSON.
	ContentTypeJSON = "application/json"
	// DefaultDataSchema is the dataschema attribute when [Source.DataSchema]
	// is empty: the "$id" of the JSON Schema of version 1
	// (schemas/jelou.conversation.attended.v1.json), a URN that never
	// changes while v1 lives. Compatible additions keep it; a breaking
	// change is a new type and a new file with a URN of its own. With a
	// Schema Registry, the producer names the registered schema instead.
	DefaultDataSchema = "urn:jelou-producer:schema:ai.jelou.conversation.attended.v1"
	// DefaultSource is the source attribute when [Source.URI] is empty.
	DefaultSource = "jelou-producer/default"
	// FallbackKey is the Kafka key of events whose conversation has no
	// company id. A fixed key keeps such events in one partition, in order,
	// and easy to find; see [Key].
	FallbackKey = "unknown-company"
)

// Source describes who publishes: it fills the source and dataschema
// attributes of the events [New] builds. The zero value is usable.
type Source struct {
	// URI is the CloudEvents source attribute: a URI reference naming the
	// Jelou account (credential set) the events come from, for example
	// "jelou-producer/acme". Together with the event id it identifies an
	// event. Keep it stable across restarts. Default: [DefaultSource].
	URI string
	// DataSchema is the dataschema attribute: the URI of the JSON Schema the
	// event follows. Default: [DefaultDataSchema].
	DataSchema string
}

// NewSource returns the conventional Source of the Jelou source (credential
// set) with the given stable id: URI "jelou-producer/<id>" (id
// path-escaped), default schema.
func NewSource(id string) Source {
	return Source{URI: "jelou-producer/" + url.PathEscape(id)}
}

// Event is one CloudEvents 1.0 event: a conversation observed in a state.
// Build it with [New] or [Decode]. An Event is a value; it is safe for
// concurrent reads.
type Event struct {
	// SpecVersion is "specversion", always [SpecVersion].
	SpecVersion string
	// ID is "id", deterministic in (conversation id, state); see [ID].
	ID string
	// Source is "source", a URI reference naming the producer's source.
	Source string
	// Type is "type", [TypeV1].
	Type string
	// Subject is "subject", the conversation's "_id".
	Subject string
	// Time is "time", when the producer observed the conversation in its
	// state. Written in RFC 3339 UTC.
	Time time.Time
	// DataContentType is "datacontenttype"; empty means [ContentTypeJSON].
	DataContentType string
	// DataSchema is "dataschema", the URI of the event's JSON Schema;
	// empty when absent.
	DataSchema string
	// Data is "data".
	Data Data
}

// Data is the "data" member of an event. Its JSON form is an object with,
// in this order: state, previousState, companyId, startAt, endAt, window,
// problems, conversation.
type Data struct {
	// State is "state", the conversation's state as the API reported it
	// (one of the documented states, or any other value kept as received).
	State jelou.State
	// PreviousState is "previousState", the state last published for this
	// conversation when this event is a change; empty (member omitted) when
	// this is the first event of the conversation.
	PreviousState jelou.State
	// CompanyID is "companyId", the conversation's company.id; empty (member
	// omitted) when the row has none or a blank one.
	CompanyID string
	// StartAt is "startAt", the conversation's start in UTC; zero (JSON
	// null) when the row's startAt is missing or unparseable.
	StartAt time.Time
	// EndAt is "endAt", the conversation's end in UTC; zero (JSON null)
	// while the conversation is active, or when unparseable.
	EndAt time.Time
	// Window is "window" {"start","end"}, the query window in which the row
	// was found (inclusive), in UTC.
	Window jelou.Window
	// Problems is "problems", what the producer could not read from the row
	// into the normalised fields (omitted when empty). When present,
	// Conversation may deviate from the documented field types.
	Problems []string
	// Conversation is "conversation", the row exactly as the Jelou API
	// returned it: a JSON object, byte for byte, unknown fields included.
	Conversation json.RawMessage
}

// New returns the event of conv observed in its state at observed, found
// in window w. previous is the state last published for this conversation,
// or "" when this is its first event. data.conversation is conv.Raw, shared
// and not copied. New does not validate; [Event.Encode] does.
func New(src Source, conv jelou.Conversation, previous jelou.State, w jelou.Window, observed time.Time) Event {
	source := src.URI
	if source == "" {
		source = DefaultSource
	}
	schema := src.DataSchema
	if schema == "" {
		schema = DefaultDataSchema
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              ID(conv.ID, conv.State),
		Source:          source,
		Type:            TypeV1,
		Subject:         conv.ID,
		Time:            observed.UTC(),
		DataContentType: ContentTypeJSON,
		DataSchema:      schema,
		Data: Data{
			State:         conv.State,
			PreviousState: previous,
			CompanyID:     companyID(conv.Company.ID),
			StartAt:       utc(conv.StartAt),
			EndAt:         utc(conv.EndAt),
			Window:        jelou.Window{Start: utc(w.Start), End: utc(w.End)},
			Problems:      conv.Problems,
			Conversation:  conv.Raw,
		},
	}
}

// ID returns the event id of a conversation in a state: the UUID version 5
// of "<conversationID>/<state>" under [Namespace], in its 36-character
// lowercase form. Same inputs, same id, in any process.
func ID(conversationID string, state jelou.State) string {
	return uuidV5(namespace, conversationID+"/"+string(state)).String()
}

// Key returns the Kafka key of conv's events: its company.id, or
// [FallbackKey] with fallback true when the company id is missing, empty
// or blank.
func Key(conv jelou.Conversation) (key []byte, fallback bool) {
	return keyOf(companyID(conv.Company.ID))
}

// Key returns the Kafka key of e: data.companyId, or [FallbackKey] with
// fallback true when e has none. It equals [Key] of the conversation e was
// built from.
func (e *Event) Key() (key []byte, fallback bool) {
	return keyOf(e.Data.CompanyID)
}

func keyOf(company string) ([]byte, bool) {
	if company == "" {
		return []byte(FallbackKey), true
	}
	return []byte(company), false
}

// companyID normalises a company id: blank means none.
func companyID(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// Errors that callers branch on with errors.Is.
var (
	// ErrNotEvent is returned by [Decode] for a record that carries no
	// CloudEvent: no CloudEvents content-type, no ce_specversion header and
	// no specversion member in the value.
	ErrNotEvent = errors.New("record is not a CloudEvent")
	// ErrUnsupported is returned by [Decode] for a CloudEvent this package
	// cannot read: batch mode, a non-JSON event format or data content
	// type, data_base64, or a specversion other than 1.0.
	ErrUnsupported = errors.New("unsupported CloudEvent")
	// ErrUnknownType is returned by [Decode] for a well-formed CloudEvent
	// whose type is not [TypeV1]: another event, or a later major version.
	// Consumers usually skip such records.
	ErrUnknownType = errors.New("unknown event type")
)

// FieldError reports a missing or malformed attribute or data member.
// Field is its JSON name: a CloudEvents attribute ("time") or a path in data
// ("data.window.start").
type FieldError struct {
	Field string
	Err   error
}

// Error returns "field <name>: <reason>".
func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %v", e.Field, e.Err) }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr builds a *FieldError from a message.
func fieldErr(field, msg string) error { return &FieldError{Field: field, Err: errors.New(msg)} }

// Validate reports the first attribute or data member of e that breaks the
// rules of this package, as a *[FieldError]. It checks presence and form,
// not the type attribute (see [ErrUnknownType]).
func (e *Event) Validate() error {
	if err := e.validateAttributes(); err != nil {
		return err
	}
	return e.Data.validate()
}

// validateAttributes is the part of [Event.Validate] that checks the
// attributes, not data.
func (e *Event) validateAttributes() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return fieldErr("specversion", fmt.Sprintf("must be %q, got %q", SpecVersion, e.SpecVersion))
	case e.ID == "":
		return fieldErr("id", "must not be empty")
	case e.Source == "":
		return fieldErr("source", "must not be empty")
	case e.Type == "":
		return fieldErr("type", "must not be empty")
	case e.Subject == "":
		return fieldErr("subject", "must not be empty (the conversation has no _id)")
	case e.Time.IsZero():
		return fieldErr("time", "must be set")
	case !inRFC3339Range(e.Time):
		return fieldErr("time", "year out of RFC 3339 range 0000-9999")
	case !isJSONMediaType(e.DataContentType):
		return fieldErr("datacontenttype", fmt.Sprintf("must be %q, got %q", ContentTypeJSON, e.DataContentType))
	}
	return nil
}

func (d *Data) validate() error {
	switch {
	case d.State == "":
		return fieldErr("data.state", "must not be empty")
	case d.Window.Start.IsZero():
		return fieldErr("data.window.start", "must be set")
	case d.Window.End.IsZero():
		return fieldErr("data.window.end", "must be set")
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"data.startAt", d.StartAt}, {"data.endAt", d.EndAt}, {"data.window.start", d.Window.Start}, {"data.window.end", d.Window.End}} {
		if !inRFC3339Range(f.t) {
			return fieldErr(f.name, "year out of RFC 3339 range 0000-9999")
		}
	}
	c := trimSpace(d.Conversation)
	if len(c) == 0 || c[0] != '{' {
		return fieldErr("data.conversation", "must be a JSON object")
	}
	if !json.Valid(d.Conversation) {
		return fieldErr("data.conversation", "is not valid JSON")
	}
	return nil
}

// inRFC3339Range reports whether t's UTC year has four digits, as RFC 3339
// requires. The zero time is in range.
func inRFC3339Range(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// isJSONMediaType reports whether ct is empty (CloudEvents then implies
// JSON for a JSON event) or application/json with optional parameters.
func isJSONMediaType(ct string) bool {
	if ct == "" || ct == ContentTypeJSON {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), ContentTypeJSON)
}

// trimSpace trims JSON whitespace from both ends of b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
