package event

import (
	"encoding/json"
	"testing"
	"time"
)

// benchEvent is a typical event: a state change of a compact row.
func benchEvent(b *testing.B) Event {
	return events(b)["state change"]
}

func BenchmarkEncodeStructured(b *testing.B) {
	e := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.Encode(Structured); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBinary(b *testing.B) {
	e := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.Encode(Binary); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeStructuredAppend reuses one buffer: the floor of the
// encoder's cost.
func BenchmarkEncodeStructuredAppend(b *testing.B) {
	e := benchEvent(b)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = e.AppendStructured(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeStructuredEncodingJSON is the same document built with
// encoding/json, for comparison: it re-scans and compacts the raw row and
// reflects over the struct.
func BenchmarkEncodeStructuredEncodingJSON(b *testing.B) {
	e := benchEvent(b)
	type window struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	type data struct {
		State         string          `json:"state"`
		PreviousState string          `json:"previousState,omitempty"`
		CompanyID     string          `json:"companyId,omitempty"`
		StartAt       *time.Time      `json:"startAt"`
		EndAt         *time.Time      `json:"endAt"`
		Window        window          `json:"window"`
		Problems      []string        `json:"problems,omitempty"`
		Conversation  json.RawMessage `json:"conversation"`
	}
	type event struct {
		SpecVersion     string    `json:"specversion"`
		ID              string    `json:"id"`
		Source          string    `json:"source"`
		Type            string    `json:"type"`
		Subject         string    `json:"subject"`
		Time            time.Time `json:"time"`
		DataContentType string    `json:"datacontenttype"`
		DataSchema      string    `json:"dataschema,omitempty"`
		CompanyID       string    `json:"companyid,omitempty"`
		Data            data      `json:"data"`
	}
	b.ReportAllocs()
	for b.Loop() {
		v := event{e.SpecVersion, e.ID, e.Source, e.Type, e.Subject, e.Time, e.DataContentType, e.DataSchema, e.Data.CompanyID,
			data{string(e.Data.State), string(e.Data.PreviousState), e.Data.CompanyID, &e.Data.StartAt, &e.Data.EndAt,
				window{e.Data.Window.Start, e.Data.Window.End}, e.Data.Problems, e.Data.Conversation}}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStructured(b *testing.B) {
	e := benchEvent(b)
	value, headers, err := e.Encode(Structured)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(value, headers); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ID("64b0c1f2e4b0a1b2c3d4e5f6", "closed")
	}
}
