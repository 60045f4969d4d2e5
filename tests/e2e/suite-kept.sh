#!/usr/bin/env bash
# suite-kept.sh - end-to-end tests of failed runs kept (spec 8.1): a run
# whose downstream fails after the acknowledgement stays in the journal as
# `failed`; --runs and --runs --json list it; --retry finishes it with
# run.attempt 2, with a handler serving the journal (taken within 2 s) and
# without one (resumed at the next start); --drop removes runs; bad ids
# and states exit 1 naming each run; a busy writer, a journal of a newer
# format or of another application change nothing; a format-1 journal is
# upgraded in place and its pending run resumes; /metrics has
# flusso_runs_failed_kept; with --journal none nothing is kept.
#
# Usage: tests/e2e/suite-kept.sh FLUSSOC BUILDDIR
# Environment: CC, E2E_CFLAGS, E2E_LDLIBS (as `make test-e2e` sets them).
# The workflow (tests/e2e/workflows/kept-flaky.json) calls the downstream's
# /flaky endpoint, failing the body's `fail` first attempts of its id, and
# appends "ID ATTEMPT STATUS" to tail.log once the call succeeded.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2}
E2E_LDLIBS=${E2E_LDLIBS:--lmicrohttpd -lcjson -lcrypto -lcurl -lsqlite3 -lpthread -lm}
UUID='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
unset FLUSSO_LISTEN FLUSSO_JOURNAL_FAIL_AFTER
. "$ROOT/tests/e2e/lib.sh"
e2e_init
cd "$E2E_DIR" || exit 1

# ---- build -----------------------------------------------------------------
echo "e2e kept: building the downstream and the handler ($BUILD)"
# shellcheck disable=SC2086
$CC $E2E_CFLAGS -Wall -Wextra -o downstream "$ROOT/tests/e2e/downstream.c" $E2E_LDLIBS \
    2> downstream.cc.log || { sed 's/^/  | /' downstream.cc.log; exit 1; }
"$FLUSSOC" "$WF/kept-flaky.json" -o "$E2E_DIR/kh" 2> kh.cc.log ||
    { sed 's/^/  | /' kh.cc.log; exit 1; }
KH=$E2E_DIR/kh
start_handler downstream.log ./downstream --listen 0 || exit 1
export DOWNSTREAM=$HANDLER_URL

# A fresh directory for one test; the handler's journal lands there.
in_dir() {
    mkdir -p "$E2E_DIR/$1" && cd "$E2E_DIR/$1" || exit 1
}

# post ID FAIL: one event whose call fails FAIL times.
post() {
    http POST "$HANDLER_URL/kept" -H 'Content-Type: application/json' \
        --data-binary "{\"id\":\"$1\",\"fail\":$2}"
}

# kh ARGS...: a command of the handler, without the variable it serves
# with (commands need none); stdout in OUT, stderr in ERR, status in RC.
kh() {
    OUT=$(env -u DOWNSTREAM "$KH" "$@" 2> cmd.err); RC=$?
    ERR=$(cat cmd.err)
    cat cmd.err >> "$E2E_DIR/commands.log"      # for the sanitizer check
}

# run_id_of STATE: the id of the first --runs line in that state.
run_id_of() {
    env -u DOWNSTREAM "$KH" --runs | awk -F'\t' -v s="$1" '$2 == s { print $1; exit }'
}

# gauge: flusso_runs_failed_kept of the handler serving.
gauge() {
    curl -s --max-time 5 "$HANDLER_URL/metrics" | awk '$1 == "flusso_runs_failed_kept" { print $2 }'
}

