#!/usr/bin/env bash
# suite-http.sh - the http_request step end to end, against a local
# downstream (tests/e2e/downstream.c, built here): JSON and text answers
# mapped into the output, what is sent (method, headers, JSON and text
# bodies), timeout_ms, fail_on_status both ways, retries counted by the
# downstream, a refused connection, redirects, max_response_bytes, a
# failure after the answer, the chain examples (one workflow calling the
# next in the same binary), 50 runs waiting on a slow downstream while
# another endpoint answers at once on a fixed number of threads, and
# shutdown with transfers in flight.
#
# Usage: tests/e2e/suite-http.sh FLUSSOC BUILDDIR
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
UUID='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
cd "$E2E_DIR" || exit 1

# ---- build and start -------------------------------------------------------
echo "e2e http: building the downstream and the handler ($BUILD)"
# shellcheck disable=SC2086
if ! $CC $E2E_CFLAGS $WARN -o downstream "$ROOT/tests/e2e/downstream.c" $E2E_LDLIBS \
        2> downstream.cc.log; then
    sed 's/^/  | /' downstream.cc.log >&2
    fail "downstream.c does not build"
    exit 1
fi
if ! "$FLUSSOC" "$WF"/http-*.json "$ROOT"/examples/chain-*.json -o handler \
        2> handler.cc.log; then
    sed 's/^/  | /' handler.cc.log >&2
    fail "flussoc: the http workflows do not compile"
    exit 1
fi

# A port nothing listens on: a downstream's, once it has stopped.
start_handler closed.log ./downstream --listen 0 || exit 1
export CLOSED_PORT=$HANDLER_PORT
stop_handler "$HANDLER_PID"

start_handler downstream.log ./downstream --listen 0 || exit 1
DS_PID=$HANDLER_PID
export DOWNSTREAM=$HANDLER_URL

# The chain example calls the handler itself, so its port is chosen first
# (CHAIN_URL is read at start); a port in use is tried again.
start_chained() {   # start_chained LOG ARGS...
    local log=$1 try port
    shift
    for try in 1 2 3 4 5; do
        port=$(( 20000 + RANDOM % 30000 ))
        export CHAIN_URL="http://127.0.0.1:$port"
        start_handler "$log" ./handler --listen "127.0.0.1:$port" "$@" 2> /dev/null &&
            return 0
        echo "e2e http: port $port is busy (try $try)"
    done
    return 1
}
start_chained handler.log || { fail "handler did not start"; exit 1; }
MAIN_PID=$HANDLER_PID
URL=$HANDLER_URL

# count KEY: the attempts the downstream saw for KEY.
count() {
    curl -s --max-time 5 "$DOWNSTREAM/count?key=$1" | sed 's/[^0-9]//g'
}

# ---- answers mapped into the output -------------------------------------------
test_answers() {
    http GET "$URL/h/json"
    expect_eq "json: status, parsed body, joined lower-cased headers" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"status":200,"body":{"ok":true,"n":42,"list":[1,2]},"multi":"a, b","n":43}'
    http GET "$URL/h/text"
    expect_eq "text: kept as text" "$HTTP_STATUS $HTTP_BODY" '200 200 text/plain: hello, text'
}

# ---- what is sent --------------------------------------------------------------
test_sent() {
    http POST "$URL/h/echo?v=hey" -H 'Content-Type: application/json' -d '{"id":"x1","n":4}'
    expect_match "JSON body: compact, application/json, templated header" "$HTTP_BODY" \
        '^\{"method":"POST","content_type":"application/json","x_test":"hey","user_agent":"flusso/[^"]+","body":"\{\\"id\\":\\"x1\\",\\"n\\":5,\\"tags\\":\[\\"a\\",\\"x1\\"\]\}"\}$'
    http POST "$URL/h/echo?method=PATCH" -H 'Content-Type: application/json' -d '{"id":"x2","n":0}'
    expect_match "templated method" "$HTTP_BODY" '^\{"method":"PATCH",'
    http POST "$URL/h/echo-text" -H 'Content-Type: application/json' -d '{"id":"x3"}'
    expect_eq "string body: sent as text" "$HTTP_BODY" \
        "$(printf '%s' '{"method":"PUT","content_type":"text/plain; charset=utf-8","x_test":null,"user_agent":"' \
           "$(printf '%s' "$HTTP_BODY" | sed 's/.*"user_agent":"\([^"]*\)".*/\1/')" '","body":"id=x3\nok"}')"
}

