package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// t0 anchors the test's data set: conversations start in [t0-6h, t0).
var t0 = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

// truth is what the test wrote, from which it derives the tables' rows
// independently of the sink's SQL.
type truth struct {
	events map[string]event.Event // by id: the first record written
	states map[string]event.Event // by conversation: the latest state written to the state topic
	// closed is, per source URI, where its closed hours end.
	closed map[string]time.Time
}

func newTruth() *truth {
	return &truth{events: map[string]event.Event{}, states: map[string]event.Event{}, closed: map[string]time.Time{}}
}

func (tr *truth) wrote(e event.Event) {
	if _, ok := tr.events[e.ID]; !ok {
		tr.events[e.ID] = e
	}
}

// later reports whether a moves a conversation's row forward from b.
func later(a, b event.Event) bool {
	ra, rb := rank(a.Data.State), rank(b.Data.State)
	if ra != rb {
		return ra > rb
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.ID > b.ID
}

func nullable(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "NULL"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

const (
	historyQuery = `SELECT event_id, source, conversation_id, state, previous_state, company_id, started_at, ended_at, observed_at, conversation::text FROM {s}.conversation_events`
	currentQuery = `SELECT conversation_id, event_id, source, state, company_id, started_at, ended_at, observed_at FROM {s}.conversations`
	hourlyQuery  = `SELECT source, hour, company_id, state, conversations FROM {s}.conversations_hourly`
)

func (tr *truth) history() []string {
	var out []string
	for _, e := range tr.events {
		d := e.Data
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", e.ID, e.Source, e.Subject, d.State, nullable(string(d.PreviousState)),
			nullable(d.CompanyID), ts(d.StartAt), ts(d.EndAt), ts(e.Time), d.Conversation))
	}
	return out
}

// current is the latest state of each conversation: from the state topic's
// records when fromStates, else from the events.
func (tr *truth) current(fromStates bool) []string {
	latest := map[string]event.Event{}
	if fromStates {
		latest = tr.states
	} else {
		for _, e := range tr.events {
			if cur, ok := latest[e.Subject]; !ok || later(e, cur) {
				latest[e.Subject] = e
			}
		}
	}
	var out []string
	for _, e := range latest {
		d := e.Data
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s", e.Subject, e.ID, e.Source, d.State, nullable(d.CompanyID), ts(d.StartAt), ts(d.EndAt), ts(e.Time)))
	}
	return out
}

// hourly counts, for the closed hours of each source, the conversations
// started in each hour by company and latest state in the history.
func (tr *truth) hourly() []string {
	latest := map[string]event.Event{}
	for _, e := range tr.events {
		if cur, ok := latest[e.Subject]; !ok || later(e, cur) {
			latest[e.Subject] = e
		}
	}
	counts := map[string]int{}
	for _, e := range latest {
		end, ok := tr.closed[e.Source]
		if !ok || e.Data.StartAt.IsZero() || !e.Data.StartAt.Before(end) {
			continue
		}
		counts[fmt.Sprintf("%s|%s|%s|%s", e.Source, ts(e.Data.StartAt.Truncate(time.Hour)), e.Data.CompanyID, e.Data.State)]++
	}
	var out []string
	for k, n := range counts {
		out = append(out, k+"|"+strconv.Itoa(n))
	}
	return out
}

// stateMessage is e as a record of the current-state topic: keyed by the
// conversation id, the value encoded like the event topic's.
func stateMessage(t *testing.T, e event.Event) kafka.Message {
	m := message(t, e, event.Structured)
	m.Key = []byte(e.Subject)
	return m
}

// sourceOf splits the data set between two Jelou sources.
func sourceOf(c jelousim.Conversation) string {
	if c.Index%2 == 0 {
		return "acme"
	}
	return "globex"
}

