package dedupe

import (
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestLast tables what Last reports after a sequence of index calls: the
// state emitted last, which the current-state topic may be written with.
func TestLast(t *testing.T) {
	start := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	type op struct {
		call  string // observe, ack, release
		state jelou.State
	}
	for _, tc := range []struct {
		name string
		ops  []op
		want jelou.State
	}{
		{"untracked", nil, ""},
		{"pending first sight", []op{{"observe", "active"}}, "active"},
		{"acked", []op{{"observe", "active"}, {"ack", "active"}}, "active"},
		{"change pending", []op{{"observe", "active"}, {"ack", "active"}, {"observe", "closed"}}, "closed"},
		{"regression skipped", []op{{"observe", "closed"}, {"ack", "closed"}, {"observe", "active"}}, "closed"},
		{"second terminal", []op{{"observe", "closed"}, {"ack", "closed"}, {"observe", "resolved"}}, "resolved"},
		{"released change", []op{{"observe", "active"}, {"ack", "active"}, {"observe", "closed"}, {"release", "closed"}}, "active"},
		{"released first sight", []op{{"observe", "active"}, {"release", "active"}}, ""},
		{"undocumented", []op{{"observe", "waiting"}}, "waiting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := New()
			for _, o := range tc.ops {
				switch o.call {
				case "observe":
					ix.Observe("c1", o.state, start)
				case "ack":
					ix.Ack("c1", o.state)
				case "release":
					ix.Release("c1", o.state)
				}
			}
			if got := ix.Last("c1"); got != tc.want {
				t.Errorf("Last = %q, want %q", got, tc.want)
			}
			if got := ix.Last("c2"); got != "" {
				t.Errorf("Last of an untracked id = %q", got)
			}
		})
	}
}

// TestOldestOpen tables the earliest start of a conversation that may
// still publish.
func TestOldestOpen(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2024, 5, 1, h, 0, 0, 0, time.UTC) }
	type row struct {
		id     string
		start  time.Time
		states []jelou.State // observed in order
		acked  int           // how many of them were acknowledged
	}
	for _, tc := range []struct {
		name string
		rows []row
		want time.Time // zero: none
	}{
		{"empty", nil, time.Time{}},
		{"all terminal and acknowledged", []row{{"a", at(1), []jelou.State{"active", "closed"}, 2}, {"b", at(2), []jelou.State{"expired"}, 1}}, time.Time{}},
		{"an active one", []row{{"a", at(1), []jelou.State{"closed"}, 1}, {"b", at(3), []jelou.State{"active"}, 1}, {"c", at(5), []jelou.State{"active"}, 1}}, at(3)},
		{"a terminal state not yet acknowledged", []row{{"a", at(1), []jelou.State{"active", "closed"}, 1}, {"b", at(3), []jelou.State{"active"}, 1}}, at(1)},
		{"an undocumented state", []row{{"a", at(2), []jelou.State{"waiting"}, 1}}, at(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := New()
			for _, r := range tc.rows {
				for i, st := range r.states {
					ix.Observe(r.id, st, r.start)
					if i < r.acked {
						ix.Ack(r.id, st)
					}
				}
			}
			got, ok := ix.OldestOpen()
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Errorf("OldestOpen = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
