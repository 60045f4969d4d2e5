#!/usr/bin/env bash
# suite-iosteps.sh - the database step end to end, against real databases:
# SQLite files, and a throw-away PostgreSQL 15 cluster (pgcluster.sh).
#
# SQLite: typed parameters bound by name, typed rows, rows changed, the
# database's own error, max_rows, timeout_ms interrupting a statement, a
# missing file stopping the handler (exit 2, naming the step).
# PostgreSQL: typed parameters and rows, insert/update, max_rows against a
# 100,000-row result, timeout_ms cancelling the statement on the server, a
# password never printed, the server going away mid-run (a clear step
# failure) and coming back, and 5,000 runs waiting on the database while a
# pg_sleep is in flight, on an unchanged number of threads.
#
# Usage: tests/e2e/suite-iosteps.sh FLUSSOC BUILDDIR
# PostgreSQL parts are skipped (said so) when PostgreSQL is not installed.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
PGCLUSTER=$ROOT/tests/e2e/pgcluster.sh
. "$ROOT/tests/e2e/lib.sh"
e2e_init

CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2 -g}
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
LOADGEN=$BUILD/tests/loadgen
cd "$E2E_DIR" || exit 1
PG=$E2E_DIR/pg

cleanup_pg() {
    [ -d "$PG" ] && "$PGCLUSTER" stop "$PG"
    e2e_cleanup
}
trap cleanup_pg EXIT

threads() {
    awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

compile() {   # compile OUT WORKFLOW...
    local out=$1
    shift
    if ! "$FLUSSOC" "$@" -o "$out" 2> "$out.cc.log"; then
        sed 's/^/  | /' "$out.cc.log" >&2
        fail "flussoc: $out does not compile"
        return 1
    fi
}

# ---- SQLite ---------------------------------------------------------------

make_sqlite() {
    python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, qty INTEGER, price REAL, note TEXT, data TEXT, flag BOOLEAN)")
db.commit()
EOF
}

test_sqlite() {
    echo "e2e iosteps: SQLite"
    compile lite "$WF"/db-sqlite-*.json || return
    make_sqlite "$E2E_DIR/shop.db" || { fail "cannot make the SQLite file"; return; }
    local out rc
    out=$(SQLITE_URL=sqlite:$E2E_DIR/missing.db timeout 10 ./lite --listen 0 --journal none 2>&1); rc=$?
    expect_eq "missing SQLite file: exit 2" "$rc" 2
    expect_match "missing SQLite file: names the step" "$out" \
        "workflow 'db-sqlite-insert', step 'save': cannot open the database 'sqlite:$E2E_DIR/missing.db'"

    export SQLITE_URL=sqlite:$E2E_DIR/shop.db
    start_handler lite.log ./lite --listen 0 --journal none || { fail "SQLite handler"; return; }
    local url=$HANDLER_URL
    http POST "$url/lite/insert" -H 'Content-Type: application/json' \
        -d '{"id":"a1","qty":3,"price":2.5,"note":"caf\u00e9 \"x\"","data":{"k":[1,null]},"flag":true}'
    expect_eq "SQLite insert: answered" "$HTTP_STATUS" 200
    expect_eq "SQLite insert: no rows, one changed" "$HTTP_BODY" '{"rows":[],"row_count":1}'
    http POST "$url/lite/insert" -H 'Content-Type: application/json' -d '{"id":"a2","qty":null}'
    expect_eq "SQLite insert: nulls bound" "$HTTP_STATUS" 200
    http POST "$url/lite/select?id=a1"
    expect_eq "SQLite select: typed rows" "$HTTP_BODY" \
        '{"rows":[{"id":"a1","qty":3,"price":2.5,"note":"café \"x\"","data":"{\"k\":[1,null]}","flag":1,"raw":"AQL/","nil":null}],"row_count":1}'
    http POST "$url/lite/select?id=a2"
    expect_eq "SQLite select: NULLs as null" "$HTTP_BODY" \
        '{"rows":[{"id":"a2","qty":null,"price":null,"note":null,"data":null,"flag":null,"raw":"AQL/","nil":null}],"row_count":1}'
    http POST "$url/lite/select?id=nope"
    expect_eq "SQLite select: no rows" "$HTTP_BODY" '{"rows":[],"row_count":0}'
    http POST "$url/lite/insert" -H 'Content-Type: application/json' -d '{"id":"a1","qty":1}'
    expect_eq "SQLite error: the step fails" "$HTTP_STATUS" 500
    expect_match "SQLite error: the database's message" "$HTTP_BODY" \
        '"error":"UNIQUE constraint failed: items.id"'
    http POST "$url/lite/many?n=100"
    expect_eq "SQLite max_rows: 100 rows pass" "$HTTP_BODY" '{"count":100,"last":100}'
    http POST "$url/lite/many?n=100000"
    expect_eq "SQLite max_rows: 100,000 rows fail the step" "$HTTP_STATUS" 500
    expect_match "SQLite max_rows: says why" "$HTTP_BODY" 'more than 100 rows \(max_rows\)'
    http POST "$url/lite/slow"
    expect_eq "SQLite timeout: the step fails" "$HTTP_STATUS" 500
    expect_match "SQLite timeout: says why" "$HTTP_BODY" '"error":"timed out after 300 ms"'
    expect_true "SQLite timeout: within 5 s" [ "$HTTP_MS" -lt 5000 ]
    stop_handler "$HANDLER_PID"
    expect_eq "SQLite handler: clean stop" "$STOP_STATUS" 0
    unset SQLITE_URL
}

