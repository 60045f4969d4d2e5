#!/usr/bin/env bash
# suite-runtime.sh - the runtime seen from outside, through a handler
# compiled by flussoc from tests/e2e/workflows/runtime-*.json (seven
# workflows in one binary): the command line, where it listens, the answers
# that start no run, templated answers and their headers, when the caller
# gets its answer and what the run does after it, the trigger's output,
# 200 requests at once, 5,000 runs waiting in a delay on a fixed number of
# threads, the JSON log, and draining on SIGTERM (runs in flight finish,
# callers still waiting when the grace period ends get 503).
#
# Usage: tests/e2e/suite-runtime.sh FLUSSOC BUILDDIR   (env CC, E2E_CFLAGS
# build tests/e2e/loadgen.c when BUILDDIR/tests/loadgen is missing; `make
# test-e2e` builds it).  Time bounds are generous: the suite also runs under
# ASan on 2 busy cores.
#
# The workflows:
#
#   runtime-ack    POST /hooks/ack     200 templated JSON with X-Ack, then a
#                                      tail: delay (query tail_ms, default
#                                      300), a line in tail.log, a log line
#                                      "done <run id><query note>";
#                                      max_body_bytes 1024
#   runtime-fire   POST, PUT /hooks/fire  no response: 202 at start; fire.log
#   runtime-slow   POST /hooks/slow    delay (query ms, default 500), then 201
#   runtime-late   POST /hooks/late    response_timeout_ms 1000, delay 1500,
#                                      then 200 (too late: 504), late.log
#                                      says sent=false
#   runtime-check  POST /hooks/check   `matches` gate on query h: 200 text
#                                      with X-Echo, else the status from query
#                                      status (default 422) with X-Echo
#   runtime-echo   GET, POST /hooks/echo  200 with the whole trigger output
#   runtime-hold   POST /hooks/hold    response_timeout_ms 60 s, delay 20 s,
#                                      then 200: still waiting when a drain's
#                                      grace period ends
#
# These replace tests/e2e/fake_program.c, a hand-written stand-in for a
# compiled handler, and run_fake.sh, which drove it; every check of
# run_fake.sh is here.  Where the format differs from what the C did:
#   - the workflows are named runtime-<name> (file and `name`), so --help,
#     run.workflow (fire.log) and the log's "workflow" field say
#     runtime-ack, runtime-fire, ... instead of ack, fire, ...;
#   - the environment variables FAKE_TAG and FAKE_ZONE are RUNTIME_TAG and
#     RUNTIME_ZONE;
#   - the echo's body is the text template "{{ json(trigger.output) }}"
#     (a string body is always text) where the C sent fl_json_text() of the
#     trigger output: json() is that same function, so the bytes are the same;
#   - the steps' order, keys, bodies, defaults and settings are otherwise
#     those of the C, one for one.
# One check is made less timing-sensitive without being weakened: after
# SIGTERM, "/healthz answers 503" waits (up to 5 s) for the handler to have
# handled the signal instead of asking once 0.2 s later.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
. "$ROOT/tests/e2e/lib.sh"
e2e_init
unset FLUSSO_LISTEN

CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2 -g}
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
HANDLER=$E2E_DIR/runtime
LOADGEN=$BUILD/tests/loadgen
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

build() {
    # compiled from the workflows' folder, so --help names the bare files
    if ! (cd "$WF" && "$FLUSSOC" runtime-*.json -o "$HANDLER") 2> "$E2E_DIR/runtime.cc.log"; then
        sed 's/^/  | /' "$E2E_DIR/runtime.cc.log" >&2
        return 1
    fi
    if [ ! -x "$LOADGEN" ]; then
        LOADGEN=$E2E_DIR/loadgen
        # shellcheck disable=SC2086
        $CC $E2E_CFLAGS $WARN -o "$LOADGEN" "$ROOT/tests/e2e/loadgen.c" || return 1
    fi
}

export RUNTIME_TAG=tag1 RUNTIME_ZONE=zone1

# ---- the command line --------------------------------------------------------

