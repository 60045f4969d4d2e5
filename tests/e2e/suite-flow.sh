#!/usr/bin/env bash
# suite-flow.sh - switch and for_each end to end (spec §10): a switch
# answering per case, with the default 202 at once on a case without a
# response; nested loops with item, index, results and count; items that
# are not an array or too many (a clear step failure: 500); a failing body
# step failing its for_each under on_error continue; iterations waiting on
# a downstream one at a time; and a kill -9 in the middle of a loop after
# the acknowledgement: the restarted handler does not redo the finished
# iterations (counted at the downstream, tests/e2e/downstream.c).
#
# Usage: tests/e2e/suite-flow.sh FLUSSOC BUILDDIR
# (env CC, E2E_CFLAGS, E2E_LDLIBS build the downstream; `make test-e2e`
# sets them).  Time bounds are generous: the suite also runs under ASan.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
. "$ROOT/tests/e2e/lib.sh"
e2e_init

CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2 -g}
E2E_LDLIBS=${E2E_LDLIBS:--lmicrohttpd -lcjson -lcrypto -lcurl -lsqlite3 -lpthread -lm}
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
cd "$E2E_DIR" || exit 1

# ---- build and start -------------------------------------------------------
echo "e2e flow: building the downstream and the handler ($BUILD)"
# shellcheck disable=SC2086
if ! $CC $E2E_CFLAGS $WARN -o downstream "$ROOT/tests/e2e/downstream.c" $E2E_LDLIBS \
        2> downstream.cc.log; then
    sed 's/^/  | /' downstream.cc.log >&2
    fail "downstream.c does not build"
    exit 1
fi
if ! "$FLUSSOC" "$WF"/flow-*.json -o handler 2> handler.cc.log; then
    sed 's/^/  | /' handler.cc.log >&2
    fail "flussoc: the flow workflows do not compile"
    exit 1
fi
start_handler downstream.log ./downstream --listen 0 || exit 1
DS_PID=$HANDLER_PID
export DOWNSTREAM=$HANDLER_URL
start_handler handler.log ./handler --listen 127.0.0.1:0 --journal none || exit 1
MAIN_PID=$HANDLER_PID
URL=$HANDLER_URL

post() {   # post PATH JSON
    http POST "$URL$1" -H 'Content-Type: application/json' -d "$2"
}

# count KEY: the downstream's attempts for KEY.
count() {
    curl -s "$DOWNSTREAM/count?key=$1" | sed 's/.*"count":\([0-9]*\).*/\1/'
}

no_sanitizer_report() {
    ! grep -q -e 'Sanitizer' -e 'runtime error:' "$1"
}

# ---- switch ------------------------------------------------------------------
test_switch() {
    post /flow/switch '{"type":"invoice.paid","id":"in_1"}'
    expect_eq "switch: a case answers" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"case":"invoice.paid","id":"in_1"}'
    post /flow/switch '{"type":42}'
    expect_eq "switch: the value's text is compared (42 -> case \"42\")" \
        "$HTTP_STATUS $HTTP_BODY" '201 {"case":"42"}'
    post /flow/switch '{"type":"invoice.created"}'
    expect_eq "switch: no case matches: default, matched null" \
        "$HTTP_STATUS $HTTP_BODY" '200 {"case":null}'
    post /flow/switch '{}'
    expect_eq "switch: a missing value is empty text: default" "$HTTP_STATUS" 200
    post /flow/switch '{"type":"ping"}'
    expect_eq "switch: a case without a response: 202" "$HTTP_STATUS" 202
    expect_true "switch: the 202 goes out on the case's edge, before the 1.5 s delay ($HTTP_MS ms)" \
        test "$HTTP_MS" -lt 1200
}

# ---- for_each ------------------------------------------------------------------
test_loop() {
    post /flow/loop '{"lines":[{"sku":"a","parts":["x","y"]},{"sku":"b"}]}'
    expect_eq "for_each: results in order, nested loops, item and index" \
        "$HTTP_STATUS $HTTP_BODY" \
        '200 {"count":2,"results":[{"sku":"a","i":0,"parts":[{"at":"0.0","v":"x"},{"at":"0.1","v":"y"}]},{"sku":"b","i":1,"parts":[]}]}'
    post /flow/loop '{"lines":null}'
    expect_eq "for_each: null items: none" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"count":0,"results":[]}'
    post /flow/loop '{"lines":"abc"}'
    expect_eq "for_each: items not an array: 500" "$HTTP_STATUS" 500
    expect_match "for_each: ... naming the step (spec 14)" "$HTTP_BODY" \
        '^\{"error":"step '"'"'each_line'"'"' failed","run_id":"[0-9a-f-]{36}"\}$'
    expect_true "for_each: ... the log saying why" \
        grep -q 'the items of a for_each must be an array, not a string' handler.log
    post /flow/loop '{"lines":[1,2,3,4,5,6]}'
    expect_eq "for_each: over max_items: 500" "$HTTP_STATUS" 500
    expect_true "for_each: ... the log saying so" \
        grep -q 'the for_each has 6 items, more than its max_items (5)' handler.log
    post /flow/loop '{"lines":[{"parts":"no"}]}'
    expect_eq "for_each: a nested loop's failure fails the run: 500" "$HTTP_STATUS" 500
}

