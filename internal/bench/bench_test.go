package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (jelou-producer) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100", 3 * time.Second, false},
		{"name with spaces and parens", "77 (a b) c)) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0", 30 * time.Millisecond, false},
		{"no paren", "1234 jelou S 1", 0, true},
		{"too short", "1 (x) S 1 2 3", 0, true},
		{"not a number", "1 (x) S 1 2 3 4 5 6 7 8 9 10 u s", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStatCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseStatusField(t *testing.T) {
	status, err := os.ReadFile("testdata/status")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field   string
		want    int64
		wantErr bool
	}{
		{"VmHWM", 140_712 << 10, false},
		{"VmRSS", 126_880 << 10, false},
		{"Threads", 9, false},
		{"VmSwap", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			got, err := parseStatusField(status, tt.field)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStatusField(%s) = %d, %v; want %d, error %v", tt.field, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestOwnProcess(t *testing.T) {
	// The harness reads its children the way it reads itself here.
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := ProcCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	rss, err := ProcStatus(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS = %d, %v", rss, err)
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []time.Duration{ms(5)}, Summary{N: 1, P50: ms(5), P99: ms(5), Max: ms(5)}},
		{"unsorted", []time.Duration{ms(3), ms(1), ms(2), ms(4)}, Summary{N: 4, P50: ms(2), P99: ms(4), Max: ms(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Fatalf("Summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
	// Nearest rank on 1..100 ms: p99 is the 99th value.
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, ms(i))
	}
	if s := Summarize(d); s.P50 != ms(50) || s.P99 != ms(99) || s.Max != ms(100) {
		t.Fatalf("1..100: %+v", s)
	}
}

func TestIdleCPU(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// One sample a second; the process burns 500 ms of CPU in the second
	// holding a request and 10 ms in every other second.
	var samples []CPUSample
	cpu := time.Duration(0)
	for i := range 11 {
		samples = append(samples, CPUSample{At: at(time.Duration(i) * time.Second), CPU: cpu})
		if i == 4 {
			cpu += ms(500)
		} else {
			cpu += ms(10)
		}
	}
	spans := []Span{{Start: at(4200 * time.Millisecond), End: at(4300 * time.Millisecond)}}
	tests := []struct {
		name     string
		after    time.Duration
		wantCPU  float64
		wantWall time.Duration
	}{
		// Only [4,5] holds the request (and the 50 ms before it).
		{"no tail", 0, 0.01, 9 * time.Second},
		// A 1s tail also covers [5,6].
		{"1s tail", time.Second, 0.01, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, wall := idleCPU(samples, spans, at(0), at(10*time.Second), tt.after)
			if wall != tt.wantWall || got < tt.wantCPU-1e-9 || got > tt.wantCPU+1e-9 {
				t.Fatalf("idleCPU = %.4f over %s, want %.4f over %s", got, wall, tt.wantCPU, tt.wantWall)
			}
		})
	}
	if share := cpuShare(samples, at(0), at(10*time.Second)); share < 0.058 || share > 0.06 {
		t.Fatalf("cpuShare = %.4f, want 0.059", share)
	}
}

func TestPollDurations(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sp := func(a, b int) Span { return Span{Start: t0.Add(ms(a)), End: t0.Add(ms(b))} }
	spans := []Span{sp(0, 100), sp(50, 300), sp(400, 500), sp(5000, 5200), sp(9000, 9100)}
	got := pollDurations(spans, t0, t0.Add(ms(6000)))
	want := []time.Duration{ms(500), ms(200)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("pollDurations = %v, want %v", got, want)
	}
}

func TestWindows(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		to   time.Time
		want int
		last time.Time
	}{
		{"whole hours", from.Add(3 * time.Hour), 3, from.Add(3 * time.Hour)},
		{"partial last", from.Add(150 * time.Minute), 3, from.Add(150 * time.Minute)},
		{"empty", from, 0, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := windows(from, tt.to, time.Hour)
			if len(ws) != tt.want {
				t.Fatalf("%d windows, want %d", len(ws), tt.want)
			}
			if len(ws) > 0 && !ws[len(ws)-1].End.Equal(tt.last) {
				t.Fatalf("last window ends %s, want %s", ws[len(ws)-1].End, tt.last)
			}
			for i := 1; i < len(ws); i++ {
				if !ws[i].Start.Equal(ws[i-1].End) {
					t.Fatalf("windows %d and %d do not share their boundary", i-1, i)
				}
			}
		})
	}
}

func TestTable(t *testing.T) {
	var tb Table
	tb.Title = "title"
	tb.Add("1 backfill", "rate", "10/s")
	tb.Target("1 backfill", "ratio", "0.9", "≥ 0.80", true)
	tb.Target("2 api-bound", "429", "3", "0", false)
	var txt, md bytes.Buffer
	if err := tb.Write(&txt); err != nil {
		t.Fatal(err)
	}
	if err := tb.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASS", "MISS", "2 api-bound"} {
		if !strings.Contains(txt.String(), want) || !strings.Contains(md.String(), want) {
			t.Errorf("table lacks %q:\n%s\n%s", want, txt.String(), md.String())
		}
	}
	if n := strings.Count(txt.String(), "1 backfill"); n != 1 {
		t.Errorf("scenario label printed %d times, want once:\n%s", n, txt.String())
	}
}

func TestTrackedIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100k index")
	}
	ix, heap := trackedIndex(100_000, time.Now())
	if ix.Len() != 100_000 {
		t.Fatalf("Len = %d", ix.Len())
	}
	if heap == 0 {
		t.Fatal("no heap measured")
	}
}

func TestProc(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("no /bin/sh")
	}
	tests := []struct {
		name    string
		script  string
		stop    bool
		wantErr string
	}{
		{"success", "exit 0", false, ""},
		{"failure names stderr", "echo broken pipe dream >&2; exit 3", false, "status 3: broken pipe dream"},
		{"stopped by SIGTERM", "trap 'exit 0' TERM; while :; do sleep 0.05; done", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start("sh", sh, []string{"-c", tt.script}, baseEnv(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var u Usage
			if tt.stop {
				time.Sleep(200 * time.Millisecond)
				u, err = p.Stop(5 * time.Second)
			} else {
				u, err = p.Wait(t.Context())
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if u.Wall <= 0 {
				t.Fatalf("wall %v", u.Wall)
			}
		})
	}
}
