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
		args := []string{"build"}
		if b.Trimpath {
			args = append(args, "-trimpath")
		}
		ldflags := strings.ReplaceAll(b.Ldflags, "${VERSION}", testVersion)
		args = append(args, "-ldflags="+ldflags, "-o", binDir+string(filepath.Separator))
		args = append(args, b.Packages...)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH)
		for k, v := range b.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
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
