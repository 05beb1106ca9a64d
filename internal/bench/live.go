package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Live edge settings.
const (
	liveRate     = 50 // new conversations per second
	liveInterval = 5 * time.Second
	liveLag      = 2 * time.Second
	// liveBusyAfter is how long after its last API response a poll still
	// counts as busy (dedupe, publish, checkpoint save).
	liveBusyAfter = time.Second
)

// live is scenario 3: delay from "the API would first serve this
// (conversation, state)" to "a consumer of the topic received it".
func (h *Harness) live(ctx context.Context) error {
	const sc = "3 live"
	run := pick(h, 3*time.Minute, 30*time.Second)
	history := pick(h, 10*time.Minute, 3*time.Minute)
	warm := pick(h, 20*time.Second, 8*time.Second)
	drain := liveInterval + liveLag + 10*time.Second
	t0 := time.Now().UTC().Truncate(time.Second)
	span := history + run + drain + time.Minute
	sim, err := StartSim(jelousim.Config{Data: jelousim.DataConfig{
		Seed: 3, Start: t0.Add(-history), End: t0.Add(span - history), Count: int(span.Seconds()) * liveRate,
	}})
	if err != nil {
		return err
	}
	defer sim.Close()
	out, closeOutlet, err := h.newOutlet(ctx, "live")
	if err != nil {
		return err
	}
	defer closeOutlet()
	topic, cons, dir := out.topic, out.cons, out.dir
	env := h.producerEnv(sim, topic, filepath.Join(dir, "checkpoint.json"),
		"POLL_START_AT="+t0.Add(-history).Format(time.RFC3339),
		"POLL_INTERVAL="+liveInterval.String(), "POLL_LAG="+liveLag.String(),
		"JELOU_RATE_LIMIT=200", "JELOU_RATE_BURST=10")
	h.logf("jelou-producer run for %s (+%s warm-up, %s drain), %d new conversations/s, %s of history", run, warm, drain, liveRate, history)
	p, err := Start("jelou-producer run", h.opts.ProducerBin, []string{"run"}, env, nil)
	if err != nil {
		return err
	}
	stopSampling := make(chan struct{})
	samples := p.SampleCPU(50*time.Millisecond, stopSampling)
	from := p.Started().Add(warm)
	to := from.Add(run)
	select {
	case <-time.After(time.Until(to.Add(drain))):
	case <-p.Done():
	case <-ctx.Done():
	}
	close(stopSampling)
	cpu := <-samples
	u, err := p.Stop(30 * time.Second)
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	got, dups := cons.Stop()

	// Every pair first servable inside the measured period.
	var all, fresh, changes []time.Duration
	missing := 0
	ds := sim.Dataset()
	for sp := range sim.ServableSeq(to) {
		if sp.FirstServableAt.Before(from) || sp.FirstServableAt.After(to) {
			continue
		}
		at, ok := got[pairKey(sp.ID, sp.State)]
		if !ok {
			missing++
			continue
		}
		d := at.Sub(sp.FirstServableAt)
		all = append(all, d)
		i, _ := ds.Lookup(sp.ID)
		if sp.FirstServableAt.Equal(ds.Conversation(i).VisibleAt) {
			fresh = append(fresh, d)
		} else {
			changes = append(changes, d)
		}
	}
	target := liveInterval + liveLag + time.Second
	sAll := Summarize(all)
	h.table.Add(sc, "setup", fmt.Sprintf("%d new conversations/s for %s after %s warm-up; POLL_INTERVAL=%s POLL_LAG=%s, POLL_SETTLE 15m (default)",
		liveRate, run, warm, liveInterval, liveLag))
	h.table.Target(sc, "delay servable → consumed, all", sAll.String(), "p99 ≤ "+dur(target), sAll.N > 0 && sAll.P99 <= target && missing == 0)
	h.table.Add(sc, "  new conversations", Summarize(fresh).String())
	h.table.Add(sc, "  state changes", Summarize(changes).String())
	h.table.Target(sc, "pairs not delivered", fmt.Sprint(missing), "0", missing == 0)
	h.table.Add(sc, "duplicates consumed", fmt.Sprint(dups))

	spans := sim.Spans()
	polls := pollDurations(spans, from, to)
	h.table.Add(sc, "poll duration (first request → last response)", Summarize(polls).String())
	idle, idleWall := idleCPU(cpu, spans, from, to, liveBusyAfter)
	total := cpuShare(cpu, from, to)
	h.table.Target(sc, "idle CPU between polls", fmt.Sprintf("%.2f%% of a core (over %s)", idle*100, dur(idleWall)), "< 1%", idleWall > 0 && idle < 0.01)
	h.table.Add(sc, "CPU overall, peak RSS", fmt.Sprintf("%.1f%% of a core, %s", total*100, mib(u.MaxRSS)))
	return nil
}

