package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// TestTracker runs the alert logic over a table of timelines: events read
// and ticks at given offsets from t0, with the alerts each must raise.
func TestTracker(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	th := Thresholds{ActiveFor: 30 * time.Minute, ReplyOver: 5 * time.Minute, Forget: 48 * time.Hour}
	type step struct {
		at   time.Duration // read or tick time, from t0
		ev   *row          // an event read at `at`; nil: a tick
		want []string      // "kind conversation" of the alerts raised
	}
	active := func(id string, start time.Duration) *row {
		return &row{id: id, state: jelou.StateActive, company: "7", start: t0.Add(start)}
	}
	ended := func(id string, state jelou.State, start time.Duration) *row {
		return &row{id: id, state: state, company: "7", start: t0.Add(start)}
	}
	tick := func(at time.Duration, want ...string) step { return step{at: at, want: want} }
	read := func(at time.Duration, r *row, want ...string) step { return step{at: at, ev: r, want: want} }
	withReply := func(r *row, reply any) *row { r.reply = reply; return r }
	unknownStart := &row{id: "c1", state: jelou.StateActive, company: "7"}

	tests := []struct {
		name  string
		th    Thresholds
		steps []step
	}{
		{"closed in time: no alert", th, []step{
			read(0, active("c1", 0)), tick(29 * time.Minute), read(29*time.Minute+30*time.Second, ended("c1", jelou.StateClosed, 0)),
			tick(31 * time.Minute), tick(5 * time.Hour),
		}},
		{"quiet active alerts on the tick after the threshold, once", th, []step{
			read(time.Minute, active("c1", 0)), tick(30 * time.Minute), tick(30*time.Minute+time.Second, "active_too_long c1"),
			tick(40 * time.Minute), tick(2 * time.Hour),
		}},
		{"exactly the threshold is not longer than it", th, []step{
			read(0, active("c1", 0)), tick(30 * time.Minute), tick(30*time.Minute+time.Nanosecond, "active_too_long c1"),
		}},
		{"already overdue when read: alerts at once", th, []step{
			read(0, active("c1", -2*time.Hour), "active_too_long c1"), tick(time.Minute),
		}},
		{"terminal event after the alert: nothing more", th, []step{
			read(0, active("c1", 0)), tick(31*time.Minute, "active_too_long c1"), read(32*time.Minute, ended("c1", jelou.StateResolved, 0)), tick(time.Hour),
		}},
		{"a repeated active event after the terminal one is ignored", th, []step{
			read(0, active("c1", 0)), read(10*time.Minute, ended("c1", jelou.StateExpired, 0)), read(11*time.Minute, active("c1", 0)), tick(time.Hour),
		}},
		{"a repeated active event does not restart or repeat the alert", th, []step{
			read(0, active("c1", 0)), tick(31*time.Minute, "active_too_long c1"), read(32*time.Minute, active("c1", 0)), tick(time.Hour),
		}},
		{"unknown start: counted from the event's time", th, []step{
			read(10*time.Minute, unknownStart), tick(31 * time.Minute), tick(40*time.Minute+time.Second, "active_too_long c1"),
		}},
		{"first sight terminal: never tracked", th, []step{
			read(0, ended("c1", jelou.StateClosed, -3*time.Hour)), tick(time.Hour),
		}},
		{"an undocumented state is not tracked", th, []step{
			read(0, &row{id: "c1", state: "pending", company: "7", start: t0}), tick(time.Hour),
		}},
		{"several due at one tick, oldest start first", th, []step{
			read(0, active("b", 0)), read(0, active("a", 5*time.Minute)), read(0, active("c", -10*time.Minute)),
			tick(36*time.Minute, "active_too_long c", "active_too_long b", "active_too_long a"),
		}},
		{"slow reply alerts once per conversation", th, []step{
			read(0, withReply(active("c1", 0), 300001), "slow_operator_reply c1"),
			read(time.Minute, withReply(ended("c1", jelou.StateClosed, 0), 300001)),
		}},
		{"a reply of exactly the threshold does not alert", th, []step{
			read(0, withReply(ended("c1", jelou.StateClosed, 0), 300000)),
		}},
		{"a fractional reply time is rounded", th, []step{
			read(0, withReply(ended("c1", jelou.StateClosed, 0), 300000.6), "slow_operator_reply c1"),
		}},
		{"a reply that is not a number is ignored", th, []step{
			read(0, withReply(ended("c1", jelou.StateClosed, 0), "900000")),
			read(0, withReply(ended("c2", jelou.StateClosed, 0), json.RawMessage("null"))),
			read(0, withReply(ended("c3", jelou.StateClosed, 0), -5)),
		}},
		{"slow reply and overdue at once", th, []step{
			read(0, withReply(active("c1", -time.Hour), 600000), "slow_operator_reply c1", "active_too_long c1"),
		}},
		{"reply alert disabled", Thresholds{ActiveFor: th.ActiveFor, Forget: th.Forget}, []step{
			read(0, withReply(ended("c1", jelou.StateClosed, 0), 9e9)),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.th)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				var got []Alert
				if s.ev != nil {
					e := newEvent(t, *s.ev, now)
					got = tr.Observe(&e, now)
				} else {
					got = tr.Due(now)
				}
				var names []string
				for _, a := range got {
					names = append(names, a.Kind+" "+a.Conversation)
				}
				if !slices.Equal(names, s.want) {
					t.Fatalf("step %d (at %s): alerts %q, want %q", i, s.at, names, s.want)
				}
			}
		})
	}
}

