#!/usr/bin/env bash
# suite-ops.sh - operating the handler, proven against hostile input:
# spec §4.5-§4.8 answers byte for byte, malformed and oversized requests,
# slow clients cut off by the header and body deadlines, 2,000 connections
# at once, --max-inflight / --max-queue (503 before anything is accepted,
# and no acknowledged run lost), graceful shutdown during a burst, the
# JSON log lines and /metrics.  After every hostile request the handler
# must still answer correctly.
#
# Usage: tests/e2e/suite-ops.sh FLUSSOC BUILDDIR   (env CC, E2E_CFLAGS)
# Handlers are compiled from tests/e2e/workflows/ops-*.json; the hostile
# clients from tests/e2e/hostile.c.  Time bounds are generous: the suite
# also runs under ASan on 2 busy cores.
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
HOSTILE=$E2E_DIR/hostile
OPS=$E2E_DIR/ops
RUN_ID_RE='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

build() {
    # shellcheck disable=SC2086
    $CC $E2E_CFLAGS $WARN -o "$HOSTILE" "$ROOT/tests/e2e/hostile.c" || return 1
    "$FLUSSOC" "$WF"/ops-*.json -o "$OPS" 2> "$E2E_DIR/ops.cc.log" || {
        sed 's/^/  | /' "$E2E_DIR/ops.cc.log" >&2
        return 1
    }
}

# ---- helpers -----------------------------------------------------------------

# start DIR FLAGS...: starts the ops handler in $E2E_DIR/DIR (where its log
# files land), its stderr in DIR/handler.log; sets PORT, URL, PID, LOG.
start() {
    local dir=$E2E_DIR/$1
    shift
    mkdir -p "$dir"
    cd "$dir" || return 1
    start_handler "$dir/handler.log" "$OPS" --listen 127.0.0.1:0 "$@" || { cd "$ROOT"; return 1; }
    cd "$ROOT" || return 1
    PORT=$HANDLER_PORT URL=$HANDLER_URL PID=$HANDLER_PID LOG=$dir/handler.log
}

# mkreq NAME FORMAT [ARGS]: a raw request, printf-formatted, in NAME.bin.
mkreq() {
    local name=$1
    shift
    # shellcheck disable=SC2059
    printf "$@" > "$E2E_DIR/$name.bin"
}

# raw NAME [WAIT_MS]: sends NAME.bin as it is; RAW_FILE holds the answer,
# RAW_STATUS its status ("none" when nothing came back), RAW_BODY its body.
raw() {
    RAW_FILE=$E2E_DIR/$1.out
    "$HOSTILE" send "$PORT" "$E2E_DIR/$1.bin" "${2:-5000}" > "$RAW_FILE"
    RAW_STATUS=$(head -n1 "$RAW_FILE" | sed -n 's/^HTTP\/1\.[01] \([0-9][0-9][0-9]\).*/\1/p')
    [ -n "$RAW_STATUS" ] || RAW_STATUS=none
    RAW_BODY=$(sed '1,/^\r\{0,1\}$/d' "$RAW_FILE")
}

raw_header() {
    sed '/^\r\{0,1\}$/q' "$RAW_FILE" | grep -i "^$1:" | head -n1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

# alive WHAT: the handler still answers /healthz and a run correctly.
alive() {
    http GET "$URL/healthz"
    expect_eq "$1: then /healthz" "$HTTP_STATUS $HTTP_BODY" '200 {"status":"ok"}'
    http POST "$URL/ops/echo?a=1" -H 'Content-Type: application/json' -d '{"x":1}'
    expect_eq "$1: then a run" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"queries":1,"fields":1,"bin":null,"body":{"x":1}}'
}

# metric FILE SERIES: the value of one series in a /metrics text.
metric() {
    awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "absent" }' "$1"
}

scrape() {
    curl -s --max-time 20 -o "$1" "$URL/metrics"
}

