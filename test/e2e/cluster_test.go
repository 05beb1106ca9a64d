package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestClusterLeaderLoss runs the producer against a real three-node Apache
// Kafka cluster (scripts/kafka-cluster.sh: KRaft, replication 3,
// min.insync.replicas=2), SIGKILLs the node leading partition 0 of the
// output topic in the middle of a backfill, and starts it again on its
// data dir about 25 s later. The producer must keep running through it,
// reach the live edge, exit 0 on SIGTERM, and have lost nothing; repeats
// are allowed (kafka-go is not an idempotent producer) but counted, and
// must carry the original's event id. Whether /readyz went unready is
// recorded, not required: with one of three replicas gone, writes need
// only a new leader, and may never stall long enough to fail a check.
func TestClusterLeaderLoss(t *testing.T) {
	brokersEnv, ctl := os.Getenv("KAFKA_CLUSTER_BROKERS"), os.Getenv("KAFKA_CLUSTER_CTL")
	if brokersEnv == "" || ctl == "" {
		t.Skip("needs a three-node cluster: KAFKA_CLUSTER_BROKERS and KAFKA_CLUSTER_CTL (scripts/kafka-cluster.sh up && export $(scripts/kafka-cluster.sh env))")
	}
	needBinaries(t)
	dir := testDir(t)
	b := &broker{t: t, addrs: strings.Split(brokersEnv, ","), external: true}
	down := 25 * time.Second

	// The backfill must outlast the kill and the outage: 10-minute windows
	// over the simulated day before the start at a low request budget take
	// about a minute of wall time (at ×60 a simulated minute is a second).
	s := startSim(t, dir, simOptions{Count: 8000, Speed: 60, Latency: 10 * time.Millisecond, Seed: 17})
	p := newProducer(t, dir, s, b, map[string]string{
		"KAFKA_TOPIC_CREATE":      "false",
		"KAFKA_TOPIC_REPLICATION": "3",
		"CHECKPOINT_BACKEND":      "kafka",
		"POLL_WINDOW":             "10m",
		"POLL_INTERVAL":           "5m",
		"JELOU_RATE_LIMIT":        "5",
		"JELOU_RATE_BURST":        "1",
	})
	defer p.checkSecret()
	createClusterTopic(t, b.addrs, p.topic(), 3, nil)
	createClusterTopic(t, b.addrs, p.env["CHECKPOINT_TOPIC"], 1, []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}})

	// The active controller (KRaft quorum leader): Metadata's controller id
	// is any broker under KRaft, so ask the script.
	controller := -1
	if out, err := exec.Command(ctl, "controller").Output(); err == nil {
		controller, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}

	pr := p.start()
	waitForward(t, pr, time.Minute)
	time.Sleep(3 * time.Second) // a few windows in flight and published
	part0 := partitionInfo(t, b.addrs, p.topic(), 0)
	leader := part0.Leader.ID
	if phase := phaseOf(pr); phase != "backfill" {
		t.Fatalf("the kill would land in phase %q, not in the backfill: make the backfill longer", phase)
	}
	before := scrape(p)
	victim := fmt.Sprintf("node %d", leader)
	if controller == leader {
		victim += ", also the active controller"
	}
	t.Logf("partition 0: leader node %d, ISR %v; active controller node %d; %v events published so far; killing %s",
		leader, brokerIDs(part0.Isr), controller, before["jelou_producer_events_published_total"], victim)
	clusterCtl(t, ctl, "stop", leader)
	killed := time.Now()

	// Watch the outage, then the node's start (the script returns once it
	// serves and is back in every ISR), without pausing the watch.
	o := &outage{p: p, pr: pr, addrs: b.addrs, dead: leader, killed: killed, lastCount: before["jelou_producer_events_published_total"], lastMove: killed}
	for time.Since(killed) < down {
		o.sample(t)
		time.Sleep(500 * time.Millisecond)
	}
	startDone := make(chan string, 1)
	startAt := time.Now()
	go func() {
		out, err := exec.Command(ctl, "start", strconv.Itoa(leader)).CombinedOutput()
		if err != nil {
			out = append(out, []byte("error: "+err.Error())...)
		}
		startDone <- string(out)
	}()
	var startOut string
	for startOut == "" {
		select {
		case startOut = <-startDone:
		case <-time.After(500 * time.Millisecond):
			o.sample(t)
		}
	}
	back := time.Since(startAt)
	t.Logf("%s start %d (%s):\n%s", ctl, leader, back.Round(100*time.Millisecond), strings.TrimSpace(startOut))
	if strings.Contains(startOut, "error: ") {
		t.Fatalf("node %d did not start again", leader)
	}
	phaseAtReturn := phaseOf(pr)
	after := partitionInfo(t, b.addrs, p.topic(), 0)
	t.Logf("node %d back after %s down (phase %s): partition 0 leader node %d, ISR %v", leader,
		time.Since(killed).Round(100*time.Millisecond), phaseAtReturn, after.Leader.ID, brokerIDs(after.Isr))

	// The backfill finishes, the live edge is reached, /readyz is ready.
	p.waitLive(pr, 2, 5*time.Minute)
	for {
		code, _ := p.readyz()
		if code == 200 {
			break
		}
		if !pr.running() {
			t.Fatalf("producer exited after the node came back (code %d):\n%s", pr.exitCode(), tail(pr.log, 20))
		}
		if time.Since(killed) > 8*time.Minute {
			t.Fatalf("/readyz still %d long after the node came back", code)
		}
		time.Sleep(500 * time.Millisecond)
	}
	caughtUp := time.Since(killed)

	grace := s.grace()
	asOf := s.Now().Add(10 * time.Minute)
	s.waitUntil(asOf)
	servedEarly := s.served()
	s.waitUntil(asOf.Add(grace))
	end := s.Now()
	if !pr.running() {
		t.Fatalf("producer exited (code %d):\n%s", pr.exitCode(), tail(pr.log, 20))
	}
	final := scrape(p)
	if code, took, err := pr.signal(syscall.SIGTERM, 30*time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d after %s, %v", code, took, err)
	}

	rep := analyze(b.readTopic(p.topic()))
	checkIDs(t, rep)
	servable := s.servable(asOf)
	want := expectedPairs(servable, clockStart.Add(-24*time.Hour), end)
	lost := checkLost(t, "servable", want, rep, servable)
	lost += checkLost(t, "served", servedEarly, rep, servable)
	if rep.repeats > 0 {
		var ex []pair
		for pp, n := range rep.pairs {
			if n > 1 {
				ex = append(ex, pp)
			}
		}
		sort.Slice(ex, func(i, j int) bool { return ex[i].String() < ex[j].String() })
		t.Logf("%d repeated records (same event id as the original), e.g. %s", rep.repeats, sample(ex, 5))
	}

	writeErrs := metricDelta(before, final, "jelou_producer_kafka_write_errors_total")
	readiness := fmt.Sprintf("/readyz never went unready (%d polls during the outage and the restart)", o.polls)
	if o.notReady > 0 {
		readiness = fmt.Sprintf("/readyz not ready %d of %d polls (failing: %s), first %s after the kill",
			o.notReady, o.polls, strings.Join(o.failing(), ", "), o.firstNotReady.Round(100*time.Millisecond))
	}
	t.Log(readiness)
	if o.sources != "" {
		// A broker outage is passing trouble: a source held failed or
		// retrying here is worth reading about (it is not asserted).
		t.Logf("/readyz while its sources check failed:\n%s\nproducer's source lines:\n%s", o.sources, sourceLines(pr))
	}
	t.Logf("partition 0 leader moved from node %d to node %d %s after the kill; longest wall time with no event acknowledged: %s; write errors: %s",
		leader, o.newLeader, o.leaderMoved.Round(100*time.Millisecond), o.longestStall.Round(100*time.Millisecond), writeErrs)
	result(t, "cluster leader loss",
		fmt.Sprintf("3-node Apache Kafka (RF 3, min.insync.replicas=2): partition 0's leader (%s) SIGKILLed mid-backfill, restarted %s later on its data dir", victim, down),
		lost, rep.repeats,
		fmt.Sprintf("kept running; %s; leader moved after %s; longest gap between acknowledged events %s; write errors %s; caught up and ready %s after the kill; exit 0 on SIGTERM; %d records, %d pairs expected",
			readiness, o.leaderMoved.Round(100*time.Millisecond), o.longestStall.Round(100*time.Millisecond), writeErrs,
			caughtUp.Round(time.Second), rep.records, len(want)))
}

