package docs

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// A claim is a default stated in the docs: a variable of internal/config and
// the value a page gives as its default.
type claim struct {
	line  int // the line, or the first line of the paragraph, that states it
	name  string
	value string // as written, backticks removed
}

var (
	// proseClaim matches a variable's code span followed by "(default X",
	// "(X", ", default X" or ", X"; the value is checked in claims.
	proseClaim = regexp.MustCompile("(\\(?)`([A-Z][A-Z0-9_]+)`(\\s*\\(\\s*|\\s*,\\s*)(default(?:s to)?:?\\s+)?(`[^`\n]+`|[0-9][^,;)\n]*)")
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	tableRow   = regexp.MustCompile(`^\s*\|.*\|\s*$`)
	// leadingValue splits a bare value into a number and an optional unit.
	leadingValue = regexp.MustCompile(`^-?[0-9]+(?:\.[0-9]+)?(?:\s?(?:ns|us|µs|ms|seconds|s|minutes|min|m|hours|h|B|KiB|MiB|GiB)\b)?`)
)

// claims returns the defaults md states for the variables in vars: in prose,
// "`VAR` (default `X`)", "`VAR` (X)" or "`VAR`, X"; in a table with a
// Default column, a row whose first cell names one variable. Without the
// word "default", or in a table cell that is prose, only a value that reads
// as a number (with its unit) counts, so "`KAFKA_TOPIC` (the output topic)"
// is not a claim while "`SHUTDOWN_TIMEOUT` (15 s)" is. Fenced code is
// skipped: examples set values on purpose.
func claims(md string, vars map[string]config.Variable) []claim {
	var out []claim
	var para []string // the prose paragraph being read, its lines joined
	paraLine := 0
	flush := func() {
		out = append(out, proseClaims(strings.Join(para, " "), paraLine, vars)...)
		para = para[:0]
	}
	inFence, defaultCol := false, -1
	for i, line := range strings.Split(md, "\n") {
		if fence.MatchString(line) {
			flush()
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if !tableRow.MatchString(line) {
			defaultCol = -1
			if strings.TrimSpace(line) == "" {
				flush()
				continue
			}
			if len(para) == 0 {
				paraLine = i + 1
			}
			para = append(para, strings.TrimSpace(line))
			continue
		}
		flush()
		cells := splitRow(line)
		switch col := column(cells, "default"); {
		case isSeparator(cells):
		case col >= 0:
			defaultCol = col // a header row
		case defaultCol >= 0 && defaultCol < len(cells):
			if name, ok := oneVariable(cells[0], vars); ok {
				if v, ok := tableValue(cells[defaultCol]); ok {
					out = append(out, claim{i + 1, name, v})
				}
			}
		default:
			out = append(out, proseClaims(line, i+1, vars)...)
		}
	}
	flush()
	return out
}

// proseClaims returns the defaults stated in text, a paragraph (or a table
// cell) starting at line.
func proseClaims(text string, line int, vars map[string]config.Variable) []claim {
	var out []claim
	for _, m := range proseClaim.FindAllStringSubmatch(text, -1) {
		open, name, comma, keyword, raw := m[1] != "", m[2], strings.Contains(m[3], ","), m[4] != "", m[5]
		if _, known := vars[name]; !known {
			continue
		}
		if comma && !keyword && !open {
			continue // "max(3 × `POLL_INTERVAL`, 5 min)": an argument, not a value
		}
		if !keyword && !numeric(vars[name].Type) {
			continue // "`JELOU_TIMEZONE` (`2025-01-01T00:00:00-05:00`)": an example
		}
		quoted := strings.HasPrefix(raw, "`")
		v := strings.Trim(raw, "` ")
		if !keyword && quoted && !leadingValue.MatchString(v) {
			continue // "`A`, `B`": a list, not a value
		}
		if !keyword || !quoted {
			if lv := leadingValue.FindString(v); lv != "" {
				v = lv
			} else {
				continue
			}
		}
		out = append(out, claim{line, name, v})
	}
	return out
}

func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	cells := strings.Split(line, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func isSeparator(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, ":-") != "" {
			return false
		}
	}
	return true
}

