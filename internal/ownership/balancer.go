package ownership

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/segmentio/kafka-go"
)

// ProtocolName is the group protocol of [Balancer]; every member of a
// group must speak it.
const ProtocolName = "jelou-sources-v1"

// memberData is a member's join metadata (kafka-go's UserData).
type memberData struct {
	// Sources are the ids the member serves, sorted: a source's index in
	// this list is the partition number that assigns it to this member.
	Sources []string `json:"sources"`
	// Owned are the sources it owned in the last generation, for
	// stickiness.
	Owned []string `json:"owned,omitempty"`
	// Generation is the generation that gave it Owned. When two members
	// claim one source, the newer claim wins: a member evicted while
	// paused rejoins still claiming what an older generation gave it.
	Generation int64 `json:"generation,omitempty"`
}

// Balancer is the kafka-go GroupBalancer of the ownership group: it
// assigns sources, not partitions. A replica's balancer carries what this
// replica serves and owns; the group leader's AssignGroups decides for all.
type Balancer struct {
	topic string
	data  func() memberData
	// shared, when set, is told the other deployments' assignment topics
	// when the group holds members of more than one deployment.
	shared func(others []string)
}

var _ kafka.GroupBalancer = Balancer{}

// ProtocolName returns [ProtocolName].
func (Balancer) ProtocolName() string { return ProtocolName }

// UserData encodes this member's sources and current ownership.
func (b Balancer) UserData() ([]byte, error) { return json.Marshal(b.data()) }

// AssignGroups gives every source one member that serves it. Sources are
// scoped by the member's assignment topic: two deployments that share a
// GROUP_ID (each with its own CHECKPOINT_TOPIC) each keep their own
// sources, even ones with the same id; they only share rebalances. Within
// one topic, each member first keeps the sources it owned, up to its fair
// share (the topic's sources over its members, rounded up), claims of a
// newer generation first; then the rest go, in id order, to the member
// serving them with the fewest, ties to the lowest member id. Members
// whose metadata cannot be read get nothing.
func (b Balancer) AssignGroups(members []kafka.GroupMember, _ []kafka.Partition) kafka.GroupMemberAssignments {
	byTopic := map[string][]kafka.GroupMember{}
	for _, gm := range members {
		topic := b.topic
		if len(gm.Topics) > 0 {
			topic = gm.Topics[0]
		}
		byTopic[topic] = append(byTopic[topic], gm)
	}
	if len(byTopic) > 1 && b.shared != nil {
		others := make([]string, 0, len(byTopic)-1)
		for topic := range byTopic {
			if topic != b.topic {
				others = append(others, topic)
			}
		}
		slices.Sort(others)
		b.shared(others)
	}
	out := make(kafka.GroupMemberAssignments, len(members))
	for topic, ms := range byTopic {
		for id, parts := range assignSources(ms) {
			out[id] = map[string][]int{topic: parts}
		}
	}
	return out
}

// assignSources assigns the sources of one deployment (members sharing an
// assignment topic) and returns, per member id, the partitions (indexes
// into the member's sorted sources) it owns.
func assignSources(members []kafka.GroupMember) map[string][]int {
	type member struct {
		id     string
		data   memberData
		serves map[string]int // source -> index in data.Sources
		got    []string
	}
	ms := make([]*member, 0, len(members))
	all := map[string]bool{}
	for _, gm := range members {
		m := &member{id: gm.ID, serves: map[string]int{}}
		if err := json.Unmarshal(gm.UserData, &m.data); err == nil {
			slices.Sort(m.data.Sources)
			for i, s := range m.data.Sources {
				m.serves[s] = i
				all[s] = true
			}
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	sources := make([]string, 0, len(all))
	for s := range all {
		sources = append(sources, s)
	}
	slices.Sort(sources)

	owner := map[string]*member{}
	if len(ms) > 0 {
		share := (len(sources) + len(ms) - 1) / len(ms)
		claimants := slices.Clone(ms)
		sort.SliceStable(claimants, func(i, j int) bool { return claimants[i].data.Generation > claimants[j].data.Generation })
		for _, m := range claimants {
			for _, s := range m.data.Owned {
				if _, ok := m.serves[s]; ok && owner[s] == nil && len(m.got) < share {
					owner[s] = m
					m.got = append(m.got, s)
				}
			}
		}
	}
	for _, s := range sources {
		if owner[s] != nil {
			continue
		}
		var best *member
		for _, m := range ms {
			if _, ok := m.serves[s]; ok && (best == nil || len(m.got) < len(best.got)) {
				best = m
			}
		}
		owner[s] = best
		best.got = append(best.got, s)
	}

	out := make(map[string][]int, len(ms))
	for _, m := range ms {
		parts := make([]int, 0, len(m.got))
		for _, s := range m.got {
			parts = append(parts, m.serves[s])
		}
		slices.Sort(parts)
		out[m.id] = parts
	}
	return out
}
