package publish

import (
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// javaMurmur2 is an independent transcription of Apache Kafka's
// org.apache.kafka.common.utils.Utils.murmur2 (Java ints, >>> as uint32
// shifts), used as the reference the writer's partitioner must match.
func javaMurmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := length &^ 3
	switch length % 4 {
	case 3:
		h ^= uint32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// Reference partition functions, one per partitioner name.
var wantPartition = map[string]func(key []byte, n int) int{
	// Java: Utils.toPositive(Utils.murmur2(key)) % numPartitions.
	"murmur2": func(key []byte, n int) int { return int(uint32(javaMurmur2(key))&0x7fffffff) % n },
	// librdkafka "consistent"/"consistent_random": rd_crc32(key) % n.
	"crc32": func(key []byte, n int) int { return int(crc32.ChecksumIEEE(key) % uint32(n)) },
	// Sarama's hash partitioner: |int32(fnv1a32(key)) % n|.
	"fnv": func(key []byte, n int) int {
		h := fnv.New32a()
		h.Write(key)
		p := int32(h.Sum32()) % int32(n)
		if p < 0 {
			p = -p
		}
		return int(p)
	},
}

// kafkaMurmur2Vectors are the hashes asserted by Apache Kafka's own
// UtilsTest.testMurmur2 and by other ports of it (the akka and kafkajs test
// suites), so that the reference above is checked against Java's output.
var kafkaMurmur2Vectors = []struct {
	key  string
	hash int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
	{"1", -1993445489},
	{"12", 126087238},
	{"123", -267702483},
	{"1234", -1614185708},
	{"12345", -1188365604},
}

func TestJavaMurmur2Reference(t *testing.T) {
	for _, v := range kafkaMurmur2Vectors {
		t.Run(v.key, func(t *testing.T) {
			if got := javaMurmur2([]byte(v.key)); got != v.hash {
				t.Fatalf("murmur2(%q) = %d, want %d (Kafka's UtilsTest)", v.key, got, v.hash)
			}
		})
	}
	// toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16.
	if got := wantPartition["murmur2"]([]byte("foobar"), 50); got != 16 {
		t.Fatalf(`partition of "foobar" among 50 = %d, want 16`, got)
	}
}

func TestBalancersMatchReferences(t *testing.T) {
	keys := testKeys()
	for name, want := range wantPartition {
		t.Run(name, func(t *testing.T) {
			b := Config{Partitioner: name}.balancer()
			for _, n := range []int{1, 3, 6, 7, 50} {
				parts := make([]int, n)
				for i := range parts {
					parts[i] = i
				}
				for _, k := range keys {
					if got, w := b.Balance(kafka.Message{Key: k}, parts...), want(k, n); got != w {
						t.Fatalf("%s: key %q among %d partitions went to %d, want %d", name, k, n, got, w)
					}
				}
			}
		})
	}
}

func testKeys() [][]byte {
	var keys [][]byte
	for _, v := range kafkaMurmur2Vectors {
		keys = append(keys, []byte(v.key))
	}
	for i := range 40 {
		keys = append(keys, fmt.Appendf(nil, "company-%d", i))
	}
	// No empty key: librdkafka (crc32) sends empty keys to a random partition.
	return append(keys, []byte("ñandú"), []byte{0xff, 0x00, 0x80})
}

// TestPartitionOnTheBroker publishes keyed records through the real writer
// and checks, on what the broker stored, that each landed where the Java
// client (murmur2), librdkafka (crc32) or Sarama (fnv) would put it.
func TestPartitionOnTheBroker(t *testing.T) {
	const partitions = 6
	keys := testKeys()
	for name, want := range wantPartition {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := kafkatest.Topic(t, partitions, nil)
			p := newPublisher(t, Config{Topic: topic, Partitioner: name})
			recs := make([]event.Record, len(keys))
			for i, k := range keys {
				recs[i] = event.Record{Key: k, Value: fmt.Appendf(nil, "%d", i)}
			}
			if err := p.Publish(testCtx(t), recs); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, topic)
			if len(got) != len(keys) {
				t.Fatalf("read back %d records, want %d", len(got), len(keys))
			}
			used := map[int]bool{}
			for _, r := range got {
				used[r.Partition] = true
				if w := want(r.Key, partitions); r.Partition != w {
					t.Errorf("key %q is on partition %d, want %d", r.Key, r.Partition, w)
				}
			}
			if len(used) < partitions/2 {
				t.Errorf("%d keys used only partitions %v", len(keys), used)
			}
		})
	}
}
