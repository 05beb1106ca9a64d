// Package registry puts the event schema in a Confluent-compatible Schema
// Registry (Confluent, Apicurio's ccompat API, Karapace, Redpanda) and reads
// records framed with its ids, through franz-go's pkg/sr client.
//
// # Registration
//
// [Client.Register] runs once at start-up, before anything is published.
// For each topic events are written to, it looks the schema up under the
// topic's value subject, "<topic>-value" ([Subject], TopicNameStrategy),
// and uses the id found; when the subject does not hold it, it registers
// it, and the registry checks it against the subject's compatibility
// level. A schema the registry refuses (incompatible: 409; invalid: 422)
// and credentials it refuses (401, 403) are a [*RejectedError], which the
// command turns into exit status 2: the producer never falls back to plain
// JSON. Other failures (unreachable, 5xx, timeouts) are plain errors.
//
// # Which schema
//
// The record value's schema depends on the CloudEvents mode ([Schema]): in
// structured mode the value is the whole event, and the schema registered
// is the file schemas/jelou.conversation.attended.v1.json; in binary mode
// the value is data alone, and the schema is the data schema derived from
// the same file (schemas.Data). Both are registered as schemaType JSON.
//
// # Bounds
//
// Every request is bounded by [Config.Timeout] (its context and the HTTP
// client's), and a response body by [MaxResponseBytes]. Credentials are
// sent as HTTP basic auth, never put in a URL or an error.
//
// # Reading
//
// [Deserializer] is the consumer side: it takes the schema id from a
// framed record, fetches that schema once (by id), validates the payload
// against it with a JSON Schema validator and decodes the event.
package registry
