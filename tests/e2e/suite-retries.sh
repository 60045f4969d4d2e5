#!/usr/bin/env bash
# suite-retries.sh - end-to-end tests of retries that outlast an outage
# (spec 8.2): after the acknowledgement an http_request's wait between
# attempts is journaled like a delay - a kill -9 between attempts and a
# restart retry the request when due (not at once, not late) with the
# attempt count kept; 5,000 runs waiting between attempts hold no thread;
# a run that runs out of retries after its answer fails as before, and its
# output (on_error continue) says how many attempts were made.
#
# Usage: tests/e2e/suite-retries.sh FLUSSOC BUILDDIR
# Environment: CC, E2E_CFLAGS, E2E_LDLIBS (as `make test-e2e` sets them).
# The downstream (tests/e2e/downstream.c) counts attempts per key and says
# when the latest came (/last).  Time bounds are generous for ASan.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
LOADGEN=$BUILD/tests/loadgen
unset FLUSSO_LISTEN FLUSSO_JOURNAL_FAIL_AFTER
. "$ROOT/tests/e2e/lib.sh"
e2e_init

CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2 -g}
E2E_LDLIBS=${E2E_LDLIBS:--lmicrohttpd -lcjson -lcrypto -lcurl -lsqlite3 -lpthread -lm}
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"

# ---- build -----------------------------------------------------------------
echo "e2e retries: building the downstream and the handler"
cd "$E2E_DIR" || exit 1
# shellcheck disable=SC2086
$CC $E2E_CFLAGS $WARN -o downstream "$ROOT/tests/e2e/downstream.c" $E2E_LDLIBS \
    2> downstream.cc.log || { sed 's/^/  | /' downstream.cc.log; exit 1; }
if [ ! -x "$LOADGEN" ]; then
    LOADGEN=$E2E_DIR/loadgen
    # shellcheck disable=SC2086
    $CC $E2E_CFLAGS $WARN -o "$LOADGEN" "$ROOT/tests/e2e/loadgen.c" || exit 1
fi
"$FLUSSOC" "$WF"/retries-*.json -o "$E2E_DIR/rh" 2> rh.cc.log ||
    { sed 's/^/  | /' rh.cc.log; exit 1; }
RH=$E2E_DIR/rh

# A port nothing listens on: a downstream's, once it has stopped.
start_handler closed.log ./downstream --listen 0 || exit 1
export CLOSED_PORT=$HANDLER_PORT
stop_handler "$HANDLER_PID"
start_handler downstream.log ./downstream --listen 0 || exit 1
export DOWNSTREAM=$HANDLER_URL

# A fresh directory for one test; the handler's journal lands there.
in_dir() {
    mkdir -p "$E2E_DIR/$1" && cd "$E2E_DIR/$1" || exit 1
}

kill9() {
    local end=$(( $(now_ms) + 5000 ))
    kill -KILL "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
}

