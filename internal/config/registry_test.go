package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestSchemaRegistry checks the registry settings alone and together.
func TestSchemaRegistry(t *testing.T) {
	ca := writeFile(t, "ca.pem", "x")
	base := map[string]string{"JELOU_CLIENT_ID": "acme", "JELOU_CLIENT_SECRET": "s", "KAFKA_BROKERS": "kafka:9092"}
	tests := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{name: "off by default"},
		{name: "http", vars: map[string]string{"SCHEMA_REGISTRY_URL": "http://registry:8081"}},
		{name: "apicurio path", vars: map[string]string{"SCHEMA_REGISTRY_URL": "http://registry:8080/apis/ccompat/v7"}},
		{name: "basic auth and TLS", vars: map[string]string{
			"SCHEMA_REGISTRY_URL": "https://registry", "SCHEMA_REGISTRY_USERNAME": "u", "SCHEMA_REGISTRY_PASSWORD": "p",
			"SCHEMA_REGISTRY_TLS_CA_FILE": ca, "SCHEMA_REGISTRY_TLS_CERT_FILE": ca, "SCHEMA_REGISTRY_TLS_KEY_FILE": ca,
		}},
		{name: "not a URL", vars: map[string]string{"SCHEMA_REGISTRY_URL": "registry:8081"},
			want: []string{`SCHEMA_REGISTRY_URL must be an http or https URL, got "registry:8081"`}},
		{name: "credentials in the URL", vars: map[string]string{"SCHEMA_REGISTRY_URL": "https://u:Pa55-URL@registry"},
			want: []string{`SCHEMA_REGISTRY_URL must not hold credentials ("https://u:xxxxx@registry"): set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`}},
		{name: "query", vars: map[string]string{"SCHEMA_REGISTRY_URL": "https://registry/?x=1"},
			want: []string{`SCHEMA_REGISTRY_URL must have no query or fragment, got "https://registry/?x=1"`}},
		{name: "settings without a URL", vars: map[string]string{"SCHEMA_REGISTRY_USERNAME": "u", "SCHEMA_REGISTRY_PASSWORD": "p", "SCHEMA_REGISTRY_TLS_CA_FILE": ca},
			want: []string{
				"SCHEMA_REGISTRY_USERNAME is set but SCHEMA_REGISTRY_URL is empty",
				"SCHEMA_REGISTRY_PASSWORD is set but SCHEMA_REGISTRY_URL is empty",
				"SCHEMA_REGISTRY_TLS_CA_FILE is set but SCHEMA_REGISTRY_URL is empty",
			}},
		{name: "half a credential", vars: map[string]string{"SCHEMA_REGISTRY_URL": "https://registry", "SCHEMA_REGISTRY_USERNAME": "u"},
			want: []string{"SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set together"}},
		{name: "half a certificate", vars: map[string]string{"SCHEMA_REGISTRY_URL": "https://registry", "SCHEMA_REGISTRY_TLS_CERT_FILE": ca},
			want: []string{"SCHEMA_REGISTRY_TLS_CERT_FILE and SCHEMA_REGISTRY_TLS_KEY_FILE must be set together"}},
		{name: "TLS files with http", vars: map[string]string{"SCHEMA_REGISTRY_URL": "http://registry", "SCHEMA_REGISTRY_TLS_CA_FILE": ca},
			want: []string{`SCHEMA_REGISTRY_URL must be https when SCHEMA_REGISTRY_TLS_* files are set, got "http://registry"`}},
		{name: "timeout", vars: map[string]string{"SCHEMA_REGISTRY_TIMEOUT": "0s"},
			want: []string{`SCHEMA_REGISTRY_TIMEOUT must be positive, got "0s"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := maps.Clone(base)
			maps.Copy(vars, tt.vars)
			setenv(t, vars)
			cfg, got := loadAndValidate(CommandRun)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems:\n got: %q\nwant: %q", got, tt.want)
			}
			if got == nil && cfg.SchemaRegistry.Enabled() != (tt.vars["SCHEMA_REGISTRY_URL"] != "") {
				t.Errorf("Enabled = %v with SCHEMA_REGISTRY_URL %q", cfg.SchemaRegistry.Enabled(), tt.vars["SCHEMA_REGISTRY_URL"])
			}
		})
	}
}

// TestSchemaRegistryPasswordFile reads SCHEMA_REGISTRY_PASSWORD from its
// file, with and without SOURCES, and refuses both set.
func TestSchemaRegistryPasswordFile(t *testing.T) {
	const password = "Registry-Pa55-FILE"
	file := writeFile(t, "password", password+"\n")
	base := map[string]string{
		"KAFKA_BROKERS": "kafka:9092", "JELOU_CLIENT_ID": "acme", "JELOU_CLIENT_SECRET": "s",
		"SCHEMA_REGISTRY_URL": "https://registry", "SCHEMA_REGISTRY_USERNAME": "producer", "SCHEMA_REGISTRY_PASSWORD_FILE": file,
	}
	tests := []struct {
		name  string
		extra map[string]string
		want  []string
	}{
		{name: "file"},
		{name: "with sources", extra: map[string]string{"SOURCES": "acme", "SOURCE_ACME_CLIENT_ID": "acme", "SOURCE_ACME_CLIENT_SECRET": "s", "JELOU_CLIENT_ID": "", "JELOU_CLIENT_SECRET": ""}},
		{name: "both set", extra: map[string]string{"SCHEMA_REGISTRY_PASSWORD": "plain"},
			want: []string{"SCHEMA_REGISTRY_PASSWORD_FILE and SCHEMA_REGISTRY_PASSWORD are both set; set one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := maps.Clone(base)
			maps.Copy(vars, tt.extra)
			for k, v := range vars {
				if v == "" {
					delete(vars, k)
				}
			}
			setenv(t, vars)
			cfg, got := loadAndValidate(CommandRun)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems:\n got: %q\nwant: %q", got, tt.want)
			}
			if got == nil && cfg.SchemaRegistry.Password.Reveal() != password {
				t.Errorf("SCHEMA_REGISTRY_PASSWORD = %q, want the file's contents", cfg.SchemaRegistry.Password.Reveal())
			}
		})
	}
}

// TestSchemaRegistryPasswordNeverShown formats a Config with a registry
// password every way a caller might, and its problems and warnings, and
// checks that the password never appears.
func TestSchemaRegistryPasswordNeverShown(t *testing.T) {
	const password = "hunter2-XYZZY-registry"
	setenv(t, map[string]string{
		"JELOU_CLIENT_ID": "acme", "JELOU_CLIENT_SECRET": "s", "KAFKA_BROKERS": "kafka:9092",
		"SCHEMA_REGISTRY_URL": "http://registry.example:8081", "SCHEMA_REGISTRY_USERNAME": "producer", "SCHEMA_REGISTRY_PASSWORD": password,
	})
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(CommandRun); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg, "registry", cfg.SchemaRegistry)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.SchemaRegistry.Username = "" // a problem that names the pair
	outputs := map[string]string{
		"%v":       fmt.Sprintf("%v", cfg),
		"%#v":      fmt.Sprintf("%#v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg.SchemaRegistry),
		"slog":     logged.String(),
		"json":     string(js),
		"Validate": fmt.Sprint(bad.Validate(CommandRun)),
		"Warnings": strings.Join(cfg.Warnings(), "\n"),
	}
	assertSecretsHidden(t, outputs, []string{password}, map[string]string{
		"%v":       "SCHEMA_REGISTRY_PASSWORD=[REDACTED]",
		"Validate": "SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set together",
		"Warnings": "SCHEMA_REGISTRY_URL is plain http with SCHEMA_REGISTRY_USERNAME set",
	})
}
