#!/usr/bin/env bash
# kafka-cluster.sh runs a three-node Apache Kafka cluster (KRaft, each node
# broker and controller, a static quorum of three voters) on 127.0.0.1 for
# the fault tests that need replication (test/e2e TestClusterLeaderLoss).
# It uses the jars scripts/kafka.sh fetches (test/kafka/pom.xml), no Docker.
#
#   scripts/kafka-cluster.sh up        fetch jars if missing, format three data
#                                      dirs, start the nodes, wait until the
#                                      metadata lists three brokers, print env
#   scripts/kafka-cluster.sh down      stop every node (TERM, then KILL) and
#                                      delete the data
#   scripts/kafka-cluster.sh env       print the variables the test reads:
#                                      KAFKA_CLUSTER_BROKERS, KAFKA_CLUSTER_CTL
#   scripts/kafka-cluster.sh status    print each node's state; exit 0 when
#                                      all three serve
#   scripts/kafka-cluster.sh stop N    SIGKILL node N (1..3), no clean shutdown
#   scripts/kafka-cluster.sh start N   start node N again on its data dir; wait
#                                      until it serves and the cluster has no
#                                      under-replicated partition (it is back
#                                      in every ISR), or warn after
#                                      KAFKA_CLUSTER_ISR_TIMEOUT seconds
#   scripts/kafka-cluster.sh leader TOPIC PARTITION
#                                      print the node id leading a partition
#   scripts/kafka-cluster.sh controller
#                                      print the node id of the active
#                                      controller (the KRaft quorum leader)
#   scripts/kafka-cluster.sh describe [TOPIC]
#                                      kafka-topics --describe
#
# Node N (1..3) has node.id N, its broker (PLAINTEXT) listener on
# 127.0.0.1:$((PORT_BASE+N-1)) (29092..29094) and its controller listener on
# 127.0.0.1:$((CONTROLLER_BASE+N-1)) (29192..29194); scripts/kafka.sh's
# single broker uses 19092..19094, so both can run at once.
# Cluster defaults: default.replication.factor=3, min.insync.replicas=2, and
# replication 3 (min ISR 2) for the offsets, transaction and share-state
# topics; broker.session.timeout.ms is Kafka's default (9 s): a killed node is
# fenced, and its partitions get new leaders, about that long after it died.
#
# Environment: KAFKA_CLUSTER_HOME (default <repo>/.cache/kafka-cluster),
# KAFKA_CLUSTER_PORT_BASE (29092), KAFKA_CLUSTER_CONTROLLER_BASE (29192),
# KAFKA_CLUSTER_HEAP (default -Xms256m -Xmx384m, per node),
# KAFKA_CLUSTER_UP_TIMEOUT (seconds, default 150), KAFKA_CLUSTER_ISR_TIMEOUT
# (seconds, default 90), JAVA, and those of scripts/kafka.sh for the fetch.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/kafka-cluster.sh"
HOME_DIR=${KAFKA_CLUSTER_HOME:-$ROOT/.cache/kafka-cluster}
RUN="$HOME_DIR/run"
HOST=127.0.0.1
PORT_BASE=${KAFKA_CLUSTER_PORT_BASE:-29092}
CONTROLLER_BASE=${KAFKA_CLUSTER_CONTROLLER_BASE:-29192}
HEAP=${KAFKA_CLUSTER_HEAP:--Xms256m -Xmx384m}
UP_TIMEOUT=${KAFKA_CLUSTER_UP_TIMEOUT:-150}
ISR_TIMEOUT=${KAFKA_CLUSTER_ISR_TIMEOUT:-90}
STOP_TIMEOUT=8
NODES=(1 2 3)
if [[ -n ${JAVA_HOME:-} ]]; then JAVA=${JAVA:-$JAVA_HOME/bin/java}; else JAVA=${JAVA:-java}; fi
# A fixed cluster id is fine: the data directories are deleted by `down`.
CLUSTER_ID=Q2x1c3RlclRlc3RKZWxvdQ

. "$ROOT/scripts/lib/server.sh"

port_of() { echo $((PORT_BASE + $1 - 1)); }
controller_port_of() { echo $((CONTROLLER_BASE + $1 - 1)); }
node_dir() { echo "$RUN/node$1"; }
pidfile() { echo "$RUN/node$1/kafka.pid"; }
logfile() { echo "$RUN/node$1/server.log"; }

brokers() {
	local n out=
	for n in "${NODES[@]}"; do out+="${out:+,}$HOST:$(port_of "$n")"; done
	echo "$out"
}

voters() {
	local n out=
	for n in "${NODES[@]}"; do out+="${out:+,}$n@$HOST:$(controller_port_of "$n")"; done
	echo "$out"
}

