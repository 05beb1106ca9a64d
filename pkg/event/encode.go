package event

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Mode is how an event is laid out in a Kafka record.
type Mode int

// The two content modes of the CloudEvents Kafka protocol binding.
const (
	// Structured puts the whole event, attributes and data, in the record
	// value as one JSON document, with the header
	// "content-type: application/cloudevents+json; charset=UTF-8".
	Structured Mode = iota
	// Binary puts data alone in the value and each attribute in a header
	// "ce_<attribute>", with "content-type: application/json".
	Binary
)

// String returns "structured" or "binary".
func (m Mode) String() string {
	switch m {
	case Structured:
		return "structured"
	case Binary:
		return "binary"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "structured" or "binary"; "" means Structured.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "structured":
		return Structured, nil
	case "binary":
		return Binary, nil
	}
	return 0, fmt.Errorf("event mode must be structured or binary, got %q", s)
}

// Header is one Kafka record header. Its fields match kafka-go's
// kafka.Header and franz-go's kgo.RecordHeader, so a conversion is a
// struct conversion: kafka.Header(h).
type Header struct {
	Key   string
	Value []byte
}

// Header names of the Kafka protocol binding.
const (
	// HeaderContentType is the record header naming the value's media type.
	HeaderContentType = "content-type"
	// HeaderPrefix prefixes each attribute header in binary mode.
	HeaderPrefix = "ce_"
	// ContentTypeStructured is the content-type of a structured record.
	ContentTypeStructured = "application/cloudevents+json; charset=UTF-8"
)

// timeFormat is how every time is written: RFC 3339, UTC, "Z", fractional
// seconds only when there are some.
const timeFormat = time.RFC3339Nano

// Encode validates e and returns the Kafka record value and headers of e in
// the given mode. The value is freshly allocated and owned by the caller;
// the raw conversation is copied into it once, without re-encoding. The key
// is [Event.Key].
func (e *Event) Encode(mode Mode) (value []byte, headers []Header, err error) {
	switch mode {
	case Structured:
		value, err = e.AppendStructured(make([]byte, 0, e.structuredSize()))
		if err != nil {
			return nil, nil, err
		}
		return value, []Header{{Key: HeaderContentType, Value: []byte(ContentTypeStructured)}}, nil
	case Binary:
		value, err = e.AppendData(make([]byte, 0, e.Data.size()))
		if err != nil {
			return nil, nil, err
		}
		return value, e.binaryHeaders(), nil
	}
	return nil, nil, fmt.Errorf("encode event %s: unknown mode %v", e.ID, mode)
}

