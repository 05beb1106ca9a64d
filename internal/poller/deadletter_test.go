package poller

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// memStore is an in-memory checkpoint.Store that loads what it saved.
type memStore struct {
	mu   sync.Mutex
	last *checkpoint.Checkpoint
}

func (s *memStore) Load(context.Context, string) (*checkpoint.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return nil, checkpoint.ErrNotFound
	}
	return s.last, nil
}
func (s *memStore) Save(_ context.Context, cp *checkpoint.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = cp
	return nil
}
func (s *memStore) Close() error { return nil }

// cursor is the saved cursor, zero before any save.
func (s *memStore) cursor() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return time.Time{}
	}
	return s.last.Cursor
}

// bigRow is a conversation whose raw JSON has about n bytes of padding
// that does not compress.
func bigRow(id string, n int) jelou.Conversation {
	pad := make([]byte, n*3/4)
	_, _ = rand.Read(pad)
	raw := fmt.Sprintf(`{"_id":%q,"state":"active","pad":%q}`, id, base64.StdEncoding.EncodeToString(pad))
	return jelou.Conversation{ID: id, State: jelou.StateActive, StartAt: at(0, 20), Raw: []byte(raw)}
}

// dlqRig is a real broker with an event topic and a dead-letter topic.
type dlqRig struct {
	brokers      []string
	topic, dlq   string
	events, dead *publish.Publisher
}

