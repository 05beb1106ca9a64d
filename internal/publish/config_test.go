package publish

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestConfigDefaults(t *testing.T) {
	d := Config{Brokers: []string{"k:9092"}}.WithDefaults()
	want := Config{
		Brokers: []string{"k:9092"}, Topic: DefaultTopic, ClientID: DefaultClientID, Compression: "zstd",
		Partitioner: "murmur2", BatchSize: 1000, BatchBytes: 1 << 20, Linger: DefaultLinger,
		WriteTimeout: 10 * time.Second, DialTimeout: 5 * time.Second, MaxAttempts: 5,
		TopicPartitions: 6, TopicReplication: 1,
	}
	if d.String() != want.String() {
		t.Fatalf("defaults:\n got %s\nwant %s", d, want)
	}
	if _, ok := d.balancer().(kafka.Murmur2Balancer); !ok {
		t.Errorf("default balancer is %T, want kafka.Murmur2Balancer", d.balancer())
	}
	if got := compressions[d.Compression]; got != kafka.Zstd {
		t.Errorf("default compression is %v, want zstd", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"127.0.0.1:9092"}}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"names in any case", func(c *Config) {
			c.Compression, c.Partitioner = "LZ4", "CRC32"
			c.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "u", Password: "p"}
		}, ""},
		{"none means no SASL", func(c *Config) { c.SASL.Mechanism = "none" }, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers: at least one host:port is required"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"} }, `brokers: "kafka" is not host:port`},
		{"bad compression", func(c *Config) { c.Compression = "brotli" }, `compression: unknown codec "brotli" (want none, gzip, snappy, lz4 or zstd)`},
		{"bad partitioner", func(c *Config) { c.Partitioner = "random" }, `partitioner: unknown partitioner "random" (want murmur2, crc32 or fnv)`},
		{"negative linger", func(c *Config) { c.Linger = -time.Second }, "linger must not be negative"},
		{"bad mechanism", func(c *Config) { c.SASL = SASLConfig{Mechanism: "GSSAPI", Username: "u", Password: "p"} }, `sasl: unknown mechanism "GSSAPI" (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)`},
		{"mechanism without password", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u"} }, "sasl: PLAIN needs both a username and a password"},
		{"credentials without mechanism", func(c *Config) { c.SASL = SASLConfig{Username: "u", Password: "p"} }, "sasl: credentials are set but no mechanism (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "tls: a client certificate needs both a certificate file and a key file"},
		{"two problems", func(c *Config) { c.Brokers = nil; c.Compression = "x" }, "brokers: at least one host:port is required\ncompression: unknown codec \"x\" (want none, gzip, snappy, lz4 or zstd)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want %q", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Fatalf("Validate() =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestConfigNeverShowsPassword(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	c := Config{Brokers: []string{"k:9092"}, SASL: SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "svc", Password: secret}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{c, &c, c.SASL, &c.SASL} {
			if got := fmt.Sprintf(format, v); strings.Contains(got, secret) {
				t.Errorf("Sprintf(%q, %T) shows the password: %s", format, v, got)
			}
		}
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "kafka", c)
	if strings.Contains(logged.String(), secret) {
		t.Errorf("slog shows the password: %s", logged.String())
	}
	for _, v := range []any{c, c.SASL} {
		b, err := json.Marshal(v)
		if err != nil || strings.Contains(string(b), secret) {
			t.Errorf("json.Marshal(%T) = %s, %v: want no password", v, b, err)
		}
	}
	if got := c.String(); !strings.Contains(got, `SCRAM-SHA-512 user="svc" password=<redacted>`) {
		t.Errorf("String() = %s, want the mechanism, user and a redacted password", got)
	}
}

func TestSASLMechanism(t *testing.T) {
	tests := []struct{ mechanism, want string }{
		{"", ""},
		{"plain", "PLAIN"},
		{"SCRAM-SHA-256", "SCRAM-SHA-256"},
		{"scram-sha-512", "SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c := Config{Brokers: []string{"k:1"}}
			if tt.mechanism != "" {
				c.SASL = SASLConfig{Mechanism: tt.mechanism, Username: "u", Password: "p"}
			}
			tr, err := c.Transport()
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if tr.SASL != nil || d.SASLMechanism != nil {
					t.Fatalf("SASL off but transport has %v, dialer %v", tr.SASL, d.SASLMechanism)
				}
				return
			}
			if tr.SASL == nil || tr.SASL.Name() != tt.want {
				t.Fatalf("transport SASL = %v, want %s", tr.SASL, tt.want)
			}
			if d.SASLMechanism == nil || d.SASLMechanism.Name() != tt.want {
				t.Fatalf("dialer SASL = %v, want %s", d.SASLMechanism, tt.want)
			}
		})
	}
}

func TestTLSClientConfig(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tls     TLSConfig
		wantErr string
		check   func(*testing.T, *tls.Config)
	}{
		{name: "off", tls: TLSConfig{}, check: func(t *testing.T, c *tls.Config) {
			if c != nil {
				t.Fatalf("TLS off gave a config")
			}
		}},
		{name: "system roots", tls: TLSConfig{Enabled: true}, check: func(t *testing.T, c *tls.Config) {
			if c == nil || c.RootCAs != nil || len(c.Certificates) != 0 || c.MinVersion != tls.VersionTLS12 {
				t.Fatalf("got %+v, want system roots, no client certificate, TLS 1.2+", c)
			}
		}},
		{name: "CA, client certificate, server name", tls: TLSConfig{CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, ServerName: "kafka.internal"},
			check: func(t *testing.T, c *tls.Config) {
				if c == nil || c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "kafka.internal" || c.InsecureSkipVerify {
					t.Fatalf("got %+v, want CA pool, one client certificate, server name", c)
				}
			}},
		{name: "insecure implies enabled", tls: TLSConfig{InsecureSkipVerify: true}, check: func(t *testing.T, c *tls.Config) {
			if c == nil || !c.InsecureSkipVerify {
				t.Fatalf("got %+v, want InsecureSkipVerify", c)
			}
		}},
		{name: "missing CA file", tls: TLSConfig{CAFile: filepath.Join(dir, "nope.pem")}, wantErr: "tls: read CA file"},
		{name: "CA file without PEM", tls: TLSConfig{CAFile: junk}, wantErr: "holds no PEM certificate"},
		{name: "key does not match", tls: TLSConfig{CertFile: pki.clientCertFile, KeyFile: pki.serverKeyFile}, wantErr: "tls: load client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Brokers: []string{"k:1"}, TLS: tt.tls}
			got, err := c.TLSClientConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
			tr, err := c.Transport()
			if err != nil {
				t.Fatal(err)
			}
			if (tr.TLS == nil) != (got == nil) {
				t.Fatalf("transport TLS = %v, want it to match %v", tr.TLS, got)
			}
		})
	}
}
