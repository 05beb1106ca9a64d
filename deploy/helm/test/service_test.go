package helmtest

import (
	"cmp"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// TestServiceAcceptsEnvironment gives the service's own configuration
// loader the environment of each rendered Deployment, as the kubelet would:
// plain values as they are, a placeholder for each secretKeyRef (an optional
// one only when the chart's Secret holds the key), and each
// _FILE variable pointing at a file standing for the mounted Secret key. The
// run command must accept it, with the backend, group and sources the value
// set asks for. This catches a variable the chart spells differently from
// the service, or a combination the service refuses (global credentials
// beside SOURCES, say).
func TestServiceAcceptsEnvironment(t *testing.T) {
	helm(t)
	for name, vs := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := render(t, vs.args...)
			if m.Deployment == nil {
				t.Fatal("no Deployment")
			}
			isolateEnv(t)
			root := t.TempDir()
			for _, e := range m.Deployment.Spec.Template.Spec.Containers[0].Env {
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					_, inChartSecret := secretKeys(m)[ref.Key]
					if ref.Optional != nil && *ref.Optional && !inChartSecret {
						continue // an optional key (the SASL password) the Secret is taken not to hold
					}
					t.Setenv(e.Name, "placeholder-"+strings.ToLower(e.Name))
				case e.ValueFrom != nil:
					t.Fatalf("env %s from %+v: the test knows secretKeyRef only", e.Name, e.ValueFrom)
				case strings.HasSuffix(e.Name, "_FILE"):
					// The mounted Secret key: a distinct credential per file,
					// so that two sources are two accounts.
					path := filepath.Join(root, e.Value)
					if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(e.Value+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					t.Setenv(e.Name, path)
				default:
					t.Setenv(e.Name, e.Value)
				}
			}
			cfg, err := config.Load()
			if err != nil {
				t.Fatalf("config.Load: %v", err)
			}
			if err := cfg.Validate(config.CommandRun); err != nil {
				t.Fatalf("Validate(run): %v", err)
			}
			if cfg.Checkpoint.Backend != vs.backend {
				t.Errorf("the service reads backend %q, want %q", cfg.Checkpoint.Backend, vs.backend)
			}
			if vs.backend == "kafka" {
				if want := vs.groupID; want != "" && cfg.Group.ID != want || want == "" && cfg.Group.ID != fullname {
					t.Errorf("the service reads group %q", cfg.Group.ID)
				}
			}
			// The registry password is the Secret's, beside the user name
			// under config.
			if got := string(cfg.SchemaRegistry.Password); vs.registryPassword && (got != "placeholder-schema_registry_password" || cfg.SchemaRegistry.Username == "") || !vs.registryPassword && got != "" {
				t.Errorf("the service reads registry user %q, password %q; want the Secret's password: %v", cfg.SchemaRegistry.Username, got, vs.registryPassword)
			}
			srcs := cfg.Sources()
			if len(vs.sources) == 0 {
				if len(srcs) != 1 || srcs[0].Named {
					t.Errorf("sources %+v, want the default source", srcs)
				} else if srcs[0].StateTopic != vs.stateTopic {
					t.Errorf("the service reads state topic %q, want %q", srcs[0].StateTopic, vs.stateTopic)
				}
				return
			}
			if len(srcs) != len(vs.sources) {
				t.Fatalf("the service reads %d sources, want %d", len(srcs), len(vs.sources))
			}
			for i, s := range srcs {
				if s.ID != vs.sources[i].id || !strings.Contains(s.Jelou.ClientID, "/"+s.ID+"/clientId") || !strings.Contains(string(s.Jelou.ClientSecret), "/"+s.ID+"/clientSecret") {
					t.Errorf("source %d: id %q with credentials from other files than its own", i, s.ID)
				}
				if want := cmp.Or(vs.sources[i].stateTopic, vs.stateTopic); s.StateTopic != want {
					t.Errorf("source %s: the service reads state topic %q, want %q", s.ID, s.StateTopic, want)
				}
			}
		})
	}
}

// secretKeys returns the keys of the chart's own Secret, if it renders one.
func secretKeys(m manifests) map[string]string {
	if m.Secret == nil {
		return nil
	}
	return m.Secret.StringData
}

// isolateEnv unsets, for the test, every variable the service reads, so that
// only the rendered environment counts.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SOURCE") || isServiceVariable(name) {
			t.Setenv(name, "") // restored after the test
			os.Unsetenv(name)
		}
	}
}

func isServiceVariable(name string) bool {
	for _, v := range config.Variables() {
		if v.Name == name {
			return true
		}
	}
	return false
}
