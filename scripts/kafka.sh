#!/usr/bin/env bash
# kafka.sh runs a single-node Apache Kafka broker (KRaft, no ZooKeeper, no
# Docker) for tests and CI, from jars fetched by Maven (test/kafka/pom.xml).
#
#   scripts/kafka.sh up      fetch jars if missing, format storage, start the
#                            broker, wait until it serves metadata, and print
#                            KAFKA_TEST_BROKERS=... (and the SASL settings)
#   scripts/kafka.sh wait    wait until a started broker serves metadata
#   scripts/kafka.sh status  print whether it runs (exit 0) or not (exit 1)
#   scripts/kafka.sh down    stop it (TERM, then KILL) and delete its data
#   scripts/kafka.sh env     print the variables tests read, one per line
#   scripts/kafka.sh fetch   fetch the jars if missing and print their folder
#                            (scripts/images.sh builds its Kafka image from it)
#   scripts/kafka.sh version print the pinned Kafka version
#
# Listeners (all on 127.0.0.1):
#   19092  PLAINTEXT       no authentication, the super user (ANONYMOUS)
#   19094  SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for the users
#                          admin/admin-secret (super user) and
#                          reader/reader-secret (no ACLs: authorisation fails)
#   19093  CONTROLLER      KRaft controller
#
# Needs Java 17+ and Maven. Environment: KAFKA_TEST_HOME (default
# <repo>/.cache/kafka; libs/ and run/ live there), KAFKA_TEST_PORT,
# KAFKA_TEST_SASL_PORT, KAFKA_TEST_CONTROLLER_PORT (the ports above),
# KAFKA_HEAP_OPTS (default -Xms256m -Xmx512m), KAFKA_TEST_UP_TIMEOUT (seconds,
# default 90), JAVA (default $JAVA_HOME/bin/java or java), MVN (default mvn).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POM="$ROOT/test/kafka/pom.xml"
HOME_DIR=${KAFKA_TEST_HOME:-$ROOT/.cache/kafka}
LIBS="$HOME_DIR/libs"
RUN="$HOME_DIR/run"
PIDFILE="$RUN/kafka.pid"
LOG="$RUN/server.log"
HOST=127.0.0.1
PORT=${KAFKA_TEST_PORT:-19092}
SASL_PORT=${KAFKA_TEST_SASL_PORT:-19094}
CONTROLLER_PORT=${KAFKA_TEST_CONTROLLER_PORT:-19093}
HEAP=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
UP_TIMEOUT=${KAFKA_TEST_UP_TIMEOUT:-90}
STOP_TIMEOUT=30
if [[ -n ${JAVA_HOME:-} ]]; then JAVA=${JAVA:-$JAVA_HOME/bin/java}; else JAVA=${JAVA:-java}; fi
MVN=${MVN:-mvn}
# A fixed cluster id is fine: the data directory is deleted by `down`.
CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk

. "$ROOT/scripts/lib/server.sh"

kafka_version() {
	sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1
}

# fetch copies the broker's jars into $LIBS unless this version is there.
fetch() {
	local version stamp
	version=$(kafka_version)
	[[ -n $version ]] || die "no <kafka.version> in $POM"
	# The stamp names the pom's checksum: a changed dependency list refetches.
	stamp="$LIBS/.kafka-$version-$(cksum <"$POM" | cut -d' ' -f1)"
	if [[ -f $stamp ]]; then
		return 0
	fi
	command -v "$MVN" >/dev/null || die "Maven ($MVN) is needed to fetch Kafka $version jars"
	log "fetching Apache Kafka $version jars into $LIBS"
	rm -rf "$LIBS"
	mkdir -p "$LIBS"
	if ! "$MVN" -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
		-Dkafka.libs="$LIBS" >"$HOME_DIR/mvn.log" 2>&1; then
		cat "$HOME_DIR/mvn.log" >&2
		die "mvn dependency:copy-dependencies failed"
	fi
	touch "$stamp"
}

