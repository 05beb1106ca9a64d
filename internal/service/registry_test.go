package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/registry"
	"github.com/jelou-producer/jelou-producer/internal/service"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// registryURL returns the real Schema Registry the tests use
// (scripts/schema-registry.sh up prints it). Without one the test skips,
// and fails in CI, which starts one.
func registryURL(t *testing.T) string {
	t.Helper()
	return testutil.RealServer(t, "SCHEMA_REGISTRY_TEST_URL", "export $(scripts/schema-registry.sh up)")
}

// TestRegistryEndToEnd runs the service with SCHEMA_REGISTRY_URL against a
// real registry and real Kafka, in both CloudEvents modes, and reads the
// topic back as a registry-aware consumer: every record is framed with the
// id registered under <topic>-value, its payload follows the schema the
// registry serves under that id, and its dataschema names that schema.
func TestRegistryEndToEnd(t *testing.T) {
	url := registryURL(t)
	for _, mode := range []string{"structured", "binary"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, simOptions{count: 400})
			cfg := h.config()
			cfg.Kafka.EventMode = mode
			cfg.SchemaRegistry.URL = url
			// The current-state topic carries the same events under its
			// own value subject.
			cfg.Kafka.StateTopic = kafkatest.Topic(t, 3, map[string]string{"cleanup.policy": "compact"})
			var before bytes.Buffer
			if err := service.Check(context.Background(), cfg, &before); err != nil ||
				!strings.Contains(before.String(), "does not hold the "+mode+" schema yet") {
				t.Fatalf("check before the first run = %v:\n%s\nwant the subject found empty", err, before.String())
			}
			r := h.start(cfg, service.Options{})
			h.waitCursor(r, t0.Add(30*time.Minute), 60*time.Second)
			served := h.settle(r)
			if err := r.stopAndWait(t); err != nil {
				t.Fatalf("Run after cancel = %v, want nil", err)
			}

			client, err := registry.New(registry.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			versions, err := client.SR().Schemas(ctx, registry.Subject(h.topic))
			if err != nil || len(versions) != 1 {
				t.Fatalf("subject %s holds %d versions (%v), want the one the service registered", registry.Subject(h.topic), len(versions), err)
			}
			registered := uint32(versions[0].ID)
			want, err := registry.Schema(eventModeOf(t, mode))
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, versions[0].Schema.Schema, want)

			recs, err := kafkatest.ReadAll(ctx, h.brokers, h.topic)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) < 100 {
				t.Fatalf("only %d records on the topic; the test data is too small to mean anything", len(recs))
			}
			d := registry.NewDeserializer(client)
			got := make(map[string]bool)
			for _, rec := range recs {
				ev, id, err := d.Decode(ctx, rec)
				if err != nil {
					t.Fatalf("record at partition %d offset %d does not deserialize through the registry: %v", rec.Partition, rec.Offset, err)
				}
				if id != registered {
					t.Fatalf("record framed with schema id %d, want %d", id, registered)
				}
				if want := client.SchemaURL(registered); ev.DataSchema != want {
					t.Fatalf("dataschema %q, want %q", ev.DataSchema, want)
				}
				got[ev.Subject+"/"+string(ev.Data.State)] = true
			}
			for p := range served {
				if !got[p.ID+"/"+string(p.State)] {
					t.Errorf("pair %s/%s served but not on the topic", p.ID, p.State)
				}
			}
			t.Logf("%s: %d records, all framed with schema id %d and valid against it", mode, len(recs), registered)

			stateVersions, err := client.SR().Schemas(ctx, registry.Subject(cfg.Kafka.StateTopic))
			if err != nil || len(stateVersions) != 1 {
				t.Fatalf("subject %s holds %d versions (%v), want the one the service registered", registry.Subject(cfg.Kafka.StateTopic), len(stateVersions), err)
			}
			stateID := uint32(stateVersions[0].ID)
			states, err := kafkatest.ReadAll(ctx, h.brokers, cfg.Kafka.StateTopic)
			if err != nil {
				t.Fatal(err)
			}
			if len(states) == 0 {
				t.Fatal("nothing on the state topic")
			}
			for _, rec := range states {
				ev, id, err := d.Decode(ctx, rec)
				if err != nil {
					t.Fatalf("state record at partition %d offset %d does not deserialize through the registry: %v", rec.Partition, rec.Offset, err)
				}
				if id != stateID || string(rec.Key) != ev.Subject {
					t.Fatalf("state record of %s keyed %q framed with schema id %d, want keyed by the conversation and id %d", ev.Subject, rec.Key, id, stateID)
				}
			}
			t.Logf("%s: %d state records, all framed with the state subject's id %d and valid against it", mode, len(states), stateID)
			var after bytes.Buffer
			if err := service.Check(ctx, cfg, &after); err != nil ||
				!strings.Contains(after.String(), fmt.Sprintf("holds the %s schema as id %d", mode, registered)) {
				t.Errorf("check after the run = %v:\n%s\nwant the subject holding id %d", err, after.String(), registered)
			}

			// A second start finds the schema already registered: same
			// id, no new version.
			r2 := h.start(cfg, service.Options{})
			if err := r2.stopAndWait(t); err != nil {
				t.Fatal(err)
			}
			versions, err = client.SR().Schemas(ctx, registry.Subject(h.topic))
			if err != nil || len(versions) != 1 || uint32(versions[0].ID) != registered {
				t.Errorf("after a restart the subject holds %d versions (%v), want the one with id %d", len(versions), err, registered)
			}
		})
	}
}

