package dedupe_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/dedupe"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func ExampleIndex_Observe() {
	ix := dedupe.New()
	start := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

	for _, s := range []jelou.State{"active", "active", "closed", "active"} {
		r := ix.Observe("6480f1c9e5b7a2d4c3f0a1b2", s, start)
		fmt.Printf("%-6s emit=%-5v reason=%-12s previous=%q\n", s, r.Emit, r.Reason, r.Previous)
		if r.Emit {
			ix.Ack("6480f1c9e5b7a2d4c3f0a1b2", s) // after Kafka acknowledged the event
		}
	}
	// Output:
	// active emit=true  reason=new          previous=""
	// active emit=false reason=duplicate    previous="active"
	// closed emit=true  reason=state_change previous="active"
	// active emit=false reason=duplicate    previous="closed"
}

func ExampleIndex_Release() {
	ix := dedupe.New()
	start := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

	r := ix.Observe("c1", "closed", start)
	fmt.Println(r.Emit, r.Reason)
	// The publish failed: forget the pending state so that the next poll
	// emits it again.
	ix.Release("c1", "closed")
	r = ix.Observe("c1", "closed", start)
	fmt.Println(r.Emit, r.Reason)
	// Output:
	// true new
	// true new
}

func ExampleReadSnapshot() {
	ix := dedupe.New()
	start := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	ix.Observe("published", "active", start)
	ix.Ack("published", "active")
	ix.Observe("in-flight", "active", start) // never acknowledged

	var buf bytes.Buffer
	if err := ix.WriteSnapshot(&buf); err != nil {
		fmt.Println(err)
		return
	}
	restored, err := dedupe.ReadSnapshot(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(restored.Len())
	fmt.Println(restored.Observe("published", "active", start).Reason)
	fmt.Println(restored.Observe("in-flight", "active", start).Reason)
	// Output:
	// 1
	// duplicate
	// new
}
