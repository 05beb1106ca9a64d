// Package ownership shares a deployment's sources among its replicas
// through Kafka's consumer-group protocol (kafka-go's ConsumerGroup), so
// that each source is polled by exactly one live replica and the others
// stand by.
//
// # How
//
// Every replica joins one consumer group (GROUP_ID) subscribed to a small
// assignment topic that nobody writes to: it only exists because the
// group protocol hands out partitions of subscribed topics. The group's
// leader runs [Balancer], which reads each member's sources from its join
// metadata and assigns every source to one member that serves it, sticky
// (a source stays with its owner while the owner's share is fair; of two
// members claiming one source, the claim from the newer generation wins)
// and otherwise to the least loaded member. A source travels as a partition
// number: its index in the receiving member's own sorted source list, so
// members need not agree on the whole list. The topic is created with at
// least as many partitions as a member has sources.
//
// For each generation, [Run] calls the owner function once per source the
// replica was given, with a context that ends with the generation. A
// rebalance (a member joins or leaves, or misses its session timeout) ends
// the generation: every owner function must stop fetching, flush, save its
// checkpoint and return; only when all have returned does the replica
// rejoin, so the next owner of a source loads the checkpoint its previous
// owner saved last. Stopping Run (its context ends) closes the group the
// same way and then leaves it, which starts the next rebalance at once
// instead of after the session timeout.
//
// # Fencing
//
// A replica paused past its session timeout (GC pause, SIGSTOP, network
// partition) is removed from the group while it sleeps, and its sources go
// to others. When it wakes it still believes it owns them until its next
// heartbeat, at most the heartbeat interval later, is refused; the
// generation then ends and its owner functions stop. It rejoins still
// claiming those sources, but its claim is from an older generation than
// their new owner's, so they stay where they are. What it can publish in
// that time is bounded by the work it had in flight: each lane's query
// being processed (at most one window per lane, POLL_CONCURRENCY windows
// for history) plus what completes within one heartbeat interval. Those
// events carry their original ids. Its checkpoint saves carry the epoch of
// its generation (see checkpoint.KafkaStore.Fenced), lower than the new
// owner's, so they never move the checkpoint back.
package ownership
