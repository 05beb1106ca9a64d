// Package publish provides the Kafka writer of the service: a synchronous,
// acks=all producer built on github.com/segmentio/kafka-go, with TLS, SASL,
// compression and a partitioner chosen by name, and the topic checks that
// run at startup, in readiness probes and in the check command.
//
// # Guarantees
//
// [Publisher.Publish] returns nil only when every record of the call was
// acknowledged by all in-sync replicas (acks=all). Any failed record fails
// the whole call, so a caller advances its checkpoint only after a nil
// return. A failed or cancelled call may still have written some of its
// records, and kafka-go's producer is not idempotent, so internal retries may
// also write a record twice: consumers must expect duplicates, which carry
// the same key, value and headers (for events: the same event id).
//
// # Errors and retries
//
// Publish returns a [*WriteError] whose Kind says what went wrong and whose
// Retriable says whether the same call may succeed later. The writer already
// retries transient broker errors up to [Config.MaxAttempts] times inside one
// call; what reaches the caller is either retriable (leader elections,
// unreachable brokers, timeouts: the caller backs off and retries the whole
// batch) or fatal (a record too large, an authorisation or SASL failure, a
// missing topic, a record the broker rejects: retrying the same batch cannot
// help, so the caller must stop and say so). [IsRetriable] and [KindOf]
// classify any error the package returns.
//
// # Startup checks
//
// [New] asks the brokers for the topic's metadata before it returns. A
// missing topic is created when [Config.TopicCreate] is set and is otherwise
// an error naming the topic and the brokers; unreachable brokers, failed
// authentication and a topic the principal may not describe are reported as
// a [*TopicError] with a sentence a person can act on. Whether the principal
// may write is only known at the first Publish, which then fails with a fatal
// KindAuthorization error.
//
// # Partitioning
//
// Records are spread by key. The default, murmur2, is the Java client's
// default for keyed records (toPositive(murmur2(key)) % partitions), so a
// Java, librdkafka "murmur2_random" or kafka-go producer sends a key to the
// same partition. crc32 matches librdkafka's default ("consistent_random")
// and fnv matches Sarama's hash partitioner.
package publish
