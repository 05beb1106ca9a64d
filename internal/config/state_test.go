package config

import "testing"

// TestSourcesStateTopic: KAFKA_STATE_TOPIC is every source's state topic
// unless SOURCE_<ID>_STATE_TOPIC overrides it; the default source takes it
// as it is; empty means none.
func TestSourcesStateTopic(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want map[string]string // source id → state topic
	}{
		{"off by default", map[string]string{"JELOU_CLIENT_ID": "x", "JELOU_CLIENT_SECRET": "y"}, map[string]string{DefaultSourceID: ""}},
		{"default source", map[string]string{"JELOU_CLIENT_ID": "x", "JELOU_CLIENT_SECRET": "y", "KAFKA_STATE_TOPIC": "st"}, map[string]string{DefaultSourceID: "st"}},
		{"inherited and overridden", map[string]string{"SOURCES": "a,b", "KAFKA_STATE_TOPIC": "st",
			"SOURCE_A_CLIENT_ID": "a", "SOURCE_A_CLIENT_SECRET": "s", "SOURCE_B_CLIENT_ID": "b", "SOURCE_B_CLIENT_SECRET": "s", "SOURCE_B_STATE_TOPIC": "st.b"},
			map[string]string{"a": "st", "b": "st.b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"KAFKA_BROKERS": "kafka:9092"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			setenv(t, vars)
			cfg, problems := loadAndValidate(CommandRun)
			if problems != nil {
				t.Fatal(problems)
			}
			for _, s := range cfg.Sources() {
				if want, ok := tc.want[s.ID]; !ok || s.StateTopic != want {
					t.Errorf("source %s: state topic %q, want %q", s.ID, s.StateTopic, want)
				}
			}
		})
	}
}