check_node() {
	[[ ${1:-} =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3, got '${1:-}'"
}

# libs fetches the jars with scripts/kafka.sh (same pom, same cache) and
# sets LIBS to their folder.
libs() {
	LIBS=$("$ROOT/scripts/kafka.sh" fetch)
	[[ -d $LIBS ]] || die "scripts/kafka.sh fetch printed no jar folder"
}

# java_args sets JAVA_ARGS to the JVM options of every Kafka command.
java_args() {
	local heap
	read -r -a heap <<<"$HEAP"
	JAVA_ARGS=("${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true
		"-Dlog4j2.configurationFile=$ROOT/test/kafka/log4j2.properties" -cp "$LIBS/*")
}

# tool_args sets TOOL_ARGS to the options of a short-lived command-line tool:
# a small heap and no optimising JIT, which the 2-core machine notices.
tool_args() {
	TOOL_ARGS=(-Xms32m -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
		"-Dlog4j2.configurationFile=$RUN/tools-log4j2.properties" -cp "$LIBS/*")
}

# alive reports whether node $1's process exists.
alive() {
	local f pid
	f=$(pidfile "$1")
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# running reports whether node $1's PID is a live Kafka broker of ours.
running() {
	alive "$1" || return 1
	grep -q 'kafka\.Kafka' "/proc/$(<"$(pidfile "$1")")/cmdline" 2>/dev/null
}

write_config() {
	local n=$1 dir
	dir=$(node_dir "$n")
	mkdir -p "$dir/data"
	cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-cluster.sh: node $n of a three-node KRaft cluster.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://$HOST:$(port_of "$n"),CONTROLLER://$HOST:$(controller_port_of "$n")
advertised.listeners=PLAINTEXT://$HOST:$(port_of "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data

auto.create.topics.enable=false
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0

# Three JVMs share two cores: fewer threads each.
num.network.threads=2
num.io.threads=2
background.threads=2
log.cleaner.threads=1
EOF
}

write_log_config() {
	# Tools print their answer on stdout; their own logging goes to stderr.
	cat >"$RUN/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
EOF
}

format_node() {
	local n=$1 dir
	dir=$(node_dir "$n")
	tool_args
	"$JAVA" "${TOOL_ARGS[@]}" kafka.tools.StorageTool format --ignore-formatted \
		-t "$CLUSTER_ID" -c "$dir/server.properties" >"$dir/format.log" 2>&1 || {
		cat "$dir/format.log" >&2
		die "formatting node $n's storage failed"
	}
}

# launch starts node $1 on its existing config and data dir.
launch() {
	local n=$1 pid
	java_args
	# setsid: the node outlives the shell (and CI step) that started it.
	setsid "$JAVA" "${JAVA_ARGS[@]}" kafka.Kafka "$(node_dir "$n")/server.properties" \
		>>"$(logfile "$n")" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$(pidfile "$n")"
}

# brokers_listed sends a Metadata v4 request for all topics to port $1 and
# prints how many brokers the answer lists (the live, unfenced ones).
brokers_listed() {
	local reply
	local -a b
	# size=23 | api_key=3 | version=4 | correlation_id=7 | client_id="kafka.sh"
	# | topics=null (-1) | allow_auto_topic_creation=false
	# shellcheck disable=SC2016 # $0 and $1 expand in the inner shell.
	reply=$(timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x00\x07\x00\x08kafka.sh\xff\xff\xff\xff\x00" >&3
		head -c 16 <&3 | od -An -tx1' "$HOST" "$1" 2>/dev/null) || return 1
	read -r -a b <<<"${reply//$'\n'/ }"
	# size(4) correlation_id(4)=7 throttle_ms(4) broker_count(4)
	[[ "${b[*]:4:4}" == "00 00 00 07" ]] || return 1
	echo $((16#${b[12]}${b[13]}${b[14]}${b[15]}))
}

# wait_serving waits until node $1 answers metadata listing $2 brokers.
wait_serving() {
	local n=$1 want=$2 limit=$3 deadline got
	deadline=$((SECONDS + limit))
	while :; do
		if ! alive "$n"; then
			tail -n 40 "$(logfile "$n")" >&2 2>/dev/null || true
			die "node $n exited during startup (log: $(logfile "$n"))"
		fi
		got=$(brokers_listed "$(port_of "$n")" || true)
		[[ $got == "$want" ]] && return 0
		if ((SECONDS >= deadline)); then
			tail -n 40 "$(logfile "$n")" >&2 2>/dev/null || true
			die "node $n did not list $want brokers on $HOST:$(port_of "$n") within ${limit}s (last: ${got:-no answer}; log: $(logfile "$n"))"
		fi
		sleep 0.5
	done
}

# topics runs kafka-topics (TopicCommand) against the nodes that run.
topics() {
	local n boot=
	for n in "${NODES[@]}"; do
		alive "$n" && boot+="${boot:+,}$HOST:$(port_of "$n")"
	done
	[[ -n $boot ]] || die "no node runs"
	libs
	tool_args
	"$JAVA" "${TOOL_ARGS[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$boot" "$@"
}

print_env() {
	cat <<EOF
KAFKA_CLUSTER_BROKERS=$(brokers)
KAFKA_CLUSTER_CTL=$SELF
EOF
}

cmd_up() {
	local start=$SECONDS n all=1
	for n in "${NODES[@]}"; do running "$n" || all=0; done
	if ((all)); then
		for n in "${NODES[@]}"; do wait_serving "$n" 3 "$UP_TIMEOUT"; done
		print_env
		return 0
	fi
	cmd_down 2>/dev/null
	for n in "${NODES[@]}"; do
		for port in "$(port_of "$n")" "$(controller_port_of "$n")"; do
			if port_busy "$port"; then
				die "port $HOST:$port is taken by a process this script did not start"
			fi
		done
	done
	command -v "$JAVA" >/dev/null || die "Java 17+ ($JAVA) is needed to run Kafka"
	libs
	mkdir -p "$RUN"
	write_log_config
	for n in "${NODES[@]}"; do
		write_config "$n"
		format_node "$n" &
	done
	wait
	log "formatted 3 nodes in $((SECONDS - start))s"
	for n in "${NODES[@]}"; do launch "$n"; done
	for n in "${NODES[@]}"; do wait_serving "$n" 3 "$UP_TIMEOUT"; done
	log "3 nodes of Apache Kafka $("$ROOT/scripts/kafka.sh" version) ready on $(brokers) in $((SECONDS - start))s"
	print_env
}

cmd_down() {
	local n
	local -a pids=()
	for n in "${NODES[@]}"; do
		if running "$n"; then
			pids+=("$(<"$(pidfile "$n")")")
		fi
	done
	# Combined nodes shutting down together can wait on each other's quorum;
	# the data is deleted anyway, so KILL after a short grace.
	((${#pids[@]} == 0)) || stop_pids "node pid" "$STOP_TIMEOUT" "${pids[@]}"
	((${#pids[@]} == 0)) || log "stopped ${#pids[@]} node(s): ${pids[*]}"
	rm -rf "$RUN"
}

cmd_stop() {
	local n=$1 pid
	check_node "$n"
	running "$n" || die "node $n does not run"
	pid=$(<"$(pidfile "$n")")
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	log "node $n (pid $pid, $HOST:$(port_of "$n")) killed with SIGKILL"
}

cmd_start() {
	local n=$1 start=$SECONDS deadline urp
	check_node "$n"
	running "$n" && die "node $n already runs"
	[[ -f $(node_dir "$n")/server.properties ]] || die "node $n has no data dir (run: $0 up)"
	libs
	launch "$n"
	wait_serving "$n" 3 "$UP_TIMEOUT"
	log "node $n serves on $HOST:$(port_of "$n") again (pid $(<"$(pidfile "$n")")) after $((SECONDS - start))s"
	deadline=$((SECONDS + ISR_TIMEOUT))
	while :; do
		urp=$(topics --describe --under-replicated-partitions 2>/dev/null | grep -c 'Partition:' || true)
		if [[ $urp == 0 ]]; then
			log "no under-replicated partition: node $n is back in every ISR after $((SECONDS - start))s"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			log "warning: $urp partition(s) still under-replicated ${ISR_TIMEOUT}s after node $n started; it serves, continuing"
			return 0
		fi
		sleep 1
	done
}

cmd_leader() {
	local topic=${1:-} partition=${2:-} line
	[[ -n $topic && $partition =~ ^[0-9]+$ ]] || die "usage: $0 leader TOPIC PARTITION"
	line=$(topics --describe --topic "$topic" | awk -v p="$partition" '
		{ for (i = 1; i < NF; i++) if ($i == "Partition:" && $(i+1) == p) { print; exit } }')
	[[ -n $line ]] || die "no partition $partition of topic $topic"
	awk '{ for (i = 1; i < NF; i++) if ($i == "Leader:") print $(i+1) }' <<<"$line"
}

cmd_controller() {
	local n boot= out
	for n in "${NODES[@]}"; do
		alive "$n" && boot+="${boot:+,}$HOST:$(port_of "$n")"
	done
	[[ -n $boot ]] || die "no node runs"
	libs
	tool_args
	out=$("$JAVA" "${TOOL_ARGS[@]}" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$boot" describe --status)
	awk '$1 == "LeaderId:" { print $2 }' <<<"$out"
}

cmd_status() {
	local n got ok=1
	for n in "${NODES[@]}"; do
		if running "$n"; then
			got=$(brokers_listed "$(port_of "$n")" || echo "no answer")
			echo "node $n: running (pid $(<"$(pidfile "$n")")) on $HOST:$(port_of "$n"), lists $got broker(s)"
			[[ $got == 3 ]] || ok=0
		else
			echo "node $n: not running"
			ok=0
		fi
	done
	((ok))
}

# .cache/ holds downloads and data, never source: keep it out of git.
mkdir -p "$HOME_DIR"
if [[ $HOME_DIR == "$ROOT/.cache/kafka-cluster" && ! -f $ROOT/.cache/.gitignore ]]; then
	echo '*' >"$ROOT/.cache/.gitignore"
fi

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) print_env ;;
status) cmd_status ;;
stop) cmd_stop "${2:-}" ;;
start) cmd_start "${2:-}" ;;
leader) cmd_leader "${2:-}" "${3:-}" ;;
controller) cmd_controller ;;
describe) topics --describe ${2:+--topic "$2"} ;;
*)
	echo "usage: $0 up|down|env|status|stop N|start N|leader TOPIC PARTITION|controller|describe [TOPIC]" >&2
	exit 2
	;;
esac
