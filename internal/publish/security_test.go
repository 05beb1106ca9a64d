package publish

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// SASL users of the test brokers: scripts/kafka.sh creates the same ones on
// its SASL_PLAINTEXT listener (KAFKA_TEST_SASL_BROKERS); otherwise the test
// starts an in-process broker with them.
const (
	adminUser, adminPassword   = "admin", "admin-secret"   // super user
	readerUser, readerPassword = "reader", "reader-secret" // no ACLs
)

var mechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

func saslBrokers(t *testing.T) []string {
	t.Helper()
	if v := strings.TrimSpace(os.Getenv("KAFKA_TEST_SASL_BROKERS")); v != "" {
		return strings.Split(v, ",")
	}
	opts := []kfake.Opt{kfake.EnableSASL(), kfake.EnableACLs()}
	for _, m := range mechanisms {
		opts = append(opts, kfake.Superuser(m, adminUser, adminPassword), kfake.User(m, readerUser, readerPassword))
	}
	b, err := kafkatest.StartInProcess(1, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs
}

// countRecords reads the end offset of partition 0 through cfg's dialer.
func countRecords(t *testing.T, cfg Config) int64 {
	t.Helper()
	d, err := cfg.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	parts, err := d.LookupPartitions(ctx, "tcp", cfg.Brokers[0], cfg.WithDefaults().Topic)
	if err != nil || len(parts) != 1 {
		t.Fatalf("lookup partitions: %v, %v", parts, err)
	}
	leader := net.JoinHostPort(parts[0].Leader.Host, strconv.Itoa(parts[0].Leader.Port))
	conn, err := d.DialLeader(ctx, "tcp", leader, parts[0].Topic, 0)
	if err != nil {
		t.Fatalf("dial leader through the configured dialer: %v", err)
	}
	defer conn.Close()
	_, last, err := conn.ReadOffsets()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func TestSASL(t *testing.T) {
	brokers := saslBrokers(t)
	for _, mech := range mechanisms {
		t.Run(mech, func(t *testing.T) {
			topic := kafkatest.TopicName(t)
			admin := Config{Brokers: brokers, Topic: topic, TopicCreate: true, TopicPartitions: 1,
				SASL: SASLConfig{Mechanism: mech, Username: adminUser, Password: adminPassword}}
			p := newPublisher(t, admin)
			if err := p.Publish(testCtx(t), sampleRecords(5)); err != nil {
				t.Fatalf("Publish as %s: %v", adminUser, err)
			}
			if n := countRecords(t, admin); n != 5 {
				t.Fatalf("topic holds %d records, want 5", n)
			}
			if err := p.Ping(testCtx(t)); err != nil {
				t.Fatalf("Ping: %v", err)
			}

			t.Run("wrong password", func(t *testing.T) {
				const wrong = "not-the-Password-42"
				cfg := admin
				cfg.SASL.Password = wrong
				_, err := New(testCtx(t), cfg)
				if err == nil {
					t.Fatalf("New succeeded with a wrong password")
				}
				// Apache Kafka answers with SASL_AUTHENTICATION_FAILED; the
				// in-process broker just closes the connection, which a
				// client cannot tell from a network failure.
				if os.Getenv("KAFKA_TEST_SASL_BROKERS") != "" && (KindOf(err) != KindAuthorization || IsRetriable(err)) {
					t.Fatalf("New = %v, want a fatal authorization error", err)
				}
				if strings.Contains(err.Error(), wrong) {
					t.Fatalf("the error shows the password: %v", err)
				}
			})
			t.Run("no ACL", func(t *testing.T) {
				cfg := admin
				cfg.TopicCreate = false
				cfg.SASL = SASLConfig{Mechanism: mech, Username: readerUser, Password: readerPassword}
				_, err := New(testCtx(t), cfg)
				var te *TopicError
				if !errors.As(err, &te) || te.Kind != KindAuthorization || !strings.Contains(err.Error(), "not authorized") {
					t.Fatalf("New = %v, want a *TopicError saying not authorized", err)
				}
			})
		})
	}
}

// TestSASLDescribeButNotWrite gives the reader the right to see the topic
// but not to write it: New passes and Publish fails for good.
func TestSASLDescribeButNotWrite(t *testing.T) {
	brokers := saslBrokers(t)
	topic := kafkatest.TopicName(t)
	admin := Config{Brokers: brokers, Topic: topic, TopicCreate: true, TopicPartitions: 1,
		SASL: SASLConfig{Mechanism: SASLScramSHA512, Username: adminUser, Password: adminPassword}}
	newPublisher(t, admin)
	tr, err := admin.Transport()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}
	res, err := client.CreateACLs(testCtx(t), &kafka.CreateACLsRequest{ACLs: []kafka.ACLEntry{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ResourcePatternType: kafka.PatternTypeLiteral,
		Principal: "User:" + readerUser, Host: "*", Operation: kafka.ACLOperationTypeDescribe, PermissionType: kafka.ACLPermissionTypeAllow,
	}}})
	if err == nil {
		err = errors.Join(res.Errors...)
	}
	if err != nil {
		t.Fatalf("create ACL: %v", err)
	}

	reader := admin
	reader.TopicCreate = false
	reader.SASL = SASLConfig{Mechanism: SASLScramSHA512, Username: readerUser, Password: readerPassword}
	var p *Publisher
	// The broker applies a new ACL a moment after it accepted it.
	for deadline := time.Now().Add(15 * time.Second); ; {
		p, err = New(testCtx(t), reader)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("New as a reader allowed to describe the topic: %v", err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Second)
	defer cancel()
	err = p.Publish(ctx, sampleRecords(2))
	var we *WriteError
	if !errors.As(err, &we) || we.Kind != KindAuthorization || we.Retriable || !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("Publish = %v, want a fatal authorization *WriteError", err)
	}
}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	b, err := kafkatest.StartInProcess(1, kfake.TLS(pki.serverTLS))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	good := Config{Brokers: b.Addrs, Topic: "secure", TopicCreate: true, TopicPartitions: 1, DialTimeout: 2 * time.Second,
		TLS: TLSConfig{CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile}}

	p := newPublisher(t, good)
	if err := p.Publish(testCtx(t), sampleRecords(3)); err != nil {
		t.Fatalf("Publish over mutual TLS: %v", err)
	}
	if n := countRecords(t, good); n != 3 {
		t.Fatalf("topic holds %d records, want 3", n)
	}

	other := newTestPKI(t)
	tests := []struct {
		name string
		edit func(*TLSConfig)
		kind Kind // "" means any error
	}{
		{"unknown CA", func(c *TLSConfig) { c.CAFile = other.caFile }, KindTLS},
		{"wrong server name", func(c *TLSConfig) { c.ServerName = "kafka.example.com" }, KindTLS},
		{"no client certificate", func(c *TLSConfig) { c.CertFile, c.KeyFile = "", "" }, KindTLS},
		{"plaintext to a TLS listener", func(c *TLSConfig) { *c = TLSConfig{} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg.TLS)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := New(ctx, cfg)
			if err == nil {
				t.Fatalf("New succeeded")
			}
			if tt.kind != "" && KindOf(err) != tt.kind {
				t.Fatalf("New = %v (kind %s), want kind %s", err, KindOf(err), tt.kind)
			}
			t.Logf("%s: %v", KindOf(err), err)
		})
	}
}
