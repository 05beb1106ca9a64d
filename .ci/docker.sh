#!/usr/bin/env bash
# The Docker part of CI, run by .ci/run (or alone: bash .ci/docker.sh):
#
# 1. a Docker engine (Debian's docker.io, started here when none answers);
# 2. in parallel: buildx and the compose v2 CLI built from the Go module
#    proxy (scripts/docker.sh plugins), and the base images, pulled or built
#    as local stand-ins (scripts/images.sh);
# 3. the image, built from the Dockerfile and checked by running it
#    (scripts/image-check.sh);
# 4. docker compose end to end, with a producer restart checked against the
#    simulator's oracle (scripts/compose-e2e.sh);
# 5. the Kafka integration suite on the testcontainers tier of
#    internal/kafkatest (one apache/kafka container that every test binary
#    reuses; Ryuk is off: no registry serves its image, and the container
#    removes itself; this script removes it at the end).
#
# Each step prints its time. With CI=true any failure, including Docker or
# compose not working at all, fails the run; without CI a machine where no
# engine can be started skips the whole part with one line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

started=$SECONDS
step() { printf '\n=== docker: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; step_started=$SECONDS; }
took() { printf '=== docker: %s took %ds\n' "$1" $((SECONDS - step_started)); }

step "engine"
if ! scripts/docker.sh engine; then
	if [[ ${CI:-} == true ]]; then
		echo "docker: no Docker engine could be started; CI needs one" >&2
		exit 1
	fi
	echo "docker: skipped: no Docker engine could be started (CI=true makes this a failure)"
	exit 0
fi
took engine

step "buildx and compose from the Go module proxy, base images (in parallel)"
plugins_log=$(mktemp)
scripts/docker.sh plugins >"$plugins_log" 2>&1 &
plugins_pid=$!
images_started=$SECONDS
scripts/images.sh
printf '=== docker: base images took %ds\n' $((SECONDS - images_started))
if ! wait "$plugins_pid"; then
	cat "$plugins_log" >&2
	echo "docker: buildx or compose could not be installed" >&2
	exit 1
fi
cat "$plugins_log" >&2
rm -f "$plugins_log"
docker buildx version
$(scripts/docker.sh compose) version
took "buildx, compose and base images"

step "image: build the Dockerfile and run the checks"
scripts/image-check.sh
took "image checks"

step "docker compose end to end"
scripts/compose-e2e.sh
took "compose end to end"

step "Kafka integration suite on the testcontainers tier"
kafka_pkgs=$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
	awk '/internal\/kafkatest/ {print $1}')
echo "$kafka_pkgs"
label=io.github.jelou-producer.kafkatest
tier() {
	env -u KAFKA_TEST_BROKERS -u KAFKA_TEST_SASL_BROKERS KAFKA_TEST_TIER=testcontainers \
		TESTCONTAINERS_RYUK_DISABLED=true "$@"
}
rc=0
# kafkatest's own test starts the container every test binary then reuses.
tier go test -count=1 -v -run 'TestWriteAndReadBack$' ./internal/kafkatest | grep -E '^(---|ok|FAIL)|tier ' || rc=$?
[[ $rc != 0 ]] || tier go test -count=1 -timeout 20m $kafka_pkgs || rc=$?
ids=$(docker ps -aq --filter "label=$label")
[[ -z $ids ]] || docker rm -f -v $ids >/dev/null
took "testcontainers suite"
[[ $rc == 0 ]] || exit "$rc"

printf '\n=== docker: all done in %ds\n' $((SECONDS - started))
