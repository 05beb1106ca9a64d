package config

import (
	"slices"
	"testing"
)

// TestWarnings loads settings that are valid but unsafe, and safe ones
// that look alike, and checks the warnings, one line each.
func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{name: "defaults"},
		{name: "https", vars: map[string]string{"JELOU_BASE_URL": "https://api.example.com"}},
		{name: "loopback http", vars: map[string]string{"JELOU_BASE_URL": "http://127.0.0.1:8080"}},
		{name: "localhost http", vars: map[string]string{"JELOU_BASE_URL": "http://LOCALHOST:8080/"}},
		{name: "ipv6 loopback http", vars: map[string]string{"JELOU_BASE_URL": "http://[::1]:8080"}},
		{
			name: "plain http",
			vars: map[string]string{"JELOU_BASE_URL": "http://user:pw@api.example.com"},
			want: []string{"JELOU_BASE_URL is plain http (http://user:xxxxx@api.example.com): the API credentials travel unencrypted; use https"},
		},
		{
			name: "a source's plain http",
			vars: map[string]string{
				"SOURCES": "acme,local", "SOURCE_ACME_BASE_URL": "http://10.0.0.1", "SOURCE_LOCAL_BASE_URL": "http://127.0.0.2",
				"SOURCE_ACME_CLIENT_ID": "a", "SOURCE_ACME_CLIENT_SECRET": "s", "SOURCE_LOCAL_CLIENT_ID": "l", "SOURCE_LOCAL_CLIENT_SECRET": "s",
			},
			want: []string{"SOURCE_ACME_BASE_URL is plain http (http://10.0.0.1): the API credentials travel unencrypted; use https"},
		},
		{
			name: "sasl plain without tls",
			vars: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			want: []string{"KAFKA_SASL_MECHANISM is plain without KAFKA_TLS_ENABLED: the Kafka password travels unencrypted; enable TLS or use scram-sha-512"},
		},
		{
			name: "sasl plain with tls",
			vars: map[string]string{"KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p", "KAFKA_TLS_ENABLED": "true"},
		},
		{
			name: "scram without tls",
			vars: map[string]string{"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
		},
		{
			name: "skip verify",
			vars: map[string]string{"KAFKA_TLS_ENABLED": "true", "KAFKA_TLS_INSECURE_SKIP_VERIFY": "true"},
			want: []string{"KAFKA_TLS_INSECURE_SKIP_VERIFY is true: any broker certificate is accepted, so the connection can be intercepted; use it in tests only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.vars)
			cfg, problems := loadAndValidate(CommandDemo)
			if problems != nil {
				t.Fatalf("invalid test configuration: %q", problems)
			}
			if got := cfg.Warnings(); !slices.Equal(got, tt.want) {
				t.Errorf("Warnings:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}
