#!/usr/bin/env bash
# suite-dedupe.sh - duplicate deliveries end to end (spec 8.3): for each
# verify preset's delivery id and for a template key, a repeated delivery
# starts no run and gets the first answer again - status, content type,
# headers and body the same, X-Flusso-Run-Id the original run's,
# X-Flusso-Duplicate: true - also after a restart; 409 with Retry-After
# while the first has not answered; a 500 before the answer frees the key;
# a 504'd run's later answer is recorded and replayed; a run abandoned by
# a crash frees its key; the window expires; keys belong to their
# workflow; 200 concurrent copies of one delivery start one run; unusable
# keys are a 400; --journal none keeps keys in memory; and the crash test
# with duplicates mixed in: every acknowledged delivery's tail ran, and no
# key's tail ran for two different runs.
#
# Usage: tests/e2e/suite-dedupe.sh FLUSSOC BUILDDIR
# Environment: CC, E2E_CFLAGS (as `make test-e2e` sets them).
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CRASHLOAD=$BUILD/tests/crashload
UUID='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
unset FLUSSO_LISTEN FLUSSO_JOURNAL_FAIL_AFTER
. "$ROOT/tests/e2e/lib.sh"
e2e_init
cd "$E2E_DIR" || exit 1

export GH_SECRET='gh-dedupe-secret-0b1c'
export STRIPE_SECRET='whsec_stripeDedupeSecret77a1'
export SHOPIFY_SECRET='shpss_dedupe-secret-93f0'
export SW_SECRET='whsec_obLD1OX2BxgpOktcbX6PkBEiM0RVZneImaq7zN3u/wA='
SW_KEY_HEX=$(printf '%s' "${SW_SECRET#whsec_}" | openssl base64 -d -A | od -An -tx1 -v | tr -d ' \n')
export CRASH_SECRET=dedupe-crash-s3cret

hmac_hex() { openssl dgst -sha256 -hmac "$1" < "$2" | awk '{ print $NF }'; }
hmac_b64() { openssl dgst -sha256 -hmac "$1" -binary < "$2" | openssl base64 -A; }
hmac_b64_hexkey() {
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -binary < "$2" | openssl base64 -A
}

# ---- the workflows -----------------------------------------------------------

# preset NAME VERIFY: POST /NAME, dedupe by the scheme's delivery id; the
# answer differs from run to run (the run id in a header and the body),
# so a replay is recognisable; the tail appends "NAME <run id>" to
# tail-NAME.log.
preset() {
    cat > "wf-$1.json" <<EOF
{
  "name": "d-$1",
  "trigger": { "key": "trigger", "type": "webhook_trigger",
    "config": { "path": "/$1", "verify": $2, "dedupe": true } },
  "steps": [
    { "key": "ack", "type": "webhook_response",
      "config": { "status_code": 201, "content_type": "application/vnd.dedupe+json",
                  "headers": { "X-Run": "{{ run.id }}", "X-Kind": "$1" },
                  "body": { "run": "{{ run.id }}", "at": "{{ now() }}" } } },
    { "key": "tail", "type": "log",
      "config": { "file": "tail-$1.log", "message": "$1 {{ run.id }}" } }
  ]
}
EOF
}
preset github '{ "scheme": "github", "secret": "{{ env.GH_SECRET }}" }'
preset stripe '{ "scheme": "stripe", "secret": "{{ env.STRIPE_SECRET }}" }'
preset shopify '{ "scheme": "shopify", "secret": "{{ env.SHOPIFY_SECRET }}" }'
preset standard '{ "scheme": "standard_webhooks", "secret": "{{ env.SW_SECRET }}" }'

