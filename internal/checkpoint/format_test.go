package checkpoint

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/v1.checkpoint")

func goldenCheckpoint() *Checkpoint {
	return &Checkpoint{
		Source:  "3f1c0a9be2d47765",
		Cursor:  time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC),
		SavedAt: time.Date(2024, 5, 1, 12, 1, 2, 0, time.UTC),
		Dedupe:  []byte("DDP1\x00\x01\x02\n\xff binary snapshot"),
		Extra:   map[string]json.RawMessage{"revisits": json.RawMessage(`[{"start":"2024-05-01T10:00:00Z","end":"2024-05-01T11:00:00Z"}]`)},
	}
}

func TestUpdateGolden(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/v1.checkpoint")
	}
	data, err := encodeBytes(goldenCheckpoint())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/v1.checkpoint", data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeLimits(t *testing.T) {
	cp := testCheckpoint("src1", 0, 1)
	cp.Extra = map[string]json.RawMessage{"big": json.RawMessage(`"` + strings.Repeat("x", maxHeaderLen) + `"`)}
	if _, err := encodeBytes(cp); err == nil || !strings.Contains(err.Error(), "Extra is too large") {
		t.Fatalf("encode with a 16 MiB Extra = %v, want a size error", err)
	}
}

func TestSourceID(t *testing.T) {
	id := SourceID("https://api.jelou.ai", "client-1")
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("SourceID = %q, want 16 hex digits", id)
	}
	same := []string{"https://API.jelou.ai/", " https://api.jelou.ai:443", "HTTPS://api.jelou.ai//"}
	for _, u := range same {
		if got := SourceID(u, "client-1"); got != id {
			t.Errorf("SourceID(%q) = %s, want %s (same source)", u, got, id)
		}
	}
	different := []struct{ url, client string }{
		{"https://api.jelou.ai", "client-2"},
		{"https://api.jelou.ai/v2", "client-1"},
		{"http://api.jelou.ai", "client-1"},
		{"https://api.jelou.ai:8443", "client-1"},
		{"https://api.jelou.ai\x00client-1", ""},
	}
	for _, d := range different {
		if got := SourceID(d.url, d.client); got == id {
			t.Errorf("SourceID(%q, %q) = %s, the same as another source", d.url, d.client, got)
		}
	}
	if err := validSource(id); err != nil {
		t.Errorf("SourceID gives an invalid source id: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&CorruptError{Path: "/d/c.json", Reason: "checksum mismatch"}, "checkpoint file /d/c.json is corrupt: checksum mismatch"},
		{&CorruptError{Topic: "t", Key: "k", Reason: "manifest: bad"}, "checkpoint in topic t key k is corrupt: manifest: bad"},
		{&VersionError{Path: "/d/c.json", Found: 2, Supported: 1}, "checkpoint file /d/c.json has format version 2, this build reads up to 1: run a newer jelou-producer"},
		{&SourceMismatchError{Path: "/d/c.json", Want: "a", Found: "b"}, "checkpoint file /d/c.json belongs to source b, not a: give each source its own checkpoint"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, cp := range []*Checkpoint{goldenCheckpoint(), testCheckpoint("s", 0, 1), testCheckpoint("s", 300, 2)} {
		data, err := encodeBytes(cp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format":"jelou-producer-checkpoint","version":1,"source":"s","dedupeLen":1073741824}` + "\n\ncrc32c:00000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cp, err := decode(data)
		if err != nil {
			var ce *CorruptError
			var ve *VersionError
			if !errors.As(err, &ce) && !errors.As(err, &ve) {
				t.Fatalf("decode error %T %v, want CorruptError or VersionError", err, err)
			}
			return
		}
		if len(cp.Dedupe) > len(data) || cp.Source == "" {
			t.Fatalf("decode accepted %d bytes giving %d dedupe bytes, source %q", len(data), len(cp.Dedupe), cp.Source)
		}
		// What decodes must encode back to the same bytes' meaning.
		again, err := encodeBytes(cp)
		if err != nil {
			return // e.g. Extra whose JSON does not re-encode (duplicate keys)
		}
		cp2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded checkpoint does not decode: %v", err)
		}
		assertSame(t, cp2, cp)
	})
}