# ---- PostgreSQL -------------------------------------------------------------

pg_sql() {
    "$PGCLUSTER" psql "$PG" -t -A -c "$1"
}

test_pg_start() {
    local out rc
    out=$(PG_URL='postgresql://shop:s3cr3t-pw@127.0.0.1:1/shop' timeout 20 ./pgh --listen 0 --journal none 2>&1); rc=$?
    expect_eq "unreachable PostgreSQL: exit 2" "$rc" 2
    expect_match "unreachable PostgreSQL: names the step" "$out" \
        "step '[a-z]+': cannot open the database 'postgresql://shop:\*\*\*@127.0.0.1:1/shop'"
    expect_true "unreachable PostgreSQL: the password is never printed" \
        sh -c "! printf '%s' \"\$1\" | grep -q s3cr3t-pw" _ "$out"
    out=$(PG_URL="mysql://x" timeout 20 ./pgh --listen 0 --journal none 2>&1); rc=$?
    expect_eq "unknown scheme from env: exit 2" "$rc" 2
    expect_match "unknown scheme: says so" "$out" 'must start with sqlite:, postgresql:// or postgres://'
}

test_pg_values() {
    local url=$1
    http POST "$url/pg/types" -H 'Content-Type: application/json' \
        -d '{"a":"x","b":42,"c":true,"d":{"k":[1,2]},"e":1.25}'
    expect_eq "PostgreSQL: typed parameters and rows" "$HTTP_BODY" \
        '{"rows":[{"a":"x","b":42,"c":true,"d":{"k":[1,2]},"e":1.25,"f":null,"g":"AQL/","h":1.5,"i":[1,"two",null],"j":null}],"row_count":1}'
    http POST "$url/pg/insert" -H 'Content-Type: application/json' -d '{"id":"o1","amount":10}'
    expect_eq "PostgreSQL insert and update" "$HTTP_BODY" \
        '{"ins":{"rows":[{"id":"o1","amount":10,"meta":{"id":"o1","amount":10}}],"row_count":1},"bumped":1,"rows":[]}'
    expect_eq "PostgreSQL: the row is there" "$(pg_sql "SELECT amount FROM orders WHERE id = 'o1'")" 11
    http POST "$url/pg/insert" -H 'Content-Type: application/json' -d '{"id":"o1","amount":10}'
    expect_eq "PostgreSQL error: the step fails" "$HTTP_STATUS" 500
    expect_match "PostgreSQL error: the database's message" "$HTTP_BODY" \
        'duplicate key value violates unique constraint'
    http POST "$url/pg/many?n=10000"
    expect_eq "PostgreSQL max_rows: 10,000 rows pass" "$HTTP_BODY" '{"count":10000}'
    http POST "$url/pg/many?n=100000"
    expect_eq "PostgreSQL max_rows: 100,000 rows fail the step" "$HTTP_STATUS" 500
    expect_match "PostgreSQL max_rows: says why" "$HTTP_BODY" 'more than 10000 rows \(max_rows\)'
}