// eventsAsOf returns conversation c's events a producer polling until now
// has published: active once visible, the final state once reached.
func eventsAsOf(t *testing.T, c jelousim.Conversation, now time.Time) []event.Event {
	var out []event.Event
	if !c.VisibleAt.After(now) {
		out = append(out, convEvent(t, c, sourceOf(c), jelou.StateActive, c.VisibleAt))
	}
	if !c.Transition.After(now) && !c.VisibleAt.After(now) {
		out = append(out, convEvent(t, c, sourceOf(c), c.FinalState, c.Transition))
	}
	return out
}

// TestSink writes a simulator data set's events to real Kafka in two
// phases, with repeated events, active events re-sent after their
// conversation's terminal one, garbage, and completeness watermarks (one
// naming offsets not yet written), runs the sink, and checks the three
// tables row for row after each phase, and after the sink re-reads every
// topic from the start. With a state topic the current state comes from it
// (and conversations it lacks are not in the table); without, from the
// events.
func TestSink(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against Kafka and PostgreSQL; -short skips it")
	}
	dsn := postgresDSN(t)
	for _, withStates := range []bool{false, true} {
		t.Run(map[bool]string{false: "derived state", true: "state topic"}[withStates], func(t *testing.T) {
			testSink(t, dsn, withStates)
		})
	}
}

