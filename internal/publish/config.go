package publish

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Defaults applied to zero fields of [Config] by [Config.WithDefaults]. The
// batch defaults were measured with BenchmarkPublish (see the package
// README).
const (
	DefaultTopic            = "jelou.conversations.attended"
	DefaultClientID         = "jelou-producer"
	DefaultCompression      = "zstd"
	DefaultPartitioner      = "murmur2"
	DefaultBatchSize        = 1000
	DefaultBatchBytes       = 1 << 20
	DefaultLinger           = time.Millisecond
	DefaultWriteTimeout     = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultMaxAttempts      = 5
	DefaultTopicPartitions  = 6
	DefaultTopicReplication = 1
)

// Compression codec names accepted by [Config.Compression].
var compressions = map[string]kafka.Compression{
	"none":   0,
	"gzip":   kafka.Gzip,
	"snappy": kafka.Snappy,
	"lz4":    kafka.Lz4,
	"zstd":   kafka.Zstd,
}

// Partitioner names accepted by [Config.Partitioner].
var partitioners = []string{"murmur2", "crc32", "fnv"}

// SASL mechanism names accepted by [SASLConfig.Mechanism].
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Config configures a [Publisher]. The zero value of every field means its
// default; only Brokers is required. A Config is a plain value: copy it
// freely, and print it (String redacts the SASL password).
type Config struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string
	// Topic is the topic records are written to.
	// Default: "jelou.conversations.attended".
	Topic string
	// ClientID names this client in broker logs and quotas.
	// Default: "jelou-producer".
	ClientID string
	// Compression is the codec of record batches: none, gzip, snappy, lz4
	// or zstd. Default: zstd.
	Compression string
	// Partitioner picks a partition from a record's key: murmur2 (the Java
	// client's default for keyed records), crc32 (librdkafka's default,
	// "consistent_random") or fnv (Sarama's hash partitioner).
	// Default: murmur2.
	Partitioner string
	// BatchSize is the most records sent to one partition in one request.
	// Default: 1000.
	BatchSize int
	// BatchBytes is the most bytes sent to one partition in one request; a
	// single larger record fails with KindTooLarge. Keep it at or below the
	// topic's max.message.bytes. Default: 1 MiB (1048576).
	BatchBytes int64
	// Linger is how long the writer waits for more records before it sends
	// a batch that is not full (kafka-go's BatchTimeout). Publish is
	// synchronous, so every call waits up to Linger once: longer values only
	// add latency and, measured, cut throughput. Default: 1ms.
	Linger time.Duration
	// WriteTimeout bounds one produce request and each metadata or admin
	// request. Default: 10s.
	WriteTimeout time.Duration
	// DialTimeout bounds opening a connection, including the TLS handshake
	// and SASL authentication. Default: 5s.
	DialTimeout time.Duration
	// MaxAttempts is how many times the writer tries a batch that fails
	// with a retriable error before Publish returns it. Default: 5.
	MaxAttempts int
	// TLS configures encryption. Default: off.
	TLS TLSConfig
	// SASL configures authentication. Default: off.
	SASL SASLConfig
	// TopicCreate lets New create the topic when it does not exist.
	// Default: false (a missing topic is an error).
	TopicCreate bool
	// TopicPartitions is the partition count of a topic New creates.
	// Default: 6.
	TopicPartitions int
	// TopicReplication is the replication factor of a topic New creates.
	// Default: 1.
	TopicReplication int
	// TopicConfig holds topic-level configuration for a topic New creates,
	// for example {"retention.ms": "604800000"}. Default: none (broker
	// defaults).
	TopicConfig map[string]string
	// Observer receives a measurement of every Publish call, for metrics.
	// Default: none.
	Observer Observer
	// Logger receives the writer's retry and error messages at Warn level.
	// Default: none.
	Logger *slog.Logger
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	// Enabled turns TLS on. It is implied by any of the fields below.
	Enabled bool
	// CAFile is a PEM file of certificate authorities that sign the broker
	// certificates. Default: the system pool.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that require mutual TLS. Set both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in broker certificates.
	// Default: the host of each broker address.
	ServerName string
	// InsecureSkipVerify disables verification of broker certificates. For
	// tests only: it allows a man in the middle.
	InsecureSkipVerify bool
}

