package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/internal/telemetry"
)

// Replica scenarios: several `jelou-producer run` processes with the Kafka
// checkpoint backend join one consumer group (package ownership) and each
// source is polled by one of them. Every test here uses short group
// timings, so that a lost member is noticed in seconds.
const (
	groupSession   = 6 * time.Second        // GROUP_SESSION_TIMEOUT (the broker's usual minimum)
	groupHeartbeat = 500 * time.Millisecond // GROUP_HEARTBEAT_INTERVAL
	replicaSpeed   = 300                    // simulated seconds per wall second
	pollInterval   = time.Minute            // POLL_INTERVAL (newProducer's), simulated
	shutdownLimit  = 10 * time.Second       // SHUTDOWN_TIMEOUT (newProducer's)
	defaultSource  = "default"              // the unnamed source's id in the group
)

// replica is one member of a group of producers sharing a configuration:
// its own HTTP_ADDR and log directory, everything else equal.
type replica struct {
	*producer
	name  string
	ended map[*proc]time.Time // lives killed by the test, and when
}

// newReplicas configures n replicas (A, B, …) against s and b with the
// Kafka checkpoint backend, the short group timings (newProducer gives
// them a group id unique to the test), extra on top; each logs under
// dir/<name>.
func newReplicas(t *testing.T, dir string, s *sim, b *broker, n int, extra map[string]string) []*replica {
	t.Helper()
	env := map[string]string{
		"CHECKPOINT_BACKEND":       "kafka",
		"GROUP_SESSION_TIMEOUT":    groupSession.String(),
		"GROUP_HEARTBEAT_INTERVAL": groupHeartbeat.String(),
	}
	maps.Copy(env, extra)
	var out []*replica
	for i := range n {
		name := string(rune('A' + i))
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		p := newProducer(t, d, s, b, env)
		if i > 0 { // the same topics: newProducer names them afresh
			for k, v := range out[0].env {
				if k != "HTTP_ADDR" && k != "CHECKPOINT_PATH" {
					p.env[k] = v
				}
			}
		}
		out = append(out, &replica{producer: p, name: name, ended: map[*proc]time.Time{}})
	}
	return out
}

// cur is the replica's latest life.
func (r *replica) cur() *proc { return r.lives[len(r.lives)-1] }

// kill sends SIGKILL to the current life and notes when.
func (r *replica) kill() time.Time {
	pr := r.cur()
	at := time.Now()
	r.ended[pr] = at
	pr.kill()
	return at
}

// groupView is the "ownership" object of /readyz.
type groupView struct{ telemetry.Ownership }

func (v *groupView) String() string {
	if v == nil {
		return "no ownership"
	}
	return fmt.Sprintf("generation %d owns %v", v.Generation, v.Owned)
}

// view reads the replica's /readyz ownership.
func (r *replica) view() (*groupView, error) {
	code, body := r.readyz()
	if code == 0 {
		return nil, errors.New(body)
	}
	var rep struct {
		Ownership *groupView `json:"ownership"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		return nil, fmt.Errorf("/readyz %d: %v: %s", code, err, body)
	}
	if rep.Ownership == nil {
		return nil, fmt.Errorf("/readyz %d has no ownership: %s", code, body)
	}
	return rep.Ownership, nil
}

// owns reports whether the replica's /readyz lists src as owned.
func (r *replica) owns(src string) bool {
	v, err := r.view()
	return err == nil && slices.Contains(v.Owned, src)
}

// replicaMetrics is what a replica's /metrics says about the group and
// each source (by source id).
type replicaMetrics struct {
	gen   int64
	owned map[string]float64 // source_owned
	lag   map[string]float64 // checkpoint_lag_seconds
	live  map[string]float64 // lane_backlog_seconds{lane="live"}
}

// metricsView reads jelou_producer_group_generation and, per source,
// source_owned, checkpoint_lag_seconds and the live lane's backlog from the
// replica's /metrics.
func (r *replica) metricsView() (*replicaMetrics, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + r.env["HTTP_ADDR"] + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	m := &replicaMetrics{gen: -1, owned: map[string]float64{}, lag: map[string]float64{}, live: map[string]float64{}}
	label := func(series, name string) string {
		_, rest, _ := strings.Cut(series, name+`="`)
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(series, "{")
		switch name {
		case "jelou_producer_group_generation":
			m.gen = int64(v)
		case "jelou_producer_source_owned":
			m.owned[label(series, "source")] = v
		case "jelou_producer_checkpoint_lag_seconds":
			m.lag[label(series, "source")] = v
		case "jelou_producer_lane_backlog_seconds":
			if label(series, "lane") == "live" {
				m.live[label(series, "source")] = v
			}
		}
	}
	return m, nil
}

