#!/usr/bin/env bash
# images.sh makes every base image the Dockerfile and docker-compose.yml name
# available to the local Docker engine, so that `docker build .` and
# `docker compose up` run unchanged on a machine that reaches no image
# registry. For each image it needs:
#
#   1. present in the engine (`docker image inspect`): nothing to do;
#   2. else `docker pull` (skipped with IMAGES_PULL=0): on a machine that
#      reaches the registry this is all the script does;
#   3. else it builds a local stand-in and tags it with exactly that name.
#
#   scripts/images.sh           ensure every image (the default)
#   scripts/images.sh list      print the images the repository needs
#   scripts/images.sh clean     remove the stand-ins and the build cache
#
# Stand-ins start from one Debian 12 root filesystem made with debootstrap
# (minbase plus ca-certificates, tzdata, openjdk-17-jre-headless and kcat),
# imported as jelou-standin/debian:bookworm-<hash>:
#
#   golang:<GO_VERSION>   that root + this machine's Go toolchain
#                         ($(go env GOROOT)); its version must equal the
#                         Dockerfile's ARG GO_VERSION; and the machine's
#                         own CA certificates (/usr/local/share/ca-certificates)
#                         so the build reaches the Go module proxy as the
#                         host does
#   gcr.io/distroless/static-debian12:nonroot
#                         FROM scratch: /etc/passwd and /etc/group with
#                         root, nonroot (65532) and nobody, CA certificates,
#                         tzdata, /tmp, /home/nonroot; USER 65532
#   apache/kafka:<V>      the root + the Kafka jars scripts/kafka.sh fetches
#                         from Maven Central (V must be test/kafka/pom.xml's)
#                         + scripts/standin/kafka: /etc/kafka/docker/run
#                         turns KAFKA_* variables into server.properties with
#                         Kafka's own KafkaDockerWrapper, formats the KRaft
#                         storage (CLUSTER_ID) and starts the broker, as the
#                         official image does; /opt/kafka/bin has the scripts
#                         healthchecks use
#   edenhill/kcat:<V>     the root, ENTRYPOINT ["kcat"] (Debian's kcat)
#
# Every stand-in carries the label io.github.jelou-producer.standin=<hash of
# its inputs>; a stand-in whose inputs changed is rebuilt. The debootstrap
# tarball lives in .cache/images/ (git ignores .cache), so a re-run takes
# seconds. Needs root (debootstrap), Docker with buildx (scripts/docker.sh up),
# Go, and for Kafka Java's Maven.
#
# Environment: IMAGES_PULL (1: try docker pull first; 0: never),
# DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The golang stand-in carries the Go that go.mod's toolchain line names:
# auto makes `go env` below (run in the module) report it, fetching it from
# the module proxy where the machine's Go is older.
export GOTOOLCHAIN=auto
CACHE="$ROOT/.cache/images"
STANDIN="$ROOT/scripts/standin"
LABEL=io.github.jelou-producer.standin
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=ca-certificates,tzdata,openjdk-17-jre-headless,kcat
PULL=${IMAGES_PULL:-1}
LOCAL_CAS=/usr/local/share/ca-certificates

