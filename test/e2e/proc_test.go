package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one child process whose stdout and stderr go to a log file.
type proc struct {
	name string
	log  string // path of the log file
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// startProc starts bin with args and env (nothing inherited), its output
// appended to dir/name.log. When ready is not empty, it waits for the first
// stdout line starting with ready and returns the rest of that line.
// The process is killed in t.Cleanup if still running.
func startProc(t *testing.T, dir, name, bin string, args, env []string, ready string) (*proc, string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = f
	lines := make(chan string, 1)
	cmd.Stdout = f
	if ready != "" {
		cmd.Stdout = &readyWriter{w: f, prefix: ready, found: lines}
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	if ready == "" {
		return p, ""
	}
	select {
	case rest := <-lines:
		return p, rest
	case <-p.done:
		t.Fatalf("%s exited before it was ready (%v):\n%s", name, p.err, tail(logPath, 20))
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("%s not ready after 60s:\n%s", name, tail(logPath, 20))
	}
	return p, ""
}

// readyWriter copies a process's stdout to w and sends the rest of the
// first line that starts with prefix on found.
type readyWriter struct {
	w      io.Writer
	prefix string
	found  chan<- string
	line   []byte
	done   bool
}

func (r *readyWriter) Write(b []byte) (int, error) {
	if !r.done {
		r.line = append(r.line, b...)
		for {
			i := bytes.IndexByte(r.line, '\n')
			if i < 0 {
				break
			}
			l := string(r.line[:i])
			r.line = r.line[i+1:]
			if strings.HasPrefix(l, r.prefix) {
				r.found <- strings.TrimSpace(strings.TrimPrefix(l, r.prefix))
				r.done, r.line = true, nil
				break
			}
		}
	}
	return r.w.Write(b)
}

// running reports whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// signal sends sig and waits up to limit for the exit; it returns the exit
// code and how long the exit took, or an error when the process outlived
// limit (it is then killed).
func (p *proc) signal(sig syscall.Signal, limit time.Duration) (int, time.Duration, error) {
	start := time.Now()
	if p.running() {
		_ = p.cmd.Process.Signal(sig)
	}
	if err := p.wait(limit); err != nil {
		p.kill()
		return -1, time.Since(start), err
	}
	return p.exitCode(), time.Since(start), nil
}

// wait waits up to limit for the process to exit by itself.
func (p *proc) wait(limit time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("%s still running after %s", p.name, limit)
	}
}

// exitCode is the exit status once exited (-1 for a signal).
func (p *proc) exitCode() int {
	<-p.done
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for listeners the test cannot ask for their address (HTTP_ADDR).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
