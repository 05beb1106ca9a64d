package dedupe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/jelou-producer/jelou-producer/pkg/jelou"
)

// Snapshot format, version 1 (integers little-endian; uvarint as in
// encoding/binary):
//
//	header  "JDDX" | version uint16
//	blocks  kind byte | payload length uvarint | payload | CRC-32C uint32
//	        (Castagnoli, over kind, length and payload)
//
//	kind 'E', entries:  base uvarint | count uvarint | count × entry
//	    entry = key uint64 | value uvarint [| unknown code uvarint]
//	    value = (start − base) << 8 | last acked state << 5 | acked mask
//	    key is the FNV-1a 64 hash of the id; start is in seconds since
//	    1970; states are bits (active, closed, resolved, expired,
//	    undocumented), last as bit+1; the code follows when the mask has
//	    the undocumented bit
//	kind 'Z', end (exactly once, last):  total entries uvarint |
//	    value count uvarint | value count × (length uvarint | bytes)
//	    (undocumented state values; code c names value c, 1-based)
//
// The input must end right after the end block.
const (
	snapshotMagic   = "JDDX"
	snapshotVersion = 1

	kindEntries = 'E'
	kindEnd     = 'Z'

	// maxBlockLen bounds one block's declared length. Memory still grows
	// only with the bytes actually read, whatever a block declares.
	maxBlockLen = 1 << 30
	// minEntryLen is the smallest encoded entry: a key and a one-byte value.
	minEntryLen = 9
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes the acknowledged states of the index to w. Pending
// states are left out, so that after a restart from this snapshot in-flight
// work is emitted again rather than lost; an entry with no acknowledged
// state is left out entirely. The index stays usable during the write: each
// shard is copied under its own lock, so the snapshot is consistent per
// entry, not across the whole index. Entries come out in no particular order.
func (ix *Index) WriteSnapshot(w io.Writer) error {
	if err := ix.writeSnapshot(w); err != nil {
		return fmt.Errorf("write dedupe snapshot: %w", err)
	}
	return nil
}

func (ix *Index) writeSnapshot(w io.Writer) error {
	hdr := binary.LittleEndian.AppendUint16([]byte(snapshotMagic), snapshotVersion)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	var payload []byte
	total := 0
	for i := range ix.shards {
		var n int
		payload, n = ix.shards[i].appendAcked(payload[:0])
		if n == 0 {
			continue
		}
		total += n
		if err := writeBlock(w, kindEntries, payload); err != nil {
			return err
		}
	}
	payload = binary.AppendUvarint(payload[:0], uint64(total))
	names := ix.states.list()
	payload = binary.AppendUvarint(payload, uint64(len(names)))
	for _, s := range names {
		payload = binary.AppendUvarint(payload, uint64(len(s)))
		payload = append(payload, s...)
	}
	return writeBlock(w, kindEnd, payload)
}

// appendAcked appends an entries payload holding the shard's acknowledged
// states, and returns it with the number of entries.
func (s *shard) appendAcked(b []byte) ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, base := 0, uint64(maxStartSec)
	for _, sl := range s.slots {
		if sl.val != 0 && unpack(sl.val).acked != 0 {
			n++
			base = min(base, sl.val&maxStartSec)
		}
	}
	if n == 0 {
		return b, 0
	}
	b = binary.AppendUvarint(b, base)
	b = binary.AppendUvarint(b, uint64(n))
	for _, sl := range s.slots {
		if sl.val == 0 {
			continue
		}
		e := unpack(sl.val)
		if e.acked == 0 {
			continue
		}
		last := pickLast(e.acked, e.lastAck)
		b = binary.LittleEndian.AppendUint64(b, sl.key)
		b = binary.AppendUvarint(b, (e.start-base)<<8|uint64(last)<<5|uint64(e.acked))
		if e.acked&(1<<bitUnknown) != 0 {
			b = binary.AppendUvarint(b, uint64(e.code))
		}
	}
	return b, n
}

// writeBlock writes one framed block.
func writeBlock(w io.Writer, kind byte, payload []byte) error {
	head := binary.AppendUvarint([]byte{kind}, uint64(len(payload)))
	sum := crc32.Update(crc32.Update(0, castagnoli, head), castagnoli, payload)
	if _, err := w.Write(head); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, sum))
	return err
}