# Every command is bounded: a handler that started serving instead of
# stopping would fail its check (timeout exits 124), not hang the suite.
test_cli() {
    local out rc
    out=$(timeout 10 env -u RUNTIME_TAG -u RUNTIME_ZONE "$HANDLER" --help 2>&1); rc=$?
    expect_eq "--help exits 0 without env" "$rc" 0
    expect_match "--help lists ack" "$out" 'POST /hooks/ack +runtime-ack \(runtime-ack\.json\)'
    expect_match "--help lists each method" "$out" 'PUT /hooks/fire +runtime-fire'
    expect_match "--help lists /healthz" "$out" 'GET /healthz'
    expect_match "--help lists RUNTIME_TAG" "$out" 'RUNTIME_TAG'
    expect_match "--help lists RUNTIME_ZONE" "$out" 'RUNTIME_ZONE'
    out=$(timeout 10 env -u RUNTIME_TAG "$HANDLER" --version 2>&1); rc=$?
    expect_eq "--version exits 0" "$rc" 0
    expect_match "--version prints a version" "$out" '[0-9]+\.[0-9]+'
    out=$(timeout 10 env -u RUNTIME_TAG -u RUNTIME_ZONE "$HANDLER" --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "missing env exits 2" "$rc" 2
    expect_match "missing env names RUNTIME_TAG" "$out" 'RUNTIME_TAG'
    expect_match "missing env names RUNTIME_ZONE" "$out" 'RUNTIME_ZONE'
    out=$(timeout 10 env -u RUNTIME_ZONE "$HANDLER" --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "one missing variable exits 2" "$rc" 2
    expect_true "only the missing variable is named" \
        test "$(printf '%s' "$out" | grep -c RUNTIME_TAG)" = 0
    timeout 10 "$HANDLER" --bogus 2>/dev/null; expect_eq "unknown option exits 2" "$?" 2
    timeout 10 "$HANDLER" --workers 0 2>/dev/null; expect_eq "--workers 0 exits 2" "$?" 2
    timeout 10 "$HANDLER" --log-level loud 2>/dev/null; expect_eq "bad --log-level exits 2" "$?" 2
    timeout 10 "$HANDLER" --listen 127.0.0.1:99999 2>/dev/null; expect_eq "bad port exits 2" "$?" 2
    timeout 10 "$HANDLER" extra 2>/dev/null; expect_eq "an argument exits 2" "$?" 2
}

test_listen() {
    local log=$E2E_DIR/listen1.log first_pid first_port rc
    start_handler "$log" "$HANDLER" --listen 0 || { fail "bare port 0 starts"; return; }
    expect_match "port 0: the listening line" "$(grep '^listening' "$log")" \
        '^listening on http://127\.0\.0\.1:[1-9][0-9]*$'
    expect_eq "exactly one listening line" "$(grep -c '^listening' "$log")" 1
    first_pid=$HANDLER_PID
    first_port=$HANDLER_PORT
    timeout 10 "$HANDLER" --listen "127.0.0.1:$first_port" --journal none 2>/dev/null; rc=$?
    expect_eq "a failed bind exits 2" "$rc" 2
    stop_handler "$first_pid"
    expect_eq "SIGTERM exits 0" "$STOP_STATUS" 0
    log=$E2E_DIR/listen2.log
    start_handler "$log" env FLUSSO_LISTEN=127.0.0.1:0 "$HANDLER" ||
        { fail "FLUSSO_LISTEN is used"; return; }
    # not the default 127.0.0.1:8080: port 0 picks an ephemeral port
    expect_true "FLUSSO_LISTEN is used ($HANDLER_URL)" test "$HANDLER_PORT" != 8080
    stop_handler "$HANDLER_PID"
    log=$E2E_DIR/listen3.log
    start_handler "$log" env FLUSSO_LISTEN=127.0.0.1:1 "$HANDLER" --listen 127.0.0.1:0 ||
        { fail "--listen wins over FLUSSO_LISTEN"; return; }
    # port 1 can be bound by root: the port says which one was used
    expect_true "--listen wins over FLUSSO_LISTEN ($HANDLER_URL)" test "$HANDLER_PORT" != 1
    stop_handler "$HANDLER_PID"
    if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then     # ::1 exists
        log=$E2E_DIR/listen4.log
        start_handler "$log" "$HANDLER" --listen '[::1]:0' || { fail "IPv6 listen"; return; }
        expect_match "IPv6 listening line" "$HANDLER_URL" '^http://\[::1\]:[1-9][0-9]*$'
        http GET "$HANDLER_URL/healthz"
        expect_eq "IPv6 /healthz" "$HTTP_STATUS" 200
        stop_handler "$HANDLER_PID"
    else
        echo "  skip IPv6 listen: no ::1"
    fi
}

# ---- answers -----------------------------------------------------------------

test_errors() {
    local u=$1 big
    http GET "$u/nope"
    expect_eq "404 status" "$HTTP_STATUS" 404
    expect_eq "404 body" "$HTTP_BODY" '{"error":"not found"}'
    expect_eq "404 has no run id" "$(header X-Flusso-Run-Id)" ""
    http POST "$u/hooks/ack/" -d '{}'
    expect_eq "no trailing-slash folding" "$HTTP_STATUS" 404
    http GET "$u/hooks/ack"
    expect_eq "405 status" "$HTTP_STATUS" 405
    expect_eq "405 Allow" "$(header Allow)" "POST"
    expect_match "405 body is a JSON error" "$HTTP_BODY" '^\{"error":".+"\}$'
    expect_eq "405 has no run id" "$(header X-Flusso-Run-Id)" ""
    http DELETE "$u/hooks/fire"
    expect_eq "405 Allow lists methods in order" "$(header Allow)" "POST, PUT"
    big=$(head -c 2000 /dev/zero | tr '\0' 'x')
    http POST "$u/hooks/ack" -H 'Content-Type: text/plain' --data-binary "$big"
    expect_eq "413 by Content-Length" "$HTTP_STATUS" 413
    expect_eq "413 body" "$HTTP_BODY" '{"error":"request body too large"}'
    expect_eq "413 has no run id" "$(header X-Flusso-Run-Id)" ""
    http POST "$u/hooks/ack" -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' \
        --data-binary "$big"
    expect_eq "413 when a chunked body grows too large" "$HTTP_STATUS" 413
    http POST "$u/hooks/nope" --data-binary "$big"
    expect_eq "404 comes before 413" "$HTTP_STATUS" 404
    http POST "$u/hooks/ack" -H 'Content-Type: application/json; charset=utf-8' -d '{bad'
    expect_eq "400 status" "$HTTP_STATUS" 400
    expect_eq "400 body" "$HTTP_BODY" '{"error":"invalid JSON body"}'
    expect_eq "400 has no run id" "$(header X-Flusso-Run-Id)" ""
    http POST "$u/hooks/ack" -H 'Content-Type: Application/VND.api+JSON' -d '[1,'
    expect_eq "400 for +json, any case" "$HTTP_STATUS" 400
    http POST "$u/hooks/ack" -H 'Content-Type: text/plain' -d '{bad'
    expect_eq "text bodies are not parsed" "$HTTP_STATUS" 200
    http GET "$u/healthz"
    expect_eq "/healthz status" "$HTTP_STATUS" 200
    expect_eq "/healthz body" "$HTTP_BODY" '{"status":"ok"}'
    http POST "$u/healthz"
    expect_eq "POST /healthz is 405" "$HTTP_STATUS" 405
}

test_ack() {
    local u=$1 t0 elapsed
    http POST "$u/hooks/ack?q=a+b%21&q=second" -H 'Content-Type: application/json' \
        -d '{"id":42}'
    expect_eq "200 status" "$HTTP_STATUS" 200
    expect_eq "200 templated body" "$HTTP_BODY" '{"received":true,"id":42,"q":"a b!"}'
    expect_eq "200 content type" "$(header Content-Type)" "application/json"
    expect_eq "200 workflow header" "$(header X-Ack)" "ack-42"
    expect_match "200 has a run id" "$(header X-Flusso-Run-Id)" "$UUID_RE"
    expect_true "tail line appears" wait_for_line "$E2E_DIR/run/tail.log" '^tail 42 tag1$' 5

    # The answer leaves before the 2 s tail; the tail's line comes after.
    t0=$(now_ms)
    http POST "$u/hooks/ack?tail_ms=2000" -H 'Content-Type: application/json' -d '{"id":"slowtail"}'
    expect_eq "answer before a long tail" "$HTTP_STATUS" 200
    expect_true "answered well before the tail ends ($HTTP_MS ms)" test "$HTTP_MS" -lt 1000
    expect_true "no tail line at answer time" \
        test "$(grep -c slowtail "$E2E_DIR/run/tail.log")" = 0
    expect_true "tail line after the delay" \
        wait_for_line "$E2E_DIR/run/tail.log" '^tail slowtail tag1$' 8
    elapsed=$(( $(now_ms) - t0 ))
    expect_true "tail line came after ~2 s ($elapsed ms)" test "$elapsed" -ge 1900

    http POST "$u/hooks/ack?tail_ms=0&note=%0A%7B%22forged%22:1%7D" \
        -H 'Content-Type: application/json' -d '{"id":"injection"}'
    expect_true "log line with a newline inside" \
        wait_for_line "$E2E_DIR/run/handler.log" 'done [0-9a-f-]{36}\\n\{\\"forged' 5
}

test_fire() {
    local u=$1
    http PUT "$u/hooks/fire" -H 'Content-Type: application/json' -d '{"n":7}'
    expect_eq "202 status" "$HTTP_STATUS" 202
    expect_eq "202 empty body" "$HTTP_BODY" ""
    expect_eq "202 has no content type" "$(header Content-Type)" ""
    expect_match "202 has a run id" "$(header X-Flusso-Run-Id)" "$UUID_RE"
    expect_true "202 at once ($HTTP_MS ms)" test "$HTTP_MS" -lt 1000
    expect_true "fire's steps ran" \
        wait_for_line "$E2E_DIR/run/fire.log" '^fire 7 PUT zone1 runtime-fire$' 5
    http POST "$u/hooks/fire" -H 'Content-Type: application/json' -d '{"n":"two\nlines \"q\""}'
    expect_true "file log: newlines written as \\n" \
        wait_for_line "$E2E_DIR/run/fire.log" '^fire two\\nlines "q" POST zone1 runtime-fire$' 5
}

test_waits() {
    local u=$1 id
    http POST "$u/hooks/slow?ms=400&id=s1"
    expect_eq "delay then answer: status" "$HTTP_STATUS" 201
    id=$(header X-Flusso-Run-Id)
    expect_eq "delay then answer: body" "$HTTP_BODY" "{\"waited\":400,\"run\":\"$id\",\"id\":\"s1\"}"
    expect_true "answered after the delay ($HTTP_MS ms)" test "$HTTP_MS" -ge 390
    expect_true "answered soon after the delay ($HTTP_MS ms)" test "$HTTP_MS" -lt 3000
    http POST "$u/hooks/late"
    id=$(header X-Flusso-Run-Id)
    expect_eq "504 status" "$HTTP_STATUS" 504
    expect_eq "504 body" "$HTTP_BODY" "{\"error\":\"workflow did not respond in time\",\"run_id\":\"$id\"}"
    expect_match "504 has a run id" "$id" "$UUID_RE"
    expect_true "504 after response_timeout_ms ($HTTP_MS ms)" \
        test "$HTTP_MS" -ge 950 -a "$HTTP_MS" -lt 1450
    expect_true "the run goes on: sent=false" \
        wait_for_line "$E2E_DIR/run/late.log" '^late sent=false$' 5
}

test_check() {
    local u=$1
    http POST "$u/hooks/check?h=abc"
    expect_eq "gate true: status" "$HTTP_STATUS" 200
    expect_eq "gate true: text body" "$HTTP_BODY" "hello abc"
    expect_eq "gate true: content type" "$(header Content-Type)" "text/plain"
    expect_eq "gate true: header" "$(header X-Echo)" "abc"
    http POST "$u/hooks/check?h=ABC"
    expect_eq "gate false: status from a template" "$HTTP_STATUS" 422
    expect_eq "gate false: empty body" "$HTTP_BODY" ""
    http POST "$u/hooks/check?h=A%0d%0aX-Evil:%201"
    expect_eq "CR/LF header value: 500" "$HTTP_STATUS" 500
    expect_eq "CR/LF header value: nothing injected" "$(header X-Evil)" ""
    expect_match "CR/LF header value: 500 body" "$HTTP_BODY" \
        "^\\{\"error\":\"step 'odd' failed\",\"run_id\":\"[0-9a-f-]{36}\"\\}\$"
    expect_eq "500 run id in body and header" \
        "$(printf '%s' "$HTTP_BODY" | sed 's/.*"run_id":"\([^"]*\)".*/\1/')" \
        "$(header X-Flusso-Run-Id)"
    http POST "$u/hooks/check?h=A&status=abc"
    expect_eq "bad status template: 500" "$HTTP_STATUS" 500
    expect_match "bad status template: names the step" "$HTTP_BODY" "step 'odd' failed"
    http POST "$u/hooks/check?h=A&status=%20301%20"
    expect_eq "numeric string status" "$HTTP_STATUS" 301
}

test_trigger() {
    local u=$1 b
    http POST "$u/hooks/echo?a=1&a=2&sp=x+y&pct=%41%2B%zz&flag&=e" \
        -H 'X-Multi: one' -H 'x-multi: two' -H 'X-Case: Keep' \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary 'k=v+w&k=second&e=%E2%82%AC&n'
    b=$HTTP_BODY
    expect_match "method" "$b" '"method":"POST"'
    expect_match "path without the query" "$b" '"path":"/hooks/echo"'
    expect_match "query: first wins, decoded" "$b" \
        '"query":\{"a":"1","sp":"x y","pct":"A\+%zz","flag":"","":"e"\}'
    expect_match "headers: lower-cased, joined" "$b" '"x-multi":"one, two"'
    expect_match "headers: values kept" "$b" '"x-case":"Keep"'
    expect_match "form body" "$b" '"body":\{"k":"v w","e":"€","n":""\}'
    expect_match "raw body" "$b" '"raw_body":"k=v\+w&k=second&e=%E2%82%AC&n"'
    expect_match "received_at" "$b" \
        '"received_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"'
    http POST "$u/hooks/echo" -H 'Content-Type: application/json' -d '{"a":[1,2.5,"x"]}'
    expect_match "JSON body" "$HTTP_BODY" '"body":\{"a":\[1,2\.5,"x"\]\}'
    http GET "$u/hooks/echo"
    expect_match "empty body is null" "$HTTP_BODY" '"body":null,"raw_body":""'
    printf 'a\0b' > "$E2E_DIR/nul.bin"
    http POST "$u/hooks/echo" -H 'Content-Type: text/plain' --data-binary "@$E2E_DIR/nul.bin"
    expect_match "raw body keeps NUL" "$HTTP_BODY" '"raw_body":"a\\u0000b"'
    expect_match "text body" "$HTTP_BODY" '"body":"a\\u0000b"'
}

# 200 requests at once, each with its own answer.
test_concurrent() {
    local u=$1 i bad=0 dir=$E2E_DIR/conc pids=""
    mkdir -p "$dir"
    for i in $(seq 1 200); do
        curl -s --max-time 20 -o "$dir/$i" -H 'Content-Type: application/json' \
            -d "{\"id\":$i}" "$u/hooks/ack?q=c$i" &
        pids="$pids $!"
    done
    # shellcheck disable=SC2086
    wait $pids
    for i in $(seq 1 200); do
        [ "$(cat "$dir/$i" 2>/dev/null)" = "{\"received\":true,\"id\":$i,\"q\":\"c$i\"}" ] ||
            bad=$((bad + 1))
    done
    expect_eq "200 concurrent requests, each its own answer" "$bad" 0
}

# 5,000 runs waiting in a 1 s delay at once, each caller waiting for its
# 201, on a fixed number of threads.
test_many_waiting() {
    local before out
    if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 12000 ]; then
        echo "  skip 5000 waiting runs: descriptor limit $(ulimit -Hn)"
        return
    fi
    ulimit -n "$(ulimit -Hn)"
    before=$(threads "$HANDLER_PID")
    out=$("$LOADGEN" 127.0.0.1 "$HANDLER_PORT" '/hooks/slow?ms=1000' 5000 201 "$HANDLER_PID")
    echo "  5000 waiting runs: $out (threads before: $before)"
    expect_match "5000 waiting runs all answered 201" "$out" '^ok=5000 failed=0 '
    expect_match "thread count unchanged while 5000 runs wait" "$out" \
        "threads_min=$before threads_max=$before "
    expect_eq "thread count unchanged after" "$(threads "$HANDLER_PID")" "$before"
}

test_logs() {
    local log=$1
    expect_true "log step lines are JSON on stderr" \
        grep -Eq '^\{"time":"[^"]+","level":"info","run_id":"[0-9a-f-]{36}","workflow":"runtime-ack","step":"done","event":"log","message":"done [0-9a-f-]{36}","trace_id":"[0-9a-f]{32}"\}$' "$log"
    expect_true "every stderr line but one is a JSON object" \
        test "$(grep -cv '^{"time":.*}$' "$log")" = 1
    expect_true "no line forged from request content" \
        test "$(grep -c '^{"forged"' "$log")" = 0
    expect_true "failures before the answer are logged" \
        grep -q '"level":"error".*"event":"failed","message":"header X-Echo' "$log"
}

# healthz_503 URL SECS: /healthz answers 503 within SECS (the handler has
# seen the SIGTERM); leaves the last answer in HTTP_*.
healthz_503() {
    local end=$(( $(now_ms) + $2 * 1000 ))
    while :; do
        http GET "$1/healthz"
        [ "$HTTP_STATUS" = 503 ] && return 0
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.02
    done
}

# SIGTERM: runs in flight finish; new requests get 503 meanwhile.
test_drain() {
    local log=$E2E_DIR/drain.log pid u curl_pid
    start_handler "$log" "$HANDLER" --listen 127.0.0.1:0 --log-level warn ||
        { fail "drain: start"; return; }
    pid=$HANDLER_PID
    u=$HANDLER_URL
    curl -s --max-time 20 -o "$E2E_DIR/drain.body" -w '%{http_code}' -X POST \
        "$u/hooks/slow?ms=1500&id=d" > "$E2E_DIR/drain.status" &
    curl_pid=$!
    sleep 0.4
    kill -TERM "$pid"
    healthz_503 "$u" 5
    expect_eq "draining: /healthz 503" "$HTTP_STATUS" 503
    http POST "$u/hooks/fire" -d '{}'
    expect_eq "draining: new request 503" "$HTTP_STATUS" 503
    expect_eq "draining: Retry-After" "$(header Retry-After)" "5"
    expect_eq "draining: no run id" "$(header X-Flusso-Run-Id)" ""
    wait "$curl_pid"
    expect_eq "draining: the run in flight answers" "$(cat "$E2E_DIR/drain.status")" 201
    stop_handler "$pid" 15
    expect_eq "draining: exit 0" "$STOP_STATUS" 0
    expect_true "--log-level warn filters info lines" test "$(grep -c '"level":"info"' "$log")" = 0
}

# SIGTERM with a caller still waiting when the 10 s grace ends: 503.
test_drain_grace() {
    local log=$E2E_DIR/grace.log pid u curl_pid t0 took
    start_handler "$log" "$HANDLER" --listen 127.0.0.1:0 || { fail "grace: start"; return; }
    pid=$HANDLER_PID
    u=$HANDLER_URL
    curl -s --max-time 30 -D "$E2E_DIR/grace.headers" -o "$E2E_DIR/grace.body" \
        -w '%{http_code}' -X POST "$u/hooks/hold" > "$E2E_DIR/grace.status" &
    curl_pid=$!
    sleep 0.3
    t0=$(now_ms)
    kill -TERM "$pid"
    wait "$curl_pid"
    took=$(( $(now_ms) - t0 ))
    HTTP_HEADERS=$E2E_DIR/grace.headers
    expect_eq "grace over: the waiting caller gets 503" "$(cat "$E2E_DIR/grace.status")" 503
    expect_match "grace over: 503 carries the run id" "$(header X-Flusso-Run-Id)" "$UUID_RE"
    expect_eq "grace over: Retry-After" "$(header Retry-After)" "5"
    expect_match "grace over: JSON error" "$(cat "$E2E_DIR/grace.body")" \
        '^\{"error":"shutting down","run_id":"[0-9a-f-]{36}"\}$'
    expect_true "grace over: after about 10 s ($took ms)" test "$took" -ge 9500 -a "$took" -lt 13000
    stop_handler "$pid" 10
    expect_eq "grace over: exit 0" "$STOP_STATUS" 0
    expect_true "grace over: the run is logged abandoned" grep -q '"event":"abandoned"' "$log"
}

# Sanitizer reports anywhere in the handlers' logs.
test_sanitizers() {
    expect_eq "no sanitizer reports" \
        "$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR" | wc -l)" 0
}

main() {
    local log
    echo "e2e runtime: compiling the runtime-*.json handler ($BUILD)"
    build || { fail "the runtime workflows do not compile"; exit 1; }
    cd "$E2E_DIR" || exit 1              # handlers keep their journals here
    test_cli
    test_listen
    mkdir -p "$E2E_DIR/run"
    log=$E2E_DIR/run/handler.log
    cd "$E2E_DIR/run" || exit 1          # the log steps' files land here
    start_handler "$log" "$HANDLER" --listen 127.0.0.1:0 --workers 2 || exit 1
    cd "$E2E_DIR" || exit 1
    test_errors "$HANDLER_URL"
    test_ack "$HANDLER_URL"
    test_fire "$HANDLER_URL"
    test_waits "$HANDLER_URL"
    test_check "$HANDLER_URL"
    test_trigger "$HANDLER_URL"
    test_concurrent "$HANDLER_URL"
    test_many_waiting
    stop_handler "$HANDLER_PID" 20
    expect_eq "exit 0 after SIGTERM" "$STOP_STATUS" 0
    test_logs "$log"
    test_drain
    test_drain_grace
    test_sanitizers
    echo "e2e runtime: $E2E_PASS passed, $E2E_FAIL failed"
    [ "$E2E_FAIL" -eq 0 ]
}

main "$@"
