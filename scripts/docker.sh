#!/usr/bin/env bash
# docker.sh makes a Docker engine, BuildKit builds and the compose v2 CLI
# work on this machine, using only Debian's packages and the Go module proxy
# (no registry of images or binaries is needed).
#
#   scripts/docker.sh up       engine, buildx and compose; idempotent
#   scripts/docker.sh engine   only the engine
#   scripts/docker.sh plugins  only buildx and compose (CI builds them while
#                              scripts/images.sh runs debootstrap)
#   scripts/docker.sh status   exit 0 when the engine answers, 1 otherwise
#   scripts/docker.sh compose  print the compose command to use
#                              ("docker compose" or "docker-compose")
#
# up does, each only when it is missing:
#   1. the engine: Debian's docker.io (apt-get update first), then dockerd
#      started as root in the background (log: .cache/docker/dockerd.log),
#      waited for until `docker info` answers;
#   2. buildx, so `docker build` uses BuildKit (the Dockerfile needs
#      RUN --mount=type=cache and $BUILDPLATFORM; Debian 12 has no
#      docker-buildx package): built from the Go module proxy
#      (github.com/docker/buildx) into ~/.docker/cli-plugins/docker-buildx;
#   3. compose v2: built from the Go module proxy (github.com/docker/compose/v2,
#      module cmd/) into ~/.docker/cli-plugins/docker-compose, or Debian's
#      docker-compose (v1) when that build fails.
#
# Environment: COMPOSE_VERSION (default v2.40.3), BUILDX_VERSION (default
# v0.38.2), DOCKER_UP_TIMEOUT (seconds, default 60).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$ROOT/.cache/docker"
PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
COMPOSE_VERSION=${COMPOSE_VERSION:-v2.40.3}
BUILDX_VERSION=${BUILDX_VERSION:-v0.38.2}
UP_TIMEOUT=${DOCKER_UP_TIMEOUT:-60}

log() { printf 'docker.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

apt_install() {
	[[ $(id -u) == 0 ]] || die "installing $* needs root"
	command -v apt-get >/dev/null || die "no apt-get to install $*"
	if [[ ! -f $CACHE/.apt-updated ]]; then
		apt-get update -qq || die "apt-get update failed"
		touch "$CACHE/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

ensure_engine() {
	engine_answers && return 0
	if ! command -v dockerd >/dev/null; then
		log "no Docker engine: installing Debian's docker.io"
		apt_install docker.io
	fi
	command -v docker >/dev/null || die "docker.io installed no docker client"
	[[ $(id -u) == 0 ]] || die "dockerd must be started as root"
	if ! pgrep -x dockerd >/dev/null; then
		log "starting dockerd (log: $CACHE/dockerd.log)"
		# setsid: the daemon outlives this script and the CI step.
		setsid dockerd >"$CACHE/dockerd.log" 2>&1 </dev/null &
	fi
	local deadline=$((SECONDS + UP_TIMEOUT))
	until engine_answers; do
		if ((SECONDS >= deadline)); then
			tail -n 30 "$CACHE/dockerd.log" >&2 || true
			die "the Docker engine did not answer within ${UP_TIMEOUT}s"
		fi
		sleep 1
	done
	log "engine $(docker version --format '{{.Server.Version}}') answers"
}

# gobuild MODULE VERSION PKG OUT [LDFLAGS] builds PKG of MODULE@VERSION from
# the module proxy as its own main module (so its go.mod's replace and
# exclude directives apply, which `go install pkg@version` refuses).
gobuild() {
	local module=$1 version=$2 pkg=$3 out=$4 ldflags=${5:-} dir
	command -v go >/dev/null || {
		log "no Go toolchain to build $module"
		return 1
	}
	dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[[ -n $dir && -d $dir ]] || {
		log "go mod download $module@$version failed"
		return 1
	}
	log "building $module@$version ($pkg) from the Go module proxy"
	# Built beside, then renamed: docker never sees a half-written plugin.
	(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local \
		go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") >"$CACHE/build-$(basename "$out").log" 2>&1 || {
		tail -n 20 "$CACHE/build-$(basename "$out").log" >&2
		rm -f "$out.tmp"
		return 1
	}
	mv -f "$out.tmp" "$out"
}

ensure_buildx() {
	docker buildx version >/dev/null 2>&1 && return 0
	mkdir -p "$PLUGINS"
	gobuild github.com/docker/buildx "$BUILDX_VERSION" ./cmd/buildx "$PLUGINS/docker-buildx" \
		"-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" ||
		die "could not build buildx $BUILDX_VERSION (BuildKit builds need it)"
	docker buildx version >/dev/null || die "docker does not load $PLUGINS/docker-buildx"
	log "$(docker buildx version)"
}

ensure_compose() {
	docker compose version >/dev/null 2>&1 && return 0
	mkdir -p "$PLUGINS"
	if gobuild github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd "$PLUGINS/docker-compose" \
		"-X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" &&
		docker compose version >/dev/null 2>&1; then
		log "$(docker compose version)"
		return 0
	fi
	log "compose $COMPOSE_VERSION did not build; falling back to Debian's docker-compose"
	rm -f "$PLUGINS/docker-compose"
	command -v docker-compose >/dev/null || apt_install docker-compose
	docker-compose version >/dev/null || die "neither compose v2 nor docker-compose works"
}

compose_cmd() {
	if docker compose version >/dev/null 2>&1; then
		echo "docker compose"
	elif command -v docker-compose >/dev/null 2>&1; then
		echo "docker-compose"
	else
		return 1
	fi
}

mkdir -p "$CACHE"
if [[ ! -f $ROOT/.cache/.gitignore ]]; then echo '*' >"$ROOT/.cache/.gitignore"; fi

case ${1:-} in
up)
	ensure_engine
	ensure_buildx
	ensure_compose
	;;
engine) ensure_engine ;;
plugins)
	ensure_buildx
	ensure_compose
	;;
status) engine_answers ;;
compose) compose_cmd ;;
*)
	echo "usage: $0 up|engine|plugins|status|compose" >&2
	exit 2
	;;
esac
