package event

import (
	"crypto/sha1"
	"encoding/hex"
)

// uuid is the 16 bytes of a UUID.
type uuid [16]byte

// Namespace is the UUID namespace under which event ids are derived
// (see [ID]). It was drawn at random once and must never change: changing
// it changes every event id.
const Namespace = "fe3afa07-321b-438a-82d1-f91d3ae2e2fa"

// namespace is Namespace parsed.
var namespace = mustParseUUID(Namespace)

// uuidV5 returns the name-based UUID of name under ns using SHA-1
// (RFC 9562 section 5.5).
func uuidV5(ns uuid, name string) uuid {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var u uuid
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	return u
}

// String formats u as 8-4-4-4-12 lowercase hex digits.
func (u uuid) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// mustParseUUID parses the 8-4-4-4-12 form; it panics on anything else and
// is only used on constants.
func mustParseUUID(s string) uuid {
	var u uuid
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		panic("event: malformed UUID " + s)
	}
	src := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(src)); err != nil {
		panic("event: malformed UUID " + s + ": " + err.Error())
	}
	return u
}