# wait_gauge N SECS: until the gauge says N.
wait_gauge() {
    local end=$(( $(now_ms) + $2 * 1000 ))
    while [ "$(gauge)" != "$1" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.1
    done
}

# wait_count FILE RE N SECS: until FILE has N lines matching RE.
wait_count() {
    local end=$(( $(now_ms) + $4 * 1000 ))
    while [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -lt "$3" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.05
    done
}

# ---- a failed run is kept, listed, and retried while a handler serves ------------
test_retry_serving() {
    local id t0 took
    in_dir serving
    start_handler handler.log "$KH" --listen 127.0.0.1:0 || { fail "serving: start"; return; }
    expect_eq "serving: no failed run at start" "$(gauge)" 0
    post s1 1
    expect_eq "serving: acknowledged" "$HTTP_STATUS" 202
    wait_for_line handler.log '"event":"failed"' 10 || fail "serving: the call's failure logged"
    sleep 0.2
    kh --runs
    expect_eq "--runs: exit 0 without the workflow's variables" "$RC" 0
    expect_match "--runs: the failed run, its failed step, attempt, time and error" "$OUT" \
        "^$UUID	failed	kept-flaky	call	1	$TIME	GET http://127\\.0\\.0\\.1:[0-9]+ answered HTTP 500$"
    id=${OUT%%	*}
    wait_gauge 1 3
    expect_eq "metrics: flusso_runs_failed_kept 1" "$(gauge)" 1
    kh --runs --json
    expect_eq "--runs --json: exit 0" "$RC" 0
    expect_eq "--runs --json: JSON lines with the keys and values" "$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(sorted(r), r["state"], r["step"], r["attempt"], r["error"])')" \
        "['attempt', 'error', 'received_at', 'run_id', 'state', 'step', 'workflow'] failed call 1 GET $DOWNSTREAM answered HTTP 500"
    kh --retry "$id"
    t0=$(now_ms)
    expect_eq "--retry with a handler serving: exit 0" "$RC" 0
    expect_match "--retry: logged as JSON" "$ERR" \
        "^\\{.*\"level\":\"info\",\"run_id\":\"$id\",.*\"event\":\"retry\".*attempt 2"
    wait_for_line tail.log '^s1 2 200$' 10 || fail "serving: the retried run finished"
    took=$(( $(now_ms) - t0 ))
    echo "  a retried run taken by the serving handler: finished $took ms after --retry"
    expect_true "serving: taken within 2 s ($took ms)" test "$took" -le 2000
    expect_eq "serving: one tail line, attempt 2" "$(cat tail.log)" "s1 2 200"
    sleep 0.2
    kh --runs
    expect_eq "serving: nothing left after it finished" "$OUT" ""
    wait_gauge 0 3
    expect_eq "metrics: back to 0" "$(gauge)" 0
    post s2 9
    wait_for_line handler.log "\"event\":\"failed\".*$DOWNSTREAM" 10
    sleep 0.3
    id=$(run_id_of failed)
    kh --drop "$id"
    expect_eq "--drop: exit 0" "$RC" 0
    expect_match "--drop: logged" "$ERR" "\"run_id\":\"$id\",.*\"event\":\"drop\""
    kh --runs
    expect_eq "--drop: the run is gone" "$OUT" ""
    wait_gauge 0 3
    expect_eq "metrics: 0 after --drop" "$(gauge)" 0
    kh --retry "$id" 0badc0de-nope
    expect_eq "--retry of unknown ids: exit 1" "$RC" 1
    expect_match "--retry: names the first" "$ERR" "\"run_id\":\"$id\",.*not retried: no such run"
    expect_match "--retry: names the second" "$ERR" "\"run_id\":\"0badc0de-nope\",.*not retried: no such run"
    stop_handler "$HANDLER_PID"
    expect_eq "serving: exit 0" "$STOP_STATUS" 0
}

# ---- retried without a handler: resumed at the next start -------------------------
test_retry_stopped() {
    local id
    in_dir stopped
    start_handler handler1.log "$KH" --listen 127.0.0.1:0 || { fail "stopped: start"; return; }
    post t1 1
    post t2 9
    wait_count handler1.log '"event":"failed"' 2 10
    stop_handler "$HANDLER_PID"
    kh --runs
    expect_eq "stopped: two failed runs kept across the stop" \
        "$(printf '%s\n' "$OUT" | grep -cE "^$UUID	failed	kept-flaky	call	1	$TIME	.+HTTP 500$")" 2
    id=$(printf '%s\n' "$OUT" | grep -m1 . | cut -f1)
    kh --retry failed
    expect_eq "--retry failed without a handler: exit 0" "$RC" 0
    expect_match "--retry failed: says how many" "$ERR" "2 run\\(s\\) of journal kh.journal retried"
    kh --runs
    expect_eq "a retried run is listed pending" \
        "$(printf '%s\n' "$OUT" | grep -cE "^$UUID	pending	kept-flaky	call	1	$TIME	$")" 2
    kh --drop "$id"
    expect_eq "--drop of a pending run: exit 1" "$RC" 1
    expect_match "--drop: says why" "$ERR" "not dropped: it is pending"
    kh --retry "$id"
    expect_eq "--retry of a pending run: exit 1" "$RC" 1
    start_handler handler2.log "$KH" --listen 127.0.0.1:0 || { fail "stopped: restart"; return; }
    wait_for_line tail.log '^t1 2 200$' 10 || fail "stopped: the retried run finished at start"
    wait_for_line handler2.log '"event":"failed"' 10
    sleep 0.3
    kh --runs
    expect_match "stopped: the other failed again, at attempt 2" "$OUT" \
        "^$UUID	failed	kept-flaky	call	2	$TIME	.+HTTP 500$"
    stop_handler "$HANDLER_PID"
}

# ---- bad usage ----------------------------------------------------------------------
test_usage() {
    in_dir usage
    kh --drop
    expect_eq "--drop without ids: exit 2" "$RC" 2
    kh --retry x --resume-at call
    expect_eq "--resume-at: not yet, exit 2" "$RC" 2
    kh --json
    expect_eq "--json without --runs: exit 2" "$RC" 2
    for c in "--runs" "--retry failed" "--drop x"; do
        # shellcheck disable=SC2086
        kh --journal none $c
        expect_eq "$c --journal none: exit 2" "$RC" 2
        expect_match "$c --journal none: says so" "$ERR" "there is no journal"
    done
    kh --retry 0badc0de
    expect_eq "--retry on a journal that does not exist: exit 1" "$RC" 1
    expect_eq "... and creates none" "$(ls | grep -c journal)" 0
    start_handler handler.log "$KH" --listen 127.0.0.1:0 --journal none ||
        { fail "none: start"; return; }
    post n1 9
    wait_for_line handler.log '"event":"failed"' 10 || fail "--journal none: the failure is logged"
    expect_eq "--journal none: gauge 0" "$(gauge)" 0
    stop_handler "$HANDLER_PID"
    expect_eq "--journal none: no journal file" "$(ls | grep -c journal)" 0
}

# ---- a busy writer, a newer journal, another application's database -------------------
test_refused() {
    local id out rc
    in_dir refused
    start_handler handler.log "$KH" --listen 127.0.0.1:0 || { fail "refused: start"; return; }
    post r1 9
    wait_for_line handler.log '"event":"failed"' 10
    stop_handler "$HANDLER_PID"
    id=$(run_id_of failed)
    python3 -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open("locked", "w").close()
time.sleep(9)
db.execute("ROLLBACK")' kh.journal &
    local holder=$!
    local end=$(( $(now_ms) + 5000 ))
    while [ ! -e locked ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
    kh --retry "$id"
    expect_eq "--retry while a writer holds the journal: exit 2" "$RC" 2
    expect_match "--retry: says it stayed locked" "$ERR" "stayed locked by a busy writer"
    wait "$holder"
    kh --runs
    expect_match "busy writer: nothing changed" "$OUT" "^$id	failed	"
    python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE runs SET error = ?", ("one\n{\"level\":\"x\"}\ttab\\ \x01",))
db.commit()' kh.journal
    kh --runs
    expect_eq "--runs: an error's control characters escaped, one line" "$OUT" \
        "$(printf '%s\tfailed\tkept-flaky\tcall\t1\t%s\tone\\n{"level":"x"}\\ttab\\\\ \\x01' \
            "$id" "$(printf '%s\n' "$OUT" | cut -f6)")"
    kh --runs --json
    expect_eq "--runs --json: the error exact" "$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
print(len(lines), repr(json.loads(lines[0])["error"]))')" "1 'one\\n{\"level\":\"x\"}\\ttab\\\\ \\x01'"
    cp kh.journal newer.journal
    python3 -c 'import sqlite3, sys
sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version = 3")' newer.journal
    cp newer.journal newer.copy
    kh --journal newer.journal --retry "$id"
    expect_eq "a newer format: --retry exit 2" "$RC" 2
    expect_match "a newer format: says so" "$ERR" "newer.journal is format 3, newer than this handler reads \\(format 2\\)"
    out=$("$KH" --journal newer.journal --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "a newer format: the handler exits 2" "$rc" 2
    expect_match "a newer format: the handler says so" "$out" "format 3, newer"
    expect_true "a newer format: bytes untouched" cmp -s newer.journal newer.copy
    python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE runs (id TEXT)")
db.commit()' other.db
    cp other.db other.copy
    kh --journal other.db --drop "$id"
    expect_eq "another application's database: exit 2" "$RC" 2
    expect_match "another application's database: says so" "$ERR" "not a flusso journal"
    expect_true "another application's database: untouched" cmp -s other.db other.copy
}

# ---- a format-1 journal is upgraded in place ----------------------------------------
# The journal the previous format wrote: its two tables, one run pending at
# step `note` (its trigger output in the journal's byte format), and one
# abandoned.
make_format1() {
    python3 - "$1" <<'EOF'
import sqlite3, struct, sys
def u32(n): return struct.pack('<I', n)
def text(s): b = s.encode(); return b's' + u32(len(b)) + b
def num(x): return b'd' + struct.pack('<d', x)
def obj(members):
    out = b'o' + u32(len(members))
    for k, v in members:
        out += u32(len(k)) + k.encode() + v
    return out
trigger = obj([('method', text('POST')), ('path', text('/kept')), ('query', obj([])),
               ('headers', obj([])), ('body', obj([('id', text('old1')), ('fail', num(0))])),
               ('raw_body', text('{"id":"old1","fail":0}')),
               ('received_at', text('2026-01-02T03:04:05.678Z'))])
outputs = u32(1) + u32(0) + trigger
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
db.executescript("""
CREATE TABLE runs (id TEXT PRIMARY KEY NOT NULL, workflow TEXT NOT NULL,
  state TEXT NOT NULL, started_at TEXT NOT NULL, attempt INTEGER NOT NULL,
  next_step INTEGER NOT NULL, next_key TEXT NOT NULL, wake_at INTEGER,
  changed_at INTEGER NOT NULL, outputs BLOB NOT NULL);
CREATE TABLE steps (run_id TEXT NOT NULL, step INTEGER NOT NULL,
  next_step INTEGER NOT NULL, next_key TEXT NOT NULL, wake_at INTEGER,
  output BLOB NOT NULL, PRIMARY KEY (run_id, step)) WITHOUT ROWID;
PRAGMA application_id = 1181513075;
PRAGMA user_version = 1;""")
now = 1800000000000
db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
           ('00000000-0000-4000-8000-000000000001', 'kept-flaky', 'pending',
            '2026-01-02T03:04:05.678Z', 1, 2, 'note', None, now, outputs))
db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
           ('00000000-0000-4000-8000-000000000002', 'kept-flaky', 'abandoned',
            '2026-01-02T03:04:06.000Z', 1, 1, 'ack', None, now, u32(0)))
db.close()
EOF
}

# The columns of the four tables, as PRAGMA table_info has them.
columns() {
    python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for t in ("runs", "steps", "shapes", "dedupe"):
    print(t, db.execute("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)", (t,)).fetchall())
print(db.execute("PRAGMA user_version").fetchone()[0])' "$1"
}

test_upgrade() {
    local pend=00000000-0000-4000-8000-000000000001 gone=00000000-0000-4000-8000-000000000002
    in_dir upgrade
    make_format1 kh.journal
    kh --runs
    expect_eq "format 1: --runs reads it" "$OUT" \
"$pend	pending	kept-flaky	note	1	2026-01-02T03:04:05.678Z	
$gone	abandoned	kept-flaky	ack	1	2026-01-02T03:04:06.000Z	"
    expect_eq "format 1: --runs leaves it format 1" "$(columns kh.journal | tail -n1)" 1
    start_handler handler.log "$KH" --listen 127.0.0.1:0 || { fail "upgrade: start"; return; }
    expect_true "upgrade: logged" grep -q '"event":"journal","message":"journal kh.journal upgraded from format 1 to 2"' handler.log
    wait_for_line tail.log '^old1 2 200$' 10 || fail "upgrade: the pending run resumed, attempt 2"
    kh --drop "$gone"
    expect_eq "upgrade: --drop of an abandoned run while serving: exit 0" "$RC" 0
    kh --retry "$gone"
    expect_eq "upgrade: --retry of a dropped run: exit 1" "$RC" 1
    stop_handler "$HANDLER_PID"
    in_dir fresh
    start_handler handler.log "$KH" --listen 127.0.0.1:0 || { fail "fresh: start"; return; }
    stop_handler "$HANDLER_PID"
    expect_eq "upgrade: the same tables and columns as a new journal" \
        "$(columns ../upgrade/kh.journal)" "$(columns kh.journal)"
    kh --runs --journal ../upgrade/kh.journal
    expect_eq "upgrade: nothing left" "$OUT" ""
}

test_retry_serving
test_retry_stopped
test_usage
test_refused
test_upgrade
stop_handler "$(cat "$E2E_DIR"/handler.1.pid)"
expect_eq "no sanitizer reports" \
    "$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR" | wc -l)" 0
echo "e2e kept: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
