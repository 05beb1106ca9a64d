package checkpoint

import (
	"github.com/jelou-producer/jelou-producer/pkg/jelou"

	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/v2.checkpoint")

// goldenCheckpoint is what testdata/v2.checkpoint holds.
func goldenCheckpoint() *Checkpoint {
	cp := goldenV1Checkpoint()
	cp.Coverage = &Coverage{
		History: []jelou.Window{
			{Start: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 4, 30, 6, 0, 0, 0, time.UTC)},
			{Start: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 11, 45, 0, 0, time.UTC)},
		},
		Live:    jelou.Window{Start: time.Date(2024, 5, 1, 11, 45, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		Settled: time.Date(2024, 5, 1, 11, 46, 0, 0, time.UTC),
	}
	return cp
}

// goldenV1Checkpoint is what testdata/v1.checkpoint holds: no coverage.
func goldenV1Checkpoint() *Checkpoint {
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
		t.Skip("run with -update to rewrite testdata/v2.checkpoint")
	}
	data, err := encodeBytes(goldenCheckpoint())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/v2.checkpoint", data, 0o644); err != nil {
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

// TestCoverageRejectsNonsense: a coverage that contradicts itself is
// reported as corrupt, not trusted.
func TestCoverageRejectsNonsense(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	span := func(a, b int) spanJSON {
		return spanJSON{Start: t0.Add(time.Duration(a) * time.Hour), End: t0.Add(time.Duration(b) * time.Hour)}
	}
	tests := []struct {
		name string
		c    coverageJSON
		want string
	}{
		{"live reversed", coverageJSON{Live: span(5, 4), Settled: t0.Add(4 * time.Hour)}, "ends before it starts"},
		{"settled outside live", coverageJSON{Live: span(4, 5), Settled: t0.Add(6 * time.Hour)}, "outside the live range"},
		{"empty gap", coverageJSON{History: []spanJSON{span(1, 1)}, Live: span(4, 5), Settled: t0.Add(4 * time.Hour)}, "empty or reversed"},
		{"gaps out of order", coverageJSON{History: []spanJSON{span(2, 3), span(1, 2)}, Live: span(4, 5), Settled: t0.Add(4 * time.Hour)}, "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := coverageIn(&tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("coverageIn = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