# wait_metric FILE SERIES VALUE SECS: scrapes until SERIES is VALUE.
wait_metric() {
    local end=$(( $(now_ms) + $4 * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        scrape "$1"
        [ "$(metric "$1" "$2")" = "$3" ] && return 0
        sleep 0.1
    done
    return 1
}

valid_utf8() {
    printf '%s' "$1" | iconv -f UTF-8 -t UTF-8 > /dev/null 2>&1
}

# many FILE N METHOD PATH [ID_PREFIX]: N requests at once; "i status" lines.
many() {
    local out=$1
    shift
    "$HOSTILE" many "$PORT" "$@" > "$out" 2> /dev/null
}

count_status() {       # count_status FILE RE
    awk -v re="^($2)\$" '$2 ~ re { n++ } END { print n + 0 }' "$1"
}

# ---- §4.5-§4.8: the answers, byte for byte -----------------------------------

test_refusals() {
    local t0
    http POST "$URL/nope" -d x
    expect_eq "404" "$HTTP_STATUS $HTTP_BODY" '404 {"error":"not found"}'
    expect_eq "404: no run id" "$(header X-Flusso-Run-Id)" ""
    http GET "$URL/ops/echo"
    expect_eq "405" "$HTTP_STATUS $HTTP_BODY" '405 {"error":"method not allowed"}'
    expect_eq "405: Allow" "$(header Allow)" POST
    expect_eq "405: no run id" "$(header X-Flusso-Run-Id)" ""
    http DELETE "$URL/ops/small"
    expect_eq "405: Allow in declared order" "$(header Allow)" "POST, PUT"
    head -c 1024 /dev/zero | tr '\0' x > "$E2E_DIR/1024.txt"
    head -c 1025 /dev/zero | tr '\0' x > "$E2E_DIR/1025.txt"
    http POST "$URL/ops/small" --data-binary "@$E2E_DIR/1024.txt"
    expect_eq "a body of exactly max_body_bytes runs" "$HTTP_STATUS" 202
    expect_match "202: run id" "$(header X-Flusso-Run-Id)" "^$RUN_ID_RE\$"
    expect_eq "202: empty body, no content type" "$HTTP_BODY|$(header Content-Type)" "|"
    http POST "$URL/ops/small" --data-binary "@$E2E_DIR/1025.txt"
    expect_eq "one byte over max_body_bytes: 413" "$HTTP_STATUS $HTTP_BODY" \
        '413 {"error":"request body too large"}'
    expect_eq "413: no run id" "$(header X-Flusso-Run-Id)" ""
    http POST "$URL/ops/small" -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_DIR/1025.txt"
    expect_eq "one byte over, chunked: 413" "$HTTP_STATUS" 413
    http POST "$URL/nope" --data-binary "@$E2E_DIR/1025.txt"
    expect_eq "404 before 413" "$HTTP_STATUS" 404
    http GET "$URL/ops/small" --data-binary "@$E2E_DIR/1025.txt"
    expect_eq "405 before 413" "$HTTP_STATUS" 405
    http POST "$URL/ops/echo" -H 'Content-Type: application/json' -d '{"a":'
    expect_eq "400" "$HTTP_STATUS $HTTP_BODY" '400 {"error":"invalid JSON body"}'
    expect_eq "400: no run id" "$(header X-Flusso-Run-Id)" ""
    http GET "$URL/metrics"
    expect_match "/metrics: Prometheus text" "$(header Content-Type)" '^text/plain; version=0\.0\.4'
    http POST "$URL/metrics"
    expect_eq "POST /metrics: 405" "$HTTP_STATUS $(header Allow)" "405 GET"
    mkreq gig 'POST /ops/small HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\nabc'
    t0=$(now_ms)
    raw gig
    expect_eq "1 GB Content-Length: 413 at once" "$RAW_STATUS $RAW_BODY" \
        '413 {"error":"request body too large"}'
    expect_true "1 GB Content-Length: answered quickly" test $(( $(now_ms) - t0 )) -lt 4000
    alive "1 GB Content-Length"
}

test_run_answers() {
    local id
    http POST "$URL/ops/echo?h=hello" -H 'Content-Type: application/json' -d '{"k":[1,2]}'
    expect_eq "200: body" "$HTTP_BODY" '{"queries":1,"fields":1,"bin":null,"body":{"k":[1,2]}}'
    expect_eq "200: templated header" "$(header X-Echo)" hello
    expect_match "200: run id" "$(header X-Flusso-Run-Id)" "^$RUN_ID_RE\$"
    http POST "$URL/ops/echo?h=a%0d%0aX-Evil:%201"
    id=$(header X-Flusso-Run-Id)
    expect_eq "CR/LF in a rendered header: 500" "$HTTP_STATUS $HTTP_BODY" \
        "500 {\"error\":\"step 'reply' failed\",\"run_id\":\"$id\"}"
    expect_true "CR/LF: the log says why" grep -q \
        "\"run_id\":\"$id\".*\"message\":\"header X-Echo: value contains CR, LF or NUL\"" "$LOG"
    expect_match "CR/LF: run id" "$id" "^$RUN_ID_RE\$"
    expect_eq "CR/LF: nothing injected" "$(header X-Evil)" ""
    http POST "$URL/ops/echo?h=a%00b"
    expect_eq "NUL in a rendered header: 500" "$HTTP_STATUS" 500
    expect_match "NUL: message" "$HTTP_BODY" "^\\{\"error\":\"step 'reply' failed\",\"run_id\":\""
    http POST "$URL/ops/echo?h=a%0ab"
    expect_eq "LF alone in a rendered header: 500" "$HTTP_STATUS" 500
    http POST "$URL/ops/fail?ms=abc"
    id=$(header X-Flusso-Run-Id)
    expect_eq "failure before the answer: 500" "$HTTP_STATUS $HTTP_BODY" \
        "500 {\"error\":\"step 'hard' failed\",\"run_id\":\"$id\"}"
    expect_true "failure before the answer: the log says why" grep -q \
        "\"run_id\":\"$id\".*\"step\":\"hard\",\"event\":\"failed\",\"message\":\"delay ms must be a non-negative number" "$LOG"
    expect_match "500: run id" "$id" "^$RUN_ID_RE\$"
    http POST "$URL/ops/fail?mode=continue&ms=abc"
    expect_eq "on_error continue: the run goes on" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"error":"delay ms must be a non-negative number, got \"abc\"","waited":null}'
    expect_match "on_error continue: run id" "$(header X-Flusso-Run-Id)" "^$RUN_ID_RE\$"
    http POST "$URL/ops/fail?mode=continue&ms=5"
    expect_eq "on_error continue, success: error null" "$HTTP_STATUS $HTTP_BODY" \
        '200 {"error":null,"waited":5}'
    http POST "$URL/ops/late"
    id=$(header X-Flusso-Run-Id)
    expect_eq "504" "$HTTP_STATUS $HTTP_BODY" \
        "504 {\"error\":\"workflow did not respond in time\",\"run_id\":\"$id\"}"
    expect_match "504: run id" "$id" "^$RUN_ID_RE\$"
    expect_true "504 after ~500 ms ($HTTP_MS ms)" test "$HTTP_MS" -ge 450 -a "$HTTP_MS" -lt 3000
    expect_true "504: the run goes on (sent=false)" wait_for_line "$E2E_DIR/a/late.log" '^late sent=false$' 15
}

# ---- hostile input, each followed by a correct answer ------------------------

test_malformed() {
    local i=0 req
    for req in 'GARBAGE\r\n\r\n' 'GET\r\n\r\n' '\r\n\r\n\r\n' 'GET / HTTP/9.9\r\nHost: t\r\n\r\n' \
        '\x00\x01\x02\xff\xfe\r\n\r\n' 'GET /healthz HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n' \
        'GET /he\x00althz HTTP/1.1\r\nHost: t\r\n\r\n' \
        'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n' \
        'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n' \
        'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n' \
        'POST /ops/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' \
        'POST /ops/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n'; do
        i=$((i + 1))
        mkreq "bad$i" "$req"
        raw "bad$i" 3000
        expect_match "malformed request $i: refused or closed ($RAW_STATUS)" "$RAW_STATUS" \
            '^(none|4[0-9][0-9]|505)$'
    done
    alive "malformed requests"
    mkreq cl2 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde'
    raw cl2
    expect_eq "two Content-Lengths: 400" "$RAW_STATUS $RAW_BODY" \
        '400 {"error":"ambiguous request body length"}'
    mkreq clte 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    raw clte
    expect_eq "Content-Length and Transfer-Encoding: 400" "$RAW_STATUS" 400
    alive "ambiguous framing"
}

test_big_headers() {
    { printf 'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: '; head -c 102400 /dev/zero | tr '\0' a
      printf '\r\n\r\n'; } > "$E2E_DIR/bighdr.bin"
    raw bighdr
    expect_match "100 KB of headers: 431 or closed ($RAW_STATUS)" "$RAW_STATUS" '^(431|none)$'
    { printf 'GET /healthz HTTP/1.1\r\nHost: t\r\n'
      for i in $(seq 1 3000); do printf 'X-H%d: v\r\n' "$i"; done; printf '\r\n'; } > "$E2E_DIR/manyhdr.bin"
    raw manyhdr
    expect_match "3,000 header lines: 431 or closed ($RAW_STATUS)" "$RAW_STATUS" '^(431|none)$'
    alive "huge headers"
}

test_bytes() {
    mkreq utf8hdr 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nX-Bin: \xff\xfe\x80abc\xc3\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
    raw utf8hdr
    expect_eq "invalid UTF-8 in a header: 200" "$RAW_STATUS" 200
    expect_true "invalid UTF-8 in a header: the JSON answer is valid UTF-8" valid_utf8 "$RAW_BODY"
    expect_match "invalid UTF-8 in a header: bytes replaced" "$RAW_BODY" \
        $'"bin":"(\xef\xbf\xbd){3}abc\xef\xbf\xbd"'
    mkreq nulhdr 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nX-Bin: a\x00b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
    raw nulhdr
    expect_match "NUL in a header: 200 or 400 ($RAW_STATUS)" "$RAW_STATUS" '^(200|400)$'
    [ "$RAW_STATUS" = 200 ] && expect_true "NUL in a header: valid UTF-8 JSON" valid_utf8 "$RAW_BODY"
    mkreq utf8body 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"a":"\xff\xfe\xc3x"}'
    raw utf8body
    expect_eq "invalid UTF-8 in a JSON body: 200" "$RAW_STATUS" 200
    expect_true "invalid UTF-8 in a JSON body: valid UTF-8 answer" valid_utf8 "$RAW_BODY"
    mkreq nulbody 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"a":"x\x00y"}'
    raw nulbody
    expect_eq "NUL in a JSON string: 400" "$RAW_STATUS $RAW_BODY" '400 {"error":"invalid JSON body"}'
    mkreq nultext 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\na\x00b'
    raw nultext
    expect_eq "NUL in a text body: kept, escaped" "$RAW_STATUS $RAW_BODY" \
        '200 {"queries":0,"fields":3,"bin":null,"body":"a\u0000b"}'
    alive "invalid UTF-8 and NUL bytes"
}

