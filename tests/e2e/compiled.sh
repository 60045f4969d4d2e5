#!/usr/bin/env bash
# compiled.sh - end-to-end tests of handlers compiled by flussoc from the
# workflows in tests/e2e/workflows and examples/: spec §4 items 1-4 (when the
# caller gets its answer), templated answers under concurrency, byte-exact
# echoes, several workflows in one binary, the handler CLI (spec §6), and
# thousands of runs waiting in a delay on a fixed number of threads.
#
# Usage: tests/e2e/compiled.sh FLUSSOC BUILDDIR
# Time bounds are generous: the suite also runs under ASan on 2 busy cores.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
LOADGEN=$BUILD/tests/loadgen
. "$ROOT/tests/e2e/lib.sh"
e2e_init

compile() {   # compile OUT WORKFLOW...
    local out=$1
    shift
    if ! "$FLUSSOC" "$@" -o "$E2E_DIR/$out" 2> "$E2E_DIR/$out.cc.log"; then
        fail "flussoc $* failed"
        sed 's/^/  | /' "$E2E_DIR/$out.cc.log" >&2
        return 1
    fi
}

# ---- build -------------------------------------------------------------
echo "e2e compiled: building handlers"
compile main "$WF/respond-then-tail.json" "$WF/branch-default.json" \
    "$WF/no-response.json" "$WF/delay-first.json" "$WF/echo.json" \
    "$WF/failing.json" "$WF/response-continue.json" "$WF/long-tail.json" || exit 1
compile sleepers "$WF/sleepers.json" || exit 1
compile payment "$ROOT/examples/payment.json" || exit 1
compile payment-verify "$ROOT/examples/payment-verify.json" || exit 1

cd "$E2E_DIR" || exit 1
start_handler main.log ./main --listen 127.0.0.1:0 || exit 1
MAIN_PID=$HANDLER_PID
URL=$HANDLER_URL

# ---- §4.2: the answer goes out at the response step, the tail goes on ----
test_respond_then_tail() {
    http POST "$URL/respond" -H 'Content-Type: application/json' \
        -d '{"id":"ord-1","n":21}'
    expect_eq "respond: status" "$HTTP_STATUS" 201
    expect_match "respond: templated body" "$HTTP_BODY" \
        '^\{"received":"ord-1","n":42,"run":"[0-9a-f-]{36}"\}$'
    expect_eq "respond: templated header" "$(header X-Order)" ord-1
    expect_eq "respond: content type" "$(header Content-Type)" application/json
    expect_match "respond: run id header" "$(header X-Flusso-Run-Id)" '^[0-9a-f-]{36}$'
    expect_true "respond: answered before the 2 s tail ends ($HTTP_MS ms)" \
        test "$HTTP_MS" -lt 1500
    expect_true "respond: no tail line yet" \
        test ! -s tail.log
    expect_true "respond: tail line after the delay" \
        wait_for_line tail.log '^tail ord-1 after 2000$' 15
}

# ---- §4.3: a response-free branch gets 202 at once ---------------------------
test_branch_default() {
    http POST "$URL/branch?fast=yes&id=a"
    expect_eq "branch true: status" "$HTTP_STATUS" 200
    expect_eq "branch true: text body" "$HTTP_BODY" "fast a"
    expect_eq "branch true: content type" "$(header Content-Type)" text/plain
    http POST "$URL/branch?fast=no&id=b"
    expect_eq "branch false: default status" "$HTTP_STATUS" 202
    expect_eq "branch false: empty body" "$HTTP_BODY" ""
    expect_eq "branch false: no content type" "$(header Content-Type)" ""
    expect_match "branch false: run id" "$(header X-Flusso-Run-Id)" '^[0-9a-f-]{36}$'
    expect_true "branch false: 202 before the 1.5 s steps ($HTTP_MS ms)" \
        test "$HTTP_MS" -lt 1000
    expect_true "branch false: slow steps ran afterwards" \
        wait_for_line branch.log '^slow b$' 15
}

