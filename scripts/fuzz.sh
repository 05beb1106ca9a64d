#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module for a fixed time each.
#
#   scripts/fuzz.sh [DURATION]     default 30s per target (CI uses 5s)
#
# Inputs that make a target fail are written by Go under the package's
# testdata/fuzz/<Target>/ directory: commit them, they then run as ordinary
# test cases in every `go test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime=${1:-30s}
count=0
while IFS=: read -r file _ line; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	dir=./$(dirname "$file")
	echo "fuzz: $dir $name for $fuzztime"
	go test "$dir" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime"
	count=$((count + 1))
done < <(git ls-files -co --exclude-standard '*_test.go' | xargs grep -n '^func Fuzz' | sort)
echo "fuzz: $count targets, $fuzztime each, no failure"
