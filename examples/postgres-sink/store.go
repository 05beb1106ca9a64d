package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// ddl creates the sink's tables in schema {s}; it can run again.
const ddl = `
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.conversation_events (
	event_id        text PRIMARY KEY,
	source          text NOT NULL,
	conversation_id text NOT NULL,
	state           text NOT NULL,
	state_rank      smallint NOT NULL,
	previous_state  text,
	company_id      text,
	started_at      timestamptz,
	ended_at        timestamptz,
	observed_at     timestamptz NOT NULL,
	conversation    json NOT NULL,
	kafka_partition integer NOT NULL,
	kafka_offset    bigint NOT NULL,
	inserted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conversation_events_source_start ON {s}.conversation_events (source, started_at);
CREATE INDEX IF NOT EXISTS conversation_events_conversation ON {s}.conversation_events (conversation_id);
CREATE TABLE IF NOT EXISTS {s}.conversations (
	conversation_id text PRIMARY KEY,
	event_id        text NOT NULL,
	source          text NOT NULL,
	state           text NOT NULL,
	state_rank      smallint NOT NULL,
	company_id      text,
	started_at      timestamptz,
	ended_at        timestamptz,
	observed_at     timestamptz NOT NULL,
	conversation    json NOT NULL,
	updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.conversations_hourly (
	source        text NOT NULL,
	hour          timestamptz NOT NULL,
	company_id    text NOT NULL,
	state         text NOT NULL,
	conversations integer NOT NULL,
	computed_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source, hour, company_id, state)
);
CREATE TABLE IF NOT EXISTS {s}.sink_offsets (
	topic       text NOT NULL,
	partition   integer NOT NULL,
	next_offset bigint NOT NULL,
	PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS {s}.sink_watermarks (
	source          text NOT NULL,
	complete_before timestamptz NOT NULL,
	topic           text NOT NULL,
	offsets         jsonb NOT NULL,
	PRIMARY KEY (source, complete_before)
);
CREATE TABLE IF NOT EXISTS {s}.sink_completeness (
	source          text PRIMARY KEY,
	complete_before timestamptz NOT NULL,
	closed_before   timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL DEFAULT now()
);`

const (
	sqlInsertEvent = `INSERT INTO {s}.conversation_events
	(event_id, source, conversation_id, state, state_rank, previous_state, company_id, started_at, ended_at, observed_at, conversation, kafka_partition, kafka_offset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (event_id) DO NOTHING`

	// sqlUpsertState moves a conversation's row only forward: to a higher
	// state rank, or within a rank to a later observation.
	sqlUpsertState = `INSERT INTO {s}.conversations AS c
	(conversation_id, event_id, source, state, state_rank, company_id, started_at, ended_at, observed_at, conversation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (conversation_id) DO UPDATE SET
	event_id = excluded.event_id, source = excluded.source, state = excluded.state, state_rank = excluded.state_rank,
	company_id = excluded.company_id, started_at = excluded.started_at, ended_at = excluded.ended_at,
	observed_at = excluded.observed_at, conversation = excluded.conversation, updated_at = now()
WHERE (excluded.state_rank, excluded.observed_at, excluded.event_id) > (c.state_rank, c.observed_at, c.event_id)`

	sqlInsertWatermark = `INSERT INTO {s}.sink_watermarks (source, complete_before, topic, offsets)
VALUES ($1, $2, $3, $4) ON CONFLICT (source, complete_before) DO NOTHING`

	sqlSaveOffset = `INSERT INTO {s}.sink_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = greatest({s}.sink_offsets.next_offset, excluded.next_offset)`

	// sqlReady finds, per source, the latest pending watermark whose
	// offsets the sink has read up to on every listed partition.
	sqlReady = `WITH ready AS (
	SELECT w.source, max(w.complete_before) AS complete_before
	FROM {s}.sink_watermarks w
	WHERE NOT EXISTS (
		SELECT 1 FROM jsonb_each_text(w.offsets) AS o(part, off)
		LEFT JOIN {s}.sink_offsets p ON p.topic = w.topic AND p.partition = o.part::integer
		WHERE coalesce(p.next_offset, 0) < o.off::bigint)
	GROUP BY w.source)
SELECT r.source, r.complete_before, c.closed_before
FROM ready r LEFT JOIN {s}.sink_completeness c USING (source)
ORDER BY r.source`

	sqlComplete = `INSERT INTO {s}.sink_completeness AS c (source, complete_before, closed_before) VALUES ($1, $2, $3)
ON CONFLICT (source) DO UPDATE SET complete_before = greatest(c.complete_before, excluded.complete_before),
	closed_before = greatest(c.closed_before, excluded.closed_before), updated_at = now()`

	sqlDropSatisfied = `DELETE FROM {s}.sink_watermarks WHERE source = $1 AND complete_before <= $2`

	sqlClosedBefore = `SELECT source, closed_before FROM {s}.sink_completeness WHERE source = ANY($1)`

	// sqlDeleteHours and sqlFillHours recompute the hourly rows of a
	// source's hours in [$2, $3) ($2 NULL: from the beginning) from the
	// history: each conversation counts once, in its start hour, in its
	// latest state (highest rank, then latest observation).
	sqlDeleteHours = `DELETE FROM {s}.conversations_hourly
WHERE source = $1 AND hour >= coalesce($2::timestamptz, '-infinity') AND hour < $3`
	sqlFillHours = `INSERT INTO {s}.conversations_hourly (source, hour, company_id, state, conversations)
SELECT $1, date_trunc('hour', started_at), company_id, state, count(*)
FROM (
	SELECT DISTINCT ON (conversation_id) conversation_id, coalesce(company_id, '') AS company_id, state, started_at
	FROM {s}.conversation_events
	WHERE source = $1 AND started_at >= coalesce($2::timestamptz, '-infinity') AND started_at < $3
	ORDER BY conversation_id, state_rank DESC, observed_at DESC, event_id DESC) latest
GROUP BY 2, 3, 4`
)

