package event_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// A consumer decodes a record read from the topic. Decode finds the mode
// from the headers; data.conversation is the API's row, untouched.
func ExampleDecode() {
	// The value and headers of a structured-mode record, as a Kafka client
	// returns them (convert its header type field for field).
	value := []byte(`{"specversion":"1.0","id":"d0d4f59a-aeff-55f1-82a7-cd077d61a7a5",` +
		`"source":"jelou-producer/acme","type":"ai.jelou.conversation.attended.v1",` +
		`"subject":"64b0c1f2e4b0a1b2c3d4e5f6","time":"2024-05-01T09:31:00.5Z",` +
		`"datacontenttype":"application/json","companyid":"1203",` +
		`"data":{"state":"closed","previousState":"active","companyId":"1203",` +
		`"startAt":"2024-05-01T09:00:05Z","endAt":"2024-05-01T09:30:00Z",` +
		`"window":{"start":"2024-05-01T09:00:00Z","end":"2024-05-01T09:59:59Z"},` +
		`"conversation":{"_id":"64b0c1f2e4b0a1b2c3d4e5f6","company":{"id":"1203"},"state":"closed","csat":5}}}`)
	headers := []event.Header{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}

	e, err := event.Decode(value, headers)
	if errors.Is(err, event.ErrUnknownType) {
		return // another event type, or a later major version: skip it
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.ID, e.Subject)
	fmt.Println(e.Data.PreviousState, "->", e.Data.State, "at", e.Time.Format(time.RFC3339Nano))
	fmt.Println("lasted", e.Data.EndAt.Sub(e.Data.StartAt))
	fmt.Printf("%s\n", e.Data.Conversation)
	// Output:
	// d0d4f59a-aeff-55f1-82a7-cd077d61a7a5 64b0c1f2e4b0a1b2c3d4e5f6
	// active -> closed at 2024-05-01T09:31:00.5Z
	// lasted 29m55s
	// {"_id":"64b0c1f2e4b0a1b2c3d4e5f6","company":{"id":"1203"},"state":"closed","csat":5}
}

// A producer builds the event of a conversation seen in a new state, and
// encodes it as a Kafka record.
func ExampleNew() {
	conv := jelou.Conversation{
		ID:      "64b0c1f2e4b0a1b2c3d4e5f6",
		Company: jelou.Company{ID: "1203"},
		State:   jelou.StateClosed,
		StartAt: time.Date(2024, 5, 1, 9, 0, 5, 0, time.UTC),
		EndAt:   time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC),
		Raw:     []byte(`{"_id":"64b0c1f2e4b0a1b2c3d4e5f6","company":{"id":"1203"},"state":"closed","startAt":"2024-05-01 09:00:05","endAt":"2024-05-01 09:30:00"}`),
	}
	w := jelou.Window{Start: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 9, 59, 59, 0, time.UTC)}
	observed := time.Date(2024, 5, 1, 9, 31, 0, 500_000_000, time.UTC)

	e := event.New(event.NewSource("acme"), conv, jelou.StateActive, w, observed)
	key, fallback := e.Key()
	value, headers, err := e.Encode(event.Structured)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("key %s (fallback %v)\n", key, fallback)
	fmt.Printf("%s: %s\n", headers[0].Key, headers[0].Value)
	fmt.Printf("%s\n", value)
	// Output:
	// key 1203 (fallback false)
	// content-type: application/cloudevents+json; charset=UTF-8
	// {"specversion":"1.0","id":"d0d4f59a-aeff-55f1-82a7-cd077d61a7a5","source":"jelou-producer/acme","type":"ai.jelou.conversation.attended.v1","subject":"64b0c1f2e4b0a1b2c3d4e5f6","time":"2024-05-01T09:31:00.5Z","datacontenttype":"application/json","dataschema":"urn:jelou-producer:schema:ai.jelou.conversation.attended.v1","companyid":"1203","data":{"state":"closed","previousState":"active","companyId":"1203","startAt":"2024-05-01T09:00:05Z","endAt":"2024-05-01T09:30:00Z","window":{"start":"2024-05-01T09:00:00Z","end":"2024-05-01T09:59:59Z"},"conversation":{"_id":"64b0c1f2e4b0a1b2c3d4e5f6","company":{"id":"1203"},"state":"closed","startAt":"2024-05-01 09:00:05","endAt":"2024-05-01 09:30:00"}}}
}

// The event id depends only on the conversation id and the state.
func ExampleID() {
	fmt.Println(event.ID("64b0c1f2e4b0a1b2c3d4e5f6", jelou.StateActive))
	fmt.Println(event.ID("64b0c1f2e4b0a1b2c3d4e5f6", jelou.StateClosed))
	// Output:
	// 04c6ff43-777a-58df-81ab-f922f66baf98
	// d0d4f59a-aeff-55f1-82a7-cd077d61a7a5
}
