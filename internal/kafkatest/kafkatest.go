package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// Tier names reported by [Tier].
const (
	TierExternal       = "external"
	TierTestcontainers = "testcontainers"
	TierInProcess      = "in-process"
)

// ContainerImage is the image started by the testcontainers tier: the
// Apache Kafka image docker-compose.yml runs (a deploytest test keeps the two
// equal), so scripts/images.sh builds one stand-in for both where no
// registry is reachable.
const ContainerImage = "apache/kafka:4.3.1"

// ContainerLabel marks the container the testcontainers tier starts.
const ContainerLabel = "io.github.jelou-producer.kafkatest"

// ContainerName is the name of that container. Every test binary reuses it
// (testcontainers-go's reuse by name): one broker start serves a whole
// `go test ./...`, and tests use unique topics, so sharing is safe.
const ContainerName = "jelou-producer-kafkatest"

// The container's listeners: clients use 9092, published on a random host
// port and advertised under it; the broker reaches itself on 9094 and the
// KRaft controller listens on 9093.
const (
	clientPort = "9092/tcp"
	envFile    = "/tmp/kafkatest.env"
	// containerTTL bounds the life of the shared container: it stops itself
	// and is removed (AutoRemove), with or without Ryuk.
	containerTTL = "1800"
)

var (
	once    sync.Once
	shared  *Broker
	initErr error
)

// Broker is a running broker of one tier.
type Broker struct {
	// Tier is TierExternal, TierTestcontainers or TierInProcess.
	Tier string
	// Addrs are bootstrap addresses (host:port).
	Addrs []string

	stop func()
}

// Close stops a broker this package started; it leaves an external one alone.
func (b *Broker) Close() {
	if b.stop != nil {
		b.stop()
	}
}

// Shared returns the broker shared by the whole test binary, starting it on
// first use. It fails the test when no tier can be started.
func Shared(t testing.TB) *Broker {
	t.Helper()
	once.Do(func() { shared, initErr = start(context.Background()) })
	if initErr != nil {
		t.Fatalf("kafkatest: %v", initErr)
	}
	return shared
}

// Brokers returns the bootstrap addresses of the shared test broker.
func Brokers(t testing.TB) []string { return Shared(t).Addrs }

// Tier returns which tier the shared broker uses.
func Tier(t testing.TB) string { return Shared(t).Tier }

func start(ctx context.Context) (*Broker, error) {
	if v := strings.TrimSpace(os.Getenv("KAFKA_TEST_BROKERS")); v != "" {
		addrs := strings.Split(v, ",")
		for i := range addrs {
			addrs[i] = strings.TrimSpace(addrs[i])
		}
		if err := waitReachable(ctx, addrs[0], 30*time.Second); err != nil {
			return nil, fmt.Errorf("KAFKA_TEST_BROKERS=%q: %w", v, err)
		}
		return &Broker{Tier: TierExternal, Addrs: addrs}, nil
	}
	tier := os.Getenv("KAFKA_TEST_TIER")
	if tier != "kfake" && tier != TierInProcess {
		b, err := startContainer(ctx)
		if err == nil {
			return b, nil
		}
		if tier == TierTestcontainers {
			return nil, fmt.Errorf("testcontainers tier: %w", err)
		}
	}
	return StartInProcess(1)
}

// dockerAnswers reports whether a Docker engine answers within a short time.
func dockerAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	defer p.Close()
	if err := p.Health(ctx); err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	return nil
}

func startContainer(ctx context.Context) (b *Broker, err error) {
	// The container's port is published on the engine's loopback; without
	// this testcontainers takes the default gateway for the engine's host
	// whenever /.dockerenv exists (as on machines that are containers).
	if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" && !strings.HasPrefix(os.Getenv("DOCKER_HOST"), "tcp://") {
		_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	if err := dockerAnswers(ctx); err != nil {
		return nil, err
	}
	defer func() {
		// testcontainers may panic when the engine disappears mid-start.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("start kafka container: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	c, err := testcontainers.Run(ctx, ContainerImage, containerOptions()...)
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("start kafka container %s: %w", ContainerImage, err)
	}
	addr, err := c.PortEndpoint(ctx, clientPort, "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("kafka container brokers: %w", err)
	}
	// Ready means serving a topic: the first topic of a fresh broker (a new
	// JVM, on a busy machine) can take longer than a test's own deadline.
	if err := CreateTopic(ctx, []string{addr}, "kafkatest.ready", 1, nil); err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("kafka container not serving topics: %w", err)
	}
	// No stop: other test binaries may be using the container. It stops
	// and removes itself after containerTTL.
	return &Broker{Tier: TierTestcontainers, Addrs: []string{addr}}, nil
}

