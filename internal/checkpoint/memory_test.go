package checkpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
)

// backendMemory is a backend built for tests only: checkpoints kept in
// process memory under Spec.Topic. It shows what a third backend takes: a
// Store (here also Fencing) and its entry in backends; the service opens
// it through Open like the others.
const backendMemory = "memory"

func init() {
	backends[backendMemory] = backend{open: openMemory, where: func(spec Spec, _ string) string { return "memory " + spec.Topic }}
}

// memoryTopics holds the memory backend's checkpoints by Spec.Topic, so
// that a store opened again on one topic (a restart) finds them.
var memoryTopics sync.Map // topic → *memoryTopic

// memoryTopic is the encoded checkpoint of each source on one topic.
type memoryTopic struct {
	mu      sync.Mutex
	records map[string]memoryRecord // by source
}

type memoryRecord struct {
	stamp stamp  // the fencing stamp it was saved with; zero without one
	data  []byte // the encoded checkpoint
}

// memoryStore is the memory backend's Store.
type memoryStore struct {
	name     string
	topic    *memoryTopic
	accounts map[string]string // see File.Account
}

var (
	_ Store      = (*memoryStore)(nil)
	_ Fencing    = (*memoryStore)(nil)
	_ epochStore = (*memoryStore)(nil)
)

func openMemory(_ context.Context, spec Spec) (Store, error) {
	if spec.Topic == "" {
		return nil, errors.New("memory checkpoint: no topic given")
	}
	t, _ := memoryTopics.LoadOrStore(spec.Topic, &memoryTopic{records: map[string]memoryRecord{}})
	return &memoryStore{name: spec.Topic, topic: t.(*memoryTopic), accounts: spec.accounts()}, nil
}

func (s *memoryStore) Load(ctx context.Context, source string) (*Checkpoint, error) {
	cp, _, err := s.load(ctx, source)
	return cp, err
}

// load is Load that also returns the stamp of the checkpoint it read.
func (s *memoryStore) load(ctx context.Context, source string) (*Checkpoint, stamp, error) {
	if err := cmp.Or(validSource(source), ctx.Err()); err != nil {
		return nil, stamp{}, fmt.Errorf("load memory checkpoint %s: %w", s.name, err)
	}
	s.topic.mu.Lock()
	rec, ok := s.topic.records[source]
	s.topic.mu.Unlock()
	if !ok {
		return nil, stamp{}, fmt.Errorf("memory checkpoint %s key %s: %w", s.name, source, ErrNotFound)
	}
	cp, err := decode(rec.data)
	if err != nil {
		return nil, stamp{}, locate(err, "", s.name, source)
	}
	if cp.Source != source {
		return nil, stamp{}, &SourceMismatchError{Topic: s.name, Key: source, Want: source, Found: cp.Source}
	}
	if err := checkAccount(cp, s.accounts[source]); err != nil {
		return nil, stamp{}, locate(err, "", s.name, source)
	}
	return cp, rec.stamp, nil
}

func (s *memoryStore) Save(ctx context.Context, cp *Checkpoint) error {
	return s.save(ctx, cp, stamp{})
}

// save stores cp with st unless a checkpoint of a higher epoch, or of an
// equal one by another member, is there: like the Kafka backend, the
// highest epoch wins, its first member keeps it, and a stale owner's save
// is ignored.
func (s *memoryStore) save(ctx context.Context, cp *Checkpoint, st stamp) error {
	if err := cmp.Or(validCheckpoint(cp), ctx.Err()); err != nil {
		return fmt.Errorf("save memory checkpoint %s: %w", s.name, err)
	}
	data, err := encodeBytes(withAccount(cp, s.accounts[cp.Source]))
	if err != nil {
		return fmt.Errorf("save memory checkpoint %s: %w", s.name, err)
	}
	s.topic.mu.Lock()
	defer s.topic.mu.Unlock()
	rec, ok := s.topic.records[cp.Source]
	if !ok || st.epoch > rec.stamp.epoch || (st.epoch == rec.stamp.epoch && st.member == rec.stamp.member) {
		s.topic.records[cp.Source] = memoryRecord{stamp: st, data: data}
	}
	return nil
}

func (s *memoryStore) Close() error { return nil }

// Fenced implements Fencing with a FencedStore, as KafkaStore does.
func (s *memoryStore) Fenced(owner Owner) Store { return fence(s, owner) }

func (s *memoryStore) current(_ context.Context, source string) (stamp, error) {
	if err := validSource(source); err != nil {
		return stamp{}, err
	}
	s.topic.mu.Lock()
	defer s.topic.mu.Unlock()
	return s.topic.records[source].stamp, nil
}
