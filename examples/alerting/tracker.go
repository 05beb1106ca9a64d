package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Alert kinds, the "alert" member of an [Alert].
const (
	// KindActiveTooLong: a conversation has been active longer than
	// Thresholds.ActiveFor and no terminal event has arrived for it.
	KindActiveTooLong = "active_too_long"
	// KindSlowReply: an event's timeRepliedOperator exceeds
	// Thresholds.ReplyOver.
	KindSlowReply = "slow_operator_reply"
)

// Alert is one alert, written as one JSON line and posted to the webhook.
type Alert struct {
	// Kind is KindActiveTooLong or KindSlowReply.
	Kind string `json:"alert"`
	// At is when the alert was raised.
	At time.Time `json:"at"`
	// Conversation is the conversation's _id (the events' subject).
	Conversation string `json:"conversation"`
	// CompanyID is the conversation's company.id, when it has one.
	CompanyID string `json:"companyId,omitempty"`
	// State is the state of the event that raised the alert, or the state
	// the conversation is still in.
	State string `json:"state"`
	// StartAt is when the conversation started (absent when unknown).
	StartAt *time.Time `json:"startAt,omitempty"`
	// ActiveFor is how long the conversation has been active (KindActiveTooLong).
	ActiveFor string `json:"activeFor,omitempty"`
	// ReplyMillis is timeRepliedOperator in milliseconds (KindSlowReply).
	ReplyMillis int64 `json:"timeRepliedOperatorMs,omitempty"`
	// Threshold is the threshold that was crossed.
	Threshold string `json:"threshold"`
	// EventID is the id of the event that started the tracking or carried
	// the reply time.
	EventID string `json:"eventId"`
	// Message says all of the above in a sentence.
	Message string `json:"message"`
}

// Thresholds say when a conversation deserves an alert.
type Thresholds struct {
	// ActiveFor is how long a conversation may stay active, counted from
	// its start (data.startAt; the event's time when the start is unknown).
	ActiveFor time.Duration
	// ReplyOver is the longest acceptable timeRepliedOperator; zero
	// disables the reply alert.
	ReplyOver time.Duration
	// Forget is how long a conversation is remembered: active ones older
	// than this stop being tracked (jelou-producer stops re-checking them
	// after POLL_REVISIT, 48h by default), and ended ones stop being
	// recognised when a repeat of their active event arrives.
	Forget time.Duration
}

// tracked is an active conversation waiting for its terminal event.
type tracked struct {
	since   time.Time // start of the conversation
	known   bool      // since is data.startAt, not the event time
	company string
	eventID string
	alerted bool
}

// Tracker holds the conversations seen active and raises alerts. It is
// not safe for concurrent use: one goroutine feeds it events and ticks.
// Times are passed in, so the logic is a pure function of events and
// times.
type Tracker struct {
	th      Thresholds
	active  map[string]*tracked
	ended   map[string]time.Time // conversation → when its terminal event was seen
	replied map[string]time.Time // conversation → when its slow reply was alerted
}

// NewTracker returns an empty tracker.
func NewTracker(th Thresholds) *Tracker {
	return &Tracker{th: th, active: map[string]*tracked{}, ended: map[string]time.Time{}, replied: map[string]time.Time{}}
}

// Active returns how many conversations are tracked as active.
func (t *Tracker) Active() int { return len(t.active) }

// Observe takes one event read at now and returns the alerts it raises at
// once: a slow reply, or an active conversation that is already overdue.
func (t *Tracker) Observe(e *event.Event, now time.Time) []Alert {
	var out []Alert
	id := e.Subject
	if ms, ok := replyMillis(e.Data.Conversation); ok && t.th.ReplyOver > 0 && time.Duration(ms)*time.Millisecond > t.th.ReplyOver {
		if _, done := t.replied[id]; !done {
			t.replied[id] = now
			out = append(out, t.slowReply(e, ms, now))
		}
	}
	switch {
	case e.Data.State.Terminal():
		delete(t.active, id)
		t.ended[id] = now
	case e.Data.State == jelou.StateActive:
		if _, done := t.ended[id]; done {
			break // a repeat of an earlier event: the conversation has ended
		}
		if _, ok := t.active[id]; !ok {
			c := &tracked{since: e.Data.StartAt, known: !e.Data.StartAt.IsZero(), company: e.Data.CompanyID, eventID: e.ID}
			if !c.known {
				c.since = e.Time
			}
			t.active[id] = c
		}
		if a, ok := t.overdue(id, t.active[id], now); ok {
			out = append(out, a)
		}
	}
	return out
}

