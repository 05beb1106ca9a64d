#!/usr/bin/env bash
# image-check.sh builds the real Dockerfile and checks the images by running
# them (CI runs it from .ci/docker.sh):
#
#   1. both targets build (jelou-producer with VERSION, REVISION and CREATED
#      build arguments, jelou-sim with none: the defaults); build time and
#      image size are printed;
#   2. the producer image's user is 65532:65532, its HEALTHCHECK runs
#      `jelou-producer healthcheck`, and its OCI labels carry the build
#      arguments and the Apache-2.0 licence; jelou-sim's version label is the
#      VERSION file's;
#   3. on a docker network this script creates, with Kafka (the image
#      docker-compose.yml names) and jelou-sim, the producer runs with
#      --read-only and a named volume on /data: the process runs as uid 65532,
#      the HEALTHCHECK turns healthy, `healthcheck --ready` passes, events
#      reach the topic (read back with kcat in a container);
#   4. SIGTERM drains: exit status 0, and the checkpoint file on the volume
#      was written after the signal, by uid 65532;
#   5. `docker run IMAGE demo` runs to its summary with nothing missing or
#      repeated;
#   6. `docker run IMAGE version` prints the VERSION build argument.
#
# Everything it starts is removed on exit. Needs scripts/docker.sh up and
# scripts/images.sh first. Environment: IMAGE_CHECK_TAG (default check).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TAG=${IMAGE_CHECK_TAG:-check}
VERSION=v0.0.0-imagecheck
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
PRODUCER=jelou-producer:$TAG
SIM=jelou-sim:$TAG
P=jp-check-$$ # prefix of every container, network and volume made here
NET=$P-net
VOL=$P-data
TOPIC=jelou.conversations.attended
KAFKA_IMAGE=$(sed -n 's/^ *image: *\(apache\/kafka:[^ #]*\).*/\1/p' docker-compose.yml | head -n1)
KCAT_IMAGE=$(sed -n 's/^ *image: *\(edenhill\/kcat:[^ #]*\).*/\1/p' docker-compose.yml | head -n1)
GO_IMAGE=golang:$(sed -n 's/^ARG GO_VERSION=//p' Dockerfile | head -n1)

log() { printf 'image-check: %s\n' "$*" >&2; }
fail() {
	log "FAIL: $*"
	for c in $P-producer $P-kafka $P-sim; do
		docker logs --tail 30 "$c" 2>&1 | sed "s/^/  $c| /" >&2 || true
	done
	exit 1
}
ok() { log "ok: $*"; }

cleanup() {
	docker rm -f -v $P-producer $P-kafka $P-sim >/dev/null 2>&1 || true
	docker volume rm $VOL >/dev/null 2>&1 || true
	docker network rm $NET >/dev/null 2>&1 || true
}
trap cleanup EXIT

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every second.
wait_for() {
	local limit=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "$what not within ${limit}s"
		sleep 1
	done
}

# ---- 1. build ---------------------------------------------------------------
start=$SECONDS
docker build -q --build-arg VERSION=$VERSION --build-arg REVISION="$REVISION" --build-arg CREATED="$CREATED" \
	-t "$PRODUCER" . >/dev/null || fail "docker build (jelou-producer)"
docker build -q --target jelou-sim -t "$SIM" . >/dev/null || fail "docker build (jelou-sim, no build arguments)"
build_s=$((SECONDS - start))
size=$(docker image inspect -f '{{.Size}}' "$PRODUCER")
sim_size=$(docker image inspect -f '{{.Size}}' "$SIM")
ok "built $PRODUCER and $SIM in ${build_s}s"
awk -v p="$PRODUCER" -v a="$size" -v s="$SIM" -v b="$sim_size" 'BEGIN {
	printf "image-check: image size: %s %d bytes (%.1f MB), %s %d bytes (%.1f MB)\n", p, a, a/1e6, s, b, b/1e6 }' >&2

# ---- 2. image metadata --------------------------------------------------------
user=$(docker image inspect -f '{{.Config.User}}' "$PRODUCER")
[[ $user == 65532:65532 ]] || fail "image user is '$user', want 65532:65532"
health=$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$PRODUCER")
[[ $health == '["CMD","/jelou-producer","healthcheck"]' ]] || fail "HEALTHCHECK is $health"
ok "user $user, HEALTHCHECK $health"
label() { docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$2\"}}" "$1"; }
for kv in version=$VERSION revision=$REVISION created=$CREATED licenses=Apache-2.0 \
	base.name=gcr.io/distroless/static-debian12:nonroot; do
	got=$(label "$PRODUCER" "${kv%%=*}")
	[[ $got == "${kv#*=}" ]] || fail "label org.opencontainers.image.${kv%%=*} is '$got', want '${kv#*=}'"
done
sim_version=$(label "$SIM" version)
[[ $sim_version == "$(cat VERSION)" ]] || fail "$SIM built without arguments has version label '$sim_version', want the VERSION file's $(cat VERSION)"
ok "OCI labels: version $VERSION, revision $REVISION, created $CREATED, licenses Apache-2.0; $SIM version $sim_version"

