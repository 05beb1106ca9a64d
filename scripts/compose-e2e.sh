#!/usr/bin/env bash
# compose-e2e.sh runs docker-compose.yml end to end (CI runs it from
# .ci/docker.sh) and checks that a producer restart loses and repeats nothing:
#
#   1. docker compose up --build -d; wait until Kafka and the producer are
#      healthy (the producer's healthcheck is `jelou-producer healthcheck
#      --ready`);
#   2. wait for events on the topic, then stop the producer (SIGTERM; exit
#      status must be 0) and start it again on the same checkpoint volume;
#   3. wait until it is healthy and has published more, then stop it again
#      (exit 0), so that everything it fetched is on the topic;
#   4. read the whole topic with kcat (the compose file's watch service, in
#      the compose network) and compare its (conversation id, state) pairs
#      with the simulator's oracle of what it served (GET /_sim/served on
#      the loopback port compose publishes): lost = served but not on the
#      topic, repeated = on the topic more than once; both must be 0;
#   5. docker compose down -v (also on failure).
#
# Needs scripts/docker.sh up and scripts/images.sh first, python3 and curl.
# Environment: COMPOSE_E2E_PROJECT (default jp-e2e).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
read -r -a COMPOSE <<<"$(scripts/docker.sh compose)"
PROJECT=${COMPOSE_E2E_PROJECT:-jp-e2e}
TOPIC=$(sed -n 's/^ *KAFKA_TOPIC: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' docker-compose.yml | head -n1)
SIM_URL=http://127.0.0.1:8080
WORK=$(mktemp -d)

log() { printf 'compose-e2e: %s\n' "$*" >&2; }
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml "$@"; }
fail() {
	log "FAIL: $*"
	compose logs --no-color --tail 40 >&2 || true
	exit 1
}
ok() { log "ok: $*"; }
cleanup() {
	compose --profile watch down -v --remove-orphans >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {
	local limit=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "$what not within ${limit}s"
		sleep 2
	done
}

cid() { compose ps -a -q "$1"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$(cid "$1")"; }
healthy() { [[ $(health "$1") == healthy ]]; }

# read_topic FILE: every record's value, one per line, up to the end.
read_topic() {
	compose --profile watch run --rm -T watch -C -b kafka:9092 -t "$TOPIC" -e -q -f '%s\n' >"$1" 2>"$WORK/kcat.err"
}
count() {
	read_topic "$WORK/count" || return 1
	wc -l <"$WORK/count"
}
more_than() { (($(count) > $1)); }

# stop_producer: SIGTERM through compose; the exit status must be 0.
stop_producer() {
	compose stop producer >/dev/null
	local code
	code=$(docker inspect -f '{{.State.ExitCode}}' "$(cid producer)")
	[[ $code == 0 ]] || fail "producer exited $code after SIGTERM, want 0"
}

# ---- 1. up ---------------------------------------------------------------------
start=$SECONDS
compose down -v --remove-orphans >/dev/null 2>&1 || true
compose up --build -d >"$WORK/up.log" 2>&1 || {
	cat "$WORK/up.log" >&2
	fail "compose up"
}
wait_for 180 "kafka healthy" healthy kafka
wait_for 180 "producer healthy" healthy producer
ok "up and healthy in $((SECONDS - start))s (${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || true))"

# ---- 2. restart with events in flight --------------------------------------------
wait_for 180 "events on $TOPIC" more_than 0
stop_producer
first=$(count)
ok "producer stopped with SIGTERM (exit 0) after $first events"
compose start producer >/dev/null
wait_for 120 "producer healthy after the restart" healthy producer
ok "producer restarted and healthy"

# ---- 3. more events, then stop so that nothing is in flight ------------------------
wait_for 180 "events after the restart" more_than "$first"
sleep 5
stop_producer
ok "producer stopped again (exit 0)"

# ---- 4. compare the topic with the simulator's oracle -----------------------------------
read_topic "$WORK/topic" || fail "kcat: $(cat "$WORK/kcat.err")"
curl -fsS "$SIM_URL/_sim/served" >"$WORK/served.json" || fail "GET $SIM_URL/_sim/served"
python3 - "$WORK/topic" "$WORK/served.json" "$first" <<'EOF' || fail "the topic does not match what the simulator served"
import collections, json, sys
topic, served_file, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
pairs = collections.Counter()
with open(topic) as f:
    for line in f:
        if line.strip():
            ev = json.loads(line)
            pairs[(ev["subject"], ev["data"]["state"])] += 1
served = {(p["_id"], p["state"]) for p in json.load(open(served_file))["pairs"]}
lost = served - set(pairs)
repeated = sum(n - 1 for n in pairs.values())
extra = set(pairs) - served
total = sum(pairs.values())
print(f"compose-e2e: records {total} ({first} before the restart, {total - first} after), "
      f"distinct pairs {len(pairs)}, served by the simulator {len(served)}, "
      f"lost {len(lost)}, repeated {repeated}, not served {len(extra)}", file=sys.stderr)
sys.exit(0 if total > first and not lost and not repeated and not extra else 1)
EOF
ok "nothing lost or repeated across the restart"

# ---- 5. down -v ---------------------------------------------------------------------
compose --profile watch down -v --remove-orphans >/dev/null 2>&1 || fail "compose down -v"
[[ -z $(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT") ]] || fail "volumes left after down -v"
ok "down -v removed the containers and volumes; total $((SECONDS - start))s"