# keyed NAME DEDUPE STEPS...: POST /NAME with a template key.
keyed() {
    local name=$1 dedupe=$2
    shift 2
    local steps
    steps=$(IFS=,; printf '%s' "$*")
    cat > "wf-$name.json" <<EOF
{
  "name": "d-$name",
  "trigger": { "key": "trigger", "type": "webhook_trigger",
    "config": { "path": "/$name", "response_timeout_ms": 600, "dedupe": $dedupe } },
  "steps": [ $steps ]
}
EOF
}
TAIL='{ "key": "tail", "type": "log", "config": { "file": "tail.log", "message": "{{ trigger.output.body.id }} {{ run.id }}" } }'
ANSWER='{ "key": "ack", "type": "webhook_response", "config": { "status_code": "{{ default(trigger.output.headers.x-status, 200) }}", "headers": { "X-Run": "{{ run.id }}" }, "body": "order {{ trigger.output.body.id }} by {{ run.id }}", "content_type": "text/plain; charset=utf-8" } }'
keyed order '{ "key": "{{ trigger.output.body.id }}" }' "$ANSWER" "$TAIL"
keyed order2 '{ "key": "{{ trigger.output.body.id }}" }' "$ANSWER" "$TAIL"
keyed short '{ "key": "{{ trigger.output.body.id }}", "window_s": 2 }' "$ANSWER" "$TAIL"
keyed slow '{ "key": "{{ trigger.output.body.id }}" }' \
    '{ "key": "wait", "type": "delay", "config": { "ms": "{{ trigger.output.body.ms }}" } }' \
    "$ANSWER" "$TAIL"
keyed plain '{ "key": "{{ trigger.output.body.id }}" }' "$TAIL"
keyed typed '{ "key": "{{ trigger.output.body.id }}" }' \
    '{ "key": "ack", "type": "webhook_response", "config": { "status_code": 200 } }' "$TAIL"
cat > wf-crash.json <<'EOF'
{
  "name": "d-crash",
  "trigger": { "key": "trigger", "type": "webhook_trigger",
    "config": { "path": "/events",
                "verify": { "scheme": "github", "secret": "{{ env.CRASH_SECRET }}" },
                "dedupe": { "key": "{{ trigger.output.body.id }}" } } },
  "steps": [
    { "key": "ack", "type": "webhook_response", "config": { "status_code": 200, "body": { "run": "{{ run.id }}" } } },
    { "key": "pause", "type": "delay", "config": { "ms": "{{ trigger.output.body.ms }}" } },
    { "key": "record", "type": "log", "config": { "file": "tail.log", "message": "{{ trigger.output.body.id }} {{ run.id }} {{ run.attempt }}" } }
  ]
}
EOF

echo "e2e dedupe: building"
mkdir -p "$BUILD/tests"
# shellcheck disable=SC2086
${CC:-cc} ${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2} -Wall -Wextra -o "$CRASHLOAD" \
    "$ROOT/tests/e2e/crashload.c" -lcrypto || exit 1
if ! "$FLUSSOC" wf-*.json -o dd 2> build.log; then
    sed 's/^/  | /' build.log >&2
    fail "flussoc wf-*.json failed"
    e2e_finish
    exit 1
fi
DD=$E2E_DIR/dd

# A fresh directory for one test: its journal and tail files land there.
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

# snapshot: the last answer as one text - status, then every header but
# Date, Content-Length's included, then the body - for byte comparisons.
snapshot() {
    printf '%s\n' "$HTTP_STATUS"
    grep -vi '^date:' "$HTTP_HEADERS" | grep -vi '^x-flusso-duplicate:' | tr -d '\r' | sed 1d
    printf '%s' "$HTTP_BODY"
}

# count FILE: lines in FILE (0 when missing).
count() {
    if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi
}

# signed senders: each posts body file $2 to /NAME with delivery id $3.
send_github() {
    http POST "$URL/github" -H 'Content-Type: application/json' \
        -H "X-GitHub-Delivery: $2" -H "X-Hub-Signature-256: sha256=$(hmac_hex "$GH_SECRET" "$1")" \
        --data-binary "@$1"
}
send_stripe() {   # the delivery id is the body's id; each try signs anew
    local now
    now=$(date +%s)
    printf '%s.%s' "$now" "$(cat "$1")" > st.signed
    http POST "$URL/stripe" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: t=$now,v1=$(hmac_hex "$STRIPE_SECRET" st.signed)" --data-binary "@$1"
}
send_shopify() {
    http POST "$URL/shopify" -H 'Content-Type: application/json' \
        -H "X-Shopify-Webhook-Id: $2" -H "X-Shopify-Hmac-Sha256: $(hmac_b64 "$SHOPIFY_SECRET" "$1")" \
        --data-binary "@$1"
}
send_standard() {
    local now
    now=$(date +%s)
    printf '%s.%s.%s' "$2" "$now" "$(cat "$1")" > sw.signed
    http POST "$URL/standard" -H 'Content-Type: application/json' -H "webhook-id: $2" \
        -H "webhook-timestamp: $now" -H "webhook-signature: v1,$(hmac_b64_hexkey "$SW_KEY_HEX" sw.signed)" \
        --data-binary "@$1"
}

