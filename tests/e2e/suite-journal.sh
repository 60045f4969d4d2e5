#!/usr/bin/env bash
# suite-journal.sh - end-to-end tests of the journal of runs (spec 7):
# acknowledged runs survive kill -9, a delay resumes for what is left of
# it, runs never acknowledged are marked abandoned, a failed commit is a
# 503, one handler per journal, unopenable and damaged journals stop the
# handler (the damaged one left byte for byte), and --runs.
#
# Usage: tests/e2e/suite-journal.sh FLUSSOC BUILDDIR
# Environment: CC, E2E_CFLAGS, E2E_LDLIBS (as `make test-e2e` sets them);
# JOURNAL_CRASH_ROUNDS (default 1) repeats the crash test.
# Handlers run in their own directories (the journal's default path is
# the working directory's); time bounds are generous for ASan.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
CRASHLOAD=$BUILD/tests/crashload
UUID='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
export CRASH_SECRET=crash-s3cret
unset FLUSSO_LISTEN FLUSSO_JOURNAL_FAIL_AFTER
. "$ROOT/tests/e2e/lib.sh"
e2e_init

# ---- build -----------------------------------------------------------------
echo "e2e journal: building"
mkdir -p "$BUILD/tests"
# shellcheck disable=SC2086
${CC:-cc} ${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2} -Wall -Wextra -o "$CRASHLOAD" \
    "$ROOT/tests/e2e/crashload.c" -lcrypto || exit 1
"$FLUSSOC" "$WF/journal-crash.json" "$WF/journal-hold.json" -o "$E2E_DIR/jh" \
    2> "$E2E_DIR/jh.cc.log" || { sed 's/^/  | /' "$E2E_DIR/jh.cc.log"; exit 1; }
JH=$E2E_DIR/jh

# A fresh directory for one test; the handler's journal lands there.
in_dir() {
    mkdir -p "$E2E_DIR/$1" && cd "$E2E_DIR/$1" || exit 1
}

# post_event URL ID MS: one signed event; sets HTTP_* (lib.sh).
post_event() {
    local body="{\"id\":\"$2\",\"ms\":$3}" sig
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$CRASH_SECRET" -r | cut -d' ' -f1)
    http POST "$1/events" -H 'Content-Type: application/json' \
        -H "X-Hub-Signature-256: sha256=$sig" --data-binary "$body"
}

# kill9 PID: kill -9 and wait until it is gone.
kill9() {
    local end=$(( $(now_ms) + 5000 ))
    kill -KILL "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
}

