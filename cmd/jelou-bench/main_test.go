package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/bench"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"unknown scenario", []string{"-only", "backfill,warp"}, 2, `unknown scenario "warp"`},
		{"extra argument", []string{"live"}, 2, "unexpected arguments"},
		{"bad env", []string{"-env", "NOVALUE"}, 2, "want KEY=VALUE"},
		{"unknown busy run", []string{"-busy-runs", "20/5,20/7"}, 2, `unknown run "20/7"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), tt.stderr)
			}
		})
	}
}

func TestUnknownChildRole(t *testing.T) {
	t.Setenv(bench.ChildEnv, "teleport")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), `unknown child role "teleport"`) {
		t.Fatalf("stderr: %s", errOut.String())
	}
}