# ---- §4.1: no response step: 202 before the first step ------------------------
test_no_response() {
    http POST "$URL/fire" -H 'Content-Type: application/json' -d '{"id":7}'
    expect_eq "no response: 202" "$HTTP_STATUS" 202
    expect_eq "no response: empty body" "$HTTP_BODY" ""
    expect_true "no response: at once ($HTTP_MS ms)" test "$HTTP_MS" -lt 800
    expect_true "no response: the run went on" \
        wait_for_line fire.log '^fired 7$' 15
}

# ---- a delay before the response holds the caller -----------------------------
test_delay_first() {
    http POST "$URL/delayed?ms=400"
    expect_eq "delay first: status" "$HTTP_STATUS" 200
    expect_eq "delay first: body" "$HTTP_BODY" '{"waited":400}'
    expect_true "delay first: waited ($HTTP_MS ms)" test "$HTTP_MS" -ge 390
}

# ---- §4.5: a failure before the response is a 500 with the run id --------------
test_failures() {
    http POST "$URL/fail?ms=oops"
    expect_eq "bad delay: 500" "$HTTP_STATUS" 500
    expect_match "bad delay: JSON error with run id" "$HTTP_BODY" \
        '^\{"error":".+","run_id":"[0-9a-f-]{36}"\}$'
    http POST "$URL/fail?ms=0&h=a%0d%0aInjected:%20yes"
    expect_eq "CR/LF header value: 500" "$HTTP_STATUS" 500
    expect_eq "CR/LF header value: not sent" "$(header Injected)" ""
    http POST "$URL/fail?ms=0&h=fine"
    expect_eq "plain header value: 200" "$HTTP_STATUS" 200
    expect_eq "plain header value: sent" "$(header X-Value)" fine
    http POST "$URL/continue?h=a%0aB:%20c"
    expect_eq "failed response, on_error continue: default 202" "$HTTP_STATUS" 202
    expect_true "failed response: 202 at once, before the 1 s tail ($HTTP_MS ms)" \
        test "$HTTP_MS" -lt 800
    expect_true "failed response: the run went on with the error" \
        wait_for_line continue.log '^sent=(false)? error=.+' 15
}

# ---- strings echoed byte for byte -------------------------------------------------
test_echo_bytes() {
    local tricky
    tricky=$(printf 'quote " backslash \\ comment */ %%s %%n\nnew line\ttab \xc3\xa9 \xe2\x9c\x93 {{ x }}')
    printf '%s' "$tricky" > tricky.txt
    http POST "$URL/echo" -H 'Content-Type: text/plain' -H 'X-Echo: a"b\c */ %s' \
        --data-binary @tricky.txt
    expect_eq "echo: status" "$HTTP_STATUS" 200
    expect_true "echo: body byte for byte" cmp -s tricky.txt "$E2E_DIR/last.body"
    expect_eq "echo: header" "$(header X-Echo)" 'a"b\c */ %s'
    http POST "$URL/echo?mode=json&a=1&a=2&b=x%20y" -H 'Content-Type: application/json' \
        -H 'X-Echo: one' -H 'X-Echo: two' -d '{"v":0.1,"s":"\u00e9\n\"","big":1e21,"arr":[1,{"k":null}]}'
    expect_eq "echo json: typed values, first query key wins, joined headers" "$HTTP_BODY" \
        '{"body":{"v":0.1,"s":"é\n\"","big":1e+21,"arr":[1,{"k":null}]},"text":"v=0.1","q":{"mode":"json","a":"1","b":"x y"},"h":"one, two","method":"POST","path":"/echo"}'
    http GET "$URL/echo?status=299"
    expect_eq "echo: templated status" "$HTTP_STATUS" 299
    # a templated 204 or 304 sends no body, and the connection stays usable:
    # a body sent anyway would be read as the start of the next answer
    local out
    out=$(curl -s --max-time 20 -d hello -w '<%{http_code}>' \
          "$URL/echo?status=204" "$URL/echo?status=304" "$URL/echo?status=200")
    expect_eq "echo: templated 204 and 304 send no body" "$out" '<204><304>hello<200>'
}

