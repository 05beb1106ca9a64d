package deploytest

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// releaseVersion reads the VERSION file: one semantic version, no "v".
func releaseVersion(t *testing.T) string {
	t.Helper()
	v := strings.TrimSpace(readRoot(t, "VERSION"))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Fatalf("VERSION %q is not a semantic version like 1.2.3 (no v prefix)", v)
	}
	return v
}

// One release version is stamped everywhere: the Dockerfile's VERSION
// default (the binaries' -X and the images' labels), the Helm chart's
// version and appVersion (the image tag it deploys), the Makefile's
// VERSION, and a CHANGELOG entry.
func TestVersionAgrees(t *testing.T) {
	want := releaseVersion(t)

	df := loadDockerfile(t)
	if got := df.Args["VERSION"]; got != want {
		t.Errorf("Dockerfile ARG VERSION=%q, want the VERSION file's %q", got, want)
	}
	for _, s := range df.Stages {
		for _, in := range s.all("ARG") {
			if k, v, ok := strings.Cut(in.Args, "="); k == "VERSION" && ok {
				t.Errorf("line %d: stage %s sets ARG VERSION=%s; a bare ARG VERSION inherits the global default", in.Line, s.Name, v)
			}
		}
	}

	var chart struct {
		Version    string `yaml:"version"`
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal([]byte(readRoot(t, "deploy/helm/jelou-producer/Chart.yaml")), &chart); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	if chart.Version != want || chart.AppVersion != want {
		t.Errorf("Chart.yaml version %q, appVersion %q, want both the VERSION file's %q", chart.Version, chart.AppVersion, want)
	}

	if !regexp.MustCompile(`(?m)^## \[` + regexp.QuoteMeta(want) + `\] - \d{4}-\d{2}-\d{2}$`).MatchString(readRoot(t, "CHANGELOG.md")) {
		t.Errorf("CHANGELOG.md has no heading ## [%s] - YYYY-MM-DD", want)
	}

	if _, err := exec.LookPath("make"); err != nil {
		t.Log("no make: the Makefile's VERSION is not checked")
		return
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "version")
	cmd.Dir = repoRoot(t)
	for _, kv := range cmd.Environ() { // the file's VERSION, not the caller's
		if !strings.HasPrefix(kv, "VERSION=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make version: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("make version = %q, want the VERSION file's %q", got, want)
	}
}

// Every image carries the OCI labels a registry and a scanner read; the
// producer's also name its commit, build time, licence and base image.
func TestImageLabels(t *testing.T) {
	df := loadDockerfile(t)
	common := map[string]string{
		"source":   "https://github.com/jelou-producer/jelou-producer",
		"licenses": "Apache-2.0",
		"version":  "${VERSION}",
	}
	producer := map[string]string{
		"revision":  "${REVISION}",
		"created":   "${CREATED}",
		"base.name": "${RUNTIME_IMAGE}",
	}
	label := regexp.MustCompile(`org\.opencontainers\.image\.([a-z.]+)="([^"]*)"`)
	for _, s := range df.Stages[1:] {
		labels := map[string]string{}
		for _, in := range s.all("LABEL") {
			for _, m := range label.FindAllStringSubmatch(in.Args, -1) {
				labels[m[1]] = m[2]
			}
		}
		want := map[string]string{}
		for k, v := range common {
			want[k] = v
		}
		if s.Name == "jelou-producer" {
			for k, v := range producer {
				want[k] = v
			}
		}
		for k, v := range want {
			if labels[k] != v {
				t.Errorf("stage %s: org.opencontainers.image.%s=%q, want %q", s.Name, k, labels[k], v)
			}
		}
		for _, k := range []string{"title", "description"} {
			if labels[k] == "" {
				t.Errorf("stage %s: no org.opencontainers.image.%s", s.Name, k)
			}
		}
		// A label's ${ARG} is empty unless the stage declares the ARG.
		declared := map[string]bool{}
		for _, in := range s.all("ARG") {
			k, _, _ := strings.Cut(in.Args, "=")
			declared[k] = true
		}
		for k, v := range labels {
			for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(v, -1) {
				if !declared[m[1]] {
					t.Errorf("stage %s: label %s uses ${%s}, which the stage does not declare (ARG %s)", s.Name, k, m[1], m[1])
				}
			}
		}
	}
	if lic := readRoot(t, "LICENSE"); !strings.Contains(lic, "Apache License") || !strings.Contains(lic, "Version 2.0") {
		t.Error("the labels say Apache-2.0; LICENSE is not the Apache License 2.0")
	}
}