# ---- 3. run it read-only against Kafka and jelou-sim ------------------------
docker network create $NET >/dev/null
docker volume create $VOL >/dev/null
docker run -d --name $P-kafka --network $NET --network-alias kafka \
	-e CLUSTER_ID=imagecheckAAAAAAAAAAAA -e KAFKA_NODE_ID=1 -e KAFKA_PROCESS_ROLES=broker,controller \
	-e KAFKA_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093 \
	-e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092 \
	-e KAFKA_CONTROLLER_QUORUM_VOTERS=1@kafka:9093 -e KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER \
	-e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT \
	-e KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT -e KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1 \
	-e KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1 -e KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1 \
	-e KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR=1 -e KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR=1 \
	"$KAFKA_IMAGE" >/dev/null
docker run -d --name $P-sim --network $NET --network-alias jelou-sim --read-only --cap-drop ALL \
	"$SIM" -addr 0.0.0.0:8080 -count 2000 -seed 7 >/dev/null
wait_for 120 "Kafka serving ($KAFKA_IMAGE)" \
	docker exec $P-kafka /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092
ok "Kafka ($KAFKA_IMAGE) serves"

docker run -d --name $P-producer --network $NET --read-only --cap-drop ALL \
	--security-opt no-new-privileges:true -v $VOL:/data \
	--health-interval 2s --health-start-period 2s \
	-e JELOU_BASE_URL=http://jelou-sim:8080 -e JELOU_CLIENT_ID=sim-client -e JELOU_CLIENT_SECRET=sim-secret \
	-e KAFKA_BROKERS=kafka:9092 -e KAFKA_TOPIC=$TOPIC -e KAFKA_TOPIC_CREATE=true -e KAFKA_TOPIC_PARTITIONS=3 \
	-e POLL_INTERVAL=2s -e LOG_FORMAT=text "$PRODUCER" >/dev/null
pid=$(docker inspect -f '{{.State.Pid}}' $P-producer)
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[[ $uid == 65532 ]] || fail "the producer process runs as uid $uid, want 65532"
ro=$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' $P-producer)
[[ $ro == true ]] || fail "root filesystem not read-only"
ok "producer process runs as uid $uid on a read-only root filesystem"

healthy() { [[ $(docker inspect -f '{{.State.Health.Status}}' $P-producer) == healthy ]]; }
wait_for 90 "HEALTHCHECK healthy" healthy
ok "HEALTHCHECK: healthy"
wait_for 90 "healthcheck --ready" docker exec $P-producer /jelou-producer healthcheck --ready
ok "jelou-producer healthcheck --ready exits 0"

count_events() {
	docker run --rm --network $NET "$KCAT_IMAGE" -C -b kafka:9092 -t $TOPIC -e -q -f '%k\n' 2>/dev/null | wc -l
}
has_events() { (($(count_events) > 0)); }
wait_for 120 "events on $TOPIC" has_events
before=$(count_events)
ok "$before events on $TOPIC (read with kcat in a container)"

# ---- 4. SIGTERM drains ----------------------------------------------------------
sleep 1
signal_at=$(date +%s)
docker kill --signal TERM $P-producer >/dev/null
code=$(timeout 60 docker wait $P-producer) || fail "producer did not exit within 60s of SIGTERM"
[[ $code == 0 ]] || fail "exit status $code after SIGTERM, want 0"
docker logs $P-producer 2>&1 | grep -q 'draining' || fail "no 'draining' line after SIGTERM"
ckpt=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$PRODUCER" | sed -n 's/^CHECKPOINT_PATH=//p')
[[ $ckpt == /data/* ]] || fail "image CHECKPOINT_PATH=$ckpt is not on the /data volume"
read -r owner bytes mtime < <(docker run --rm -v $VOL:/data --entrypoint stat "$GO_IMAGE" -c '%u %s %Y' "$ckpt") ||
	fail "no checkpoint file $ckpt on the volume"
[[ $owner == 65532 && $bytes -gt 0 ]] || fail "checkpoint $ckpt: owner $owner, $bytes bytes"
((mtime >= signal_at)) || fail "checkpoint $ckpt last written at $mtime, before SIGTERM at $signal_at"
ok "SIGTERM: exit 0, checkpoint $ckpt ($bytes bytes, uid $owner) saved after the signal"

# ---- 5. demo --------------------------------------------------------------------
demo_out=$(docker run --rm "$PRODUCER" demo -duration 15s -lines 0 -count 5000 2>&1) || fail "docker run $PRODUCER demo: $demo_out"
summary=$(grep '^summary:' <<<"$demo_out") || fail "demo printed no summary"
grep -q 'missing 0, repeated 0' <<<"$summary" || fail "demo: $summary"
ok "docker run $PRODUCER demo: $summary"

# ---- 6. version -----------------------------------------------------------------
v=$(docker run --rm --read-only "$PRODUCER" version)
[[ $v == *"$VERSION"* ]] || fail "version printed '$v', want $VERSION"
ok "version: $v"
log "all checks passed"