# ---- 200 concurrent requests, each its own answer -------------------------------
test_concurrent() {
    local i bad=0
    for i in $(seq 1 200); do
        curl -s --max-time 30 -H 'Content-Type: application/json' \
            -d "{\"id\":\"c$i\",\"n\":$i}" -o "conc.$i" "$URL/respond" &
    done
    wait
    for i in $(seq 1 200); do
        grep -q "^{\"received\":\"c$i\",\"n\":$((i * 2)),\"run\":" "conc.$i" || bad=$((bad + 1))
    done
    expect_eq "200 concurrent: every answer its own" "$bad" 0
}

# ---- long tails side by side --------------------------------------------------------
# Each of the 24 tail steps hashes a 2 MB body (a millisecond or more):
# three such runs at once, on the workers, must each log all 24 lines, in
# order, with the right hash.
test_long_tail() {
    local i want got sum
    head -c 1500000 /dev/urandom | base64 -w0 > long.txt
    sum=$(sha256sum long.txt | cut -d' ' -f1)
    for i in 1 2 3; do
        curl -s --max-time 30 -H 'Content-Type: text/plain' --data-binary @long.txt \
            -o "long.$i" -w '%{http_code}' "$URL/long-tail?id=r$i" > "long.$i.status" &
    done
    wait
    for i in 1 2 3; do
        expect_eq "long tail r$i: answered" "$(cat "long.$i.status")" 200
    done
    expect_true "long tails: the last lines" wait_for_line long-tail.log '^24 r3 ' 60
    wait_for_line long-tail.log '^24 r1 ' 10 && wait_for_line long-tail.log '^24 r2 ' 10
    want=$(seq -s ' ' 1 24)
    for i in 1 2 3; do
        got=$(awk -v id="r$i" -v sum="$sum" '$2 == id && $3 == sum { printf "%s%s", n++ ? " " : "", $1 }' long-tail.log)
        expect_eq "long tail r$i: 24 steps in order, each with the body's hash" "$got" "$want"
    done
}

# ---- routing and the HTTP rules of §4.8 -------------------------------------------
test_routing() {
    http POST "$URL/nope"
    expect_eq "unknown path: 404" "$HTTP_STATUS" 404
    expect_eq "404: no run id" "$(header X-Flusso-Run-Id)" ""
    http GET "$URL/respond"
    expect_eq "wrong method: 405" "$HTTP_STATUS" 405
    expect_eq "405: Allow" "$(header Allow)" "POST, PUT"
    http POST "$URL/respond/"
    expect_eq "no trailing-slash folding" "$HTTP_STATUS" 404
    http POST "$URL/respond" -H 'Content-Type: application/json' -d '{"id":'
    expect_eq "invalid JSON body: 400" "$HTTP_STATUS" 400
    expect_eq "400: body" "$HTTP_BODY" '{"error":"invalid JSON body"}'
    http GET "$URL/healthz"
    expect_eq "healthz" "$HTTP_STATUS $HTTP_BODY" '200 {"status":"ok"}'
}

test_respond_then_tail
test_branch_default
test_no_response
test_delay_first
test_failures
test_echo_bytes
test_concurrent
test_long_tail
test_routing
stop_handler "$MAIN_PID"
expect_eq "SIGTERM: exit 0" "$STOP_STATUS" 0