// Store is the sink's PostgreSQL side: its tables in one schema, written
// through one connection that holds the schema's advisory lock, so that one
// sink at a time writes them. A Store is not safe for concurrent use.
type Store struct {
	conn   *pgx.Conn
	schema string
}

// ErrLocked is returned by [OpenStore] when another sink holds the schema.
var ErrLocked = errors.New("another sink is writing this schema")

// OpenStore connects to dsn (a PostgreSQL URL or key=value string), takes
// the advisory lock of schema and creates the tables when missing. The
// session's time zone is UTC: hours are UTC hours.
func OpenStore(ctx context.Context, dsn, schema string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "jelou-postgres-sink"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{conn: conn, schema: schema}
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('jelou-postgres-sink:' || $1))`, schema).Scan(&locked); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("lock schema %s: %w", schema, err)
	}
	if !locked {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("schema %s: %w", schema, ErrLocked)
	}
	if _, err := conn.Exec(ctx, s.sql(ddl)); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("create tables in schema %s: %w", schema, err)
	}
	return s, nil
}

// Close closes the connection, which releases the lock.
func (s *Store) Close(ctx context.Context) error { return s.conn.Close(ctx) }

// sql puts the quoted schema name into a statement.
func (s *Store) sql(q string) string {
	return strings.ReplaceAll(q, "{s}", pgx.Identifier{s.schema}.Sanitize())
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

// Positions returns the next offset to read of every partition the sink
// has read from.
func (s *Store) Positions(ctx context.Context) (map[TopicPartition]int64, error) {
	rows, err := s.conn.Query(ctx, s.sql(`SELECT topic, partition, next_offset FROM {s}.sink_offsets`))
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	defer rows.Close()
	out := map[TopicPartition]int64{}
	for rows.Next() {
		var tp TopicPartition
		var off int64
		if err := rows.Scan(&tp.Topic, &tp.Partition, &off); err != nil {
			return nil, fmt.Errorf("read offsets: %w", err)
		}
		out[tp] = off
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return out, nil
}

// Kind says what a record of a batch is.
type Kind int

// The kinds of record.
const (
	// KindSkip is a record that only moves its partition's offset.
	KindSkip Kind = iota
	// KindEvent is a record of the event topic: history (and the current
	// state when no state topic is read).
	KindEvent
	// KindState is a record of the current-state topic.
	KindState
	// KindWatermark is a record of the watermark topic.
	KindWatermark
)

// Item is one decoded record of a batch.
type Item struct {
	TopicPartition
	Offset int64
	Kind   Kind
	// Event is the event of a KindEvent or KindState record.
	Event *event.Event
	// Watermark is the watermark of a KindWatermark record.
	Watermark *event.Watermark
	// DeriveState also upserts a KindEvent record's conversation into the
	// current-state table.
	DeriveState bool
}

// Applied counts what one [Store.Apply] changed.
type Applied struct {
	// Events and Duplicates are the history rows inserted and those
	// already there (a repeated event id).
	Events, Duplicates int
	// States are the current-state rows inserted or moved forward; Stale
	// the records older than the row they met (left alone).
	States, Stale int
	// Watermarks are the watermark records stored as pending.
	Watermarks int
	// Closed are the sources whose closed hours moved, with the new end.
	Closed map[string]time.Time
	// Recomputed counts closed hours recomputed because an event of a
	// conversation that started in them arrived after they were closed.
	Recomputed int
}

// sourceHour is one hour of one source.
type sourceHour struct {
	source string
	hour   time.Time
}

// Apply writes a batch in one transaction: history rows, current states,
// pending watermarks, the partitions' next offsets, then the hours the
// watermarks now close (and closed hours the batch changed) are
// recomputed. eventTopic is the topic watermarks' offsets refer to.
func (s *Store) Apply(ctx context.Context, eventTopic string, items []Item) (Applied, error) {
	a := Applied{Closed: map[string]time.Time{}}
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return a, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	touched := map[sourceHour]bool{}
	next := map[TopicPartition]int64{}
	b := &pgx.Batch{}
	for _, it := range items {
		if it.Offset+1 > next[it.TopicPartition] {
			next[it.TopicPartition] = it.Offset + 1
		}
		switch it.Kind {
		case KindEvent:
			e := it.Event
			d := e.Data
			b.Queue(s.sql(sqlInsertEvent), e.ID, e.Source, e.Subject, string(d.State), rank(d.State), nullString(string(d.PreviousState)),
				nullString(d.CompanyID), nullTime(d.StartAt), nullTime(d.EndAt), e.Time, conversationJSON(d.Conversation), it.Partition, it.Offset,
			).Exec(func(ct pgconn.CommandTag) error {
				if ct.RowsAffected() == 0 {
					a.Duplicates++
					return nil
				}
				a.Events++
				if !d.StartAt.IsZero() {
					touched[sourceHour{e.Source, d.StartAt.UTC().Truncate(time.Hour)}] = true
				}
				return nil
			})
			if it.DeriveState {
				s.queueState(b, e, &a)
			}
		case KindState:
			s.queueState(b, it.Event, &a)
		case KindWatermark:
			w := it.Watermark
			offs := watermarkOffsets(w)
			b.Queue(s.sql(sqlInsertWatermark), w.Source, w.CompleteBefore, w.Topic, offs).Exec(func(ct pgconn.CommandTag) error {
				a.Watermarks += int(ct.RowsAffected())
				return nil
			})
		}
	}
	for tp, off := range next {
		b.Queue(s.sql(sqlSaveOffset), tp.Topic, tp.Partition, off)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return a, fmt.Errorf("write batch: %w", err)
	}
	just, err := s.close(ctx, tx, &a)
	if err != nil {
		return a, err
	}
	if err := s.recomputeTouched(ctx, tx, touched, just, &a); err != nil {
		return a, err
	}
	if err := tx.Commit(ctx); err != nil {
		return a, fmt.Errorf("commit: %w", err)
	}
	return a, nil
}

func (s *Store) queueState(b *pgx.Batch, e *event.Event, a *Applied) {
	d := e.Data
	b.Queue(s.sql(sqlUpsertState), e.Subject, e.ID, e.Source, string(d.State), rank(d.State), nullString(d.CompanyID),
		nullTime(d.StartAt), nullTime(d.EndAt), e.Time, conversationJSON(d.Conversation),
	).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() == 0 {
			a.Stale++
		} else {
			a.States++
		}
		return nil
	})
}

// hourRange is the hours [from, to); from nil means from the beginning.
type hourRange struct {
	from *time.Time
	to   time.Time
}

// close moves each source's closed hours up to the latest watermark the
// sink has read the event topic far enough for, and returns the hours it
// closed.
func (s *Store) close(ctx context.Context, tx pgx.Tx, a *Applied) (map[string]hourRange, error) {
	type ready struct {
		source         string
		completeBefore time.Time
		closedBefore   *time.Time
	}
	rows, err := tx.Query(ctx, s.sql(sqlReady))
	if err != nil {
		return nil, fmt.Errorf("find ready watermarks: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ready, error) {
		var r ready
		err := row.Scan(&r.source, &r.completeBefore, &r.closedBefore)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("find ready watermarks: %w", err)
	}
	just := map[string]hourRange{}
	for _, r := range rs {
		end := r.completeBefore.UTC().Truncate(time.Hour) // hours [h, h+1h) with h+1h <= completeBefore
		closed := end
		if r.closedBefore != nil && !end.After(*r.closedBefore) {
			closed = *r.closedBefore
		} else {
			if err := s.recompute(ctx, tx, r.source, r.closedBefore, end); err != nil {
				return nil, err
			}
			a.Closed[r.source] = end
			just[r.source] = hourRange{from: r.closedBefore, to: end}
		}
		if _, err := tx.Exec(ctx, s.sql(sqlComplete), r.source, r.completeBefore, closed); err != nil {
			return nil, fmt.Errorf("save completeness of %s: %w", r.source, err)
		}
		if _, err := tx.Exec(ctx, s.sql(sqlDropSatisfied), r.source, r.completeBefore); err != nil {
			return nil, fmt.Errorf("drop satisfied watermarks of %s: %w", r.source, err)
		}
	}
	return just, nil
}

// recomputeTouched recomputes the closed hours that gained history rows.
func (s *Store) recomputeTouched(ctx context.Context, tx pgx.Tx, touched map[sourceHour]bool, justClosed map[string]hourRange, a *Applied) error {
	if len(touched) == 0 {
		return nil
	}
	var sources []string
	seen := map[string]bool{}
	for sh := range touched {
		if !seen[sh.source] {
			seen[sh.source] = true
			sources = append(sources, sh.source)
		}
	}
	rows, err := tx.Query(ctx, s.sql(sqlClosedBefore), sources)
	if err != nil {
		return fmt.Errorf("read completeness: %w", err)
	}
	closed := map[string]time.Time{}
	var src string
	var before time.Time
	if _, err := pgx.ForEachRow(rows, []any{&src, &before}, func() error { closed[src] = before; return nil }); err != nil {
		return fmt.Errorf("read completeness: %w", err)
	}
	for sh := range touched {
		c, ok := closed[sh.source]
		if !ok || !sh.hour.Before(c) {
			continue
		}
		if r, ok := justClosed[sh.source]; ok && (r.from == nil || !sh.hour.Before(*r.from)) && sh.hour.Before(r.to) {
			continue // computed by close, after this batch's rows were written
		}
		from := sh.hour
		if err := s.recompute(ctx, tx, sh.source, &from, sh.hour.Add(time.Hour)); err != nil {
			return err
		}
		a.Recomputed++
	}
	return nil
}

// recompute rewrites source's hourly rows of [from, to) (from nil: from
// the beginning) from the history.
func (s *Store) recompute(ctx context.Context, tx pgx.Tx, source string, from *time.Time, to time.Time) error {
	if _, err := tx.Exec(ctx, s.sql(sqlDeleteHours), source, from, to); err != nil {
		return fmt.Errorf("recompute hours of %s: %w", source, err)
	}
	if _, err := tx.Exec(ctx, s.sql(sqlFillHours), source, from, to); err != nil {
		return fmt.Errorf("recompute hours of %s: %w", source, err)
	}
	return nil
}

// rank orders states: a conversation never moves from a terminal state
// back to a non-terminal one.
func rank(s jelou.State) int16 {
	if s.Terminal() {
		return 1
	}
	return 0
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// conversationJSON is the row as text for a json column (kept byte for
// byte); an absent row is JSON null.
func conversationJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// watermarkOffsets returns w's offsets as stored in sink_watermarks: by
// partition number (as text), the largest offset of a partition listed
// twice, so that reaching them is [event.Watermark.Covers].
func watermarkOffsets(w *event.Watermark) map[string]int64 {
	offs := make(map[string]int64, len(w.Offsets))
	for _, o := range w.Offsets {
		k := strconv.Itoa(o.Partition)
		if prev, ok := offs[k]; !ok || o.Offset > prev {
			offs[k] = o.Offset
		}
	}
	return offs
}
