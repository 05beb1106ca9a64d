package checkpoint

import (
	"github.com/jelou-producer/jelou-producer/pkg/jelou"

	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"time"
)

// formatName is the "format" field of every checkpoint header.
const formatName = "jelou-producer-checkpoint"

// maxHeaderLen bounds the JSON header line (mostly Extra).
const maxHeaderLen = 16 << 20

// trailerLen is the length of "\ncrc32c:" + 8 hex digits + "\n".
const trailerLen = 17

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the first line of an encoded checkpoint.
type header struct {
	Format    string                     `json:"format"`
	Version   int                        `json:"version"`
	Source    string                     `json:"source"`
	Account   string                     `json:"account,omitempty"`
	Cursor    time.Time                  `json:"cursor"`
	SavedAt   time.Time                  `json:"savedAt"`
	DedupeLen int64                      `json:"dedupeLen"`
	Coverage  *coverageJSON              `json:"coverage,omitempty"`
	Extra     map[string]json.RawMessage `json:"extra,omitempty"`
}

// coverageJSON is the wire form of Coverage (version 2 on).
type coverageJSON struct {
	History []spanJSON `json:"history,omitempty"`
	Live    spanJSON   `json:"live"`
	Settled time.Time  `json:"settled"`
}

// spanJSON is the wire form of a jelou.Window.
type spanJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func spanOut(w jelou.Window) spanJSON { return spanJSON{Start: w.Start.UTC(), End: w.End.UTC()} }
func spanIn(s spanJSON) jelou.Window  { return jelou.Window{Start: s.Start, End: s.End} }

func coverageOut(c *Coverage) *coverageJSON {
	if c == nil {
		return nil
	}
	out := &coverageJSON{Live: spanOut(c.Live), Settled: c.Settled.UTC()}
	for _, h := range c.History {
		out.History = append(out.History, spanOut(h))
	}
	return out
}

// coverageIn checks and converts the wire form; nil stays nil.
func coverageIn(c *coverageJSON) (*Coverage, error) {
	if c == nil {
		return nil, nil
	}
	out := &Coverage{Live: spanIn(c.Live), Settled: c.Settled}
	if out.Live.End.Before(out.Live.Start) {
		return nil, corrupt("coverage: live range %s ends before it starts", out.Live)
	}
	if out.Settled.Before(out.Live.Start) || out.Settled.After(out.Live.End) {
		return nil, corrupt("coverage: settled %s lies outside the live range %s", out.Settled.UTC().Format(time.RFC3339), out.Live)
	}
	for i, h := range c.History {
		w := spanIn(h)
		if !w.End.After(w.Start) {
			return nil, corrupt("coverage: history gap %s is empty or reversed", w)
		}
		if i > 0 && w.Start.Before(out.History[i-1].End) {
			return nil, corrupt("coverage: history gaps out of order at %s", w)
		}
		out.History = append(out.History, w)
	}
	return out, nil
}

// encode writes cp to w as one header line of JSON, the raw dedupe bytes,
// and a trailer line holding the CRC-32C of everything before it.
func encode(w io.Writer, cp *Checkpoint) error {
	h, err := json.Marshal(header{
		Format:    formatName,
		Version:   FormatVersion,
		Source:    cp.Source,
		Account:   cp.Account,
		Cursor:    cp.Cursor.UTC(),
		SavedAt:   cp.SavedAt.UTC(),
		DedupeLen: int64(len(cp.Dedupe)),
		Coverage:  coverageOut(cp.Coverage),
		Extra:     cp.Extra,
	})
	if err != nil {
		return fmt.Errorf("encode checkpoint header: %w", err)
	}
	if len(h) >= maxHeaderLen {
		return fmt.Errorf("encode checkpoint header: %d bytes, at most %d allowed (Extra is too large)", len(h), maxHeaderLen)
	}
	if size := len(h) + 1 + len(cp.Dedupe) + trailerLen; size > MaxSize {
		return fmt.Errorf("encode checkpoint: %d bytes, at most %d allowed", size, MaxSize)
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)
	bw.Write(h)
	bw.WriteByte('\n')
	bw.Write(cp.Dedupe)
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\ncrc32c:%08x\n", crc.Sum32())
	return err
}

// encodeBytes returns the encoding of cp.
func encodeBytes(cp *Checkpoint) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(cp.Dedupe) + 4096)
	if err := encode(&b, cp); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decode parses an encoded checkpoint. Errors are *CorruptError or
// *VersionError without a location; the caller adds it. The returned Dedupe
// aliases data.
func decode(data []byte) (*Checkpoint, error) {
	h, body, err := decodeHeader(data)
	if err != nil {
		return nil, err
	}
	if len(body) < trailerLen {
		return nil, corrupt("truncated: %d bytes, no checksum line", len(data))
	}
	trailer := data[len(data)-trailerLen:]
	if !bytes.HasPrefix(trailer, []byte("\ncrc32c:")) || trailer[trailerLen-1] != '\n' {
		return nil, corrupt("truncated or garbled: no checksum line at the end")
	}
	want, err := strconv.ParseUint(string(trailer[8:16]), 16, 32)
	if err != nil {
		return nil, corrupt("garbled checksum line %q", trailer[1:16])
	}
	covered := data[:len(data)-trailerLen]
	if got := crc32Of(covered); got != uint32(want) {
		return nil, corrupt("checksum mismatch: stored crc32c %08x, computed %08x", want, got)
	}
	dedupe := covered[len(data)-len(body):] // after the header line
	if int64(len(dedupe)) != h.DedupeLen {
		return nil, corrupt("header announces %d dedupe bytes, file holds %d", h.DedupeLen, len(dedupe))
	}
	if len(dedupe) == 0 {
		dedupe = nil
	}
	cov, err := coverageIn(h.Coverage)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{
		Coverage: cov,
		Version:  h.Version,
		Source:   h.Source,
		Account:  h.Account,
		Cursor:   h.Cursor,
		SavedAt:  h.SavedAt,
		Dedupe:   dedupe,
		Extra:    h.Extra,
	}, nil
}

// decodeHeader parses and checks the header line of data and returns it with
// the bytes that follow it. A header of a newer version is a *VersionError
// before anything else is checked, since a newer layout may differ.
func decodeHeader(data []byte) (*header, []byte, error) {
	if len(data) == 0 {
		return nil, nil, corrupt("empty")
	}
	n := bytes.IndexByte(data[:min(len(data), maxHeaderLen)], '\n')
	if n < 0 {
		return nil, nil, corrupt("no header line in the first %d bytes", min(len(data), maxHeaderLen))
	}
	var h header
	if err := json.Unmarshal(data[:n], &h); err != nil {
		return nil, nil, corrupt("header is not valid JSON: %v", err)
	}
	switch {
	case h.Format != formatName:
		return nil, nil, corrupt("not a checkpoint: format %q, want %q", h.Format, formatName)
	case h.Version > FormatVersion:
		return nil, nil, &VersionError{Found: h.Version, Supported: FormatVersion}
	case h.Version < 1:
		return nil, nil, corrupt("invalid format version %d", h.Version)
	case h.Source == "":
		return nil, nil, corrupt("header has no source")
	case h.DedupeLen < 0 || h.DedupeLen > MaxSize:
		return nil, nil, corrupt("invalid dedupe length %d", h.DedupeLen)
	}
	return &h, data[n+1:], nil
}

func corrupt(format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}

// crc32Of returns the CRC-32C (Castagnoli) of b.
func crc32Of(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
