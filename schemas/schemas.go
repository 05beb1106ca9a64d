// Package schemas provides the JSON Schemas of the events jelou-producer
// publishes, one file per major version of the event type, embedded so that
// programs and tests can read them without a path.
//
// # Files
//
// jelou.conversation.attended.v1.json describes the structured CloudEvent
// of type ai.jelou.conversation.attended.v1 (JSON Schema draft 2020-12). Its
// "$id" is the event's default dataschema attribute.
//
// jelou.conversation.attended.watermark.v1.json describes the completeness
// watermark of type ai.jelou.conversation.attended.watermark.v1, written
// per source to the watermark topic (KAFKA_WATERMARK_TOPIC) when enabled. A breaking change to
// the event gets a new type and a new file; a file, once published, only
// gains optional members.
//
// asyncapi.json is not a JSON Schema: it is the AsyncAPI 3.0 document that
// describes every topic jelou-producer writes (the event topic and, when
// enabled, the dead-letter, current-state and watermark topics, and the
// internal topics of the kafka checkpoint backend), their keys, headers
// and Kafka settings, referring to the schema files above for the payloads
// by relative $ref. scripts/asyncapi-validate.sh checks it with the
// AsyncAPI parser; asyncapi_test.go checks it against the code.
package schemas

import "embed"

// V1 is the file name, in FS, of the schema of
// ai.jelou.conversation.attended.v1 events.
const V1 = "jelou.conversation.attended.v1.json"

// WatermarkV1 is the file name, in FS, of the schema of
// ai.jelou.conversation.attended.watermark.v1 watermarks.
const WatermarkV1 = "jelou.conversation.attended.watermark.v1.json"

// AsyncAPI is the file name, in FS, of the AsyncAPI document of the topics.
const AsyncAPI = "asyncapi.json"

// FS holds every schema file of this directory, and the AsyncAPI document.
//
//go:embed *.json
var FS embed.FS
