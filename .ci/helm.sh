#!/usr/bin/env bash
# The Helm chart (deploy/helm/jelou-producer): build helm from the Go module
# proxy, helm lint and helm template with the default values and with each
# file in ci/ (all-on-values.yaml: every feature on, kafka backend, replicas,
# named sources; extensions-values.yaml: every extension value, NetworkPolicy,
# alert overrides; file-backend-values.yaml: the file backend and its volume),
# then the chart's Go tests (a module of
# their own, deploy/helm/test): strict decoding of every manifest into the
# Kubernetes API types, alert rules through Prometheus' parsers, metric names
# against the service's registry. Each step is timed.
#
# helm is installed into .cache/bin (git-ignored) and reused when its version
# matches. Under CI=true a helm that cannot be built fails the run; elsewhere
# the helm steps are skipped with a note (the Go tests then skip too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
chart=deploy/helm/jelou-producer
bin="$PWD/.cache/bin"
export HELM="$bin/helm"

step() { printf '\n--- helm: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
timed() { # timed LABEL CMD...: run CMD, print how long it took, return its status
  local label=$1 t0=$SECONDS rc=0; shift
  "$@" || rc=$?
  echo "($label: $((SECONDS - t0))s, exit $rc)" >&2
  return "$rc"
}

step "build helm $HELM_VERSION from the Go module proxy"
if [ -x "$HELM" ] && "$HELM" version --short 2>/dev/null | grep -q "^${HELM_VERSION%.*}"; then
  echo "reusing $("$HELM" version --short)"
elif ! timed "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    env GOBIN="$bin" GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; then
  if [ "${CI:-}" = true ]; then
    echo "helm could not be built; under CI=true that fails the run" >&2
    exit 1
  fi
  echo "helm could not be built; skipping lint, template and the chart tests"
  exit 0
fi
"$HELM" version --short

value_files=("$chart"/ci/*-values.yaml)

step "helm lint (default values, ${value_files[*]##*/})"
timed "lint" "$HELM" lint --strict "$chart"
for values in "${value_files[@]}"; do
  timed "lint ${values##*/}" "$HELM" lint --strict "$chart" -f "$values"
done

step "helm template (default values, ${value_files[*]##*/})"
for values in "" "${value_files[@]}"; do
  out=$(mktemp)
  timed "template ${values:-defaults}" "$HELM" template jelou-producer "$chart" --namespace jelou ${values:+-f "$values"} >"$out"
  echo "${values:-defaults}: $(grep -c '^kind:' "$out") objects: $(grep '^kind:' "$out" | awk '{print $2}' | sort | tr '\n' ' ')"
  rm -f "$out"
done

step "chart tests (deploy/helm/test): go mod tidy, vet, staticcheck, test"
(
  cd deploy/helm/test
  timed "go mod tidy" go mod tidy
  git diff --exit-code -- go.mod go.sum
  timed "go vet" go vet ./...
  timed "staticcheck" go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
  timed "go test" go test -count=1 -v ./...
)