func pairKey(id string, st jelou.State) string { return id + "\x00" + string(st) }

// tailer consumes a topic from its start and records when each
// (conversation, state) first arrived.
type tailer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	got    map[string]time.Time
	first  map[string]arrival
	dups   int
}

// arrival is what the first record of one (conversation, state) said: when
// the producer observed the row (the event's time) and in which query
// window.
type arrival struct {
	Observed time.Time
	Window   string
}

func newTailer(brokers []string, topic string) (*tailer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &tailer{cl: cl, cancel: cancel, got: make(map[string]time.Time), first: make(map[string]arrival)}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				hs := make([]event.Header, len(r.Headers))
				for i, h := range r.Headers {
					hs[i] = event.Header{Key: h.Key, Value: h.Value}
				}
				ev, err := event.Decode(r.Value, hs)
				if err != nil {
					return
				}
				k := pairKey(ev.Subject, ev.Data.State)
				t.mu.Lock()
				if _, ok := t.got[k]; ok {
					t.dups++
				} else {
					t.got[k] = now
					t.first[k] = arrival{Observed: ev.Time, Window: ev.Data.Window.String()}
				}
				t.mu.Unlock()
			})
		}
	}()
	return t, nil
}

// Stop ends consumption and returns the first arrival of each pair and the
// number of repeated pairs.
func (t *tailer) Stop() (map[string]time.Time, int) {
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.got, t.dups
}

// Arrivals returns, once Stop returned, the event time and query window of
// each pair's first record.
func (t *tailer) Arrivals() map[string]arrival {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first
}

// Close releases the client.
func (t *tailer) Close() { t.cancel(); t.wg.Wait(); t.cl.Close() }

// pollDurations groups the requests that started in [from, to] into polls
// (requests less than a second apart) and returns each poll's duration.
func pollDurations(spans []Span, from, to time.Time) []time.Duration {
	var out []time.Duration
	var start, end time.Time
	for _, s := range spans {
		if s.Start.Before(from) || s.Start.After(to) {
			continue
		}
		if !end.IsZero() && s.Start.Sub(end) > time.Second {
			out = append(out, end.Sub(start))
			start = time.Time{}
		}
		if start.IsZero() {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	if !start.IsZero() {
		out = append(out, end.Sub(start))
	}
	return out
}

// idleCPU returns the share of a core the process used between polls inside
// [from, to]: over every sampling interval that lies wholly outside every
// request (extended by after, to cover the publish and checkpoint that follow
// the last response), CPU used ÷ wall time. It also returns that wall time.
func idleCPU(samples []CPUSample, spans []Span, from, to time.Time, after time.Duration) (float64, time.Duration) {
	type iv struct{ a, b time.Time }
	busy := make([]iv, 0, len(spans))
	for _, s := range spans {
		busy = append(busy, iv{s.Start.Add(-50 * time.Millisecond), s.End.Add(after)})
	}
	slices.SortFunc(busy, func(x, y iv) int { return x.a.Compare(y.a) })
	// Merge into disjoint intervals, so that their ends are sorted too.
	var merged []iv
	for _, x := range busy {
		if n := len(merged); n > 0 && !x.a.After(merged[n-1].b) {
			if x.b.After(merged[n-1].b) {
				merged[n-1].b = x.b
			}
			continue
		}
		merged = append(merged, x)
	}
	overlaps := func(a, b time.Time) bool {
		// The first interval ending after a overlaps [a, b] if it starts before b.
		i, _ := slices.BinarySearchFunc(merged, a, func(x iv, t time.Time) int {
			if x.b.After(t) {
				return 1
			}
			return -1
		})
		return i < len(merged) && merged[i].a.Before(b)
	}
	var cpu, wall time.Duration
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if a.At.Before(from) || b.At.After(to) || overlaps(a.At, b.At) {
			continue
		}
		cpu += b.CPU - a.CPU
		wall += b.At.Sub(a.At)
	}
	if wall == 0 {
		return 0, 0
	}
	return cpu.Seconds() / wall.Seconds(), wall
}

// cpuShare returns the share of a core used over [from, to].
func cpuShare(samples []CPUSample, from, to time.Time) float64 {
	var first, last *CPUSample
	for i := range samples {
		s := &samples[i]
		if s.At.Before(from) || s.At.After(to) {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
	}
	if first == nil || last == first {
		return 0
	}
	return (last.CPU - first.CPU).Seconds() / last.At.Sub(first.At).Seconds()
}
