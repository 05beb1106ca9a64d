// Package event provides the event jelou-producer publishes to Kafka: one
// CloudEvents 1.0 JSON document per (conversation, state), its deterministic
// id, its Kafka key, its encodings and a decoder for consumers.
//
// Producers build an [Event] with [New] and turn it into a Kafka [Record]
// with [Event.Record] (or its parts with [Event.Encode] and [Event.Key]);
// consumers turn a record back into an [Event] with [Record.Event] or
// [Decode]. Record is the one record type of jelou-producer, from encoding
// to the Kafka client and back. The package has no Kafka dependency: headers
// are the local [Header] type, which converts to kafka-go's kafka.Header and
// franz-go's kgo.RecordHeader field for field.
//
// # Attributes
//
// specversion is "1.0"; type is [TypeV1]; subject is the conversation's
// "_id"; time is when the producer observed the conversation in its state;
// source is the producer's [Source.URI]; dataschema is [Source.DataSchema]
// (default [DefaultDataSchema], the schema's versioned URN); datacontenttype is "application/json". The
// extension attribute companyid repeats data.companyId, when there is one,
// so that routers can filter without parsing data.
//
// # Identity
//
// The id is a name-based UUID version 5 (SHA-1, RFC 9562 section 5.5) of the
// name "<_id>/<state>" under the namespace [Namespace]. The same conversation
// in the same state always gets the same id, whichever process, replica or
// restart publishes it, so consumers can drop repeats by id: the producer
// publishes each (conversation, state) once in normal operation, and may
// repeat one with the same id after a crash.
//
// # Data
//
// data is a JSON object; Data documents each member. data.conversation is the
// row exactly as the Jelou API returned it, byte for byte, fields this
// package does not know included. The other members are normalised: the
// state, the previous state when this event is a change, the company id,
// start and end as RFC 3339 UTC, the query window the row was found in, and
// the problems met while reading the row.
//
// # Times
//
// Every time (time, data.startAt, data.endAt, data.window) is written in
// RFC 3339 in UTC with a "Z" suffix, with as many fractional digits as it
// has and none when it falls on a whole second (Go's time.RFC3339Nano).
//
// # Kafka key
//
// The key is the conversation's company.id, so that one company's events
// stay ordered in one partition. A conversation without one (missing, empty
// or blank) is keyed [FallbackKey]; [Key] reports when it did so, so that
// callers can count such events.
//
// # Encodings
//
// [Structured] mode (the default) puts the whole event in the record value
// with the header "content-type: application/cloudevents+json;
// charset=UTF-8". [Binary] mode puts data alone in the value and the
// attributes in "ce_" headers, per the CloudEvents Kafka protocol binding.
// [Decode] reads both.
//
// # Schema Registry framing
//
// [Event.FramedRecord] writes the value in the Schema Registry wire format
// (Confluent's, [AppendFrame]): the magic byte 0, the 4-byte big-endian
// schema id, then the value of either mode, unchanged. In structured mode
// the registered schema is the whole event's; in binary mode, where the
// value is data alone, it is the schema of data (derived from the same
// file). The headers are those of the plain record. [Decode] and
// [Record.Event] read framed values too (a JSON value never starts with
// 0x00); [DecodeFramed] and [Record.SchemaID] return the id.
//
// # Compatibility
//
// Within v1 only additive changes are made: new optional data members, new
// extension attributes. A breaking change gets a new type
// ("ai.jelou.conversation.attended.v2") and a new schema file. Consumers
// must ignore members and attributes they do not know; [Decode] does.
package event
