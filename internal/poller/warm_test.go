package poller

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestEndShare(t *testing.T) {
	var linear, tied [endQuantiles]time.Duration
	for i := range linear {
		linear[i] = 100*time.Second + time.Duration(i)*25*time.Second // 100s … 600s
		tied[i] = max(linear[i], 200*time.Second)                     // the first five at 200s
	}
	prior := Account{EndAge: 600 * time.Second, EndSamples: endTrust - 1, EndAges: linear}
	known := Account{EndAge: 595 * time.Second, EndSamples: endTrust, EndAges: linear}
	tests := []struct {
		name   string
		a      Account
		x      time.Duration
		want   float64
		hedged bool // hedgedShare, not endShare
	}{
		{"few samples: uniform up to the end age", prior, 150 * time.Second, 0.25, false},
		{"few samples: before the start", prior, -time.Second, 0, false},
		{"few samples: past the end age", prior, 900 * time.Second, 1, false},
		{"no quantiles: uniform", Account{EndAge: 400 * time.Second, EndSamples: accountRing}, 100 * time.Second, 0.25, false},
		{"nothing known", Account{}, time.Second, 1, false},
		{"learned: below the least", known, 99 * time.Second, 0, false},
		{"learned: at the least", known, 100 * time.Second, 0, false},
		{"learned: the median", known, 350 * time.Second, 0.5, false},
		{"learned: between quantiles", known, 112500 * time.Millisecond, 0.025, false},
		{"learned: at the most", known, 600 * time.Second, 1, false},
		{"learned: ties count up to the last of them", Account{EndSamples: accountRing, EndAges: tied}, 200 * time.Second, 0.2, false},
		// hedgedShare: half the learned share, half even over [0, 600s].
		{"hedged: below the least, the even half only", known, 60 * time.Second, 0.05, true},
		{"hedged: the median", known, 350 * time.Second, 0.25 + 0.5*350.0/600, true},
		{"hedged: at the most", known, 600 * time.Second, 1, true},
		{"hedged: past the most", known, 900 * time.Second, 1, true},
		{"hedged: the prior, uniform either way", Account{EndAge: 600 * time.Second}, 150 * time.Second, 0.25, true},
		{"hedged: nothing known", Account{}, time.Second, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, name := endShare, "endShare"
			if tt.hedged {
				f, name = hedgedShare, "hedgedShare"
			}
			if got := f(tt.a, tt.x); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("%s(%v) = %v, want %v", name, tt.x, got, tt.want)
			}
		})
	}
}

