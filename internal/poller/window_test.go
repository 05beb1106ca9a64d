package poller

import (
	"github.com/jelou-producer/jelou-producer/internal/checkpoint"

	"fmt"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func win(a, b time.Time) jelou.Window { return jelou.Window{Start: a, End: b} }

func at(h, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }

func TestSplitEvenCoversWithoutGaps(t *testing.T) {
	w := jelou.Window{Start: at(0, 0), End: at(2, 10)}
	parts := splitEven(w, time.Hour)
	if len(parts) != 3 || !parts[0].Start.Equal(w.Start) || !parts[2].End.Equal(w.End) {
		t.Fatalf("splitEven = %v", parts)
	}
	for i := 1; i < len(parts); i++ {
		if !parts[i].Start.Equal(parts[i-1].End) {
			t.Fatalf("gap between %v and %v", parts[i-1], parts[i])
		}
	}
	if got := splitEven(jelou.Window{Start: at(0, 0), End: at(0, 30)}, time.Hour); len(got) != 1 {
		t.Fatalf("short window split into %v", got)
	}
}

func TestHalve(t *testing.T) {
	tests := []struct {
		name string
		w    jelou.Window
		min  time.Duration
		ok   bool
		mid  time.Time
	}{
		{"hour", jelou.Window{Start: at(0, 0), End: at(1, 0)}, time.Minute, true, at(0, 30)},
		{"odd seconds round down", jelou.Window{Start: at(0, 0), End: at(0, 0).Add(3 * time.Second)}, time.Second, true, at(0, 0).Add(time.Second)},
		{"halves below min", jelou.Window{Start: at(0, 0), End: at(0, 1)}, time.Minute, false, time.Time{}},
		{"one second", jelou.Window{Start: at(0, 0), End: at(0, 0).Add(time.Second)}, 0, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, ok := halve(tt.w, tt.min)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if !a.Start.Equal(tt.w.Start) || !b.End.Equal(tt.w.End) || !a.End.Equal(tt.mid) || !b.Start.Equal(tt.mid) {
				t.Fatalf("halve(%v) = %v, %v; want split at %v", tt.w, a, b, tt.mid)
			}
		})
	}
}

func TestRevisitEvery(t *testing.T) {
	tests := []struct {
		age, want time.Duration
	}{
		{0, 5 * time.Minute},
		{30 * time.Minute, 5 * time.Minute},
		{2 * time.Hour, 15 * time.Minute},
		{10 * time.Hour, time.Hour},
		{47 * time.Hour, time.Hour},
	}
	for _, tt := range tests {
		if got := revisitEvery(tt.age, 5*time.Minute); got != tt.want {
			t.Errorf("revisitEvery(%v) = %v, want %v", tt.age, got, tt.want)
		}
	}
}

func TestIndexTime(t *testing.T) {
	w := jelou.Window{Start: at(10, 0), End: at(11, 0)}
	tests := []struct {
		name  string
		start time.Time
		want  time.Time
	}{
		{"inside", at(10, 5), at(10, 5)},
		{"missing", time.Time{}, w.Start},
		{"absurd past", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), w.Start},
		{"absurd future", time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), w.Start},
		{"a little outside (server zone skew)", at(9, 0), at(9, 0)},
	}
	for _, tt := range tests {
		if got := indexTime(tt.start, w); !got.Equal(tt.want) {
			t.Errorf("%s: indexTime = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPiecesNewestFirstDoubling(t *testing.T) {
	tests := []struct {
		name    string
		density float64 // rows per second of start time
		q       Query
		want    []jelou.Window
	}{
		{"history: Window-long pieces, oldest first", 0, Query{Lane: LaneHistory, Window: win(at(0, 0), at(2, 30))},
			[]jelou.Window{win(at(0, 0), at(1, 0)), win(at(1, 0), at(2, 0)), win(at(2, 0), at(2, 30))}},
		{"live: newest first, doubling back", 0, Query{Lane: LaneLive, Window: win(at(9, 45), at(10, 0))},
			[]jelou.Window{win(at(9, 59), at(10, 0)), win(at(9, 57), at(9, 59)), win(at(9, 53), at(9, 57)), win(at(9, 45), at(9, 53))}},
		{"settle: a short query is one piece", 0, Query{Lane: LaneSettle, Window: win(at(9, 58), at(9, 59))},
			[]jelou.Window{win(at(9, 58), at(9, 59))}},
		{"sparse start times: the first piece holds a page (100 rows at 0.05/s: 2000 s)", 0.05, Query{Lane: LaneSettle, Window: win(at(8, 45), at(10, 0))},
			[]jelou.Window{win(at(10, 0).Add(-2000*time.Second), at(10, 0)), win(at(8, 45), at(10, 0).Add(-2000*time.Second))}},
		{"pieces never exceed a window", 0.01, Query{Lane: LaneLive, Window: win(at(7, 0), at(10, 0))},
			[]jelou.Window{win(at(9, 0), at(10, 0)), win(at(8, 0), at(9, 0)), win(at(7, 0), at(8, 0))}},
		// Empty reads shrink the learned density towards zero: a page's
		// worth of start times was then centuries, doubled into an
		// overflow (a piece starting in 2228 and 1.78 million pieces,
		// whose fetch failed "end is before start" forever).
		{"a density near zero: window-long pieces, no overflow", 1e-10, Query{Lane: LaneSettle, Window: win(at(8, 30), at(10, 0))},
			[]jelou.Window{win(at(9, 0), at(10, 0)), win(at(8, 30), at(9, 0))}},
		{"a density that gives 200 years a page", 100 / (200 * 365.25 * 86400), Query{Lane: LaneSettle, Window: win(at(8, 30), at(10, 0))},
			[]jelou.Window{win(at(9, 0), at(10, 0)), win(at(8, 30), at(9, 0))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(scheduleConfig{Window: time.Hour, Interval: 5 * time.Second, PageSize: 100}, checkpoint.Coverage{})
			s.density = tt.density
			if got := s.Pieces(tt.q); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Pieces = %v\nwant     %v", got, tt.want)
			}
		})
	}
}
