package ownership

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/segmentio/kafka-go"
)

func member(id string, sources []string, owned ...string) kafka.GroupMember {
	return memberAt(id, 0, sources, owned...)
}

// memberAt is a member claiming owned as given by generation gen.
func memberAt(id string, gen int64, sources []string, owned ...string) kafka.GroupMember {
	b, _ := json.Marshal(memberData{Sources: sources, Owned: owned, Generation: gen})
	return kafka.GroupMember{ID: id, UserData: b}
}

func TestBalancerAssignGroups(t *testing.T) {
	five := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name    string
		members []kafka.GroupMember
		// want is, per member, the sources it gets.
		want map[string][]string
	}{
		{"one member takes all", []kafka.GroupMember{member("m1", five)},
			map[string][]string{"m1": five}},
		{"a standby gets nothing while the owner keeps its one source",
			[]kafka.GroupMember{member("m1", []string{"default"}), member("m0", []string{"default"}, "default")},
			map[string][]string{"m0": {"default"}, "m1": nil}},
		{"fresh group spreads in id order",
			[]kafka.GroupMember{member("m1", five), member("m2", five), member("m3", five)},
			map[string][]string{"m1": {"a", "d"}, "m2": {"b", "e"}, "m3": {"c"}}},
		{"owners keep their sources up to their share",
			[]kafka.GroupMember{member("m1", five, "a", "b", "c", "d", "e"), member("m2", five), member("m3", five)},
			map[string][]string{"m1": {"a", "b"}, "m2": {"c", "e"}, "m3": {"d"}}},
		{"a survivor keeps its own and takes the dead member's",
			[]kafka.GroupMember{member("m1", five, "a", "d"), member("m3", five, "c")},
			map[string][]string{"m1": {"a", "d", "e"}, "m3": {"b", "c"}}},
		{"a source goes only to a member serving it",
			[]kafka.GroupMember{member("m1", []string{"a"}), member("m2", []string{"a", "b", "c"})},
			map[string][]string{"m1": {"a"}, "m2": {"b", "c"}}},
		{"a member claiming a source it no longer serves loses it",
			[]kafka.GroupMember{member("m1", []string{"b"}, "a"), member("m2", []string{"a", "b"})},
			map[string][]string{"m1": {"b"}, "m2": {"a"}}},
		{"a newer claim wins: a member evicted while paused rejoins claiming its old source",
			[]kafka.GroupMember{memberAt("m0", 2, []string{"default"}, "default"), memberAt("m1", 3, []string{"default"}, "default")},
			map[string][]string{"m0": nil, "m1": {"default"}}},
		{"stale claims lose to newer ones, source by source",
			[]kafka.GroupMember{memberAt("m0", 4, five, "a", "b"), memberAt("m1", 5, five, "b", "c"), memberAt("m2", 5, five, "d", "e")},
			map[string][]string{"m0": {"a"}, "m1": {"b", "c"}, "m2": {"d", "e"}}},
		{"unreadable metadata gets nothing",
			[]kafka.GroupMember{{ID: "m0", UserData: []byte("{")}, member("m1", []string{"a"})},
			map[string][]string{"m0": nil, "m1": {"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Balancer{topic: "T"}.AssignGroups(tt.members, nil)
			if len(got) != len(tt.members) {
				t.Fatalf("assignments for %d members, want %d: %v", len(got), len(tt.members), got)
			}
			for _, m := range tt.members {
				var data memberData
				_ = json.Unmarshal(m.UserData, &data)
				var sorted []string
				if data.Sources != nil {
					sorted = append(sorted, data.Sources...)
				}
				var ids []kafka.PartitionAssignment
				for _, p := range got[m.ID]["T"] {
					ids = append(ids, kafka.PartitionAssignment{ID: p})
				}
				sources := sourcesOf(ids, sorted)
				if !reflect.DeepEqual(sources, tt.want[m.ID]) {
					t.Errorf("member %s gets %v, want %v", m.ID, sources, tt.want[m.ID])
				}
			}
		})
	}
}

// TestBalancerSharedGroup: members of two deployments (assignment topics
// A and B) in one group each get only their own deployment's sources,
// balanced among that deployment's members, and the leader is told.
func TestBalancerSharedGroup(t *testing.T) {
	on := func(topic string, m kafka.GroupMember) kafka.GroupMember { m.Topics = []string{topic}; return m }
	members := []kafka.GroupMember{
		on("A", member("a1", []string{"default"}, "default")),
		on("A", member("a2", []string{"default"})),
		on("B", member("b1", []string{"default", "x"})),
		on("B", member("b2", []string{"default", "x"})),
	}
	var told []string
	got := Balancer{topic: "A", shared: func(others []string) { told = others }}.AssignGroups(members, nil)
	want := kafka.GroupMemberAssignments{
		"a1": {"A": {0}},
		"a2": {"A": {}},
		"b1": {"B": {0}},
		"b2": {"B": {1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assignments %v, want %v", got, want)
	}
	if !reflect.DeepEqual(told, []string{"B"}) {
		t.Errorf("leader told of %v, want [B]", told)
	}
}
