package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// rssPeriod is how often a child's VmHWM is sampled.
const rssPeriod = 50 * time.Millisecond

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Usage is what a finished child process consumed, as the kernel reports it.
type Usage struct {
	// Wall is the time from Start to the end of Wait.
	Wall time.Duration
	// CPU is user plus system time (rusage of the child).
	CPU time.Duration
	// MaxRSS is the peak resident set size in bytes: VmHWM of
	// /proc/<pid>/status, sampled every rssPeriod while the child runs.
	// (rusage's ru_maxrss is useless here: Go starts children with
	// vfork-style clone, so the child's figure includes the parent's peak.)
	MaxRSS int64
	// ExitCode is the exit status, -1 when killed by a signal.
	ExitCode int
}

// Proc is a child process measured from outside: its CPU from
// /proc/<pid>/stat while it runs, its rusage once it exits.
type Proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	usage   Usage
	err     error
	stderr  *tail
	hwm     atomic.Int64
}

// Start runs path with args and exactly env (nothing is inherited), sending
// its stdout to stdout (nil discards it) and keeping the end of its stderr
// for error messages.
func Start(name, path string, args, env []string, stdout io.Writer) (*Proc, error) {
	return StartLogged(name, path, args, env, stdout, nil)
}

// StartLogged is Start that also copies the child's whole stderr to stderr
// (nil: only the end is kept), for scenarios that read the child's log.
func StartLogged(name, path string, args, env []string, stdout, stderr io.Writer) (*Proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	if stdout == nil {
		stdout = io.Discard
	}
	t := &tail{max: 8 << 10}
	cmd.Stdout = stdout
	cmd.Stderr = t
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(t, stderr)
	}
	p := &Proc{name: name, cmd: cmd, done: make(chan struct{}), stderr: t}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go p.sampleHWM()
	go func() {
		err := cmd.Wait()
		p.usage.Wall = time.Since(p.started)
		if st := cmd.ProcessState; st != nil {
			p.usage.CPU = st.UserTime() + st.SystemTime()
			p.usage.ExitCode = st.ExitCode()
		}
		p.usage.MaxRSS = p.hwm.Load()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.err = err
		}
		close(p.done)
	}()
	return p, nil
}

// sampleHWM keeps the child's largest VmHWM until it exits.
func (p *Proc) sampleHWM() {
	t := time.NewTicker(rssPeriod)
	defer t.Stop()
	for {
		if v, err := ProcStatus(p.cmd.Process.Pid, "VmHWM"); err == nil && v > p.hwm.Load() {
			p.hwm.Store(v)
		}
		select {
		case <-t.C:
		case <-p.done:
			return
		}
	}
}

// Pid returns the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Started returns when the child was started.
func (p *Proc) Started() time.Time { return p.started }

// Done is closed when the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stderr returns the last few kilobytes the child wrote to stderr.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig to the child; it does nothing once the child exited.
func (p *Proc) Signal(sig os.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// Wait waits for the child to exit, killing it when ctx ends first, and
// returns its usage. A non-zero exit status is an error naming the end of
// the child's stderr.
func (p *Proc) Wait(ctx context.Context) (Usage, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		return p.usage, fmt.Errorf("%s: %w (killed)", p.name, ctx.Err())
	}
	if p.err != nil {
		return p.usage, fmt.Errorf("%s: %w", p.name, p.err)
	}
	if p.usage.ExitCode != 0 {
		return p.usage, fmt.Errorf("%s exited with status %d: %s", p.name, p.usage.ExitCode, lastLines(p.Stderr(), 5))
	}
	return p.usage, nil
}

// Stop sends SIGTERM, waits up to grace, then kills the child.
func (p *Proc) Stop(grace time.Duration) (Usage, error) {
	p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return p.Wait(ctx)
}

// CPU returns the child's user plus system time so far, from /proc.
func (p *Proc) CPU() (time.Duration, error) { return ProcCPU(p.Pid()) }

// ProcCPU reads utime + stime of a process from /proc/<pid>/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// parseStatCPU extracts utime + stime from the contents of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("parse /proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc stat: %d fields after the command name", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse /proc stat: %w", err)
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// ProcStatus returns a "kB" field of /proc/<pid>/status (VmRSS, VmHWM) in bytes.
func ProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	return parseStatusField(b, field)
}

func parseStatusField(b []byte, field string) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", field, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			n <<= 10
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// CPUSample is the CPU time a process had used at one instant.
type CPUSample struct {
	At  time.Time
	CPU time.Duration
}

// SampleCPU records the child's CPU every period until it exits or stop is
// closed, and returns the samples through the channel once done.
func (p *Proc) SampleCPU(period time.Duration, stop <-chan struct{}) <-chan []CPUSample {
	out := make(chan []CPUSample, 1)
	go func() {
		var s []CPUSample
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if c, err := p.CPU(); err == nil {
				s = append(s, CPUSample{At: time.Now(), CPU: c})
			}
			select {
			case <-t.C:
			case <-stop:
				out <- s
				return
			case <-p.done:
				out <- s
				return
			}
		}
	}()
	return out
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0:0], t.b[len(t.b)-t.max:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