# order NAME ID [CURL ARGS]: a JSON body {"id": ID} to /NAME.
order() {
    local name=$1 id=$2
    shift 2
    http POST "$URL/$name" -H 'Content-Type: application/json' --data-binary "{\"id\":\"$id\"}" "$@"
}

# ---- the presets' delivery ids ----------------------------------------------------
test_presets() {
    local s first run
    in_dir presets
    start_handler h.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "presets: start"; return; }
    URL=$HANDLER_URL
    for s in github stripe shopify standard; do
        printf '{"id":"evt_%s_1","n":1}' "$s" > a.json
        printf '{"id":"evt_%s_2","n":2}' "$s" > b.json
        "send_$s" a.json "del-$s-1"
        expect_eq "$s: first delivery answered" "$HTTP_STATUS" 201
        expect_eq "$s: first is no duplicate" "$(header X-Flusso-Duplicate)" ""
        run=$(header X-Flusso-Run-Id)
        first=$(snapshot)
        "send_$s" a.json "del-$s-1"
        expect_eq "$s: repeat: the same answer, byte for byte" "$(snapshot)" "$first"
        expect_eq "$s: repeat: X-Flusso-Duplicate" "$(header X-Flusso-Duplicate)" true
        expect_eq "$s: repeat: the original run id" "$(header X-Flusso-Run-Id)" "$run"
        "send_$s" b.json "del-$s-2"
        expect_eq "$s: another delivery runs" "$(header X-Flusso-Duplicate)/$HTTP_STATUS" "/201"
        expect_true "$s: a new run" test "$(header X-Flusso-Run-Id)" != "$run"
        wait_for_line "tail-$s.log" "." 10
        sleep 0.3
        expect_eq "$s: two runs' tails for three deliveries" "$(count "tail-$s.log")" 2
        eval "FIRST_$s=\$first"
    done
    expect_match "duplicates logged" "$(grep -c '"event":"duplicate"' h.log)" '^4$'
    http GET "$URL/metrics"
    expect_match "duplicates counted" "$HTTP_BODY" 'flusso_deliveries_duplicate_total\{workflow="d-github"\} 1'
    stop_handler "$HANDLER_PID"
    # after a restart the recorded answers are replayed from the journal
    start_handler h2.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "presets: restart"; return; }
    URL=$HANDLER_URL
    for s in github stripe shopify standard; do
        printf '{"id":"evt_%s_1","n":1}' "$s" > a.json
        "send_$s" a.json "del-$s-1"
        local want
        eval "want=\$FIRST_$s"
        expect_eq "$s: after a restart: the same answer" "$(snapshot)" "$want"
        expect_eq "$s: after a restart: a duplicate" "$(header X-Flusso-Duplicate)" true
    done
    sleep 0.3
    expect_eq "no run after the restart" "$(cat tail-*.log | wc -l)" 8
    # a bad signature is refused before the duplicate check (spec 11)
    printf '{"id":"evt_github_1","n":1}' > a.json
    http POST "$URL/github" -H 'Content-Type: application/json' -H "X-GitHub-Delivery: del-github-1" \
        -H "X-Hub-Signature-256: sha256=00" --data-binary @a.json
    expect_eq "a bad signature: 401, not the replay" "$HTTP_STATUS" 401
    stop_handler "$HANDLER_PID"
}

