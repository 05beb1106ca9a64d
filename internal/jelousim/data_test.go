package jelousim

import (
	"runtime"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestGenerateIsDeterministic(t *testing.T) {
	cfg := testConfig().Data
	a, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(cfg)
	cfg.Seed++
	c, _ := Generate(cfg)
	sameAsC := 0
	for i := range a.Len() {
		ca, cb, cc := a.Conversation(i), b.Conversation(i), c.Conversation(i)
		if ca.ID != cb.ID || !ca.Transition.Equal(cb.Transition) || ca.OperatorNames != cb.OperatorNames {
			t.Fatalf("conversation %d differs between two runs of one seed", i)
		}
		if ca.ID == cc.ID {
			sameAsC++
		}
	}
	if sameAsC > 0 {
		t.Errorf("%d ids shared by two seeds", sameAsC)
	}
}

func TestGenerateDistribution(t *testing.T) {
	cfg := testConfig().Data
	cfg.Count = 20000
	d, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var late, long int
	states, origins, companies := map[jelou.State]int{}, map[string]int{}, map[string]bool{}
	for i := range d.Len() {
		c := d.Conversation(i)
		if c.VisibleAt.Sub(c.Start) >= time.Minute {
			late++
		}
		if c.Transition.Sub(c.Start) >= 10*time.Hour {
			long++
		}
		if c.VisibleAt.Sub(c.Start) > MaxAttendDelay {
			t.Fatalf("conversation %d attended after %v", i, c.VisibleAt.Sub(c.Start))
		}
		states[c.FinalState]++
		origins[c.Origin]++
		companies[c.CompanyID] = true
	}
	// Loose bounds: they catch a broken generator, not a skewed one.
	if r := float64(late) / float64(d.Len()); r < 0.05 || r > 0.2 {
		t.Errorf("late ratio %v, configured 0.1", r)
	}
	if r := float64(long) / float64(d.Len()); r < 0.02 || r > 0.1 {
		t.Errorf("long-lived ratio %v, configured 0.05", r)
	}
	if len(states) != 3 || len(origins) != 5 || len(companies) != cfg.Companies {
		t.Errorf("states %v, origins %v, %d companies", states, origins, len(companies))
	}
}

func TestPermuteIsABijection(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 5, 16, 17, 100, 1000, 4097} {
		seen := make([]bool, n)
		for x := range n {
			y := permute(x, n, 99)
			if y >= n || seen[y] {
				t.Fatalf("n=%d: permute(%d) = %d, out of range or repeated", n, x, y)
			}
			seen[y] = true
		}
	}
}

// millionConfig is a million conversations over day0, at day0 plus 23 hours.
func millionConfig() Config {
	return Config{
		Clock: &manualClock{t: day0.Add(23 * time.Hour)},
		Data:  DataConfig{Seed: 1, Start: day0, End: day0.Add(24 * time.Hour), Count: 1_000_000},
	}
}

// TestMillionConversations builds 1,000,000 conversations and reports the
// heap they take. Figures go to docs/simulator.md: run with -v.
func TestMillionConversations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million conversations")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	sim, err := New(millionConfig())
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1,000,000 conversations: built in %v, heap %.1f MiB (%.1f bytes each)", built.Round(time.Millisecond), float64(heap)/(1<<20), float64(heap)/1e6)
	if heap > 64<<20 {
		t.Errorf("a million conversations take %d bytes of heap, want under 64 MiB", heap)
	}
	start = time.Now()
	n := sim.ServableCount(day0.Add(23 * time.Hour))
	t.Logf("ServableCount over 1,000,000: %d pairs in %v", n, time.Since(start).Round(time.Millisecond))
	if n < 900_000 {
		t.Errorf("only %d pairs servable", n)
	}
	runtime.KeepAlive(sim)
}

func BenchmarkGenerate(b *testing.B) {
	cfg := millionConfig().Data
	for b.Loop() {
		if _, err := Generate(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServePage measures one 100-row page of a window holding a
// million conversations, without HTTP.
func BenchmarkServePage(b *testing.B) {
	sim, err := New(millionConfig())
	if err != nil {
		b.Fatal(err)
	}
	req := request{from: day0.Unix(), to: day0.Add(24 * time.Hour).Unix(), limit: 100, page: 5000}
	w := discard{}
	for b.Loop() {
		sim.serveWindow(w, nil, req, Fault{})
	}
}

func TestGenerateActiveRange(t *testing.T) {
	cfg := testConfig().Data
	cfg.Count = 5000
	cfg.LongLivedRatio = -1
	cfg.ActiveMin, cfg.ActiveMax = 20*time.Second, 10*time.Minute
	d, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var short, long int
	for i := range d.Len() {
		c := d.Conversation(i)
		active := c.Transition.Sub(c.VisibleAt)
		if active < cfg.ActiveMin || active > cfg.ActiveMax {
			t.Fatalf("conversation %d active for %v, want within [%v, %v]", i, active, cfg.ActiveMin, cfg.ActiveMax)
		}
		if active < time.Minute {
			short++
		}
		if active > 9*time.Minute {
			long++
		}
	}
	// Uniform over 580 s: about 7% under a minute, 10% over nine minutes.
	// Loose bounds catch a draw stuck at one end of the range.
	if short < d.Len()/50 || long < d.Len()/50 {
		t.Errorf("%d under a minute, %d over nine minutes of %d: not spread over the range", short, long, d.Len())
	}

	// Long-lived conversations keep their own lifetime.
	cfg.LongLivedRatio = 0.5
	d, err = Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	long = 0
	for i := range d.Len() {
		if c := d.Conversation(i); c.Transition.Sub(c.Start) >= 10*time.Hour {
			long++
		}
	}
	if long == 0 {
		t.Error("no long-lived conversation with an active range and LongLivedRatio 0.5")
	}

	for _, bad := range [][2]time.Duration{{0, time.Minute}, {time.Minute, 30 * time.Second}, {time.Minute, 0}} {
		cfg.ActiveMin, cfg.ActiveMax = bad[0], bad[1]
		if _, err := Generate(cfg); err == nil {
			t.Errorf("active range [%v, %v] accepted", bad[0], bad[1])
		}
	}
}

func TestGenerateAttendRange(t *testing.T) {
	cfg := testConfig().Data
	cfg.Count = 5000
	cfg.AttendMin, cfg.AttendMax = 0, 90*time.Second
	d, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var atOnce, late int
	for i := range d.Len() {
		c := d.Conversation(i)
		delay := c.VisibleAt.Sub(c.Start)
		if delay < cfg.AttendMin || delay > cfg.AttendMax {
			t.Fatalf("conversation %d visible %v after its start, want within [%v, %v]", i, delay, cfg.AttendMin, cfg.AttendMax)
		}
		if delay < 5*time.Second {
			atOnce++
		}
		if delay > 80*time.Second {
			late++
		}
	}
	// Uniform over 91 s: about 5% under 5 s, 11% over 80 s; LateRatio is
	// ignored (no delay of minutes above). Loose bounds catch a stuck draw.
	if atOnce < d.Len()/50 || late < d.Len()/50 {
		t.Errorf("%d under 5s, %d over 80s of %d: not spread over the range", atOnce, late, d.Len())
	}
	for _, bad := range [][2]time.Duration{{time.Second, 0}, {time.Minute, 30 * time.Second}, {-time.Second, time.Minute}, {0, 2 * MaxAttendDelay}} {
		cfg.AttendMin, cfg.AttendMax = bad[0], bad[1]
		if _, err := Generate(cfg); err == nil {
			t.Errorf("attend range [%v, %v] accepted", bad[0], bad[1])
		}
	}
}
