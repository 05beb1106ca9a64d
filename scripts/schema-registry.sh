#!/usr/bin/env bash
# schema-registry.sh runs a real Confluent-compatible Schema Registry for
# tests and CI: Apicurio Registry, from its distribution on Maven Central
# (io.apicurio:apicurio-registry-app:<version>:tar.gz:all, the Quarkus
# fast-jar), with in-memory storage, serving the Confluent API under
# /apis/ccompat/v7. No Docker.
#
#   scripts/schema-registry.sh up       fetch the distribution if missing,
#                                       start it, wait until it answers, and
#                                       print SCHEMA_REGISTRY_TEST_URL=...
#   scripts/schema-registry.sh status   print whether it runs (exit 0) or not
#   scripts/schema-registry.sh down     stop it (TERM, then KILL); its schemas
#                                       go with it (in-memory storage)
#   scripts/schema-registry.sh env      print the variables tests read
#   scripts/schema-registry.sh fetch    fetch the distribution if missing and
#                                       print its folder
#   scripts/schema-registry.sh version  print the pinned Apicurio version
#
# Apicurio 3.0.x is the newest line built for Java 17 (3.1 and later need
# Java 21). Needs Java 17+ and Maven. Environment: SCHEMA_REGISTRY_TEST_HOME
# (default <repo>/.cache/schema-registry), SCHEMA_REGISTRY_TEST_PORT (default
# 18081), SCHEMA_REGISTRY_HEAP_OPTS (default -Xms128m -Xmx512m),
# SCHEMA_REGISTRY_UP_TIMEOUT (seconds, default 120), JAVA (default
# $JAVA_HOME/bin/java or java), MVN (default mvn).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=3.0.9
ARTIFACT=io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all
HOME_DIR=${SCHEMA_REGISTRY_TEST_HOME:-$ROOT/.cache/schema-registry}
DIST="$HOME_DIR/apicurio-registry-$VERSION"
RUN="$HOME_DIR/run"
PIDFILE="$RUN/registry.pid"
LOG="$RUN/registry.log"
HOST=127.0.0.1
PORT=${SCHEMA_REGISTRY_TEST_PORT:-18081}
HEAP=${SCHEMA_REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}
UP_TIMEOUT=${SCHEMA_REGISTRY_UP_TIMEOUT:-120}
STOP_TIMEOUT=30
if [[ -n ${JAVA_HOME:-} ]]; then JAVA=${JAVA:-$JAVA_HOME/bin/java}; else JAVA=${JAVA:-java}; fi
MVN=${MVN:-mvn}
API=http://$HOST:$PORT/apis/ccompat/v7

. "$ROOT/scripts/lib/server.sh"

# runner is the distribution's runnable jar.
runner() { echo "$DIST/apicurio-registry-app-$VERSION-runner.jar"; }

# fetch unpacks the distribution into $DIST unless it is there.
fetch() {
	local tmp
	[[ -f $(runner) ]] && return 0
	command -v "$MVN" >/dev/null || die "Maven ($MVN) is needed to fetch Apicurio Registry $VERSION"
	log "fetching Apicurio Registry $VERSION ($ARTIFACT) into $DIST"
	tmp=$(mktemp -d "$HOME_DIR/fetch.XXXXXX")
	if ! "$MVN" -q -B -Dstyle.color=never dependency:copy -Dartifact="$ARTIFACT" \
		-DoutputDirectory="$tmp" >"$HOME_DIR/mvn.log" 2>&1; then
		cat "$HOME_DIR/mvn.log" >&2
		rm -rf "$tmp"
		die "mvn dependency:copy $ARTIFACT failed"
	fi
	rm -rf "$DIST"
	mkdir -p "$DIST"
	tar -xzf "$tmp"/apicurio-registry-app-"$VERSION"-all.tar.gz -C "$DIST"
	rm -rf "$tmp"
	[[ -f $(runner) ]] || die "the distribution has no $(basename "$(runner)")"
}

# running reports whether the PID in $PIDFILE is a live registry of ours.
running() {
	local pid
	[[ -f $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	grep -q 'apicurio-registry' "/proc/$pid/cmdline" 2>/dev/null
}

# alive reports whether the process in $PIDFILE exists (right after the
# fork its command line is still this script's).
alive() {
	local pid
	[[ -f $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# answers reports whether the Confluent API lists subjects.
answers() {
	curl -fsS --max-time 5 "$API/subjects" >/dev/null 2>&1
}

wait_ready() {
	local deadline=$((SECONDS + UP_TIMEOUT))
	while ! answers; do
		if ! alive; then
			tail -n 40 "$LOG" >&2 2>/dev/null || true
			die "the registry exited during startup (log: $LOG)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 40 "$LOG" >&2 2>/dev/null || true
			die "the registry did not answer on $API within ${UP_TIMEOUT}s (log: $LOG)"
		fi
		sleep 0.5
	done
}

print_env() {
	echo "SCHEMA_REGISTRY_TEST_URL=$API"
}

cmd_up() {
	local start=$SECONDS pid heap
	if running; then
		wait_ready
		print_env
		return 0
	fi
	port_busy "$PORT" && die "port $HOST:$PORT is taken by a process this script did not start (pid file: $PIDFILE)"
	command -v "$JAVA" >/dev/null || die "Java 17+ ($JAVA) is needed to run Apicurio Registry"
	command -v curl >/dev/null || die "curl is needed to check that the registry answers"
	fetch
	rm -rf "$RUN"
	mkdir -p "$RUN"
	read -r -a heap <<<"$HEAP"
	# setsid: the registry outlives the shell (and CI step) that started it.
	# The default storage is in-memory (H2 in memory): nothing on disk.
	(cd "$RUN" && exec setsid "$JAVA" "${heap[@]}" -Djava.awt.headless=true \
		-Dquarkus.http.host=$HOST -Dquarkus.http.port="$PORT" \
		-Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
		-jar "$(runner)" >"$LOG" 2>&1 </dev/null) &
	pid=$!
	echo "$pid" >"$PIDFILE"
	wait_ready
	log "Apicurio Registry $VERSION ready on $API (pid $pid) in $((SECONDS - start))s"
	print_env
}

cmd_down() {
	local pid
	if running; then
		pid=$(<"$PIDFILE")
		stop_pids registry "$STOP_TIMEOUT" "$pid"
		log "stopped registry $pid"
	fi
	rm -rf "$RUN"
}

cmd_status() {
	if running && answers; then
		echo "running (pid $(<"$PIDFILE")) on $API"
		print_env
		return 0
	fi
	if running; then
		echo "started (pid $(<"$PIDFILE")) but not answering on $API"
	else
		echo "not running"
	fi
	return 1
}

# .cache/ holds downloads and data, never source: keep it out of git.
mkdir -p "$HOME_DIR"
if [[ $HOME_DIR == "$ROOT/.cache/schema-registry" && ! -f $ROOT/.cache/.gitignore ]]; then
	echo '*' >"$ROOT/.cache/.gitignore"
fi

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) print_env ;;
fetch)
	fetch
	echo "$DIST"
	;;
version) echo "$VERSION" ;;
*)
	echo "usage: $0 up|down|status|env|fetch|version" >&2
	exit 2
	;;
esac
