package dedupe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

var update = flag.Bool("update", false, "rewrite testdata/v1.snap")

// sampleIndex builds an index with every kind of entry a snapshot must
// handle.
func sampleIndex() *Index {
	ix := New()
	obs := func(id string, s jelou.State, at time.Time, acked bool) {
		ix.Observe(id, s, at)
		if acked {
			ix.Ack(id, s)
		}
	}
	obs("acked-active", active, t0, true)
	obs("acked-closed", active, t0.Add(time.Minute), true)
	obs("acked-closed", closed, t0.Add(time.Minute), true)
	obs("pending-only", active, t0.Add(2*time.Minute), false)
	obs("acked-then-pending", active, t0.Add(3*time.Minute), true)
	obs("acked-then-pending", resolved, t0.Add(3*time.Minute), false)
	obs("unknown-acked", "queued", t0.Add(4*time.Minute), true)
	obs("unknown-pending", active, t0.Add(5*time.Minute), true)
	obs("unknown-pending", "transferred", t0.Add(5*time.Minute), false)
	obs("two-terminal", closed, t0.Add(6*time.Minute), true)
	obs("two-terminal", expired, t0.Add(6*time.Minute), true)
	obs("overflow", jelou.State(strings.Repeat("y", 100)), t0.Add(7*time.Minute), true)
	obs("old", active, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), true)
	return ix
}

// checkSample checks an index read back from sampleIndex's snapshot.
func checkSample(t *testing.T, ix *Index) {
	t.Helper()
	if got, want := ix.Len(), 8; got != want {
		t.Errorf("Len = %d, want %d (pending-only entry dropped)", got, want)
	}
	tests := []struct {
		id    string
		state jelou.State
		want  Result
	}{
		{"acked-active", active, Result{Reason: ReasonDuplicate, Previous: active}},
		{"acked-closed", closed, Result{Reason: ReasonDuplicate, Previous: closed}},
		{"acked-closed", active, Result{Reason: ReasonDuplicate, Previous: closed}},
		{"pending-only", active, Result{Emit: true, Reason: ReasonNew}},
		{"acked-then-pending", resolved, Result{Emit: true, Reason: ReasonStateChange, Previous: active}},
		{"unknown-acked", "queued", Result{Reason: ReasonDuplicate, Previous: "queued"}},
		{"unknown-pending", "transferred", Result{Emit: true, Reason: ReasonStateChange, Previous: active}},
		{"two-terminal", active, Result{Reason: ReasonRegression, Previous: expired}},
		{"two-terminal", resolved, Result{Emit: true, Reason: ReasonStateChange, Previous: expired}},
		{"overflow", active, Result{Emit: true, Reason: ReasonStateChange, Previous: OverflowState}},
		{"old", active, Result{Reason: ReasonDuplicate, Previous: active}},
	}
	for _, tt := range tests {
		if got := ix.Observe(tt.id, tt.state, t0); got != tt.want {
			t.Errorf("after reading, Observe(%s, %q) = %+v, want %+v", tt.id, tt.state, got, tt.want)
		}
	}
}

// snapshotOf returns the snapshot of ix.
func snapshotOf(t testing.TB, ix *Index) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ix.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reread writes the snapshot of ix and reads it back into a new index.
func reread(t testing.TB, ix *Index) *Index {
	t.Helper()
	again, err := ReadSnapshot(bytes.NewReader(snapshotOf(t, ix)))
	if err != nil {
		t.Fatalf("reading back a written snapshot: %v", err)
	}
	return again
}

func TestSnapshotRoundTrip(t *testing.T) {
	checkSample(t, reread(t, sampleIndex()))
}

func TestSnapshotNonTerminalAfterRead(t *testing.T) {
	ix := reread(t, sampleIndex())
	var got []time.Time
	ix.NonTerminal(func(at time.Time) bool { got = append(got, at); return true })
	// acked-active, acked-then-pending (its resolved was pending),
	// unknown-acked, unknown-pending (back to active), overflow, old.
	if len(got) != 6 {
		t.Errorf("NonTerminal after read gave %d entries (%v), want 6", len(got), got)
	}
}