// TestTrackerAlertContent checks what an alert says.
func TestTrackerAlertContent(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	tr := NewTracker(Thresholds{ActiveFor: 30 * time.Minute, ReplyOver: time.Minute, Forget: 48 * time.Hour})
	e := newEvent(t, row{id: "c9", state: jelou.StateActive, company: "1203", start: t0, reply: 90500}, t0)
	got := tr.Observe(&e, t0.Add(time.Second))
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want the slow reply", len(got))
	}
	r := got[0]
	want := Alert{Kind: KindSlowReply, At: t0.Add(time.Second), Conversation: "c9", CompanyID: "1203", State: "active",
		StartAt: &t0, ReplyMillis: 90500, Threshold: "1m0s", EventID: e.ID,
		Message: "the operator of conversation c9 (company 1203) took 1m31s to reply, longer than 1m0s"}
	if fmt.Sprint(r) != fmt.Sprint(want) || !r.StartAt.Equal(t0) {
		t.Errorf("slow reply alert\n got %+v\nwant %+v", r, want)
	}
	got = tr.Due(t0.Add(45 * time.Minute))
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want active_too_long", len(got))
	}
	a := got[0]
	if a.Kind != KindActiveTooLong || a.ActiveFor != "45m0s" || a.Threshold != "30m0s" || a.EventID != e.ID || !a.StartAt.Equal(t0) ||
		a.Message != "conversation c9 (company 1203) has been active for 45m0s, longer than 30m0s" {
		t.Errorf("active alert = %+v", a)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"alert", "at", "conversation", "companyId", "state", "startAt", "activeFor", "threshold", "eventId", "message"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON alert lacks %q: %s", k, b)
		}
	}
}

// TestTrackerForgets checks that memory stays bounded by Forget.
func TestTrackerForgets(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	tr := NewTracker(Thresholds{ActiveFor: 30 * time.Minute, ReplyOver: time.Minute, Forget: 48 * time.Hour})
	for i := range 100 {
		e := newEvent(t, row{id: fmt.Sprint("a", i), state: jelou.StateActive, start: t0, reply: 1}, t0)
		tr.Observe(&e, t0)
		e = newEvent(t, row{id: fmt.Sprint("e", i), state: jelou.StateClosed, start: t0, reply: 120000}, t0)
		tr.Observe(&e, t0)
	}
	if tr.Active() != 100 || len(tr.ended) != 100 || len(tr.replied) != 100 {
		t.Fatalf("tracking %d active, %d ended, %d replied; want 100 each", tr.Active(), len(tr.ended), len(tr.replied))
	}
	tr.Due(t0.Add(47 * time.Hour))
	if tr.Active() != 100 {
		t.Fatalf("forgot too early: %d active left", tr.Active())
	}
	tr.Due(t0.Add(48*time.Hour + time.Second))
	if tr.Active() != 0 || len(tr.ended) != 0 || len(tr.replied) != 0 {
		t.Errorf("after Forget: %d active, %d ended, %d replied; want 0", tr.Active(), len(tr.ended), len(tr.replied))
	}
}