// outage is what the test saw while a node was down and restarting.
type outage struct {
	p      *producer
	pr     *proc
	addrs  []string
	dead   int
	killed time.Time

	polls, notReady int
	firstNotReady   time.Duration
	checks          map[string]int // failing check name -> polls
	sources         string         // the first failing sources check's body, for the log
	newLeader       int
	leaderMoved     time.Duration
	lastCount       float64
	lastMove        time.Time
	longestStall    time.Duration
}

// sample polls /readyz, /metrics and partition 0's leader once; the
// producer exiting fails the test.
func (o *outage) sample(t *testing.T) {
	t.Helper()
	if !o.pr.running() {
		t.Fatalf("producer exited %s after node %d was killed (code %d):\n%s",
			time.Since(o.killed).Round(100*time.Millisecond), o.dead, o.pr.exitCode(), tail(o.pr.log, 20))
	}
	o.polls++
	if code, body := o.p.readyz(); code != 200 {
		if o.notReady == 0 {
			o.firstNotReady = time.Since(o.killed)
		}
		o.notReady++
		if o.checks == nil {
			o.checks = map[string]int{}
		}
		for _, c := range []string{"kafka", "poll", "jelou_auth", "sources"} {
			if checkFailed(body, c) {
				o.checks[c]++
			}
		}
		if o.sources == "" && checkFailed(body, "sources") {
			o.sources = body
		}
		if code == 0 {
			o.checks["no answer"]++
		}
	}
	now := time.Now()
	if n, ok := scrape(o.p)["jelou_producer_events_published_total"]; ok {
		if n > o.lastCount {
			o.lastCount, o.lastMove = n, now
		} else if gap := now.Sub(o.lastMove); gap > o.longestStall {
			o.longestStall = gap
		}
	}
	if o.newLeader == 0 {
		if l, ok := leaderFrom(o.addrs, o.p.topic(), 0); ok && l != o.dead && l > 0 {
			o.newLeader, o.leaderMoved = l, time.Since(o.killed)
		}
	}
}