func TestSnapshotEmpty(t *testing.T) {
	ix := reread(t, New())
	if ix.Len() != 0 {
		t.Errorf("Len = %d, want 0", ix.Len())
	}
}

// The committed testdata/v1.snap pins format version 1: a later build must
// still read it. Regenerate with go test -run Golden -update (only when the
// sample changes, never to paper over a format change).
func TestReadSnapshotGolden(t *testing.T) {
	path := filepath.Join("testdata", "v1.snap")
	if *update {
		if err := os.WriteFile(path, snapshotOf(t, sampleIndex()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, err := ReadSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, ix)
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestWriteSnapshotError(t *testing.T) {
	for after := range 5 {
		err := sampleIndex().WriteSnapshot(&failWriter{after: after})
		if err == nil || !strings.Contains(err.Error(), "write dedupe snapshot: disk full") {
			t.Errorf("write failing after %d writes: err = %v", after, err)
		}
	}
}

// block frames a payload the way WriteSnapshot does.
func block(kind byte, payload []byte) []byte {
	var buf bytes.Buffer
	if err := writeBlock(&buf, kind, payload); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func header(version uint16) []byte {
	return binary.LittleEndian.AppendUint16([]byte(snapshotMagic), version)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func uv(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// entryBytes encodes one entry: key, value, optional code.
func entryBytes(key uint64, v uint64, code ...uint64) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, key), uv(append([]uint64{v}, code...)...)...)
}

func TestReadSnapshotErrors(t *testing.T) {
	activeAcked := uint64(1<<5 | 1) // last active, acked {active}
	end0 := block(kindEnd, uv(0, 0))
	tests := []struct {
		name  string
		input []byte
		check func(error) bool
		want  string
	}{
		{"empty", nil, is(ErrTruncated), "truncated at offset 0"},
		{"magic prefix only", []byte("JD"), is(ErrTruncated), "truncated"},
		{"wrong magic", []byte("{\"cursor\":1}"), is(ErrNotSnapshot), "bad magic"},
		{"short wrong magic", []byte("J{"), is(ErrNotSnapshot), "bad magic"},
		{"future version", header(2), isVersion(2), "version 2 is not supported"},
		{"version zero", header(0), isVersion(0), "version 0"},
		{"no end block", header(1), is(ErrTruncated), "truncated at offset 6"},
		{"trailing data", cat(header(1), end0, []byte{0}), isFormat, "trailing data"},
		{"unknown block kind", cat(header(1), block('Q', nil)), isFormat, "unknown block kind 0x51"},
		{"checksum", cat(header(1), end0[:len(end0)-1], []byte{end0[len(end0)-1] ^ 1}), isChecksum, "checksum mismatch"},
		{"huge block length", cat(header(1), []byte{kindEntries}, uv(1<<40)), isFormat, "exceeds"},
		{"bad block length varint", cat(header(1), []byte{kindEntries}, bytes.Repeat([]byte{0xff}, 11)), isFormat, "bad block length"},
		{"block longer than input", cat(header(1), []byte{kindEntries}, uv(1000), []byte{1, 2, 3}), is(ErrTruncated), "truncated"},
		{"count beyond payload", cat(header(1), block(kindEntries, uv(0, 1000))), isFormat, "exceeds what"},
		{"entry total mismatch", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(1, activeAcked))), end0), isFormat, "end block counts 0 entries, blocks held 1"},
		{"duplicate key", cat(header(1), block(kindEntries, cat(uv(10, 2), entryBytes(7, activeAcked), entryBytes(7, activeAcked)))), isFormat, "duplicate key"},
		{"no acked state", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, 1<<5)))), isFormat, "invalid states"},
		{"last not acked", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, 2<<5|1)))), isFormat, "invalid states"},
		{"last out of range", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, 7<<5|31)))), isFormat, "invalid states"},
		{"start out of range", cat(header(1), block(kindEntries, cat(uv(maxStartSec, 1), entryBytes(7, 1<<8|activeAcked)))), isFormat, "start out of range"},
		{"base out of range", cat(header(1), block(kindEntries, uv(maxStartSec+1, 0))), isFormat, "base time"},
		{"stray bytes", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, activeAcked), []byte{9, 9, 9, 9, 9, 9, 9, 9, 9}))), isFormat, "stray bytes"},
		{"code zero", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, 5<<5|16, 0)))), isFormat, "code 0 out of range"},
		{"code not in table", cat(header(1), block(kindEntries, cat(uv(10, 1), entryBytes(7, 5<<5|16, 3))), block(kindEnd, uv(1, 1, 1, 'q'))), isFormat, "code 3"},
		{"documented state in table", cat(header(1), block(kindEnd, cat(uv(0, 1, 6), []byte("closed")))), isFormat, "is a documented state"},
		{"state twice in table", cat(header(1), block(kindEnd, cat(uv(0, 2, 1), []byte("q"), uv(1), []byte("q")))), isFormat, "appears twice"},
		{"state too long", cat(header(1), block(kindEnd, cat(uv(0, 1, 65), bytes.Repeat([]byte("q"), 65)))), isFormat, "length 65 out of range"},
		{"state count too big", cat(header(1), block(kindEnd, uv(0, 5000))), isFormat, "state count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := ReadSnapshot(bytes.NewReader(tt.input))
			if err == nil {
				t.Fatalf("ReadSnapshot succeeded with %d entries, want an error", ix.Len())
			}
			if !tt.check(err) {
				t.Errorf("error %q (%T) is not of the expected type", err, errors.Unwrap(err))
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "read dedupe snapshot: ") {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) && errors.Is(err, ErrCorrupt) }
}

