package checkpoint

import (
	"github.com/jelou-producer/jelou-producer/pkg/jelou"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// FormatVersion is the checkpoint format version this build writes. It reads
// every version up to and including it.
const FormatVersion = 2

// MaxSize bounds an encoded checkpoint (header, dedupe snapshot and
// checksum). A file or a Kafka manifest claiming more is reported as corrupt
// rather than read into memory.
const MaxSize = 1 << 30

// maxSourceLen bounds a source id; SourceID returns 16 characters.
const maxSourceLen = 200

// Checkpoint is the durable progress of one source.
type Checkpoint struct {
	// Version is the format version of a loaded checkpoint. Save ignores it
	// and always writes FormatVersion.
	Version int
	// Source is the stable source id (see SourceID).
	Source string
	// Account is the fingerprint of the account whose progress this is
	// (see [Account]); empty in a checkpoint saved before accounts were
	// recorded. A store told the account of the source ([File].Account)
	// writes that one, whatever this holds, and refuses to load a
	// checkpoint of another account.
	Account string
	// Cursor is the time before which every window is fully fetched and
	// acknowledged by Kafka. From format version 2 on it is derived from
	// Coverage (the start of the oldest history gap, else Coverage.Live's
	// end) and kept for operators and older readers.
	Cursor time.Time
	// Coverage is what each lane of the poller has read; nil in a version 1
	// checkpoint, which held only Cursor (see Coverage for the migration).
	Coverage *Coverage
	// SavedAt is when the checkpoint was saved, as given by the caller.
	SavedAt time.Time
	// Dedupe is an opaque snapshot of the dedupe index; it may be nil.
	Dedupe []byte
	// Extra holds optional small state (such as the revisit schedule) under
	// names the caller chooses; it may be nil. Each value must be valid JSON.
	Extra map[string]json.RawMessage
}

// Coverage records which start times the poller's lanes have read and
// Kafka has acknowledged, so that a restart resumes every lane where it
// stopped. Times are start times of conversations; windows are inclusive
// at both ends, as the API's are.
//
// A version 1 checkpoint held only a cursor C: every start before C was
// read, and the live tick had re-read the settle period behind it. Its
// coverage is Live = [C−settle, C] with Settled = C−settle and no history
// gap; the poller builds that when it loads one.
type Coverage struct {
	// History lists the ranges of start times not read yet by the history
	// lane, oldest first. The start of each advances as its windows are
	// acknowledged in order; a range is dropped when it is done.
	History []jelou.Window
	// Live is the range read at least once by the live lane (and re-read
	// by the settle lane).
	Live jelou.Window
	// Settled lies in Live: every start time in [Live.Start, Settled] was
	// read at least the settle period after it began.
	Settled time.Time
}

// Cursor returns the cursor of c: every start time before it was read at
// least once. It is the start of the oldest history gap, else Live.End.
// Checkpoint.Cursor holds it, for operators and older readers.
func (c Coverage) Cursor() time.Time {
	if len(c.History) > 0 {
		return c.History[0].Start
	}
	return c.Live.End
}

// Store saves and loads checkpoints. Implementations are safe for concurrent
// use by multiple goroutines.
type Store interface {
	// Load returns the last checkpoint saved for source. It returns an error
	// matching ErrNotFound (errors.Is) when none was ever saved, a
	// *CorruptError when one exists but cannot be read back intact, and a
	// *VersionError when it was written by a newer build.
	Load(ctx context.Context, source string) (*Checkpoint, error)
	// Save stores cp atomically: after a crash at any point, Load returns
	// either the previous checkpoint or cp, never a mix of both.
	Save(ctx context.Context, cp *Checkpoint) error
	// Close releases the store's resources.
	Close() error
}

// ErrNotFound reports that no checkpoint was ever saved for a source.
var ErrNotFound = errors.New("no checkpoint saved yet")

// CorruptError reports a checkpoint that exists but cannot be read back
// intact: truncated, garbled, or failing its checksum. It is never
// recovered from silently: the operator decides what to do.
type CorruptError struct {
	// Path is the checkpoint file, for the file backend.
	Path string
	// Topic and Key locate the record, for the Kafka backend.
	Topic, Key string
	// Reason says what is wrong, for a person.
	Reason string
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint %s is corrupt: %s", location(e.Path, e.Topic, e.Key), e.Reason)
}

// VersionError reports a checkpoint written in a format newer than this
// build reads.
type VersionError struct {
	// Path is the checkpoint file, for the file backend.
	Path string
	// Topic and Key locate the record, for the Kafka backend.
	Topic, Key string
	// Found is the version of the stored checkpoint.
	Found int
	// Supported is the newest version this build reads (FormatVersion).
	Supported int
}

// Error implements error.
func (e *VersionError) Error() string {
	return fmt.Sprintf("checkpoint %s has format version %d, this build reads up to %d: run a newer jelou-producer",
		location(e.Path, e.Topic, e.Key), e.Found, e.Supported)
}

// SourceMismatchError reports a checkpoint that belongs to another source
// than the one asked for, such as two sources configured with one file.
type SourceMismatchError struct {
	// Path is the checkpoint file, for the file backend.
	Path string
	// Topic and Key locate the record, for the Kafka backend.
	Topic, Key string
	// Want is the source asked for; Found the one stored.
	Want, Found string
}

// Error implements error.
func (e *SourceMismatchError) Error() string {
	return fmt.Sprintf("checkpoint %s belongs to source %s, not %s: give each source its own checkpoint",
		location(e.Path, e.Topic, e.Key), e.Found, e.Want)
}

// AccountMismatchError reports a checkpoint saved for another account
// than the one its source polls: two deployments sharing a checkpoint
// topic with a source of one name on different accounts, or a source whose
// client id or base URL changed. Using it would resume one account from
// another's progress, so it is refused.
type AccountMismatchError struct {
	// Path is the checkpoint file, for the file backend.
	Path string
	// Topic and Key locate the record, for the Kafka backend.
	Topic, Key string
	// Source is the source id.
	Source string
	// Want is the fingerprint of the account the source polls; Found the
	// one stored (see [Account]).
	Want, Found string
}

// Error implements error.
func (e *AccountMismatchError) Error() string {
	return fmt.Sprintf("checkpoint %s of source %s was saved for account %s, but the source polls account %s "+
		"(fingerprints of the base URL and client id): if another deployment shares the checkpoint store, give each its own "+
		"checkpoint topic or source ids; if the source's client id or base URL changed on purpose, give the source a new id "+
		"or delete its checkpoint", location(e.Path, e.Topic, e.Key), e.Source, e.Found, e.Want)
}

// Account returns the fingerprint of the account polled at baseURL with
// clientID that a checkpoint records: [SourceID] of both, so that the
// client's secret can rotate and the checkpoint stays.
func Account(baseURL, clientID string) string { return SourceID(baseURL, clientID) }

// checkAccount returns an *AccountMismatchError when cp, loaded for
// source, was saved for another account than want. A checkpoint without an
// account (saved before accounts were recorded) and a store not told the
// account (want empty) pass.
func checkAccount(cp *Checkpoint, want string) error {
	if want == "" || cp.Account == "" || cp.Account == want {
		return nil
	}
	return &AccountMismatchError{Source: cp.Source, Want: want, Found: cp.Account}
}

// withAccount returns cp to save with account, when one is given.
func withAccount(cp *Checkpoint, account string) *Checkpoint {
	if account == "" || cp.Account == account {
		return cp
	}
	c := *cp
	c.Account = account
	return &c
}

func location(path, topic, key string) string {
	if path != "" {
		return "file " + path
	}
	return fmt.Sprintf("in topic %s key %s", topic, key)
}

// locate fills in where a decoding error happened.
func locate(err error, path, topic, key string) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		ce.Path, ce.Topic, ce.Key = path, topic, key
	}
	var ve *VersionError
	if errors.As(err, &ve) {
		ve.Path, ve.Topic, ve.Key = path, topic, key
	}
	var me *SourceMismatchError
	if errors.As(err, &me) {
		me.Path, me.Topic, me.Key = path, topic, key
	}
	var ae *AccountMismatchError
	if errors.As(err, &ae) {
		ae.Path, ae.Topic, ae.Key = path, topic, key
	}
	return err
}

// SourceID returns a stable id for the source polled at baseURL with
// clientID: the first 16 hex digits of the SHA-256 of the normalised base URL
// (lower-case scheme and host, default port and trailing slashes dropped),
// a NUL byte, and the client id. The id does not reveal the client id.
func SourceID(baseURL, clientID string) string {
	sum := sha256.Sum256([]byte(normaliseURL(baseURL) + "\x00" + clientID))
	return hex.EncodeToString(sum[:8])
}

func normaliseURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(raw), "/")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host += ":" + port
	}
	return scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
}

// validSource checks that a source id can name a file's owner and a Kafka
// record key: non-empty, printable, without '/', of bounded length.
func validSource(source string) error {
	if source == "" {
		return errors.New("source id is empty")
	}
	if len(source) > maxSourceLen {
		return fmt.Errorf("source id is %d bytes long, at most %d allowed", len(source), maxSourceLen)
	}
	for _, r := range source {
		if r == '/' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("source id %q holds %q: only printable characters other than '/' and space are allowed", source, r)
		}
	}
	return nil
}

func validCheckpoint(cp *Checkpoint) error {
	if cp == nil {
		return errors.New("checkpoint is nil")
	}
	return validSource(cp.Source)
}
