package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestRingSeed(t *testing.T) {
	// Ends uniform over 20s–700s, 4096 of them.
	var orig ring
	for i := range accountRing {
		orig.add(time.Duration(20+i*680/(accountRing-1)) * time.Second)
	}
	tests := []struct {
		name    string
		samples int
		filled  ring // the ring seeded
		want    int  // samples in it after
	}{
		{"empty ring, many samples: accountTrust of them", accountRing, ring{}, accountTrust},
		{"few samples: as many", 100, ring{}, 100},
		{"one sample: nothing to spread", 1, ring{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.filled
			r.seed(orig.percentiles(), tt.samples)
			if r.n != tt.want {
				t.Fatalf("%d samples, want %d", r.n, tt.want)
			}
			if tt.want < 2 {
				return
			}
			gotP99, _ := r.p99()
			wantP99, _ := orig.p99()
			if d := gotP99 - wantP99; d < -7*time.Second || d > 7*time.Second {
				t.Errorf("p99 %v, want %v (within 1%% of the range)", gotP99, wantP99)
			}
			got, want := r.quantiles(), orig.quantiles()
			for i := range got {
				if d := got[i] - want[i]; d < -7*time.Second || d > 7*time.Second {
					t.Errorf("quantile %d: %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
	t.Run("a ring that learned is left alone", func(t *testing.T) {
		var r ring
		r.add(5 * time.Second)
		r.seed(orig.percentiles(), accountRing)
		if r.n != 1 {
			t.Fatalf("%d samples, want the 1 learned", r.n)
		}
	})
}

// learnedSchedule returns a by-loss schedule of busy at now that has
// learned the busy account, read three grains of the warm band, and its
// learner with 2000 end ages (20s–700s) and visibility delays (0–90s).
func learnedSchedule(now time.Time) (*Schedule, *learner) {
	s := byLoss(now, learned)
	l := newLearner(25 * time.Second)
	for i := range 2000 {
		l.visible.add(time.Duration(i%91) * time.Second)
		l.ends.add(time.Duration(20+i%681) * time.Second)
		l.active.add(time.Duration(20+i%600) * time.Second)
	}
	s.account = l.Account
	edge := now.Add(-busy.Lag)
	for i, ago := range []int{300, 310, 600} {
		start := edge.Add(-time.Duration(ago) * time.Second).Truncate(10 * time.Second)
		s.markRead(jelou.Window{Start: start, End: start.Add(10 * time.Second)}, now.Add(-time.Duration(i+1)*time.Minute))
	}
	return s, l
}

func TestSavedAccountRestores(t *testing.T) {
	now := at(10, 0)
	s, l := learnedSchedule(now)
	raw := extraAccount(s.savedAccount(l))
	cp := &checkpoint.Checkpoint{Source: "src", Extra: map[string]json.RawMessage{ExtraAccount: raw}}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fresh := byLoss(now, Account{})
	fresh.density, fresh.rowsPerReq = 0, 0
	fl := newLearner(25 * time.Second)
	fresh.account = fl.Account
	fresh.restoreAccount(cp, fl, now, log)
	if logs.Len() > 0 {
		t.Errorf("restoring a good account logged %q", logs.String())
	}
	if fresh.density != s.density || fresh.rowsPerReq != s.rowsPerReq {
		t.Errorf("density %v, rows per request %v; want %v, %v", fresh.density, fresh.rowsPerReq, s.density, s.rowsPerReq)
	}
	if len(fresh.lastRead) != 3 {
		t.Errorf("%d grains' reads restored, want 3: %v", len(fresh.lastRead), fresh.lastRead)
	}
	for c, at := range s.lastRead {
		if !fresh.lastRead[c].Equal(at.Truncate(time.Second)) {
			t.Errorf("grain %v read %v, want %v", c, fresh.lastRead[c], at)
		}
	}
	got, want := fl.Account(now), l.Account(now)
	if got.EndSamples < accountTrust || got.VisibleSamples < accountTrust || got.ActiveSamples < accountTrust {
		t.Errorf("restored samples %d/%d/%d: the plan would not trust them (want ≥ %d)", got.VisibleSamples, got.EndSamples, got.ActiveSamples, accountTrust)
	}
	for _, q := range []struct {
		name      string
		got, want time.Duration
	}{{"visible", got.VisibleDelay, want.VisibleDelay}, {"end age", got.EndAge, want.EndAge}, {"active", got.ActiveFor, want.ActiveFor}} {
		if d := q.got - q.want; d < -7*time.Second || d > 7*time.Second {
			t.Errorf("%s p99 %v, want %v", q.name, q.got, q.want)
		}
	}
	// The plan made from it is the one made before the restart.
	if a, b := planLoss(busy, fresh.accountAt(now)), planLoss(busy, s.accountAt(now)); a.Hot != b.Hot || a.Warm != b.Warm || a.HotEvery != b.HotEvery {
		t.Errorf("plan after restore: hot %v every %v, warm %v; before: hot %v every %v, warm %v", a.Hot, a.HotEvery, a.Warm, b.Hot, b.HotEvery, b.Warm)
	}
}

func TestSavedAccountOutOfBounds(t *testing.T) {
	now := at(10, 0)
	s, l := learnedSchedule(now)
	good := s.savedAccount(l)
	tests := []struct {
		name    string
		raw     string
		mutate  func(*savedAccount)
		logged  string // "" when nothing is
		density bool   // the density is restored
		reads   int    // grains restored
	}{
		{name: "not JSON", raw: `{"density":`, logged: "unreadable"},
		{name: "negative density", mutate: func(a *savedAccount) { a.Density = -1 }, logged: "density", reads: 3},
		{name: "absurd rows per request", mutate: func(a *savedAccount) { a.RowsPerRequest = 1e9 }, logged: "density", reads: 3},
		{name: "percentiles going down", mutate: func(a *savedAccount) { a.Ends.Percentiles[50] = 0 }, logged: "ends", density: true, reads: 3},
		{name: "percentiles missing", mutate: func(a *savedAccount) { a.Visible.Percentiles = a.Visible.Percentiles[:5] }, logged: "visible", density: true, reads: 3},
		{name: "an age of centuries", mutate: func(a *savedAccount) { a.Active.Percentiles[100] = 1 << 30 }, logged: "active", density: true, reads: 3},
		{name: "too many reads", mutate: func(a *savedAccount) {
			for i := range maxSavedReads {
				a.Reads = append(a.Reads, [2]int64{int64(i), int64(i)})
			}
		}, logged: "reads", density: true},
		{name: "another grain: reads dropped, silently", mutate: func(a *savedAccount) { a.GrainSeconds = 5 }, density: true},
		{name: "a read in the future or before its grain: skipped", mutate: func(a *savedAccount) {
			a.Reads[0][1] = now.Add(time.Hour).Unix()
			a.Reads[1][1] = a.Reads[1][0] - 1
		}, density: true, reads: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			if tt.mutate != nil {
				a := good
				a.Visible.Percentiles = append([]int32(nil), good.Visible.Percentiles...)
				a.Ends.Percentiles = append([]int32(nil), good.Ends.Percentiles...)
				a.Active.Percentiles = append([]int32(nil), good.Active.Percentiles...)
				a.Reads = append([][2]int64(nil), good.Reads...)
				tt.mutate(&a)
				raw = extraAccount(a)
			}
			var logs bytes.Buffer
			fresh := byLoss(now, Account{})
			fresh.density, fresh.rowsPerReq = 0, 0
			fresh.restoreAccount(&checkpoint.Checkpoint{Source: "src", Extra: map[string]json.RawMessage{ExtraAccount: raw}},
				newLearner(time.Second), now, slog.New(slog.NewTextHandler(&logs, nil)))
			if tt.logged == "" && logs.Len() > 0 || tt.logged != "" && !strings.Contains(logs.String(), tt.logged) {
				t.Errorf("logged %q, want a line naming %q", logs.String(), tt.logged)
			}
			if got := fresh.density > 0; got != tt.density {
				t.Errorf("density restored %v, want %v", got, tt.density)
			}
			if len(fresh.lastRead) != tt.reads {
				t.Errorf("%d grains' reads restored, want %d", len(fresh.lastRead), tt.reads)
			}
		})
	}
}

// TestCheckpointCarriesTheAccount saves a by-loss poller's checkpoint
// through a file store and loads it in a new poller: the learned account
// and the grains' reads come back, so a restart does not start from the
// priors.
func TestCheckpointCarriesTheAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint.json")
	cfg := Config{Source: "s", Start: time.Now().Add(-time.Hour), Window: time.Hour, Interval: 10 * time.Second, Lag: 5 * time.Second,
		Settle: 15 * time.Minute, Reread: RereadByLoss, MinActive: 30 * time.Second, Freshness: 10 * time.Second, CheckpointInterval: time.Nanosecond}
	open := func() (*Poller, *checkpoint.FileStore) {
		store, err := checkpoint.NewFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(cfg, noFetch{}, noWrite{}, store)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.load(context.Background()); err != nil {
			t.Fatal(err)
		}
		return p, store
	}
	p, store := open()
	now := time.Now()
	grain := jelou.Window{Start: now.Add(-5 * time.Minute).Truncate(10 * time.Second)}
	grain.End = grain.Start.Add(10 * time.Second)
	p.mu.Lock()
	p.sched.density, p.sched.rowsPerReq = 20, 48
	p.sched.markRead(grain, now.Add(-time.Minute))
	p.mu.Unlock()
	for i := range 2000 {
		p.learn.ends.add(time.Duration(20+i%681) * time.Second)
	}
	if err := p.commit.save(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	store.Close()

	q, store := open()
	defer store.Close()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sched.density != 20 || q.sched.rowsPerReq != 48 {
		t.Errorf("density %v, rows per request %v after the restart; want 20, 48", q.sched.density, q.sched.rowsPerReq)
	}
	if got, want := q.sched.lastRead[grain.Start.Unix()], now.Add(-time.Minute).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("grain %v last read %v after the restart, want %v", grain.Start, got, want)
	}
	if a := q.learn.Account(now); a.EndSamples < accountTrust || a.EndAge < 680*time.Second || a.EndAge > 700*time.Second {
		t.Errorf("end age p99 %v over %d samples after the restart, want about 693s over at least %d", a.EndAge, a.EndSamples, accountTrust)
	}
}

// TestLearnerEndsAfterARestart: a conversation published active before a
// restart (not seen active by this process) is timed from its grain's last
// read before the restart when the checkpoint said it, not at all
// otherwise; an end a revisit finds is counted, never timed.
func TestLearnerEndsAfterARestart(t *testing.T) {
	start := at(10, 0)
	tests := []struct {
		name    string
		lane    Lane
		reads   map[int64]int64
		endAges []time.Duration
	}{
		{"the grain's read before the restart: halfway from it", LaneSettle,
			map[int64]int64{start.Unix(): start.Add(4 * time.Minute).Unix()}, []time.Duration{5*time.Minute - 3*time.Second}},
		{"no read known: not timed (now only bounds it)", LaneSettle, nil, nil},
		{"another grain's read: not timed", LaneSettle, map[int64]int64{start.Add(10 * time.Second).Unix(): start.Unix()}, nil},
		{"found by a revisit: not timed", LaneRevisit, map[int64]int64{start.Unix(): start.Add(4 * time.Minute).Unix()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLearner(25 * time.Second)
			l.restoreReads(10, tt.reads)
			l.see(tt.lane, jelou.Conversation{ID: "c", State: jelou.StateClosed, StartAt: start.Add(3 * time.Second)}, true, jelou.StateActive, start.Add(6*time.Minute))
			var got []time.Duration
			for i := range min(l.ends.n, accountRing) {
				got = append(got, time.Duration(l.ends.s[i])*time.Second)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.endAges) {
				t.Errorf("end ages %v, want %v", got, tt.endAges)
			}
		})
	}
}

// TestSavedReadsAreReadsDone: a read planned (the plan counts it as made)
// is saved only once it is done, so that a restart after a kill does not
// take a read that never happened for one.
func TestSavedReadsAreReadsDone(t *testing.T) {
	now := at(10, 0).Add(busy.Lag)
	s := byLoss(now, learned)
	var planned []Query
	for {
		q, ok, _ := s.Settle(now)
		if !ok {
			break
		}
		planned = append(planned, q)
	}
	if len(s.lastRead) == 0 {
		t.Fatal("the first tick planned no grain")
	}
	if got := s.savedAccount(nil).Reads; len(got) != 0 {
		t.Fatalf("%d grains saved before any read was done, want none", len(got))
	}
	s.Done(planned[0])
	got := s.savedAccount(nil).Reads
	if len(got) == 0 {
		t.Fatalf("no grain saved after %v was read", planned[0].Window)
	}
	for _, r := range got {
		c := time.Unix(r[0], 0)
		if c.Before(planned[0].Window.Start) || c.Add(10*time.Second).After(planned[0].Window.End) || r[1] != now.Unix() {
			t.Errorf("saved grain %v read %v: not of the read done, %v at %v", c, time.Unix(r[1], 0), planned[0].Window, now)
		}
	}
}