test_deep_and_wide() {
    local i
    { printf 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n'
      head -c 100000 /dev/zero | tr '\0' '['; } > "$E2E_DIR/deep.bin"
    raw deep
    expect_eq "JSON nested 100,000 deep: 400" "$RAW_STATUS $RAW_BODY" '400 {"error":"invalid JSON body"}'
    { printf 'POST /ops/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 500000\r\nConnection: close\r\n\r\n'
      for i in $(seq 1 100000); do printf '{"a":'; done; } > "$E2E_DIR/deepobj.bin"
    raw deepobj
    expect_eq "objects nested 100,000 deep: 400" "$RAW_STATUS $RAW_BODY" '400 {"error":"invalid JSON body"}'
    seq 0 9999 | awk '{ printf "%sk%d=%d", (NR > 1 ? "&" : ""), $1, $1 }' > "$E2E_DIR/form.txt"
    http POST "$URL/ops/echo" -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary "@$E2E_DIR/form.txt"
    expect_match "10,000 form fields: all of them" "$HTTP_STATUS $HTTP_BODY" '^200 \{"queries":0,"fields":10000,'
    { printf 'POST /ops/echo?'; seq 0 9999 | awk '{ printf "%s%x", (NR > 1 ? "&" : ""), $1 }'
      printf ' HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'; } > "$E2E_DIR/q10k.bin"
    raw q10k
    expect_match "10,000 query parameters: over the header memory, 431 or closed ($RAW_STATUS)" \
        "$RAW_STATUS" '^(431|414|none)$'
    # libmicrohttpd drops such a request without its completion callback
    # when the client hangs up first: the handler must still free it (the
    # sanitizer build reports a leak at exit otherwise).
    for i in 1 2 3 4 5; do
        raw q10k 200
    done
    { printf 'POST /ops/echo?'; seq 1 300 | awk '{ printf "%s%x=%d", (NR > 1 ? "&" : ""), $1, $1 }'
      printf ' HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'; } > "$E2E_DIR/q300.bin"
    raw q300
    expect_match "300 query parameters: all of them" "$RAW_STATUS $RAW_BODY" '^200 \{"queries":300,'
    alive "deep and wide input"
}

