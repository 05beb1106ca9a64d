package event

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// fixture is one event as the poller would build it, from a recorded row.
type fixture struct {
	name     string
	conv     jelou.Conversation
	previous jelou.State
}

var (
	// guayaquil is UTC-5, the zone of the vendor's examples.
	guayaquil = time.FixedZone("ECT", -5*3600)
	// observed is when the fixtures were "seen", deliberately not in UTC.
	observed = time.Date(2024, 5, 1, 5, 31, 0, 123_000_000, guayaquil)
	window   = jelou.Window{
		Start: time.Date(2024, 5, 1, 4, 0, 0, 0, guayaquil),
		End:   time.Date(2024, 5, 1, 4, 59, 59, 0, guayaquil),
	}
	source = Source{URI: "jelou-producer/acme"}
)

// row reads testdata/rows/<name>.json.
func row(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rows", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

// fixtures returns the rows of testdata/rows decoded by hand, as the Jelou
// client would decode them (times read in UTC).
func fixtures(t testing.TB) []fixture {
	return []fixture{
		{name: "first sight expired", conv: jelou.Conversation{
			ID: "CONVERSATION_ID", Company: jelou.Company{ID: "COMPANY_ID"}, State: jelou.StateExpired,
			StartAt: at("2023-06-08 15:52:41"), EndAt: at("2023-06-08 23:07:56"), Raw: row(t, "expired"),
		}},
		{name: "active with null endAt", conv: jelou.Conversation{
			ID: "64b0c1f2e4b0a1b2c3d4e5f6", Company: jelou.Company{ID: "1203"}, State: jelou.StateActive,
			StartAt: at("2024-05-01 09:00:05"), Raw: row(t, "active"),
		}},
		{name: "state change", previous: jelou.StateActive, conv: jelou.Conversation{
			ID: "64b0c1f2e4b0a1b2c3d4e5f8", Company: jelou.Company{ID: "1203"}, State: jelou.StateResolved,
			StartAt: at("2024-05-01 09:20:00"), EndAt: at("2024-05-01 10:00:00"), Raw: row(t, "unknown_fields"),
		}},
		{name: "missing company", previous: jelou.StateActive, conv: jelou.Conversation{
			ID: "64b0c1f2e4b0a1b2c3d4e5f7", State: jelou.StateClosed,
			StartAt: at("2024-05-01 09:10:00"), EndAt: at("2024-05-01 09:30:00"), Raw: row(t, "no_company"),
		}},
		{name: "problems", conv: jelou.Conversation{
			ID: "64b0c1f2e4b0a1b2c3d4e5f9", Company: jelou.Company{ID: "1203"}, State: jelou.StateClosed,
			EndAt: at("2024-05-01 10:00:00"), Raw: row(t, "problems"),
			Problems: []string{`startAt: unparseable "yesterday"`, `timeRepliedOperator: not a number: "fast"`},
		}},
	}
}

// events returns the fixtures as events.
func events(t testing.TB) map[string]Event {
	m := make(map[string]Event)
	for _, f := range fixtures(t) {
		m[f.name] = New(source, f.conv, f.previous, window, observed)
	}
	return m
}

// dump formats e for failure messages: its structured form when it has one.
func dump(e Event) string {
	if b, err := e.MarshalJSON(); err == nil {
		return string(b)
	}
	c := e.Data.Conversation
	e.Data.Conversation = nil
	return fmt.Sprintf("%+v conversation=%s", e, c)
}
