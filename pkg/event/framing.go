package event

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Schema Registry wire format (Confluent's, which Apicurio, Karapace
// and Redpanda speak too) prefixes a record value with a magic byte 0 and
// the 4-byte big-endian id of the schema the rest of the value follows.
const (
	// MagicByte is the first byte of a framed value. A JSON document never
	// starts with it, so a framed value and a plain JSON value are told
	// apart by their first byte alone.
	MagicByte byte = 0
	// FrameSize is the length of the prefix: the magic byte and the id.
	FrameSize = 5
)

// ErrFrame is returned, wrapped, for a value that starts with [MagicByte]
// but is too short to hold a schema id, or whose id is 0.
var ErrFrame = errors.New("malformed Schema Registry framing")

// AppendFrame appends the Schema Registry prefix of schemaID (magic byte,
// id big-endian) to dst. schemaID 0 is not an id: registries number from 1.
func AppendFrame(dst []byte, schemaID uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, MagicByte), schemaID)
}

// Unframe splits a record value in the Schema Registry wire format into
// its schema id and payload. A value that does not start with [MagicByte]
// is returned whole with id 0: it is not framed. A value that starts with
// it but has fewer than [FrameSize] bytes, or the id 0, is an error
// wrapping [ErrFrame]. payload shares value's memory.
func Unframe(value []byte) (schemaID uint32, payload []byte, err error) {
	if len(value) == 0 || value[0] != MagicByte {
		return 0, value, nil
	}
	if len(value) < FrameSize {
		return 0, nil, fmt.Errorf("value of %d bytes starts with the magic byte but holds no 4-byte schema id: %w", len(value), ErrFrame)
	}
	id := binary.BigEndian.Uint32(value[1:FrameSize])
	if id == 0 {
		return 0, nil, fmt.Errorf("schema id 0: %w", ErrFrame)
	}
	return id, value[FrameSize:], nil
}

// Reframe returns a copy of value, a record value in the Schema Registry
// wire format, framed with schemaID instead: the same payload under
// another subject's id (a registry may number one schema differently per
// subject). A value that is not framed is returned as it is.
func Reframe(value []byte, schemaID uint32) ([]byte, error) {
	id, payload, err := Unframe(value)
	if err != nil || id == 0 || id == schemaID {
		return value, err
	}
	return append(AppendFrame(make([]byte, 0, FrameSize+len(payload)), schemaID), payload...), nil
}

// SchemaID returns the Schema Registry schema id of r's value: 0 when the
// value is not framed (see [Unframe]).
func (r Record) SchemaID() (uint32, error) {
	id, _, err := Unframe(r.Value)
	return id, err
}

// FramedRecord is [Event.Record] with the value in the Schema Registry wire
// format: the prefix of schemaID, then the value Record would carry (the
// whole event in [Structured] mode, data alone in [Binary] mode). schemaID
// 0 means no framing: the record of Record. The value is encoded in place
// after the prefix, in one allocation.
func (e *Event) FramedRecord(mode Mode, schemaID uint32) (Record, error) {
	if schemaID == 0 {
		return e.Record(mode)
	}
	var value []byte
	var headers []Header
	var err error
	switch mode {
	case Structured:
		value, err = e.AppendStructured(AppendFrame(make([]byte, 0, FrameSize+e.structuredSize()), schemaID))
		headers = []Header{{Key: HeaderContentType, Value: []byte(ContentTypeStructured)}}
	case Binary:
		value, err = e.AppendData(AppendFrame(make([]byte, 0, FrameSize+e.Data.size()), schemaID))
		headers = e.binaryHeaders()
	default:
		err = fmt.Errorf("encode event %s: unknown mode %v", e.ID, mode)
	}
	if err != nil {
		return Record{}, err
	}
	key, _ := e.Key()
	return Record{Key: key, Value: value, Headers: headers}, nil
}
