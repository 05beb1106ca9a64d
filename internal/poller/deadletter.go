package poller

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Headers of a dead-letter record. Its key is the conversation id (none
// when the row has no _id) and its value the row as the API returned it.
const (
	// HeaderDLQReason names why the row could not be published: one of
	// DeadLetterTooLarge, RejectMissingID, RejectMissingState,
	// RejectUnencodable.
	HeaderDLQReason = "jelou.dlq.reason"
	// HeaderDLQError is the error's message.
	HeaderDLQError = "jelou.dlq.error"
	// HeaderDLQSource is the source's checkpoint id.
	HeaderDLQSource = "jelou.dlq.source"
	// HeaderDLQWindow is the window the row was read in, start/end in
	// RFC 3339.
	HeaderDLQWindow = "jelou.dlq.window"
	// HeaderDLQObserved is when the row was read, RFC 3339 with
	// nanoseconds.
	HeaderDLQObserved = "jelou.dlq.observed"
	// HeaderDLQLane is the lane whose query read the row.
	HeaderDLQLane = "jelou.dlq.lane"
	// HeaderDLQTruncated, present only when the value was cut to fit the
	// writer's limit, holds the row's full length in bytes.
	HeaderDLQTruncated = "jelou.dlq.truncated"
)

// UndeliverableError stops a poller without a dead-letter writer on a row
// that can never be published: trying again cannot help, and skipping it
// would lose it silently.
type UndeliverableError struct {
	// Reason is why (DeadLetterTooLarge).
	Reason string
	// Conversation is the row's _id.
	Conversation string
	// Window is the window the row was read in.
	Window jelou.Window
	// Err is the cause.
	Err error
}

// Error describes the row and says how to move such rows aside.
func (e *UndeliverableError) Error() string {
	return fmt.Sprintf("conversation %q of window %s cannot be published (%s): %v; set KAFKA_DLQ_TOPIC to move such rows aside",
		e.Conversation, e.Window, e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *UndeliverableError) Unwrap() error { return e.Err }

// Temporary reports false: the same row fails the same way.
func (e *UndeliverableError) Temporary() bool { return false }

// deadLetter is a row that can never be published, and why.
type deadLetter struct {
	row      jelou.Conversation
	reason   string // DeadLetterTooLarge or a Reject* reason
	err      error
	window   jelou.Window
	observed time.Time
	lane     Lane
}

// record is the dead-letter record of d: the raw row keyed by its id,
// cut to fit limit bytes (0: none), with headers naming the error.
func (d deadLetter) record(source string, limit int) event.Record {
	hs := []event.Header{
		{Key: HeaderDLQReason, Value: []byte(d.reason)},
		{Key: HeaderDLQError, Value: []byte(d.err.Error())},
		{Key: HeaderDLQSource, Value: []byte(source)},
		{Key: HeaderDLQWindow, Value: []byte(d.window.String())},
		{Key: HeaderDLQObserved, Value: []byte(d.observed.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderDLQLane, Value: []byte(d.lane.String())},
	}
	rec := event.Record{Value: d.row.Raw, Headers: hs, Time: d.observed}
	if d.row.ID != "" {
		rec.Key = []byte(d.row.ID)
	}
	// The truncation header is counted before it is added, with room for
	// its value, and so is the header of the batch that carries the record
	// (a broker counts it against message.max.bytes: Kafka's default,
	// 1 MiB + 12, refuses a record cut to exactly 1 MiB).
	if over := recordSize(rec) + 4 + len(HeaderDLQTruncated) + 20 + recordBatchOverhead - limit; limit > 0 && over > 0 {
		n := max(len(rec.Value)-over, 0)
		rec.Headers = append(rec.Headers, event.Header{Key: HeaderDLQTruncated, Value: []byte(strconv.Itoa(len(rec.Value)))})
		rec.Value = rec.Value[:n]
	}
	return rec
}

// recordBatchOverhead is the size of a record batch's header (Kafka's
// message format v2), which a broker counts with the records.
const recordBatchOverhead = 61

// recordSize is the bytes the writer counts for rec against its limit
// (kafka-go's framing: 22 bytes, and a varint before the header count and
// each header's key and value, counted as 2 bytes each).
func recordSize(rec event.Record) int {
	n := 22 + len(rec.Key) + len(rec.Value) + 1
	for _, h := range rec.Headers {
		n += 4 + len(h.Key) + len(h.Value)
	}
	return n
}

// refusal is a record the writer or the broker refused as too large: its
// index in the batch, and the error of its write alone.
type refusal struct {
	index int
	err   error
}

// write publishes records, retrying what may pass, and returns the
// records (indices from base) the writer or the broker refused as too
// large: a batch refused so is written again in halves until the refused
// records are alone. Records of a refused batch may have been written
// already: they are written again (duplicates, as after any failed write).
func (p *Poller) write(ctx context.Context, records []event.Record, base int) ([]refusal, error) {
	err := p.retry(ctx, "publish", func() error {
		// Not cancelled with ctx: a stop lets the attempt finish (within
		// PublishTimeout) rather than leave a batch half-written.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.PublishTimeout)
		defer cancel()
		return p.out.Publish(actx, records)
	})
	switch {
	case err == nil:
		return nil, nil
	case publish.KindOf(err) != publish.KindTooLarge:
		return nil, err
	case len(records) == 1:
		return []refusal{{index: base, err: err}}, nil
	}
	mid := len(records) / 2
	a, err := p.write(ctx, records[:mid], base)
	if err != nil {
		return nil, err
	}
	b, err := p.write(ctx, records[mid:], base+mid)
	return append(a, b...), err
}

// deadLetters disposes of rows that can never be published. With a
// dead-letter writer, it writes them there (retrying until acknowledged,
// a fatal failure or ctx's end) and counts them by reason. Without one,
// rows without an id, a state or an encoding are logged and counted as
// rejected, and a row too large to publish is an [*UndeliverableError].
func (p *Poller) deadLetters(ctx context.Context, dead []deadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	if p.cfg.DeadLetters == nil {
		var undeliverable error
		for _, d := range dead {
			switch d.reason {
			case DeadLetterTooLarge:
				if undeliverable == nil {
					undeliverable = &UndeliverableError{Reason: d.reason, Conversation: d.row.ID, Window: d.window, Err: d.err}
				}
			case RejectUnencodable:
				p.cfg.Logger.Error("row cannot be encoded as an event; skipped", "conversation", d.row.ID, "state", string(d.row.State), "err", d.err)
				fallthrough
			default:
				p.obs.Rejected(d.reason)
			}
		}
		return undeliverable
	}
	records := make([]event.Record, len(dead))
	for i, d := range dead {
		records[i] = d.record(p.cfg.Source, p.cfg.MaxRecordBytes)
	}
	err := p.retry(ctx, "publish", func() error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.PublishTimeout)
		defer cancel()
		return p.cfg.DeadLetters.Publish(actx, records)
	})
	if err != nil {
		return fmt.Errorf("write %d dead letters: %w", len(records), err)
	}
	for _, d := range dead {
		p.obs.DeadLettered(d.reason)
		p.cfg.Logger.Warn("row cannot be published; written to the dead-letter topic", "conversation", d.row.ID, "reason", d.reason, "window", d.window.String(), "err", d.err)
	}
	return nil
}
