package dedupe

import (
	"errors"
	"fmt"
)

// ErrCorrupt is matched, through [errors.Is], by every [ReadSnapshot] error
// that means the bytes are damaged or are not a snapshot: [ErrNotSnapshot],
// [ErrTruncated], [*ChecksumError] and [*FormatError]. A [*VersionError] is
// not corruption: the snapshot was written by a newer build.
var ErrCorrupt = errors.New("corrupt dedupe snapshot")

// ErrNotSnapshot means the input does not start with the snapshot magic.
var ErrNotSnapshot = fmt.Errorf("%w: not a dedupe snapshot (bad magic)", ErrCorrupt)

// ErrTruncated means the input ended before the snapshot's end block.
var ErrTruncated = fmt.Errorf("%w: truncated", ErrCorrupt)

// VersionError means the snapshot's format version is not one this build
// reads (in practice, one written by a newer build).
type VersionError struct {
	// Version is the version found in the snapshot.
	Version uint16
}

// Error implements error.
func (e *VersionError) Error() string {
	return fmt.Sprintf("dedupe snapshot version %d is not supported (this build reads version %d)", e.Version, snapshotVersion)
}

// ChecksumError means a block's CRC-32C does not match its bytes.
type ChecksumError struct {
	// Offset is the byte offset of the block in the snapshot.
	Offset int64
	// Stored is the checksum the snapshot carries; Computed is the one of
	// the bytes read.
	Stored, Computed uint32
}

// Error implements error.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%v: block at offset %d: checksum mismatch (stored %08x, computed %08x)", ErrCorrupt, e.Offset, e.Stored, e.Computed)
}

// Is reports whether target is [ErrCorrupt].
func (e *ChecksumError) Is(target error) bool { return target == ErrCorrupt }

// FormatError means the snapshot's structure is invalid although its
// checksums match (or before a checksum could be read): an unknown block, an
// out-of-range field, a duplicate key, trailing bytes.
type FormatError struct {
	// Offset is the byte offset of the block (or field) at fault.
	Offset int64
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: at offset %d: %s", ErrCorrupt, e.Offset, e.Reason)
}

// Is reports whether target is [ErrCorrupt].
func (e *FormatError) Is(target error) bool { return target == ErrCorrupt }
