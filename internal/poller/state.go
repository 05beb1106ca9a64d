package poller

import (
	"context"
	"fmt"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// The state topic (Config.State) holds, per conversation _id, the record of
// the event of its latest state: the same value and headers as on the event
// topic, keyed by _id, on a compacted topic, so that reading it to the end
// gives one record per conversation in its latest state.
//
// A state is written only when the dedupe index still holds it as the
// conversation's last emitted state ([dedupe.Index.Last]), and the check
// and the write are one step under Poller.stateMu. The index never takes a
// conversation back (active after a terminal state is a regression, not
// emitted; a state is emitted once), so:
//
//   - two batches in flight with states a then b of one conversation (b
//     decided after a): if b's check comes first, a's check sees b and
//     writes nothing; if a's comes first, its write is done before b's
//     begins. The topic never receives a after b.
//   - a replay after a restart publishes again only what was not saved as
//     acknowledged; the API returns the current state, which is never
//     older than what was written.
//
// The writes of one batch come after its events were acknowledged and
// before the committer's ack: the checkpoint passes a row only when both
// its event and its state record are acknowledged. A failed state write
// releases the batch like a failed event write (its events are published
// again, as duplicates with the same ids, by a later read).

// writeStates writes the state records of sent (the emissions whose events
// were acknowledged; records[i] is sent[i]'s event record) whose state is
// still the conversation's last, retrying until they are acknowledged, a
// fatal failure or ctx's end. It does nothing without a state writer.
func (p *Poller) writeStates(ctx context.Context, sent []Emission, records []event.Record) error {
	if p.cfg.State == nil || len(sent) == 0 {
		return nil
	}
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	out, err := stateRecords(sent, records, p.index.Last, p.cfg.StateSchemaID)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	err = p.retry(ctx, "publish", func() error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.PublishTimeout)
		defer cancel()
		return p.cfg.State.Publish(actx, out)
	})
	if err != nil {
		return fmt.Errorf("write %d current states: %w", len(out), err)
	}
	return nil
}

// stateRecords returns the state-topic records of sent: records[i] keyed by
// sent[i]'s conversation id, for the emissions whose state is the one last
// reports as the conversation's last emitted state (an emission overtaken
// by a later state of its conversation, in this batch or another, is left
// out). With schemaID set, a framed value is framed with it instead (the
// state topic's own id in the Schema Registry).
func stateRecords(sent []Emission, records []event.Record, last func(id string) jelou.State, schemaID uint32) ([]event.Record, error) {
	out := make([]event.Record, 0, len(sent))
	for i, e := range sent {
		if last(e.Conversation.ID) != e.Conversation.State {
			continue
		}
		r := records[i]
		r.Key = []byte(e.Conversation.ID)
		if schemaID != 0 {
			v, err := event.Reframe(r.Value, schemaID)
			if err != nil {
				return nil, fmt.Errorf("state record of %q: %w", e.Conversation.ID, err)
			}
			r.Value = v
		}
		out = append(out, r)
	}
	return out, nil
}