test_slow_clients() {
    local out ms
    out=$("$HOSTILE" slow "$PORT" headers 200 15000)
    ms=$(printf '%s' "$out" | sed -n 's/^closed after \([0-9]*\) ms$/\1/p')
    expect_true "headers one byte every 200 ms: cut off (${out})" test -n "$ms"
    [ -n "$ms" ] && expect_true "cut off by the 1.5 s header deadline ($ms ms)" test "$ms" -ge 1300 -a "$ms" -lt 6000
    out=$("$HOSTILE" slow "$PORT" headers 100000 15000)
    ms=$(printf '%s' "$out" | sed -n 's/^closed after \([0-9]*\) ms$/\1/p')
    expect_true "an idle connection after one byte: cut off ($out)" test -n "$ms"
    out=$("$HOSTILE" slow "$PORT" body 200 15000)
    ms=$(printf '%s' "$out" | sed -n 's/^closed after \([0-9]*\) ms$/\1/p')
    expect_true "a body one byte every 200 ms: cut off ($out)" test -n "$ms"
    [ -n "$ms" ] && expect_true "cut off by the 2.5 s body deadline ($ms ms)" test "$ms" -ge 2300 -a "$ms" -lt 7000
    scrape "$E2E_DIR/slow.metrics"
    expect_true "metrics: header timeouts counted" \
        test "$(metric "$E2E_DIR/slow.metrics" 'flusso_connections_timed_out_total{phase="headers"}')" -ge 2
    expect_true "metrics: body timeouts counted" \
        test "$(metric "$E2E_DIR/slow.metrics" 'flusso_connections_timed_out_total{phase="body"}')" -ge 1
    alive "slow clients"
}

