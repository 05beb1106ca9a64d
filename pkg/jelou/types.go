package jelou

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is the state of a conversation as the API reports it.
type State string

// The states the vendor documents. Any other value is kept as received.
const (
	StateActive   State = "active"
	StateClosed   State = "closed"
	StateResolved State = "resolved"
	StateExpired  State = "expired"
)

// Known reports whether s is one of the four documented states.
func (s State) Known() bool {
	switch s {
	case StateActive, StateClosed, StateResolved, StateExpired:
		return true
	}
	return false
}

// Terminal reports whether a conversation in state s can no longer change:
// closed, resolved and expired are terminal; active and unknown states are not.
func (s State) Terminal() bool {
	switch s {
	case StateClosed, StateResolved, StateExpired:
		return true
	}
	return false
}

// Window is the date range of one query: conversations whose start lies in
// [Start, End]. The API's endAt is inclusive at second granularity, so
// consecutive windows that share a boundary second overlap by that second;
// the dedupe stage absorbs the overlap.
type Window struct {
	Start time.Time
	End   time.Time
}

// String formats the window as "start/end" in RFC 3339 UTC.
func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// Duration returns End − Start.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Contains reports whether t lies in [Start, End].
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && !t.After(w.End) }

// Validate reports an error when the window is empty or inverted: a
// *WindowError.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return &WindowError{Window: w, Reason: "start and end must be set"}
	}
	if w.End.Before(w.Start) {
		return &WindowError{Window: w, Reason: "end is before start"}
	}
	return nil
}

// WindowError is an invalid window asked for: the caller's mistake, never
// sent, and never better on a retry (Temporary is false).
type WindowError struct {
	Window Window
	// Reason says what is wrong with it.
	Reason string
}

func (e *WindowError) Error() string { return fmt.Sprintf("window %s: %s", e.Window, e.Reason) }

// Temporary reports false: the same window is as invalid the next time.
func (e *WindowError) Temporary() bool { return false }

// Operator is the human agent who attended the conversation.
type Operator struct {
	Names string `json:"names"`
}

// User is the end user of the conversation.
type User struct {
	ID string `json:"id"`
}

// Bot is the bot the conversation belongs to.
type Bot struct {
	Name string `json:"name"`
}

// Company is the Jelou company (tenant) the conversation belongs to.
type Company struct {
	ID string `json:"id"`
}

// AssignationMethod says how the conversation was assigned.
type AssignationMethod struct {
	TeamName string `json:"teamName"`
}

// Conversation is one row of results. Typed fields hold what the vendor
// documents; Raw holds the row exactly as the API sent it, unknown fields
// included, so that nothing is lost downstream.
type Conversation struct {
	// ID is the row's "_id".
	ID                string            `json:"_id"`
	Operator          Operator          `json:"operator"`
	User              User              `json:"user"`
	Bot               Bot               `json:"bot"`
	Company           Company           `json:"company"`
	AssignationMethod AssignationMethod `json:"assignationMethod"`
	State             State             `json:"state"`
	EndedReason       string            `json:"endedReason"`
	// StartAt is "startAt" parsed in the configured zone (or its own offset
	// when it carries one). Zero when missing or unparseable.
	StartAt time.Time `json:"-"`
	// EndAt is "endAt" parsed like StartAt. Zero while the conversation is
	// active (null or empty endAt) or when unparseable.
	EndAt  time.Time `json:"-"`
	Origin string    `json:"origin"`
	// TimeRepliedOperator is the operator's first response time in milliseconds.
	TimeRepliedOperator int64 `json:"-"`
	// ConversationDuration is the conversation's length in milliseconds.
	ConversationDuration int64 `json:"-"`

	// Raw is the row exactly as received.
	Raw json.RawMessage `json:"-"`
	// Problems lists what could not be decoded into the typed fields
	// (for example "startAt: unparseable \"yesterday\""). A row with problems
	// is still returned with Raw intact; callers decide what to do with it.
	Problems []string `json:"-"`
}
