package poller

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// revisitSchedule remembers when each bucket of non-terminal conversations
// was last queried.
type revisitSchedule struct {
	mu   sync.Mutex
	last map[time.Time]time.Time // bucket start → last visit
}

func newRevisitSchedule() *revisitSchedule {
	return &revisitSchedule{last: make(map[time.Time]time.Time)}
}

// bucket is the span of start times of the non-terminal conversations in
// one Window-aligned bucket.
type bucket struct {
	key        time.Time
	first, end time.Time
}

// revisitEvery is the pause between two revisits of a bucket whose newest
// conversation is age old: an eighth of its age, between base and an hour.
func revisitEvery(age, base time.Duration) time.Duration {
	d := age / 8
	if d < base {
		d = base
	}
	if d > time.Hour {
		d = time.Hour
	}
	return d
}

// dueBuckets groups the non-terminal conversations started in
// [now−Revisit, edge−Settle) by Window-aligned bucket and returns the
// buckets due for a revisit, oldest first. On the first call after start
// every bucket is due: the process may have been down while they changed.
func (p *Poller) dueBuckets(now, edge time.Time, firstRun bool) []bucket {
	horizon := now.Add(-p.cfg.Revisit)
	settled := edge.Add(-p.cfg.Settle)
	spans := make(map[time.Time]*bucket)
	p.index.NonTerminal(func(start time.Time) bool {
		if start.Before(horizon) || !start.Before(settled) {
			return true
		}
		k := start.Truncate(p.cfg.Window)
		b := spans[k]
		if b == nil {
			spans[k] = &bucket{key: k, first: start, end: start}
			return true
		}
		if start.Before(b.first) {
			b.first = start
		}
		if start.After(b.end) {
			b.end = start
		}
		return true
	})

	s := p.revisit
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []bucket
	for k, b := range spans {
		last, known := s.last[k]
		if !known {
			if !firstRun {
				// Just left the settle range, where it was polled every
				// interval: its first revisit is one RevisitInterval away.
				s.last[k] = now
				continue
			}
			last = time.Time{}
		}
		if now.Sub(last) >= revisitEvery(now.Sub(b.end), p.cfg.RevisitInterval) {
			due = append(due, *b)
		}
	}
	for k := range s.last {
		if _, ok := spans[k]; !ok {
			delete(s.last, k) // nothing left to revisit there
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].key.Before(due[j].key) })
	return due
}

// revisitDue queries every due bucket once.
func (p *Poller) revisitDue(ctx context.Context, now, edge time.Time, firstRun bool) error {
	if p.cfg.Revisit <= 0 {
		return nil
	}
	for _, b := range p.dueBuckets(now, edge, firstRun) {
		// A one-second pad keeps the range non-empty for a single conversation.
		w := jelou.Window{Start: b.first, End: b.end.Add(time.Second)}
		if err := p.processWindow(ctx, w, KindRevisit); err != nil {
			return err
		}
		p.revisit.mu.Lock()
		p.revisit.last[b.key] = now
		p.revisit.mu.Unlock()
		// A sweep may take long (every bucket after a start): keep the
		// checkpoint within CHECKPOINT_INTERVAL of what Kafka acknowledged.
		if err := p.save(ctx, false); err != nil {
			p.hookFailure("checkpoint", err)
		}
	}
	return nil
}