test_connection_flood() {
    many "$E2E_DIR/flood.out" 2000 GET /healthz
    expect_eq "2,000 connections at once: all answered 200" "$(count_status "$E2E_DIR/flood.out" 200)" 2000
    alive "2,000 connections"
}

test_logs() {
    local log=$1
    expect_true "every stderr line but the first is a JSON object" \
        test "$(grep -cv '^{"time":"[0-9T:.-]*Z","level":"\(debug\|info\|warn\|error\)".*}$' "$log")" = 1
    expect_true "step_done lines: run, workflow, step, duration" \
        grep -Eq '^\{"time":"[^"]+","level":"debug","run_id":"[0-9a-f-]{36}","workflow":"ops-echo","step":"reply","event":"step_done","duration_ms":[0-9]+,"trace_id":"[0-9a-f]{32}"\}$' "$log"
    expect_true "a delay's step_done counts its wait" \
        grep -Eq '"workflow":"ops-late","step":"wait","event":"step_done","duration_ms":1[0-9]{3},"trace_id":"[0-9a-f]{32}"\}$' "$log"
    expect_true "finished lines carry the run's duration" \
        grep -Eq '"workflow":"ops-echo","event":"finished","duration_ms":[0-9]+,"trace_id":"[0-9a-f]{32}"\}$' "$log"
    expect_true "answered lines carry the status" \
        grep -Eq '"event":"answered","message":"status 504","duration_ms":[0-9]+,"trace_id":"[0-9a-f]{32}"\}$' "$log"
    expect_true "a failed run: error level, step and message" \
        grep -Eq '"level":"error","run_id":"[0-9a-f-]{36}","workflow":"ops-fail","step":"hard","event":"failed","message":"delay ms must be' "$log"
    expect_true "an on_error continue failure: warn step_error" \
        grep -Eq '"level":"warn",.*"step":"soft","event":"step_error","message":"delay ms must be' "$log"
    expect_true "connection timeouts are logged" grep -q '"event":"timeout"' "$log"
}

# ---- bounded work ------------------------------------------------------------

