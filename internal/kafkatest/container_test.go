package kafkatest

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

// The testcontainers tier reuses one container: a second start (as a
// second test binary does) gets the same broker, which serves topics.
// Without a Docker engine the test skips; with one it runs unless the
// tier could not start and was not required (KAFKA_TEST_TIER).
func TestContainerTierIsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a container")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := dockerAnswers(ctx); err != nil {
		t.Skipf("no Docker engine answers: %v", err)
	}
	required := os.Getenv("KAFKA_TEST_TIER") == TierTestcontainers
	a, err := startContainer(ctx)
	if err != nil {
		if !required {
			t.Skipf("testcontainers tier unavailable (set KAFKA_TEST_TIER=testcontainers to require it): %v", err)
		}
		t.Fatal(err)
	}
	b, err := startContainer(ctx)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	if !slices.Equal(a.Addrs, b.Addrs) {
		t.Errorf("second start got %v, want the first container's %v", b.Addrs, a.Addrs)
	}
	if err := CreateTopic(ctx, b.Addrs, TopicName(t), 2, nil); err != nil {
		t.Fatal(err)
	}
}
