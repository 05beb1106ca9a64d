package service

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// eventTopics lists the topics events are written to: every source's
// event topic and current-state topic (its values are the same events),
// each once. A topic added to the service that carries events (framed like
// the event topic) belongs here, so that its value subject is registered
// too.
func eventTopics(confs []config.Source) []string {
	topics := make([]string, 0, 2*len(confs))
	seen := map[string]bool{}
	for _, c := range confs {
		for _, t := range []string{c.Topic, c.StateTopic} {
			if t != "" && !seen[t] {
				seen[t] = true
				topics = append(topics, t)
			}
		}
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

// checkRegistry is the check command's look at the Schema Registry: for
// every event topic, whether its value subject holds the schema, or would
// take it; it registers nothing. Nil when SCHEMA_REGISTRY_URL is not set.
func checkRegistry(ctx context.Context, cfg config.Config, topics []string, out io.Writer) error {
	r := cfg.SchemaRegistry
	if !r.Enabled() {
		return nil
	}
	fail := func(err error) error {
		fmt.Fprintf(out, "FAIL  Schema Registry %s: %v\n", r.URL, err)
		return fmt.Errorf("schema registry: %w", err)
	}
	client, err := registry.New(registryConfig(r))
	if err != nil {
		return fail(err)
	}
	schema, err := registry.Schema(eventMode(cfg))
	if err != nil {
		return fail(err)
	}
	var errs []error
	seen := map[string]bool{}
	for _, topic := range topics {
		if seen[topic] {
			continue
		}
		seen[topic] = true
		reg, err := client.Check(ctx, topic, schema)
		switch {
		case err != nil:
			errs = append(errs, fail(err))
		case reg.ID != 0:
			fmt.Fprintf(out, "ok    Schema Registry %s: subject %q holds the %s schema as id %d\n", r.URL, reg.Subject, cfg.Kafka.EventMode, reg.ID)
		default:
			fmt.Fprintf(out, "ok    Schema Registry %s: subject %q does not hold the %s schema yet; run registers it (compatible)\n", r.URL, reg.Subject, cfg.Kafka.EventMode)
		}
	}
	return errors.Join(errs...)
}
