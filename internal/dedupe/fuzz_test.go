package dedupe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadSnapshot feeds arbitrary bytes to ReadSnapshot. It must never
// panic; it fails only with a corruption or version error; and whatever it
// accepts must survive a write and read back unchanged.
func FuzzReadSnapshot(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "v1.snap"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)/2])
	f.Add([]byte{})
	f.Add(header(1))
	f.Add(cat(header(1), block(kindEnd, uv(0, 0))))
	f.Add(cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, 5<<5|16, 1))), block(kindEnd, uv(1, 1, 1, 'q'))))

	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			var ve *VersionError
			if !errors.Is(err, ErrCorrupt) && !errors.As(err, &ve) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		again := reread(t, ix)
		a, b := acked(ix), acked(again)
		if len(a) != len(b) || ix.Len() != len(a) || again.Len() != len(b) {
			t.Fatalf("round trip changed the entry count: %d → %d (Len %d, %d)", len(a), len(b), ix.Len(), again.Len())
		}
		for k, v := range a {
			if b[k] != v {
				t.Fatalf("key %x: %q became %q", k, v, b[k])
			}
		}
	})
}

// FuzzSnapshotBlocks frames arbitrary payloads with valid checksums, so that
// the block decoders behind the CRC get fuzzed too.
func FuzzSnapshotBlocks(f *testing.F) {
	f.Add(cat(uv(10, 1), entryBytes(7, 5<<5|16, 1)), uv(1, 1, 1, 'q'))
	f.Add(cat(uv(10, 2), entryBytes(7, 1<<5|1), entryBytes(8, 3<<5|7)), uv(2, 0))
	f.Add([]byte{}, uv(0, 0))
	f.Fuzz(func(t *testing.T, entries, end []byte) {
		data := cat(header(1), block(kindEntries, entries), block(kindEnd, end))
		ix, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			if !isFormat(err) {
				t.Fatalf("want a FormatError, got %v", err)
			}
			return
		}
		if a, b := acked(ix), acked(reread(t, ix)); len(a) != len(b) {
			t.Fatalf("round trip changed the entry count: %d → %d", len(a), len(b))
		}
	})
}
