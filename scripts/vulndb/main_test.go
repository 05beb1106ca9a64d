package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The fixture's three entries give every index field: a module with a
// reopened range (no fix), one with no fix at all, a stdlib range fixed on
// two branches, aliases, the newest modified time, and an entry without a
// modified time (as every entry of the golang.org/x/vulndb module is).
func TestBuildFixture(t *testing.T) {
	out := filepath.Join(t.TempDir(), "db")
	n, err := build("testdata/osv", out, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("build converted %d entries, want 3", n)
	}
	want := map[string]string{
		"index/db.json": `{"modified":"2099-03-04T05:06:07Z"}`,
		"index/modules.json": `[` +
			`{"path":"example.com/a","vulns":[` +
			`{"id":"GO-2099-0002","modified":"2099-03-04T05:06:07Z"},` +
			`{"id":"GO-2099-0003","modified":"2098-12-31T00:00:00Z"}]},` +
			`{"path":"example.com/b","vulns":[{"id":"GO-2099-0002","modified":"2099-03-04T05:06:07Z","fixed":"0.3.0"}]},` +
			`{"path":"stdlib","vulns":[{"id":"GO-2099-0001","modified":"2099-01-02T03:04:05Z","fixed":"1.22.1"}]}]`,
		"index/vulns.json": `[` +
			`{"id":"GO-2099-0001","modified":"2099-01-02T03:04:05Z","aliases":["CVE-2099-0001","GHSA-xxxx-yyyy-zzzz"]},` +
			`{"id":"GO-2099-0002","modified":"2099-03-04T05:06:07Z"},` +
			`{"id":"GO-2099-0003","modified":"2098-12-31T00:00:00Z"}]`,
	}
	for name, w := range want {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != w {
			t.Errorf("%s =\n%s\nwant\n%s", name, got, w)
		}
	}
	for _, id := range []string{"GO-2099-0001", "GO-2099-0002", "GO-2099-0003"} {
		src, _ := os.ReadFile(filepath.Join("testdata/osv", id+".json"))
		got, err := os.ReadFile(filepath.Join(out, "ID", id+".json"))
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("ID/%s.json is not the OSV entry unchanged (err %v)", id, err)
		}
	}
	// Building again replaces the database and leaves no temporary directory.
	// The snapshot's time, when given, is the database's.
	snapshot := time.Date(2100, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := build("testdata/osv", out, snapshot); err != nil {
		t.Fatalf("second build: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "index/db.json")); string(got) != `{"modified":"2100-05-06T07:08:09Z"}` {
		t.Errorf("index/db.json with a snapshot time = %s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".vulndb-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %q", left)
	}
}

func TestBuildRefuses(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no entries":      {"notes.txt": "x"},
		"name is not id":  {"GO-1.json": `{"id":"GO-2","modified":"2000-01-01T00:00:00Z"}`},
		"not json":        {"GO-1.json": `{`},
		"package no name": {"GO-1.json": `{"id":"GO-1","affected":[{"package":{"name":""}}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, body := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "db")
			_, err := build(dir, out, time.Time{})
			if err == nil {
				t.Fatal("build accepted it")
			}
			var ee *EntryError
			if wantEntry := name != "no entries"; errors.As(err, &ee) != wantEntry {
				t.Errorf("error %v: an EntryError is %v, want %v", err, !wantEntry, wantEntry)
			}
			if _, serr := os.Stat(out); !os.IsNotExist(serr) {
				t.Errorf("a failed build left %s", out)
			}
		})
	}
}

func TestLatestFixed(t *testing.T) {
	type ev = struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	}
	semverRange := func(events ...ev) osvRange { return osvRange{Type: "SEMVER", Events: events} }
	for _, tc := range []struct {
		name   string
		ranges []osvRange
		want   string
	}{
		{"none", nil, ""},
		{"fixed", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.2.0"})}, "1.2.0"},
		{"newest of two branches", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.21.5"}, ev{Introduced: "1.22.0"}, ev{Fixed: "1.22.1"})}, "1.22.1"},
		{"semver order, not string order", []osvRange{semverRange(ev{Fixed: "1.10.0"}, ev{Fixed: "1.9.0"})}, "1.10.0"},
		{"reopened", []osvRange{semverRange(ev{Introduced: "0"}, ev{Fixed: "1.0.0"}, ev{Introduced: "2.0.0"})}, ""},
		{"never fixed", []osvRange{semverRange(ev{Introduced: "1.5.0"})}, ""},
		{"not semver", []osvRange{{Type: "GIT", Events: []ev{{Fixed: "abc"}}}}, ""},
		{"v prefix", []osvRange{semverRange(ev{Fixed: "v0.3.0"})}, "v0.3.0"},
	} {
		if got := latestFixed(tc.ranges); got != tc.want {
			t.Errorf("%s: latestFixed = %q, want %q", tc.name, got, tc.want)
		}
	}
}
