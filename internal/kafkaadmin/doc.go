// Package kafkaadmin creates, describes and reads the producer's Kafka topics
// for the packages that need them (publish, checkpoint, ownership, the demo
// and the tests), over a caller's [kafka.Client] so that TLS and SASL apply.
//
// # Topics
//
// [EnsureTopic] creates a missing topic with [CreateTopic] ([Spec]:
// partitions, replication, 0 for the broker's default, and configuration),
// which counts a topic someone else created meanwhile (TopicAlreadyExists)
// as success and then waits with [WaitForLeaders] until every partition's
// leader answers. [Describe] reads a topic's metadata and [Configs] its
// configuration.
//
// # Reading
//
// [ReadPartition] hands every record of a partition, from its first offset
// to its high watermark at the time of the call, to a function; [All] reads
// every partition of a topic into [event.Record]s. Reading uses no consumer
// group and commits nothing, so it never changes the cluster.
//
// # What is retried
//
// Only errors Kafka calls temporary ([kafka.Error.Temporary]) are retried,
// with backoff from 50 ms to 2 s, for at most [RetryTime] within the
// caller's context: a partition whose leader is being elected (a topic
// created a moment ago, a broker that restarted) answers
// NotLeaderForPartition or LeaderNotAvailable for a while. [ReadPartition]
// resumes after the last record it handed over; [WaitForLeaders] asks
// again. Every other error (not authorised, a broker that cannot be
// reached, an error of the caller's function) is returned at once.
// [Describe], [Configs] and the CreateTopics request are not retried.
package kafkaadmin