func testSink(t *testing.T, dsn string, withStates bool) {
	schema, conn := testSchema(t, dsn)
	brokers := kafkatest.Brokers(t)
	const parts = 3
	topic := kafkatest.Topic(t, parts, nil)
	wmTopic := kafkatest.Topic(t, 1, nil)
	cfg := Config{Brokers: brokers, Topic: topic, WatermarkTopic: wmTopic, DSN: dsn, Schema: schema, BatchSize: 50, FlushEvery: 20 * time.Millisecond}
	stateTopic := ""
	if withStates {
		stateTopic = kafkatest.Topic(t, parts, nil)
		cfg.StateTopic = stateTopic
	}
	t.Logf("broker tier %s, schema %s", kafkatest.Tier(t), schema)
	data, err := jelousim.Generate(jelousim.DataConfig{Seed: 7, Start: t0.Add(-6 * time.Hour), End: t0, Count: 240, Companies: 4})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTruth()
	acme, globex := event.NewSource("acme").URI, event.NewSource("globex").URI
	modes := []event.Mode{event.Structured, event.Binary}

	// phase returns the event-topic records of every event published by
	// now and not before (and repeat repeats of earlier ones), the active
	// events re-sent after their terminal one (for every fifth
	// conversation), and the state-topic records: the latest state of the
	// conversations that changed, then the same re-sent active events.
	// When hold, the terminal events of every eleventh conversation are
	// held back, as if a revisit found them later. Call record once the
	// records are written: the truth learns them then.
	written := map[string]bool{}
	planned := map[string]event.Event{} // the state topic's latest, as planned
	phase := func(now time.Time, repeat int, hold bool) (events, resent, states, statesResent []kafka.Message, record func()) {
		var learnt []event.Event
		var learntStates []event.Event
		for i := range data.Len() {
			c := data.Conversation(i)
			inStates := withStates && i%7 != 3 // the state topic lacks the others: not in the table
			for _, e := range eventsAsOf(t, c, now) {
				if written[e.ID] {
					if repeat > 0 { // a producer repeating in-flight events after a restart
						repeat--
						events = append(events, message(t, e, modes[i%2]))
					}
					continue
				}
				if hold && i%11 == 0 && e.Data.State.Terminal() {
					continue
				}
				written[e.ID] = true
				learnt = append(learnt, e)
				events = append(events, message(t, e, modes[i%2]))
				if inStates {
					if cur, ok := planned[e.Subject]; !ok || later(e, cur) {
						planned[e.Subject] = e
						learntStates = append(learntStates, e)
						states = append(states, stateMessage(t, e))
					}
				}
				if e.Data.State.Terminal() && i%5 == 0 {
					active := eventsAsOf(t, c, now)[0]
					resent = append(resent, message(t, active, modes[i%2]))
					if inStates {
						statesResent = append(statesResent, stateMessage(t, active))
					}
				}
			}
		}
		return events, resent, states, statesResent, func() {
			for _, e := range learnt {
				tr.wrote(e)
			}
			for _, e := range learntStates {
				tr.states[e.Subject] = e
			}
		}
	}
	countOf := func(msgs []kafka.Message) map[int]int64 {
		n := map[int]int64{}
		for _, m := range msgs {
			n[partitionOf(m.Key, parts)]++
		}
		return n
	}
	check := func(stage string) {
		t.Helper()
		compare(t, stage+": conversation_events", query(t, conn, schema, historyQuery), tr.history())
		compare(t, stage+": conversations", query(t, conn, schema, currentQuery), tr.current(withStates))
		compare(t, stage+": conversations_hourly", query(t, conn, schema, hourlyQuery), tr.hourly())
	}
	garbage := kafka.Message{Key: []byte("garbage"), Value: []byte("not an event")}

	// Phase 1: everything published by t0-2h, then garbage and the active
	// events re-sent after their terminal ones.
	now1 := t0.Add(-2 * time.Hour)
	ev1, resent1, st1, stResent1, record1 := phase(now1, 0, true)
	produce(t, brokers, topic, parts, ev1...)
	produce(t, brokers, topic, parts, append(resent1, garbage)...)
	if withStates {
		produce(t, brokers, stateTopic, parts, st1...)
		produce(t, brokers, stateTopic, parts, stResent1...)
	}
	record1()
	end1 := endOffsets(t, brokers, topic)
	// Phase 2's records, built now to know the offsets they will end at.
	now2 := t0.Add(2 * time.Hour)
	ev2, resent2, st2, stResent2, record2 := phase(now2, 15, false)
	future := map[int]int64{}
	n2 := countOf(append(append([]kafka.Message{}, ev2...), resent2...))
	for p := range parts {
		future[p] = end1[p] + n2[p]
	}
	// acme is complete before t0-3h30 as of phase 1's offsets: its hours
	// before t0-4h close. globex is complete before t0-3h, but as of
	// offsets phase 2 reaches: nothing closes yet.
	produce(t, brokers, wmTopic, 1,
		watermarkMessage(t, "acme", topic, t0.Add(-3*time.Hour-30*time.Minute), end1),
		garbage,
		watermarkMessage(t, "globex", topic, t0.Add(-3*time.Hour), future),
		watermarkMessage(t, "other", "another.topic", t0, end1),
	)
	tr.closed[acme] = t0.Add(-4 * time.Hour)

	r := startSink(t, cfg)
	waitCaughtUp(t, r, conn, schema, brokers, append([]string{wmTopic}, r.sink.topics()...)...)
	check("phase 1")
	if got := query(t, conn, schema, `SELECT source, closed_before FROM {s}.sink_completeness`); len(got) != 1 || got[0] != acme+"|"+ts(t0.Add(-4*time.Hour)) {
		t.Errorf("completeness after phase 1: %q, want only acme closed before %s", got, t0.Add(-4*time.Hour))
	}
	if s := r.sink.Stats(); s.Skipped != 3 || s.Events != len(tr.events) {
		t.Errorf("after phase 1: stats %+v, want 3 skipped (2 garbage, another topic's watermark), %d events", s, len(tr.events))
	}

	// A second sink on the same schema is refused while the first runs.
	if err := NewSink(cfg, r.sink.log).Run(context.Background()); !errors.Is(err, ErrLocked) {
		t.Errorf("second sink: %v, want ErrLocked", err)
	}

	// Phase 2: what changed by t0+2h (state changes of conversations in
	// acme's closed hours among them), 15 repeated events; then acme is
	// complete before t0+1h, an older acme watermark comes late, and
	// globex's watermark offsets are reached.
	produce(t, brokers, topic, parts, ev2...)
	produce(t, brokers, topic, parts, resent2...)
	if got := endOffsets(t, brokers, topic); fmt.Sprint(got) != fmt.Sprint(future) {
		t.Fatalf("event topic ends at %v after phase 2, the test expected %v", got, future)
	}
	if withStates {
		produce(t, brokers, stateTopic, parts, st2...)
		produce(t, brokers, stateTopic, parts, stResent2...)
	}
	record2()
	produce(t, brokers, wmTopic, 1,
		watermarkMessage(t, "acme", topic, t0.Add(time.Hour), future),
		watermarkMessage(t, "acme", topic, t0.Add(-5*time.Hour), end1),
	)
	tr.closed[acme] = t0.Add(time.Hour)
	tr.closed[globex] = t0.Add(-3 * time.Hour)
	waitCaughtUp(t, r, conn, schema, brokers, append([]string{wmTopic}, r.sink.topics()...)...)
	check("phase 2")
	s := r.sink.Stats()
	if s.Duplicates < 15+len(resent1) || s.Recomputed == 0 {
		t.Errorf("after phase 2: stats %+v, want at least %d duplicates and some closed hours recomputed", s, 15+len(resent1))
	}
	if withStates && s.Stale == 0 {
		t.Errorf("after phase 2: stats %+v: no stale state record met, yet active records followed terminal ones", s)
	}
	stopSink(t, r)

	// Re-delivery: a sink that forgot its offsets reads every topic again
	// and changes nothing.
	if _, err := conn.Exec(context.Background(), (&Store{schema: schema}).sql(`DELETE FROM {s}.sink_offsets`)); err != nil {
		t.Fatal(err)
	}
	r2 := startSink(t, cfg)
	waitCaughtUp(t, r2, conn, schema, brokers, append([]string{wmTopic}, r2.sink.topics()...)...)
	check("re-delivered")
	if s := r2.sink.Stats(); s.Events != 0 || s.States != 0 {
		t.Errorf("re-delivery inserted %d events and moved %d states, want none", s.Events, s.States)
	}
	stopSink(t, r2)
}