func isVersion(v uint16) func(error) bool {
	return func(err error) bool {
		var ve *VersionError
		return errors.As(err, &ve) && ve.Version == v && !errors.Is(err, ErrCorrupt)
	}
}

func isFormat(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe) && errors.Is(err, ErrCorrupt)
}

func isChecksum(err error) bool {
	var ce *ChecksumError
	return errors.As(err, &ce) && errors.Is(err, ErrCorrupt)
}

// Every strict prefix of a valid snapshot is truncated, and every single-bit
// flip is caught (corruption, never a silent success or a panic).
func TestReadSnapshotDamage(t *testing.T) {
	good := snapshotOf(t, sampleIndex())
	for n := range len(good) {
		_, err := ReadSnapshot(bytes.NewReader(good[:n]))
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("prefix of %d/%d bytes: err = %v, want ErrTruncated", n, len(good), err)
		}
	}
	for i := range len(good) * 8 {
		bad := bytes.Clone(good)
		bad[i/8] ^= 1 << (i % 8)
		_, err := ReadSnapshot(bytes.NewReader(bad))
		var ve *VersionError
		if err == nil || !errors.Is(err, ErrCorrupt) && !errors.As(err, &ve) {
			t.Errorf("bit %d flipped: err = %v, want a corruption error", i, err)
		}
	}
}

func TestReadSnapshotReadError(t *testing.T) {
	r := &errReader{data: cat(header(1)), err: errors.New("connection reset")}
	_, err := ReadSnapshot(r)
	if err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("err = %v, want the reader's error, not corruption", err)
	}
}

type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// acked returns the acknowledged content of an index as a snapshot would
// hold it, keyed by hash, for comparisons.
func acked(ix *Index) map[uint64]string {
	m := map[uint64]string{}
	for i := range ix.shards {
		for _, sl := range ix.shards[i].slots {
			if sl.val == 0 {
				continue
			}
			e := unpack(sl.val)
			if e.acked == 0 {
				continue
			}
			name := ""
			if e.acked&(1<<bitUnknown) != 0 {
				name = string(ix.states.name(e.code))
			}
			m[sl.key] = fmt.Sprintf("%d %05b %d %s", e.start, e.acked, pickLast(e.acked, e.lastAck), name)
		}
	}
	return m
}
