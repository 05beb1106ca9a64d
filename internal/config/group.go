package config

import "time"

// Group configures how replicas share the sources (Kafka checkpoint
// backend): they join one consumer group, each source is polled by one
// member, the others stand by (see package ownership).
type Group struct {
	// ID names the consumer group; replicas that share sources share it.
	ID string `envconfig:"GROUP_ID" default:"jelou-producer" desc:"consumer group the replicas join to share the sources (Kafka checkpoint backend); replicas of one deployment share it; give separate deployments on one cluster different ids (a shared id keeps their sources apart, but every join or leave pauses all of them)"`
	// SessionTimeout is how long the group waits for a silent member
	// before giving its sources to another.
	SessionTimeout time.Duration `envconfig:"GROUP_SESSION_TIMEOUT" default:"10s" validate:"positive" desc:"how long a replica may go silent (crash, pause, partition) before its sources go to a standby; within the broker's group.min/max.session.timeout.ms (6s..30m by default)"`
	// HeartbeatInterval is how often a member checks in; a member that
	// lost its sources learns it at its next heartbeat.
	HeartbeatInterval time.Duration `envconfig:"GROUP_HEARTBEAT_INTERVAL" default:"1s" validate:"positive" desc:"how often a replica checks in with the group; a replica that lost a source stops polling it at its next heartbeat (keep it below a third of GROUP_SESSION_TIMEOUT)"`
}