// Due returns the alerts of the conversations that have been active longer
// than the threshold at now without a terminal event, each once, ordered by
// start; and forgets what is older than Thresholds.Forget. Call it on a
// ticker: a conversation that goes quiet raises its alert without waiting
// for another event.
func (t *Tracker) Due(now time.Time) []Alert {
	var out []Alert
	for id, c := range t.active {
		if t.th.Forget > 0 && now.Sub(c.since) > t.th.Forget {
			delete(t.active, id)
			continue
		}
		if a, ok := t.overdue(id, c, now); ok {
			out = append(out, a)
		}
	}
	for _, m := range []map[string]time.Time{t.ended, t.replied} {
		for id, seen := range m {
			if t.th.Forget > 0 && now.Sub(seen) > t.th.Forget {
				delete(m, id)
			}
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := a.StartAt.Compare(*b.StartAt); c != 0 {
			return c
		}
		return strings.Compare(a.Conversation, b.Conversation)
	})
	return out
}

// overdue returns c's alert when it has been active longer than the
// threshold at now and has not alerted yet, and marks it alerted.
func (t *Tracker) overdue(id string, c *tracked, now time.Time) (Alert, bool) {
	age := now.Sub(c.since)
	if c.alerted || age <= t.th.ActiveFor {
		return Alert{}, false
	}
	c.alerted = true
	since := c.since
	a := Alert{
		Kind: KindActiveTooLong, At: now.UTC(), Conversation: id, CompanyID: c.company, State: string(jelou.StateActive),
		StartAt: &since, ActiveFor: age.Round(time.Second).String(), Threshold: t.th.ActiveFor.String(), EventID: c.eventID,
	}
	a.Message = fmt.Sprintf("conversation %s%s has been active for %s, longer than %s", id, ofCompany(c.company), a.ActiveFor, a.Threshold)
	return a, true
}

func (t *Tracker) slowReply(e *event.Event, ms int64, now time.Time) Alert {
	a := Alert{
		Kind: KindSlowReply, At: now.UTC(), Conversation: e.Subject, CompanyID: e.Data.CompanyID, State: string(e.Data.State),
		ReplyMillis: ms, Threshold: t.th.ReplyOver.String(), EventID: e.ID,
	}
	if !e.Data.StartAt.IsZero() {
		s := e.Data.StartAt
		a.StartAt = &s
	}
	reply := (time.Duration(ms) * time.Millisecond).Round(time.Second)
	a.Message = fmt.Sprintf("the operator of conversation %s%s took %s to reply, longer than %s", e.Subject, ofCompany(a.CompanyID), reply, a.Threshold)
	return a
}

func ofCompany(id string) string {
	if id == "" {
		return ""
	}
	return " (company " + id + ")"
}

// replyMillis reads timeRepliedOperator, the operator's first response time
// in milliseconds, from the raw row the event carries. It reports false when
// the member is missing, null or not a number (the producer publishes such
// rows with data.problems rather than drop them).
func replyMillis(row json.RawMessage) (int64, bool) {
	var r struct {
		TimeRepliedOperator json.RawMessage `json:"timeRepliedOperator"`
	}
	if err := json.Unmarshal(row, &r); err != nil || len(r.TimeRepliedOperator) == 0 {
		return 0, false
	}
	v := string(r.TimeRepliedOperator)
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, false // null, a string, an object
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return int64(f + 0.5), true
}
