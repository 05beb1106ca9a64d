package jelou

import (
	"bytes"
	"io"
)

// readBody reads at most max bytes of r, a body announced as size bytes
// (-1 when unknown), and one more if there is one (so that the caller can
// tell a body too large). A body of known size is read into one buffer of
// that size; one of unknown size into a buffer that doubles as it fills,
// so that reading n bytes allocates about 2n, never the many copies of
// io.ReadAll's gentler growth.
func readBody(r io.Reader, size, max int64) ([]byte, error) {
	r = io.LimitReader(r, max+1)
	if size >= 0 && size <= max {
		buf := make([]byte, 0, size+1)
		for {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
			if len(buf) == cap(buf) {
				// More than announced: go on with a growing buffer.
				var b bytes.Buffer
				b.Write(buf)
				_, err := b.ReadFrom(r)
				return b.Bytes(), err
			}
		}
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}
