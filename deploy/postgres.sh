#!/usr/bin/env bash
# Run a private, throwaway PostgreSQL cluster for tests under $VAR/pg -- never Debian's
# system cluster.
#
# Usage: deploy/postgres.sh start|stop|restart|status
#
#   start    print $DATABASE_URL if set (an external database; nothing to do), else
#            init (once) and start the private cluster, or reuse it if it runs;
#            prints postgresql://postgres@127.0.0.1:PORT/postgres
#   stop     pg_ctl stop -m fast
#   restart  pg_ctl restart -m fast, same port (for fault tests)
#   status   exit 0 and print the URL iff the private cluster runs and accepts connections
#
# Only the URL goes to stdout, so DATABASE_URL=$(deploy/postgres.sh start) works.
# stop/restart/status always act on the private cluster, even when DATABASE_URL is set.
#
# Speed over safety: fsync, synchronous_commit and full_page_writes are off and
# auth is `trust` on loopback only. Never point this at data you care about.
#
# Environment:
#   VISITDESK_VAR   state dir (default <repo>/var); a second value = a second cluster
#   DATABASE_URL    if set (and not this cluster's URL), `start` just prints it
set -euo pipefail

READY_TIMEOUT=60
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# realpath -m: absolute path without creating anything (start may have nothing to do).
VAR=$(realpath -m -- "${VISITDESK_VAR:-$ROOT/var}")
PGROOT=$VAR/pg
PGDATA=$PGROOT/data
URL_FILE=$PGROOT/url
LOGFILE=$PGROOT/postgres.log
# Our settings live in their own file, included from postgresql.conf and rewritten on start.
CONF=$PGDATA/visitdesk.conf
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PY ]] || PY=python3

