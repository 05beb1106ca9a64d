package jelou

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzDecodePage checks that no body makes DecodePage panic, that it either
// returns a page or a *DecodeError with a bounded, valid snippet, and that
// every row it returns is one element of results, byte for byte valid JSON.
func FuzzDecodePage(f *testing.F) {
	addTestdataSeeds(f)
	f.Add([]byte(`{"results":[{"_id":1e999,"startAt":"2023-02-30 25:00:00","timeRepliedOperator":-0.5}],"pagination":{"total":1e30}}`))
	f.Add([]byte(`{"results":null,"pagination":null,"message":[[],{}],"links":[1,{"number":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodePage(body, guayaquil)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T, want *DecodeError", err)
			}
			if len(de.Snippet) > snippetLen+len("…") || !utf8.ValidString(de.Snippet) {
				t.Fatalf("bad snippet %q", de.Snippet)
			}
			return
		}
		var top struct {
			Results []json.RawMessage `json:"results"`
		}
		if json.Unmarshal(body, &top) != nil && len(p.Conversations) > 0 {
			t.Fatalf("rows decoded from a body whose results do not decode")
		}
		if len(p.Conversations) > len(top.Results) {
			t.Fatalf("%d rows from %d results", len(p.Conversations), len(top.Results))
		}
		for i, c := range p.Conversations {
			if !json.Valid(c.Raw) {
				t.Fatalf("row %d Raw is not valid JSON: %q", i, c.Raw)
			}
			if !c.StartAt.IsZero() && (c.StartAt.Before(minPlausible) || !c.StartAt.Before(maxPlausible)) {
				t.Fatalf("row %d implausible StartAt %v accepted", i, c.StartAt)
			}
		}
	})
}
