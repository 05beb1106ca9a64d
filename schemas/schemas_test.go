package schemas_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/jelou-producer/jelou-producer/pkg/event"
	"github.com/jelou-producer/jelou-producer/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestFiles compiles every embedded schema as draft 2020-12 and checks its
// naming: one file per event type, named after the type. The AsyncAPI
// document is not a JSON Schema (asyncapi_test.go checks it).
func TestFiles(t *testing.T) {
	names, err := fs.Glob(schemas.FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	schemaFiles := 0
	for _, name := range names {
		if name == schemas.AsyncAPI {
			continue
		}
		schemaFiles++
		t.Run(name, func(t *testing.T) {
			b, err := fs.ReadFile(schemas.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			var head struct {
				Schema string `json:"$schema"`
				ID     string `json:"$id"`
				Title  string `json:"title"`
			}
			if err := json.Unmarshal(b, &head); err != nil {
				t.Fatal(err)
			}
			if head.Schema != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %q, want draft 2020-12", head.Schema)
			}
			if want := "ai." + name[:len(name)-len(".json")]; head.Title != want {
				t.Errorf("title = %q, want the event type %q", head.Title, want)
			}
			c := jsonschema.NewCompiler()
			if err := c.AddResource(head.ID, doc); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Compile(head.ID); err != nil {
				t.Errorf("compile: %v", err)
			}
		})
	}
	if schemaFiles == 0 {
		t.Fatal("FS holds no schema")
	}
}

// TestV1MatchesEvent ties the v1 file to the event package's constants.
func TestV1MatchesEvent(t *testing.T) {
	b, err := schemas.FS.ReadFile(schemas.V1)
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		ID         string `json:"$id"`
		Properties struct {
			Type struct {
				Const string `json:"const"`
			} `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		t.Fatal(err)
	}
	if head.ID != event.DefaultDataSchema {
		t.Errorf("$id = %q, want event.DefaultDataSchema %q", head.ID, event.DefaultDataSchema)
	}
	// The identity is a versioned URN, not the URL of a file on a branch
	// that can change under consumers: urn:jelou-producer:schema:<type>.
	if want := "urn:jelou-producer:schema:" + event.TypeV1; head.ID != want {
		t.Errorf("$id = %q, want the versioned URN %q", head.ID, want)
	}
	if head.Properties.Type.Const != event.TypeV1 {
		t.Errorf("type const = %q, want event.TypeV1 %q", head.Properties.Type.Const, event.TypeV1)
	}
	if !bytes.Contains(b, []byte(event.Namespace)) {
		t.Errorf("the id description does not name the namespace %s", event.Namespace)
	}
}

// TestData derives the data schema of v1 and checks that it is the file's
// $defs.data at the root, with its own $id, and that it compiles.
func TestData(t *testing.T) {
	b, err := schemas.Data(schemas.V1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := schemas.Data(schemas.V1)
	if err != nil || !bytes.Equal(b, again) {
		t.Fatalf("Data is not the same bytes twice: %v", err)
	}
	var got, file map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	raw, _ := schemas.FS.ReadFile(schemas.V1)
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if want := event.DefaultDataSchema + schemas.DataSuffix; got["$id"] != want {
		t.Errorf("$id = %v, want %q", got["$id"], want)
	}
	data := file["$defs"].(map[string]any)["data"].(map[string]any)
	for k, v := range data {
		if g, _ := json.Marshal(got[k]); string(g) != string(mustMarshal(t, v)) {
			t.Errorf("member %q = %s, want the file's $defs.data.%s %s", k, g, k, mustMarshal(t, v))
		}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("data.json", doc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile("data.json"); err != nil {
		t.Errorf("compile: %v", err)
	}
	if _, err := schemas.Data("missing.json"); err == nil {
		t.Error("Data of a missing file succeeded")
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
