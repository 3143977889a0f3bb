#!/usr/bin/env bash
# Run a private, throwaway Keycloak (the identity provider the city runs) for tests and
# development, straight from the keycloak-quarkus-dist zip on Maven Central -- no Docker.
#
# Usage: deploy/keycloak.sh fetch|start|stop|status
#
#   fetch    download and unpack org.keycloak:keycloak-quarkus-dist into $VAR/keycloak once
#   start    start Keycloak in dev mode on 127.0.0.1 (or reuse the running one), importing the
#            realm files of deploy/keycloak/; prints the visitdesk realm's issuer URL
#   stop     SIGTERM, then SIGKILL after 20 s
#   status   exit 0 and print the issuer iff Keycloak runs and answers its discovery document
#
# Only the issuer goes to stdout, so ISSUER=$(deploy/keycloak.sh start) works; progress and
# errors go to stderr.
#
# The realm files are the whole truth: Keycloak's own database (H2 under the unpacked tree) is
# kept between starts only while deploy/keycloak/*.json stay the same (a start then skips the
# schema setup); when they change, it is wiped and the realms are imported afresh. The users and
# passwords in them are test fixtures for this local provider, never accounts of a real one.
#
# The issuer is fixed to http://127.0.0.1:PORT (--hostname) while the back-channel endpoints
# (token, keys) follow the address a server asked on (--hostname-backchannel-dynamic): a
# service can reach the provider through another address, as in production, and a test can
# put a proxy there and cut it.
#
# Environment:
#   VISITDESK_VAR          state dir (default <repo>/var)
#   KEYCLOAK_READY_TIMEOUT seconds to wait for the discovery document on start (default 600: a
#                          first start on a busy two-core machine has taken five minutes)
#   KEYCLOAK_HEAP          JVM max heap (default 512m)
set -euo pipefail

KEYCLOAK_VERSION=26.4.7
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
REALM=visitdesk
READY_TIMEOUT=${KEYCLOAK_READY_TIMEOUT:-600}
STOP_TIMEOUT=20

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=$(realpath -m -- "${VISITDESK_VAR:-$ROOT/var}")
KDIR=$VAR/keycloak
HOME_DIR=$KDIR/keycloak-$KEYCLOAK_VERSION
PIDFILE=$KDIR/keycloak.pid
PORTFILE=$KDIR/port
ISSUER_FILE=$KDIR/issuer
LOGFILE=$KDIR/keycloak.log
REALMS_STAMP=$KDIR/realms.sha256
REALMS=$ROOT/deploy/keycloak

