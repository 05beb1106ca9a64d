package schemas

import (
	"encoding/json"
	"fmt"
)

// DataSuffix ends the "$id" of a data schema (see [Data]): the event's
// URN followed by ":data".
const DataSuffix = ":data"

// Data returns the JSON Schema of the data member alone of the events
// that the file name in FS describes: what a binary-mode record's value
// (data without the CloudEvents attributes) follows. It is derived from
// the file, never kept as a copy: the root is the file's "$defs"."data"
// with every "$defs" beside it (so its references resolve as in the file),
// "$schema" is the file's, "$id" the file's followed by [DataSuffix], and
// "title" the file's followed by " data". The output is compact JSON with
// sorted keys, the same bytes on every call.
func Data(name string) ([]byte, error) {
	b, err := FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	defs, _ := doc["$defs"].(map[string]any)
	data, ok := defs["data"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %s has no object $defs.data", name)
	}
	id, _ := doc["$id"].(string)
	title, _ := doc["title"].(string)
	if id == "" || title == "" {
		return nil, fmt.Errorf("schema %s has no $id or title", name)
	}
	out := make(map[string]any, len(data)+5)
	for k, v := range data {
		out[k] = v
	}
	out["$schema"] = doc["$schema"]
	out["$id"] = id + DataSuffix
	out["title"] = title + " data"
	if _, ok := data["description"]; !ok {
		out["description"] = "The data member alone of " + title + " events: the value of a binary-mode record."
	}
	out["$defs"] = defs
	return json.Marshal(out)
}
