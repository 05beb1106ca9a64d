package ownership

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/internal/kafkatest"
	"github.com/jelou-producer/jelou-producer/internal/testutil"
)

// holders records who polls each source, failing the test the moment two
// members poll one source at once.
type holders struct {
	t  *testing.T
	mu sync.Mutex
	by map[string]string // source -> member name
	// gens records, per member name, the last generation's assignment.
	gens map[string][]string
}

func (h *holders) own(name string) OwnFunc {
	return func(ctx context.Context, l Lease) error {
		h.mu.Lock()
		if other, ok := h.by[l.Source]; ok {
			h.t.Errorf("source %s polled by %s and %s at once", l.Source, other, name)
		}
		h.by[l.Source] = name
		h.mu.Unlock()
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // a final save
		h.mu.Lock()
		delete(h.by, l.Source)
		h.mu.Unlock()
		return nil
	}
}

type observerFunc func(int64, string, []string)

func (f observerFunc) Assigned(g int64, m string, owned []string) { f(g, m, owned) }

// waitFor polls cond until it holds, failing after limit.
func (h *holders) waitFor(limit time.Duration, what string, cond func(by map[string]string) bool) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		h.mu.Lock()
		ok := cond(h.by)
		snapshot := fmt.Sprint(h.by)
		h.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not reached after %s; owners %s", what, limit, snapshot)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunOneOwnerPerSource runs three members serving five sources on a
// real Kafka-protocol broker: every source always has at most one owner,
// all five are owned once the group is stable, the load is spread, and a
// member that stops hands its sources to the others.
func TestRunOneOwnerPerSource(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.TopicName(t)
	group := "g-" + topic
	sources := []string{"a", "b", "c", "d", "e"}
	h := &holders{t: t, by: map[string]string{}, gens: map[string][]string{}}

	type running struct {
		stop context.CancelFunc
		done chan error
	}
	start := func(name string) running {
		ctx, cancel := context.WithCancel(context.Background())
		r := running{stop: cancel, done: make(chan error, 1)}
		cfg := Config{
			Brokers: brokers, GroupID: group, Topic: topic, Sources: sources,
			SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond, RebalanceTimeout: 10 * time.Second,
			Observer: observerFunc(func(_ int64, _ string, owned []string) {
				h.mu.Lock()
				h.gens[name] = owned
				h.mu.Unlock()
			}),
		}
		go func() { r.done <- Run(ctx, cfg, h.own(name)) }()
		t.Cleanup(func() { cancel(); <-r.done })
		return r
	}
	allOwned := func(by map[string]string) bool { return len(by) == len(sources) }
	spread := func(names ...string) func(map[string]string) bool {
		return func(by map[string]string) bool {
			if !allOwned(by) {
				return false
			}
			count := map[string]int{}
			for _, n := range by {
				count[n]++
			}
			for _, n := range names {
				if count[n] == 0 || count[n] > 2 {
					return false
				}
			}
			return len(count) == len(names)
		}
	}

	start("m1")
	h.waitFor(60*time.Second, "one member owns all five", func(by map[string]string) bool {
		return allOwned(by) && slices.Equal(slices.Sorted(func(yield func(string) bool) {
			for _, n := range by {
				if !yield(n) {
					return
				}
			}
		}), []string{"m1", "m1", "m1", "m1", "m1"})
	})
	m2 := start("m2")
	start("m3")
	h.waitFor(60*time.Second, "three members share five sources (at most two each)", spread("m1", "m2", "m3"))

	m2.stop()
	if err := <-m2.done; err != nil {
		t.Fatalf("m2's Run = %v, want nil after its context ended", err)
	}
	m2.done <- nil
	h.waitFor(60*time.Second, "the two remaining members share the five sources", func(by map[string]string) bool {
		if !allOwned(by) {
			return false
		}
		for _, n := range by {
			if n == "m2" {
				return false
			}
		}
		return true
	})
}

// TestRunStopsOnAFatalOwnerError: an owner function failing before its
// generation ends stops Run with that error.
func TestRunStopsOnAFatalOwnerError(t *testing.T) {
	topic := kafkatest.TopicName(t)
	cfg := Config{Brokers: kafkatest.Brokers(t), GroupID: "g-" + topic, Topic: topic, Sources: []string{"x"},
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := Run(ctx, cfg, func(context.Context, Lease) error { return fmt.Errorf("credentials rejected") })
	if err == nil || err.Error() != "source x: credentials rejected" {
		t.Fatalf("Run = %v, want the owner's error naming the source", err)
	}
}

// TestRunSharedGroupKeepsDeploymentsApart: two deployments (each its own
// assignment topic) that share a GROUP_ID and a source id each get one
// owner for their own source at once, and the group's leader warns that
// the group is shared.
func TestRunSharedGroupKeepsDeploymentsApart(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	base := kafkatest.TopicName(t)
	group := "g-" + base
	h := &holders{t: t, by: map[string]string{}, gens: map[string][]string{}}
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	start := func(name, topic string) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		cfg := Config{
			Brokers: brokers, GroupID: group, Topic: topic, Sources: []string{"default"}, Logger: logger,
			SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond, RebalanceTimeout: 10 * time.Second,
		}
		own := h.own(name)
		go func() {
			done <- Run(ctx, cfg, func(ctx context.Context, l Lease) error {
				l.Source = topic + "/" + l.Source
				return own(ctx, l)
			})
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	a, b := base+".a", base+".b"
	start("a1", a)
	start("a2", a)
	start("b1", b)
	h.waitFor(60*time.Second, "each deployment's source has an owner of that deployment", func(by map[string]string) bool {
		return len(by) == 2 && (by[a+"/default"] == "a1" || by[a+"/default"] == "a2") && by[b+"/default"] == "b1"
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "consumer group is shared with other deployments") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the shared group; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