# ---- a template key ------------------------------------------------------------
test_template_key() {
    local run first
    in_dir template
    start_handler h.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "template: start"; return; }
    URL=$HANDLER_URL
    order order o-1
    run=$(header X-Flusso-Run-Id)
    first=$(snapshot)
    expect_eq "template key: answered" "$HTTP_STATUS/$HTTP_BODY" "200/order o-1 by $run"
    order order o-1 -H 'X-Other: header'
    expect_eq "template key: replayed" "$(snapshot)" "$first"
    expect_eq "template key: duplicate" "$(header X-Flusso-Duplicate)" true
    order order2 o-1
    expect_eq "another workflow, the same key value: its own run" \
        "$HTTP_STATUS/$(header X-Flusso-Duplicate)" "200/"
    expect_true "another workflow: another run" test "$(header X-Flusso-Run-Id)" != "$run"
    http POST "$URL/order" -H 'Content-Type: application/json' --data-binary '{"other":1}'
    http POST "$URL/order" -H 'Content-Type: application/json' --data-binary '{"other":1}'
    expect_eq "a null key: no dedupe" "$(header X-Flusso-Duplicate)/$HTTP_STATUS" "/200"
    http POST "$URL/order" -H 'Content-Type: application/json' --data-binary '{"id":""}'
    http POST "$URL/order" -H 'Content-Type: application/json' --data-binary '{"id":""}'
    expect_eq "an empty key: no dedupe" "$(header X-Flusso-Duplicate)/$HTTP_STATUS" "/200"
    http POST "$URL/typed" -H 'Content-Type: application/json' --data-binary '{"id":42}'
    run=$(header X-Flusso-Run-Id)
    http POST "$URL/typed" -H 'Content-Type: application/json' --data-binary '{"id":"42"}'
    expect_eq "a number key is its text" "$(header X-Flusso-Run-Id)/$(header X-Flusso-Duplicate)" "$run/true"
    http POST "$URL/typed" -H 'Content-Type: application/json' --data-binary '{"id":{"a":1}}'
    expect_eq "an object key: 400" "$HTTP_STATUS/$HTTP_BODY" \
        '400/{"error":"the dedupe key is an array or an object: it must be text or a number"}'
    expect_eq "an object key: no run id" "$(header X-Flusso-Run-Id)" ""
    head -c 2000 /dev/zero | tr '\0' k > long.txt
    http POST "$URL/typed" -H 'Content-Type: application/json' --data-binary "{\"id\":\"$(cat long.txt)\"}"
    expect_eq "a key over 1024 bytes: 400" "$HTTP_STATUS/$HTTP_BODY" \
        '400/{"error":"the dedupe key is longer than 1024 bytes"}'
    head -c 1024 /dev/zero | tr '\0' k > edge.txt
    http POST "$URL/typed" -H 'Content-Type: application/json' --data-binary "{\"id\":\"$(cat edge.txt)\"}"
    expect_eq "a key of 1024 bytes: runs" "$HTTP_STATUS" 200
    http POST "$URL/typed" -H 'Content-Type: application/json' --data-binary '{"id":'
    expect_eq "a body that does not parse: 400 first" "$HTTP_STATUS" 400
    stop_handler "$HANDLER_PID"
    start_handler h2.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "template: restart"; return; }
    URL=$HANDLER_URL
    order order o-1
    expect_eq "template key after a restart: replayed" "$(snapshot)" "$first"
    stop_handler "$HANDLER_PID"
}

