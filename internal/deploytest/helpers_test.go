package deploytest

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/config"
)

// repoRoot is the repository root: this package lives in internal/deploytest.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// readRoot returns a file at the repository root.
func readRoot(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// goMod holds what the tests need from go.mod.
type goMod struct {
	Module string // module path
	Go     string // go directive, e.g. "1.26.8"
	// Toolchain is the toolchain directive's version without "go" (e.g.
	// "1.26.11"), else Go: the Go that builds the release.
	Toolchain string
}

func readGoMod(t testing.TB) goMod {
	t.Helper()
	text := readRoot(t, "go.mod")
	var m goMod
	if g := regexp.MustCompile(`(?m)^module\s+(\S+)\s*$`).FindStringSubmatch(text); g != nil {
		m.Module = g[1]
	}
	if g := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindStringSubmatch(text); g != nil {
		m.Go = g[1]
	}
	if m.Module == "" || m.Go == "" {
		t.Fatalf("go.mod: no module or go directive: %+v", m)
	}
	m.Toolchain = m.Go
	if g := regexp.MustCompile(`(?m)^toolchain\s+go(\S+)\s*$`).FindStringSubmatch(text); g != nil {
		m.Toolchain = g[1]
	}
	return m
}

// ---- Dockerfile ----------------------------------------------------------

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	Line int    // first line, 1-based
	Cmd  string // upper case, e.g. "COPY"
	Args string // the rest, trimmed
}

// stage is one FROM and the instructions after it.
type stage struct {
	Name     string // the AS name; "" when unnamed
	Base     string // the image, build ARGs expanded
	Platform string // --platform value, unexpanded
	Instrs   []instruction
}

// dockerfile is a parsed Dockerfile: the global ARGs (before the first
// FROM, their defaults expanded) and the stages in order.
type dockerfile struct {
	Args   map[string]string
	Stages []stage
}

