package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jelou-producer/jelou-producer/internal/config"
	"github.com/jelou-producer/jelou-producer/internal/publish"
	"github.com/jelou-producer/jelou-producer/internal/registry"
)

// schemaRef is where a topic's value schema is in the Schema Registry:
// the id its values are framed with, and the URL events name in their
// dataschema attribute.
type schemaRef struct {
	ID  uint32
	URL string
}

// eventTopics lists the topics events are written to: every source's.
// A topic added to the service that carries events (framed like the event
// topic) belongs here, so that its value subject is registered too.
func eventTopics(confs []config.Source) []string {
	topics := make([]string, 0, len(confs))
	for _, c := range confs {
		topics = append(topics, c.Topic)
	}
	return topics
}

// registerSchemas registers the value schema of the configured event mode
// under the value subject of every topic in topics, or finds it there,
// when SCHEMA_REGISTRY_URL is set; nil when it is not. A refusal is a
// *registry.RejectedError (exit 2): the service never falls back to plain
// JSON.
func registerSchemas(ctx context.Context, cfg config.Config, topics []string, log *slog.Logger) (map[string]schemaRef, error) {
	r := cfg.SchemaRegistry
	if !r.Enabled() {
		return nil, nil
	}
	client, err := registry.New(registryConfig(r))
	if err != nil {
		return nil, err
	}
	schema, err := registry.Schema(eventMode(cfg))
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	regs, err := client.Register(ctx, topics, schema)
	if err != nil {
		return nil, err
	}
	refs := make(map[string]schemaRef, len(regs))
	for _, reg := range regs {
		refs[reg.Topic] = schemaRef{ID: reg.ID, URL: client.SchemaURL(reg.ID)}
		log.Info("schema registry: value schema in place", "subject", reg.Subject, "schema_id", reg.ID,
			"version", reg.Version, "registered", reg.Registered, "mode", cfg.Kafka.EventMode)
	}
	return refs, nil
}

// registryConfig maps the configuration to the registry client's.
func registryConfig(r config.SchemaRegistry) registry.Config {
	return registry.Config{
		URL:      r.URL,
		Username: r.Username,
		Password: r.Password.Reveal(),
		TLS:      publish.TLSConfig{CAFile: r.CAFile, CertFile: r.CertFile, KeyFile: r.KeyFile},
		Timeout:  r.Timeout,
	}
}
