package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

func kafkaStore(t *testing.T, topic string, chunkSize int) *KafkaStore {
	t.Helper()
	return kafkaStoreOn(t, kafkatest.Brokers(t), topic, chunkSize) // may start a broker: before the deadline starts
}

// kafkaStoreOn opens a store of topic on brokers, closed when t ends.
func kafkaStoreOn(t *testing.T, brokers []string, topic string, chunkSize int) *KafkaStore {
	t.Helper()
	return kafkaStoreWith(t, KafkaConfig{Brokers: brokers, Topic: topic, ChunkSize: chunkSize})
}

// kafkaStoreWith opens a store configured by cfg, closed when t ends.
func kafkaStoreWith(t *testing.T, cfg KafkaConfig) *KafkaStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := NewKafka(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// produce writes raw records to partition 0 of topic, as a crashed or
// misbehaving writer would have.
func produce(t *testing.T, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(kafkatest.Brokers(t)...), Topic: topic, Balancer: firstPartition{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 2 << 20,
		Transport: &kafka.Transport{}} // a fresh metadata cache that knows the topic
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func chunkMsg(source string, seq uint64, n int, value string) kafka.Message {
	return kafka.Message{Key: []byte(chunkKey(source, slot{0, seq % 2}, n)), Value: []byte(value),
		Headers: []kafka.Header{{Key: seqHeader, Value: []byte(strconv.FormatUint(seq, 10))}}}
}

func TestKafkaTopicCreatedCompacted(t *testing.T) {
	topic := kafkatest.TopicName(t)
	kafkaStore(t, topic, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A fresh transport: kafka.DefaultTransport may cache metadata from
	// before the topic existed.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(kafkatest.Brokers(t)...), Transport: tr}
	res, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"cleanup.policy"},
	}}})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].Error != nil {
		t.Fatalf("describe configs: %v %+v", err, res)
	}
	if e := res.Resources[0].ConfigEntries; len(e) != 1 || e[0].ConfigValue != "compact" {
		t.Errorf("configs %+v, want cleanup.policy=compact", e)
	}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 1 {
		t.Fatalf("metadata: %v %+v, want one partition", err, md)
	}
	// Opening the existing topic again is fine.
	kafkaStore(t, topic, 0)
}

func TestKafkaTopicChecks(t *testing.T) {
	tests := []struct {
		name    string
		configs map[string]string
		chunk   int
		want    string
	}{
		{"not compacted", nil, 0, "cleanup.policy=delete, want compact"},
		{"compact and delete", map[string]string{"cleanup.policy": "compact,delete"}, 0, "cleanup.policy=compact,delete, want compact"},
		{"messages too small for chunks", map[string]string{"cleanup.policy": "compact", "max.message.bytes": "100000"}, 0, "max.message.bytes=100000 is too small"},
		{"chunk size out of range", nil, MaxChunkSize + 1, "chunk size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := kafkatest.Topic(t, 1, tt.configs)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := NewKafka(ctx, KafkaConfig{Brokers: kafkatest.Brokers(t), Topic: topic, ChunkSize: tt.chunk})
			if err == nil {
				s.Close()
				t.Fatal("NewKafka = nil error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), topic) {
				t.Fatalf("NewKafka = %v, want it to name %s and say %q", err, topic, tt.want)
			}
		})
	}
	t.Run("unreachable broker", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := NewKafka(ctx, KafkaConfig{Brokers: []string{"127.0.0.1:1"}}); err == nil || !strings.Contains(err.Error(), DefaultTopic) {
			t.Fatalf("NewKafka with an unreachable broker = %v, want an error naming %s", err, DefaultTopic)
		}
	})
	t.Run("no brokers", func(t *testing.T) {
		if _, err := NewKafka(context.Background(), KafkaConfig{}); err == nil {
			t.Fatal("NewKafka without brokers = nil error")
		}
	})
}

