package event

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFile is the published schema, read from the repository so that the
// test checks the file consumers get.
const schemaFile = "../../schemas/jelou.conversation.attended.v1.json"

// compileSchema compiles the v1 schema with format assertions on.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	sch, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

// validate validates a structured event value against sch.
func validate(t *testing.T, sch *jsonschema.Schema, value []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		t.Fatalf("encoded event is not JSON: %v\n%s", err, value)
	}
	return sch.Validate(inst)
}

func TestSchemaAcceptsEncodedEvents(t *testing.T) {
	sch := compileSchema(t)
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			e := New(source, f.conv, f.previous, window, observed)
			value, _, err := e.Encode(Structured)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(t, sch, value); err != nil {
				t.Errorf("schema rejects the event: %v\n%s", err, value)
			}
		})
	}
}

func TestSchemaRejectsBrokenEvents(t *testing.T) {
	sch := compileSchema(t)
	good, _ := encoded(t, "first sight expired", Structured)
	if err := validate(t, sch, good); err != nil {
		t.Fatalf("schema rejects the unbroken event: %v", err)
	}
	active, _ := encoded(t, "active with null endAt", Structured)
	problems, _ := encoded(t, "problems", Structured)
	tests := []struct {
		name     string
		value    []byte
		old, new string
	}{
		{"no id", good, `"id":"76dd2b81-1dac-5231-a1c0-83dbb5365a88",`, ``},
		{"id not a v5 UUID", good, `"id":"76dd2b81-1dac-5231`, `"id":"76dd2b81-1dac-4231`},
		{"specversion 0.3", good, `"specversion":"1.0"`, `"specversion":"0.3"`},
		{"other type", good, `attended.v1"`, `attended.v2"`},
		{"empty subject", good, `"subject":"CONVERSATION_ID"`, `"subject":""`},
		{"time with offset", good, `"time":"2024-05-01T10:31:00.123Z"`, `"time":"2024-05-01T05:31:00.123-05:00"`},
		{"time not RFC 3339", good, `"time":"2024-05-01T10:31:00.123Z"`, `"time":"2024-05-01 10:31:00"`},
		{"time in month 13", good, `"time":"2024-05-01T10:31:00.123Z"`, `"time":"2024-13-01T10:31:00.123Z"`},
		{"no data", good, `"data":{`, `"nodata":{`},
		{"no data.state", good, `"data":{"state":"expired",`, `"data":{`},
		{"no data.window", good, `"window":{"start":"2024-05-01T09:00:00Z","end":"2024-05-01T09:59:59Z"},`, ``},
		{"startAt missing instead of null", problems, `"startAt":null,`, ``},
		{"endAt in vendor format", active, `"endAt":null`, `"endAt":"2024-05-01 10:00:00"`},
		{"empty companyId", good, `"companyId":"COMPANY_ID"`, `"companyId":""`},
		{"empty problems", good, `"window":{`, `"problems":[],"window":{`},
		{"conversation not an object", active, `"conversation":{`, `"conversation":[{`},
		{"conversation without _id", active, `"conversation":{"_id":"64b0c1f2e4b0a1b2c3d4e5f6",`, `"conversation":{`},
		{"conversation duration as string", active, `"timeRepliedOperator":4100`, `"timeRepliedOperator":"4100"`},
		{"company.id as number", active, `"company":{"id":"1203"}`, `"company":{"id":1203}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := bytes.Replace(tt.value, []byte(tt.old), []byte(tt.new), 1)
			if bytes.Equal(broken, tt.value) {
				t.Fatalf("fixture lacks %s", tt.old)
			}
			if tt.name == "conversation not an object" {
				broken = append(broken[:len(broken)-2:len(broken)-2], "]}}"...)
			}
			if err := validate(t, sch, broken); err == nil {
				t.Errorf("schema accepts a broken event:\n%s", broken)
			}
		})
	}
}

// TestSchemaProblemsRelaxConversation pins the rule that a row with problems
// is only required to be an object: the producer publishes such rows as
// received rather than dropping them.
func TestSchemaProblemsRelaxConversation(t *testing.T) {
	sch := compileSchema(t)
	value, _ := encoded(t, "problems", Structured)
	if !bytes.Contains(value, []byte(`"timeRepliedOperator":"fast"`)) {
		t.Fatal("fixture lacks the mistyped field")
	}
	if err := validate(t, sch, value); err != nil {
		t.Errorf("schema rejects a row with problems: %v", err)
	}
	noProblems := bytes.Replace(value, []byte(`"problems":`), []byte(`"notproblems":`), 1)
	if err := validate(t, sch, noProblems); err == nil {
		t.Error("schema accepts a mistyped row without problems")
	}
}