// column returns the index of the header cell named name, or -1.
func column(cells []string, name string) int {
	for i, c := range cells {
		if strings.EqualFold(strings.Trim(c, "`* "), name) {
			return i
		}
	}
	return -1
}

// oneVariable returns the variable a first cell names when it names exactly
// one (a row for "`A`, `B`" claims nothing).
func oneVariable(cell string, vars map[string]config.Variable) (string, bool) {
	var found []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		if _, ok := vars[m[1]]; ok {
			found = append(found, m[1])
		}
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// tableValue reads a Default cell: empty, one code span, or a bare number
// with its unit; prose ("the broker's", "cluster default") claims nothing.
func tableValue(cell string) (string, bool) {
	cell = strings.TrimSpace(strings.ReplaceAll(cell, "**", ""))
	if cell == "" {
		return "", true
	}
	if m := codeSpan.FindAllStringSubmatch(cell, -1); len(m) == 1 && m[0][0] == cell {
		return m[0][1], true
	}
	if lv := leadingValue.FindString(cell); lv != "" && strings.TrimSpace(cell[len(lv):]) == "" {
		return lv, true
	}
	return "", false
}

// sameDefault reports whether a stated value equals the code's default of v:
// durations and numbers by value ("15 s" is "15s", "1.0" is "1"), sizes
// without spaces, anything else as written.
func sameDefault(stated string, v config.Variable) bool {
	code := v.Default
	switch {
	case strings.Contains(v.Type, "duration"):
		a, errA := time.ParseDuration(durationUnits.Replace(strings.ReplaceAll(stated, " ", "")))
		b, errB := time.ParseDuration(code)
		if errB == nil && errA != nil && leadingValue.FindString(stated) == stated {
			return true // a bare count ("5") is not a duration: no claim
		}
		if errA == nil && errB == nil {
			return a == b
		}
	case v.Type == "integer" || v.Type == "number":
		a, errA := strconv.ParseFloat(stated, 64)
		b, errB := strconv.ParseFloat(code, 64)
		if errA == nil && errB == nil {
			return a == b
		}
	case v.Type == "size":
		return strings.ReplaceAll(stated, " ", "") == code
	}
	return stated == code
}

// numeric reports whether a variable of type typ takes a number, with or
// without a unit: only such a figure is a claim without the word "default".
func numeric(typ string) bool {
	return strings.Contains(typ, "duration") || typ == "size" || typ == "integer" || typ == "number"
}

// durationUnits spells the units prose uses as time.ParseDuration's.
var durationUnits = strings.NewReplacer("seconds", "s", "minutes", "m", "min", "m", "hours", "h")

func variables() map[string]config.Variable {
	vars := map[string]config.Variable{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	return vars
}

// TestDefaultsAgreeWithTheCode reads every default README.md and docs/ state
// for a variable of internal/config, in prose or in a table with a Default
// column, and checks it against the default the code applies
// (config.Variables, the same source as the generated table of
// docs/configuration.md). A page that still says the old value after a
// default changed fails here, naming the page, the line and both values.
func TestDefaultsAgreeWithTheCode(t *testing.T) {
	vars := variables()
	n := 0
	for _, page := range pages(t) {
		md, err := os.ReadFile(page)
		if err != nil {
			t.Fatalf("read %s: %v", page, err)
		}
		for _, c := range claims(string(md), vars) {
			n++
			if v := vars[c.name]; !sameDefault(c.value, v) {
				t.Errorf("%s:%d gives %s a default of %q; the code's is %q (internal/config)", page, c.line, c.name, c.value, v.Default)
			}
		}
	}
	// The generated table of docs/configuration.md alone holds one claim
	// per variable; far fewer means the parser stopped seeing them.
	if min := len(vars); n < min {
		t.Errorf("found %d stated defaults, want at least %d; the claim parser is probably broken", n, min)
	}
}

func TestClaimParser(t *testing.T) {
	vars := variables()
	tests := []struct {
		name, md string
		want     []string // "NAME=value"
	}{
		{"default keyword, code span", "`KAFKA_TOPIC` (default `x.y`) is", []string{"KAFKA_TOPIC=x.y"}},
		{"default keyword, bare", "`CHECKPOINT_INTERVAL` (default 5 s)", []string{"CHECKPOINT_INTERVAL=5 s"}},
		{"parenthesised figure", "within `SHUTDOWN_TIMEOUT` (15 s).", []string{"SHUTDOWN_TIMEOUT=15 s"}},
		{"comma figure", "heartbeat (`GROUP_HEARTBEAT_INTERVAL`, 1 s) tells", []string{"GROUP_HEARTBEAT_INTERVAL=1 s"}},
		{"size", "over `JELOU_MAX_BODY_BYTES` (32 MiB) is", []string{"JELOU_MAX_BODY_BYTES=32 MiB"}},
		{"minutes", "`POLL_REVISIT_INTERVAL` (5 min) after", []string{"POLL_REVISIT_INTERVAL=5 min"}},
		{"an argument, not a value", "max(3 × `POLL_INTERVAL`, 5 min)", nil},
		{"prose in parentheses", "`KAFKA_TOPIC` (the output topic)", nil},
		{"a list, not a value", "`POLL_INTERVAL`, `POLL_LAG` and", nil},
		{"not a variable", "`SOMETHING_ELSE` (5 s)", nil},
		{"an example, not a default", "in `JELOU_TIMEZONE` (`2025-01-01T00:00:00-05:00`)", nil},
		{"assignment is not a claim", "`POLL_LAG=5s` (a test)", nil},
		{"fenced code skipped", "```\n`POLL_LAG` (5 s)\n```", nil},
		{"across a line break", "starts at `POLL_START_AT`\n(default 24 h ago).\n\n`POLL_LAG` (30 s)", []string{"POLL_START_AT=24 h", "POLL_LAG=30 s"}},
		{"table", "| Variable | Default | What |\n|---|---|---|\n| `POLL_INTERVAL` | `2m` | x |\n| `SOURCES` | | y |",
			[]string{"POLL_INTERVAL=2m", "SOURCES="}},
		{"table with the variable in parentheses", "| field (env) | default |\n|---|---|\n| Compression (`KAFKA_COMPRESSION`) | `zstd` |", []string{"KAFKA_COMPRESSION=zstd"}},
		{"table prose cell", "| Variable | Default |\n|---|---|\n| `CHECKPOINT_TOPIC_REPLICATION` | the broker's |", nil},
		{"table without a Default column", "| Variable | Meaning |\n|---|---|\n| `POLL_INTERVAL` | `2m` |", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range claims(tt.md, vars) {
				got = append(got, c.name+"="+c.value)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("claims = %q, want %q", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name, stated string
		want         bool
	}{
		{"POLL_INTERVAL", "1m", true},
		{"POLL_INTERVAL", "60 s", true},
		{"POLL_INTERVAL", "2m", false},
		{"SHUTDOWN_TIMEOUT", "15 s", true},
		{"JELOU_MAX_BODY_BYTES", "32 MiB", true},
		{"JELOU_RATE_LIMIT", "5", true},
		{"KAFKA_TOPIC", "jelou.conversations.attended", true},
		{"KAFKA_TOPIC", "events", false},
		{"POLL_START_AT", "24 h", true},
		{"POLL_REVISIT_INTERVAL", "5 min", true},
		{"POLL_REVISIT_INTERVAL", "10 minutes", false},
	} {
		if got := sameDefault(tt.stated, vars[tt.name]); got != tt.want {
			t.Errorf("sameDefault(%q, %s = %q) = %v, want %v", tt.stated, tt.name, vars[tt.name].Default, got, tt.want)
		}
	}
}
