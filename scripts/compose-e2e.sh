#!/usr/bin/env bash
# compose-e2e.sh runs docker-compose.yml end to end (CI runs it from
# .ci/docker.sh) and checks that a producer restart loses and repeats nothing:
#
#   1. docker compose up --build -d; wait until Kafka and the producer are
#      healthy (the producer's healthcheck is `jelou-producer healthcheck
#      --ready`);
#   2. wait for events on the topic, then stop the producer (SIGTERM; exit
#      status must be 0) and start it again on the same checkpoint volume;
#   3. read the simulator's oracle of what it served (GET /_sim/served on
#      the loopback port compose publishes) and wait until every one of those
#      (conversation id, state) pairs is on the topic, none twice (kcat: the
#      compose file's watch service, in the compose network);
#   4. stop the producer again (exit 0) and check the whole topic: every pair
#      served up to step 3 on it once, and nothing on it that the simulator
#      never served (pairs of windows in flight at a stop are published by
#      the next start, so the last oracle only bounds the topic from above);
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

# ---- 3. everything served up to now reaches the topic, once ---------------------------
# A stop leaves the windows in flight unpublished (the next start fetches
# them again), so the oracle is read after the restart: every pair served
# until then must reach the topic, once, as the producer works through them.
wait_for 180 "events after the restart" more_than "$first"
curl -fsS "$SIM_URL/_sim/served" >"$WORK/served.json" || fail "GET $SIM_URL/_sim/served"
# compare TOPIC SERVED MODE: print the counts. MODE "all": exit 0 when every
# served pair is on the topic and none twice; MODE "bound": exit 0 when the
# topic holds no pair that was never served and none twice.
compare() {
	python3 - "$1" "$2" "$3" "$first" <<'PY'
import collections, json, sys
topic, served_file, mode, first = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pairs = collections.Counter()
for line in open(topic):
    if line.strip():
        ev = json.loads(line)
        pairs[(ev["subject"], ev["data"]["state"])] += 1
served = {(p["_id"], p["state"]) for p in json.load(open(served_file))["pairs"]}
lost, extra = served - set(pairs), set(pairs) - served
repeated = sum(n - 1 for n in pairs.values())
total = sum(pairs.values())
print(f"compose-e2e: [{mode}] records {total} ({first} before the restart), distinct pairs {len(pairs)}, "
      f"served {len(served)}, served but not on the topic {len(lost)}, repeated {repeated}, "
      f"on the topic but never served {len(extra)}", file=sys.stderr)
ok = not repeated and (not lost if mode == "all" else not extra)
sys.exit(0 if ok else 1)
PY
}
caught_up() { read_topic "$WORK/topic" && compare "$WORK/topic" "$WORK/served.json" all; }
wait_for 240 "every pair served up to the restart on the topic" caught_up
ok "every pair served up to the restart is on the topic, none twice"

# ---- 4. stop: the final topic against the final oracle -------------------------------
stop_producer
read_topic "$WORK/topic" || fail "kcat: $(cat "$WORK/kcat.err")"
curl -fsS "$SIM_URL/_sim/served" >"$WORK/served-final.json" || fail "GET $SIM_URL/_sim/served"
compare "$WORK/topic" "$WORK/served.json" all || fail "pairs served before the restart are missing or repeated"
# Windows in flight at this last stop were served but not published (the
# next start would); the final oracle bounds the topic from above.
compare "$WORK/topic" "$WORK/served-final.json" bound || fail "the topic holds pairs never served, or repeats"
ok "nothing lost or repeated across the restart"

# ---- 5. down -v ---------------------------------------------------------------------
compose --profile watch down -v --remove-orphans >/dev/null 2>&1 || fail "compose down -v"
[[ -z $(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT") ]] || fail "volumes left after down -v"
ok "down -v removed the containers and volumes; total $((SECONDS - start))s"
