// Command vulndb builds a Go vulnerability database that govulncheck reads
// with -db file:///DIR from a directory of OSV entries, such as data/osv of
// the golang.org/x/vulndb module (which the Go module proxy serves, where
// vuln.go.dev may not be reachable). scripts/vulncheck.sh runs it.
//
//	go run ./scripts/vulndb -osv DIR -out DIR [-version PSEUDO-VERSION]
//
// The output has the layout of https://go.dev/security/vuln/database#api:
//
//	index/db.json       {"modified": the newest entry's modified time}
//	index/modules.json  [{"path", "vulns": [{"id", "modified", "fixed"}]}], by path, vulns by id
//	index/vulns.json    [{"id", "modified", "aliases"}], by id
//	ID/<id>.json        each OSV entry, unchanged
//
// "fixed" is the entry's latest fixed version of that module unless a later
// "introduced" reopens it, as golang.org/x/vulndb's own database writer and
// govulncheck's client compute it. The module's OSV files carry no
// modification time ("0001-01-01T00:00:00Z": vuln.go.dev's writer takes it
// from the repository's history, which a module zip lacks), so the indexes
// give such an entry its "published" time, and index/db.json the time of the
// -version pseudo-version (the snapshot's commit), else the newest entry's. The database is written to a temporary
// directory beside -out and renamed into place, so a half-built one is never
// read.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// entry is the part of an OSV entry the indexes are made of.
type entry struct {
	ID        string    `json:"id"`
	Modified  time.Time `json:"modified"`
	Published time.Time `json:"published"`
	Aliases   []string  `json:"aliases,omitempty"`
	Affected  []struct {
		Module struct {
			Path string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

// osvRange is one range of affected versions.
type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

// dbMeta is index/db.json.
type dbMeta struct {
	Modified time.Time `json:"modified"`
}

// moduleMeta is one element of index/modules.json.
type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

// moduleVuln is one vulnerability of a module in index/modules.json.
type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

// vulnMeta is one element of index/vulns.json.
type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// EntryError is an OSV file that cannot go into the database.
type EntryError struct {
	File string
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("OSV entry %s: %v", e.File, e.Err) }

func (e *EntryError) Unwrap() error { return e.Err }

func main() {
	osvDir := flag.String("osv", "", "directory of OSV entries <ID>.json (e.g. the golang.org/x/vulndb module's data/osv)")
	out := flag.String("out", "", "directory to write the database to (replaced)")
	version := flag.String("version", "", "pseudo-version of golang.org/x/vulndb the entries come from: its time is the database's")
	flag.Parse()
	if *osvDir == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: vulndb -osv DIR -out DIR [-version PSEUDO-VERSION]")
		os.Exit(2)
	}
	var snapshot time.Time
	if *version != "" {
		t, err := module.PseudoVersionTime(*version)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vulndb: -version %s is not a pseudo-version: %v\n", *version, err)
			os.Exit(2)
		}
		snapshot = t
	}
	n, err := build(*osvDir, *out, snapshot)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
	fmt.Printf("vulndb: %d entries from %s written to %s\n", n, *osvDir, *out)
}

// build converts every <ID>.json of osvDir into a database at out and
// returns the number of entries. A non-zero snapshot is the database's
// modified time.
func build(osvDir, out string, snapshot time.Time) (int, error) {
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", osvDir, err)
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no OSV entries (*.json) in %s", osvDir)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(out)), 0o755); err != nil {
		return 0, fmt.Errorf("create the parent of %s: %w", out, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".vulndb-")
	if err != nil {
		return 0, fmt.Errorf("temporary directory beside %s: %w", out, err)
	}
	defer os.RemoveAll(tmp)
	for _, dir := range []string{"index", "ID"} {
		if err := os.Mkdir(filepath.Join(tmp, dir), 0o755); err != nil {
			return 0, fmt.Errorf("create %s: %w", dir, err)
		}
	}

	var (
		db      dbMeta
		modules = map[string]*moduleMeta{}
		vulns   []vulnMeta
	)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", file, err)
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, &EntryError{File: file, Err: err}
		}
		if e.ID == "" || filepath.Base(file) != e.ID+".json" {
			return 0, &EntryError{File: file, Err: fmt.Errorf("file name is not <id>.json of its id %q", e.ID)}
		}
		if e.Modified.IsZero() {
			e.Modified = e.Published
		}
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			if a.Module.Path == "" {
				return 0, &EntryError{File: file, Err: errors.New("an affected package has no name")}
			}
			m := modules[a.Module.Path]
			if m == nil {
				m = &moduleMeta{Path: a.Module.Path}
				modules[a.Module.Path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFixed(a.Ranges)})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return 0, fmt.Errorf("write entry %s: %w", e.ID, err)
		}
	}

	if !snapshot.IsZero() {
		db.Modified = snapshot
	}
	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		slices.SortStableFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(vulns, func(a, b vulnMeta) int { return strings.Compare(a.ID, b.ID) })
	for name, v := range map[string]any{"db": db, "modules": mods, "vulns": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, fmt.Errorf("encode index/%s.json: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", name+".json"), b, 0o644); err != nil {
			return 0, fmt.Errorf("write index/%s.json: %w", name, err)
		}
	}

	if err := os.RemoveAll(out); err != nil {
		return 0, fmt.Errorf("remove the previous %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, fmt.Errorf("move the database to %s: %w", out, err)
	}
	return len(files), nil
}

// latestFixed returns the newest "fixed" version of the SEMVER ranges, or
// "" when an "introduced" after it reopens the vulnerability (no version
// fixes it for good), as govulncheck's client reads the index.
func latestFixed(ranges []osvRange) string {
	var fixed string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && less(fixed, e.Fixed) {
				fixed = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && less(fixed, e.Introduced) {
				fixed = ""
				break
			}
		}
	}
	return fixed
}

// less compares two OSV versions ("1.2.3", also "v1.2.3" or "go1.2.3"); an
// empty or invalid version is less than any valid one.
func less(a, b string) bool {
	return semver.Compare(canonical(a), canonical(b)) < 0
}

// canonical gives an OSV version the "v" prefix semver expects.
func canonical(v string) string {
	v = strings.TrimPrefix(v, "v")
	v = strings.TrimPrefix(v, "go")
	return "v" + v
}
