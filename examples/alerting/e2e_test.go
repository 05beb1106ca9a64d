package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// alertLog collects alerts from JSON lines or webhook bodies.
type alertLog struct {
	mu     sync.Mutex
	alerts []Alert
}

func (l *alertLog) add(t testing.TB, b []byte) {
	var a Alert
	if err := json.Unmarshal(b, &a); err != nil {
		t.Errorf("alert is not JSON: %v: %q", err, b)
		return
	}
	l.mu.Lock()
	l.alerts = append(l.alerts, a)
	l.mu.Unlock()
}

// names returns "kind conversation" of each alert, sorted.
func names(alerts []Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Kind+" "+a.Conversation)
	}
	slices.Sort(out)
	return out
}

func (l *alertLog) snapshot() []Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.alerts)
}

// stdoutAlerts parses the JSON lines written so far.
func stdoutAlerts(t testing.TB, out *testutil.SyncBuffer) []Alert {
	var l alertLog
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "" {
			l.add(t, []byte(line))
		}
	}
	return l.alerts
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// produce writes events, each in the given mode, and raw records (value
// only) to topic, keyed like jelou-producer keys them.
type record struct {
	e    *event.Event
	mode event.Mode
	raw  string
}

func produce(t *testing.T, brokers []string, topic string, recs ...record) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for _, r := range recs {
		if r.e == nil {
			msgs = append(msgs, kafka.Message{Key: []byte("garbage"), Value: []byte(r.raw)})
			continue
		}
		value, hs, err := r.e.Encode(r.mode)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := r.e.Key()
		m := kafka.Message{Key: key, Value: value}
		for _, h := range hs {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs = append(msgs, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestEndToEnd produces jelou-producer events (structured and binary) to a
// topic on a real Kafka-protocol broker, runs the consumer in a group, and
// checks which alerts fire: on stdout and at the webhook, for overdue and
// quiet active conversations and a slow reply, and none for conversations
// closed in time. A second consumer of the same group then starts after the
// committed offsets and raises nothing again.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against a broker; -short skips it")
	}
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, 3, nil)
	t.Logf("broker tier %s, topic %s", kafkatest.Tier(t), topic)

	var hooked alertLog
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		hooked.add(t, b)
	}))
	defer hook.Close()

	const activeFor = 4 * time.Second
	cfg := Config{
		Brokers: brokers, Topic: topic, Group: topic + ".alerts",
		ActiveFor: activeFor, ReplyOver: 2 * time.Minute, CheckEvery: 100 * time.Millisecond, ForgetAfter: 48 * time.Hour,
		WebhookURL: hook.URL, WebhookTimeout: 5 * time.Second, FromBeginning: true,
	}
	var out, logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := NewConsumer(cfg, &out, log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("consumer stats %+v, alerts:\n%s\nlogs:\n%s", c.Stats(), out.String(), logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	ev := func(r row, observed time.Time) *event.Event { e := newEvent(t, r, observed); return &e }
	now := time.Now()
	// Phase 1, read once the consumer has joined its group (which can take
	// seconds): an overdue active conversation, a slow reply, and a record
	// that is no event.
	produce(t, brokers, topic,
		record{e: ev(row{id: "overdue", state: jelou.StateActive, company: "1", start: now.Add(-time.Hour), reply: 1000}, now), mode: event.Structured},
		record{e: ev(row{id: "slow", state: jelou.StateClosed, company: "2", start: now.Add(-20 * time.Minute), reply: 600000}, now), mode: event.Binary},
		record{raw: "not an event"},
	)
	waitFor(t, 60*time.Second, "the overdue and slow-reply alerts", func() bool {
		got := names(stdoutAlerts(t, &out))
		return slices.Contains(got, "active_too_long overdue") && slices.Contains(got, "slow_operator_reply slow")
	})

	// Phase 2: three conversations start now; two close after a second, the
	// third goes quiet. Its alert can only come from the ticker: every
	// record is read well before its threshold passes.
	t1 := time.Now()
	produce(t, brokers, topic,
		record{e: ev(row{id: "quiet", state: jelou.StateActive, company: "1", start: t1}, t1), mode: event.Structured},
		record{e: ev(row{id: "intime", state: jelou.StateActive, company: "2", start: t1}, t1), mode: event.Binary},
		record{e: ev(row{id: "fast", state: jelou.StateActive, company: "3", start: t1, reply: 1000}, t1), mode: event.Binary},
	)
	time.Sleep(time.Second)
	produce(t, brokers, topic,
		record{e: ev(row{id: "intime", state: jelou.StateClosed, company: "2", start: t1}, time.Now()), mode: event.Binary},
		record{e: ev(row{id: "fast", state: jelou.StateResolved, company: "3", start: t1, reply: 1000}, time.Now()), mode: event.Structured},
	)
	const total = 8
	waitFor(t, activeFor/2, "every record to be read", func() bool { return c.Stats().Read == total })
	allRead := time.Now()
	if allRead.Sub(t1) >= activeFor {
		t.Fatalf("records read only %s after the quiet conversation started; the ticker path would not be tested", allRead.Sub(t1))
	}
	waitFor(t, 15*time.Second, "the quiet conversation's alert", func() bool {
		return slices.Contains(names(stdoutAlerts(t, &out)), "active_too_long quiet")
	})
	for _, a := range stdoutAlerts(t, &out) {
		if a.Conversation == "quiet" && (a.At.Before(t1.Add(activeFor)) || !a.At.After(allRead)) {
			t.Errorf("quiet alert at %s: want after its threshold (%s) and after the last record was read (%s)", a.At, t1.Add(activeFor), allRead)
		}
	}
	// Past the in-time conversation's threshold, with margin: still nothing
	// for it or for "fast".
	time.Sleep(time.Until(t1.Add(activeFor + time.Second)))
	want := []string{"active_too_long overdue", "active_too_long quiet", "slow_operator_reply slow"}
	if got := names(stdoutAlerts(t, &out)); !slices.Equal(got, want) {
		t.Errorf("stdout alerts %q, want %q", got, want)
	}
	waitFor(t, 5*time.Second, "the webhook to receive every alert", func() bool { return len(hooked.snapshot()) >= len(want) })
	if got := names(hooked.snapshot()); !slices.Equal(got, want) {
		t.Errorf("webhook alerts %q, want %q", got, want)
	}
	s := c.Stats()
	if s.Read != total || s.Decoded != total-1 || s.Skipped != 1 || s.Alerts != len(want) || s.SinkErrors != 0 {
		t.Errorf("stats %+v, want %d read, %d decoded, 1 skipped, %d alerts, no sink error", s, total, total-1, len(want))
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			t.Logf("consumer warning: %s", line)
		}
	}
	if !strings.Contains(logs.String(), "not a jelou-producer event") {
		t.Errorf("the skipped record was not logged:\n%s", logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	// The group committed what it read: a new member starts after it, and
	// reads only the record produced since.
	var out2 testutil.SyncBuffer
	c2 := NewConsumer(cfg, &out2, log)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan error, 1)
	go func() { done2 <- c2.Run(ctx2) }()
	produce(t, brokers, topic, record{e: ev(row{id: "after", state: jelou.StateClosed, company: "4", start: time.Now()}, time.Now()), mode: event.Structured})
	waitFor(t, 60*time.Second, "the restarted consumer to read the new record", func() bool { return c2.Stats().Read >= 1 })
	time.Sleep(time.Second)
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if s := c2.Stats(); s.Read != 1 || out2.String() != "" {
		t.Errorf("restarted consumer read %d records and wrote %q; want only the new record and no alert (offsets committed)", s.Read, out2.String())
	}
}