// ReadSnapshot reads a snapshot written by [Index.WriteSnapshot] into a new
// index whose entries hold only acknowledged states. r must hold the
// snapshot alone: bytes after its end are an error. Errors are
// [ErrNotSnapshot], [*VersionError], [ErrTruncated], [*ChecksumError] or
// [*FormatError] (all but the version error match [ErrCorrupt]), or an error
// of r. ReadSnapshot never trusts a declared length or count for memory: what
// it allocates grows with the bytes actually read.
func ReadSnapshot(r io.Reader) (*Index, error) {
	ix, err := readSnapshot(r)
	if err != nil {
		return nil, fmt.Errorf("read dedupe snapshot: %w", err)
	}
	return ix, nil
}

// snapReader reads a snapshot, counting bytes for error offsets.
type snapReader struct {
	br  *bufio.Reader
	off int64
}

func (r *snapReader) ReadByte() (byte, error) {
	c, err := r.br.ReadByte()
	if err == nil {
		r.off++
	}
	return c, err
}

func (r *snapReader) Read(p []byte) (int, error) {
	n, err := r.br.Read(p)
	r.off += int64(n)
	return n, err
}

// ioErr turns an end of input into ErrTruncated and keeps other read errors.
func (r *snapReader) ioErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w at offset %d", ErrTruncated, r.off)
	}
	return fmt.Errorf("at offset %d: %w", r.off, err)
}

func readSnapshot(rd io.Reader) (*Index, error) {
	r := &snapReader{br: bufio.NewReader(rd)}
	var hdr [6]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if !bytes.HasPrefix([]byte(snapshotMagic), hdr[:min(n, len(snapshotMagic))]) {
			return nil, ErrNotSnapshot
		}
		return nil, r.ioErr(err)
	}
	if string(hdr[:4]) != snapshotMagic {
		return nil, ErrNotSnapshot
	}
	if v := binary.LittleEndian.Uint16(hdr[4:]); v != snapshotVersion {
		return nil, &VersionError{Version: v}
	}

	ix := New()
	d := decoder{ix: ix}
	var payload bytes.Buffer
	for {
		kind, off, err := r.readBlock(&payload)
		if err != nil {
			return nil, err
		}
		d.off = off
		switch kind {
		case kindEntries:
			err = d.entries(payload.Bytes())
		case kindEnd:
			err = d.end(payload.Bytes())
		default:
			err = d.fail("unknown block kind %#02x", kind)
		}
		if err != nil {
			return nil, err
		}
		if kind == kindEnd {
			break
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		if err != nil {
			return nil, r.ioErr(err)
		}
		return nil, &FormatError{Offset: r.off - 1, Reason: "trailing data after the end block"}
	}
	return ix, nil
}

// readBlock reads one framed block into payload and checks its checksum. It
// returns the block's kind and offset.
func (r *snapReader) readBlock(payload *bytes.Buffer) (kind byte, off int64, err error) {
	off = r.off
	kind, err = r.ReadByte()
	if err != nil {
		return 0, off, r.ioErr(err)
	}
	n, err := binary.ReadUvarint(r)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return 0, off, r.ioErr(err)
	case err != nil:
		return 0, off, &FormatError{Offset: off, Reason: "bad block length: " + err.Error()}
	case n > maxBlockLen:
		return 0, off, &FormatError{Offset: off, Reason: fmt.Sprintf("block length %d exceeds %d", n, maxBlockLen)}
	}
	payload.Reset()
	if _, err := io.CopyN(payload, r, int64(n)); err != nil {
		return 0, off, r.ioErr(err)
	}
	var tail [4]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return 0, off, r.ioErr(err)
	}
	head := binary.AppendUvarint([]byte{kind}, n)
	sum := crc32.Update(crc32.Update(0, castagnoli, head), castagnoli, payload.Bytes())
	if stored := binary.LittleEndian.Uint32(tail[:]); stored != sum {
		return 0, off, &ChecksumError{Offset: off, Stored: stored, Computed: sum}
	}
	return kind, off, nil
}

// decoder checks block payloads and loads them into an index.
type decoder struct {
	ix      *Index
	off     int64 // offset of the current block
	total   uint64
	maxCode uint16
}

