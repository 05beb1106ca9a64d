package config

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFile writes content to a new file in a test directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCredentialFiles(t *testing.T) {
	const secret = "s3cr3t-FILE-contents"
	idFile := writeFile(t, "id", "acme\n")
	secretFile := writeFile(t, "secret", secret+"\r\n")
	missing := filepath.Join(t.TempDir(), "missing")
	dir := t.TempDir()
	big := writeFile(t, "big", strings.Repeat("x", maxSecretFile+1))
	tests := []struct {
		name       string
		vars       map[string]string
		wantID     string
		wantSecret string
		want       []string // problems from Load, then Validate(run)
	}{
		{
			name:       "files",
			vars:       map[string]string{"JELOU_CLIENT_ID_FILE": idFile, "JELOU_CLIENT_SECRET_FILE": secretFile},
			wantID:     "acme",
			wantSecret: secret,
		},
		{
			name:       "mixed",
			vars:       map[string]string{"JELOU_CLIENT_ID": "plain", "JELOU_CLIENT_SECRET_FILE": secretFile},
			wantID:     "plain",
			wantSecret: secret,
		},
		{
			name:       "empty file variable is unset",
			vars:       map[string]string{"JELOU_CLIENT_ID": "plain", "JELOU_CLIENT_ID_FILE": "", "JELOU_CLIENT_SECRET": "x"},
			wantID:     "plain",
			wantSecret: "x",
		},
		{
			name: "both set",
			vars: map[string]string{"JELOU_CLIENT_ID": "plain", "JELOU_CLIENT_ID_FILE": idFile, "JELOU_CLIENT_SECRET": "x", "JELOU_CLIENT_SECRET_FILE": secretFile},
			want: []string{
				"JELOU_CLIENT_ID_FILE and JELOU_CLIENT_ID are both set; set one",
				"JELOU_CLIENT_SECRET_FILE and JELOU_CLIENT_SECRET are both set; set one",
			},
		},
		{
			name: "unreadable",
			vars: map[string]string{"JELOU_CLIENT_ID_FILE": missing, "JELOU_CLIENT_SECRET_FILE": dir},
			want: []string{
				"JELOU_CLIENT_ID_FILE names a file that cannot be read: open " + missing + ": no such file or directory",
				"JELOU_CLIENT_SECRET_FILE names a file that cannot be read: read " + dir + ": is a directory",
			},
		},
		{
			name: "too large",
			vars: map[string]string{"JELOU_CLIENT_ID": "acme", "JELOU_CLIENT_SECRET_FILE": big},
			want: []string{"JELOU_CLIENT_SECRET_FILE names a file that cannot be read: " + big + " is larger than 64KiB"},
		},
		{
			name: "empty file",
			vars: map[string]string{"JELOU_CLIENT_ID": "acme", "JELOU_CLIENT_SECRET_FILE": writeFile(t, "empty", "\n")},
			want: []string{"JELOU_CLIENT_SECRET is required for run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"KAFKA_BROKERS": "kafka:9092"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			setenv(t, vars)
			cfg, got := loadAndValidate(CommandRun)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems:\n got: %q\nwant: %q", got, tt.want)
			}
			if got != nil {
				for _, p := range got {
					if strings.Contains(p, secret) {
						t.Errorf("problem shows the file's contents: %s", p)
					}
				}
				return
			}
			if cfg.Jelou.ClientID != tt.wantID || cfg.Jelou.ClientSecret.Reveal() != tt.wantSecret {
				t.Errorf("credentials = %q, %q; want %q, %q", cfg.Jelou.ClientID, cfg.Jelou.ClientSecret.Reveal(), tt.wantID, tt.wantSecret)
			}
		})
	}
}

// TestSASLPasswordFile reads KAFKA_SASL_PASSWORD from its file, with and
// without SOURCES, and refuses it set together with KAFKA_SASL_PASSWORD.
func TestSASLPasswordFile(t *testing.T) {
	const password = "Kafka-Pa55-FILE"
	file := writeFile(t, "password", password+"\n")
	base := map[string]string{
		"KAFKA_BROKERS": "kafka:9092", "KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "producer",
		"JELOU_CLIENT_ID": "acme", "JELOU_CLIENT_SECRET": "s", "KAFKA_SASL_PASSWORD_FILE": file,
	}
	sources := map[string]string{"SOURCES": "acme", "SOURCE_ACME_CLIENT_ID": "acme", "SOURCE_ACME_CLIENT_SECRET": "s"}
	tests := []struct {
		name  string
		extra map[string]string
		drop  []string
		want  []string
	}{
		{name: "file"},
		{name: "with sources", extra: sources, drop: []string{"JELOU_CLIENT_ID", "JELOU_CLIENT_SECRET"}},
		{
			name:  "both set",
			extra: map[string]string{"KAFKA_SASL_PASSWORD": "plain"},
			want:  []string{"KAFKA_SASL_PASSWORD_FILE and KAFKA_SASL_PASSWORD are both set; set one"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := maps.Clone(base)
			maps.Copy(vars, tt.extra)
			for _, k := range tt.drop {
				delete(vars, k)
			}
			setenv(t, vars)
			cfg, got := loadAndValidate(CommandRun)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems:\n got: %q\nwant: %q", got, tt.want)
			}
			if got == nil && cfg.Kafka.Password.Reveal() != password {
				t.Errorf("KAFKA_SASL_PASSWORD = %q, want the file's contents", cfg.Kafka.Password.Reveal())
			}
		})
	}
}