func TestPickWarm(t *testing.T) {
	// Ends uniform over 600s of age (the prior); 10-s grains of start
	// times 10:00:00–10:00:40, read at 10:09:00 (ages 8m20s–9m).
	a := Account{EndAge: 600 * time.Second}
	now := at(10, 9)
	sec := func(s int) time.Time { return at(10, 0).Add(time.Duration(s) * time.Second) }
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	cells := func(last ...time.Time) []warmCell {
		var c []warmCell
		for i, l := range last {
			c = append(c, warmCell{Start: sec(10 * i), Last: l})
		}
		return c
	}
	inf := math.Inf(1)
	tests := []struct {
		name      string
		cells     []warmCell
		chunk     time.Duration
		allowance float64
		from, to  time.Time
		want      []jelou.Window
	}{
		{"all of it fits: one run", cells(ago(60), ago(60), ago(60)), time.Minute, inf, sec(0), sec(30),
			[]jelou.Window{win(sec(0), sec(30))}},
		{"the stalest first: 2 grains of 4 requests and a run's last page", cells(ago(100), ago(100), ago(20), ago(20)), time.Minute, 9, sec(0), sec(40),
			[]jelou.Window{win(sec(0), sec(20))}},
		{"a third grain does not fit", cells(ago(100), ago(100), ago(90), ago(20)), time.Minute, 12, sec(0), sec(40),
			[]jelou.Window{win(sec(0), sec(20))}},
		{"read within POLL_FRESHNESS: not again, whatever the budget", cells(ago(4), ago(60)), time.Minute, inf, sec(0), sec(20),
			[]jelou.Window{win(sec(10), sec(20))}},
		{"nothing ends past the end age (8m here): not read", cells(ago(40)), time.Minute, inf, sec(0), sec(10), nil},
		{"runs cut at the chunk, the most valuable first", cells(ago(60), ago(60), ago(90), ago(90)), 20 * time.Second, inf, sec(0), sec(40),
			[]jelou.Window{win(sec(20), sec(40)), win(sec(0), sec(20))}},
		{"never read: valued from its start, the oldest first", cells(time.Time{}, time.Time{}), time.Minute, 5, sec(0), sec(20),
			[]jelou.Window{win(sec(0), sec(10))}},
		{"clipped to the band", cells(ago(60), ago(60)), time.Minute, inf, sec(5), sec(15),
			[]jelou.Window{win(sec(5), sec(15))}},
		{"no allowance: nothing", cells(ago(60)), time.Minute, 0, sec(0), sec(10), nil},
		// Ends spread evenly and the same last read: worth the same; the
		// oldest leaves the band first (and the first ends learned are
		// not all young ones).
		{"equal values: the oldest first", cells(ago(60), ago(60), ago(60)), time.Minute, 5, sec(0), sec(30),
			[]jelou.Window{win(sec(0), sec(10))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aa := a
			if tt.name == "nothing ends past the end age (8m here): not read" {
				aa.EndAge = 8 * time.Minute // last read at ages 8m10s–8m20s
			}
			got := pickWarm(aa, tt.cells, 10*time.Second, 5*time.Second, tt.chunk, 4, tt.allowance, tt.from, tt.to, now)
			if !slices.Equal(got, tt.want) {
				t.Errorf("picked %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWarmValue(t *testing.T) {
	// Ends uniform over 600s of age: a start time last read at age L and
	// read again at age N finds (N−L)/600 of its conversations ended, each
	// having waited on average (N−L)/2: (N−L)²/1200 share-seconds.
	a := Account{EndAge: 600 * time.Second}
	now := at(10, 10)
	grain := 10 * time.Second
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	tests := []struct {
		name string
		c    warmCell
		want float64
	}{
		{"read 60s ago", warmCell{Start: ago(160), Last: ago(60)}, 3},
		{"read 120s ago: four times as much", warmCell{Start: ago(260), Last: ago(120)}, 12},
		{"read at ages past the end age: nothing", warmCell{Start: ago(700), Last: ago(60)}, 0},
		// Oldest start time: ends from age 590s to 600s, then 10/600 of
		// them waiting 10s more; middle: 585s–600s, 5s more; youngest:
		// 580s–600s.
		{"ages cross the end age: nothing ends past it, what ended keeps waiting", warmCell{Start: ago(610), Last: ago(20)},
			(100.0/1200 + 100.0/600 + 225.0/1200 + 75.0/600 + 400.0/1200) / 3},
		{"never read: from its start", warmCell{Start: ago(100)}, (100.0*100 + 95*95 + 90*90) / 1200 / 3},
		{"read just now", warmCell{Start: ago(160), Last: now}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := warmValue(a, tt.c, grain, now); math.Abs(got-tt.want) > 1e-6 {
				t.Errorf("warmValue = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPickWarmReadsTheTail: the learned ends crowd young (95 % by 290s, the
// oldest at 600s); a grain of the tail unread for 150s is worth more than a
// busy grain read 40s ago, hedged (unhedged, 1.8 against 4 share-seconds:
// the tail's 5 % would leave it to wait, and its ends unlearned).
func TestPickWarmReadsTheTail(t *testing.T) {
	var q [endQuantiles]time.Duration
	for i := range q {
		q[i] = 100*time.Second + time.Duration(i)*10*time.Second // 100s … 290s
	}
	q[endQuantiles-1] = 600 * time.Second
	a := Account{EndAge: 590 * time.Second, EndSamples: accountRing, EndAges: q}
	now := at(10, 10)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	cells := []warmCell{
		{Start: ago(560), Last: ago(150)}, // the tail: ages 410s–560s unread
		{Start: ago(220), Last: ago(40)},  // busy: ages 180s–220s unread
	}
	got := pickWarm(a, cells, 10*time.Second, 5*time.Second, time.Minute, 4, 5, ago(560), ago(210), now)
	if want := []jelou.Window{win(ago(560), ago(550))}; !slices.Equal(got, want) {
		t.Errorf("picked %v, want the tail's grain %v", got, want)
	}
}

func TestEndReach(t *testing.T) {
	withMost := func(p99, most time.Duration, samples int) Account {
		a := Account{EndAge: p99, EndSamples: samples}
		a.EndAges[len(a.EndAges)-1] = most
		return a
	}
	tests := []struct {
		name string
		a    Account
		want time.Duration
	}{
		{"too few ends: the end age (the prior)", withMost(600*time.Second, 900*time.Second, endTrust-1), 600 * time.Second},
		{"the oldest end, close to the percentile", withMost(600*time.Second, 630*time.Second, endTrust), 630 * time.Second},
		{"the oldest end overshooting: a tenth past the percentile", withMost(600*time.Second, 780*time.Second, endTrust), 660 * time.Second},
		{"never short of the percentile", withMost(600*time.Second, 0, accountRing), 600 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endReach(tt.a); got != tt.want {
				t.Errorf("endReach = %v, want %v", got, tt.want)
			}
		})
	}
}
