package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestCompleteBefore(t *testing.T) {
	win := func(a, b time.Time) jelou.Window { return jelou.Window{Start: a, End: b} }
	for _, tc := range []struct {
		name string
		cov  checkpoint.Coverage
		open time.Time // the oldest open conversation
		want time.Time
	}{
		{"nothing loaded", checkpoint.Coverage{}, at(1, 0), time.Time{}},
		{"first start: history behind the live range", checkpoint.Coverage{History: []jelou.Window{win(at(0, 0), at(10, 0))}, Live: win(at(10, 0), at(10, 0)), Settled: at(10, 0)}, time.Time{}, at(0, 0)},
		{"caught up: the settled mark", checkpoint.Coverage{Live: win(at(10, 0), at(12, 0)), Settled: at(11, 45)}, time.Time{}, at(11, 45)},
		{"a history gap older than the settled mark", checkpoint.Coverage{History: []jelou.Window{win(at(3, 0), at(5, 0)), win(at(7, 0), at(8, 0))}, Live: win(at(10, 0), at(12, 0)), Settled: at(11, 45)}, time.Time{}, at(3, 0)},
		{"after an outage: the unsettled live range became a gap", checkpoint.Coverage{History: []jelou.Window{win(at(11, 45), at(12, 0))}, Live: win(at(20, 0), at(20, 15)), Settled: at(20, 0)}, time.Time{}, at(11, 45)},
		{"settled mark at the live range's start", checkpoint.Coverage{Live: win(at(10, 0), at(10, 30)), Settled: at(10, 0)}, time.Time{}, at(10, 0)},
		{"a settled mark past the live end is bounded by it", checkpoint.Coverage{Live: win(at(10, 0), at(10, 30)), Settled: at(11, 0)}, time.Time{}, at(10, 30)},
		{"an active conversation holds it back", checkpoint.Coverage{Live: jelou.Window{Start: at(10, 0), End: at(12, 0)}, Settled: at(11, 45)}, at(9, 30), at(9, 30)},
		{"an open conversation after the settled mark", checkpoint.Coverage{Live: jelou.Window{Start: at(10, 0), End: at(12, 0)}, Settled: at(11, 45)}, at(11, 50), at(11, 45)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CompleteBefore(tc.cov, tc.open); !got.Equal(tc.want) {
				t.Errorf("CompleteBefore = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStateRecords tables which emissions of an acknowledged batch reach
// the state topic: those whose state is still the conversation's last.
func TestStateRecords(t *testing.T) {
	em := func(id string, st jelou.State) Emission {
		return Emission{Conversation: jelou.Conversation{ID: id, State: st}}
	}
	for _, tc := range []struct {
		name string
		sent []Emission
		last map[string]jelou.State
		want []string // "id/state" of the records, in order
	}{
		{"each conversation's last", []Emission{em("a", "active"), em("b", "closed")}, map[string]jelou.State{"a": "active", "b": "closed"}, []string{"a/active", "b/closed"}},
		{"overtaken in the batch", []Emission{em("a", "active"), em("a", "closed")}, map[string]jelou.State{"a": "closed"}, []string{"a/closed"}},
		{"overtaken by another batch in flight", []Emission{em("a", "active"), em("b", "active")}, map[string]jelou.State{"a": "closed", "b": "active"}, []string{"b/active"}},
		{"a second terminal state replaces the first", []Emission{em("a", "resolved")}, map[string]jelou.State{"a": "resolved"}, []string{"a/resolved"}},
		{"evicted meanwhile", []Emission{em("a", "closed")}, map[string]jelou.State{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records := make([]event.Record, len(tc.sent))
			for i, e := range tc.sent {
				records[i] = event.Record{Key: []byte("company"), Value: []byte(e.Conversation.ID + "/" + string(e.Conversation.State)),
					Headers: []event.Header{{Key: "content-type", Value: []byte("x")}}}
			}
			got, err := stateRecords(tc.sent, records, func(id string) jelou.State { return tc.last[id] }, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d records, want %v", len(got), tc.want)
			}
			for i, r := range got {
				if string(r.Value) != tc.want[i] {
					t.Errorf("record %d is %s, want %s", i, r.Value, tc.want[i])
				}
				if id, _, _ := bytesCut(r.Value); string(r.Key) != id {
					t.Errorf("record %d keyed %q, want the conversation id %q", i, r.Key, id)
				}
				if len(r.Headers) != 1 {
					t.Errorf("record %d lost the event's headers", i)
				}
			}
		})
	}
}

// TestStateRecordsFramedWithTheStateSubjectsID: with the Schema Registry,
// a state record carries the state topic's schema id (a registry may give
// the same schema another id under the state topic's subject), the same
// payload, and the event record is left as it was.
func TestStateRecordsFramedWithTheStateSubjectsID(t *testing.T) {
	sent := []Emission{{Conversation: jelou.Conversation{ID: "a", State: "active"}}}
	payload := []byte(`{"id":"x"}`)
	value := append(event.AppendFrame(nil, 7), payload...)
	records := []event.Record{{Key: []byte("company"), Value: value}}
	last := func(string) jelou.State { return "active" }
	for _, tc := range []struct {
		name   string
		id     uint32
		wantID uint32
	}{
		{"registry off for the state topic", 0, 7},
		{"same id", 7, 7},
		{"the state subject's own id", 9, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stateRecords(sent, records, last, tc.id)
			if err != nil || len(got) != 1 {
				t.Fatalf("stateRecords = %d records, %v", len(got), err)
			}
			id, p, err := event.Unframe(got[0].Value)
			if err != nil || id != tc.wantID || string(p) != string(payload) {
				t.Errorf("state value framed with %d (%v), payload %s; want %d and %s", id, err, p, tc.wantID, payload)
			}
			if id, _, _ := event.Unframe(records[0].Value); id != 7 {
				t.Errorf("the event record's value was changed to id %d", id)
			}
		})
	}
	bad := []event.Record{{Value: []byte{event.MagicByte, 0}}}
	if _, err := stateRecords(sent, bad, last, 9); err == nil {
		t.Error("a malformed frame was passed on")
	}
}

func bytesCut(b []byte) (string, string, bool) {
	for i, c := range b {
		if c == '/' {
			return string(b[:i]), string(b[i+1:]), true
		}
	}
	return string(b), "", false
}

// memWriter keeps what it was given; fail makes Publish fail.
type memWriter struct {
	mu   sync.Mutex
	recs []event.Record
	fail bool
}

func (w *memWriter) Publish(_ context.Context, records []event.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return errors.New("broker down")
	}
	w.recs = append(w.recs, records...)
	return nil
}

func (w *memWriter) watermarks(t *testing.T) []time.Time {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for _, r := range w.recs {
		wm, err := event.DecodeWatermark(r.Value, r.Headers)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != "s" || wm.Subject != "s" || wm.Topic != "events" || len(wm.Offsets) != 2 {
			t.Fatalf("watermark %+v keyed %q", wm, r.Key)
		}
		out = append(out, wm.CompleteBefore)
	}
	return out
}

// TestWatermarkOnlyMovesForward drives the committer's bound and mark as
// saves do: a watermark is written after a save whose coverage moved the
// bound past the last one recorded (this life's or the loaded
// checkpoint's), never at or before it, and a failed write is tried again
// at the next save.
func TestWatermarkOnlyMovesForward(t *testing.T) {
	live := func(settled time.Time) checkpoint.Coverage {
		return checkpoint.Coverage{Live: jelou.Window{Start: at(0, 0), End: at(23, 0)}, Settled: settled}
	}
	type step struct {
		cov   checkpoint.Coverage // what the save stored
		fail  bool                // the watermark write fails
		wrote time.Time           // the watermark written, zero for none
	}
	for _, tc := range []struct {
		name   string
		marked time.Time // loaded from the checkpoint
		steps  []step
	}{
		{"moves with the settled mark", time.Time{}, []step{{cov: live(at(1, 0)), wrote: at(1, 0)}, {cov: live(at(1, 0))}, {cov: live(at(2, 0)), wrote: at(2, 0)}}},
		{"never back", time.Time{}, []step{{cov: live(at(5, 0)), wrote: at(5, 0)}, {cov: live(at(3, 0))}, {cov: live(at(5, 0))}, {cov: live(at(6, 0)), wrote: at(6, 0)}}},
		{"not at or before the loaded one (an owner change, a restart, a bound recorded but never written)", at(8, 0), []step{{cov: live(at(7, 0))}, {cov: live(at(8, 0))}, {cov: live(at(8, 30)), wrote: at(8, 30)}}},
		{"a failed write is tried again", time.Time{}, []step{{cov: live(at(1, 0)), fail: true}, {cov: live(at(1, 0)), wrote: at(1, 0)}}},
		{"nothing before the source's start", time.Time{}, []step{{cov: checkpoint.Coverage{History: []jelou.Window{{Start: t0, End: at(10, 0)}}, Live: jelou.Window{Start: at(10, 0), End: at(10, 0)}, Settled: at(10, 0)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &memWriter{}
			offsets := func(context.Context) ([]event.PartitionOffset, error) {
				return []event.PartitionOffset{{Partition: 0, Offset: 3}, {Partition: 1, Offset: 9}}, nil
			}
			c := &committer{cfg: Config{Source: "s", Start: t0, Watermarks: w, EventOffsets: offsets, EventTopic: "events"}.WithDefaults(), obs: NopObserver{}, marked: tc.marked, written: tc.marked}
			var want []time.Time
			for i, s := range tc.steps {
				w.fail = s.fail
				c.marked = c.bound(s.cov, time.Time{}) // what a save of s.cov records
				err := c.mark(context.Background())
				if s.fail != (err != nil) {
					t.Fatalf("step %d: mark = %v", i, err)
				}
				if !s.wrote.IsZero() {
					want = append(want, s.wrote)
				}
				got := w.watermarks(t)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("step %d: watermarks %v, want %v", i, got, want)
				}
			}
		})
	}
}

// TestTheLastWatermarkIsKeptInTheCheckpoint: a save after a watermark
// records it, and a poller loading that checkpoint (after a restart, or
// the replica taking the source over) starts from it.
func TestTheLastWatermarkIsKeptInTheCheckpoint(t *testing.T) {
	store := &memStore{}
	p := loadedPoller(t, store, time.Hour, time.Nanosecond)
	w := &memWriter{}
	p.commit.cfg.Watermarks, p.commit.cfg.EventTopic = w, "events"
	p.commit.cfg.EventOffsets = func(context.Context) ([]event.PartitionOffset, error) {
		return []event.PartitionOffset{{Partition: 0, Offset: 1}, {Partition: 1, Offset: 1}}, nil
	}
	var rows []jelou.Conversation
	for range 3 {
		rows = append(rows, commitWindow(t, p))
	}
	if err := p.commit.save(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	// The first row is active: the bound stays at its start.
	if got := w.watermarks(t); len(got) != 1 || !got[0].Equal(rows[0].StartAt) {
		t.Fatalf("watermarks %v, want one at the start of the active conversation %v", got, rows[0].StartAt)
	}
	for _, r := range rows {
		r.State = jelou.StateClosed
		p.index.Observe(r.ID, r.State, r.StartAt)
		p.commit.ack([]Emission{{Conversation: r}})
	}
	if err := p.commit.save(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	got := w.watermarks(t)[1:]
	if len(got) != 1 || !got[0].Equal(at(3, 0)) {
		t.Fatalf("watermarks %v, want one at the end of the third window, %v", got, at(3, 0))
	}
	// The checkpoint records the bound it was saved with.
	var saved savedWatermark
	if err := json.Unmarshal(store.last.Extra[ExtraWatermark], &saved); err != nil || !saved.CompleteBefore.Equal(at(3, 0)) {
		t.Fatalf("checkpoint extra %s (%v), want the watermark %v", store.last.Extra[ExtraWatermark], err, at(3, 0))
	}
	// A window holding an active conversation moves the bound up to its start.
	commitWindow(t, p)
	if err := p.commit.save(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if got := w.watermarks(t); len(got) != 3 || !got[2].Equal(at(3, 0).Add(time.Minute)) {
		t.Fatalf("watermarks %v, want a third at the new active conversation's start %v", got, at(3, 0).Add(time.Minute))
	}
	next := loadedPoller(t, store, time.Hour, time.Nanosecond)
	if want := at(3, 0).Add(time.Minute); !next.commit.marked.Equal(want) || !next.commit.written.Equal(want) {
		t.Errorf("the next owner loaded %v (written %v) as the last watermark, want %v", next.commit.marked, next.commit.written, want)
	}
}
