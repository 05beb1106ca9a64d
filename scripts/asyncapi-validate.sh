#!/usr/bin/env bash
# Validates the AsyncAPI document with the AsyncAPI parser (@asyncapi/parser,
# pinned with its dependencies in scripts/asyncapi/package-lock.json and
# installed from the npm registry under .cache/asyncapi/, gitignored).
#
#   scripts/asyncapi-validate.sh [document]    # default: schemas/asyncapi.json
#
# The parser resolves the document's relative $refs (the JSON Schemas beside
# it) from the file system; every diagnostic is printed, and any of severity
# error fails the run. Then, unless ASYNCAPI_SELF_CHECK=0, the same check
# must fail on broken copies of the document (an unknown operation action,
# a payload $ref to a missing file), so that a validator that accepts
# anything cannot pass. Needs node and npm; exits 1 without them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
doc=${1:-schemas/asyncapi.json}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "asyncapi-validate: $tool not found: install Node.js and npm" >&2
    exit 1
  fi
done

dir=.cache/asyncapi
mkdir -p "$dir"
# Installed again whenever the lock file changed (or the install is gone).
if ! cmp -s scripts/asyncapi/package-lock.json "$dir/package-lock.json" \
  || [ ! -f "$dir/node_modules/@asyncapi/parser/package.json" ]; then
  rm -rf "$dir/node_modules" "$dir/package-lock.json"
  cp scripts/asyncapi/package.json "$dir/package.json"
  cp scripts/asyncapi/package-lock.json "$dir/package-lock.json.new"
  mv "$dir/package-lock.json.new" "$dir/package-lock.json"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || {
    rm -f "$dir/package-lock.json"   # so that the next run installs again
    echo "asyncapi-validate: npm ci failed" >&2
    exit 1
  }
fi
# The script runs beside its node_modules, so that require finds the parser.
cp scripts/asyncapi/validate.cjs "$dir/validate.cjs"
echo "asyncapi-validate: @asyncapi/parser $(node -p "require('./$dir/node_modules/@asyncapi/parser/package.json').version"), node $(node --version)"

node "$dir/validate.cjs" "$doc"

if [ "${ASYNCAPI_SELF_CHECK:-1}" = 0 ]; then
  exit 0
fi
# Self-check: broken copies (with the schemas they refer to) must fail.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$(dirname "$doc")"/*.json "$tmp/"
base=$(basename "$doc")
broken=0
for edit in 's/"action": "send"/"action": "publish"/' \
  's/"payload": { "\$ref": "jelou\.conversation\.attended\.v1\.json" }/"payload": { "$ref": "missing.json" }/'; do
  sed "$edit" "$doc" >"$tmp/$base"
  if cmp -s "$doc" "$tmp/$base"; then
    echo "asyncapi-validate: self-check edit $edit changed nothing in $doc" >&2
    exit 1
  fi
  if node "$dir/validate.cjs" "$tmp/$base" >"$tmp/out" 2>&1; then
    cat "$tmp/out"
    echo "asyncapi-validate: a broken copy ($edit) passed: the validator checks nothing" >&2
    exit 1
  fi
  broken=$((broken + 1))
done
echo "asyncapi-validate: self-check: $broken broken copies rejected"