# ---- failures before the answer: 500 with the run id ----------------------------
test_failures() {
    http GET "$URL/h/timeout"
    expect_match "timeout: 500 before the response, naming the step" "$HTTP_STATUS $HTTP_BODY" \
        "^500 \\{\"error\":\"step 'call' failed\",\"run_id\":\"$UUID\"\\}\$"
    expect_true "timeout: the log says why" grep -Eq \
        '"level":"error".*"step":"call","event":"failed","message":"GET http://127\.0\.0\.1:[0-9]+ timed out after 300 ms"' handler.log
    expect_true "timeout: cut off at 300 ms, not the downstream's 3 s ($HTTP_MS ms)" \
        test "$HTTP_MS" -lt 2500
    expect_match "timeout: run id header" "$(header X-Flusso-Run-Id)" "^$UUID\$"
    http GET "$URL/h/status?code=500"
    expect_match "fail_on_status true: 500 {error, run_id}, no URL" "$HTTP_STATUS $HTTP_BODY" \
        "^500 \\{\"error\":\"step 'call' failed\",\"run_id\":\"$UUID\"\\}\$"
    expect_true "fail_on_status true: the log says why" grep -Eq \
        '"message":"GET http://127\.0\.0\.1:[0-9]+ answered HTTP 500"' handler.log
    http GET "$URL/h/status-ok?code=500"
    expect_eq "fail_on_status false: the status is in the output" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"status":500,"body":{"error":"status 500"}}'
    http GET "$URL/h/status-ok?code=404"
    expect_eq "fail_on_status false: a 404 too" "$HTTP_BODY" '{"status":404,"body":{"error":"status 404"}}'
    http GET "$URL/h/huge?bytes=100000"
    expect_match "max_response_bytes: over (Content-Length)" "$HTTP_STATUS $HTTP_BODY" \
        "^500 \\{\"error\":\"step 'call' failed\""
    expect_true "max_response_bytes: the log says why" grep -Eq \
        '"message":"GET http://127\.0\.0\.1:[0-9]+: response body over max_response_bytes \(1000\)"' handler.log
    http GET "$URL/h/huge?bytes=100000&chunked=1"
    expect_match "max_response_bytes: over (chunked, cut off while arriving)" "$HTTP_STATUS $HTTP_BODY" \
        "^500 \\{\"error\":\"step 'call' failed\""
    http GET "$URL/h/huge?bytes=1000&chunked=1"
    expect_eq "max_response_bytes: exactly at the limit" "$HTTP_STATUS $HTTP_BODY" '200 {"len":1000}'
}

# ---- retries: 429 and 5xx again after a back-off; others not ------------------------
test_retries() {
    local k="r$$"
    http GET "$URL/h/retry?key=${k}a&fail=2&code=503"
    expect_eq "503 twice, then 200: answered" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"status":200,"body":{"attempt":3}}'
    expect_eq "503 twice, then 200: 3 attempts" "$(count "${k}a")" 3
    expect_true "503 twice: backed off 100 + 200 ms ($HTTP_MS ms)" test "$HTTP_MS" -ge 290
    http GET "$URL/h/retry?key=${k}b&fail=99&code=429"
    expect_match "429 always: fails after 4 attempts" "$HTTP_STATUS $HTTP_BODY" \
        "^500 \\{\"error\":\"step 'call' failed\""
    expect_true "429 always: the log says so" grep -Eq \
        '"message":"GET http://127\.0\.0\.1:[0-9]+ answered HTTP 429 \(4 attempts\)"' handler.log
    expect_eq "429 always: retries 3 = 4 attempts" "$(count "${k}b")" 4
    http GET "$URL/h/retry?key=${k}c&fail=99&code=404"
    expect_eq "404: not retried" "$HTTP_STATUS $(count "${k}c")" "500 1"
    http GET "$URL/h/refused"
    expect_match "refused: on_error continue puts the error in the output" "$HTTP_STATUS $HTTP_BODY" \
        "^200 \\{\"status\":null,\"error\":\"GET http://127\\.0\\.0\\.1:$CLOSED_PORT failed: .+ \\(2 attempts\\)\"\\}\$"
    expect_true "refused: no path or query in the message" \
        eval "! printf '%s' \"\$HTTP_BODY\" | grep -q -e s3cret -e nothing"
}

test_redirect() {
    http GET "$URL/h/redirect"
    expect_eq "3xx: the result unless follow_redirects" "$HTTP_BODY" \
        '{"plain":302,"location":"/json","plain_body":"moved","followed":200,"followed_body":{"ok":true,"n":42,"list":[1,2]}}'
}