test_max_inflight() {
    start inflight --max-inflight 3 || { fail "max-inflight: start"; return; }
    many "$E2E_DIR/wave.out" 10 POST '/ops/slow?ms=3000' &
    local wave=$!
    sleep 0.5
    scrape "$E2E_DIR/inflight.metrics"
    expect_eq "overloaded: 3 runs in flight" \
        "$(metric "$E2E_DIR/inflight.metrics" flusso_runs_in_flight)" 3
    http GET "$URL/nope"
    expect_eq "overloaded: 404 still first" "$HTTP_STATUS" 404
    http GET "$URL/ops/slow"
    expect_eq "overloaded: 405 still before 503" "$HTTP_STATUS" 405
    http POST "$URL/ops/small" --data-binary "@$E2E_DIR/1025.txt"
    expect_eq "overloaded: 503 before 413" "$HTTP_STATUS" 503
    http POST "$URL/ops/echo" -d x
    expect_eq "overloaded: 503 body" "$HTTP_STATUS $HTTP_BODY" '503 {"error":"overloaded"}'
    expect_eq "overloaded: Retry-After" "$(header Retry-After)" 1
    expect_eq "overloaded: no run id" "$(header X-Flusso-Run-Id)" ""
    http GET "$URL/healthz"
    expect_eq "overloaded: /healthz still 200" "$HTTP_STATUS" 200
    wait "$wave"
    expect_eq "max-inflight 3: exactly 3 of 10 ran" "$(count_status "$E2E_DIR/wave.out" 200)" 3
    expect_eq "max-inflight 3: the other 7 got 503" "$(count_status "$E2E_DIR/wave.out" 503)" 7
    http POST "$URL/ops/slow"
    expect_eq "after the wave: runs again" "$HTTP_STATUS" 200
    expect_true "after the wave: nothing in flight" \
        wait_metric "$E2E_DIR/inflight2.metrics" flusso_runs_in_flight 0 10
    expect_true "overload is logged" grep -q '"level":"warn".*"event":"overloaded"' "$LOG"
    stop_handler "$PID"
    expect_eq "max-inflight: exit 0" "$STOP_STATUS" 0
}

# every_tail OUT... : each 2xx id of the waves has exactly one tail line,
# and nothing else has one.
tails_match() {
    local dir=$1 ok=0 id
    shift
    cat "$@" | awk '$2 ~ /^2/ { print $3 }' | sort > "$dir/acked"
    sed -n 's/^tail //p' "$dir/tail.log" 2>/dev/null | sort > "$dir/tailed"
    cmp -s "$dir/acked" "$dir/tailed"
}

# many_ids OUT N PATH PREFIX: like many, with the id of each request added.
many_ids() {
    local out=$1 n=$2 path=$3 prefix=$4
    many "$out.raw" "$n" POST "$path" "$prefix"
    awk -v p="$prefix" '{ print $1, $2, p $1 }' "$out.raw" > "$out"
}