# running reports whether the PID in $PIDFILE is a live broker of ours.
running() {
	local pid
	[[ -f $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	grep -q 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null
}

write_config() {
	mkdir -p "$RUN/data"
	cat >"$RUN/server.properties" <<EOF
# Written by scripts/kafka.sh: single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$RUN/data

# SASL on its own listener; SCRAM users are stored by "format --add-scram".
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_reader="reader-secret";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

# ACLs: unauthenticated (PLAINTEXT, CONTROLLER) and admin may do anything,
# reader has no ACL, so its writes fail with an authorisation error.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:admin

auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

# java_args sets JAVA_ARGS to the JVM options every Kafka command uses.
java_args() {
	local heap
	read -r -a heap <<<"$HEAP"
	JAVA_ARGS=("${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true
		"-Dlog4j2.configurationFile=$ROOT/test/kafka/log4j2.properties" -cp "$LIBS/*")
}

format_storage() {
	java_args
	"$JAVA" "${JAVA_ARGS[@]}" kafka.tools.StorageTool format --ignore-formatted \
		-t "$CLUSTER_ID" -c "$RUN/server.properties" \
		--add-scram 'SCRAM-SHA-256=[name=admin,password=admin-secret]' \
		--add-scram 'SCRAM-SHA-512=[name=admin,password=admin-secret]' \
		--add-scram 'SCRAM-SHA-256=[name=reader,password=reader-secret]' \
		--add-scram 'SCRAM-SHA-512=[name=reader,password=reader-secret]' \
		>"$RUN/format.log" 2>&1 || {
		cat "$RUN/format.log" >&2
		die "formatting the storage failed"
	}
}

# metadata_ok sends a Metadata v4 request for all topics on the PLAINTEXT
# port and checks that the answer lists one broker: the broker is not only
# listening but serving requests.
metadata_ok() {
	local reply
	local -a b
	# size=23 | api_key=3 | version=4 | correlation_id=7 | client_id="kafka.sh"
	# | topics=null (-1) | allow_auto_topic_creation=false
	# shellcheck disable=SC2016 # $0 and $1 expand in the inner shell.
	reply=$(timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x00\x07\x00\x08kafka.sh\xff\xff\xff\xff\x00" >&3
		head -c 16 <&3 | od -An -tx1' "$HOST" "$PORT" 2>/dev/null) || return 1
	read -r -a b <<<"${reply//$'\n'/ }"
	# size(4) correlation_id(4)=7 throttle_ms(4) broker_count(4)=1
	[[ "${b[*]:4:4} ${b[*]:12:4}" == "00 00 00 07 00 00 00 01" ]]
}

# alive reports whether the process in $PIDFILE exists. Unlike running it
# does not look at the command line, which right after the fork is still
# this script's own (the exec of java has not happened yet).
alive() {
	local pid
	[[ -f $PIDFILE ]] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

wait_ready() {
	local deadline=$((SECONDS + UP_TIMEOUT))
	while :; do
		if ! alive; then
			tail -n 40 "$LOG" >&2 2>/dev/null || true
			die "the broker exited during startup (log: $LOG)"
		fi
		metadata_ok && break
		if ((SECONDS >= deadline)); then
			tail -n 40 "$LOG" >&2 2>/dev/null || true
			die "the broker did not serve metadata on $HOST:$PORT within ${UP_TIMEOUT}s (log: $LOG)"
		fi
		sleep 0.5
	done
}

print_env() {
	cat <<EOF
KAFKA_TEST_BROKERS=$HOST:$PORT
KAFKA_TEST_SASL_BROKERS=$HOST:$SASL_PORT
EOF
}

# port_busy reports whether something accepts connections on port $1.
cmd_up() {
	local start=$SECONDS pid port
	if running; then
		wait_ready
		print_env
		return 0
	fi
	for port in "$PORT" "$SASL_PORT" "$CONTROLLER_PORT"; do
		if port_busy "$port"; then
			die "port $HOST:$port is taken by a process this script did not start (pid file: $PIDFILE)"
		fi
	done
	command -v "$JAVA" >/dev/null || die "Java 17+ ($JAVA) is needed to run Kafka"
	fetch
	rm -rf "$RUN"
	mkdir -p "$RUN"
	write_config
	format_storage
	# setsid: the broker outlives the shell (and CI step) that started it.
	java_args
	setsid "$JAVA" "${JAVA_ARGS[@]}" kafka.Kafka "$RUN/server.properties" >"$LOG" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$PIDFILE"
	wait_ready
	log "Apache Kafka $(kafka_version) ready on $HOST:$PORT (pid $pid) in $((SECONDS - start))s"
	print_env
}

cmd_down() {
	local pid
	if running; then
		pid=$(<"$PIDFILE")
		stop_pids broker "$STOP_TIMEOUT" "$pid"
		log "stopped broker $pid"
	fi
	rm -rf "$RUN"
}

cmd_status() {
	if running && metadata_ok; then
		echo "running (pid $(<"$PIDFILE")) on $HOST:$PORT"
		print_env
		return 0
	fi
	if running; then
		echo "started (pid $(<"$PIDFILE")) but not serving metadata on $HOST:$PORT"
	else
		echo "not running"
	fi
	return 1
}

cmd_wait() {
	running || die "no broker started (run: $0 up)"
	wait_ready
	print_env
}

# .cache/ holds downloads and data, never source: keep it out of git.
mkdir -p "$HOME_DIR"
if [[ $HOME_DIR == "$ROOT/.cache/kafka" && ! -f $ROOT/.cache/.gitignore ]]; then
	echo '*' >"$ROOT/.cache/.gitignore"
fi

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
wait) cmd_wait ;;
env) print_env ;;
fetch)
	fetch
	echo "$LIBS"
	;;
version) kafka_version ;;
*)
	echo "usage: $0 up|down|status|wait|env|fetch|version" >&2
	exit 2
	;;
esac
