package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

var h0 = time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)

func ev(src, id string, state jelou.State, start time.Time) *event.Event {
	return &event.Event{Source: src, Subject: id, Data: event.Data{State: state, StartAt: start}}
}

func wm(src string, before time.Time, offsets ...int64) *event.Watermark {
	uri, _, _ := strings.Cut(src, "#") // "uri#id": a source attribute shared by several producer sources
	w := &event.Watermark{Source: uri, Subject: src, CompleteBefore: before}
	for p, o := range offsets {
		w.Offsets = append(w.Offsets, event.PartitionOffset{Partition: p, Offset: o})
	}
	return w
}

// TestAggregatorClosesOnWatermarks tables the rule: an hour is emitted
// once a watermark at or after its end was read and the positions reached
// the watermark's offsets, and never again.
func TestAggregatorClosesOnWatermarks(t *testing.T) {
	type step struct {
		partition int
		offset    int64
		event     *event.Event
		mark      *event.Watermark
		want      string // the hours Close returns, formatted
	}
	for _, tc := range []struct {
		name  string
		steps []step
		late  int
	}{
		{"a watermark before the events it covers were read waits for them", []step{
			{partition: 0, offset: 0, event: ev("s", "a", "active", h0.Add(10*time.Minute)), want: "[]"},
			{mark: wm("s", h0.Add(70*time.Minute), 2, 1), want: "[]"},
			{partition: 1, offset: 0, event: ev("s", "b", "closed", h0.Add(20*time.Minute)), want: "[]"},
			{partition: 0, offset: 1, event: ev("s", "a", "resolved", h0.Add(10*time.Minute)), want: "[s 10:00 2 map[closed:1 resolved:1]]"},
			{mark: wm("s", h0.Add(80*time.Minute), 2, 1), want: "[]"},
		}, 0},
		{"a watermark inside an hour closes the hours before it only", []step{
			{partition: 0, offset: 0, event: ev("s", "a", "closed", h0.Add(10*time.Minute)), want: "[]"},
			{partition: 0, offset: 1, event: ev("s", "b", "active", h0.Add(65*time.Minute)), want: "[]"},
			{mark: wm("s", h0.Add(59*time.Minute), 2), want: "[]"},
			{mark: wm("s", h0.Add(60*time.Minute), 2), want: "[s 10:00 1 map[closed:1]]"},
			{partition: 0, offset: 2, event: ev("s", "b", "expired", h0.Add(65*time.Minute)), want: "[]"},
			{mark: wm("s", h0.Add(3*time.Hour), 3), want: "[s 11:00 1 map[expired:1]]"},
		}, 0},
		{"sources close apart", []step{
			{partition: 0, offset: 0, event: ev("s", "a", "closed", h0), want: "[]"},
			{partition: 0, offset: 1, event: ev("t", "x", "closed", h0), want: "[]"},
			{mark: wm("t", h0.Add(time.Hour), 2), want: "[t 10:00 1 map[closed:1]]"},
			{mark: wm("s", h0.Add(time.Hour), 2), want: "[s 10:00 1 map[closed:1]]"},
		}, 0},
		{"one source attribute for two producer sources: both must cover the hour", []step{
			{partition: 0, offset: 0, event: ev("u", "a", "closed", h0), want: "[]"},
			{mark: wm("u#one", h0.Add(time.Hour), 1), want: "[u 10:00 1 map[closed:1]]"},
			{partition: 0, offset: 1, event: ev("u", "b", "closed", h0.Add(time.Hour)), want: "[]"},
			{mark: wm("u#two", h0.Add(3*time.Hour), 2), want: "[]"},
			{mark: wm("u#one", h0.Add(3*time.Hour), 2), want: "[u 11:00 1 map[closed:1]]"},
		}, 0},
		{"an older state read after a terminal one is ignored", []step{
			{partition: 0, offset: 0, event: ev("s", "a", "closed", h0), want: "[]"},
			{partition: 1, offset: 0, event: ev("s", "a", "active", h0), want: "[]"},
			{mark: wm("s", h0.Add(time.Hour), 1, 1), want: "[s 10:00 1 map[closed:1]]"},
		}, 0},
		{"an event of a closed hour is counted late", []step{
			{partition: 0, offset: 0, event: ev("s", "a", "closed", h0), want: "[]"},
			{mark: wm("s", h0.Add(time.Hour), 1), want: "[s 10:00 1 map[closed:1]]"},
			{partition: 0, offset: 1, event: ev("s", "b", "closed", h0.Add(time.Minute)), want: "[]"},
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(map[int]int64{0: 0, 1: 0})
			for i, s := range tc.steps {
				if s.mark != nil {
					a.Watermark(s.mark)
				} else {
					a.Event(s.partition, s.offset, s.event)
				}
				if got := format(a.Close()); got != s.want {
					t.Errorf("step %d: Close = %s, want %s", i, got, s.want)
				}
			}
			if a.Late() != tc.late {
				t.Errorf("late = %d, want %d", a.Late(), tc.late)
			}
		})
	}
}

func format(hs []Hour) string {
	out := "["
	for i, h := range hs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s %s %d %v", h.Source, h.Start.Format("15:04"), h.Conversations, h.States)
	}
	return out + "]"
}
