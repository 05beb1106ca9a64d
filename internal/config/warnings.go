package config

import (
	"net"
	"net/url"
	"strings"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Warnings returns one line for each setting that is valid but unsafe, for
// the caller to log at start-up: a Jelou base URL over plain http (the
// client id and secret travel in clear; loopback hosts, which tests and
// the demo use, are exempt), SASL PLAIN without TLS (the Kafka password
// travels in clear) and KAFKA_TLS_INSECURE_SKIP_VERIFY (any broker
// certificate is accepted). Call it on a configuration Validate accepted.
func (c Config) Warnings() []string {
	var out []string
	for _, src := range c.Sources() {
		name := "JELOU_BASE_URL"
		if src.Named {
			name = SourcePrefix(src.ID) + "BASE_URL"
		}
		if u, err := url.Parse(src.Jelou.BaseURL); err == nil && u.Scheme == "http" && !loopback(u.Hostname()) {
			out = append(out, name+" is plain http ("+jelou.RedactURL(src.Jelou.BaseURL)+"): the API credentials travel unencrypted; use https")
		}
	}
	if c.Kafka.KafkaSASL.Mechanism == "plain" && !c.Kafka.KafkaTLS.Enabled {
		out = append(out, "KAFKA_SASL_MECHANISM is plain without KAFKA_TLS_ENABLED: the Kafka password travels unencrypted; enable TLS or use scram-sha-512")
	}
	if c.Kafka.KafkaTLS.InsecureSkipVerify {
		out = append(out, "KAFKA_TLS_INSECURE_SKIP_VERIFY is true: any broker certificate is accepted, so the connection can be intercepted; use it in tests only")
	}
	return append(out, c.registryWarnings()...)
}

// loopback reports whether host names this machine: localhost (and its
// subdomains) or a loopback address.
func loopback(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