# ---- in progress: 409; a 504's later answer; a 500 frees the key ------------------
test_in_progress() {
    local run slow
    in_dir progress
    start_handler h.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "progress: start"; return; }
    URL=$HANDLER_URL
    # the first waits 1.5 s before answering: past its 600 ms, a 504
    curl -s --max-time 20 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary '{"id":"s-1","ms":1500}' "$URL/slow" > slow.code &
    slow=$!
    sleep 0.3
    http POST "$URL/slow" -H 'Content-Type: application/json' --data-binary '{"id":"s-1","ms":0}'
    run=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
    expect_eq "in progress: 409" "$HTTP_STATUS" 409
    expect_match "in progress: the body" "$HTTP_BODY" '^\{"error":"delivery in progress","run_id":"[0-9a-f-]{36}"\}$'
    expect_eq "in progress: Retry-After" "$(header Retry-After)" 1
    expect_eq "in progress: X-Flusso-Run-Id is the first run" "$(header X-Flusso-Run-Id)" "$run"
    wait "$slow"
    expect_eq "the first got 504" "$(cat slow.code)" 504
    http POST "$URL/slow" -H 'Content-Type: application/json' --data-binary '{"id":"s-1","ms":0}'
    expect_eq "after the 504, still in progress" "$HTTP_STATUS" 409
    wait_for_line tail.log "^s-1 " 10
    http POST "$URL/slow" -H 'Content-Type: application/json' --data-binary '{"id":"s-1","ms":0}'
    expect_eq "the answer the 504'd run reached later is replayed" \
        "$HTTP_STATUS/$HTTP_BODY/$(header X-Flusso-Duplicate)" "200/order s-1 by $run/true"
    expect_eq "... under the original run id" "$(header X-Flusso-Run-Id)" "$run"
    # a 500 before the answer frees the key
    order order f-1 -H 'X-Status: nope'
    expect_eq "a failure before the answer: 500" "$HTTP_STATUS" 500
    run=$(header X-Flusso-Run-Id)
    order order f-1
    expect_eq "the next delivery runs" "$HTTP_STATUS/$(header X-Flusso-Duplicate)" "200/"
    expect_true "... as a new run" test "$(header X-Flusso-Run-Id)" != "$run"
    # shutdown while the first waits: 503, the key is free
    stop_handler "$HANDLER_PID"
    start_handler h2.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "progress: restart"; return; }
    URL=$HANDLER_URL
    http POST "$URL/slow" -H 'Content-Type: application/json' --data-binary '{"id":"s-1","ms":0}'
    expect_eq "a 504'd run's recorded answer survives a restart" "$HTTP_STATUS/$(header X-Flusso-Duplicate)" "200/true"
    # a run killed before its answer is abandoned at the next start: its key is free
    curl -s --max-time 20 -o /dev/null -H 'Content-Type: application/json' \
        --data-binary '{"id":"k-1","ms":4000}' "$URL/slow" &
    slow=$!
    sleep 0.4
    kill9 "$HANDLER_PID"
    wait "$slow"
    start_handler h3.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "progress: restart 2"; return; }
    URL=$HANDLER_URL
    http POST "$URL/slow" -H 'Content-Type: application/json' --data-binary '{"id":"k-1","ms":0}'
    expect_eq "an abandoned run's key is free" "$HTTP_STATUS/$(header X-Flusso-Duplicate)" "200/"
    stop_handler "$HANDLER_PID"
}

# ---- the window ------------------------------------------------------------------
test_window() {
    local run
    in_dir window
    start_handler h.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "window: start"; return; }
    URL=$HANDLER_URL
    order short w-1
    run=$(header X-Flusso-Run-Id)
    order short w-1
    expect_eq "within window_s: replayed" "$(header X-Flusso-Run-Id)/$(header X-Flusso-Duplicate)" "$run/true"
    sleep 2.3
    order short w-1
    expect_eq "after window_s: runs again" "$(header X-Flusso-Duplicate)/$HTTP_STATUS" "/200"
    expect_true "after window_s: a new run" test "$(header X-Flusso-Run-Id)" != "$run"
    order short w-2
    sleep 2.3
    order short w-3                     # prunes w-2 (and its row)
    sleep 0.5
    stop_handler "$HANDLER_PID"
    expect_eq "pruned rows leave the journal" \
        "$(sqlite3 j.db "SELECT count(*) FROM dedupe WHERE key = 'w-2'" 2>/dev/null || echo skip)" 0
}

# ---- 200 concurrent copies of one delivery: one run ----------------------------
test_concurrent() {
    local codes
    in_dir concurrent
    start_handler h.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "concurrent: start"; return; }
    "$CRASHLOAD" 127.0.0.1 "$HANDLER_PORT" /events 200 "$CRASH_SECRET" results.txt 200 200
    codes=$(awk '{ print $2 }' results.txt | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
    echo "  200 copies: $codes"
    expect_eq "200 copies: every one answered" "$(awk '$2 == 200 || $2 == 409' results.txt | wc -l)" 200
    wait_for_line tail.log "^evt-1 " 10
    sleep 0.5
    expect_eq "200 copies: one run's tail" "$(count tail.log)" 1
    http GET "$HANDLER_URL/metrics"
    expect_match "200 copies: one run started" "$HTTP_BODY" 'flusso_runs_started_total\{workflow="d-crash"\} 1'
    stop_handler "$HANDLER_PID"
}

