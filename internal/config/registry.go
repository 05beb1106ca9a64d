package config

import (
	"net/url"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// SchemaRegistry configures the Schema Registry wire format, off unless
// URL is set: the event schema is registered (or found) under each event
// topic's value subject at start-up, and every record value carries its
// id (see package registry and docs/event.md, "Schema Registry").
type SchemaRegistry struct {
	// URL is the registry's Confluent-compatible API root, http or https;
	// empty (the default) publishes plain JSON values.
	URL string `envconfig:"SCHEMA_REGISTRY_URL" validate:"optional-registry-url" desc:"Confluent-compatible Schema Registry API root (e.g. https://registry:8081, or Apicurio's .../apis/ccompat/v7); set, the event schema is registered under <topic>-value at start-up and every value carries the Schema Registry framing (magic byte, schema id); empty (the default) writes plain JSON"`
	// Username and Password are HTTP basic auth credentials, set together.
	Username string       `envconfig:"SCHEMA_REGISTRY_USERNAME" desc:"Schema Registry basic auth user name (with SCHEMA_REGISTRY_PASSWORD)"`
	Password jelou.Secret `envconfig:"SCHEMA_REGISTRY_PASSWORD" desc:"Schema Registry basic auth password (with SCHEMA_REGISTRY_USERNAME)"`
	// PasswordFile names a file (a mounted secret) that [Load] reads into
	// Password, trailing newlines trimmed; it excludes
	// SCHEMA_REGISTRY_PASSWORD.
	PasswordFile string `envconfig:"SCHEMA_REGISTRY_PASSWORD_FILE" file:"SCHEMA_REGISTRY_PASSWORD" desc:"file holding the Schema Registry password (a mounted secret), instead of SCHEMA_REGISTRY_PASSWORD"`
	// CAFile is a PEM bundle of CAs to trust for an https URL. Empty
	// trusts the system roots.
	CAFile string `envconfig:"SCHEMA_REGISTRY_TLS_CA_FILE" desc:"PEM file of CAs to trust for an https SCHEMA_REGISTRY_URL instead of the system roots"`
	// CertFile and KeyFile are a PEM client certificate and key, set
	// together, for an https URL.
	CertFile string `envconfig:"SCHEMA_REGISTRY_TLS_CERT_FILE" desc:"PEM client certificate for the Schema Registry (with SCHEMA_REGISTRY_TLS_KEY_FILE)"`
	KeyFile  string `envconfig:"SCHEMA_REGISTRY_TLS_KEY_FILE" desc:"PEM client private key for the Schema Registry (with SCHEMA_REGISTRY_TLS_CERT_FILE)"`
	// Timeout bounds each registry request, body included.
	Timeout time.Duration `envconfig:"SCHEMA_REGISTRY_TIMEOUT" default:"10s" validate:"positive" max:"5m" desc:"time limit of one Schema Registry request, body included; at most 5m"`
}

// Enabled reports whether the Schema Registry wire format is on.
func (r SchemaRegistry) Enabled() bool { return r.URL != "" }

// checkRegistry reports the registry settings that make no sense
// together: a registry URL that is not a plain http(s) root (credentials
// belong in SCHEMA_REGISTRY_USERNAME and _PASSWORD, never in the URL,
// which events name in their dataschema), settings given without a URL,
// TLS files with an http URL, half a credential or certificate pair.
func (c Config) checkRegistry(ps *problems) {
	r := c.SchemaRegistry
	if !r.Enabled() {
		for _, s := range []struct {
			name string
			set  bool
		}{
			{"SCHEMA_REGISTRY_USERNAME", r.Username != ""},
			{"SCHEMA_REGISTRY_PASSWORD", r.Password != ""},
			{"SCHEMA_REGISTRY_TLS_CA_FILE", r.CAFile != ""},
			{"SCHEMA_REGISTRY_TLS_CERT_FILE", r.CertFile != ""},
			{"SCHEMA_REGISTRY_TLS_KEY_FILE", r.KeyFile != ""},
		} {
			if s.set {
				ps.add(s.name, "is set but SCHEMA_REGISTRY_URL is empty")
			}
		}
		return
	}
	if (r.Username == "") != (r.Password == "") {
		ps.add("SCHEMA_REGISTRY_USERNAME", "and SCHEMA_REGISTRY_PASSWORD must be set together")
	}
	if (r.CertFile == "") != (r.KeyFile == "") {
		ps.add("SCHEMA_REGISTRY_TLS_CERT_FILE", "and SCHEMA_REGISTRY_TLS_KEY_FILE must be set together")
	}
	if u, err := url.Parse(r.URL); err == nil && u.Scheme == "http" && (r.CAFile != "" || r.CertFile != "") {
		ps.add("SCHEMA_REGISTRY_URL", "must be https when SCHEMA_REGISTRY_TLS_* files are set, got %q", r.URL)
	}
}

// checkRegistryURL is the optional-registry-url check of a field: empty,
// or an http or https URL with a host and no user information, query or
// fragment. The value is never quoted when it holds user information.
func checkRegistryURL(ps *problems, f field, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		ps.add(f.name, "must be an http or https URL, got %q", jelou.RedactURL(raw))
	case u.User != nil:
		ps.add(f.name, "must not hold credentials (%q): set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD", jelou.RedactURL(raw))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		ps.add(f.name, "must have no query or fragment, got %q", raw)
	}
}

// registryWarnings are Warnings' lines about the registry: basic auth
// over plain http to another host.
func (c Config) registryWarnings() []string {
	r := c.SchemaRegistry
	if u, err := url.Parse(r.URL); err == nil && r.Username != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		return []string{"SCHEMA_REGISTRY_URL is plain http with SCHEMA_REGISTRY_USERNAME set: the registry password travels unencrypted; use https"}
	}
	return nil
}