// waitOwns waits until the replica's /readyz lists src as owned and
// returns how long that took.
func waitOwns(t *testing.T, r *replica, src string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !r.owns(src) {
		if !r.cur().running() {
			t.Fatalf("%s exited (code %d) before owning %s:\n%s", r.name, r.cur().exitCode(), src, tail(r.cur().log, 20))
		}
		if time.Since(start) > limit {
			v, err := r.view()
			t.Fatalf("%s does not own %s %s after the fault: %v %v", r.name, src, limit, v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// stablePoint is a generation that every live replica reports.
type stablePoint struct {
	gen   int64
	owner map[string]string   // source → replica
	owned map[string][]string // replica → sources
	at    time.Time
}

func (sp stablePoint) String() string {
	names := slices.Sorted(maps.Keys(sp.owned))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s:%v", n, sp.owned[n])
	}
	return fmt.Sprintf("generation %d {%s}", sp.gen, strings.Join(parts, " "))
}

// waitStable waits until every replica of reps reports one generation
// above after (the rebalance settled), then checks that every source of
// sources has exactly one owner among them, none owns anything else, and
// their /metrics agree with their /readyz.
func waitStable(t *testing.T, reps []*replica, sources []string, after int64, limit time.Duration) stablePoint {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		views := make([]*groupView, len(reps))
		var state []string
		agree, gen := true, int64(-1)
		for i, r := range reps {
			if !r.cur().running() {
				t.Fatalf("%s exited (code %d):\n%s", r.name, r.cur().exitCode(), tail(r.cur().log, 20))
			}
			v, err := r.view()
			if err != nil {
				state = append(state, fmt.Sprintf("%s: %v", r.name, err))
				agree = false
				continue
			}
			views[i] = v
			state = append(state, fmt.Sprintf("%s: %s", r.name, v))
			if gen < 0 {
				gen = v.Generation
			}
			if v.Generation <= after || v.Generation != gen {
				agree = false
			}
		}
		if agree {
			sp := stablePoint{gen: gen, owner: map[string]string{}, owned: map[string][]string{}, at: time.Now()}
			holders := map[string][]string{}
			for i, v := range views {
				sp.owned[reps[i].name] = v.Owned
				for _, s := range v.Owned {
					holders[s] = append(holders[s], reps[i].name)
				}
			}
			for _, s := range sources {
				if len(holders[s]) != 1 {
					t.Errorf("%s: source %s is owned by %v, want exactly one of the live replicas (%s)", sp, s, holders[s], strings.Join(state, "; "))
					continue
				}
				sp.owner[s] = holders[s][0]
			}
			for s, h := range holders {
				if !slices.Contains(sources, s) {
					t.Errorf("%s: %v own %q, which is not a configured source", sp, h, s)
				}
			}
			checkOwnedMetrics(t, reps, sp, sources)
			return sp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no generation after %d that every replica reports within %s: %s", after, limit, strings.Join(state, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkOwnedMetrics compares each replica's source_owned and
// group_generation series with what its /readyz said at sp, and checks
// that a source the replica does not own shows no checkpoint lag and no
// live backlog there (a source it handed back stops being described once
// its poller has stopped, which is before the group moves on). A replica
// that moved to another generation meanwhile is skipped.
func checkOwnedMetrics(t *testing.T, reps []*replica, sp stablePoint, sources []string) {
	t.Helper()
	for _, r := range reps {
		m, err := r.metricsView()
		if err != nil {
			t.Errorf("%s /metrics: %v", r.name, err)
			continue
		}
		if v, err := r.view(); err != nil || v.Generation != sp.gen || m.gen != sp.gen {
			t.Logf("%s moved past %s while its metrics were read (metrics generation %d); not compared", r.name, sp, m.gen)
			continue
		}
		for _, s := range sources {
			want := 0.0
			if slices.Contains(sp.owned[r.name], s) {
				want = 1
			}
			if got, ok := m.owned[s]; !ok || got != want {
				t.Errorf("%s at %s: jelou_producer_source_owned{source=%q} = %v (present %v), /readyz says %v", r.name, sp, s, got, ok, want)
			}
			if want == 1 {
				continue
			}
			for name, vals := range map[string]map[string]float64{"checkpoint_lag_seconds": m.lag, `lane_backlog_seconds{lane="live"}`: m.live} {
				if got, ok := vals[s]; !ok || got != 0 {
					t.Errorf("%s at %s: %s{source=%q} = %v (present %v) on a replica that does not own it, want 0", r.name, sp, name, s, got, ok)
				}
			}
		}
	}
}

// liveSinceTakeOn returns the generation of the life's latest lease of src
// and how many live windows it completed since ("window done" lines carry
// the source id the group uses).
func liveSinceTakeOn(pr *proc, src string) (gen int64, live int) {
	for _, l := range logs(pr) {
		switch {
		case l.Msg == "taking on source" && l.Source == src:
			gen, live = l.Generation, 0
		case l.Msg == "window done" && l.Lane == "live" && l.Source == src:
			live++
		}
	}
	return gen, live
}

// waitLiveLease waits until the replica's current life completed n live
// windows of src under its latest lease.
func waitLiveLease(t *testing.T, r *replica, src string, n int, limit time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		gen, live := liveSinceTakeOn(r.cur(), src)
		if gen > 0 && live >= n {
			return gen
		}
		if !r.cur().running() {
			t.Fatalf("%s exited (code %d):\n%s", r.name, r.cur().exitCode(), tail(r.cur().log, 20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d live windows of %s under lease %d after %s, want %d:\n%s", r.name, live, src, gen, limit, n, tail(r.cur().log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// handedBack returns when the life logged "handed source back" for src
// and generation gen (zero when it did not).
func handedBack(pr *proc, src string, gen int64) time.Time {
	for _, l := range logs(pr) {
		if l.Msg == "handed source back" && l.Source == src && l.Generation == gen {
			return l.Time
		}
	}
	return time.Time{}
}

// leaseSpan is one source held by one life for one generation, from its
// "taking on source" to its "handed source back" (or the kill).
type leaseSpan struct {
	holder   string // replica/life
	source   string
	gen      int64
	from, to time.Time
	killed   bool
}

func (l leaseSpan) String() string {
	end := "handed back"
	if l.killed {
		end = "killed"
	}
	return fmt.Sprintf("%s gen %d %s–%s (%s)", l.holder, l.gen, l.from.Format("15:04:05.000"), l.to.Format("15:04:05.000"), end)
}

// leaseSpans reads every lease of every life of reps from their logs. A
// lease of a life that exited by itself must have been handed back.
func leaseSpans(t *testing.T, reps []*replica) []leaseSpan {
	t.Helper()
	var out []leaseSpan
	for _, r := range reps {
		for _, pr := range r.lives {
			open := map[string]*leaseSpan{}
			for _, l := range logs(pr) {
				switch l.Msg {
				case "taking on source":
					open[l.Source] = &leaseSpan{holder: r.name + "/" + pr.name, source: l.Source, gen: l.Generation, from: l.Time}
				case "handed source back":
					if o := open[l.Source]; o != nil && o.gen == l.Generation {
						o.to = l.Time
						out = append(out, *o)
						delete(open, l.Source)
					}
				}
			}
			for _, o := range open {
				at, killed := r.ended[pr]
				if !killed {
					t.Errorf("%s exited without handing back source %s of generation %d", o.holder, o.source, o.gen)
					at = time.Now()
				}
				o.to, o.killed = at, killed
				out = append(out, *o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}

// overlaps returns every pair of leases of one source held by two lives at
// once, with how long.
func overlaps(spans []leaseSpan) []string {
	var out []string
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.source != b.source || a.holder == b.holder {
				continue
			}
			if d := minTime(a.to, b.to).Sub(maxTime(a.from, b.from)); d > 0 {
				out = append(out, fmt.Sprintf("%s: %s and %s overlap %s", a.source, a, b, d.Round(time.Millisecond)))
			}
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// checkSingleOwner fails the test when two lives held a source at once.
func checkSingleOwner(t *testing.T, reps []*replica) []leaseSpan {
	t.Helper()
	spans := leaseSpans(t, reps)
	for _, o := range overlaps(spans) {
		t.Errorf("two owners at once: %s", o)
	}
	return spans
}

// verdict is the judgement of one output topic.
type verdict struct {
	recs     []published
	rep      topicReport
	want     int // pairs expected from the servable oracle
	lost     int
	vanished int // active pairs served, never published, gone by the end
}

// judge reads topic in full and counts what the simulator served or could
// serve that is missing: every pair servable by asOf that the producer
// must have published by end, and every terminal pair served before the
// mark (servedMark). An active pair served but never published is counted
// apart (vanished): read by a request abandoned at a handover, it may have
// ended before the next owner read its window again.
// runOnAndJudge lets the replicas run ten more simulated minutes past the
// simulator's grace, stops them all, and judges the topic against what the
// simulator served until then.
func runOnAndJudge(t *testing.T, s *sim, b *broker, reps []*replica, topic string) verdict {
	t.Helper()
	servedMark := s.served()
	end := s.Now().Add(s.grace() + 10*time.Minute)
	s.waitUntil(end)
	stopAll(t, reps, 30*time.Second)
	return judge(t, s, b, topic, servedMark, end.Add(-s.grace()), end)
}

// pairsBefore returns the distinct pairs of the records below the
// watermarks wm (per partition), in topic order: what was published
// before the watermarks were read.
func pairsBefore(recs []published, wm map[int]int64) []pair {
	var out []pair
	seen := make(pairSet)
	for _, r := range recs {
		if r.Offset < wm[r.Partition] {
			pp := pair{r.Event.Subject, string(r.Event.Data.State)}
			if !seen.has(pp) {
				out = append(out, pp)
			}
			seen.add(pp)
		}
	}
	return out
}

func judge(t *testing.T, s *sim, b *broker, topic string, servedMark pairSet, asOf, end time.Time) verdict {
	t.Helper()
	return judgeWithout(t, s, b, topic, servedMark, asOf, end, "")
}

// judgeWithout is judge leaving conversation skip out of the oracle (a
// row sent to the dead-letter topic instead); a pair of skip on topic
// fails the test.
func judgeWithout(t *testing.T, s *sim, b *broker, topic string, servedMark pairSet, asOf, end time.Time, skip string) verdict {
	t.Helper()
	recs := b.readTopic(topic)
	rep := analyze(recs)
	checkIDs(t, rep)
	servable := s.servable(asOf)
	want := expectedPairs(servable, clockStart.Add(-24*time.Hour), end)
	if skip != "" {
		servedMark = maps.Clone(servedMark)
		for _, ps := range []pairSet{want, servedMark} {
			maps.DeleteFunc(ps, func(p pair, _ struct{}) bool { return p.id == skip })
		}
		for p := range rep.pairs {
			if p.id == skip {
				t.Errorf("%s is on the event topic %s, want it on the dead-letter topic only", p, topic)
			}
		}
	}
	lost := checkLost(t, "servable", want, rep, servable)
	terminal, vanished := splitMissing(servedMark.minus(rep.set()))
	if len(terminal) > 0 {
		t.Errorf("%d terminal pairs served before the mark were never published, e.g. %s", len(terminal), sample(terminal, 5))
	}
	return verdict{recs: recs, rep: rep, want: len(want), lost: lost + len(terminal), vanished: vanished}
}

// stopAll sends SIGTERM to every running replica at once; each must exit 0.
func stopAll(t *testing.T, reps []*replica, limit time.Duration) map[string]time.Duration {
	t.Helper()
	type res struct {
		name string
		code int
		took time.Duration
		err  error
	}
	var wg sync.WaitGroup
	out := make(chan res, len(reps))
	for _, r := range reps {
		pr := r.cur()
		if !pr.running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, took, err := pr.signal(syscall.SIGTERM, limit)
			out <- res{r.name, code, took, err}
		}()
	}
	wg.Wait()
	close(out)
	took := map[string]time.Duration{}
	for r := range out {
		if r.err != nil || r.code != 0 {
			t.Errorf("%s on SIGTERM: exit %d after %s, %v", r.name, r.code, r.took, r.err)
		}
		took[r.name] = r.took.Round(time.Millisecond)
	}
	return took
}

// startStandby starts A, waits until it polls live, then starts B and
// waits for the generation both report: A must keep the source (a source
// stays with its owner while its share is fair) and B stand by.
func startStandby(t *testing.T, a, b *replica) stablePoint {
	t.Helper()
	a.waitLive(a.start(), 1, 3*time.Minute)
	va, err := a.view()
	if err != nil || !slices.Contains(va.Owned, defaultSource) {
		t.Fatalf("A alone does not own the source: %v %v", va, err)
	}
	b.start()
	sp := waitStable(t, []*replica{a, b}, []string{defaultSource}, va.Generation, 2*time.Minute)
	if sp.owner[defaultSource] != a.name {
		t.Fatalf("%s: B took the source from A when it joined, want A to keep it", sp)
	}
	if vb, err := b.view(); err != nil || len(vb.Owned) != 0 {
		t.Fatalf("B's /readyz: %v %v, want a standby owning nothing", vb, err)
	}
	// A took the source on again in the new generation: let it poll.
	waitLiveLease(t, a, defaultSource, 1, time.Minute)
	return sp
}

// loadCheckpoint loads src's checkpoint from the topic with a fresh store.
func loadCheckpoint(brokers []string, topic, src string) (*checkpoint.Checkpoint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := checkpoint.NewKafka(ctx, checkpoint.KafkaConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Load(ctx, src)
}

// regress says how next moved a checkpoint backwards from prev ("" when
// it did not): the cursor, the live range's end, the settled mark, or the
// history gaps (a gap reappearing or starting earlier).
func regress(prev, next *checkpoint.Checkpoint) string {
	var out []string
	if next.Cursor.Before(prev.Cursor) {
		out = append(out, fmt.Sprintf("cursor %s → %s", prev.Cursor.UTC().Format(time.RFC3339), next.Cursor.UTC().Format(time.RFC3339)))
	}
	if p, n := prev.Coverage, next.Coverage; p != nil {
		switch {
		case n == nil:
			out = append(out, "coverage dropped")
		default:
			if n.Live.End.Before(p.Live.End) {
				out = append(out, fmt.Sprintf("live end %s → %s", p.Live.End.UTC().Format(time.RFC3339), n.Live.End.UTC().Format(time.RFC3339)))
			}
			if n.Settled.Before(p.Settled) {
				out = append(out, fmt.Sprintf("settled %s → %s", p.Settled.UTC().Format(time.RFC3339), n.Settled.UTC().Format(time.RFC3339)))
			}
			if len(n.History) > 0 && (len(p.History) == 0 || n.History[0].Start.Before(p.History[0].Start)) {
				out = append(out, fmt.Sprintf("history gaps %v → %v", p.History, n.History))
			}
		}
	}
	return strings.Join(out, ", ")
}

// manifestEpochs returns the fencing epoch of every manifest of src on the
// checkpoint topic, in the order written, and how many of them were
// written under a lower epoch than one before them (saves of a fenced-off
// owner, which Load ignores).
func manifestEpochs(t *testing.T, b *broker, topic, src string) (epochs []uint64, stale int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs, err := kafkaadmin.All(ctx, b.addrs, topic)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Offset < recs[j].Offset })
	var top uint64
	for _, r := range recs {
		if string(r.Key) != src || r.Value == nil {
			continue
		}
		var m struct {
			Epoch uint64 `json:"epoch"`
		}
		if json.Unmarshal(r.Value, &m) != nil {
			continue
		}
		epochs = append(epochs, m.Epoch)
		if m.Epoch < top {
			stale++
		}
		top = max(top, m.Epoch)
	}
	return epochs, stale
}

// sumOffsets is how many records a set of partitions gained from before
// to after.
func sumOffsets(before, after map[int]int64) int64 {
	n := int64(0)
	for p, off := range after {
		n += off - before[p]
	}
	return n
}

// twoReplicas starts, for a replica scenario run in parallel, a simulator
// with seed and a broker, and configures two replicas A and B (not
// started) whose logs are checked for the secret at the end.
func twoReplicas(t *testing.T, seed int) (s *sim, b *broker, reps []*replica) {
	t.Helper()
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	s = startSim(t, dir, simOptions{Count: 3000, Speed: replicaSpeed, Seed: seed})
	b = startBroker(t, dir)
	reps = newReplicas(t, dir, s, b, 2, nil)
	for _, r := range reps {
		t.Cleanup(r.checkSecret)
	}
	return s, b, reps
}

// TestReplicaRollingUpdate: A owns the source, B stands by; A gets SIGTERM
// (as in a rolling update) and B takes over from A's final checkpoint.
// Nothing may be lost or published twice.
func TestReplicaRollingUpdate(t *testing.T) {
	s, b, reps := twoReplicas(t, 21)
	a, bb := reps[0], reps[1]
	sp := startStandby(t, a, bb)

	code, took, err := a.cur().signal(syscall.SIGTERM, shutdownLimit)
	if err != nil || code != 0 {
		t.Fatalf("A on SIGTERM: exit %d after %s (SHUTDOWN_TIMEOUT %s), %v\n%s", code, took, shutdownLimit, err, tail(a.cur().log, 20))
	}
	handover := took + waitOwns(t, bb, defaultSource, 3*(groupSession+s.Real(pollInterval)))
	bGen := waitLiveLease(t, bb, defaultSource, 1, time.Minute)

	v := runOnAndJudge(t, s, b, reps, a.topic())
	if v.rep.repeats > 0 {
		t.Errorf("%d records repeat a pair after a clean handover", v.rep.repeats)
	}
	spans := checkSingleOwner(t, reps)
	result(t, "replicas: rolling update",
		"A owns the source, B stands by (2 replicas, Kafka checkpoint); SIGTERM A; B takes over, polls on, then stops",
		v.lost, v.rep.repeats,
		fmt.Sprintf("A exit 0 after %s; B owned the source %s after the SIGTERM (generation %d → %d); %d leases, never two at once; %d records, %d pairs expected; %d active states vanished",
			took.Round(time.Millisecond), handover.Round(time.Millisecond), sp.gen, bGen, len(spans), v.rep.records, v.want, v.vanished))
}

// TestReplicaNodeLost: A owns the source, B stands by; A gets SIGKILL. B
// must take the source over once the group's session timeout expires A and
// resume from A's last checkpoint: nothing lost; repeats only of pairs the
// checkpoint B loaded did not hold as acknowledged, with their original
// event ids.
func TestReplicaNodeLost(t *testing.T) {
	rng := newRand(t)
	s, b, reps := twoReplicas(t, 22)
	a, bb := reps[0], reps[1]
	startStandby(t, a, bb)
	waitLiveLease(t, a, defaultSource, 2, time.Minute)
	time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)

	killed := a.kill()
	time.Sleep(100 * time.Millisecond) // let the broker finish what the dead process sent
	wm := b.watermarks(a.topic())
	cpKill := a.checkpoint()
	takeover := time.Since(killed) + waitOwns(t, bb, defaultSource, 3*(groupSession+s.Real(pollInterval)))
	waitLiveLease(t, bb, defaultSource, 1, time.Minute)
	firstLive := time.Since(killed)
	bound := 3 * (groupSession + s.Real(pollInterval))
	if takeover > bound {
		t.Errorf("B took the source %s after the kill, above 3 × (GROUP_SESSION_TIMEOUT + POLL_INTERVAL) = %s", takeover, bound)
	}

	v := runOnAndJudge(t, s, b, reps, a.topic())
	byA := pairsBefore(v.recs, wm)
	acked := ackedIn(t, cpKill, byA)
	seenB := make(pairSet)
	for _, r := range v.recs {
		if r.Offset < wm[r.Partition] {
			continue
		}
		pp := pair{r.Event.Subject, string(r.Event.Data.State)}
		if seenB.has(pp) {
			t.Errorf("B published %s twice", pp)
		}
		seenB.add(pp)
		if acked.has(pp) {
			t.Errorf("B repeated %s, which the checkpoint it loaded held as acknowledged", pp)
		}
	}
	checkSingleOwner(t, reps)
	sinceSave := "no checkpoint"
	if cpKill != nil {
		sinceSave = killed.Sub(s.wallOf(cpKill.SavedAt)).Round(10*time.Millisecond).String() + " after the last save"
	}
	result(t, "replicas: node lost",
		"A owns the source, B stands by; SIGKILL A",
		v.lost, v.rep.repeats,
		fmt.Sprintf("B owned the source %s after the kill (%s simulated), first live window %s after; GROUP_SESSION_TIMEOUT + POLL_INTERVAL = %s + %s (%s simulated) = %s wall; killed %s; repeats ≤ unsaved %d, all with the original id; %d records, %d pairs expected; %d active states vanished",
			takeover.Round(10*time.Millisecond), (takeover*replicaSpeed).Round(time.Minute), firstLive.Round(10*time.Millisecond),
			groupSession, s.Real(pollInterval), pollInterval, groupSession+s.Real(pollInterval),
			sinceSave, len(byA)-len(acked), v.rep.records, v.want, v.vanished))
}

// TestReplicaZombie: A owns the source, B stands by; A is paused (SIGSTOP)
// past the session timeout, B takes the source over, then A resumes
// (SIGCONT) still believing it owns the source. A must stop polling at its
// next heartbeat and hand the source back; its saves carry a lower fencing
// epoch, so the checkpoint never moves backwards; nothing is lost and the
// repeats are bounded by A's unsaved work and what it wrote after waking.
func TestReplicaZombie(t *testing.T) {
	s, b, reps := twoReplicas(t, 23)
	a, bb := reps[0], reps[1]
	cpTopic, src := a.env["CHECKPOINT_TOPIC"], a.source()
	startStandby(t, a, bb)
	aGen := waitLiveLease(t, a, defaultSource, 2, time.Minute)

	prA := a.cur()
	if err := prA.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			_ = prA.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	wmStop := b.watermarks(a.topic())
	cpStop := a.checkpoint()
	if cpStop == nil {
		t.Fatal("A saved no checkpoint before its pause")
	}
	waitOwns(t, bb, defaultSource, 3*(groupSession+s.Real(pollInterval)))
	takeover := time.Since(stopped)
	bGen := waitLiveLease(t, bb, defaultSource, 1, time.Minute)
	// Keep A stopped until B saved a checkpoint of its own.
	for {
		cp := a.checkpoint()
		if cp != nil && cpStop != nil && cp.SavedAt.After(cpStop.SavedAt) {
			break
		}
		if time.Since(stopped) > time.Minute {
			t.Fatalf("B saved no checkpoint within a minute of A's pause")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cpBefore := a.checkpoint()
	wmCont := b.watermarks(a.topic())
	paused := time.Since(stopped)

	// Sample the checkpoint with a fresh store each time while A wakes.
	var samples []*checkpoint.Checkpoint
	var sampleErr error
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			default:
			}
			cp, err := loadCheckpoint(b.addrs, cpTopic, src)
			if err != nil {
				sampleErr = err
				return
			}
			samples = append(samples, cp)
			time.Sleep(50 * time.Millisecond)
		}
	}()

	if err := prA.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	woke := time.Now()
	var back, unlisted time.Duration
	for back == 0 || unlisted == 0 {
		if back == 0 {
			if at := handedBack(prA, defaultSource, aGen); !at.IsZero() {
				back = at.Sub(woke)
			}
		}
		if unlisted == 0 {
			if v, err := a.view(); err == nil && !slices.Contains(v.Owned, defaultSource) {
				unlisted = time.Since(woke)
			}
		}
		if !prA.running() {
			t.Fatalf("A exited after SIGCONT (code %d):\n%s", prA.exitCode(), tail(prA.log, 20))
		}
		if time.Since(woke) > time.Minute {
			t.Fatalf("A a minute after SIGCONT: handed back after %s, /readyz unlisted after %s (0: not yet); B took over in generation %d:\n%s", back, unlisted, bGen, tail(prA.log, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lim := groupHeartbeat + shutdownLimit; back > lim {
		t.Errorf("A handed the source back %s after SIGCONT, above the heartbeat + SHUTDOWN_TIMEOUT = %s", back, lim)
	}
	close(sampling) // every sample was loaded before the next load
	<-sampled
	if sampleErr != nil {
		t.Fatalf("checkpoint sample: %v", sampleErr)
	}
	wmBack := b.watermarks(a.topic())
	cpAfterA := a.checkpoint()

	// The group rebalances when A rejoins: wait for the generation both
	// report, then for a save by its owner in it.
	sp := waitStable(t, []*replica{a, bb}, []string{defaultSource}, bGen, time.Minute)
	settled := s.Now()
	// Both claim the source when A rejoins; the balancer's first tie-break
	// is the member id, so say where A's new one sorted.
	order := "after"
	if va, err := a.view(); err == nil {
		if vb, err := bb.view(); err == nil && va.Member < vb.Member {
			order = "before"
		}
	}
	var cpAfterB *checkpoint.Checkpoint
	for {
		cpAfterB = a.checkpoint()
		if cpAfterB.SavedAt.After(settled) {
			break
		}
		if time.Since(woke) > 2*time.Minute {
			t.Fatalf("no checkpoint saved after %s (last saved at %s)", settled, cpAfterB.SavedAt)
		}
		time.Sleep(200 * time.Millisecond)
	}
	seq := append([]*checkpoint.Checkpoint{cpStop, cpBefore}, samples...)
	seq = append(seq, cpAfterA, cpAfterB)
	for i := 1; i < len(seq); i++ {
		if r := regress(seq[i-1], seq[i]); r != "" {
			t.Errorf("checkpoint moved backwards between load %d (saved %s) and %d (saved %s): %s", i-1, seq[i-1].SavedAt, i, seq[i].SavedAt, r)
		}
	}
	epochs, stale := manifestEpochs(t, b, cpTopic, src)

	v := runOnAndJudge(t, s, b, reps, a.topic())
	byA := pairsBefore(v.recs, wmStop)
	unsaved := len(byA) - len(ackedIn(t, cpStop, byA))
	woken := int(sumOffsets(wmCont, wmBack))
	if v.rep.repeats > unsaved+woken {
		t.Errorf("%d repeats, above A's unsaved pairs at the pause (%d) + every record written between SIGCONT and A's hand-back (%d)", v.rep.repeats, unsaved, woken)
	}
	zombie := overlaps(leaseSpans(t, reps))
	if len(zombie) != 1 {
		t.Errorf("want one overlap (A's paused lease and B's), got %d: %v", len(zombie), zombie)
	}
	for _, o := range zombie {
		t.Logf("overlap: %s", o)
	}
	result(t, "replicas: zombie",
		fmt.Sprintf("A owns the source, B stands by; SIGSTOP A for %s (GROUP_SESSION_TIMEOUT %s); B takes over; SIGCONT A", paused.Round(100*time.Millisecond), groupSession),
		v.lost, v.rep.repeats,
		fmt.Sprintf("B owned the source %s after the SIGSTOP; after SIGCONT A handed it back in %s (heartbeat %s) and left /readyz's owned in %s (rejoined with a member id sorting %s B's; %s); checkpoint never moved back over %d loads; %d of %d manifests were stale saves (epochs %v); repeats ≤ unsaved %d + written while A woke %d; %d records, %d pairs expected; %d active states vanished",
			takeover.Round(10*time.Millisecond), back.Round(time.Millisecond), groupHeartbeat, unlisted.Round(time.Millisecond), order, sp,
			len(seq), stale, len(epochs), compactEpochs(epochs), unsaved, woken, v.rep.records, v.want, v.vanished))
}

// compactEpochs shows a sequence of epochs as runs: [2×5 3×4 2 4×7].
func compactEpochs(es []uint64) string {
	var parts []string
	for i := 0; i < len(es); {
		j := i
		for j < len(es) && es[j] == es[i] {
			j++
		}
		if j-i == 1 {
			parts = append(parts, strconv.FormatUint(es[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d×%d", es[i], j-i))
		}
		i = j
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestReplicasManySources: three replicas share five sources (each a
// simulator of its own: jelou-sim accepts one client id, and two sources
// on one account are refused), one is killed and restarted. At every
// stable generation each source has exactly one owner; nothing is lost on
// any source.
func TestReplicasManySources(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := testDir(t)
	rng := newRand(t)
	const n = 5
	sims := make([]*sim, n)
	sources := make([]string, n)
	sims[0] = startSim(t, dir, simOptions{Count: 1500, Speed: replicaSpeed, Seed: 31})
	var skews []string
	for i := 1; i < n; i++ {
		// One timeline: each simulator starts at the first one's now (its
		// start-up delay puts it a few simulated seconds behind; the
		// producer's lag and settle period cover that).
		sims[i] = startSimAs(t, dir, fmt.Sprintf("jelou-sim-s%d", i+1), fmt.Sprintf("e2e-client-s%d", i+1),
			simOptions{Count: 1500, Speed: replicaSpeed, Seed: 31 + i}, sims[0].Now())
		skew := sims[0].Now().Sub(sims[i].Now())
		skews = append(skews, skew.Round(100*time.Millisecond).String())
	}
	t.Logf("simulators s2..s5 behind s1 by %v (simulated)", skews)
	b := startBroker(t, dir)
	extra := map[string]string{}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("s%d", i+1)
		sources[i] = id
		ids = append(ids, id)
		pfx := fmt.Sprintf("SOURCE_S%d_", i+1)
		extra[pfx+"CLIENT_ID"] = simClientID
		if i > 0 {
			extra[pfx+"CLIENT_ID"] = fmt.Sprintf("e2e-client-s%d", i+1)
		}
		extra[pfx+"CLIENT_SECRET"] = simClientSecret
		extra[pfx+"BASE_URL"] = sims[i].url
		extra[pfx+"TOPIC"] = topicName(t, "events-"+id)
	}
	extra["SOURCES"] = strings.Join(ids, ",")
	reps := newReplicas(t, dir, sims[0], b, 3, extra)
	for _, r := range reps {
		delete(r.env, "JELOU_CLIENT_ID") // SOURCES is set: each source has its own
		delete(r.env, "JELOU_CLIENT_SECRET")
		defer r.checkSecret()
	}
	for _, r := range reps {
		r.start()
	}
	sp1 := waitStable(t, reps, sources, 0, 2*time.Minute)
	waitSourcesLive(t, reps, sources, 3*time.Minute)
	sp1 = waitStable(t, reps, sources, sp1.gen-1, time.Minute)
	time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)

	// Kill the replica with the most sources.
	victim := reps[0]
	for _, r := range reps {
		if len(sp1.owned[r.name]) > len(sp1.owned[victim.name]) {
			victim = r
		}
	}
	var live []*replica
	for _, r := range reps {
		if r != victim {
			live = append(live, r)
		}
	}
	killed := victim.kill()
	sp2 := waitStable(t, live, sources, sp1.gen, 3*(groupSession+sims[0].Real(pollInterval)))
	takeover := sp2.at.Sub(killed)

	victim.start()
	restarted := time.Now()
	sp3 := waitStable(t, reps, sources, sp2.gen, 2*time.Minute)
	rejoin := sp3.at.Sub(restarted)
	if len(sp3.owned[victim.name]) == 0 {
		t.Errorf("%s: the restarted replica %s got no source, want its fair share", sp3, victim.name)
	}

	marks := make([]time.Time, n)
	served := make([]pairSet, n)
	for i, s := range sims {
		marks[i], served[i] = s.Now(), s.served()
	}
	sims[0].waitUntil(marks[0].Add(sims[0].grace() + 10*time.Minute))
	ends := make([]time.Time, n)
	for i, s := range sims {
		ends[i] = s.Now()
	}
	stopAll(t, reps, 30*time.Second)

	lost, repeats, records := 0, 0, 0
	var per []string
	for i, s := range sims {
		v := judge(t, s, b, reps[0].env[fmt.Sprintf("SOURCE_S%d_TOPIC", i+1)], served[i], ends[i].Add(-s.grace()), ends[i])
		lost += v.lost
		repeats += v.rep.repeats
		records += v.rep.records
		per = append(per, fmt.Sprintf("%s %d/%d/%d", sources[i], v.lost, v.rep.repeats, v.want))
	}
	spans := checkSingleOwner(t, reps)
	result(t, "replicas: 3 replicas × 5 sources",
		fmt.Sprintf("3 replicas share 5 sources (5 simulators); SIGKILL %s (owning %d), restart it", victim.name, len(sp1.owned[victim.name])),
		lost, repeats,
		fmt.Sprintf("one owner per source at every stable generation, /metrics agreeing: %s; %s %s after the kill; %s %s after the restart; %d leases, never two at once; per source lost/repeated/expected: %s; %d records",
			sp1, sp2, takeover.Round(10*time.Millisecond), sp3, rejoin.Round(10*time.Millisecond), len(spans), strings.Join(per, ", "), records))
}

// waitSourcesLive waits until every source caught up (in some replica's
// log) and completed live windows since.
func waitSourcesLive(t *testing.T, reps []*replica, sources []string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		live := map[string]int{}
		for _, r := range reps {
			for _, pr := range r.lives {
				caught := map[string]bool{}
				for _, l := range logs(pr) {
					switch {
					case l.Msg == "caught up":
						caught[strings.TrimPrefix(l.Source, "source-")] = true
					case l.Msg == "window done" && l.Lane == "live" && caught[l.Source]:
						live[l.Source]++
					}
				}
			}
		}
		missing := slices.DeleteFunc(slices.Clone(sources), func(s string) bool { return live[s] >= 2 })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sources %v not live within %s", missing, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
