package event

import (
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

func TestUUIDv5(t *testing.T) {
	// RFC 9562 appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
	dns := mustParseUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	if got, want := uuidV5(dns, "www.example.com").String(), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("uuidV5(DNS, www.example.com) = %s, want %s", got, want)
	}
}

func TestID(t *testing.T) {
	// Vectors computed independently with Python's uuid.uuid5.
	tests := []struct {
		conversation string
		state        jelou.State
		want         string
	}{
		{"CONVERSATION_ID", jelou.StateExpired, "76dd2b81-1dac-5231-a1c0-83dbb5365a88"},
		{"64b0c1f2e4b0a1b2c3d4e5f6", jelou.StateActive, "04c6ff43-777a-58df-81ab-f922f66baf98"},
		{"64b0c1f2e4b0a1b2c3d4e5f6", jelou.StateClosed, "d0d4f59a-aeff-55f1-82a7-cd077d61a7a5"},
		{"", "", "0ff2c26e-626b-5a1a-b674-cbe6c516620b"},
	}
	for _, tt := range tests {
		t.Run(tt.conversation+"/"+string(tt.state), func(t *testing.T) {
			if got := ID(tt.conversation, tt.state); got != tt.want {
				t.Errorf("ID(%q, %q) = %s, want %s", tt.conversation, tt.state, got, tt.want)
			}
		})
	}
}

func TestIDProperties(t *testing.T) {
	v5 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := make(map[string]string)
	for _, conv := range []string{"a", "b", "64b0c1f2e4b0a1b2c3d4e5f6", "ñ/ü"} {
		for _, state := range []jelou.State{jelou.StateActive, jelou.StateClosed, jelou.StateResolved, jelou.StateExpired, "paused"} {
			id := ID(conv, state)
			if again := ID(conv, state); again != id {
				t.Errorf("ID(%q, %q) not deterministic: %s then %s", conv, state, id, again)
			}
			if !v5.MatchString(id) {
				t.Errorf("ID(%q, %q) = %s, not a version 5 UUID", conv, state, id)
			}
			name := conv + "/" + string(state)
			if prev, ok := seen[id]; ok {
				t.Errorf("ID collision: %s and %s both give %s", prev, name, id)
			}
			seen[id] = name
		}
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name         string
		company      string
		want         string
		wantFallback bool
	}{
		{"company id", "1203", "1203", false},
		{"company id kept as received", " 1203", " 1203", false},
		{"missing", "", FallbackKey, true},
		{"blank", " \t", FallbackKey, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := jelou.Conversation{ID: "c", State: jelou.StateActive, Company: jelou.Company{ID: tt.company}}
			key, fallback := Key(conv)
			if string(key) != tt.want || fallback != tt.wantFallback {
				t.Errorf("Key(company %q) = %q, %v; want %q, %v", tt.company, key, fallback, tt.want, tt.wantFallback)
			}
			e := New(Source{}, conv, "", window, observed)
			key, fallback = e.Key()
			if string(key) != tt.want || fallback != tt.wantFallback {
				t.Errorf("Event.Key(company %q) = %q, %v; want %q, %v", tt.company, key, fallback, tt.want, tt.wantFallback)
			}
		})
	}
}

func TestNew(t *testing.T) {
	f := fixtures(t)[2] // state change
	e := New(Source{}, f.conv, f.previous, window, observed)
	want := Event{
		SpecVersion:     "1.0",
		ID:              ID(f.conv.ID, f.conv.State),
		Source:          DefaultSource,
		Type:            TypeV1,
		Subject:         f.conv.ID,
		Time:            observed,
		DataContentType: "application/json",
		DataSchema:      DefaultDataSchema,
	}
	data := e.Data
	e.Data = Data{}
	if !e.Time.Equal(want.Time) || e.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", e.Time, want.Time)
	}
	e.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("New attributes = %+v, want %+v", e, want)
	}
	if data.State != jelou.StateResolved || data.PreviousState != jelou.StateActive || data.CompanyID != "1203" {
		t.Errorf("data state/previous/company = %q/%q/%q", data.State, data.PreviousState, data.CompanyID)
	}
	for name, tm := range map[string]time.Time{"startAt": data.StartAt, "endAt": data.EndAt, "window.start": data.Window.Start, "window.end": data.Window.End} {
		if tm.Location() != time.UTC {
			t.Errorf("data.%s = %v, not in UTC", name, tm)
		}
	}
	if string(data.Conversation) != string(f.conv.Raw) {
		t.Errorf("data.conversation differs from the raw row")
	}
	if got := NewSource("acme corp").URI; got != "jelou-producer/acme%20corp" {
		t.Errorf("NewSource(acme corp).URI = %q", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		field  string
		mutate func(*Event)
	}{
		{"specversion", func(e *Event) { e.SpecVersion = "0.3" }},
		{"id", func(e *Event) { e.ID = "" }},
		{"source", func(e *Event) { e.Source = "" }},
		{"type", func(e *Event) { e.Type = "" }},
		{"subject", func(e *Event) { e.Subject = "" }},
		{"time", func(e *Event) { e.Time = time.Time{} }},
		{"datacontenttype", func(e *Event) { e.DataContentType = "text/plain" }},
		{"time", func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"data.endAt", func(e *Event) { e.Data.EndAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"data.state", func(e *Event) { e.Data.State = "" }},
		{"data.window.start", func(e *Event) { e.Data.Window.Start = time.Time{} }},
		{"data.window.end", func(e *Event) { e.Data.Window.End = time.Time{} }},
		{"data.conversation", func(e *Event) { e.Data.Conversation = nil }},
		{"data.conversation", func(e *Event) { e.Data.Conversation = []byte(`["not","an","object"]`) }},
		{"data.conversation", func(e *Event) { e.Data.Conversation = []byte(`{"_id":"x",}`) }},
		{"data.conversation", func(e *Event) { e.Data.Conversation = []byte(`{"_id":"x"} {}`) }},
	}
	base := events(t)["first sight expired"]
	if err := base.Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			e := base
			tt.mutate(&e)
			err := e.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want a FieldError on %q", err, tt.field)
			}
			if _, _, err := e.Encode(Structured); !errors.As(err, &fe) {
				t.Errorf("Encode() = %v, want the FieldError", err)
			}
		})
	}
}
