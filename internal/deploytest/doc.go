// Package deploytest provides the tests that validate the container files at
// the repository root (Dockerfile, .dockerignore and docker-compose.yml)
// without a Docker engine. It has no API: everything is in its _test.go files.
//
// # What is checked
//
//   - docker-compose.yml is valid against the compose-spec JSON Schema
//     (testdata/compose-spec.json), after ${VAR:-default} interpolation.
//   - Every variable set on the producer service is one that
//     config.Variables knows, and config.Load plus Validate(run) accept the
//     service's whole environment (compose plus the image's ENV).
//   - Every jelou-sim flag and JELOU_SIM_ variable used exists in
//     cmd/jelou-sim; the producer's base URL, credentials and auth scheme
//     match what the simulated API accepts; brokers and the watched topic
//     match the Kafka service and the producer's topic; depends_on targets
//     exist and service_healthy targets have a healthcheck; build targets
//     are Dockerfile stages; the producer runs read-only as a non-root user
//     with its checkpoint on a named volume.
//   - The Dockerfile's runtime stages run as a non-root numeric user with
//     exec-form ENTRYPOINT and CMD and no RUN; the build image's Go version is
//     go.mod's; the -X ldflag names internal/buildinfo.Version.
//   - One release version: the VERSION file's is the Dockerfile's global
//     VERSION default (stages inherit it with a bare ARG), the Helm chart's
//     version and appVersion, the Makefile's VERSION and a CHANGELOG.md
//     heading. Every image has the OCI labels source, licenses (Apache-2.0,
//     as LICENSE), version, title and description; the producer's also
//     revision, created and base.name, each from an ARG its stage declares.
//     Global ARG defaults may name earlier ARGs (GO_IMAGE, RUNTIME_IMAGE).
//   - .dockerignore keeps out local state but none of the files the build
//     reads (go list -deps of both commands, embedded files included).
//   - Without -short: both commands are built as the Dockerfile builds them
//     (its ENV, -trimpath and -ldflags) and must be static ELF binaries (no
//     PT_INTERP, no shared libraries, stripped); the producer reports the
//     version given to -X, and jelou-sim starts with the compose file's
//     flags and serves the producer's credentials.
//   - scripts/images.sh builds a stand-in for exactly the base images the
//     Dockerfile and compose name; the testcontainers tier uses compose's
//     Kafka image; the Dockerfile has no "# syntax=" line (it would pull a
//     frontend image); the image's HEALTHCHECK and compose's producer
//     healthcheck run `jelou-producer healthcheck` in exec form.
//
// # What is checked elsewhere
//
// These tests need only Go. Building and running the images, the compose
// stack and the testcontainers tier need a Docker engine: scripts/image-check.sh
// and scripts/compose-e2e.sh do that, and CI runs them (.ci/docker.sh).
package deploytest
