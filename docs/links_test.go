package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// fromOtherBranches are pages that other work streams write; README.md and
// the index link to them. They must exist once the branches are merged, so
// the test does not excuse them: it only names where they come from.
var fromOtherBranches = map[string]string{
	"docs/metrics.md":    "the metrics and alert rules page (Helm work)",
	"docs/kubernetes.md": "the Helm chart page (Helm work)",
	"docs/containers.md": "the image and compose page (Docker work)",
	"docs/lanes.md":      "the lanes page (on main since commit 07281b0)",
}

var (
	fence      = regexp.MustCompile("(?m)^```.*$")
	inlineCode = regexp.MustCompile("`[^`\n]*`")
	// mdLink matches an inline link or image, [text](target "title"); the
	// text may itself hold a code span, removed before matching.
	mdLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
)

// links returns the targets of the inline Markdown links in md, outside
// fenced code blocks and code spans.
func links(md string) []string {
	var out []string
	parts := fence.Split(md, -1)
	for i, p := range parts {
		if i%2 == 1 { // inside a fence
			continue
		}
		p = inlineCode.ReplaceAllString(p, "code")
		for _, m := range mdLink.FindAllStringSubmatch(p, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// relative reports whether target names a file of this repository, and
// returns it without its fragment.
func relative(target string) (string, bool) {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
		return "", false
	}
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	return target, target != ""
}

func pages(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../README.md"}, files...)
}

func TestLinksResolve(t *testing.T) {
	n := 0
	for _, page := range pages(t) {
		md, err := os.ReadFile(page)
		if err != nil {
			t.Fatalf("read %s: %v", page, err)
		}
		for _, target := range links(string(md)) {
			rel, ok := relative(target)
			if !ok {
				continue
			}
			n++
			path := filepath.Join(filepath.Dir(page), filepath.FromSlash(rel))
			if _, err := os.Stat(path); err != nil {
				repoPath := filepath.ToSlash(filepath.Clean(filepath.Join("docs", path)))
				if from, ok := fromOtherBranches[repoPath]; ok {
					t.Errorf("%s links to %s, which does not exist yet: %s, written on another branch, must be merged first", page, target, from)
					continue
				}
				t.Errorf("%s links to %s, which does not exist (%v)", page, target, err)
			}
		}
	}
	if n < 20 {
		t.Errorf("found %d relative links in README.md and docs/; the link parser is probably broken", n)
	}
}

var heading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)

// anchors returns the fragment ids GitHub gives the headings of md: the
// text lower-cased, punctuation other than '-' and '_' dropped, spaces as
// '-', and "-1", "-2", … after a repeated one.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	parts := fence.Split(md, -1)
	for i, p := range parts {
		if i%2 == 1 {
			continue
		}
		for _, line := range strings.Split(p, "\n") {
			m := heading.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var b strings.Builder
			for _, r := range strings.ToLower(m[1]) {
				switch {
				case r == ' ':
					b.WriteRune('-')
				case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
					b.WriteRune(r)
				}
			}
			id := b.String()
			if n := seen[id]; n > 0 {
				out[id+"-"+strconv.Itoa(n)] = true
			} else {
				out[id] = true
			}
			seen[id]++
		}
	}
	return out
}

// TestAnchorsResolve checks the fragment of every relative link to a
// Markdown page (and of every "#fragment" link within a page) against the
// headings of the page it names.
func TestAnchorsResolve(t *testing.T) {
	cache := map[string]map[string]bool{}
	ids := func(path string) map[string]bool {
		if a, ok := cache[path]; ok {
			return a
		}
		md, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		cache[path] = anchors(string(md))
		return cache[path]
	}
	for _, page := range pages(t) {
		md, err := os.ReadFile(page)
		if err != nil {
			t.Fatalf("read %s: %v", page, err)
		}
		for _, target := range links(string(md)) {
			i := strings.IndexByte(target, '#')
			if i < 0 || strings.Contains(target, "://") {
				continue
			}
			path := page
			if i > 0 {
				path = filepath.Join(filepath.Dir(page), filepath.FromSlash(target[:i]))
			}
			if !strings.HasSuffix(path, ".md") {
				continue
			}
			if _, err := os.Stat(path); err != nil {
				continue // TestLinksResolve reports it
			}
			if !ids(path)[target[i+1:]] {
				t.Errorf("%s links to %s, but %s has no heading with that anchor", page, target, path)
			}
		}
	}
}

// TestIndexListsEveryPage keeps docs/README.md a complete index.
func TestIndexListsEveryPage(t *testing.T) {
	index, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := links(string(index))
	for _, page := range pages(t) {
		if page == "../README.md" || page == "README.md" {
			continue
		}
		if !slices.Contains(listed, page) {
			t.Errorf("docs/README.md does not link to %s", page)
		}
	}
	for want := range fromOtherBranches {
		if !slices.Contains(listed, strings.TrimPrefix(want, "docs/")) {
			t.Errorf("docs/README.md does not link to %s", want)
		}
	}
}

func TestLinkParser(t *testing.T) {
	tests := []struct {
		name, md string
		want     []string
	}{
		{"inline", "see [a](a.md) and [b](../b.md#x)", []string{"a.md", "../b.md#x"}},
		{"code span text", "[`schemas/x.json`](../schemas/x.json)", []string{"../schemas/x.json"}},
		{"title", `[a](a.md "A page")`, []string{"a.md"}},
		{"angle brackets", "[a](<a.md>)", []string{"a.md"}},
		{"fenced code ignored", "```go\nx := m[k](v)\n```\n[a](a.md)", []string{"a.md"}},
		{"code span ignored", "`f[0](x)` [a](a.md)", []string{"a.md"}},
		{"no link", "plain [text] (not a link)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := links(tt.md); !slices.Equal(got, tt.want) {
				t.Errorf("links(%q) = %q, want %q", tt.md, got, tt.want)
			}
		})
	}
	got := anchors("# Title\n## Deploy it on Kubernetes (Helm)\n```\n# not a heading\n```\n### `SOURCES` and a.b\n## Title\n")
	for _, want := range []string{"title", "deploy-it-on-kubernetes-helm", "sources-and-ab", "title-1"} {
		if !got[want] {
			t.Errorf("anchors: no %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("anchors: a comment in fenced code taken for a heading")
	}
	for target, want := range map[string]bool{"a.md": true, "a.md#x": true, "#x": false, "https://x/y.md": false, "mailto:a@b": false} {
		if _, got := relative(target); got != want {
			t.Errorf("relative(%q) = %v, want %v", target, got, want)
		}
	}
}
