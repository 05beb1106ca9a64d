package deploytest

import (
	"go/ast"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runtimeBase is the image both runtime stages start from: static binaries
// need no libc, and its nonroot user is 65532.
const runtimeBase = "gcr.io/distroless/static-debian12:nonroot"

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile(`# syntax=docker/dockerfile:1
ARG GO=1.2.3
ARG IMAGE=golang:${GO}
FROM --platform=$BUILDPLATFORM ${IMAGE} AS build
RUN a \
    # a comment inside a continuation
    b \

    c
FROM scratch
COPY --from=build /x /x
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 {
		t.Fatalf("got %d stages, want 2", len(df.Stages))
	}
	b := df.Stages[0]
	if b.Name != "build" || b.Base != "golang:1.2.3" || b.Platform != "$BUILDPLATFORM" {
		t.Errorf("first stage = %+v", b)
	}
	if run, _ := b.last("RUN"); run.Args != "a b c" || run.Line != 5 {
		t.Errorf("RUN = %+v, want args %q at line 5", run, "a b c")
	}
	for _, bad := range []string{"RUN x\n", "FROM a\nRUN x \\\n", "FROM a b c d\n", "FROM a\nRUN <<EOF\nx\nEOF\n"} {
		if _, err := parseDockerfile(bad); err == nil {
			t.Errorf("parseDockerfile(%q) accepted it", bad)
		}
	}
}

func TestDockerfileStages(t *testing.T) {
	df := loadDockerfile(t)
	var names []string
	for _, s := range df.Stages {
		names = append(names, s.Name)
	}
	want := []string{"build", "jelou-sim", "jelou-alerts", "jelou-producer"}
	if !slices.Equal(names, want) {
		t.Fatalf("stages = %q, want %q (the producer last: it is the default target)", names, want)
	}

	gomod := readGoMod(t)
	if got, want := df.stage(t, "build").Base, "golang:"+gomod.Toolchain; got != want {
		t.Errorf("build image = %q, want %q (go.mod's toolchain directive)", got, want)
	}
	for _, name := range want[1:] {
		if got := df.stage(t, name).Base; got != runtimeBase {
			t.Errorf("stage %s starts from %q, want %q", name, got, runtimeBase)
		}
	}
}

func TestDockerfileRuntimeStages(t *testing.T) {
	df := loadDockerfile(t)
	tests := []struct {
		stage      string
		entrypoint []string
		port       string
	}{
		{stage: "jelou-producer", entrypoint: []string{"/jelou-producer"}, port: portOf(variables()["HTTP_ADDR"].Default)},
		{stage: "jelou-sim", entrypoint: []string{"/jelou-sim"}, port: "8080"},
	}
	for _, tc := range tests {
		t.Run(tc.stage, func(t *testing.T) {
			s := df.stage(t, tc.stage)

			user, ok := s.last("USER")
			if !ok {
				t.Error("no USER: the container would run as the base image's user")
			} else if err := nonRootUser(user.Args); err != nil {
				t.Error(err)
			}

			ep, ok := s.last("ENTRYPOINT")
			if !ok {
				t.Fatal("no ENTRYPOINT")
			}
			argv, err := execForm(ep)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(argv, tc.entrypoint) {
				t.Errorf("ENTRYPOINT = %q, want %q", argv, tc.entrypoint)
			}
			if cmd, ok := s.last("CMD"); ok {
				if _, err := execForm(cmd); err != nil {
					t.Error(err)
				}
			}

			// No shell in distroless: nothing may need one (a HEALTHCHECK
			// in exec form is checked in TestHealthchecks).
			for _, bad := range []string{"RUN", "SHELL", "ONBUILD"} {
				for _, in := range s.all(bad) {
					t.Errorf("line %d: %s in a runtime stage (distroless has no shell)", in.Line, bad)
				}
			}
			for _, in := range s.all("COPY") {
				if !strings.Contains(in.Args, "--from=build ") {
					t.Errorf("line %d: COPY %s does not copy from the build stage", in.Line, in.Args)
				}
			}
			if ports := s.all("EXPOSE"); len(ports) != 1 || ports[0].Args != tc.port {
				t.Errorf("EXPOSE = %v, want %s", ports, tc.port)
			}
			labels := strings.Join(func() []string {
				var l []string
				for _, in := range s.all("LABEL") {
					l = append(l, in.Args)
				}
				return l
			}(), " ")
			for _, key := range []string{"title", "description", "source", "version"} {
				if !strings.Contains(labels, "org.opencontainers.image."+key+"=") {
					t.Errorf("no OCI label org.opencontainers.image.%s", key)
				}
			}
		})
	}
}

func TestDockerfileProducer(t *testing.T) {
	df := loadDockerfile(t)
	s := df.stage(t, "jelou-producer")

	if cmd, ok := s.last("CMD"); !ok || cmd.Args != `["run"]` {
		t.Errorf(`CMD = %q, want ["run"]`, cmd.Args)
	}
	env, err := s.env()
	if err != nil {
		t.Fatal(err)
	}
	vars := variables()
	for name := range env {
		if _, ok := vars[name]; !ok {
			t.Errorf("ENV %s is not a jelou-producer variable", name)
		}
	}

	// The checkpoint directory is a volume owned by the runtime user, so
	// `docker run --read-only` works and a new named volume is writable.
	dir := filepath.Dir(env["CHECKPOINT_PATH"])
	if dir != "/data" {
		t.Errorf("CHECKPOINT_PATH = %q, want a file in /data", env["CHECKPOINT_PATH"])
	}
	if v, ok := s.last("VOLUME"); !ok || v.Args != `["`+dir+`"]` {
		t.Errorf(`VOLUME = %q, want ["%s"]`, v.Args, dir)
	}
	user, _ := s.last("USER")
	if !slices.ContainsFunc(s.all("COPY"), func(in instruction) bool {
		return strings.Contains(in.Args, "--chown="+user.Args+" ") && strings.HasSuffix(in.Args, " "+dir)
	}) {
		t.Errorf("no COPY --chown=%s ... %s: the checkpoint directory would be owned by root", user.Args, dir)
	}
}

func TestDockerfileSimCommand(t *testing.T) {
	cmd, ok := loadDockerfile(t).stage(t, "jelou-sim").last("CMD")
	if !ok {
		t.Fatal("jelou-sim stage has no CMD")
	}
	argv, err := execForm(cmd)
	if err != nil {
		t.Fatal(err)
	}
	values, err := parseSimArgs(argv, simFlags(t))
	if err != nil {
		t.Fatalf("CMD %q: %v", argv, err)
	}
	if host, _ := hostPort(t, values["addr"]); host != "0.0.0.0" {
		t.Errorf("jelou-sim's CMD listens on %q; a container must listen on 0.0.0.0", values["addr"])
	}
}

// buildRun is what the Dockerfile's go build does, read from its text.
type buildRun struct {
	Env      map[string]string // the build stage's ENV
	Ldflags  string            // with ${VERSION} left in
	Packages []string          // ./cmd/...
	Tags     string            // the -tags value, "" without one
	Trimpath bool
}

func readBuildRun(t testing.TB) buildRun {
	t.Helper()
	s := loadDockerfile(t).stage(t, "build")
	env, err := s.env()
	if err != nil {
		t.Fatal(err)
	}
	var run instruction
	for _, in := range s.all("RUN") {
		if strings.Contains(in.Args, "go build") {
			run = in
		}
	}
	if run.Cmd == "" {
		t.Fatal("the build stage has no RUN ... go build")
	}
	b := buildRun{Env: env, Trimpath: strings.Contains(run.Args, " -trimpath ")}
	if g := regexp.MustCompile(`-ldflags="([^"]*)"`).FindStringSubmatch(run.Args); g != nil {
		b.Ldflags = g[1]
	}
	b.Packages = regexp.MustCompile(`\./cmd/[A-Za-z0-9_-]+`).FindAllString(run.Args, -1)
	if g := regexp.MustCompile(`-tags[= ]"?([^" ]+)`).FindStringSubmatch(run.Args); g != nil {
		b.Tags = g[1]
	}
	return b
}

