package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/jelousim"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// postgresDSN returns POSTGRES_TEST_DSN. Without it the test skips, or
// fails when CI=true: CI starts a server (scripts/postgres.sh).
func postgresDSN(t *testing.T) string {
	t.Helper()
	return testutil.RealServer(t, "POSTGRES_TEST_DSN", "export $(scripts/postgres.sh up)")
}

// testSchema returns a schema name unique to this run, dropped at cleanup,
// and a connection for the test's own queries.
func testSchema(t *testing.T, dsn string) (string, *pgx.Conn) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "sink_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", "POSTGRES_TEST_DSN", err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = conn.Close(ctx)
	})
	return schema, conn
}

// running is a sink started by startSink.
type running struct {
	sink *Sink
	logs *testutil.SyncBuffer
	stop context.CancelFunc
	done chan error
}

func startSink(t *testing.T, cfg Config) *running {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	s := NewSink(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sink: s, logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		r.done <- nil
		if t.Failed() {
			t.Logf("sink stats %+v, logs:\n%s", s.Stats(), logs.String())
		}
	})
	return r
}

// stopSink stops r and fails the test if Run returned an error.
func stopSink(t *testing.T, r *running) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatalf("sink Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sink Run did not return after cancel")
	}
}

// endOffsets returns the end offset of every partition of topic.
func endOffsets(t *testing.T, brokers []string, topic string) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts, err := partitions(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("list offsets of %s/%d: %v", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}

// waitCaughtUp waits until the sink's stored offsets reach the end of
// every partition of topics (so the batches that read them, and the hours
// they closed, are committed), or fails after a minute.
func waitCaughtUp(t *testing.T, r *running, conn *pgx.Conn, schema string, brokers []string, topics ...string) {
	t.Helper()
	want := map[TopicPartition]int64{}
	for _, topic := range topics {
		for p, off := range endOffsets(t, brokers, topic) {
			want[TopicPartition{topic, p}] = off
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("sink Run returned %v before catching up", err)
		default:
		}
		got, err := positions(conn, schema)
		behind := []string{}
		for tp, off := range want {
			if got[tp] < off {
				behind = append(behind, fmt.Sprintf("%s/%d at %d of %d", tp.Topic, tp.Partition, got[tp], off))
			}
		}
		if err == nil && len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink not caught up after a minute: %v %v", behind, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func positions(conn *pgx.Conn, schema string) (map[TopicPartition]int64, error) {
	s := &Store{conn: conn, schema: schema}
	return s.Positions(context.Background())
}

// query runs q (with {s} for the schema) and returns each row's columns
// formatted and joined by "|", sorted.
func query(t *testing.T, conn *pgx.Conn, schema, q string) []string {
	t.Helper()
	s := &Store{schema: schema}
	rows, err := conn.Query(context.Background(), s.sql(q))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = format(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func format(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// compare reports the rows missing from got and the extra rows, and
// fails the test when there is any.
func compare(t *testing.T, table string, got, want []string) {
	t.Helper()
	g, w := map[string]bool{}, map[string]bool{}
	for _, r := range got {
		g[r] = true
	}
	for _, r := range want {
		w[r] = true
	}
	var missing, extra []string
	for _, r := range want {
		if !g[r] {
			missing = append(missing, r)
		}
	}
	for _, r := range got {
		if !w[r] {
			extra = append(extra, r)
		}
	}
	if len(got) != len(g) {
		t.Errorf("%s: duplicate rows", table)
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: %d rows, want %d: %d missing, %d extra\nmissing: %s\nextra:   %s", table, len(got), len(want),
			len(missing), len(extra), head(missing), head(extra))
	} else {
		t.Logf("%s: %d rows, 0 missing, 0 extra", table, len(got))
	}
}

func head(rows []string) string {
	if len(rows) > 5 {
		return strings.Join(rows[:5], "\n         ") + fmt.Sprintf("\n         ... and %d more", len(rows)-5)
	}
	return strings.Join(rows, "\n         ")
}

// convEvent builds the event jelou-producer publishes for conversation c
// of the simulator's data set, from source, observed in state st at
// observed.
func convEvent(t testing.TB, c jelousim.Conversation, source string, st jelou.State, observed time.Time) event.Event {
	t.Helper()
	raw := map[string]any{"_id": c.ID, "state": st, "company": map[string]string{"id": c.CompanyID},
		"startAt": c.Start.Format(jelousim.RowTimeLayout), "tags": c.Tags, "operatorNames": c.OperatorNames}
	conv := jelou.Conversation{ID: c.ID, State: st, Company: jelou.Company{ID: c.CompanyID}, StartAt: c.Start}
	var previous jelou.State
	if st.Terminal() {
		raw["endAt"] = c.Transition.Format(jelousim.RowTimeLayout)
		conv.EndAt = c.Transition
		previous = jelou.StateActive
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	conv.Raw = b
	w := jelou.Window{Start: c.Start.Truncate(time.Hour), End: c.Start.Truncate(time.Hour).Add(time.Hour - time.Second)}
	return event.New(event.NewSource(source), conv, previous, w, observed)
}

// message encodes e in mode as a record keyed like jelou-producer's.
func message(t testing.TB, e event.Event, mode event.Mode) kafka.Message {
	t.Helper()
	value, hs, err := e.Encode(mode)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := e.Key()
	m := kafka.Message{Key: key, Value: value}
	for _, h := range hs {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

// watermarkMessage encodes a watermark record with pkg/event's encoder, as
// the producer writes it.
func watermarkMessage(t testing.TB, sourceID, topic string, completeBefore time.Time, offsets map[int]int64) kafka.Message {
	t.Helper()
	var offs []event.PartitionOffset
	for p, o := range offsets {
		offs = append(offs, event.PartitionOffset{Partition: p, Offset: o})
	}
	slices.SortFunc(offs, func(a, b event.PartitionOffset) int { return a.Partition - b.Partition })
	w := event.NewWatermark(event.NewSource(sourceID), sourceID, completeBefore, topic, offs, completeBefore)
	rec, err := w.Record()
	if err != nil {
		t.Fatal(err)
	}
	m := kafka.Message{Key: rec.Key, Value: rec.Value}
	for _, h := range rec.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

// partitionOf is the partition the test's writers put a key in among n:
// murmur2, as jelou-producer's default partitioner.
func partitionOf(key []byte, n int) int {
	ps := make([]int, n)
	for i := range ps {
		ps[i] = i
	}
	return kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: key}, ps...)
}

// produce writes msgs to topic, in order, each to partitionOf its key.
func produce(t *testing.T, brokers []string, topic string, partitions int, msgs ...kafka.Message) {
	t.Helper()
	// A fresh transport: the shared one caches metadata from before the
	// topic was created.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		BatchSize: 10000, Transport: tr,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return partitionOf(m.Key, partitions) })}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}