// parseDockerfile splits a Dockerfile into instructions the way BuildKit
// does for what this repository uses: '#' comment lines (also inside a
// continuation), '\' at the end of a line continues it. It knows nothing
// of heredocs or a changed escape character, and fails on anything it does
// not understand rather than guessing.
func parseDockerfile(text string) (dockerfile, error) {
	df := dockerfile{Args: map[string]string{}}
	var instrs []instruction
	var cur *instruction
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // BuildKit also skips these inside a continuation
		}
		if strings.Contains(trimmed, "<<") {
			return df, fmt.Errorf("line %d: heredocs are not supported by this parser", i+1)
		}
		cont := strings.HasSuffix(trimmed, `\`)
		part := strings.TrimSpace(strings.TrimSuffix(trimmed, `\`))
		if cur == nil {
			cmd, rest, _ := strings.Cut(part, " ")
			cur = &instruction{Line: i + 1, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(rest)}
		} else if part != "" {
			cur.Args = strings.TrimSpace(cur.Args + " " + part)
		}
		if !cont {
			instrs = append(instrs, *cur)
			cur = nil
		}
	}
	if cur != nil {
		return df, fmt.Errorf("line %d: continuation at end of file", cur.Line)
	}
	for _, in := range instrs {
		switch {
		case in.Cmd == "FROM":
			s, err := parseFrom(in, df.Args)
			if err != nil {
				return df, err
			}
			df.Stages = append(df.Stages, s)
		case len(df.Stages) == 0 && in.Cmd == "ARG":
			// A default may name an earlier ARG (GO_IMAGE=golang:${GO_VERSION}).
			k, v, _ := strings.Cut(in.Args, "=")
			df.Args[k] = os.Expand(v, func(k string) string { return df.Args[k] })
		case len(df.Stages) == 0:
			return df, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
		default:
			last := &df.Stages[len(df.Stages)-1]
			last.Instrs = append(last.Instrs, in)
		}
	}
	if len(df.Stages) == 0 {
		return df, fmt.Errorf("no FROM")
	}
	return df, nil
}

func parseFrom(in instruction, args map[string]string) (stage, error) {
	var s stage
	fields := strings.Fields(in.Args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		if v, ok := strings.CutPrefix(fields[0], "--platform="); ok {
			s.Platform = v
		}
		fields = fields[1:]
	}
	switch {
	case len(fields) == 1:
	case len(fields) == 3 && strings.EqualFold(fields[1], "AS"):
		s.Name = fields[2]
	default:
		return s, fmt.Errorf("line %d: cannot read FROM %s", in.Line, in.Args)
	}
	s.Base = os.Expand(fields[0], func(k string) string { return args[k] })
	return s, nil
}

func loadDockerfile(t testing.TB) dockerfile {
	t.Helper()
	df, err := parseDockerfile(readRoot(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return df
}

// stage returns the stage named name.
func (df dockerfile) stage(t testing.TB, name string) stage {
	t.Helper()
	for _, s := range df.Stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile has no stage %q", name)
	return stage{}
}

// all returns the instructions of one kind, in order.
func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last returns the last instruction of one kind (the one in effect).
func (s stage) last(cmd string) (instruction, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// env returns the stage's ENV settings (key=value form only).
func (s stage) env() (map[string]string, error) {
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.Args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: ENV %q is not key=value", in.Line, kv)
			}
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env, nil
}

// execForm decodes the JSON array of an exec-form ENTRYPOINT, CMD or RUN.
func execForm(in instruction) ([]string, error) {
	var argv []string
	if !strings.HasPrefix(in.Args, "[") {
		return nil, fmt.Errorf("line %d: %s %s is shell form (needs /bin/sh); use a JSON array", in.Line, in.Cmd, in.Args)
	}
	if err := json.Unmarshal([]byte(in.Args), &argv); err != nil {
		return nil, fmt.Errorf("line %d: %s is not a JSON array of strings: %w", in.Line, in.Cmd, err)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("line %d: empty %s", in.Line, in.Cmd)
	}
	return argv, nil
}

// ---- users and ports -----------------------------------------------------

// nonRootUser checks that user is "uid:gid" (or "uid") with numeric, non-zero
// ids: a name cannot be verified by Kubernetes' runAsNonRoot, and 0 is root.
func nonRootUser(user string) error {
	uid, gid, hasGID := strings.Cut(user, ":")
	ids := []string{uid}
	if hasGID {
		ids = append(ids, gid)
	}
	for _, id := range ids {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return fmt.Errorf("user %q: %q is not a numeric id", user, id)
		}
		if n == 0 {
			return fmt.Errorf("user %q is root", user)
		}
	}
	return nil
}

// portOf returns the port of a listen address or a "host:container" port
// mapping ("127.0.0.1:9464:9464/tcp" → "9464", ":9464" → "9464").
func portOf(addr string) string {
	addr, _, _ = strings.Cut(addr, "/")
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// hostPort splits host:port, failing the test on a malformed address.
func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return h, p
}

// ---- configuration ---------------------------------------------------------

// variables indexes config.Variables by name.
func variables() map[string]config.Variable {
	vars := map[string]config.Variable{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	return vars
}

// setting is the value of a producer variable: from env, else its default.
func setting(env map[string]string, name string) string {
	if v, ok := env[name]; ok {
		return v
	}
	return variables()[name].Default
}

// ---- jelou-sim flags -------------------------------------------------------

// simFlag is one flag of cmd/jelou-sim as declared in its source.
type simFlag struct {
	Name    string
	Bool    bool   // takes no value
	Default string // literal default; "" when not a literal
}

// simFlags reads the flag declarations of cmd/jelou-sim from its source
// (fs.StringVar(&x, "name", default, usage) and friends), so the check works
// without building or running the command.
func simFlags(t testing.TB) map[string]simFlag {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "cmd", "jelou-sim")
	methods := map[string]int{ // flag.FlagSet method → index of the name argument
		"StringVar": 1, "IntVar": 1, "Int64Var": 1, "UintVar": 1, "Uint64Var": 1,
		"Float64Var": 1, "DurationVar": 1, "BoolVar": 1, "TextVar": 1, "Var": 1, "Func": 0, "BoolFunc": 0,
		"String": 0, "Int": 0, "Int64": 0, "Uint": 0, "Uint64": 0, "Float64": 0, "Duration": 0, "Bool": 0,
	}
	flags := map[string]simFlag{}
	for _, f := range parseGoFiles(t, dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			i, ok := methods[sel.Sel.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			flagName, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			fl := simFlag{Name: flagName, Bool: strings.HasPrefix(sel.Sel.Name, "Bool")}
			if len(call.Args) > i+1 {
				if d, ok := call.Args[i+1].(*ast.BasicLit); ok {
					fl.Default = strings.Trim(d.Value, "\"`")
				}
			}
			flags[flagName] = fl
			return true
		})
	}
	if len(flags) == 0 {
		t.Fatalf("no flag declarations found in %s", dir)
	}
	return flags
}

// parseGoFiles parses the non-test Go files of the package in dir.
func parseGoFiles(t testing.TB, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		files = append(files, f)
	}
	return files
}

// parseSimArgs reads a jelou-sim argument list into flag values, checking
// every flag against the declared ones. A later flag wins, as with package
// flag.
func parseSimArgs(args []string, flags map[string]simFlag) (map[string]string, error) {
	values := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return nil, fmt.Errorf("argument %q is not a flag (jelou-sim takes no arguments)", a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		fl, ok := flags[name]
		if !ok {
			return nil, fmt.Errorf("jelou-sim has no flag -%s", name)
		}
		switch {
		case hasValue:
		case fl.Bool:
			value = "true"
		case i+1 < len(args):
			i++
			value = args[i]
		default:
			return nil, fmt.Errorf("flag -%s needs a value", name)
		}
		values[name] = value
	}
	return values, nil
}

// simEnvFlag maps JELOU_SIM_CLIENT_SECRET to client-secret.
func simEnvFlag(env string) (string, bool) {
	rest, ok := strings.CutPrefix(env, "JELOU_SIM_")
	if !ok {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-")), true
}
