package config

import (
	"errors"
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
			maps.Copy(vars, tt.vars)
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

// TestRereadCredentials rotates the files a source's *_FILE variables name
// and checks that RereadCredentials returns the new values, keeps a
// credential given as a plain variable, and reports a file that went
// missing or empty by variable and path, leaving the source unchanged.
func TestRereadCredentials(t *testing.T) {
	const old, rotated = "old-FILE-secret", "rotated-FILE-secret"
	acmeSecret := writeFile(t, "acme-secret", old+"\n")
	acmeID := writeFile(t, "acme-id", "acme-client\n")
	defSecret := writeFile(t, "default-secret", old)
	tests := []struct {
		name   string
		vars   map[string]string
		secret string // the file rotated
		want   func(t *testing.T, s Source)
	}{
		{
			name: "named source",
			vars: map[string]string{
				"SOURCES": "acme,globex", "SOURCE_ACME_CLIENT_ID_FILE": acmeID, "SOURCE_ACME_CLIENT_SECRET_FILE": acmeSecret,
				"SOURCE_GLOBEX_CLIENT_ID": "globex-client", "SOURCE_GLOBEX_CLIENT_SECRET": "globex-secret",
			},
			secret: acmeSecret,
		},
		{
			name:   "default source",
			vars:   map[string]string{"JELOU_CLIENT_ID": "plain-client", "JELOU_CLIENT_SECRET_FILE": defSecret},
			secret: defSecret,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"KAFKA_BROKERS": "kafka:9092"}
			maps.Copy(vars, tt.vars)
			setenv(t, vars)
			cfg, problems := loadAndValidate(CommandRun)
			if problems != nil {
				t.Fatal(problems)
			}
			src := cfg.Sources()[0]
			if got := src.Jelou.ClientSecret.Reveal(); got != old {
				t.Fatalf("secret at load %q, want %q", got, old)
			}
			if err := os.WriteFile(tt.secret, []byte(rotated+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := src.RereadCredentials()
			if err != nil {
				t.Fatal(err)
			}
			if got.Jelou.ClientSecret.Reveal() != rotated || got.Jelou.ClientID != src.Jelou.ClientID || got.ID != src.ID {
				t.Errorf("reread: id %q secret %q, want %q and %q", got.Jelou.ClientID, got.Jelou.ClientSecret.Reveal(), src.Jelou.ClientID, rotated)
			}
			if len(cfg.Sources()) > 1 {
				other, err := cfg.Sources()[1].RereadCredentials()
				if err != nil || other.Jelou.ClientSecret.Reveal() != "globex-secret" {
					t.Errorf("plain-variable source reread: %q, %v", other.Jelou.ClientSecret.Reveal(), err)
				}
			}

			variable := "JELOU_CLIENT_SECRET_FILE"
			if src.Named {
				variable = "SOURCE_ACME_CLIENT_SECRET_FILE"
			}
			for _, spoil := range []struct {
				name string
				do   func() error
				want string
			}{
				{"empty", func() error { return os.WriteFile(tt.secret, []byte("\n"), 0o600) }, variable + " names an empty file: " + tt.secret},
				{"missing", func() error { return os.Remove(tt.secret) }, variable + " names a file that cannot be read: open " + tt.secret + ": no such file or directory"},
			} {
				if err := spoil.do(); err != nil {
					t.Fatal(err)
				}
				same, err := src.RereadCredentials()
				var cerr *Error
				if !errors.As(err, &cerr) || err.Error() != spoil.want {
					t.Errorf("%s file: error %v, want %q", spoil.name, err, spoil.want)
				}
				if same.Jelou.ClientSecret.Reveal() != old {
					t.Errorf("%s file: the source changed to secret %q", spoil.name, same.Jelou.ClientSecret.Reveal())
				}
			}
		})
	}
}