# ---- a failure after the answer ends the run and is logged ------------------------
test_after() {
    http POST "$URL/h/after"
    expect_eq "after: the caller got its answer" "$HTTP_STATUS $HTTP_BODY" '200 {"accepted":true}'
    expect_true "after: the failure is logged with the step" wait_for_line handler.log \
        '"workflow":"http-after","step":"late","event":"failed","message":"GET http://127\.0\.0\.1:[0-9]+ answered HTTP 503"' 10
    expect_eq "after: the run ended there" "$(grep -c 'never logged' handler.log)" 0
}

# ---- the chain example: a workflow's tail calls the next workflow ---------------------
test_chain() {
    http POST "$URL/hooks/chain/orders" -H 'Content-Type: application/json' \
        -d '{"id":"o-7","items":["a","b","c"],"express":true}'
    expect_eq "chain: the order is accepted at once" "$HTTP_STATUS $HTTP_BODY" '202 {"accepted":"o-7"}'
    local run
    run=$(header X-Flusso-Run-Id)
    expect_true "chain: the second workflow ran, called by the first run" wait_for_line handler.log \
        "\"workflow\":\"chain-fulfilment\".*shipment shp-o-7 booked for 3 item\\(s\\), chained from run $run" 10
    expect_true "chain: the first run got the second's answer" wait_for_line handler.log \
        '"workflow":"chain-order-intake".*order o-7 handed on: fulfilment answered 201 with shipment shp-o-7' 10
}

# ---- 50 runs wait on the downstream; nobody else waits for them -----------------------
test_load() {
    local before during i t max=0 slow=0 bad=0 t0 elapsed
    before=$(threads "$MAIN_PID")
    t0=$(now_ms)
    for i in $(seq 1 50); do
        curl -s --max-time 30 -o "load.$i" -w '%{http_code}' "$URL/h/wait" > "load.$i.status" &
    done
    local end=$(( $(now_ms) + 10000 ))
    while [ "$(count load)" != 50 ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.05
    done
    expect_eq "load: 50 requests in flight downstream at once" "$(count load)" 50
    for i in $(seq 1 10); do
        t=$(curl -s --max-time 10 -o /dev/null -w '%{time_total}' "$URL/h/ping")
        t=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
        [ "$t" -lt 500 ] || slow=$((slow + 1))
        [ "$t" -gt "$max" ] && max=$t
    done
    during=$(threads "$MAIN_PID")
    echo "  50 runs waiting on a 2 s downstream: /h/ping took at most $max ms; threads $before"
    expect_eq "load: another endpoint answers within 500 ms meanwhile" "$slow" 0
    expect_eq "load: thread count fixed while 50 wait" "$during" "$before"
    wait
    elapsed=$(( $(now_ms) - t0 ))
    for i in $(seq 1 50); do
        [ "$(cat "load.$i.status")" = 200 ] && [ "$(cat "load.$i")" = '{"slept":2000}' ] ||
            bad=$((bad + 1))
    done
    expect_eq "load: the 50 finish afterwards, each answered" "$bad" 0
    expect_true "load: they waited together, not in turn ($elapsed ms)" test "$elapsed" -lt 6000
    expect_eq "load: thread count after" "$(threads "$MAIN_PID")" "$before"
}

no_sanitizer_report() {
    ! grep -q -e 'Sanitizer' -e 'runtime error:' "$1"
}

# ---- shutdown with transfers waiting and a retry backing off --------------------------
test_shutdown() {
    start_chained short.log --grace-ms 300 || { fail "second handler did not start"; return; }
    local pid=$HANDLER_PID u=$HANDLER_URL i
    for i in 1 2 3; do
        curl -s --max-time 20 -o "short.$i" -w '%{http_code}' "$u/h/wait" > "short.$i.status" &
    done
    curl -s --max-time 20 -o /dev/null "$u/h/retry?key=s$$&fail=99&code=503" &
    sleep 0.5
    stop_handler "$pid"
    wait
    expect_eq "shutdown: exit 0 with transfers in flight" "$STOP_STATUS" 0
    expect_eq "shutdown: waiting callers get 503" "$(cat short.1.status short.2.status short.3.status)" 503503503
    expect_true "shutdown: their runs are abandoned and logged" wait_for_line short.log \
        '"workflow":"http-wait","step":"call","event":"abandoned"' 5
    expect_true "shutdown: no sanitizer report" no_sanitizer_report short.log
}

test_answers
test_sent
test_failures
test_retries
test_redirect
test_after
test_chain
test_load
stop_handler "$MAIN_PID"
expect_eq "SIGTERM: exit 0" "$STOP_STATUS" 0
expect_true "handler: no sanitizer report" no_sanitizer_report handler.log
test_shutdown
stop_handler "$DS_PID"

echo "e2e http: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
