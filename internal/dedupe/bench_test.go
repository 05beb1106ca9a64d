package dedupe

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

const million = 1_000_000

// ids returns n ids shaped like the API's 24-hex-digit _id values.
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("6480f1c9%016x", uint64(i)*0x9e3779b97f4a7c15)
	}
	return out
}

// fill observes and acknowledges each id once, alternating active and closed.
func fill(ix *Index, ids []string) {
	for i, id := range ids {
		s := active
		if i%2 == 1 {
			s = closed
		}
		ix.Observe(id, s, t0.Add(time.Duration(i)*time.Second))
		ix.Ack(id, s)
	}
}

// heapAfterGC returns the live heap in bytes.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryMillion holds the index to its budget: a million tracked
// conversations in at most 64 MB of heap.
func TestMemoryMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts a million entries")
	}
	list := ids(million)
	before := heapAfterGC()
	ix := New()
	fill(ix, list)
	after := heapAfterGC()
	runtime.KeepAlive(ix)
	runtime.KeepAlive(list) // the ids are not part of the index
	used := int64(after) - int64(before)
	t.Logf("%d entries: %.1f MB heap, %.1f bytes/entry", ix.Len(), float64(used)/1e6, float64(used)/float64(ix.Len()))
	if ix.Len() != million {
		t.Fatalf("Len = %d, want %d", ix.Len(), million)
	}
	if used > 64<<20 {
		t.Errorf("a million entries use %d bytes of heap, budget 64 MiB", used)
	}
}

func BenchmarkObserve(b *testing.B) {
	list := ids(million)
	b.Run("new", func(b *testing.B) {
		ix := New()
		i := 0
		for b.Loop() {
			if i == len(list) {
				ix = New()
				i = 0
			}
			ix.Observe(list[i], active, t0)
			i++
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		ix := New()
		fill(ix, list)
		i := 0
		for b.Loop() {
			ix.Observe(list[i%len(list)], active, t0)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ix := New()
		fill(ix, list)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				ix.Observe(list[i%len(list)], closed, t0)
				i += 7
			}
		})
	})
}

// BenchmarkMillion reports the heap of a million entries and the size and
// speed of their snapshot.
func BenchmarkMillion(b *testing.B) {
	list := ids(million)
	b.Run("heap", func(b *testing.B) {
		for b.Loop() {
			before := heapAfterGC()
			ix := New()
			fill(ix, list)
			used := float64(heapAfterGC() - before)
			runtime.KeepAlive(ix)
			runtime.KeepAlive(list)
			b.ReportMetric(used/million, "heap-bytes/entry")
			b.ReportMetric(used/1e6, "heap-MB")
		}
	})
	ix := New()
	fill(ix, list)
	var buf bytes.Buffer
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := ix.WriteSnapshot(&buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len())/million, "snapshot-bytes/entry")
		b.ReportMetric(float64(buf.Len())/1e6, "snapshot-MB")
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := ReadSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("evict-none", func(b *testing.B) {
		for b.Loop() {
			ix.Evict(t0)
		}
	})
}