log() { echo "postgres.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- binaries

# Sets PGBIN to a directory holding initdb, pg_ctl and postgres. PATH wins (an explicit
# choice); Debian keeps them off PATH under /usr/lib/postgresql/<major>/bin.
find_pg_bin() {
    local initdb dir
    if initdb=$(command -v initdb); then
        dir=$(dirname "$(readlink -f "$initdb")")
        [[ -x $dir/pg_ctl ]] && PGBIN=$dir && return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && PGBIN=$dir && return 0
    done
    return 1
}

install_pg() {
    log "PostgreSQL server binaries not found; installing Debian's postgresql package"
    local sudo=() policy=/usr/sbin/policy-rc.d created_policy=0 rc=0
    ((EUID == 0)) || sudo=(sudo)
    # policy-rc.d exiting 101 tells invoke-rc.d/deb-systemd-invoke not to start services,
    # so the package's own "main" cluster is created but stays down.
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        created_policy=1
    fi
    { "${sudo[@]}" apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >&2 || rc=$?
    ((created_policy)) && "${sudo[@]}" rm -f "$policy"
    ((rc == 0)) || die "apt-get install postgresql failed"
}

# Only `start` installs; stop/status/restart just need what an earlier start used.
ensure_pg_bin() {
    if ! find_pg_bin; then
        [[ ${1:-} == install ]] || die "no initdb/pg_ctl found (run start first)"
        install_pg
        find_pg_bin || die "no initdb/pg_ctl found even after installing postgresql"
    fi
    PG_ISREADY=$PGBIN/pg_isready
    [[ -x $PG_ISREADY ]] || PG_ISREADY=$(command -v pg_isready) || die "pg_isready not found"
}

# ---------------------------------------------------------------- running as postgres

# initdb/pg_ctl refuse to run as root: as root, run them as the `postgres` OS user
# (created by Debian's package); as anyone else, run them as that user.
as_pg() {
    if ((EUID == 0)); then
        # cd /: postgres cannot necessarily read the caller's cwd (e.g. /root).
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

give_to_pg() {
    ((EUID == 0)) && chown postgres: "$@"
    return 0
}

prepare_dirs() {
    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (install the postgresql package)"
    fi
    # umask 022: parents we create must stay traversable for postgres.
    (umask 022 && mkdir -p "$PGROOT")
    give_to_pg "$PGROOT"
    # 755: others may read url/logs; the data dir itself is 700 (initdb's doing).
    chmod 755 "$PGROOT"
    # Parents may be root-owned; 755 is fine, but a umask-077 parent is not.
    as_pg test -w "$PGROOT" ||
        die "user postgres cannot reach $PGROOT (check o+x on its parent directories)"
}

take_lock() {
    exec 9>"$PGROOT/.lock"
    flock -w 300 9 || die "timed out waiting for $PGROOT/.lock"
}

# ---------------------------------------------------------------- cluster

major_of_bin() { "$PGBIN/pg_ctl" --version | awk '{print $3}' | cut -d. -f1; }

init_cluster() {
    if [[ -f $PGDATA/PG_VERSION ]]; then
        [[ $(<"$PGDATA/PG_VERSION") == "$(major_of_bin)" ]] ||
            die "$PGDATA is PostgreSQL $(<"$PGDATA/PG_VERSION") but $PGBIN is $(major_of_bin); delete $PGROOT"
        return 0
    fi
    log "initdb $PGDATA ($PGBIN)"
    rm -rf "$PGDATA" # a half-made data dir from an interrupted initdb
    # -U postgres: same superuser name whichever OS user owns the cluster.
    # --locale=C: exists everywhere, deterministic sorting.
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
        >"$PGROOT/initdb.log" 2>&1 || { cat "$PGROOT/initdb.log" >&2; die "initdb failed"; }
    echo "include 'visitdesk.conf'" >>"$PGDATA/postgresql.conf"
}

conf_port() {
    local port
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$CONF" 2>/dev/null)
    [[ -n $port ]] && echo "$port"
}

# `bind_port` prints a free loopback port; `bind_port P` succeeds iff P is free.
bind_port() {
    "$PY" - "$@" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
except OSError:
    sys.exit(1)
print(s.getsockname()[1])
EOF
}

# Keep the previous port when free, so the URL survives stop/start.
choose_port() {
    local old
    old=$(conf_port || true)
    if [[ -n $old ]] && bind_port "$old" >/dev/null; then
        PORT=$old
    else
        PORT=$(bind_port) || die "could not pick a free port"
    fi
    # The unix socket path is limited to 107 bytes.
    ((${#PGROOT} + 20 < 108)) || die "$PGROOT is too long for a unix socket path; use a shorter VISITDESK_VAR"
}

write_conf() {
    cat >"$CONF" <<EOF
# Generated by deploy/postgres.sh on every start: private throwaway test cluster.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGROOT'
max_connections = 200
# Durability off: this cluster is disposable and speed matters more.
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
EOF
    give_to_pg "$CONF"
}

pg_running() { as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }

wait_ready() {
    local port=$1 deadline=$((SECONDS + READY_TIMEOUT))
    until "$PG_ISREADY" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2; do
        ((SECONDS < deadline)) || {
            tail -n 30 "$LOGFILE" >&2 || true
            die "postgres on port $port not ready after ${READY_TIMEOUT}s"
        }
        sleep 0.2
    done
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/postgres"; }

publish() {
    url_for "$1" >"$URL_FILE"
    cat "$URL_FILE"
}

# pg_ctl prints progress on stdout (which is reserved for the URL) and the server must not
# inherit the lock fd, or the lock would be held until the server stops.
pg_ctl_do() {
    as_pg "$PGBIN/pg_ctl" "$@" -D "$PGDATA" >&2 9>&-
}

# ---------------------------------------------------------------- commands

start() {
    if [[ -n ${DATABASE_URL:-} ]]; then
        # An inherited URL of this very cluster (e.g. exported from a previous start)
        # still means "manage the private cluster"; anything else is external.
        local port
        port=$(conf_port || true)
        if [[ -z $port || $DATABASE_URL != "$(url_for "$port")" ]]; then
            echo "$DATABASE_URL"
            return 0
        fi
    fi
    ensure_pg_bin install
    prepare_dirs
    take_lock
    init_cluster
    if pg_running; then
        PORT=$(conf_port) || die "cluster runs but $CONF has no port"
    else
        choose_port
        write_conf
        log "starting postgres on 127.0.0.1:$PORT ($PGDATA)"
        pg_ctl_do start -w -t "$READY_TIMEOUT" -s -l "$LOGFILE" ||
            { tail -n 30 "$LOGFILE" >&2; die "pg_ctl start failed"; }
    fi
    wait_ready "$PORT"
    publish "$PORT"
}

stop() {
    [[ -f $PGDATA/PG_VERSION ]] || { log "no cluster in $PGDATA"; return 0; }
    ensure_pg_bin
    take_lock
    if pg_running; then
        pg_ctl_do stop -m fast -w -t 60 -s
    else
        log "not running"
    fi
    rm -f "$URL_FILE"
}

restart() {
    [[ -f $PGDATA/PG_VERSION ]] || die "no cluster in $PGDATA; run start first"
    ensure_pg_bin
    take_lock
    # visitdesk.conf is left as is, so the port (and URL) stays the same.
    PORT=$(conf_port) || die "$CONF has no port; run start first"
    pg_ctl_do restart -m fast -w -t "$READY_TIMEOUT" -s -l "$LOGFILE" ||
        { tail -n 30 "$LOGFILE" >&2; die "pg_ctl restart failed"; }
    wait_ready "$PORT"
    publish "$PORT"
}

status() {
    [[ -f $PGDATA/PG_VERSION ]] || { log "no cluster in $PGDATA"; return 1; }
    ensure_pg_bin
    pg_running || { log "not running"; return 1; }
    local port
    port=$(conf_port) || { log "running but $CONF has no port"; return 1; }
    "$PG_ISREADY" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 5 ||
        { log "running but not accepting connections on $port"; return 1; }
    url_for "$port"
}

case ${1:-} in
start) start ;;
stop) stop ;;
restart) restart ;;
status) status ;;
*)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
    ;;
esac