# ---- the payment example: signature checked in the workflow -----------------------
test_payment() {
    local body='{"id":"evt_1","amount":4200}' sig
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac s3cret -r | cut -d' ' -f1)
    PAYMENT_SECRET=s3cret start_handler payment.log ./payment --listen 0 || return 1
    http POST "$HANDLER_URL/hooks/payment" -H 'Content-Type: application/json' \
        -H "X-Signature: $sig" -d "$body"
    expect_eq "payment: signed -> 200" "$HTTP_STATUS $HTTP_BODY" '200 {"received":true}'
    http POST "$HANDLER_URL/hooks/payment" -H 'Content-Type: application/json' \
        -H "X-Signature: $sig" -d '{"id":"evt_1","amount":1}'
    expect_eq "payment: tampered -> 401" "$HTTP_STATUS $HTTP_BODY" '401 {"error":"invalid signature"}'
    expect_true "payment: log step ran" \
        wait_for_line payment.log '"message":"payment evt_1 for 4200"' 10
    stop_handler "$HANDLER_PID"
}

# ---- the demo's payment example: signature checked by the trigger's verify --------
test_payment_verify() {
    local body='{"id":"evt_2","amount":4200}' sig
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac s3cret -r | cut -d' ' -f1)
    PAYMENT_SECRET=s3cret start_handler verify.log ./payment-verify --listen 0 \
        --journal none || return 1
    http POST "$HANDLER_URL/hooks/payment-verify" -H 'Content-Type: application/json' \
        -H "X-Signature: $sig" -d '{"id":"evt_3","amount":1}'
    expect_eq "verify: tampered -> 401" "$HTTP_STATUS $HTTP_BODY" '401 {"error":"invalid signature"}'
    http POST "$HANDLER_URL/hooks/payment-verify" -H 'Content-Type: application/json' \
        -H "X-Signature: $sig" -d "$body"
    expect_eq "verify: signed -> 200" "$HTTP_STATUS $HTTP_BODY" '200 {"received":true}'
    expect_true "verify: log step ran" \
        wait_for_line verify.log '"message":"payment evt_2 for 4200"' 10
    stop_handler "$HANDLER_PID"
    # the tampered request started no run: one run, so one `done` line
    expect_eq "verify: a bad signature starts no run" \
        "$(grep -c '"step":"done"' verify.log)" 1
}

# ---- the handler CLI of spec §6 ---------------------------------------------------------
test_cli() {
    local out
    out=$(env -u PAYMENT_SECRET ./payment --help 2>&1)
    expect_eq "--help exits 0 without env" "$?" 0
    expect_match "--help lists the endpoint" "$out" 'POST /hooks/payment'
    expect_match "--help lists the env variable" "$out" 'PAYMENT_SECRET'
    out=$(env -u PAYMENT_SECRET ./payment --listen 0 2>&1)
    expect_eq "missing env: exit 2" "$?" 2
    expect_match "missing env: named" "$out" 'PAYMENT_SECRET'
    ./payment --bogus > /dev/null 2>&1
    expect_eq "unknown option: exit 2" "$?" 2
    # the HTTP threads share the port (SO_REUSEPORT): a second handler must
    # still find it taken
    PAYMENT_SECRET=s3cret start_handler first.log ./payment --listen 127.0.0.1:0 \
        --journal none || return 1
    out=$(PAYMENT_SECRET=s3cret timeout 10 ./payment --listen "127.0.0.1:$HANDLER_PORT" \
        --journal none 2>&1)
    expect_eq "port in use: exit 2" "$?" 2
    expect_eq "port in use: says so" "$out" \
        "flusso: cannot listen on 127.0.0.1:$HANDLER_PORT: Address already in use"
    http POST "$HANDLER_URL/hooks/payment" -d '{}'
    expect_eq "port in use: the first handler still answers" "$HTTP_STATUS" 401
    stop_handler "$HANDLER_PID"
}

