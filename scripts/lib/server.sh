# shellcheck shell=bash
# Shared by the scripts that start a throwaway server for tests and CI
# (kafka.sh, kafka-cluster.sh, schema-registry.sh, postgres.sh). Source it
# after `set -euo pipefail`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
#
# It names the messages after the sourcing script and reads HOST (the
# loopback address the servers listen on) when port_busy is called.

# log writes a message, prefixed with the script's name, to stderr.
log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# die logs its message and exits 1.
die() { log "$*"; exit 1; }

# port_busy reports whether something accepts connections on $HOST:$1.
port_busy() {
	# shellcheck disable=SC2016 # $0 and $1 expand in the inner shell.
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# stop_pids WHAT TIMEOUT PID... sends TERM to every PID, waits until they
# have exited or TIMEOUT seconds passed (for all of them together), then
# KILLs those left, logging each one that ignored TERM as WHAT.
stop_pids() {
	local what=$1 timeout=$2 pid deadline
	shift 2
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	deadline=$((SECONDS + timeout))
	for pid in "$@"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$what $pid ignored TERM for ${timeout}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}