log() { printf 'images.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# needed prints every image the Dockerfile's FROM lines and the compose
# services without a build section name, one per line.
needed() {
	local from
	{
		# FROM [--platform=…] image [AS name]: skip stages and scratch. The
		# image may name global ARGs as ${NAME} (their defaults are used;
		# a default may itself name an earlier ARG).
		from=$(awk '
			function expand(s,   k) {
				for (k in arg) gsub("\\$\\{" k "\\}", arg[k], s)
				return s
			}
			toupper($1) == "ARG" && !from_seen {
				eq = index($2, "=")
				if (eq) arg[substr($2, 1, eq - 1)] = expand(substr($2, eq + 1))
			}
			toupper($1) == "FROM" {
				from_seen = 1
				img = ""
				for (i = 2; i <= NF; i++) if ($i !~ /^--/) { img = expand($i); break }
				if (toupper($(NF-1)) == "AS") stage[$NF] = 1
				if (img != "" && img != "scratch" && !(img in stage)) print img
			}' "$ROOT/Dockerfile")
		[[ $from != *'$'* ]] || die "a FROM image names a variable that is not a global ARG with a default: $from"
		printf '%s\n' "$from"
		# services.<name>.image where the service has no build: section.
		awk '
			/^services:/ { in_s = 1; next }
			/^[^ #]/ { in_s = 0 }
			in_s && /^  [A-Za-z0-9_.-]+:/ { flush(); img = ""; build = 0; next }
			in_s && /^    image:/ { img = $2 }
			in_s && /^    build:/ { build = 1 }
			function flush() { if (img != "" && !build) print img }
			END { flush() }' "$ROOT/docker-compose.yml" | sed 's/#.*//; s/["'\'']//g; s/[[:space:]]*$//'
	} | awk 'NF && !seen[$0]++'
}

# inputs_hash FAMILY [MORE]: a checksum of the function that builds FAMILY
# (standin_FAMILY), the stand-in files and MORE.
inputs_hash() {
	{
		declare -f "standin_$1"
		find "$STANDIN" -type f -print0 | sort -z | xargs -0 cat
		printf '%s\n' "$@"
	} | cksum | cut -d' ' -f1
}

present() { docker image inspect "$1" >/dev/null 2>&1; }

# standin_hash prints the stand-in label of image $1, empty when absent.
standin_hash() {
	docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true
}

# ---- the Debian root filesystem --------------------------------------------

ROOTFS_HASH=$(printf '%s %s' "$SUITE" "$PACKAGES" | cksum | cut -d' ' -f1)
BASE_TAR="$CACHE/debian-$SUITE-$ROOTFS_HASH.tar"
BASE_IMAGE="jelou-standin/debian:$SUITE-$ROOTFS_HASH"

base_tar() {
	[[ -f $BASE_TAR ]] && return 0
	[[ $(id -u) == 0 ]] || die "debootstrap needs root"
	if ! command -v debootstrap >/dev/null; then
		log "installing Debian's debootstrap"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null ||
			die "could not install debootstrap"
	fi
	local dir="$CACHE/rootfs.tmp"
	rm -rf "$dir"
	log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR"
	debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
		tail -n 30 "$CACHE/debootstrap.log" >&2
		die "debootstrap failed (log: $CACHE/debootstrap.log)"
	}
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
		"$dir"/usr/share/man/* "$dir"/tmp/* "$dir"/var/log/*.log
	# An image has no /proc or /dev contents; resolv.conf and hosts are the
	# engine's, mounted at run time.
	: >"$dir/etc/resolv.conf"
	tar -C "$dir" --numeric-owner -cf "$BASE_TAR.tmp" .
	mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf "$dir"
}

base_image() {
	present "$BASE_IMAGE" && return 0
	base_tar
	log "importing $BASE_IMAGE"
	docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' \
		--change "LABEL $LABEL=$ROOTFS_HASH" \
		"$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

# build TAG HASH CONTEXT: build CONTEXT/Dockerfile as TAG with the label.
build() {
	local tag=$1 hash=$2 ctx=$3
	log "building stand-in $tag"
	docker build -q --label "$LABEL=$hash" -t "$tag" "$ctx" >/dev/null ||
		die "building the stand-in $tag failed"
}

# ---- one builder per image family -------------------------------------------

standin_golang() {
	local tag=$1 want=${1#golang:} goroot have hash ctx
	goroot=$(cd "$ROOT" && go env GOROOT) || die "no Go toolchain for the stand-in $tag"
	have=$(cd "$ROOT" && go env GOVERSION)
	[[ $have == "go$want" ]] || die "the stand-in $tag needs Go $want; this machine has $have (the Dockerfile's GO_VERSION must match)"
	hash=$(inputs_hash golang "$want" "$BASE_IMAGE" "$(cat "$LOCAL_CAS"/*.crt 2>/dev/null | cksum)")
	[[ $(standin_hash "$tag") == "$hash" ]] && return 0
	base_image
	ctx="$CACHE/ctx-golang"
	rm -rf "$ctx"
	mkdir -p "$ctx/ca"
	cp -al "$goroot" "$ctx/go" 2>/dev/null || cp -a "$goroot" "$ctx/go"
	# The machine's own CA certificates: where registry traffic passes a
	# TLS-inspecting gateway, `go mod download` in the build trusts it as
	# the host's go does. Only this build image gets them.
	cp "$LOCAL_CAS"/*.crt "$ctx/ca/" 2>/dev/null || true
	cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY go /usr/local/go
ENV GOLANG_VERSION=$want GOTOOLCHAIN=local GOPATH=/go
ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go
WORKDIR /go
EOF
	build "$tag" "$hash" "$ctx"
	rm -rf "$ctx"
}

standin_distroless() {
	local tag=$1 hash ctx fs
	hash=$(inputs_hash distroless "$BASE_TAR")
	[[ $(standin_hash "$tag") == "$hash" ]] && return 0
	base_tar
	ctx="$CACHE/ctx-distroless"
	fs="$ctx/fs"
	rm -rf "$ctx"
	mkdir -p "$fs"/etc/ssl/certs "$fs"/usr/share "$fs"/tmp "$fs"/home/nonroot "$fs"/root
	tar -C "$fs" -xf "$BASE_TAR" ./etc/ssl/certs/ca-certificates.crt ./usr/share/zoneinfo ./etc/os-release ./usr/lib/os-release
	cat >"$fs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
	cat >"$fs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
	echo 'hosts: files dns' >"$fs/etc/nsswitch.conf"
	chmod 1777 "$fs/tmp"
	chmod 700 "$fs/root" "$fs/home/nonroot"
	chown 65532:65532 "$fs/home/nonroot"
	tar -C "$fs" --numeric-owner -cf "$ctx/rootfs.tar" .
	rm -rf "$fs"
	cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532
WORKDIR /home/nonroot
EOF
	build "$tag" "$hash" "$ctx"
	rm -rf "$ctx"
}

standin_kafka() {
	local tag=$1 want=${1#apache/kafka:} have libs hash ctx
	have=$("$ROOT/scripts/kafka.sh" version)
	[[ $have == "$want" ]] || die "the stand-in $tag needs Kafka $want; test/kafka/pom.xml pins $have"
	hash=$(inputs_hash kafka "$want" "$BASE_IMAGE" "$(cksum <"$ROOT/test/kafka/pom.xml")")
	[[ $(standin_hash "$tag") == "$hash" ]] && return 0
	libs=$("$ROOT/scripts/kafka.sh" fetch)
	base_image
	ctx="$CACHE/ctx-kafka"
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp -al "$libs" "$ctx/libs" 2>/dev/null || cp -a "$libs" "$ctx/libs"
	rm -f "$ctx"/libs/.kafka-*
	cp -a "$STANDIN/kafka/bin" "$STANDIN/kafka/docker" "$ctx/"
	cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY libs/ /opt/kafka/libs/
COPY bin/ /opt/kafka/bin/
COPY docker/ /etc/kafka/docker/
RUN useradd --uid 1000 --create-home --home-dir /home/appuser --shell /bin/bash appuser \\
 && mkdir -p /var/lib/kafka/data /etc/kafka/secrets /mnt/shared/config /opt/kafka/config /usr/logs \\
 && chown -R appuser:appuser /usr/logs /opt/kafka /mnt/shared/config \\
 && chown -R appuser:root /var/lib/kafka /etc/kafka/secrets /etc/kafka \\
 && chmod -R ug+w /etc/kafka /var/lib/kafka /etc/kafka/secrets
USER appuser
EXPOSE 9092
VOLUME ["/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"]
CMD ["/etc/kafka/docker/run"]
EOF
	build "$tag" "$hash" "$ctx"
	rm -rf "$ctx"
}

standin_kcat() {
	local tag=$1 hash ctx
	hash=$(inputs_hash kcat "$BASE_IMAGE")
	[[ $(standin_hash "$tag") == "$hash" ]] && return 0
	base_image
	ctx="$CACHE/ctx-kcat"
	rm -rf "$ctx"
	mkdir -p "$ctx"
	printf 'FROM %s\nENTRYPOINT ["kcat"]\n' "$BASE_IMAGE" >"$ctx/Dockerfile"
	build "$tag" "$hash" "$ctx"
	rm -rf "$ctx"
}

ensure() {
	local img=$1
	if present "$img" && [[ -z $(standin_hash "$img") ]]; then
		log "$img: present"
		return 0
	fi
	if [[ -z $(standin_hash "$img") && $PULL == 1 ]] && docker pull -q "$img" >/dev/null 2>&1; then
		log "$img: pulled"
		return 0
	fi
	case $img in
	golang:*) standin_golang "$img" ;;
	gcr.io/distroless/static-debian12:nonroot) standin_distroless "$img" ;;
	apache/kafka:*) standin_kafka "$img" ;;
	edenhill/kcat:*) standin_kcat "$img" ;;
	*) die "$img cannot be pulled and there is no stand-in for it" ;;
	esac
	log "$img: stand-in ($(docker image inspect --format '{{.Size}}' "$img" | awk '{printf "%.0f MB", $1/1e6}'))"
}

cmd_clean() {
	local img
	for img in $(docker images --filter "label=$LABEL" --format '{{.Repository}}:{{.Tag}}'); do
		docker rmi "$img" >/dev/null || true
	done
	rm -rf "$CACHE"
}

case ${1:-ensure} in
ensure)
	docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/docker.sh up)"
	mkdir -p "$CACHE"
	if [[ ! -f $ROOT/.cache/.gitignore ]]; then echo '*' >"$ROOT/.cache/.gitignore"; fi
	for img in $(needed); do ensure "$img"; done
	;;
list) needed ;;
clean) cmd_clean ;;
*)
	echo "usage: $0 [ensure|list|clean]" >&2
	exit 2
	;;
esac
