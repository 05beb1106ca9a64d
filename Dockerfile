# jelou-producer container images: a static Go build on the official golang
# image, copied onto distroless (no shell, no package manager, CA certificates,
# tzdata and /etc/passwd with nonroot = 65532).
#
#   docker build -t jelou-producer .                    # VERSION's release
#   docker build -t jelou-sim --target jelou-sim .      # the simulated API
#   make image                                          # with REVISION and CREATED
#
# Build arguments, all optional: VERSION (default: the VERSION file's, a
# test keeps them equal) goes into the binaries (-X .../buildinfo.Version)
# and the OCI labels; REVISION (the git commit) and CREATED (RFC 3339) go
# into the labels and are empty by default, so that a build stays
# reproducible; GO_IMAGE and RUNTIME_IMAGE name the two base images, by tag
# by default; a CI that reaches the registries passes them pinned by digest
# (docs/containers.md, "Pinning base images"):
#
#   --build-arg RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:<digest>
#
# BuildKit is needed (RUN --mount, $BUILDPLATFORM); the built-in Dockerfile
# frontend suffices, so there is no "# syntax=" line, which would pull a
# frontend image. Where no registry is reachable, scripts/images.sh builds
# local stand-ins for the two base images under the same names.
#
# The producer image runs as 65532:65532 and writes only to /data (the file
# checkpoint, CHECKPOINT_PATH=/data/jelou-producer.checkpoint), so it runs with a
# read-only root filesystem:
#
#   docker run --read-only -v jelou-data:/data -p 9464:9464 \
#     -e JELOU_CLIENT_ID -e JELOU_CLIENT_SECRET -e KAFKA_BROKERS jelou-producer
#
# HEALTHCHECK runs `jelou-producer healthcheck` (distroless has no shell or
# curl): it GETs /healthz on the HTTP_ADDR port and exits 0 on a 200. For
# Kubernetes, probe GET :9464/healthz (liveness) and GET :9464/readyz
# (readiness: broker reachable, last poll recent, credentials accepted).

# GO_VERSION matches the toolchain directive of go.mod (a test checks it):
# the release builds with the newest patch release, whose standard library
# govulncheck finds clean.
# GOTOOLCHAIN=local below makes a mismatch fail instead of downloading.
ARG GO_VERSION=1.26.11
# VERSION is the VERSION file's (a test checks it); each stage uses it
# through its own bare `ARG VERSION`.
ARG VERSION=0.1.0
ARG GO_IMAGE=golang:${GO_VERSION}
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

# ---- build: both commands, static, for the target platform ----------------
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags="-s -w -X github.com/jelou-producer/jelou-producer/internal/buildinfo.Version=${VERSION}" \
      -o /out/ ./cmd/jelou-producer ./cmd/jelou-sim ./examples/alerting \
 && mkdir -p /out/data

# ---- jelou-sim: the simulated Jelou API (docker-compose.yml, demos) --------
FROM ${RUNTIME_IMAGE} AS jelou-sim
ARG VERSION
LABEL org.opencontainers.image.title="jelou-sim" \
      org.opencontainers.image.description="Simulated Jelou attended-conversations API, for demos and tests" \
      org.opencontainers.image.source="https://github.com/jelou-producer/jelou-producer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/jelou-sim /jelou-sim
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/jelou-sim"]
CMD ["-addr", "0.0.0.0:8080"]

# ---- jelou-alerts: the example consumer (examples/alerting), compose profile alerts
FROM ${RUNTIME_IMAGE} AS jelou-alerts
ARG VERSION
LABEL org.opencontainers.image.title="jelou-alerts" \
      org.opencontainers.image.description="Example consumer of jelou-producer's topic: alerts on long-active conversations and slow operator replies" \
      org.opencontainers.image.source="https://github.com/jelou-producer/jelou-producer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/alerting /jelou-alerts
USER 65532:65532
ENTRYPOINT ["/jelou-alerts"]

# ---- jelou-producer: the service (the default target) ----------------------
FROM ${RUNTIME_IMAGE} AS jelou-producer
ARG VERSION
ARG REVISION=
ARG CREATED=
ARG RUNTIME_IMAGE
LABEL org.opencontainers.image.title="jelou-producer" \
      org.opencontainers.image.description="Polls Jelou attended conversations and publishes one CloudEvent per conversation state to Kafka" \
      org.opencontainers.image.source="https://github.com/jelou-producer/jelou-producer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
COPY --from=build /out/jelou-producer /jelou-producer
# An empty /data owned by nonroot: a new named volume mounted there copies
# this ownership, so the checkpoint is writable without running as root.
COPY --from=build --chown=65532:65532 /out/data /data
ENV CHECKPOINT_PATH=/data/jelou-producer.checkpoint
USER 65532:65532
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/jelou-producer", "healthcheck"]
ENTRYPOINT ["/jelou-producer"]
CMD ["run"]
