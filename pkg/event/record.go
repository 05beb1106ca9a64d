package event

import "time"

// Record is a Kafka record of an event: what [Event.Record] encodes an event
// into, what the producer's publisher writes (converting to the Kafka
// client's message type only at the client's boundary), and what a reader
// of the topic fills in and decodes with [Record.Event].
type Record struct {
	// Key picks the partition; records with equal keys keep their order.
	Key []byte
	// Value is the payload.
	Value []byte
	// Headers travel with the record, in order.
	Headers []Header
	// Time is the record's timestamp. When writing, zero means "when the
	// writer sends it".
	Time time.Time
	// Partition and Offset say where a record read back was stored. Writers
	// ignore them.
	Partition int
	Offset    int64
}

// Record validates e and returns its Kafka record in the given mode: the
// key is [Event.Key], the value and headers those of [Event.Encode]. The
// record's byte slices are freshly allocated and owned by the caller.
func (e *Event) Record(mode Mode) (Record, error) {
	value, headers, err := e.Encode(mode)
	if err != nil {
		return Record{}, err
	}
	key, _ := e.Key()
	return Record{Key: key, Value: value, Headers: headers}, nil
}

// Event decodes the event in r's value and headers, in whichever mode its
// headers say it was written, framed in the Schema Registry wire format or
// not; see [Decode] ([Record.SchemaID] gives the framing's schema id).
func (r Record) Event() (*Event, error) {
	return Decode(r.Value, r.Headers)
}