# ---- a run waiting 150 ms keeps only what its later steps read (keep.h) -----
# Fields, nested fields, a literal and a computed index, a value used whole,
# a duplicated key (the first counts), outputs of earlier steps, a header:
# each must read as it does after a 10 ms delay, whose run is not copied
# (the same workflow under another path).  The debug log says which runs
# were copied.
test_keep_after_delay() {
    local body='{"id":"k-1","a":41,"nested":{"deep":{"x":"dx","y":"dy"},"n":1},"list":[10,20,30],"items":["i0","i1","i2"],"obj":{"b":[1,{"c":null}]},"dup":"first","dup":"second","pad":"..."}'
    sed -e 's#"/keep"#"/keep-short"#' -e 's/"ms": 150/"ms": 10/' \
        -e 's/keep\.log/keep-short.log/g' -e 's/"keep-after-delay"/"keep-short-delay"/' \
        "$WF/keep-after-delay.json" > keep-short-delay.json
    compile keep "$WF/keep-after-delay.json" keep-short-delay.json || return 1
    start_handler keep.err ./keep --listen 127.0.0.1:0 --log-level debug || return 1
    for path in keep keep-short; do
        http POST "$HANDLER_URL/$path?i=2&z=1" -H 'Content-Type: application/json' \
            -H 'X-Tag: t-7' -d "$body"
        expect_eq "$path: answered" "$HTTP_STATUS" 200
        expect_true "$path: the step after the gate ran" \
            wait_for_line "$path.log" '^n-k-1 POST$' 15
    done
    expect_eq "keep: the tail read what it would have without the copy" \
        "$(grep '^k-1' keep.log)" 'k-1|dx|20|i2|{"b":[1,{"c":null}]}|42|true|t-7|150||2|first'
    expect_eq "keep: the same as after the 10 ms delay, not copied" \
        "$(grep '^k-1' keep.log | sed 's/|150|/|10|/')" "$(grep '^k-1' keep-short.log)"
    expect_eq "keep: only the 150 ms delay's run was copied" \
        "$(grep -c '"event":"compacted"' keep.err)" 1
    stop_handler "$HANDLER_PID"
}

# ---- 5,000 runs waiting in a delay, thread count unchanged ---------------------------
test_sleepers() {
    start_handler sleepers.err ./sleepers --listen 127.0.0.1:0 || return 1
    local before out lines
    before=$(threads "$HANDLER_PID")
    out=$("$LOADGEN" 127.0.0.1 "$HANDLER_PORT" /sleep 5000 202 "$HANDLER_PID")
    echo "  5000 sleeping runs: $out (threads before: $before)"
    expect_match "5000 sleepers: all answered 202" "$out" '^ok=5000 failed=0 '
    expect_match "5000 sleepers: thread count fixed" "$out" \
        "threads_min=$before threads_max=$before "
    expect_true "5000 sleepers: all woke" \
        wait_for_line sleepers.log '.' 30
    local end=$(( $(now_ms) + 60000 ))
    while [ "$(wc -l < sleepers.log)" -lt 5000 ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.2
    done
    lines=$(wc -l < sleepers.log)
    expect_eq "5000 sleepers: 5000 lines" "$lines" 5000
    expect_eq "5000 sleepers: threads after" "$(threads "$HANDLER_PID")" "$before"
    stop_handler "$HANDLER_PID"
}

# ---- generated C is deterministic ----------------------------------------------------
test_deterministic() {
    "$FLUSSOC" --emit-c a.c "$WF/echo.json" "$ROOT/examples/payment.json"
    "$FLUSSOC" --emit-c b.c "$WF/echo.json" "$ROOT/examples/payment.json"
    expect_true "--emit-c byte-identical across runs" cmp -s a.c b.c
}

# ---- every codegen golden compiles cleanly with warnings as errors --------------
test_goldens_compile() {
    local f bad=0
    for f in "$ROOT"/tests/golden/valid-*.json; do
        CFLAGS="-Wall -Wextra -Werror" "$FLUSSOC" "$f" -o golden.bin 2> golden.log ||
            { bad=$((bad + 1)); echo "  $f:"; sed 's/^/  | /' golden.log; }
    done
    expect_eq "codegen goldens compile with -Wall -Wextra -Werror" "$bad" 0
}

test_payment
test_payment_verify
test_cli
test_keep_after_delay
test_goldens_compile
test_sleepers
test_deterministic

echo "e2e compiled: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