log() { echo "keycloak.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

take_lock() {
    mkdir -p "$KDIR"
    exec 9>"$KDIR/.lock"
    flock -w 600 9 || die "timed out waiting for $KDIR/.lock"
}

# ---------------------------------------------------------------- fetch

fetch() {
    [[ -f $HOME_DIR/.complete ]] && return 0
    command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
    command -v unzip >/dev/null || die "unzip not found (apt-get install -y unzip)"
    log "fetching org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION (about 160 MB) into $KDIR"
    local tmp=$KDIR/download.tmp
    rm -rf "$tmp" "$HOME_DIR"
    mkdir -p "$tmp"
    local args=(-q -B "$DEP_PLUGIN:copy" "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip"
        -DoutputDirectory="$tmp")
    # Maven prints stray ANSI codes to stdout even with -q -B; stdout is reserved for the issuer.
    if ! mvn "${args[@]}" 2>&1 | sed $'s/\e\\[[0-9;]*m//g' >&2; then
        log "mvn failed; retrying once with -U"
        mvn -U "${args[@]}" 2>&1 | sed $'s/\e\\[[0-9;]*m//g' >&2 || die "mvn could not fetch Keycloak"
    fi
    unzip -q "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$tmp" || die "unzip failed"
    [[ -x $tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh ]] || die "the zip holds no bin/kc.sh"
    mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$HOME_DIR"
    rm -rf "$tmp"
    touch "$HOME_DIR/.complete"
}

# ---------------------------------------------------------------- process helpers

# Our Keycloak: alive, not a zombie, started from this var dir's tree (kc.sh, which runs the JVM
# as its child and forwards SIGTERM to it, or the JVM itself after kc.sh exec'd it).
is_ours() {
    local pid=$1 stat args
    stat=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [[ $stat != Z* ]] || return 1
    args=$(ps -o args= -ww -p "$pid" 2>/dev/null) || return 1
    [[ $args == *"$HOME_DIR/"* ]]
}

running_pid() {
    local pid
    [[ -f $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid" || return 1
    echo "$pid"
}

issuer_of() { echo "http://127.0.0.1:$1/realms/$REALM"; }

answers() {
    curl -fsS -o /dev/null --max-time 3 "$(issuer_of "$1")/.well-known/openid-configuration" 2>/dev/null
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The previous port when free (so an issuer written down elsewhere stays right), else a free one.
choose_port() {
    local port
    if [[ -f $PORTFILE ]] && port=$(<"$PORTFILE") && [[ $port =~ ^[0-9]+$ ]] && port_free "$port"; then
        PORT=$port
        return
    fi
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$PORT" >"$PORTFILE"
}

# Returns 0 when ready, 1 on timeout, 2 if the process died meanwhile.
wait_ready() {
    local pid=$1 port=$2 deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        is_ours "$pid" || return 2
        answers "$port" && return 0
        sleep 1
    done
    return 1
}

publish() {
    issuer_of "$1" >"$ISSUER_FILE"
    issuer_of "$1"
}

# ---------------------------------------------------------------- start / stop / status

launch() {
    local stamp
    stamp=$(cat "$REALMS"/*.json | sha256sum | cut -d' ' -f1)
    if [[ ! -f $REALMS_STAMP || $(<"$REALMS_STAMP") != "$stamp" ]]; then
        log "realm files changed: Keycloak's database starts empty and imports them"
        rm -rf "$HOME_DIR/data/h2"
        echo "$stamp" >"$REALMS_STAMP"
    fi
    rm -rf "$HOME_DIR/data/import"
    mkdir -p "$HOME_DIR/data/import"
    cp "$REALMS"/*.json "$HOME_DIR/data/import/"
    # setsid: outlives the calling shell or test run; 9>&-: does not hold the lock forever.
    # Heap capped: the test machine runs Kafka, PostgreSQL and Chromium beside it.
    JAVA_OPTS_KC_HEAP="-Xms64m -Xmx${KEYCLOAK_HEAP:-512m}" \
        setsid nohup "$HOME_DIR/bin/kc.sh" start-dev \
        --http-host 127.0.0.1 --http-port "$PORT" \
        --hostname "http://127.0.0.1:$PORT" --hostname-backchannel-dynamic true \
        --db dev-file --import-realm --log-level WARN,org.keycloak.services:INFO \
        </dev/null >"$LOGFILE" 2>&1 9>&- &
    echo $! >"$PIDFILE"
}

start() {
    command -v java >/dev/null || die "java not found (Keycloak $KEYCLOAK_VERSION needs Java 17+)"
    command -v curl >/dev/null || die "curl not found"
    fetch
    local pid rc=0
    if pid=$(running_pid); then
        # Already ours (maybe still starting): reuse it, never start a second one.
        PORT=$(<"$PORTFILE")
        wait_ready "$pid" "$PORT" || die "Keycloak pid $pid runs but does not answer; try: $0 stop"
        publish "$PORT"
        return 0
    fi
    rm -f "$ISSUER_FILE"
    choose_port
    local t0=$SECONDS
    launch
    pid=$(<"$PIDFILE")
    log "started Keycloak pid $pid on 127.0.0.1:$PORT; waiting up to ${READY_TIMEOUT}s for the discovery document"
    wait_ready "$pid" "$PORT" || rc=$?
    if ((rc != 0)); then
        ((rc == 2)) && log "Keycloak exited during start-up" || log "Keycloak not ready after ${READY_TIMEOUT}s"
        tail -n 40 "$LOGFILE" >&2 || true
        stop >/dev/null 2>&1 || true
        exit 1
    fi
    log "ready after $((SECONDS - t0))s"
    publish "$PORT"
}

# Not our child, so poll.
stop() {
    local pid deadline
    if ! pid=$(running_pid); then
        log "not running"
        rm -f "$PIDFILE" "$ISSUER_FILE"
        return 0
    fi
    log "stopping Keycloak pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while is_ours "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if is_ours "$pid"; then
        log "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$ISSUER_FILE"
}

status() {
    local pid port
    pid=$(running_pid) || { log "not running"; return 1; }
    port=$(<"$PORTFILE")
    answers "$port" || { log "pid $pid runs but its discovery document does not answer"; return 1; }
    issuer_of "$port"
}

case ${1:-} in
fetch) take_lock; fetch ;;
start) take_lock; start ;;
stop) take_lock; stop ;;
status) status ;;
*)
    echo "usage: $0 fetch|start|stop|status" >&2
    exit 2
    ;;
esac