// on reports whether TLS is requested.
func (t TLSConfig) on() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// SASLConfig configures SASL authentication. Its String and GoString never
// show the password.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case).
	// Default: "" or "none" (no SASL).
	Mechanism string
	// Username and Password are the credentials; both are required when
	// Mechanism is set.
	Username string
	Password string
}

// String describes the SASL settings without the password.
func (s SASLConfig) String() string {
	if m := strings.TrimSpace(s.Mechanism); m == "" || strings.EqualFold(m, "none") {
		return "off"
	}
	pw := "<empty>"
	if s.Password != "" {
		pw = "<redacted>"
	}
	return fmt.Sprintf("%s user=%q password=%s", strings.ToUpper(s.Mechanism), s.Username, pw)
}

// GoString is String, so that %#v cannot print the password either.
func (s SASLConfig) GoString() string { return "publish.SASLConfig{" + s.String() + "}" }

// LogValue is String, so that log/slog cannot print the password either.
func (s SASLConfig) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the settings with the password redacted.
func (s SASLConfig) MarshalJSON() ([]byte, error) {
	type redacted SASLConfig
	r := redacted(s)
	if r.Password != "" {
		r.Password = "<redacted>"
	}
	return json.Marshal(r)
}

// String describes the configuration on one line, without the password.
func (c Config) String() string {
	d := c.WithDefaults()
	tlsDesc := "off"
	if d.TLS.on() {
		tlsDesc = fmt.Sprintf("on ca=%q cert=%q server_name=%q insecure=%t", d.TLS.CAFile, d.TLS.CertFile, d.TLS.ServerName, d.TLS.InsecureSkipVerify)
	}
	create := "off"
	if d.TopicCreate {
		create = fmt.Sprintf("partitions=%d replication=%d config=%v", d.TopicPartitions, d.TopicReplication, d.TopicConfig)
	}
	return fmt.Sprintf("brokers=%v topic=%q client_id=%q compression=%s partitioner=%s batch_size=%d batch_bytes=%d linger=%s write_timeout=%s dial_timeout=%s max_attempts=%d acks=all tls=[%s] sasl=[%s] topic_create=[%s]",
		d.Brokers, d.Topic, d.ClientID, d.Compression, d.Partitioner, d.BatchSize, d.BatchBytes, d.Linger,
		d.WriteTimeout, d.DialTimeout, d.MaxAttempts, tlsDesc, d.SASL, create)
}

// GoString is String, so that %#v cannot print the password either.
func (c Config) GoString() string { return "publish.Config{" + c.String() + "}" }

// LogValue is String, so that log/slog cannot print the password either.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// WithDefaults returns c with every zero field set to its Default constant
// and the names normalised. It is the one place the defaults are applied:
// New, Validate, String and Transport all work on its result. It does not
// check c; Validate does.
func (c Config) WithDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	c.Compression = strings.ToLower(strings.TrimSpace(c.Compression))
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	c.Partitioner = strings.ToLower(strings.TrimSpace(c.Partitioner))
	if c.Partitioner == "" {
		c.Partitioner = DefaultPartitioner
	}
	c.SASL.Mechanism = strings.ToUpper(strings.TrimSpace(c.SASL.Mechanism))
	if c.SASL.Mechanism == "NONE" {
		c.SASL.Mechanism = ""
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = DefaultTopicPartitions
	}
	if c.TopicReplication == 0 {
		c.TopicReplication = DefaultTopicReplication
	}
	return c
}

