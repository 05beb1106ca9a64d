#!/usr/bin/env bash
# postgres.sh runs a throwaway PostgreSQL server (Debian's packages, no
# Docker) for the PostgreSQL sink's tests (examples/postgres-sink) and CI.
#
#   scripts/postgres.sh up      install the server if missing (apt-get, as
#                               root), initdb a cluster under .cache/, start
#                               it on 127.0.0.1 on a free port, wait until it
#                               accepts connections, create the database and
#                               print POSTGRES_TEST_DSN=... (and PG* variables)
#   scripts/postgres.sh status  print whether it runs (exit 0) or not (exit 1)
#   scripts/postgres.sh down    stop it (fast shutdown) and delete its data
#   scripts/postgres.sh env     print the variables tests read, one per line
#
# The server listens on loopback only (no Unix socket) and trusts every local
# connection: it is for tests, never for data. When run as root it runs as the
# postgres user (created by Debian's package; PGUSER_OS names another), which
# owns the cluster's folder.
#
# Environment: POSTGRES_TEST_HOME (default <repo>/.cache/postgres; data/ and
# run/ live there), POSTGRES_TEST_PORT (default: a free port picked at `up`),
# POSTGRES_TEST_DB (default jelou), PG_BINDIR (default: the newest
# /usr/lib/postgresql/*/bin, else the folder of initdb on PATH),
# POSTGRES_TEST_UP_TIMEOUT (seconds, default 60).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME_DIR=${POSTGRES_TEST_HOME:-$ROOT/.cache/postgres}
DATA="$HOME_DIR/data"
RUN="$HOME_DIR/run"
LOG="$RUN/server.log"
PORTFILE="$RUN/port"
HOST=127.0.0.1
DB=${POSTGRES_TEST_DB:-jelou}
SUPERUSER=postgres # the cluster's role, not an OS user
OS_USER=${PGUSER_OS:-postgres}
UP_TIMEOUT=${POSTGRES_TEST_UP_TIMEOUT:-60}

. "$ROOT/scripts/lib/server.sh"

# bindir prints the folder of the server's programs, or nothing.
bindir() {
	local d
	if [[ -n ${PG_BINDIR:-} ]]; then
		echo "$PG_BINDIR"
		return
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	if [[ -n $d && -x $d/initdb ]]; then
		echo "$d"
		return
	fi
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v initdb)")"
	fi
}

# install gets Debian's server package when its programs are missing.
install() {
	[[ -n $(bindir) ]] && return 0
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get to install it"
	[[ $(id -u) == 0 ]] || die "PostgreSQL is not installed; run as root to apt-get install it, or install the postgresql package"
	log "installing PostgreSQL from Debian's packages"
	apt-get update -qq >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed"
	[[ -n $(bindir) ]] || die "postgresql installed, but no initdb found under /usr/lib/postgresql/*/bin"
}

# as runs a command as the cluster's OS user: that user when root, else
# the caller (PostgreSQL refuses to run as root).
as() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u "$OS_USER" -- "$@"
	else
		"$@"
	fi
}

port() { [[ -f $PORTFILE ]] && cat "$PORTFILE"; }

# free_port asks the kernel for a free TCP port on loopback.
free_port() {
	python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

running() {
	local bin
	bin=$(bindir)
	[[ -n $bin && -f $DATA/postmaster.pid ]] || return 1
	as "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ready() {
	local bin
	bin=$(bindir)
	"$bin/pg_isready" -q -h "$HOST" -p "$(port)" -d postgres -U "$SUPERUSER" 2>/dev/null
}

print_env() {
	local p
	p=$(port) || die "no server started (run: $0 up)"
	cat <<EOF
POSTGRES_TEST_DSN=postgres://$SUPERUSER@$HOST:$p/$DB?sslmode=disable
PGHOST=$HOST
PGPORT=$p
PGUSER=$SUPERUSER
PGDATABASE=$DB
EOF
}

cmd_up() {
	local start=$SECONDS bin p deadline
	if running; then
		print_env
		return 0
	fi
	install
	bin=$(bindir)
	if [[ $(id -u) == 0 ]]; then
		id "$OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER" \
			|| die "cannot create the OS user $OS_USER to run PostgreSQL as"
	fi
	rm -rf "$DATA" "$RUN"
	mkdir -p "$DATA" "$RUN"
	p=${POSTGRES_TEST_PORT:-$(free_port)}
	echo "$p" >"$PORTFILE"
	if [[ $(id -u) == 0 ]]; then
		chown -R "$OS_USER" "$DATA" "$RUN"
		# The server's user must reach its folder through every parent.
		as test -w "$DATA" || die "$OS_USER cannot write $DATA (a parent folder is closed to it); set POSTGRES_TEST_HOME"
	fi
	as "$bin/initdb" -D "$DATA" -U "$SUPERUSER" -A trust -E UTF8 --locale=C.UTF-8 >"$RUN/initdb.log" 2>&1 \
		|| as "$bin/initdb" -D "$DATA" -U "$SUPERUSER" -A trust -E UTF8 --no-locale >"$RUN/initdb.log" 2>&1 \
		|| { cat "$RUN/initdb.log" >&2; die "initdb failed"; }
	cat >>"$DATA/postgresql.conf" <<EOF
# Written by scripts/postgres.sh: loopback only, for tests.
listen_addresses = '$HOST'
port = $p
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 64MB
EOF
	# setsid: the server outlives the shell (and CI step) that started it.
	as setsid "$bin/pg_ctl" -D "$DATA" -l "$LOG" -o "-k ''" start >"$RUN/pg_ctl.log" 2>&1 </dev/null \
		|| { cat "$RUN/pg_ctl.log" "$LOG" >&2 2>/dev/null; die "pg_ctl start failed"; }
	deadline=$((SECONDS + UP_TIMEOUT))
	until ready; do
		if ((SECONDS >= deadline)); then
			tail -n 40 "$LOG" >&2 2>/dev/null || true
			die "the server did not accept connections on $HOST:$p within ${UP_TIMEOUT}s (log: $LOG)"
		fi
		sleep 0.2
	done
	"$bin/createdb" -h "$HOST" -p "$p" -U "$SUPERUSER" "$DB" || die "createdb $DB failed"
	log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') ready on $HOST:$p in $((SECONDS - start))s"
	print_env
}

cmd_down() {
	local bin
	bin=$(bindir)
	if running; then
		as "$bin/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >&2 || as "$bin/pg_ctl" -D "$DATA" -m immediate stop >&2 || true
		log "stopped the server"
	fi
	rm -rf "$DATA" "$RUN"
}

cmd_status() {
	if running && ready; then
		echo "running on $HOST:$(port)"
		print_env
		return 0
	fi
	echo "not running"
	return 1
}

# .cache/ holds downloads and data, never source: keep it out of git.
mkdir -p "$HOME_DIR"
if [[ $HOME_DIR == "$ROOT/.cache/postgres" && ! -f $ROOT/.cache/.gitignore ]]; then
	echo '*' >"$ROOT/.cache/.gitignore"
fi

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) print_env ;;
*)
	echo "usage: $0 up|down|status|env" >&2
	exit 2
	;;
esac
