package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// broker is the Kafka cluster of one test: a jelou-kafka process of its
// own, or the external cluster named by KAFKA_TEST_BROKERS.
type broker struct {
	t        *testing.T
	addrs    []string
	external bool
	dir      string // log directory
	dataDir  string // jelou-kafka -data-dir
	proc     *proc
}

// startBroker returns the test's broker, starting jelou-kafka unless
// KAFKA_TEST_BROKERS is set.
func startBroker(t *testing.T, dir string) *broker {
	t.Helper()
	if env := os.Getenv("KAFKA_TEST_BROKERS"); env != "" {
		return &broker{t: t, addrs: strings.Split(env, ","), external: true}
	}
	b := &broker{t: t, dir: dir, dataDir: filepath.Join(dir, "kafka-data")}
	b.start("127.0.0.1:0")
	return b
}

func (b *broker) start(addr string) {
	b.t.Helper()
	p, got := startProc(b.t, b.dir, "jelou-kafka", bins.kafka,
		[]string{"-addr", addr, "-data-dir", b.dataDir}, nil, "jelou-kafka listening on ")
	b.proc = p
	b.addrs = strings.Split(got, ",")
}

// stop stops jelou-kafka with SIGTERM (it persists to its data dir).
func (b *broker) stop() {
	b.t.Helper()
	if code, _, err := b.proc.signal(syscall.SIGTERM, 30*time.Second); err != nil || code != 0 {
		b.t.Fatalf("jelou-kafka stop: exit %d, %v", code, err)
	}
}

// restart starts jelou-kafka again on the same address and data dir.
func (b *broker) restart() {
	b.t.Helper()
	b.start(b.addrs[0])
}

var unsafeTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]`)

// topicName is a topic name unique to this test and run.
func topicName(t *testing.T, suffix string) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return "e2e." + unsafeTopic.ReplaceAllString(t.Name(), "_") + "." + suffix + "." + hex.EncodeToString(r[:])
}

// published is one record read back and decoded.
type published struct {
	Partition int
	Offset    int64
	Event     *event.Event
}

// readTopic reads and decodes every record of topic; a record that does
// not decode fails the test.
func (b *broker) readTopic(topic string) []published {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs, err := kafkaadmin.All(ctx, b.addrs, topic)
	if err != nil {
		b.t.Fatalf("read topic %s: %v", topic, err)
	}
	out := make([]published, 0, len(recs))
	for _, r := range recs {
		ev, err := r.Event()
		if err != nil {
			b.t.Fatalf("record %d/%d of %s does not decode: %v", r.Partition, r.Offset, topic, err)
		}
		out = append(out, published{Partition: r.Partition, Offset: r.Offset, Event: ev})
	}
	return out
}

// watermarks returns the high watermark of every partition of topic
// (empty when the topic does not exist yet).
func (b *broker) watermarks(topic string) map[int]int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", b.addrs[0])
	if err != nil {
		b.t.Fatalf("watermarks of %s: %v", topic, err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	out := map[int]int64{}
	if err != nil {
		return out // not created yet
	}
	for _, p := range parts {
		c, err := kafka.DialLeader(ctx, "tcp", net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port)), topic, p.ID)
		if err != nil {
			b.t.Fatalf("watermark of %s/%d: %v", topic, p.ID, err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			b.t.Fatalf("watermark of %s/%d: %v", topic, p.ID, err)
		}
		out[p.ID] = last
	}
	return out
}