// Validate reports every problem of the configuration at once, in
// sentences naming the field and the value at fault. It does not read the
// TLS files; New does.
func (c Config) Validate() error {
	d := c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(d.Brokers) == 0 {
		bad("brokers: at least one host:port is required")
	}
	for _, b := range d.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad("brokers: %q is not host:port", b)
		}
	}
	if _, ok := compressions[d.Compression]; !ok {
		bad("compression: unknown codec %q (want none, gzip, snappy, lz4 or zstd)", c.Compression)
	}
	if !slices.Contains(partitioners, d.Partitioner) {
		bad("partitioner: unknown partitioner %q (want murmur2, crc32 or fnv)", c.Partitioner)
	}
	for name, v := range map[string]int64{
		"batch size": int64(d.BatchSize), "batch bytes": d.BatchBytes, "linger": int64(d.Linger),
		"write timeout": int64(d.WriteTimeout), "dial timeout": int64(d.DialTimeout), "max attempts": int64(d.MaxAttempts),
		"topic partitions": int64(d.TopicPartitions), "topic replication": int64(d.TopicReplication),
	} {
		if v < 0 {
			bad("%s must not be negative", name)
		}
	}
	switch d.SASL.Mechanism {
	case "":
		if d.SASL.Username != "" || d.SASL.Password != "" {
			bad("sasl: credentials are set but no mechanism (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if d.SASL.Username == "" || d.SASL.Password == "" {
			bad("sasl: %s needs both a username and a password", d.SASL.Mechanism)
		}
	default:
		bad("sasl: unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASL.Mechanism)
	}
	if (d.TLS.CertFile == "") != (d.TLS.KeyFile == "") {
		bad("tls: a client certificate needs both a certificate file and a key file")
	}
	if d.TopicReplication > 32767 {
		bad("topic replication %d is too large", d.TopicReplication)
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// TLSClientConfig loads the TLS settings into a *tls.Config, or returns nil
// when TLS is off.
func (c Config) TLSClientConfig() (*tls.Config, error) {
	t := c.TLS
	if !t.on() {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit opt-in, documented as tests only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load client certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// SASLMechanism returns the kafka-go SASL mechanism, or nil when SASL is off.
func (c Config) SASLMechanism() (sasl.Mechanism, error) {
	s := c.WithDefaults().SASL
	switch s.Mechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256, SASLScramSHA512:
		algo := scram.SHA256
		if s.Mechanism == SASLScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("sasl: %s: %w", s.Mechanism, err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("sasl: unknown mechanism %q", s.Mechanism)
	}
}

// security returns c with defaults applied and its TLS and SASL settings.
func (c Config) security() (Config, *tls.Config, sasl.Mechanism, error) {
	d := c.WithDefaults()
	tlsCfg, err := d.TLSClientConfig()
	if err != nil {
		return d, nil, nil, err
	}
	mech, err := d.SASLMechanism()
	if err != nil {
		return d, nil, nil, err
	}
	return d, tlsCfg, mech, nil
}

// Transport returns a kafka-go transport with the client id, timeouts, TLS
// and SASL of c, whose metadata cache only tracks c's topic. The writer of a
// [Publisher] uses one; other Kafka clients of the service (a checkpoint
// topic, say) can build their own from the same Config.
func (c Config) Transport() (*kafka.Transport, error) {
	d, tlsCfg, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		ClientID:       d.ClientID,
		DialTimeout:    d.DialTimeout,
		TLS:            tlsCfg,
		SASL:           mech,
		MetadataTopics: []string{d.Topic},
	}, nil
}

// Dialer returns a kafka-go dialer with the same client id, timeout, TLS and
// SASL as [Config.Transport], for connection-level APIs such as
// kafka.Reader or kafka.Conn.
func (c Config) Dialer() (*kafka.Dialer, error) {
	d, tlsCfg, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      d.ClientID,
		Timeout:       d.DialTimeout,
		DualStack:     true,
		TLS:           tlsCfg,
		SASLMechanism: mech,
	}, nil
}

// balancer returns the kafka-go balancer of the configured partitioner.
func (c Config) balancer() kafka.Balancer {
	switch c.WithDefaults().Partitioner {
	case "crc32":
		return kafka.CRC32Balancer{}
	case "fnv":
		return &kafka.Hash{}
	default:
		return kafka.Murmur2Balancer{}
	}
}