func TestKafkaRecordLayout(t *testing.T) {
	topic := kafkatest.TopicName(t)
	s := kafkaStore(t, topic, 0)
	ctx := context.Background()
	big, small := testCheckpoint("src1", 3<<20, 1), testCheckpoint("src1", 10, 2)
	// Generations 1 (big, parity 1), 2 (big, parity 0), 3 (small, parity 1).
	for _, cp := range []*Checkpoint{big, big, small} {
		if err := s.Save(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := kafkatest.ReadAll(ctx, kafkatest.Brokers(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]event.Record{}
	for _, r := range recs {
		if len(r.Value) > DefaultChunkSize {
			t.Errorf("record %s holds %d bytes, more than a chunk", r.Key, len(r.Value))
		}
		latest[string(r.Key)] = r
	}
	if last := recs[len(recs)-1]; string(last.Key) != "src1" || !strings.Contains(string(last.Value), `"generation":3`) {
		t.Errorf("last record %s = %s, want the manifest of generation 3", last.Key, last.Value)
	}
	bigChunks := (len(mustEncode(t, big)) + DefaultChunkSize - 1) / DefaultChunkSize
	if bigChunks < 2 {
		t.Fatalf("test checkpoint fits %d chunk", bigChunks)
	}
	for i := range bigChunks {
		r, ok := latest[chunkKey("src1", slot{0, 1}, i)]
		switch {
		case !ok:
			t.Errorf("chunk g1/%d never written", i)
		case i == 0 && len(r.Value) == 0:
			t.Errorf("chunk g1/0 is empty, want generation 3's only chunk")
		case i > 0 && r.Value != nil:
			t.Errorf("chunk g1/%d of generation 1 still holds %d bytes, want a tombstone", i, len(r.Value))
		}
		if _, ok := latest[chunkKey("src1", slot{0, 0}, i)]; !ok {
			t.Errorf("chunk g0/%d of generation 2 missing", i)
		}
	}
	assertLoads(t, kafkaStore(t, topic, 0), small)
}

func mustEncode(t *testing.T, cp *Checkpoint) []byte {
	t.Helper()
	b, err := encodeBytes(cp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKafkaTornWrite(t *testing.T) {
	topic := kafkatest.TopicName(t)
	ctx := context.Background()
	old := testCheckpoint("src1", 300<<10, 1)
	if err := kafkaStore(t, topic, 64<<10).Save(ctx, old); err != nil { // generation 1
		t.Fatal(err)
	}
	// A crash while writing generation 2: some of its chunks, no manifest.
	produce(t, topic, chunkMsg("src1", 2, 0, "new-0"), chunkMsg("src1", 2, 1, "new-1"), chunkMsg("src1", 2, 4, "new-4"))

	s := kafkaStore(t, topic, 64<<10)
	got, err := s.Load(ctx, "src1")
	if err != nil {
		t.Fatalf("Load after a torn write: %v", err)
	}
	assertSame(t, got, old)
	// The next save overwrites the torn generation and is read back.
	next := testCheckpoint("src1", 100<<10, 2)
	if err := s.Save(ctx, next); err != nil {
		t.Fatal(err)
	}
	assertLoads(t, kafkaStore(t, topic, 64<<10), next)
}

func TestKafkaSourcesIsolated(t *testing.T) {
	topic := kafkatest.TopicName(t)
	s := kafkaStore(t, topic, 64<<10)
	ctx := context.Background()
	// "src1" is a prefix of "src10": their keys must not mix.
	cps := []*Checkpoint{testCheckpoint("src1", 200<<10, 1), testCheckpoint("src10", 10, 2), testCheckpoint("other", 100<<10, 3)}
	for round := range 2 {
		for _, cp := range cps {
			cp.Cursor = cp.Cursor.Add(time.Duration(round) * time.Hour)
			if err := s.Save(ctx, cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	fresh := kafkaStore(t, topic, 64<<10)
	for _, cp := range cps {
		assertLoads(t, fresh, cp)
	}
	if _, err := fresh.Load(ctx, "src"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(src) = %v, want ErrNotFound", err)
	}
}

func TestKafkaDamaged(t *testing.T) {
	manifestFor := func(src string, gen uint64, chunks int, length int, sum string) string {
		return fmt.Sprintf(`{"format":%q,"version":1,"source":%q,"generation":%d,"chunks":%d,"length":%d,"sha256":%q}`,
			manifestFormat, src, gen, chunks, length, sum)
	}
	zeros := strings.Repeat("0", 64)
	tests := []struct {
		name    string
		records func(good []byte) []kafka.Message
		reason  string // CorruptError reason; empty for a VersionError
	}{
		{"manifest not JSON", func([]byte) []kafka.Message {
			return []kafka.Message{{Key: []byte("src1"), Value: []byte("garbage")}}
		}, "manifest: not valid JSON"},
		{"manifest of another format", func([]byte) []kafka.Message {
			return []kafka.Message{{Key: []byte("src1"), Value: []byte(`{"format":"x"}`)}}
		}, `manifest: format "x"`},
		{"manifest names another source", func([]byte) []kafka.Message {
			return []kafka.Message{{Key: []byte("src1"), Value: []byte(manifestFor("src2", 2, 1, 10, zeros))}}
		}, `manifest: names source "src2"`},
		{"manifest with absurd length", func([]byte) []kafka.Message {
			return []kafka.Message{{Key: []byte("src1"), Value: []byte(manifestFor("src1", 2, 1, MaxSize+1, zeros))}}
		}, "manifest: invalid length"},
		{"manifest of a newer version", func([]byte) []kafka.Message {
			return []kafka.Message{{Key: []byte("src1"), Value: []byte(`{"format":"` + manifestFormat + `","version":9}`)}}
		}, ""},
		{"chunk missing", func([]byte) []kafka.Message {
			return []kafka.Message{{Key: []byte("src1"), Value: []byte(manifestFor("src1", 2, 2, 10, zeros))}}
		}, "chunk src1/g0/0 of sequence 2 is missing"},
		{"chunk altered", func(good []byte) []kafka.Message {
			bad := []byte(string(good))
			bad[len(bad)/2] ^= 1
			return []kafka.Message{chunkMsg("src1", 1, 0, string(bad))}
		}, "checksum mismatch in sequence 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := kafkatest.TopicName(t)
			s := kafkaStore(t, topic, 0)
			ctx := context.Background()
			cp := testCheckpoint("src1", 1000, 1)
			if err := s.Save(ctx, cp); err != nil {
				t.Fatal(err)
			}
			produce(t, topic, tt.records(mustEncode(t, cp))...)
			fresh := kafkaStore(t, topic, 0)
			_, err := fresh.Load(ctx, "src1")
			if tt.reason == "" {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Found != 9 || ve.Topic != topic || ve.Key != "src1" {
					t.Fatalf("Load = %v, want a VersionError for topic %s key src1", err, topic)
				}
				return
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Topic != topic || ce.Key != "src1" || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("Load = %v, want a CorruptError for topic %s key src1 saying %q", err, topic, tt.reason)
			}
			if !strings.Contains(err.Error(), topic) {
				t.Errorf("error %q does not name the topic", err)
			}
		})
	}
}

func TestKafkaSaveAfterDamage(t *testing.T) {
	topic := kafkatest.TopicName(t)
	ctx := context.Background()
	s := kafkaStore(t, topic, 0)
	produce(t, topic, kafka.Message{Key: []byte("src1"), Value: []byte("garbage")})
	// Save cannot tell which generation is safe to overwrite.
	var ce *CorruptError
	if err := s.Save(ctx, testCheckpoint("src1", 10, 1)); !errors.As(err, &ce) {
		t.Fatalf("Save over a corrupt manifest = %v, want a CorruptError", err)
	}
	// Deleting the manifest (a tombstone) is the documented way out.
	produce(t, topic, kafka.Message{Key: []byte("src1")})
	if _, err := s.Load(ctx, "src1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after a tombstone = %v, want ErrNotFound", err)
	}
	cp := testCheckpoint("src1", 10, 2)
	roundTrip(t, s, cp)
}

// TestKafkaLoadDuringLeaderElection: a replica taking a source over while
// the checkpoint partition's leader is being elected (a broker restarted)
// is answered NotLeaderForPartition for a while; Load waits it out instead
// of failing the takeover, and an error Kafka does not call temporary still
// fails at once.
func TestKafkaLoadDuringLeaderElection(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func() *KafkaStore { return kafkaStoreOn(t, c.ListenAddrs(), "checkpoints", 0) }
	want := testCheckpoint("src1", 10<<10, 1)
	if err := open().Save(ctx, want); err != nil {
		t.Fatal(err)
	}

	const notReady = 4
	refused := kafkatest.RefuseListOffsets(c, kerr.NotLeaderForPartition, notReady)
	got, err := open().Load(ctx, "src1")
	if err != nil {
		t.Fatalf("Load failed during a leader election: %v", err)
	}
	if refused() != notReady {
		t.Fatalf("%d ListOffsets requests refused, want %d (the retry was not exercised)", refused(), notReady)
	}
	assertSame(t, got, want)

	refused = kafkatest.RefuseListOffsets(c, kerr.TopicAuthorizationFailed, -1)
	if _, err := open().Load(ctx, "src1"); !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("Load: err = %v, want TopicAuthorizationFailed", err)
	}
	if refused() > 2 { // one pass asks for the first and the last offset
		t.Fatalf("%d ListOffsets requests after a permanent error, want one pass (2)", refused())
	}
}

// TestKafkaAssembleAllocatesWhatArrived: a poisoned manifest announcing
// up to MaxSize bytes over a few small chunks is reported as corrupt
// without a buffer of the announced size being allocated.
func TestKafkaAssembleAllocatesWhatArrived(t *testing.T) {
	s := &KafkaStore{topic: "t"}
	chunks := map[string]chunk{}
	for i := range 3 {
		chunks[chunkKey("src", slot{0, 1}, i)] = chunk{seq: 1, value: []byte("0123456789")}
	}
	tests := []struct {
		name   string
		chunks int
		length int64
		reason string
	}{
		{"length far beyond the chunks", 3, MaxSize, "hold 30 bytes, manifest announces 1073741824"},
		{"chunk count far beyond the chunks", MaxSize / 2, MaxSize, "chunk src/g1/3 of sequence 1 is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &manifest{Sequence: 1, Chunks: tt.chunks, Length: tt.length, SHA256: strings.Repeat("0", 64)}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := s.assemble("src", m, chunks)
			runtime.ReadMemStats(&after)
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("assemble = %v, want a CorruptError saying %q", err, tt.reason)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("assemble allocated %d bytes for 30 bytes of chunks", grew)
			}
		})
	}
}

// TestKafkaDurabilityWarning: a checkpoint topic on one broker, or whose
// writes one broker may acknowledge alone, is reported at start-up; one
// with three replicas and min.insync.replicas=2 is not.
func TestKafkaDurabilityWarning(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		name        string
		replication int
		configs     map[string]string // of a topic created beforehand; nil: NewKafka creates it
		warn        string            // in the log; empty: no warning
	}{
		{"one replica", 1, nil, "replication_factor=1 min_insync_replicas=1"},
		{"min.insync.replicas 1", 3, map[string]string{"cleanup.policy": "compact"}, "replication_factor=3 min_insync_replicas=1"},
		{"durable", 3, map[string]string{"cleanup.policy": "compact", "min.insync.replicas": "2"}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := fmt.Sprintf("checkpoints-%d", i)
			tr := &kafka.Transport{}
			defer tr.CloseIdleConnections()
			client := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Transport: tr}
			if tt.configs != nil {
				if _, err := kafkaadmin.EnsureTopic(ctx, client, kafkaadmin.Spec{Name: topic, Partitions: 1, Replication: tt.replication, Config: tt.configs}); err != nil {
					t.Fatal(err)
				}
			}
			var logged strings.Builder
			s, err := NewKafka(ctx, KafkaConfig{Brokers: c.ListenAddrs(), Topic: topic, Replication: tt.replication,
				Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			switch {
			case tt.warn == "" && logged.Len() > 0:
				t.Errorf("logged %q, want nothing", logged.String())
			case tt.warn != "" && (!strings.Contains(logged.String(), tt.warn) || !strings.Contains(logged.String(), "level=WARN") ||
				!strings.Contains(logged.String(), "topic="+topic)):
				t.Errorf("logged %q, want a warning naming %s and saying %q", logged.String(), topic, tt.warn)
			}
		})
	}
}
