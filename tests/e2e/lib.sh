# shellcheck shell=bash disable=SC2034
# lib.sh - helpers for end-to-end tests of handler binaries (sourced).
#
# Every wait is bounded, every handler started is killed on exit.  A test
# script sources this file, calls e2e_init, starts handlers with
# start_handler, checks answers with http + expect_*, and ends with
# e2e_finish (its exit status is the script's).
#
#   start_handler LOG CMD...     start CMD (in the current directory),
#                                stderr to LOG, wait (10 s) for its
#                                "listening on" line; sets HANDLER_PID,
#                                HANDLER_URL, HANDLER_PORT.  The handler is
#                                not a job of the shell: a bare `wait` is safe
#   wait_listening LOG SECS      the URL from LOG's "listening on" line
#   stop_handler PID [SECS]      SIGTERM, wait (default 15 s), then SIGKILL;
#                                sets STOP_STATUS to the exit status
#   wait_for_line FILE RE SECS   wait until FILE has a line matching RE
#   http METHOD URL [CURL ARGS]  one request; sets HTTP_STATUS, HTTP_BODY,
#                                HTTP_HEADERS (a file), HTTP_MS (time taken)
#   header NAME                  a header of the last answer ("" if none)
#   expect_eq WHAT GOT WANT, expect_match WHAT GOT RE, expect_true WHAT CMD...

E2E_PASS=0
E2E_FAIL=0
E2E_PIDS=""

# Makes a scratch directory ($E2E_DIR) removed at exit unless E2E_KEEP=1.
e2e_init() {
    E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/flusso-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

e2e_cleanup() {
    local pid
    for pid in $E2E_PIDS; do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "e2e: kept $E2E_DIR"
    else
        rm -rf "$E2E_DIR"
    fi
}

now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

pass() {
    E2E_PASS=$((E2E_PASS + 1))
    [ "${E2E_VERBOSE:-0}" = 1 ] && echo "  ok   $1"
    return 0
}

fail() {
    E2E_FAIL=$((E2E_FAIL + 1))
    echo "  FAIL $1" >&2
    return 1
}

expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

expect_match() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1: '$2' does not match /$3/"; fi
}

expect_true() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_listening LOG SECS: prints the URL once LOG has the line.
wait_listening() {
    local log=$1 end=$(( $(now_ms) + $2 * 1000 )) line
    while [ "$(now_ms)" -lt "$end" ]; do
        line=$(grep -m1 '^listening on http://' "$log" 2>/dev/null)
        if [ -n "$line" ]; then
            echo "${line#listening on }"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# start_handler LOG CMD...: runs CMD in the background and waits for it.
# The handler is not a job of the calling shell (a watcher subshell, itself
# detached, waits for it and records its exit status), so a bare `wait`
# for curl jobs never waits for the handler too.
start_handler() {
    local log=$1 pidf end
    shift
    E2E_SEQ=$(( ${E2E_SEQ:-0} + 1 ))
    pidf="$E2E_DIR/handler.$E2E_SEQ.pid"
    : > "$log"
    ( ( "$@" 2> "$log" & p=$!; echo "$p" > "$pidf.tmp"; mv "$pidf.tmp" "$pidf"
        wait "$p"; echo $? > "$E2E_DIR/handler.$p.rc" ) & )
    end=$(( $(now_ms) + 5000 ))
    while [ ! -s "$pidf" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
    HANDLER_PID=$(cat "$pidf" 2>/dev/null)
    [ -n "$HANDLER_PID" ] || { echo "e2e: could not start: $*" >&2; return 1; }
    E2E_PIDS="$E2E_PIDS $HANDLER_PID"
    if ! HANDLER_URL=$(wait_listening "$log" 10); then
        echo "e2e: handler did not start: $*" >&2
        sed 's/^/  | /' "$log" >&2
        return 1
    fi
    HANDLER_PORT=${HANDLER_URL##*:}
    return 0
}

# stop_handler PID [SECS]: SIGTERM, bounded wait, SIGKILL.  Sets
# STOP_STATUS to the exit status (137 when it had to be killed).
stop_handler() {
    local pid=$1 end=$(( $(now_ms) + ${2:-15} * 1000 )) rc="$E2E_DIR/handler.$1.rc"
    kill -TERM "$pid" 2>/dev/null
    while [ ! -s "$rc" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.05
    done
    if [ ! -s "$rc" ]; then
        kill -KILL "$pid" 2>/dev/null
        echo "e2e: handler $pid did not stop in time: killed" >&2
        end=$(( $(now_ms) + 5000 ))
        while [ ! -s "$rc" ] && [ "$(now_ms)" -lt "$end" ]; do
            sleep 0.05
        done
    fi
    STOP_STATUS=$(cat "$rc" 2>/dev/null || echo 137)
    return 0
}

# wait_for_line FILE RE SECS
wait_for_line() {
    local file=$1 re=$2 end=$(( $(now_ms) + $3 * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        grep -Eq -- "$re" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# http METHOD URL [CURL ARGS...]
http() {
    local method=$1 url=$2 t0
    shift 2
    HTTP_HEADERS="$E2E_DIR/last.headers"
    t0=$(now_ms)
    HTTP_STATUS=$(curl -s -g --max-time 20 -X "$method" -D "$HTTP_HEADERS" \
        -o "$E2E_DIR/last.body" -w '%{http_code}' "$@" "$url")
    HTTP_MS=$(( $(now_ms) - t0 ))
    HTTP_BODY=$(cat "$E2E_DIR/last.body")
}

# header NAME: the value of header NAME in the last answer.
header() {
    grep -i "^$1:" "$HTTP_HEADERS" | head -n1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

# threads PID: the Threads count of a process.
threads() {
    awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

# e2e_finish: prints the tally; returns 0 when nothing failed.
e2e_finish() {
    echo "e2e: $E2E_PASS passed, $E2E_FAIL failed"
    [ "$E2E_FAIL" -eq 0 ]
}
