package jelou

import (
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		size, max int64
		want      string
	}{
		{"known size", "abcdef", 6, 10, "abcdef"},
		{"unknown size", "abcdef", -1, 10, "abcdef"},
		{"known size, larger than max: one byte more", "abcdef", 6, 4, "abcde"},
		{"unknown size, larger than max: one byte more", "abcdef", -1, 4, "abcde"},
		{"more than announced", "abcdef", 3, 10, "abcdef"},
		{"empty", "", 0, 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tt.body), tt.size, tt.max)
			if err != nil || string(got) != tt.want {
				t.Fatalf("readBody = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
