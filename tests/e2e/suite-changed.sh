#!/usr/bin/env bash
# suite-changed.sh - end-to-end tests of changed workflows (spec 8.4): a
# run waiting in a delay when its handler is killed resumes by step key in
# a binary whose workflow gained steps; one whose later step reads an
# output the run never recorded is stranded (logged once, listed by
# --runs, never run with missing data) until `--retry ID --resume-at STEP`
# moves it, which works while a handler serves the journal; a run whose
# workflow is gone is stranded too.
#
# Usage: tests/e2e/suite-changed.sh FLUSSOC BUILDDIR
# Every version is a binary of its own on one journal (--journal), as a
# redeploy would be; time bounds are generous for ASan.
set -u
FLUSSOC=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
UUID='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
unset FLUSSO_LISTEN FLUSSO_JOURNAL_FAIL_AFTER
. "$ROOT/tests/e2e/lib.sh"
e2e_init

echo "e2e changed: building"
for v in 1 2 3; do
    "$FLUSSOC" "$WF/changed-v$v.json" -o "$E2E_DIR/v$v" 2> "$E2E_DIR/v$v.cc.log" \
        || { sed 's/^/  | /' "$E2E_DIR/v$v.cc.log"; exit 1; }
done
"$FLUSSOC" "$WF/echo.json" -o "$E2E_DIR/other" 2> "$E2E_DIR/other.cc.log" \
    || { sed 's/^/  | /' "$E2E_DIR/other.cc.log"; exit 1; }
cd "$E2E_DIR" || exit 1

# serve VERSION LOG: a handler of that version on the shared journal.
serve() {
    start_handler "$2" "$E2E_DIR/$1" --journal "$E2E_DIR/j" --listen 127.0.0.1:0
}

# post ID MS: one event whose run waits MS in its delay.
post() {
    http POST "$HANDLER_URL/changed" -H 'Content-Type: application/json' \
        --data-binary "{\"id\":\"$1\",\"ms\":$2}"
}

# kill9 PID: kill -9 and wait until it is gone.
kill9() {
    local end=$(( $(now_ms) + 5000 ))
    kill -KILL "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
}

# runs VERSION: --runs of the shared journal.
runs() {
    "$E2E_DIR/$1" --journal "$E2E_DIR/j" --runs
}

# ---- an inserted step: resumed by key ------------------------------------------
serve v1 v1.log || { fail "start v1"; e2e_finish; exit; }
post a 3000
expect_eq "v1: acknowledged" "$HTTP_STATUS" 202
sleep 1
kill9 "$HANDLER_PID"
expect_match "--runs: pending at record" "$(runs v2)" "^$UUID	pending	changed	record	"
serve v2 v2.log || fail "start v2"
expect_true "v2: the run is moved by key (logged)" \
    wait_for_line v2.log '"event":"reshaped".*resumes at step record' 5
wait_for_line tail.log '^v2 a ' 15 || fail "v2: the resumed run did not finish"
expect_eq "v2: record ran with prep's output, attempt 2" "$(cat tail.log)" "v2 a 2 p-a"
expect_eq "v2: nothing left in the journal" "$(runs v2)" ""

# ---- a read output missing: stranded --------------------------------------------
stop_handler "$HANDLER_PID"
serve v1 v1b.log || fail "restart v1"
post c 3000
expect_eq "v1: acknowledged" "$HTTP_STATUS" 202
sleep 0.5
kill9 "$HANDLER_PID"
serve v3 v3.log || fail "start v3"
expect_true "v3: the run is stranded, the reason names lookup" \
    wait_for_line v3.log '"level":"warn".*"event":"stranded".*needs the output of .lookup.' 5
RUNS=$(runs v3); rc=$?
expect_eq "--runs: exit 0" "$rc" 0
expect_match "--runs: listed stranded" "$RUNS" "^$UUID	stranded	changed	record	"
ID=${RUNS%%	*}
sleep 3.5                               # past the delay it waited in
expect_eq "v3: the stranded run did not run" "$(grep -c '^v3 c' tail.log)" 0
stop_handler "$HANDLER_PID"
serve v3 v3b.log || fail "restart v3"
expect_eq "v3: stranded logged once (not at the next start)" \
    "$(grep -c '"event":"stranded"' v3b.log)" 0
expect_match "--runs: still stranded" "$(runs v3)" "^$ID	stranded	changed	record	"

# ---- --retry ID --resume-at STEP, while a handler serves -----------------------
"$E2E_DIR/v3" --journal "$E2E_DIR/j" --retry "$ID" --resume-at record 2> ra1.log
expect_eq "--resume-at record: refused (exit 1)" "$?" 1
expect_match "--resume-at record: names the run and lookup" "$(cat ra1.log)" "$ID.*'lookup'"
"$E2E_DIR/v3" --journal "$E2E_DIR/j" --retry "$ID" --resume-at nope 2> ra2.log
expect_eq "--resume-at an unknown step: exit 1" "$?" 1
"$E2E_DIR/v3" --journal "$E2E_DIR/j" --retry 00000000-0000-4000-8000-000000000000 \
    --resume-at lookup 2> ra3.log
expect_eq "--resume-at an unknown run: exit 1" "$?" 1
"$E2E_DIR/v3" --journal "$E2E_DIR/j" --resume-at lookup 2> ra4.log
expect_eq "--resume-at without --retry: usage, exit 2" "$?" 2
"$E2E_DIR/v3" --journal "$E2E_DIR/j" --retry "$ID" --resume-at lookup 2> ra5.log
expect_eq "--resume-at lookup: done (exit 0)" "$?" 0
expect_match "--runs: pending at lookup" "$(runs v3)" "^$ID	pending	changed	lookup	"
post e 10
expect_eq "v3 still serves after --resume-at" "$HTTP_STATUS" 202
wait_for_line tail.log '^v3 e 1 p-e l-p-e$' 10 || fail "v3: a new run finished"
stop_handler "$HANDLER_PID"
serve v3 v3c.log || fail "restart v3 after --resume-at"
wait_for_line tail.log '^v3 c ' 10 || fail "v3: the moved run did not finish"
expect_eq "v3: resumed at lookup, attempt 2" "$(grep '^v3 c' tail.log)" "v3 c 2 p-c l-p-c"
expect_eq "v3: nothing left in the journal" "$(runs v3)" ""

# ---- the workflow gone ----------------------------------------------------------
post g 3000
sleep 0.5
kill9 "$HANDLER_PID"
serve other other.log || fail "start other"
expect_true "other: stranded, its workflow is not in the handler" \
    wait_for_line other.log '"event":"stranded".*workflow .changed. is not in this handler' 5
expect_match "--runs: stranded" "$(runs other)" "^$UUID	stranded	changed	lookup	"
stop_handler "$HANDLER_PID"

e2e_finish