# wait_lines FILE N SECS: until FILE has N lines (polled every 10 ms).
wait_lines() {
    local end=$(( $(now_ms) + $3 * 1000 ))
    while [ "$(wc -l 2>/dev/null < "$1" || echo 0)" -lt "$2" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.01
    done
}

# ---- the crash test ------------------------------------------------------------
# 2,000 signed events; kill -9 mid-way; restart on the same journal: every
# event answered 2xx gets its tail's line, a second line only as attempt 2.
crash_round() {
    local round=$1 pid acked lines missing bad twice a2 runs
    in_dir "crash.$round"
    start_handler handler1.log "$JH" --listen 127.0.0.1:0 || { fail "crash $round: start"; return; }
    pid=$HANDLER_PID
    "$CRASHLOAD" 127.0.0.1 "$HANDLER_PORT" /events 2000 "$CRASH_SECRET" results.txt 32 &
    local load=$!
    wait_lines results.txt 600 30            # then kill it mid-way
    kill9 "$pid"
    wait "$load"
    acked=$(awk '$2 ~ /^2/ { print $1 }' results.txt | sort -u)
    [ -n "$acked" ] || { fail "crash $round: no event was acknowledged"; return; }
    if [ "$round" = 1 ]; then
        runs=$(env -u CRASH_SECRET "$JH" --runs); local rc=$?
        expect_eq "--runs after kill -9: exit 0 without env" "$rc" 0
        expect_true "--runs: pending runs listed" \
            test "$(printf '%s\n' "$runs" | grep -c "	pending	journal-crash	record	1	")" -gt 0
        expect_eq "--runs: every line id, state, workflow, step, attempt, received, error" \
            "$(printf '%s\n' "$runs" | grep -cvE "^$UUID	(pending|abandoned)	journal-(crash|hold)	[a-z]+	1	$TIME	$")" 0
    fi
    start_handler handler2.log "$JH" --listen 127.0.0.1:0 || { fail "crash $round: restart"; return; }
    pid=$HANDLER_PID
    local want end=$(( $(now_ms) + 30000 ))
    want=$(printf '%s\n' "$acked" | wc -l)
    while [ "$(now_ms)" -lt "$end" ]; do
        missing=$(printf '%s\n' "$acked" | awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' \
            tail.log - 2>/dev/null | wc -l)
        [ "$missing" -eq 0 ] && break
        sleep 0.2
    done
    sleep 0.3                             # a duplicate would come now
    lines=$(wc -l < tail.log)
    bad=$(awk '$2 != 1 && $2 != 2' tail.log | wc -l)
    twice=$(awk '{ n[$1]++; a[$1] = a[$1] $2 } END { for (e in n) if (n[e] > 1 && a[e] != "12" && a[e] != "21") print e }' tail.log | wc -l)
    a2=$(awk '$2 == 2' tail.log | wc -l)
    local dups=$(cut -d' ' -f1 tail.log | sort | uniq -d | wc -l)
    echo "  crash round $round: $want of 2000 acknowledged; $lines tail lines, $a2 from" \
        "attempt 2, $dups events twice (attempts 1 and 2); $missing missing"
    expect_eq "crash $round: every acknowledged event has its tail line" "$missing" 0
    expect_eq "crash $round: attempts are 1 or 2" "$bad" 0
    expect_eq "crash $round: a second line only as attempt 2" "$twice" 0
    expect_true "crash $round: the crash interrupted runs (attempt 2 seen)" test "$a2" -gt 0
    expect_true "crash $round: recovery logged" grep -q '"event":"recovered"' handler2.log
    stop_handler "$pid"
    expect_eq "crash $round: exit 0 after SIGTERM" "$STOP_STATUS" 0
    expect_eq "crash $round: nothing left in the journal" "$("$JH" --runs | wc -l)" 0
}

# ---- a delay waits only what is left of it ----------------------------------------
test_remaining_delay() {
    local pid t0 took
    in_dir delay
    start_handler handler1.log "$JH" --listen 127.0.0.1:0 || { fail "delay: start"; return; }
    pid=$HANDLER_PID
    post_event "$HANDLER_URL" slow-1 6000
    expect_eq "delay: acknowledged" "$HTTP_STATUS" 200
    sleep 2
    kill9 "$pid"
    start_handler handler2.log "$JH" --listen 127.0.0.1:0 || { fail "delay: restart"; return; }
    t0=$(now_ms)
    wait_for_line tail.log '^slow-1 2 6000$' 15 || fail "delay: the tail ran after the restart"
    took=$(( $(now_ms) - t0 ))
    echo "  6 s delay interrupted after 2 s: finished $took ms after the restart"
    expect_true "delay: resumed for what was left ($took ms, not 6000)" \
        test "$took" -ge 2500 -a "$took" -le 5200
    expect_eq "delay: one tail line" "$(wc -l < tail.log)" 1
    stop_handler "$HANDLER_PID"
}

# ---- runs never acknowledged are marked abandoned ---------------------------------
test_abandoned() {
    local pid runs id
    in_dir abandoned
    start_handler handler1.log "$JH" --listen 127.0.0.1:0 || { fail "abandoned: start"; return; }
    pid=$HANDLER_PID
    curl -s --max-time 10 -X POST "$HANDLER_URL/hold" > /dev/null &
    local c=$!
    sleep 0.5
    kill9 "$pid"
    wait "$c"
    runs=$("$JH" --runs)
    expect_match "abandoned: --runs lists it before the restart" "$runs" \
        "^$UUID	abandoned	journal-hold	reply	1	$TIME	$"
    id=${runs%%	*}
    start_handler handler2.log "$JH" --listen 127.0.0.1:0 || { fail "abandoned: restart"; return; }
    expect_true "abandoned: logged at start" \
        grep -q "\"run_id\":\"$id\",\"workflow\":\"journal-hold\",\"event\":\"abandoned\"" handler2.log
    expect_eq "abandoned: still listed" "$("$JH" --runs)" "$runs"
    stop_handler "$HANDLER_PID"
}

# ---- a failed commit answers 503 and the tail never runs ---------------------------
test_write_failure() {
    local u
    in_dir fail
    start_handler handler.log env FLUSSO_JOURNAL_FAIL_AFTER=2 "$JH" --listen 127.0.0.1:0 ||
        { fail "write failure: start"; return; }
    u=$HANDLER_URL
    post_event "$u" ok-1 100
    expect_eq "write failure: first commit 200" "$HTTP_STATUS" 200
    post_event "$u" lost-2 100
    expect_eq "write failure: failed commit 503" "$HTTP_STATUS" 503
    expect_eq "write failure: Retry-After" "$(header Retry-After)" 5
    expect_match "write failure: run id" "$(header X-Flusso-Run-Id)" "^$UUID$"
    expect_match "write failure: JSON error with the run id" "$HTTP_BODY" \
        "^\\{\"error\":\".+\",\"run_id\":\"$(header X-Flusso-Run-Id)\"\\}$"
    local lost=$(header X-Flusso-Run-Id)
    post_event "$u" ok-3 100
    expect_eq "write failure: the next commit 200" "$HTTP_STATUS" 200
    wait_for_line tail.log '^ok-3 ' 10
    sleep 0.3
    expect_eq "write failure: only acknowledged tails ran" "$(cut -d' ' -f1 tail.log | sort | tr '\n' ' ')" "ok-1 ok-3 "
    expect_match "write failure: --runs shows it abandoned" "$("$JH" --runs)" \
        "^$lost	abandoned	journal-crash	pause	1	$TIME	$"
    stop_handler "$HANDLER_PID"
}

# ---- opening the journal ------------------------------------------------------------
test_opening() {
    local out rc
    in_dir open
    start_handler handler.log "$JH" --listen 127.0.0.1:0 || { fail "open: start"; return; }
    expect_true "default journal: the binary's name in the working directory" test -f jh.journal
    out=$("$JH" --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "second handler on the journal: exit 2" "$rc" 2
    expect_match "second handler: says why" "$out" "jh.journal is in use by another handler \\(pid $HANDLER_PID\\)"
    out=$(cd / && "$JH" --journal "$E2E_DIR/open/jh.journal" --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "second handler by an absolute path: exit 2" "$rc" 2
    stop_handler "$HANDLER_PID"
    out=$("$JH" --journal /nonexistent-dir/j.journal --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "unopenable journal: exit 2" "$rc" 2
    expect_match "unopenable journal: named" "$out" "/nonexistent-dir/j.journal"
    head -c 20000 /dev/urandom > bad.journal
    cp bad.journal bad.copy
    out=$("$JH" --journal bad.journal --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "damaged journal: exit 2" "$rc" 2
    expect_match "damaged journal: named" "$out" "journal bad.journal is damaged"
    "$JH" --runs --journal bad.journal > /dev/null 2>&1
    expect_eq "damaged journal: --runs exit 2" "$?" 2
    expect_true "damaged journal: bytes untouched" cmp -s bad.journal bad.copy
    in_dir none
    start_handler handler.log "$JH" --listen 127.0.0.1:0 --journal none ||
        { fail "--journal none: start"; return; }
    post_event "$HANDLER_URL" n-1 0
    expect_eq "--journal none: answers" "$HTTP_STATUS" 200
    stop_handler "$HANDLER_PID"
    expect_eq "--journal none: no journal file" "$(ls | grep -c journal)" 0
}

for round in $(seq 1 "${JOURNAL_CRASH_ROUNDS:-1}"); do
    crash_round "$round"
done
test_remaining_delay
test_abandoned
test_write_failure
test_opening
expect_eq "no sanitizer reports" \
    "$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR" | wc -l)" 0
echo "e2e journal: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