test_max_queue() {
    local dir=$E2E_DIR/queue acked
    start queue --max-queue 4 || { fail "max-queue: start"; return; }
    many_ids "$dir/w1" 10 '/ops/tail?ms=2500' w1-
    many_ids "$dir/w2" 20 '/ops/tail?ms=2500' w2-
    acked=$(cat "$dir/w1" "$dir/w2" | awk '$2 ~ /^2/' | wc -l)
    expect_true "max-queue 4: some runs acknowledged ($acked)" test "$acked" -ge 4
    expect_true "max-queue 4: the second wave gets 503s" \
        test "$(count_status "$dir/w2" 503)" -ge 1
    expect_eq "max-queue: every request 2xx or 503" \
        "$(cat "$dir/w1" "$dir/w2" | awk '$2 !~ /^(2..|503)$/' | wc -l)" 0
    scrape "$dir/q.metrics"
    expect_true "metrics: queued work while tails wait" \
        test "$(metric "$dir/q.metrics" flusso_queued_work)" -ge 4
    http POST "$URL/ops/tail" -d x
    expect_eq "queue full: 503 overloaded" "$HTTP_STATUS $HTTP_BODY" '503 {"error":"overloaded"}'
    expect_eq "queue full: Retry-After" "$(header Retry-After)" 1
    local end=$(( $(now_ms) + 20000 ))
    while [ "$(cat "$dir/tail.log" 2>/dev/null | wc -l)" -lt "$acked" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.1
    done
    sleep 0.3
    expect_true "every acknowledged run's tail ran, once, and no other" tails_match "$dir" "$dir/w1" "$dir/w2"
    http POST "$URL/ops/tail?ms=0" -H 'Content-Type: application/json' -d '{"id":"after"}'
    expect_eq "queue drained: accepted again" "$HTTP_STATUS" 200
    stop_handler "$PID"
    expect_eq "max-queue: exit 0" "$STOP_STATUS" 0
}

# ---- graceful shutdown -------------------------------------------------------

test_shutdown_burst() {
    local dir=$E2E_DIR/drain w1 w2 t0 took i
    start drain --grace-ms 10000 || { fail "shutdown: start"; return; }
    many_ids "$dir/w1" 40 '/ops/tail?ms=1500' d1- &
    w1=$!
    sleep 0.3
    t0=$(now_ms)
    kill -TERM "$PID"
    # "after SIGTERM" is after the handler has seen it: on a busy machine
    # the signal can take a while to be handled, and a request before that
    # is rightly accepted
    for ((i = 0; i < 250; i++)); do
        http GET "$URL/healthz"
        [ "$HTTP_STATUS" = 503 ] && break
        sleep 0.02
    done
    many_ids "$dir/w2" 20 '/ops/tail?ms=1500' d2- &
    w2=$!
    sleep 0.2
    http GET "$URL/healthz"
    expect_eq "draining: /healthz 503" "$HTTP_STATUS $HTTP_BODY" '503 {"status":"draining"}'
    http POST "$URL/ops/tail" -d x
    expect_eq "draining: a new request 503" "$HTTP_STATUS $HTTP_BODY" '503 {"error":"shutting down"}'
    expect_eq "draining: Retry-After" "$(header Retry-After)" 5
    expect_eq "draining: no run id" "$(header X-Flusso-Run-Id)" ""
    wait "$w1" "$w2"
    stop_handler "$PID" 30
    took=$(( $(now_ms) - t0 ))
    expect_eq "shutdown during a burst: exit 0" "$STOP_STATUS" 0
    expect_true "burst before SIGTERM: acknowledged" test "$(count_status "$dir/w1" 200)" -ge 1
    expect_eq "burst after SIGTERM: nothing acknowledged" "$(count_status "$dir/w2" '2..')" 0
    expect_true "every acknowledged run's tail completed before exit" tails_match "$dir" "$dir/w1" "$dir/w2"
    expect_true "exit waited for the 1.5 s tails ($took ms)" test "$took" -ge 1200
    expect_true "drained is logged" grep -q '"event":"drained"' "$LOG"
    expect_true "nothing abandoned" test "$(grep -c '"event":"abandoned"' "$LOG")" = 0
}

test_shutdown_grace_over() {
    local dir=$E2E_DIR/grace id t0 took
    start grace --grace-ms 1000 || { fail "grace: start"; return; }
    http POST "$URL/ops/tail?ms=8000" -H 'Content-Type: application/json' -d '{"id":"never"}'
    id=$(header X-Flusso-Run-Id)
    expect_eq "grace: acknowledged" "$HTTP_STATUS" 200
    t0=$(now_ms)
    stop_handler "$PID" 20
    took=$(( $(now_ms) - t0 ))
    expect_eq "grace over: exit 0" "$STOP_STATUS" 0
    expect_true "grace over: stopped after about 1 s ($took ms)" test "$took" -ge 900 -a "$took" -lt 8000
    expect_true "grace over: the unfinished count is logged" \
        grep -q '"level":"warn","event":"unfinished","message":"1 run(s) did not finish' "$LOG"
    expect_true "grace over: the run is logged abandoned, by id" \
        grep -q "\"run_id\":\"$id\",\"workflow\":\"ops-tail\",\"step\":\"wait\",\"event\":\"abandoned\"" "$LOG"
    expect_true "grace over: its tail did not run" test ! -s "$dir/tail.log"
}

# ---- /metrics counts what was sent --------------------------------------------

test_metrics() {
    local m=$E2E_DIR/m1.metrics i
    start metrics --workers 2 || { fail "metrics: start"; return; }
    for i in 1 2 3; do http POST "$URL/ops/echo" -d x; done
    http GET "$URL/nope"; http GET "$URL/nope"
    http GET "$URL/ops/echo"
    http POST "$URL/ops/fail?ms=abc"
    http POST "$URL/ops/small" -d x
    http POST "$URL/ops/small" --data-binary "@$E2E_DIR/1025.txt"
    http POST "$URL/ops/echo" -H 'Content-Type: application/json' -d '['
    http GET "$URL/healthz"
    scrape "$m"            # inline runs finish before their answer leaves
    expect_eq "metrics: 200s (echo)" "$(metric "$m" 'flusso_http_requests_total{workflow="ops-echo",status="200"}')" 3
    expect_eq "metrics: 200s (no workflow: /healthz)" "$(metric "$m" 'flusso_http_requests_total{workflow="",status="200"}')" 1
    expect_eq "metrics: 202s" "$(metric "$m" 'flusso_http_requests_total{workflow="ops-small",status="202"}')" 1
    expect_eq "metrics: 400s" "$(metric "$m" 'flusso_http_requests_total{workflow="ops-echo",status="400"}')" 1
    expect_eq "metrics: 404s" "$(metric "$m" 'flusso_http_requests_total{workflow="",status="404"}')" 2
    expect_eq "metrics: 405s" "$(metric "$m" 'flusso_http_requests_total{workflow="",status="405"}')" 1
    expect_eq "metrics: 413s" "$(metric "$m" 'flusso_http_requests_total{workflow="ops-small",status="413"}')" 1
    expect_eq "metrics: 500s" "$(metric "$m" 'flusso_http_requests_total{workflow="ops-fail",status="500"}')" 1
    expect_eq "metrics: no other status" "$(grep -c '^flusso_http_requests_total{' "$m")" 8
    expect_eq "metrics: runs started (echo)" "$(metric "$m" 'flusso_runs_started_total{workflow="ops-echo"}')" 3
    expect_eq "metrics: runs finished (echo)" "$(metric "$m" 'flusso_runs_finished_total{workflow="ops-echo"}')" 3
    expect_eq "metrics: runs started (fail)" "$(metric "$m" 'flusso_runs_started_total{workflow="ops-fail"}')" 1
    expect_eq "metrics: runs failed (fail)" "$(metric "$m" 'flusso_runs_failed_total{workflow="ops-fail"}')" 1
    expect_eq "metrics: runs failed (echo)" "$(metric "$m" 'flusso_runs_failed_total{workflow="ops-echo"}')" 0
    expect_eq "metrics: step latency count" \
        "$(metric "$m" 'flusso_step_duration_seconds_count{workflow="ops-echo",step="reply",type="webhook_response"}')" 3
    expect_eq "metrics: +Inf bucket = count" \
        "$(metric "$m" 'flusso_step_duration_seconds_bucket{workflow="ops-echo",step="reply",type="webhook_response",le="+Inf"}')" 3
    expect_true "metrics: buckets never decrease" awk '
        /^flusso_step_duration_seconds_bucket\{workflow="ops-echo",step="reply"/ {
            if ($2 < last) bad = 1; last = $2 }
        END { exit bad }' "$m"
    expect_eq "metrics: run duration count" \
        "$(metric "$m" 'flusso_run_duration_seconds_count{workflow="ops-echo"}')" 3
    expect_eq "metrics: nothing in flight" "$(metric "$m" flusso_runs_in_flight)" 0
    expect_eq "metrics: nothing queued" "$(metric "$m" flusso_queued_work)" 0
    expect_true "metrics: every sample line is NAME{labels} VALUE" \
        test "$(grep -v '^#' "$m" | grep -cvE '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+(\.[0-9]+)?$')" = 0
    scrape "$E2E_DIR/m2.metrics"
    expect_eq "metrics: the first scrape counts in the second" \
        "$(metric "$E2E_DIR/m2.metrics" 'flusso_http_requests_total{workflow="",status="200"}')" 2
    stop_handler "$PID"
}

test_sanitizers() {
    expect_eq "no sanitizer reports" \
        "$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR" --include='*.log' | wc -l)" 0
}

main() {
    echo "e2e ops: building the ops handler and the hostile clients"
    build || { echo "e2e ops: build failed" >&2; exit 1; }
    start a --log-level debug --header-timeout-ms 1500 --body-timeout-ms 2500 ||
        { echo "e2e ops: cannot start" >&2; exit 1; }
    local main_pid=$PID
    test_refusals
    test_run_answers
    test_malformed
    test_big_headers
    test_bytes
    test_deep_and_wide
    test_slow_clients
    test_connection_flood
    stop_handler "$main_pid" 20
    expect_eq "exit 0 after all that" "$STOP_STATUS" 0
    test_logs "$E2E_DIR/a/handler.log"
    test_max_inflight
    test_max_queue
    test_shutdown_burst
    test_shutdown_grace_over
    test_metrics
    test_sanitizers
    e2e_finish
}

main "$@"
