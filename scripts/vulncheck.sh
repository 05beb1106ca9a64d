#!/usr/bin/env bash
# vulncheck.sh runs govulncheck over the module with a vulnerability database
# built here, from the Go module proxy alone (vuln.go.dev need not be
# reachable):
#
#   1. govulncheck (golang.org/x/vuln, GOVULNCHECK_VERSION) is installed into
#      .cache/tools/ with `go install` from the module proxy;
#   2. the golang.org/x/vulndb module (VULNDB_VERSION, a pseudo-version: the
#      repository has no tags) is downloaded from the proxy; its data/osv/
#      holds one OSV entry per vulnerability;
#   3. scripts/vulndb converts those entries into the database layout
#      govulncheck reads (index/db.json, index/modules.json, index/vulns.json,
#      ID/<id>.json) in .cache/vulndb/<VULNDB_VERSION>/, once per version;
#   4. `govulncheck -db file://... ./...` (extra arguments replace ./...).
#
# Any failure to get the tool or the database fails the script: there is no
# silent skip. govulncheck exits 3 when code the module calls is affected;
# that fails too. To take newer advisories, set VULNDB_VERSION to a newer
# pseudo-version (`go list -m -json golang.org/x/vulndb@master` prints it).
#
#   scripts/vulncheck.sh              scan ./...
#   scripts/vulncheck.sh -show verbose ./cmd/...
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.10.0}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
TOOLS="$ROOT/.cache/tools"
DB="$ROOT/.cache/vulndb/$VULNDB_VERSION"

log() { printf 'vulncheck: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

mkdir -p "$TOOLS"
tool="$TOOLS/govulncheck-$GOVULNCHECK_VERSION"
if [[ ! -x $tool ]]; then
	log "installing govulncheck $GOVULNCHECK_VERSION from the Go module proxy"
	GOBIN="$TOOLS/bin.tmp" GOFLAGS= go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" ||
		die "could not install golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
	mv "$TOOLS/bin.tmp/govulncheck" "$tool"
	rm -rf "$TOOLS/bin.tmp"
fi

if [[ ! -f $DB/index/modules.json ]]; then
	log "downloading golang.org/x/vulndb@$VULNDB_VERSION from the Go module proxy"
	dir=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') ||
		die "could not download golang.org/x/vulndb@$VULNDB_VERSION"
	[[ -n $dir && -d $dir/data/osv ]] || die "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (dir '$dir')"
	go run ./scripts/vulndb -osv "$dir/data/osv" -out "$DB" -version "$VULNDB_VERSION" >&2 || die "could not build the database"
fi

log "govulncheck $GOVULNCHECK_VERSION, database golang.org/x/vulndb@$VULNDB_VERSION ($(sed -n 's/.*"modified":"\([^"]*\)".*/\1/p' "$DB/index/db.json"))"
[[ $# -gt 0 ]] || set -- ./...
"$tool" -db "file://$DB" "$@"
