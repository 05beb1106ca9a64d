package checkpoint

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
)

// snapshotSize approximates the dedupe snapshot of one million tracked
// conversations (about 16 bytes each).
const snapshotSize = 16 << 20

func BenchmarkFileSave(b *testing.B)  { benchSave(b, fileBenchStore(b)) }
func BenchmarkFileLoad(b *testing.B)  { benchLoad(b, fileBenchStore(b)) }
func BenchmarkKafkaSave(b *testing.B) { benchSave(b, kafkaBenchStore(b)) }
func BenchmarkKafkaLoad(b *testing.B) { benchLoad(b, kafkaBenchStore(b)) }

// benchSave saves a checkpoint with a snapshotSize dedupe snapshot to s.
func benchSave(b *testing.B, s Store) {
	cp := testCheckpoint("src1", snapshotSize, 1)
	b.SetBytes(snapshotSize)
	for b.Loop() {
		if err := s.Save(context.Background(), cp); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLoad loads, from s, a checkpoint with a snapshotSize dedupe snapshot.
func benchLoad(b *testing.B, s Store) {
	if err := s.Save(context.Background(), testCheckpoint("src1", snapshotSize, 1)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(snapshotSize)
	for b.Loop() {
		if _, err := s.Load(context.Background(), "src1"); err != nil {
			b.Fatal(err)
		}
	}
}

func fileBenchStore(b *testing.B) *FileStore {
	s, err := NewFile(filepath.Join(b.TempDir(), "checkpoint.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func kafkaBenchStore(b *testing.B) *KafkaStore {
	s, err := NewKafka(context.Background(), KafkaConfig{Brokers: kafkatest.Brokers(b), Topic: kafkatest.TopicName(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
