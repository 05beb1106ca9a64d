package jelou

import (
	"bytes"
	"encoding/json"
)

// This file holds a minimal JSON scanner for input already checked by
// json.Valid: it finds the byte spans of object members and array elements
// without building maps or copying values, so that a page is walked once
// after validation instead of being unmarshalled again at every level.
//
// It never panics and always makes progress on any input, but it only
// gives meaningful results on valid JSON; it does not validate.

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the closing quote of the string
// whose opening quote is at b[i], or len(b) when it is not closed.
func stringEnd(b []byte, i int) int {
	// A plain byte loop: the strings of a row are short.
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++ // the escaped byte cannot end the string
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value that starts at b[i], which
// must not be white space; it is always greater than i when i < len(b).
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default:
		// A literal: number, true, false or null.
		for i++; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ':', ' ', '\t', '\r', '\n':
				return i
			}
		}
		return len(b)
	}
}

// objectIter walks the members of one JSON object.
type objectIter struct {
	data []byte
	off  int
}

// newObjectIter returns an iterator over the members of obj, which must
// start with '{' (as a value span from this scanner does).
func newObjectIter(obj []byte) objectIter { return objectIter{data: obj, off: 1} }

// next returns the next member: its name, unescaped, and its value's exact
// bytes (no surrounding white space). ok is false after the last member.
//
// The name aliases the input unless it holds escapes, which are undone as
// encoding/json does for map keys.
func (it *objectIter) next() (name, value []byte, ok bool) {
	b := it.data
	i := skipSpace(b, it.off)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		it.off = len(b)
		return nil, nil, false
	}
	ke := stringEnd(b, i)
	if ke-i < 2 || b[ke-1] != '"' {
		it.off = len(b)
		return nil, nil, false
	}
	name = b[i+1 : ke-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(b[i:ke], &s) == nil {
			name = []byte(s)
		}
	}
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		it.off = len(b)
		return nil, nil, false
	}
	i = skipSpace(b, i+1)
	ve := valueEnd(b, i)
	if ve <= i {
		it.off = len(b)
		return nil, nil, false
	}
	it.off = ve
	return name, b[i:ve], true
}

// arrayIter walks the elements of one JSON array.
type arrayIter struct {
	data []byte
	off  int
}

// newArrayIter returns an iterator over the elements of arr, which must
// start with '['.
func newArrayIter(arr []byte) arrayIter { return arrayIter{data: arr, off: 1} }

// next returns the next element's exact bytes; ok is false after the last.
func (it *arrayIter) next() (value []byte, ok bool) {
	b := it.data
	i := skipSpace(b, it.off)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		it.off = len(b)
		return nil, false
	}
	ve := valueEnd(b, i)
	if ve <= i {
		it.off = len(b)
		return nil, false
	}
	it.off = ve
	return b[i:ve], true
}

// member returns the value of the last member of obj named name (the one
// encoding/json keeps when a name repeats), or nil when there is none.
func member(obj []byte, name string) []byte {
	var found []byte
	it := newObjectIter(obj)
	for {
		n, v, ok := it.next()
		if !ok {
			return found
		}
		if string(n) == name {
			found = v
		}
	}
}
