#!/usr/bin/env bash
# pgcluster.sh - a throw-away PostgreSQL 15 cluster for tests.
#
#   tests/e2e/pgcluster.sh start DIR   initdb into DIR/data, start it on a
#                                      free loopback port with its unix
#                                      socket in DIR/sock; prints the url
#                                      (postgresql://postgres@127.0.0.1:PORT/postgres)
#                                      and writes it to DIR/url, the port
#                                      to DIR/port
#   tests/e2e/pgcluster.sh stop DIR    stops it (fast, then immediate)
#   tests/e2e/pgcluster.sh restart DIR starts a stopped cluster again, on
#                                      the same port
#   tests/e2e/pgcluster.sh psql DIR ARGS...   psql on it, as postgres
#
# DIR must be a new or empty directory; the caller removes it.  Every wait
# is bounded (PGCLUSTER_WAIT seconds, default 30).  initdb refuses to run
# as root, so as root the cluster belongs to the `postgres` user (Debian's
# postgresql package makes it) and DIR is given to it.  Authentication is
# `trust` on loopback and the socket only: nothing else can reach it.  As
# root, DIR's parent directories get search permission for others (o+x).
# Exit status: 0, or 1 with the server's log on stderr.
set -u
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
WAIT=${PGCLUSTER_WAIT:-30}

usage() {
    echo "usage: pgcluster.sh start|stop|restart|psql DIR [ARGS...]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
shift 2

# as_owner CMD...: runs CMD as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# open_path DIR: lets other users pass through DIR and its parents (search
# permission only, never read), so postgres reaches a cluster made inside
# a caller's private temporary directory.
open_path() {
    local d=$1
    while [ "$d" != / ]; do
        [ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || chmod o+x "$d"
        d=$(dirname "$d")
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    [ -x "$PGBIN/initdb" ] || { echo "pgcluster: no PostgreSQL in $PGBIN (make deps)" >&2; exit 1; }
    mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$dir"
        open_path "$(dirname "$dir")"
    fi
    if ! as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust \
            --no-sync -E UTF8 --locale=C > "$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        exit 1
    fi
    local port _
    for _ in 1 2 3; do
        port=$(free_port)
        if server_start "$port"; then
            echo "$port" > "$dir/port"
            echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$dir/url"
            cat "$dir/url"
            return 0
        fi
    done
    cat "$dir/server.log" >&2
    exit 1
}

# server_start PORT: starts the cluster in DIR/data on PORT.
server_start() {
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$WAIT" \
        -o "-p $1 -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off" \
        start > /dev/null 2>&1
}

restart() {
    server_start "$(cat "$dir/port")" || { cat "$dir/server.log" >&2; exit 1; }
}

stop() {
    [ -d "$dir/data" ] || return 0
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -w -t "$WAIT" -m fast stop > /dev/null 2>&1 ||
        as_owner "$PGBIN/pg_ctl" -D "$dir/data" -w -t "$WAIT" -m immediate stop > /dev/null 2>&1
    return 0
}

case $cmd in
start) start ;;
stop) stop ;;
restart) restart ;;
psql) as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" \
          -p "$(cat "$dir/port")" -U postgres -d postgres "$@" ;;
*) usage ;;
esac