// AppendStructured validates e and appends its structured form, the whole
// event as one JSON object, to dst.
func (e *Event) AppendStructured(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	dst = append(dst, `{"specversion":`...)
	dst = appendString(dst, e.SpecVersion)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"subject":`...)
	dst = appendString(dst, e.Subject)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, e.Time)
	dst = append(dst, `,"datacontenttype":`...)
	dst = appendString(dst, e.contentType())
	if e.DataSchema != "" {
		dst = append(dst, `,"dataschema":`...)
		dst = appendString(dst, e.DataSchema)
	}
	if e.Data.CompanyID != "" {
		dst = append(dst, `,"companyid":`...)
		dst = appendString(dst, e.Data.CompanyID)
	}
	dst = append(dst, `,"data":`...)
	dst = e.Data.appendJSON(dst)
	return append(dst, '}'), nil
}

// AppendData validates e and appends its data member, the value of a
// binary-mode record, to dst.
func (e *Event) AppendData(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return e.Data.appendJSON(dst), nil
}

// MarshalJSON returns the structured form of e.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendStructured(make([]byte, 0, e.structuredSize()))
}

// MarshalJSON returns the JSON object of d, after checking what
// [Event.Validate] checks of data.
func (d Data) MarshalJSON() ([]byte, error) {
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("encode event data: %w", err)
	}
	return d.appendJSON(make([]byte, 0, d.size())), nil
}

func (e *Event) contentType() string {
	if e.DataContentType == "" {
		return ContentTypeJSON
	}
	return e.DataContentType
}

// binaryHeaders returns the headers of a binary record. All values share
// one backing array, so that the headers cost two allocations.
func (e *Event) binaryHeaders() []Header {
	n := 8
	if e.Data.CompanyID != "" {
		n++
	}
	headers := make([]Header, 0, n)
	buf := make([]byte, 0, len(e.SpecVersion)+len(e.ID)+len(e.Source)+len(e.Type)+len(e.Subject)+
		len(timeFormat)+len(e.DataSchema)+len(e.Data.CompanyID)+len(e.contentType()))
	add := func(key string, value string) {
		start := len(buf)
		buf = append(buf, value...)
		headers = append(headers, Header{Key: key, Value: buf[start:len(buf):len(buf)]})
	}
	add(HeaderPrefix+"specversion", e.SpecVersion)
	add(HeaderPrefix+"id", e.ID)
	add(HeaderPrefix+"source", e.Source)
	add(HeaderPrefix+"type", e.Type)
	add(HeaderPrefix+"subject", e.Subject)
	start := len(buf)
	buf = e.Time.UTC().AppendFormat(buf, timeFormat)
	headers = append(headers, Header{Key: HeaderPrefix + "time", Value: buf[start:len(buf):len(buf)]})
	if e.DataSchema != "" {
		add(HeaderPrefix+"dataschema", e.DataSchema)
	}
	if e.Data.CompanyID != "" {
		add(HeaderPrefix+"companyid", e.Data.CompanyID)
	}
	add(HeaderContentType, e.contentType())
	return headers
}

// structuredSize is an upper estimate of the structured form's length for
// strings without escapes; it sizes the value buffer in one allocation.
func (e *Event) structuredSize() int {
	return 200 + len(e.SpecVersion) + len(e.ID) + len(e.Source) + len(e.Type) + len(e.Subject) +
		len(e.DataContentType) + len(e.DataSchema) + len(e.Data.CompanyID) + e.Data.size()
}

// size is an upper estimate of the data object's length.
func (d *Data) size() int {
	n := 200 + len(d.State) + len(d.PreviousState) + len(d.CompanyID) + len(d.Conversation)
	for _, p := range d.Problems {
		n += len(p) + 3
	}
	return n
}

// appendJSON appends the data object; d must be valid.
func (d *Data) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"state":`...)
	dst = appendString(dst, string(d.State))
	if d.PreviousState != "" {
		dst = append(dst, `,"previousState":`...)
		dst = appendString(dst, string(d.PreviousState))
	}
	if d.CompanyID != "" {
		dst = append(dst, `,"companyId":`...)
		dst = appendString(dst, d.CompanyID)
	}
	dst = append(dst, `,"startAt":`...)
	dst = appendTime(dst, d.StartAt)
	dst = append(dst, `,"endAt":`...)
	dst = appendTime(dst, d.EndAt)
	dst = append(dst, `,"window":{"start":`...)
	dst = appendTime(dst, d.Window.Start)
	dst = append(dst, `,"end":`...)
	dst = appendTime(dst, d.Window.End)
	dst = append(dst, '}')
	if len(d.Problems) > 0 {
		dst = append(dst, `,"problems":[`...)
		for i, p := range d.Problems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, p)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"conversation":`...)
	dst = append(dst, d.Conversation...)
	return append(dst, '}')
}

// appendTime appends t as a JSON string in RFC 3339 UTC, or null when t is
// the zero time.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, timeFormat)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Like encoding/json it escapes
// control characters, U+2028 and U+2029, and replaces invalid UTF-8 with
// U+FFFD; unlike it, it leaves <, > and & alone, and writes U+FFFD as the
// character itself rather than an escape, so that encoding what was decoded
// gives the same bytes again.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