// failing lists the failing checks seen, with their poll counts.
func (o *outage) failing() []string {
	var out []string
	for c, n := range o.checks {
		out = append(out, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(out)
	return out
}

// checkFailed reports whether a /readyz body shows the named check not ok.
func checkFailed(body, name string) bool {
	i := strings.Index(body, `"name": "`+name+`"`)
	if i < 0 {
		return false
	}
	rest := body[i:]
	if j := strings.Index(rest, "}"); j >= 0 {
		rest = rest[:j]
	}
	return strings.Contains(rest, `"ok": false`)
}

// clusterCtl runs `$KAFKA_CLUSTER_CTL verb node` and fails the test if it
// fails.
func clusterCtl(t *testing.T, ctl, verb string, node int) {
	t.Helper()
	out, err := exec.Command(ctl, verb, strconv.Itoa(node)).CombinedOutput()
	t.Logf("%s %s %d: %s", ctl, verb, node, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%s %s %d: %v", ctl, verb, node, err)
	}
}

// createClusterTopic creates a topic with replication 3 and
// min.insync.replicas=2 (plus extra settings) and waits until every
// partition has a leader and three in-sync replicas.
func createClusterTopic(t *testing.T, addrs []string, topic string, partitions int, extra []kafka.ConfigEntry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addrs...)}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             topic,
		NumPartitions:     partitions,
		ReplicationFactor: 3,
		ConfigEntries:     append([]kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: "2"}}, extra...),
	}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	for {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && len(md.Topics[0].Partitions) == partitions {
			ok := true
			for _, p := range md.Topics[0].Partitions {
				ok = ok && p.Error == nil && p.Leader.ID >= 0 && len(p.Isr) == 3
			}
			if ok {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s: partitions without a leader or a full ISR after 60s (%v)", topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// partitionInfo reads a partition's metadata from the first broker that
// answers.
func partitionInfo(t *testing.T, addrs []string, topic string, partition int) kafka.Partition {
	t.Helper()
	for _, a := range addrs {
		parts, err := readPartitions(a, topic)
		if err != nil {
			continue
		}
		for _, p := range parts {
			if p.ID == partition {
				return p
			}
		}
	}
	t.Fatalf("no broker of %v described %s/%d", addrs, topic, partition)
	return kafka.Partition{}
}

// leaderFrom is the node id leading a partition, as the first broker that
// answers sees it.
func leaderFrom(addrs []string, topic string, partition int) (int, bool) {
	for _, a := range addrs {
		parts, err := readPartitions(a, topic)
		if err != nil {
			continue
		}
		for _, p := range parts {
			if p.ID == partition {
				return p.Leader.ID, true
			}
		}
	}
	return 0, false
}

func readPartitions(addr, topic string) ([]kafka.Partition, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := (&kafka.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	return conn.ReadPartitions(topic)
}

func brokerIDs(bs []kafka.Broker) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	sort.Ints(out)
	return out
}

// scrape reads /metrics and returns, per metric name and per series
// (name{labels}), the value; a name's entry is the sum of its series. An
// unreachable endpoint gives an empty map.
func scrape(p *producer) map[string]float64 {
	out := map[string]float64{}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.env["HTTP_ADDR"] + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		series := line[:sp]
		name := series
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name = series[:i]
			out[series] = v
		}
		out[name] += v
	}
	return out
}

// metricDelta lists the series of a counter that grew between two
// scrapes, as "label=value +n", or "none".
func metricDelta(before, after map[string]float64, name string) string {
	var out []string
	for series, v := range after {
		if !strings.HasPrefix(series, name+"{") {
			continue
		}
		if d := v - before[series]; d > 0 {
			out = append(out, fmt.Sprintf("%s +%g", strings.TrimSuffix(strings.TrimPrefix(series, name+"{"), "}"), d))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// sourceLines returns the producer's log lines about a source stopping,
// being retried or polling again.
func sourceLines(pr *proc) string {
	var out []string
	for _, l := range logs(pr) {
		if strings.HasPrefix(l.Msg, "source stopped") || strings.HasPrefix(l.Msg, "retrying source") || l.Msg == "source polls again" {
			out = append(out, l.raw)
		}
	}
	return strings.Join(out, "\n")
}