# ---- --journal none ---------------------------------------------------------------
test_memory() {
    local run
    in_dir memory
    start_handler h.log "$DD" --listen 127.0.0.1:0 --journal none || { fail "memory: start"; return; }
    URL=$HANDLER_URL
    order order m-1
    run=$(header X-Flusso-Run-Id)
    order order m-1
    expect_eq "--journal none: replayed from memory" \
        "$HTTP_BODY/$(header X-Flusso-Duplicate)/$(header X-Flusso-Run-Id)" "order m-1 by $run/true/$run"
    order order f-1 -H 'X-Status: nope'
    order order f-1
    expect_eq "--journal none: a 500 frees the key" "$HTTP_STATUS/$(header X-Flusso-Duplicate)" "200/"
    stop_handler "$HANDLER_PID"
    expect_true "--journal none: no journal file" test ! -e dd.journal
    start_handler h2.log "$DD" --listen 127.0.0.1:0 --journal none || { fail "memory: restart"; return; }
    URL=$HANDLER_URL
    order order m-1
    expect_eq "--journal none: keys do not survive a restart" "$(header X-Flusso-Duplicate)/$HTTP_STATUS" "/200"
    stop_handler "$HANDLER_PID"
}

# ---- kill -9 under load, duplicates mixed in -------------------------------------
# 1,500 requests, each event sent 3 times in a row (500 events), 48 at
# once; kill -9 mid-way; restart on the journal and send every event once
# more.  Every event acknowledged (2xx) has its tail line; no event's tail
# ran under two run ids.
test_crash() {
    local pid acked missing twoRuns want end
    in_dir crash
    start_handler h1.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "crash: start"; return; }
    pid=$HANDLER_PID
    "$CRASHLOAD" 127.0.0.1 "$HANDLER_PORT" /events 1500 "$CRASH_SECRET" results.txt 48 3 &
    local load=$!
    local stop=$(( $(now_ms) + 30000 ))
    while [ "$(count results.txt)" -lt 500 ] && [ "$(now_ms)" -lt "$stop" ]; do
        sleep 0.01
    done
    kill9 "$pid"
    wait "$load"
    start_handler h2.log "$DD" --listen 127.0.0.1:0 --journal j.db || { fail "crash: restart"; return; }
    pid=$HANDLER_PID
    "$CRASHLOAD" 127.0.0.1 "$HANDLER_PORT" /events 1500 "$CRASH_SECRET" results2.txt 48 3
    acked=$(cat results.txt results2.txt | awk '$2 ~ /^2/ { print $1 }' | sort -u)
    want=$(printf '%s\n' "$acked" | grep -c .)
    end=$(( $(now_ms) + 30000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        missing=$(printf '%s\n' "$acked" | awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' \
            tail.log - 2>/dev/null | wc -l)
        [ "$missing" -eq 0 ] && break
        sleep 0.2
    done
    sleep 0.5
    twoRuns=$(awk '{ print $1, $2 }' tail.log | sort -u | awk '{ print $1 }' | uniq -d | wc -l)
    echo "  crash: $want of 500 events acknowledged, $(count tail.log) tail lines," \
        "$(awk '$2 == 409' results.txt results2.txt | wc -l) answered 409," \
        "$(grep -c '"event":"duplicate"' h1.log h2.log | awk -F: '{ s += $2 } END { print s }') replays"
    expect_eq "crash: every acknowledged event has its tail line" "$missing" 0
    expect_eq "crash: no event's tail ran for two runs" "$twoRuns" 0
    expect_true "crash: the second pass was answered from the journal" \
        grep -q '"event":"duplicate"' h2.log
    stop_handler "$pid"
}

test_presets
test_template_key
test_in_progress
test_window
test_concurrent
test_memory
test_crash
e2e_finish