# last KEY: sets COUNT and AT_MS from the downstream's /last.
last() {
    local out
    out=$(curl -s --max-time 5 "$DOWNSTREAM/last?key=$1")
    COUNT=$(printf '%s' "$out" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
    AT_MS=$(printf '%s' "$out" | sed -n 's/.*"at_ms":\([0-9]*\).*/\1/p')
    COUNT=${COUNT:-0}
    AT_MS=${AT_MS:-0}
}

# wait_count KEY N SECS: until KEY has N attempts or more (polled every
# 20 ms); sets COUNT and AT_MS.
wait_count() {
    local end=$(( $(now_ms) + $3 * 1000 ))
    last "$1"
    while [ "$COUNT" -lt "$2" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
        last "$1"
    done
}

# ---- a retry schedule spanning a kill -9 -----------------------------------
# retry_max_delay_ms 2500: attempts at about 0, 0.1, 0.3, 0.7, 1.5 and
# 3.1 s, then 2.5-2.75 s apart.  The downstream fails the first 7; the
# handler is killed right after the 6th, restarted at once, and must make
# the 7th when due - not before, and not much later - and the 8th, which
# succeeds, counts 8 attempts in the output, as run.attempt 2.
test_restart() {
    local k=rs$$ pid t6 t7 up due runs
    in_dir restart
    start_handler h1.log "$RH" --listen 127.0.0.1:0 || { fail "restart: start"; return; }
    pid=$HANDLER_PID
    http GET "$HANDLER_URL/r/restart?key=$k&fail=7"
    expect_eq "restart: answered before the calls" "$HTTP_STATUS" 202
    wait_count "$k" 6 30
    kill9 "$pid"
    t6=$AT_MS
    last "$k"
    expect_eq "restart: killed between attempts 6 and 7" "$COUNT" 6
    runs=$("$RH" --runs)
    expect_match "restart: pending at the call while it waits" "$runs" \
        "	pending	retries-restart	call"
    start_handler h2.log "$RH" --listen 127.0.0.1:0 || { fail "restart: restart"; return; }
    up=$(now_ms)
    expect_true "restart: resumed with its 6 attempts" \
        grep -q '"workflow":"retries-restart","event":"recovered","message":"resumes at call (attempt 2), 6 tries made"' h2.log
    wait_count "$k" 7 30
    t7=$AT_MS
    due=$(( t6 + 2750 > up ? t6 + 2750 : up ))
    echo "  kill -9 after attempt 6, restart $(( up - t6 )) ms later, attempt 7 $(( t7 - t6 )) ms after attempt 6 (due after 2500-2750)"
    expect_eq "restart: attempt 7 made" "$COUNT" 7
    expect_true "restart: attempt 7 not before its back-off ($(( t7 - t6 )) ms)" \
        test $(( t7 - t6 )) -ge 2400
    expect_true "restart: attempt 7 when due ($(( t7 - due )) ms after)" \
        test "$t7" -le $(( due + 3000 ))
    wait_count "$k" 8 30
    expect_eq "restart: attempt 8 succeeded" "$COUNT" 8
    wait_count "$k-attempts-8-run-2" 1 20
    expect_eq "restart: output attempts 8 across the restart, run.attempt 2" "$COUNT" 1
    sleep 0.3
    expect_eq "restart: no attempt 9" "$(last "$k"; echo "$COUNT")" 8
    expect_eq "restart: the finished run left the journal" \
        "$("$RH" --runs | grep -c retries-restart)" 0
    stop_handler "$HANDLER_PID"
    expect_eq "restart: stopped cleanly" "$STOP_STATUS" 0
}

# ---- running out of retries after the answer -------------------------------
test_exhausted() {
    local k=ex$$ f=fl$$
    in_dir exhausted
    start_handler h.log "$RH" --listen 127.0.0.1:0 || { fail "exhausted: start"; return; }
    http GET "$HANDLER_URL/r/exhaust?key=$k"
    expect_eq "exhausted, continue: answered" "$HTTP_STATUS" 202
    wait_count "$k-failed-3-" 1 20       # status null: empty text
    expect_eq "exhausted, continue: output attempts 3, status null" "$COUNT" 1
    expect_eq "exhausted, continue: 3 attempts made" "$(last "$k"; echo "$COUNT")" 3
    http GET "$HANDLER_URL/r/fail?key=$f"
    expect_eq "exhausted, fail: answered" "$HTTP_STATUS" 202
    expect_true "exhausted, fail: the run failed, saying how many attempts" \
        wait_for_line h.log '"workflow":"retries-fail","step":"call","event":"failed","message":"GET http://127.0.0.1:[0-9]+ answered HTTP 503 \(3 attempts\)"' 20
    expect_eq "exhausted, fail: 3 attempts made" "$(last "$f"; echo "$COUNT")" 3
    sleep 0.3
    expect_eq "exhausted, fail: the rest did not run" "$(last "$f-never"; echo "$COUNT")" 0
    expect_eq "exhausted: warn lines for the 4 retries" \
        "$(grep -c '"event":"http_retry"' h.log)" 4
    stop_handler "$HANDLER_PID"
}

# ---- 5,000 runs waiting between attempts, thread count unchanged -----------
# Each run's call is refused at once and retried after 100 ms, doubling up
# to 4 s: after a few seconds every run waits between attempts.  They stay
# pending in the journal through a shutdown.
test_waiting() {
    local before out after runs retried
    in_dir waiting
    start_handler h.log "$RH" --listen 127.0.0.1:0 || { fail "waiting: start"; return; }
    before=$(threads "$HANDLER_PID")
    out=$("$LOADGEN" 127.0.0.1 "$HANDLER_PORT" /r/wait 5000 202 "$HANDLER_PID")
    echo "  5000 runs retrying: $out (threads before: $before)"
    expect_match "waiting: all answered 202" "$out" '^ok=5000 failed=0 '
    expect_match "waiting: thread count fixed while they came" "$out" \
        "threads_min=$before threads_max=$before "
    sleep 3
    after=$(threads "$HANDLER_PID")
    runs=$("$RH" --runs | grep -c '	pending	retries-wait	call')
    expect_eq "waiting: 5000 runs pending at the call" "$runs" 5000
    expect_eq "waiting: thread count after 3 s of retries" "$after" "$before"
    retried=$(grep -c '"event":"http_retry"' h.log)
    echo "  after 3 s: $runs runs pending, $retried retries logged, threads $after"
    expect_true "waiting: they retried (once or more each, on average)" test "$retried" -ge 5000
    stop_handler "$HANDLER_PID" 60
    expect_eq "waiting: stopped cleanly" "$STOP_STATUS" 0
    runs=$("$RH" --runs | grep -c '	pending	retries-wait	call')
    expect_eq "waiting: still pending after the shutdown" "$runs" 5000
}

test_restart
test_exhausted
test_waiting
expect_eq "no sanitizer reports" \
    "$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR" | wc -l)" 0
echo "e2e retries: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