func TestDockerfileBuildCommand(t *testing.T) {
	b := readBuildRun(t)
	for k, want := range map[string]string{"CGO_ENABLED": "0", "GOTOOLCHAIN": "local"} {
		if b.Env[k] != want {
			t.Errorf("build stage ENV %s = %q, want %q", k, b.Env[k], want)
		}
	}
	if !b.Trimpath {
		t.Error("go build without -trimpath")
	}
	if want := []string{"./cmd/jelou-producer", "./cmd/jelou-sim"}; !slices.Equal(b.Packages, want) {
		t.Errorf("builds %q, want %q", b.Packages, want)
	}
	fields := strings.Fields(b.Ldflags)
	if !slices.Contains(fields, "-s") || !slices.Contains(fields, "-w") {
		t.Errorf("ldflags %q do not strip (-s -w)", b.Ldflags)
	}
	want := readGoMod(t).Module + "/internal/buildinfo.Version=${VERSION}"
	i := slices.Index(fields, "-X")
	if i < 0 || i+1 >= len(fields) || fields[i+1] != want {
		t.Errorf("ldflags %q do not set -X %s", b.Ldflags, want)
	}

	// The variable -X names exists, and is a string (-X ignores others).
	if !hasStringVar(t, filepath.Join(repoRoot(t), "internal", "buildinfo"), "Version") {
		t.Error("internal/buildinfo declares no package-level `var Version string`")
	}
}

// hasStringVar reports whether the package in dir declares var name string.
func hasStringVar(t testing.TB, dir, name string) bool {
	t.Helper()
	for _, f := range parseGoFiles(t, dir) {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				for _, n := range vs.Names {
					if n.Name == name && ok && typ.Name == "string" {
						return true
					}
				}
			}
		}
	}
	return false
}