test_continue() {
    post /flow/continue '{"waits":[1,2]}'
    expect_eq "for_each on_error continue: no failure" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"results":[{"waited_ms":1},{"waited_ms":2}],"count":2,"error":null}'
    post /flow/continue '{"waits":[1,"soon",2]}'
    expect_eq "for_each on_error continue: a body step fails the loop, the run goes on" \
        "$HTTP_STATUS" 200
    expect_match "for_each on_error continue: ... with the failure in its output" \
        "$HTTP_BODY" '^\{"results":null,"count":null,"error":"delay ms must be a non-negative number'
}

# Iterations wait on the downstream without a thread each: the answer (202,
# no response step) comes at once, the calls follow one at a time.
test_calls() {
    local t0=$(now_ms) took
    post /flow/calls '{"id":"seq","items":[1,2,3],"ms":200}'
    expect_eq "calls: acknowledged at once" "$HTTP_STATUS" 202
    expect_true "calls: the loop ends" wait_for_line calls.log '^seq 3 \{"slept":200\} 1$' 20
    took=$(( $(now_ms) - t0 ))
    expect_true "calls: one at a time (3 x 200 ms, took $took ms)" test "$took" -ge 600
    expect_eq "calls: each item called once" "$(count seq-0) $(count seq-1) $(count seq-2)" "1 1 1"
}

# ---- kill -9 in the middle of a loop ------------------------------------------------
# 10 calls of 300 ms after the acknowledgement; the handler is killed once
# the sixth has started and restarted on the same journal.  Iterations
# 0-3 had finished (and been recorded) at least 300 ms before the crash:
# each is called exactly once.  The one in flight runs again (at least
# once, spec 7), and so may the one before it if its record had not yet
# reached the disk.
test_crash_mid_loop() {
    local pid i counts="" end total=0
    mkdir -p crash && cd crash || return
    start_handler h1.log ../handler --listen 127.0.0.1:0 --journal j.db \
        || { fail "crash: start"; cd ..; return; }
    pid=$HANDLER_PID
    http POST "$HANDLER_URL/flow/calls" -H 'Content-Type: application/json' \
        -d '{"id":"crash","items":[0,1,2,3,4,5,6,7,8,9],"ms":300}'
    expect_eq "crash: acknowledged" "$HTTP_STATUS" 202
    end=$(( $(now_ms) + 20000 ))
    while [ "$(count crash-5)" -lt 1 ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
    kill -KILL "$pid"
    sleep 0.3
    expect_true "crash: killed mid-loop (no end line)" test ! -s calls.log
    start_handler h2.log ../handler --listen 127.0.0.1:0 --journal j.db \
        || { fail "crash: restart"; cd ..; return; }
    pid=$HANDLER_PID
    expect_true "crash: the resumed run ends: 10 results, attempt 2" \
        wait_for_line calls.log '^crash 10 \{"slept":300\} 2$' 30
    for i in 0 1 2 3 4 5 6 7 8 9; do
        counts="$counts $(count crash-$i)"
    done
    counts=${counts# }
    echo "  crash: calls per item: $counts"
    expect_match "crash: items 0-3 called once, 4-5 at most twice, 6-9 once" \
        "$counts" '^1 1 1 1 [12] [12] 1 1 1 1$'
    expect_true "crash: recovery logged" grep -q '"event":"recovered"' h2.log
    stop_handler "$pid"
    expect_true "crash: no sanitizer report" no_sanitizer_report h2.log
    expect_eq "crash: nothing left in the journal" "$(../handler --runs --journal j.db | wc -l)" 0
    cd ..
}

test_switch
test_loop
test_continue
test_calls
stop_handler "$MAIN_PID"
expect_eq "SIGTERM: exit 0" "$STOP_STATUS" 0
expect_true "handler: no sanitizer report" no_sanitizer_report handler.log
test_crash_mid_loop
stop_handler "$DS_PID"
echo "e2e flow: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