func (d *decoder) fail(format string, args ...any) error {
	return &FormatError{Offset: d.off, Reason: fmt.Sprintf(format, args...)}
}

// uvarint reads one uvarint from the front of b.
func (d *decoder) uvarint(b *[]byte, what string) (uint64, error) {
	v, n := binary.Uvarint(*b)
	if n <= 0 {
		return 0, d.fail("bad %s", what)
	}
	*b = (*b)[n:]
	return v, nil
}

func (d *decoder) entries(b []byte) error {
	base, err := d.uvarint(&b, "base time")
	if err != nil {
		return err
	}
	count, err := d.uvarint(&b, "entry count")
	if err != nil {
		return err
	}
	if base > maxStartSec {
		return d.fail("base time %d out of range", base)
	}
	if count > uint64(len(b)/minEntryLen) {
		return d.fail("entry count %d exceeds what %d bytes can hold", count, len(b))
	}
	// count is bounded by the bytes read, so reserving is safe. All
	// entries of a block come from one shard of the writer, and so land
	// in one shard here.
	if count > 0 && len(b) >= 8 {
		d.ix.shards[shardOf(binary.LittleEndian.Uint64(b))].reserve(int(count))
	}
	for range count {
		if len(b) < 8 {
			return d.fail("entry cut short")
		}
		key := binary.LittleEndian.Uint64(b)
		b = b[8:]
		v, err := d.uvarint(&b, "entry value")
		if err != nil {
			return err
		}
		e := entry{acked: uint8(v & allMask), last: uint8(v >> 5 & lastField)}
		rel := v >> 8
		if rel > maxStartSec-base {
			return d.fail("entry %016x: start out of range", key)
		}
		e.start = base + rel
		if e.acked == 0 || e.last == 0 || e.last > bitUnknown+1 || e.acked&(1<<(e.last-1)) == 0 {
			return d.fail("entry %016x: invalid states %#02x", key, v&0xff)
		}
		e.lastAck = e.last
		if e.acked&(1<<bitUnknown) != 0 {
			c, err := d.uvarint(&b, "unknown state code")
			if err != nil {
				return err
			}
			if c == 0 || c > overflowCode {
				return d.fail("entry %016x: unknown state code %d out of range", key, c)
			}
			e.code = uint16(c)
			if e.code != overflowCode {
				d.maxCode = max(d.maxCode, e.code)
			}
		}
		s := &d.ix.shards[shardOf(key)]
		if _, dup := s.find(key); dup {
			return d.fail("duplicate key %016x", key)
		}
		s.insert(key, e.pack())
		d.total++
	}
	if len(b) != 0 {
		return d.fail("%d stray bytes after the entries", len(b))
	}
	return nil
}

func (d *decoder) end(b []byte) error {
	total, err := d.uvarint(&b, "entry total")
	if err != nil {
		return err
	}
	if total != d.total {
		return d.fail("end block counts %d entries, blocks held %d", total, d.total)
	}
	n, err := d.uvarint(&b, "state count")
	if err != nil {
		return err
	}
	if n > MaxUnknownStates || n > uint64(len(b)) {
		return d.fail("state count %d out of range", n)
	}
	t := &d.ix.states
	t.codes = make(map[jelou.State]uint16, n)
	for i := range n {
		l, err := d.uvarint(&b, "state length")
		if err != nil {
			return err
		}
		if l > MaxUnknownStateLen || l > uint64(len(b)) {
			return d.fail("state %d: length %d out of range", i+1, l)
		}
		s := jelou.State(b[:l])
		b = b[l:]
		if knownBit(s) != bitUnknown {
			return d.fail("state %d: %q is a documented state", i+1, s)
		}
		if _, dup := t.codes[s]; dup {
			return d.fail("state %d: %q appears twice", i+1, s)
		}
		t.names = append(t.names, s)
		t.codes[s] = uint16(len(t.names))
	}
	if len(b) != 0 {
		return d.fail("%d stray bytes after the state table", len(b))
	}
	if int(d.maxCode) > len(t.names) {
		return d.fail("entries use unknown state code %d, the table holds %d", d.maxCode, len(t.names))
	}
	return nil
}