// TestRegistryIncompatibleSchema registers a breaking variant of the
// event schema under the subject first, sets the subject's compatibility
// to FORWARD_TRANSITIVE (the level docs/event.md recommends), and checks that the service refuses to start
// with a *registry.RejectedError (exit status 2) instead of publishing.
func TestRegistryIncompatibleSchema(t *testing.T) {
	url := registryURL(t)
	h := newHarness(t, simOptions{count: 10})
	client, err := registry.New(registry.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema, err := registry.Schema(event.Structured)
	if err != nil {
		t.Fatal(err)
	}
	// The variant's subject is an integer: a consumer on the variant
	// cannot read the event's string subject, so the event schema is no
	// FORWARD-compatible next version.
	var doc map[string]any
	if err := json.Unmarshal([]byte(schema), &doc); err != nil {
		t.Fatal(err)
	}
	doc["properties"].(map[string]any)["subject"] = map[string]any{"type": "integer"}
	variant, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	subject := registry.Subject(h.topic)
	if _, err := client.SR().CreateSchema(ctx, subject, sr.Schema{Schema: string(variant), Type: sr.TypeJSON}); err != nil {
		t.Fatalf("register the variant: %v", err)
	}
	for _, res := range client.SR().SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatForwardTransitive}, subject) {
		if res.Err != nil {
			t.Fatalf("set the compatibility of %s: %v", subject, res.Err)
		}
	}

	cfg := h.config()
	cfg.SchemaRegistry.URL = url
	var out bytes.Buffer
	var rejected *registry.RejectedError
	if err := service.Check(ctx, cfg, &out); !errors.As(err, &rejected) || !strings.Contains(out.String(), "FAIL  Schema Registry") {
		t.Errorf("check = %v:\n%s\nwant a FAIL line and a *registry.RejectedError", err, out.String())
	}
	_, err = h.tryStart(cfg, service.Options{})
	if !errors.As(err, &rejected) {
		t.Fatalf("service.New = %v, want a *registry.RejectedError", err)
	}
	if rejected.Status != 409 || rejected.Subject != subject || !strings.Contains(err.Error(), "incompatible") {
		t.Errorf("error %v: want HTTP 409 naming subject %s as incompatible", err, subject)
	}
	if recs, err := kafkatest.ReadAll(ctx, h.brokers, h.topic); err != nil || len(recs) != 0 {
		t.Errorf("the topic holds %d records (%v), want none: nothing is published without the schema", len(recs), err)
	}
}

func eventModeOf(t *testing.T, s string) event.Mode {
	t.Helper()
	m, err := event.ParseMode(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// assertSameJSON fails unless a and b are the same JSON value (a registry
// may store a schema reformatted).
func assertSameJSON(t *testing.T, a, b string) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("registered schema is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	if string(xs) != string(ys) {
		t.Errorf("registered schema differs from the mode's schema:\n%s\nwant\n%s", xs, ys)
	}
}