// containerOptions configure the Apache Kafka image the way its own
// entrypoint (/etc/kafka/docker/run) reads it: KAFKA_* variables become
// server.properties. The advertised client address is the host port Docker
// picks, known only after the start, so the entrypoint waits for a file
// that a post-start hook copies in, then starts the broker under a time
// limit.
func containerOptions() []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(clientPort),
		testcontainers.WithEnv(map[string]string{
			"CLUSTER_ID":                                             "jelou-producer-testAAAA",
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://:9092,BROKER://:9094,CONTROLLER://:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME":                       "BROKER",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@localhost:9093",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":                     "3",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
			"KAFKA_HEAP_OPTS":                                        "-Xms256m -Xmx512m",
		}),
		testcontainers.WithLabels(map[string]string{ContainerLabel: "1"}),
		testcontainers.WithReuseByName(ContainerName),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.AutoRemove = true
			// Publish on loopback only; tests reach it at 127.0.0.1.
			hc.PortBindings = network.PortMap{network.MustParsePort(clientPort): {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
		testcontainers.WithEntrypoint("sh", "-c",
			"while [ ! -f "+envFile+" ]; do sleep 0.1; done; . "+envFile+"; exec timeout "+containerTTL+" /etc/kafka/docker/run"),
		testcontainers.WithCmd(),
		testcontainers.WithLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostStarts: []testcontainers.ContainerHook{
				func(ctx context.Context, c testcontainers.Container) error {
					if err := wait.ForMappedPort(clientPort).WaitUntilReady(ctx, c); err != nil {
						return fmt.Errorf("wait for mapped port: %w", err)
					}
					endpoint, err := c.PortEndpoint(ctx, clientPort, "PLAINTEXT")
					if err != nil {
						return fmt.Errorf("port endpoint: %w", err)
					}
					env := "export KAFKA_ADVERTISED_LISTENERS=" + endpoint + ",BROKER://localhost:9094\n"
					if err := c.CopyToContainer(ctx, []byte(env), envFile, 0o644); err != nil {
						return fmt.Errorf("copy %s: %w", envFile, err)
					}
					return wait.ForLog("Kafka Server started").WithStartupTimeout(2*time.Minute).WaitUntilReady(ctx, c)
				},
			},
		}),
	}
}

// StartInProcess starts a new in-process kfake cluster of n brokers on
// 127.0.0.1 with extra kfake options (SASL, TLS, fixed ports, a data
// directory). Tests that stop or restart a broker, or need one configured
// differently, use it instead of the shared one; the caller closes it.
func StartInProcess(n int, opts ...kfake.Opt) (*Broker, error) {
	if n <= 0 {
		n = 1
	}
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(n)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("start in-process broker: %w", err)
	}
	return &Broker{Tier: TierInProcess, Addrs: c.ListenAddrs(), stop: c.Close}, nil
}

func waitReachable(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		var d net.Dialer
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := d.DialContext(cctx, "tcp", addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("broker %s not reachable: %w", addr, last)
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// TopicName returns a topic name unique to this test and run.
func TopicName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeTopicChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 150 {
		name = name[:150]
	}
	return "test." + name + "." + hex.EncodeToString(b[:])
}

// Topic creates a uniquely named topic with the given partitions and
// configuration on the shared broker and returns its name.
func Topic(t testing.TB, partitions int, configs map[string]string) string {
	t.Helper()
	name := TopicName(t)
	if err := CreateTopic(context.Background(), Brokers(t), name, partitions, configs); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	return name
}

// CreateTopic creates topic on the cluster behind brokers (replication 1;
// an existing topic is fine) and waits until every partition's leader
// answers.
func CreateTopic(ctx context.Context, brokers []string, topic string, partitions int, configs map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tr := &kafka.Transport{} // fresh: a long-lived transport caches metadata from before the topic
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	spec := kafkaadmin.Spec{Name: topic, Partitions: partitions, Replication: 1, Config: configs}
	return kafkaadmin.CreateTopic(ctx, c, spec)
}

// ReadAll reads every record of every partition of topic, from the first
// offset to the high watermark at the time of the call.
func ReadAll(ctx context.Context, brokers []string, topic string) ([]event.Record, error) {
	return kafkaadmin.All(ctx, brokers, topic)
}

// RefuseListOffsets makes the in-process cluster c answer the next n
// ListOffsets requests (all of them when n < 0) with err for every
// partition asked, as a broker does while a partition's leader is being
// elected (kerr.NotLeaderForPartition) or a client lacks rights. It returns
// a function that reports how many requests were refused so far.
func RefuseListOffsets(c *kfake.Cluster, err *kerr.Error, n int) (refused func() int) {
	var count atomic.Int64
	c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if n >= 0 && count.Load() >= int64(n) {
			return nil, nil, false
		}
		c.KeepControl()
		count.Add(1)
		req := kreq.(*kmsg.ListOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = err.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func() int { return int(count.Load()) }
}
