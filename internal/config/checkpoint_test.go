package config

import (
	"path/filepath"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/checkpoint"
)

// TestDefaultCheckpointPath ties the default CHECKPOINT_PATH to the name the
// file store migrates the old default (checkpoint.json) to: were they to
// differ, an upgrade would silently start afresh.
func TestDefaultCheckpointPath(t *testing.T) {
	var def string
	for _, v := range Variables() {
		if v.Name == "CHECKPOINT_PATH" {
			def = v.Default
		}
	}
	if def != "./data/"+checkpoint.DefaultFileName {
		t.Errorf("CHECKPOINT_PATH defaults to %q, want ./data/%s", def, checkpoint.DefaultFileName)
	}
	if filepath.Ext(def) == ".json" {
		t.Errorf("CHECKPOINT_PATH %q says .json, but the file is not JSON", def)
	}
}
