package publish

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/pkg/event"
)

// TestKcatReadsWhatWasPublished checks what we publish as a librdkafka
// consumer sees it: partition (the Java client's choice), key, headers and
// value. It runs when kcat is on PATH (apt-get install kcat).
func TestKcatReadsWhatWasPublished(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not on PATH")
	}
	const partitions = 4
	topic := kafkatest.Topic(t, partitions, nil)
	p := newPublisher(t, Config{Topic: topic})
	recs := sampleRecords(30)
	if err := p.Publish(testCtx(t), recs); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(testCtx(t), kcat, "-C", "-q", "-e", "-b", strings.Join(kafkatest.Brokers(t), ","),
		"-t", topic, "-f", "%p\t%k\t%h\t%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.Bytes())
	}
	want := map[string]event.Record{}
	for _, r := range recs {
		want[string(r.Value)] = r
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("kcat read %d records, want %d:\n%s", len(lines), len(recs), out)
	}
	for _, line := range lines {
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 {
			t.Fatalf("kcat line %q: want partition, key, headers, value", line)
		}
		r, ok := want[f[3]]
		if !ok {
			t.Fatalf("kcat read an unexpected value %q", f[3])
		}
		delete(want, f[3])
		if f[1] != string(r.Key) {
			t.Errorf("value %s: key %q, want %q", f[3], f[1], r.Key)
		}
		if part, _ := strconv.Atoi(f[0]); part != wantPartition["murmur2"](r.Key, partitions) {
			t.Errorf("key %q: kcat saw partition %d, the Java client would use %d", r.Key, part, wantPartition["murmur2"](r.Key, partitions))
		}
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, fmt.Sprintf("%s=%s", h.Key, h.Value))
		}
		if got, w := f[2], strings.Join(hs, ","); got != w {
			t.Errorf("value %s: headers %q, want %q", f[3], got, w)
		}
	}
}
