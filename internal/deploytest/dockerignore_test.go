package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ignoreRule is one .dockerignore line.
type ignoreRule struct {
	pattern string
	re      *regexp.Regexp
	negate  bool
}

// parseDockerignore reads .dockerignore with Docker's rules: patterns are
// relative to the context root (a leading / is dropped), '*' and '?' do not
// cross '/', '**' matches any number of directories, '!' re-includes, the
// last matching line wins, and a pattern that matches a directory excludes
// everything in it.
func parseDockerignore(text string) []ignoreRule {
	var rules []ignoreRule
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			r.negate, line = true, strings.TrimSpace(rest)
		}
		r.pattern = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		p := r.pattern
		for len(p) > 0 {
			switch {
			case strings.HasPrefix(p, "**/"):
				re.WriteString("(.*/)?")
				p = p[3:]
			case strings.HasPrefix(p, "**"):
				re.WriteString(".*")
				p = p[2:]
			case p[0] == '*':
				re.WriteString("[^/]*")
				p = p[1:]
			case p[0] == '?':
				re.WriteString("[^/]")
				p = p[1:]
			default:
				re.WriteString(regexp.QuoteMeta(p[:1]))
				p = p[1:]
			}
		}
		re.WriteString("$")
		r.re = regexp.MustCompile(re.String())
		rules = append(rules, r)
	}
	return rules
}

// excluded reports whether path (slash-separated, relative to the context)
// is left out of the build context.
func excluded(rules []ignoreRule, path string) bool {
	// The path and each of its parent directories.
	candidates := []string{path}
	for p := path; strings.Contains(p, "/"); {
		p = p[:strings.LastIndex(p, "/")]
		candidates = append(candidates, p)
	}
	out := false
	for _, r := range rules {
		for _, c := range candidates {
			if r.re.MatchString(c) {
				out = !r.negate
				break
			}
		}
	}
	return out
}

func TestDockerignoreMatcher(t *testing.T) {
	rules := parseDockerignore("# comment\n.git\n/bin\n**/*_test.go\n**/testdata\njelou-producer\n*.md\n!KEEP.md\n")
	tests := []struct {
		path string
		want bool
	}{
		{".git/config", true},
		{"bin/jelou-producer", true},
		{"a_test.go", true},
		{"internal/x/a_test.go", true},
		{"internal/x/a.go", false},
		{"pkg/x/testdata/body.json", true},
		{"jelou-producer", true},
		{"cmd/jelou-producer/main.go", false},
		{"README.md", true},
		{"KEEP.md", false},
		{"docs/README.md", false}, // '*' does not cross '/'
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := excluded(rules, tc.path); got != tc.want {
				t.Errorf("excluded(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// buildInputs lists the files `go build` of both commands reads, relative to
// the repository root: go.mod, go.sum, and the Go and embedded files of
// every package of this module they depend on (for GOOS=linux, no cgo).
func buildInputs(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("go", "list", "-deps",
		"-f", `{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"./cmd/jelou-producer", "./cmd/jelou-sim")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	files := []string{"go.mod", "go.sum"}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		rel, err := filepath.Rel(root, line)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	if len(files) < 10 {
		t.Fatalf("go list found only %d files: %q", len(files), files)
	}
	return files
}

func TestDockerignore(t *testing.T) {
	rules := parseDockerignore(readRoot(t, ".dockerignore"))

	for _, f := range buildInputs(t) {
		if excluded(rules, f) {
			t.Errorf(".dockerignore excludes %s, which the build reads", f)
		}
	}

	// Local state, build output and tests stay out of the context.
	for _, f := range []string{".git/HEAD", ".cache/kafka/run/server.log", "bin/jelou-producer", "data/checkpoint.json", "jelou-producer", "internal/dedupe/dedupe_test.go"} {
		if !excluded(rules, f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}