test_pg_timeout() {
    local url=$1 left
    http POST "$url/pg/short"
    expect_eq "PostgreSQL timeout: the step fails" "$HTTP_STATUS" 500
    expect_match "PostgreSQL timeout: says why" "$HTTP_BODY" '"error":"timed out after 300 ms"'
    expect_true "PostgreSQL timeout: within 5 s" [ "$HTTP_MS" -lt 5000 ]
    left=$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%flusso-timeout-test%' AND state = 'active' AND pid <> pg_backend_pid()")
    expect_eq "PostgreSQL timeout: the statement was cancelled on the server" "$left" 0
    http POST "$url/pg/quick"
    expect_eq "PostgreSQL timeout: the pool goes on" "$HTTP_STATUS" 201
}

# 5,000 runs waiting for the database, a pg_sleep in flight: no thread
# more than before.
test_pg_threads() {
    local url=$1 before out
    if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 12000 ]; then
        echo "  skip 5000 runs waiting on PostgreSQL: descriptor limit $(ulimit -Hn)"
        return
    fi
    ulimit -n "$(ulimit -Hn)"
    if [ ! -x "$LOADGEN" ]; then
        LOADGEN=$E2E_DIR/loadgen
        # shellcheck disable=SC2086
        $CC $E2E_CFLAGS $WARN -o "$LOADGEN" "$ROOT/tests/e2e/loadgen.c" || return
    fi
    before=$(threads "$HANDLER_PID")
    curl -s -o sleep.out -w '%{http_code}' -X POST "$url/pg/sleep?s=3" > sleep.code &
    sleep 0.3
    out=$("$LOADGEN" 127.0.0.1 "$HANDLER_PORT" /pg/quick 5000 201 "$HANDLER_PID")
    echo "  5000 runs on PostgreSQL: $out (threads before: $before)"
    expect_match "5000 runs waiting on PostgreSQL all answered 201" "$out" '^ok=5000 failed=0 '
    expect_match "thread count unchanged while 5000 runs wait on PostgreSQL" "$out" \
        "threads_min=$before threads_max=$before "
    wait
    expect_eq "the pg_sleep in flight meanwhile answered" "$(cat sleep.code)" 200
    expect_eq "thread count unchanged after" "$(threads "$HANDLER_PID")" "$before"
}

# The server stops mid-run: a clear step failure, no crash; it comes back,
# and so do the answers.
test_pg_gone() {
    local url=$1 port
    port=$(cat "$PG/port")
    "$PGCLUSTER" stop "$PG"
    http POST "$url/pg/quick"
    expect_eq "PostgreSQL gone: the step fails" "$HTTP_STATUS" 500
    expect_match "PostgreSQL gone: says so" "$HTTP_BODY" \
        '"error":"(cannot connect to the database|the connection to the database was lost)'
    http POST "$url/pg/quick"
    expect_eq "PostgreSQL gone: again a clear failure" "$HTTP_STATUS" 500
    "$PGCLUSTER" restart "$PG" > /dev/null || { fail "PostgreSQL does not restart"; return; }
    http POST "$url/pg/quick"
    expect_eq "PostgreSQL back: answered again" "$HTTP_STATUS" 201
    expect_eq "PostgreSQL back: the row" "$HTTP_BODY" '{"n":42}'
    expect_true "the handler is still running" kill -0 "$HANDLER_PID"
}

test_pg() {
    if ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
        echo "  skip PostgreSQL: not installed (make deps)"
        return
    fi
    echo "e2e iosteps: PostgreSQL"
    compile pgh "$WF"/db-pg-*.json || return
    test_pg_start
    "$PGCLUSTER" start "$PG" > /dev/null || { fail "cannot start PostgreSQL"; return; }
    pg_sql "CREATE TABLE orders (id text PRIMARY KEY, amount numeric, meta jsonb)" > /dev/null
    PG_URL=$(cat "$PG/url") start_handler pg.log ./pgh --listen 0 --journal none ||
        { fail "PostgreSQL handler"; return; }
    local url=$HANDLER_URL
    test_pg_values "$url"
    test_pg_timeout "$url"
    test_pg_threads "$url"
    test_pg_gone "$url"
    stop_handler "$HANDLER_PID"
    expect_eq "PostgreSQL handler: clean stop" "$STOP_STATUS" 0
}

# ---- links only what it uses ---------------------------------------------------

test_linking() {
    compile plain "$WF/echo.json" || return
    expect_true "a handler without database steps does not link libpq" \
        sh -c '! ldd ./plain | grep -q libpq'
    expect_true "a handler with database steps links libpq" \
        sh -c 'ldd ./pgh | grep -q libpq'
}

test_sqlite
test_pg
test_linking
e2e_finish
