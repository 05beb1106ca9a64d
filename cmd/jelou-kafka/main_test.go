package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/jelou-producer/jelou-producer/internal/kafkaadmin"
)

// start runs the built command and returns its address.
func start(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("no listening line: %v", err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "jelou-kafka listening on "))
	return cmd, addr
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("jelou-kafka exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("jelou-kafka did not stop on SIGTERM")
	}
}

func TestRestartKeepsRecordsOnTheSamePort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "jelou-kafka")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	cmd, addr := start(t, bin, "-addr", "127.0.0.1:0", "-data-dir", data, "-topic", "t", "-partitions", "2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "t", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("kept")}); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = w.Close()
	stop(t, cmd)

	cmd, addr2 := start(t, bin, "-addr", addr, "-data-dir", data)
	defer stop(t, cmd)
	if addr2 != addr {
		t.Fatalf("restarted on %s, want the same address %s", addr2, addr)
	}
	recs, err := kafkaadmin.All(ctx, []string{addr}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || string(recs[0].Value) != "kept" {
		t.Fatalf("after restart the topic holds %v, want the one record written before", recs)
	}
}

func TestBadAddress(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"-addr", "nope"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "-addr must be host:port") {
		t.Fatalf("stderr %q does not explain the bad address", errb.String())
	}
}
