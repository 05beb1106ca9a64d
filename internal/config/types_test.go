package config

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestStartAt(t *testing.T) {
	now := time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time // Resolve(now)
		wantErr bool
	}{
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "0s", want: now},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "2024-05-01T00:00:00Z", want: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2024-05-01T00:00:00-05:00", want: time.Date(2024, 5, 1, 5, 0, 0, 0, time.UTC)},
		{in: "24", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "2024-05-01", wantErr: true},
		{in: "2024-05-01 00:00:00", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var s StartAt
			err := s.Decode(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && !s.Resolve(now).Equal(tt.want) {
				t.Errorf("Resolve = %s, want %s", s.Resolve(now), tt.want)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		str     string
		wantErr bool
	}{
		{in: "1048576", want: 1 << 20, str: "1MiB"},
		{in: "32MiB", want: 32 << 20, str: "32MiB"},
		{in: "512KiB", want: 512 << 10, str: "512KiB"},
		{in: "1GiB", want: 1 << 30, str: "1GiB"},
		{in: "100B", want: 100, str: "100B"},
		{in: "1536KiB", want: 1536 << 10, str: "1536KiB"},
		{in: "32MB", wantErr: true},
		{in: "1.5MiB", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "9999999999GiB", wantErr: true},
		{in: " 1MiB", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b ByteSize
			err := b.Decode(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && (b != tt.want || b.String() != tt.str) {
				t.Errorf("Decode(%q) = %d (%s), want %d (%s)", tt.in, b, b, tt.want, tt.str)
			}
		})
	}
}

func TestHostPorts(t *testing.T) {
	tests := []struct {
		in      string
		want    HostPorts
		wantErr string
	}{
		{in: "a:9092", want: HostPorts{"a:9092"}},
		{in: " a:9092 , b:9093 ,", want: HostPorts{"a:9092", "b:9093"}},
		{in: "[::1]:9092", want: HostPorts{"[::1]:9092"}},
		{in: "", want: nil},
		{in: "a", wantErr: `"a" is not host:port`},
		{in: "a:0", wantErr: `"a:0" has no valid port`},
		{in: "a:70000", wantErr: `"a:70000" has no valid port`},
		{in: ":9092", wantErr: `":9092" has no host`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var h HostPorts
			err := h.Decode(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Decode(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(h, tt.want) {
				t.Errorf("Decode(%q) = %q, %v; want %q", tt.in, h, err, tt.want)
			}
		})
	}
}

func TestTopicConfig(t *testing.T) {
	tests := []struct {
		in      string
		want    TopicConfig
		wantErr string
	}{
		{in: "", want: TopicConfig{}},
		{in: "retention.ms=1,cleanup.policy=delete", want: TopicConfig{"retention.ms": "1", "cleanup.policy": "delete"}},
		{in: " a = b ", want: TopicConfig{"a": "b"}},
		{in: "a", wantErr: `"a" is not key=value`},
		{in: "a=", wantErr: `"a=" is not key=value`},
		{in: "=b", wantErr: `"=b" is not key=value`},
		{in: "a=1,a=2", wantErr: `"a" is given twice`},
		{in: "a:1", wantErr: `"a:1" is not key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var c TopicConfig
			err := c.Decode(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Decode(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(c, tt.want) {
				t.Errorf("Decode(%q) = %v, %v; want %v", tt.in, c, err, tt.want)
			}
		})
	}
}

func TestZone(t *testing.T) {
	for _, in := range []string{"UTC", "America/Guayaquil", "Asia/Kolkata"} {
		var z Zone
		if err := z.Decode(in); err != nil || z.String() != in {
			t.Errorf("Decode(%q) = %s, %v", in, z, err)
		}
	}
	for _, in := range []string{"", "Local", "Mars/Olympus", "utc"} {
		var z Zone
		if err := z.Decode(in); err == nil {
			t.Errorf("Decode(%q) accepted", in)
		}
	}
	if (Zone{}).Location() != time.UTC {
		t.Error("zero Zone is not UTC")
	}
}

// The fuzz targets check that each decoder never panics and that what it
// accepts prints back to a value that decodes to the same thing.

func FuzzStartAt(f *testing.F) {
	for _, s := range []string{"24h", "0s", "2024-05-01T00:00:00Z", "2024-05-01T00:00:00.5+05:30", "-1h", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var a, b StartAt
		if a.Decode(in) != nil {
			return
		}
		if err := b.Decode(a.String()); err != nil {
			t.Fatalf("Decode(%q) ok, but its String %q fails: %v", in, a, err)
		}
		if !a.At.Equal(b.At) && a.At.Truncate(time.Second).Equal(b.At) {
			return // String drops sub-second precision
		}
		if !a.At.Equal(b.At) || a.Ago != b.Ago {
			t.Fatalf("round trip %q → %q → %+v, want %+v", in, a, b, a)
		}
	})
}

func FuzzByteSize(f *testing.F) {
	for _, s := range []string{"1", "32MiB", "0", "-1KiB", "8GiB", "1.5MiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var a, b ByteSize
		if a.Decode(in) != nil {
			return
		}
		if err := b.Decode(a.String()); err != nil || a != b {
			t.Fatalf("round trip %q → %q → %d, %v", in, a, b, err)
		}
	})
}

func FuzzHostPorts(f *testing.F) {
	for _, s := range []string{"a:1,b:2", "[::1]:9092", "a", " , "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var a, b HostPorts
		if a.Decode(in) != nil {
			return
		}
		if err := b.Decode(a.String()); err != nil || !slices.Equal(a, b) {
			t.Fatalf("round trip %q → %q → %q, %v", in, a, b, err)
		}
	})
}

func FuzzTopicConfig(f *testing.F) {
	for _, s := range []string{"a=1,b=2", "a==", "=", "a=1,a=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var a, b TopicConfig
		if a.Decode(in) != nil {
			return
		}
		if err := b.Decode(a.String()); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip %q → %q → %v, %v", in, a, b, err)
		}
	})
}