// TestSinkStopsOnDatabaseError: a batch the database refuses stops Run
// with the error (its readers stopped), and nothing of it is committed.
func TestSinkStopsOnDatabaseError(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against Kafka and PostgreSQL; -short skips it")
	}
	dsn := postgresDSN(t)
	schema, conn := testSchema(t, dsn)
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, 1, nil)
	data, err := jelousim.Generate(jelousim.DataConfig{Seed: 3, Start: t0.Add(-time.Hour), End: t0, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := startSink(t, Config{Brokers: brokers, Topic: topic, DSN: dsn, Schema: schema, BatchSize: 10, FlushEvery: 10 * time.Millisecond})
	c := data.Conversation(0)
	produce(t, brokers, topic, 1, message(t, convEvent(t, c, "acme", jelou.StateActive, c.VisibleAt), event.Structured))
	waitCaughtUp(t, r, conn, schema, brokers, topic)
	if _, err := conn.Exec(context.Background(), (&Store{schema: schema}).sql(`DROP TABLE {s}.conversations`)); err != nil {
		t.Fatal(err)
	}
	c = data.Conversation(1)
	produce(t, brokers, topic, 1, message(t, convEvent(t, c, "acme", jelou.StateActive, c.VisibleAt), event.Structured))
	select {
	case err := <-r.done:
		r.done <- err
		if err == nil || !strings.Contains(err.Error(), "conversations") {
			t.Fatalf("Run returned %v, want the refused batch's error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the database refused a batch")
	}
	if got := query(t, conn, schema, `SELECT count(*) FROM {s}.conversation_events`); got[0] != "1" {
		t.Errorf("history holds %s rows, want only the first batch's 1", got[0])
	}
}
