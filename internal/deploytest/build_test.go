package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testVersion is given to the linker as VERSION, to be read back.
const testVersion = "v0.0.0-deploytest"

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds both commands as the Dockerfile's build stage does (its
// ENV, -trimpath, its -ldflags with VERSION=testVersion, its packages) for
// linux on this machine's architecture, once per test binary, and returns
// the output directory. It skips under -short: a cold build takes most of a
// minute.
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds both commands; skipped under -short")
	}
	b := readBuildRun(t) // outside Do: a t.Fatal there would leave binErr nil
	root := repoRoot(t)
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "deploytest-"); binErr != nil {
			return
		}
		cmd := buildCommand(b, root, binDir, nil, b.Packages)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// buildCommand is the Dockerfile's go build of pkgs into outDir, with
// extra arguments before the packages, for linux on this machine's
// architecture.
func buildCommand(b buildRun, root, outDir string, extra, pkgs []string) *exec.Cmd {
	args := []string{"build"}
	if b.Trimpath {
		args = append(args, "-trimpath")
	}
	if b.Tags != "" {
		args = append(args, "-tags="+b.Tags)
	}
	ldflags := strings.ReplaceAll(b.Ldflags, "${VERSION}", testVersion)
	args = append(args, "-ldflags="+ldflags, "-o", outDir+string(filepath.Separator))
	args = append(args, extra...)
	args = append(args, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH)
	for k, v := range b.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// testClockName starts the name of every variable of the producer's test
// clock (cmd/jelou-producer/testclock.go), which only a -tags testclock
// build may contain.
const testClockName = "JELOU_PRODUCER_CLOCK"

// TestReleaseBinaryHasNoTestClock reads the producer built as the
// Dockerfile builds it and looks for the test clock's variable names, as
// `strings` would find them. As a control that the search can succeed, the
// same build with -tags testclock must contain them.
func TestReleaseBinaryHasNoTestClock(t *testing.T) {
	dir := binaries(t)
	release, err := os.ReadFile(filepath.Join(dir, "jelou-producer"))
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(release, []byte(testClockName)); i >= 0 {
		t.Errorf("the release binary contains %q at byte %d: the test clock is compiled in", release[i:min(len(release), i+40)], i)
	}

	b := readBuildRun(t)
	out := t.TempDir()
	cmd := buildCommand(b, repoRoot(t), out, []string{"-tags=testclock"}, []string{"./cmd/jelou-producer"})
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
	}
	test, err := os.ReadFile(filepath.Join(out, "jelou-producer"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(test, []byte(testClockName)) {
		t.Errorf("the -tags testclock build does not contain %q either: the search cannot find the names", testClockName)
	}
}

// TestReleaseBuildsOmitTestClockTag checks that neither the Dockerfile's
// nor the Makefile's go build asks for the testclock tag.
func TestReleaseBuildsOmitTestClockTag(t *testing.T) {
	if tags := readBuildRun(t).Tags; strings.Contains(tags, "testclock") {
		t.Errorf("the Dockerfile builds with -tags %q", tags)
	}
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	builds := 0
	for _, line := range strings.Split(string(mk), "\n") {
		if !strings.Contains(line, " build ") {
			continue
		}
		builds++
		if strings.Contains(line, "testclock") {
			t.Errorf("the Makefile builds with the testclock tag: %s", strings.TrimSpace(line))
		}
	}
	if builds == 0 {
		t.Error("found no go build in the Makefile")
	}
}

func TestBinariesAreStatic(t *testing.T) {
	dir := binaries(t)
	for _, name := range []string{"jelou-producer", "jelou-sim"} {
		t.Run(name, func(t *testing.T) {
			f, err := elf.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("has a PT_INTERP program header: it needs a dynamic loader, which distroless/static lacks")
				}
			}
			libs, err := f.ImportedLibraries()
			if err != nil {
				t.Fatal(err)
			}
			if len(libs) > 0 {
				t.Errorf("links shared libraries %q", libs)
			}
			if f.Section(".symtab") != nil {
				t.Error("has a symbol table: -ldflags -s did not apply")
			}
		})
	}
}

func TestProducerReportsLinkerVersion(t *testing.T) {
	dir := binaries(t)
	if runtime.GOOS != "linux" {
		t.Skip("the binaries are built for linux")
	}
	out, err := exec.Command(filepath.Join(dir, "jelou-producer"), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("jelou-producer version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), testVersion) {
		t.Errorf("jelou-producer version printed %q, want it to contain %q (the -X ldflag)", out, testVersion)
	}
}

// TestSimServesComposeCredentials starts the built jelou-sim with the compose
// service's arguments and environment (on a free local port instead of
// 0.0.0.0:8080) and asks it for a page with the producer's credentials.
func TestSimServesComposeCredentials(t *testing.T) {
	dir := binaries(t)
	if runtime.GOOS != "linux" {
		t.Skip("the binaries are built for linux")
	}
	cf := loadCompose(t)
	df := loadDockerfile(t)
	args := append(simArgs(t, cf, df), "-addr", "127.0.0.1:0") // the last -addr wins

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "jelou-sim"), args...)
	cmd.Env = os.Environ()
	for k, v := range cf.service(t, simService).Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// "jelou-sim listening on http://127.0.0.1:PORT"
	var base string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			base = strings.TrimSpace(after)
			break
		}
	}
	if base == "" {
		_ = cmd.Wait()
		t.Fatalf("jelou-sim %q did not start: %s", args, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	env := producerEnv(t, cf, df)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		base+"/v1/metrics/conversations/attended/external?limit=1",
		strings.NewReader(`{"startAt":"2000-01-01T00:00:00Z","endAt":"2100-01-01T00:00:00Z","getJson":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	id, secret := setting(env, "JELOU_CLIENT_ID"), setting(env, "JELOU_CLIENT_SECRET")
	if setting(env, "JELOU_AUTH_SCHEME") == "raw" {
		req.Header.Set("Authorization", id+":"+secret)
	} else {
		req.SetBasicAuth(id, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST with the producer's credentials: %s: %.200s", resp.Status, body)
	}

	// It drains and exits 0 on SIGTERM, as `docker compose stop` sends.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("jelou-sim after SIGTERM: %v\n%s", err, stderr.String())
	}
}
