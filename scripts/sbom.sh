#!/usr/bin/env bash
# sbom.sh writes a CycloneDX SBOM (JSON) of the jelou-producer binary, which
# is all the image adds to its distroless base:
#
#   1. cyclonedx-gomod (CYCLONEDX_GOMOD_VERSION) is installed into
#      .cache/tools/ with `go install` from the Go module proxy;
#   2. the producer is built as the Dockerfile builds it (CGO_ENABLED=0,
#      linux, -trimpath, -X .../buildinfo.Version=VERSION) into .cache/sbom/;
#   3. `cyclonedx-gomod bin` reads the modules the Go toolchain recorded in
#      that binary, with the standard library (-std) and each module's
#      licence found in the module cache (-licenses), and writes
#      dist/jelou-producer-<VERSION>.cdx.json;
#   4. a check: the SBOM names the main module at v<VERSION> and lists
#      github.com/segmentio/kafka-go and the Go standard library.
#
# Any failure fails the script. The main module's own licence is not
# resolved ("module download failed", a warning): it is not on the proxy;
# it is Apache-2.0 (LICENSE). GOARCH (default this machine's) picks the
# binary's architecture, as for the image.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CYCLONEDX_GOMOD_VERSION=${CYCLONEDX_GOMOD_VERSION:-v1.10.0}
VERSION=${VERSION:-$(cat VERSION)}
TOOLS="$ROOT/.cache/tools"
BIN="$ROOT/.cache/sbom/jelou-producer"
OUT="$ROOT/dist/jelou-producer-$VERSION.cdx.json"

log() { printf 'sbom: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

mkdir -p "$TOOLS" "$(dirname "$BIN")" "$(dirname "$OUT")"
tool="$TOOLS/cyclonedx-gomod-$CYCLONEDX_GOMOD_VERSION"
if [[ ! -x $tool ]]; then
	log "installing cyclonedx-gomod $CYCLONEDX_GOMOD_VERSION from the Go module proxy"
	GOBIN="$TOOLS/bin.tmp" GOFLAGS= go install "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$CYCLONEDX_GOMOD_VERSION" ||
		die "could not install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$CYCLONEDX_GOMOD_VERSION"
	mv "$TOOLS/bin.tmp/cyclonedx-gomod" "$tool"
	rm -rf "$TOOLS/bin.tmp"
fi

CGO_ENABLED=0 GOOS=linux go build -trimpath \
	-ldflags "-s -w -X github.com/jelou-producer/jelou-producer/internal/buildinfo.Version=$VERSION" \
	-o "$BIN" ./cmd/jelou-producer || die "could not build ./cmd/jelou-producer"
"$tool" bin -json -std -licenses -version "v$VERSION" -output "$OUT" "$BIN" || die "cyclonedx-gomod failed"

# The output is indented JSON: one "purl" per line.
for want in "pkg:golang/github.com/jelou-producer/jelou-producer@v$VERSION" \
	"pkg:golang/github.com/segmentio/kafka-go@" "pkg:golang/std@"; do
	grep -q "\"purl\": \"$want" "$OUT" || die "$OUT lists no $want"
done
grep -q '"bomFormat": "CycloneDX"' "$OUT" || die "$OUT is not a CycloneDX document"
log "$OUT: $(grep -c '"purl": "pkg:golang/' "$OUT") Go package URLs, kafka-go $(sed -n 's/.*"purl": "pkg:golang\/github.com\/segmentio\/kafka-go@\([^?"]*\).*/\1/p' "$OUT" | head -n1)"