// newDLQRig creates the topics (the event topic with topicCfg) and their
// publishers, without compression, with batchBytes and dlqBatchBytes (0:
// the default).
func newDLQRig(t *testing.T, topicCfg, dlqCfg map[string]string, batchBytes, dlqBatchBytes int64) *dlqRig {
	t.Helper()
	r := &dlqRig{brokers: kafkatest.Brokers(t), topic: kafkatest.Topic(t, 2, topicCfg), dlq: kafkatest.Topic(t, 1, dlqCfg)}
	pub := func(topic string, batchBytes int64) *publish.Publisher {
		p, err := publish.New(context.Background(), publish.Config{Brokers: r.brokers, Topic: topic, BatchBytes: batchBytes, Compression: "none"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	r.events, r.dead = pub(r.topic, batchBytes), pub(r.dlq, dlqBatchBytes)
	return r
}

// read returns the records of topic by key ("" for none).
func (r *dlqRig) read(t *testing.T, topic string) map[string]event.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafkatest.ReadAll(ctx, r.brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]event.Record, len(recs))
	for _, rec := range recs {
		if rec.Value == nil {
			continue
		}
		if topic == r.dlq {
			out[string(rec.Key)] = rec
			continue
		}
		e, err := rec.Event()
		if err != nil {
			t.Fatalf("record at %d/%d of the event topic does not decode: %v", rec.Partition, rec.Offset, err)
		}
		out[e.Subject] = rec
	}
	return out
}

// header returns rec's header k.
func header(rec event.Record, k string) string {
	for _, h := range rec.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// backfill runs a poller over rows as a backfill of [t0, t0+1h].
func backfill(cfg Config, out Writer, st checkpoint.Store, rows ...jelou.Conversation) error {
	cfg.Source, cfg.Start, cfg.End, cfg.Window = "s", t0, at(1, 0), time.Hour
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, time.Millisecond
	f := &scriptedFetcher{results: []*jelou.WindowResult{{Conversations: rows, Pages: 1, Drift: jelou.Drift{PagesFetched: 1, PagesExpected: 1}}}}
	p, err := New(cfg, f, out, st)
	if err != nil {
		return err
	}
	return p.Run(context.Background())
}

func TestRowsThatCannotBePublishedGoToTheDeadLetterTopic(t *testing.T) {
	tests := []struct {
		name                      string
		topicCfg                  map[string]string // the event topic's
		dlqCfg                    map[string]string // the dead-letter topic's
		batchBytes, dlqBatchBytes int64             // the publishers'
		maxRecord                 int               // the poller's MaxRecordBytes
		truncated                 bool              // the dead letter's value is cut to fit
	}{
		{name: "over the producer's limit, known before writing", batchBytes: 4096, dlqBatchBytes: 4096, maxRecord: 4096, truncated: true},
		// Kafka's default message.max.bytes is 1 MiB + 12, KAFKA_BATCH_BYTES's 1 MiB:
		// the dead letter cut to the producer's limit must fit with its batch's header.
		{name: "over the producer's limit, the broker's at Kafka's default", dlqCfg: map[string]string{"max.message.bytes": "4108"},
			batchBytes: 4096, dlqBatchBytes: 4096, maxRecord: 4096, truncated: true},
		{name: "refused by the producer", batchBytes: 4096},
		{name: "refused by the broker", topicCfg: map[string]string{"max.message.bytes": "4096"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newDLQRig(t, tt.topicCfg, tt.dlqCfg, tt.batchBytes, tt.dlqBatchBytes)
			big := bigRow("big", 16<<10)
			noID := jelou.Conversation{State: jelou.StateActive, StartAt: at(0, 30), Raw: []byte(`{"state":"active"}`)}
			unencodable := jelou.Conversation{ID: "u1", State: jelou.StateActive, StartAt: at(0, 40), Raw: []byte(`{"_id":`)}
			a2 := jelou.Conversation{ID: "a2", State: jelou.StateClosed, StartAt: at(0, 50), Raw: []byte(`{"_id":"a2"}`)}
			obs := &dlqObserver{dead: map[string]int{}, rejected: map[string]int{}}
			st := &memStore{}
			err := backfill(Config{DeadLetters: r.dead, MaxRecordBytes: tt.maxRecord, Observer: obs}, r.events, st, a1(jelou.StateActive), big, noID, unencodable, a2)
			if err != nil {
				t.Fatal(err)
			}
			events := r.read(t, r.topic)
			if len(events) != 2 || events["a1"].Value == nil || events["a2"].Value == nil {
				t.Errorf("event topic holds %d records %v, want a1 and a2", len(events), keys(events))
			}
			letters := r.read(t, r.dlq)
			want := map[string]string{"big": DeadLetterTooLarge, "": RejectMissingID, "u1": RejectUnencodable}
			if len(letters) != len(want) {
				t.Errorf("dead-letter topic holds %v, want %v", keys(letters), want)
			}
			for key, reason := range want {
				rec, ok := letters[key]
				if !ok {
					t.Errorf("no dead letter keyed %q", key)
					continue
				}
				if got := header(rec, HeaderDLQReason); got != reason {
					t.Errorf("dead letter %q: reason %q, want %q", key, got, reason)
				}
				for _, h := range []string{HeaderDLQError, HeaderDLQSource, HeaderDLQWindow, HeaderDLQObserved, HeaderDLQLane} {
					if header(rec, h) == "" {
						t.Errorf("dead letter %q: no %s header", key, h)
					}
				}
				if got := header(rec, HeaderDLQWindow); got != win(t0, at(1, 0)).String() {
					t.Errorf("dead letter %q: window %q", key, got)
				}
				if got := header(rec, HeaderDLQSource); got != "s" {
					t.Errorf("dead letter %q: source %q", key, got)
				}
				if _, err := time.Parse(time.RFC3339Nano, header(rec, HeaderDLQObserved)); err != nil {
					t.Errorf("dead letter %q: observed: %v", key, err)
				}
			}
			raw := map[string][]byte{"big": big.Raw, "": noID.Raw, "u1": unencodable.Raw}
			for key, v := range raw {
				got := letters[key]
				switch {
				case key == "big" && tt.truncated:
					if header(got, HeaderDLQTruncated) != fmt.Sprint(len(v)) || len(got.Value) == 0 || !strings.HasPrefix(string(v), string(got.Value)) {
						t.Errorf("dead letter %q: %d bytes, truncated header %q; want a prefix of the %d-byte row", key, len(got.Value), header(got, HeaderDLQTruncated), len(v))
					}
				case string(got.Value) != string(v):
					t.Errorf("dead letter %q: value of %d bytes, want the raw row of %d", key, len(got.Value), len(v))
				}
			}
			if obs.dead[DeadLetterTooLarge] != 1 || obs.dead[RejectMissingID] != 1 || obs.dead[RejectUnencodable] != 1 || len(obs.rejected) != 0 {
				t.Errorf("dead letters counted %v, rejected %v; want one of each reason, none rejected", obs.dead, obs.rejected)
			}
			if c := st.cursor(); !c.Equal(at(1, 0)) {
				t.Errorf("saved cursor %v, want the window's end", c)
			}
		})
	}
}

func keys(m map[string]event.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// dlqObserver counts dead letters and rejected rows by reason.
type dlqObserver struct {
	NopObserver
	mu             sync.Mutex
	dead, rejected map[string]int
}

func (o *dlqObserver) DeadLettered(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dead[reason]++
}

func (o *dlqObserver) Rejected(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejected[reason]++
}

// failingWriter fails every call with err, counting them.
type failingWriter struct {
	err   error
	calls int
}

func (f *failingWriter) Publish(context.Context, []event.Record) error {
	f.calls++
	return f.err
}

func TestTheCheckpointPassesADeadLetterOnlyOnceItIsWritten(t *testing.T) {
	r := newDLQRig(t, nil, nil, 4096, 4096)
	big := bigRow("big", 16<<10)
	st := &memStore{}
	broken := &failingWriter{err: &publish.WriteError{Topic: r.dlq, Records: 1, Failed: 1, Kind: publish.KindAuthorization, Err: errors.New("not authorized")}}
	err := backfill(Config{DeadLetters: broken, MaxRecordBytes: 4096}, r.events, st, a1(jelou.StateActive), big)
	if err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("Run = %v, want the dead-letter write's failure", err)
	}
	if broken.calls == 0 {
		t.Fatal("the dead-letter writer was not called")
	}
	if c := st.cursor(); c.After(t0) {
		t.Fatalf("saved cursor %v passed the window whose dead letter failed", c)
	}
	// Restarted with a working dead-letter topic: the rows were released,
	// so the window is read and dead-lettered again, then passed.
	if err := backfill(Config{DeadLetters: r.dead, MaxRecordBytes: 4096}, r.events, st, a1(jelou.StateActive), big); err != nil {
		t.Fatal(err)
	}
	if letters := r.read(t, r.dlq); len(letters) != 1 || header(letters["big"], HeaderDLQReason) != DeadLetterTooLarge {
		t.Fatalf("dead-letter topic holds %v, want the big row", keys(letters))
	}
	if c := st.cursor(); !c.Equal(at(1, 0)) {
		t.Fatalf("saved cursor %v, want the window's end once its dead letter was written", c)
	}
}

func TestARowTooLargeWithoutADeadLetterTopicStopsThePoller(t *testing.T) {
	r := newDLQRig(t, nil, nil, 4096, 0)
	obs := &dlqObserver{dead: map[string]int{}, rejected: map[string]int{}}
	noID := jelou.Conversation{State: jelou.StateActive, StartAt: at(0, 30), Raw: []byte(`{"state":"active"}`)}
	st := &memStore{}
	for _, max := range []int{0, 4096} { // refused by the writer; known before writing
		err := backfill(Config{MaxRecordBytes: max, Observer: obs}, r.events, st, a1(jelou.StateActive), bigRow("big", 16<<10), noID)
		var u *UndeliverableError
		if !errors.As(err, &u) || u.Reason != DeadLetterTooLarge || u.Conversation != "big" || u.Window != win(t0, at(1, 0)) {
			t.Fatalf("MaxRecordBytes %d: Run = %v, want an UndeliverableError for the big row", max, err)
		}
		if !strings.Contains(err.Error(), "set KAFKA_DLQ_TOPIC to move such rows aside") || !fatal(err) || publish.KindOf(err) != publish.KindTooLarge {
			t.Fatalf("MaxRecordBytes %d: error %q is not a fatal too_large write error saying how to move the row aside", max, err)
		}
	}
	if events := r.read(t, r.topic); events["a1"].Value == nil {
		t.Errorf("event topic holds %v, want a1 published beside the big row", keys(events))
	}
	if c := st.cursor(); c.After(t0) {
		t.Errorf("saved cursor %v passed the window of the undeliverable row", c)
	}
	if obs.rejected[RejectMissingID] != 2 || len(obs.dead) != 0 {
		t.Errorf("rejected %v, dead letters %v; want the row without _id rejected on each run, as without a dead-letter topic before", obs.rejected, obs.dead)
	}
}
