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
# send_email, against aiosmtpd (tests/e2e/smtp_sink.py keeps each message
# as received): the message byte for byte (MIME, RFC 2047 subject), the
# envelope with bcc, a refused recipient, retried temporary refusals and
# a server that is down, retries after the answer outlasting a kill -9
# and a restart (spec 8.2), CR/LF in a subject or an address, STARTTLS with
# a throw-away certificate (used when offered, always verified, required
# with a username off loopback), and 300 runs waiting on the SMTP server
# on an unchanged number of threads.
#
# IOSTEPS_ONLY=sqlite|pg|mail|linking runs one part.
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

# The message a failed run's log line gives (spec 14: its 500 names only
# the step; the message goes to the log): the run the 500 in HTTP_BODY
# names, from the handlers' logs here.
why() {
    local id tries=0
    id=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"run_id":"\([0-9a-f-]*\)".*/\1/p')
    [ -n "$id" ] || return 0
    while [ $tries -lt 50 ]; do
        grep -h "\"run_id\":\"$id\"" ./*.log 2>/dev/null | grep '"event":"failed"' && return 0
        sleep 0.1
        tries=$((tries + 1))
    done
}

# emails DIR: how many messages DIR holds.
emails() {
    find "$1" -name '*.eml' | wc -l
}

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
    expect_match "SQLite error: the database's message" "$(why)" \
        '"message":"UNIQUE constraint failed: items.id"'
    http POST "$url/lite/many?n=100"
    expect_eq "SQLite max_rows: 100 rows pass" "$HTTP_BODY" '{"count":100,"last":100}'
    http POST "$url/lite/many?n=100000"
    expect_eq "SQLite max_rows: 100,000 rows fail the step" "$HTTP_STATUS" 500
    expect_match "SQLite max_rows: says why" "$(why)" 'more than 100 rows \(max_rows\)'
    http POST "$url/lite/slow"
    expect_eq "SQLite timeout: the step fails" "$HTTP_STATUS" 500
    expect_match "SQLite timeout: says why" "$(why)" '"message":"timed out after 300 ms"'
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
    expect_match "PostgreSQL error: the database's message" "$(why)" \
        'duplicate key value violates unique constraint'
    http POST "$url/pg/many?n=10000"
    expect_eq "PostgreSQL max_rows: 10,000 rows pass" "$HTTP_BODY" '{"count":10000}'
    http POST "$url/pg/many?n=100000"
    expect_eq "PostgreSQL max_rows: 100,000 rows fail the step" "$HTTP_STATUS" 500
    expect_match "PostgreSQL max_rows: says why" "$(why)" 'more than 10000 rows \(max_rows\)'
}

test_pg_timeout() {
    local url=$1 left
    http POST "$url/pg/short"
    expect_eq "PostgreSQL timeout: the step fails" "$HTTP_STATUS" 500
    expect_match "PostgreSQL timeout: says why" "$(why)" '"message":"timed out after 300 ms( waiting for a connection)?"'
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
    local url=$1
    "$PGCLUSTER" stop "$PG"
    http POST "$url/pg/quick"
    expect_eq "PostgreSQL gone: the step fails" "$HTTP_STATUS" 500
    expect_match "PostgreSQL gone: says so" "$(why)" \
        '"message":"(cannot connect to the database|the connection to the database was lost)'
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

# ---- send_email -------------------------------------------------------------

SMTP_PY=/usr/bin/python3

# A port free on 127.0.0.1 (nothing listens on it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_smtp NAME HOST [aiosmtpd options...]: an aiosmtpd on a free port
# of HOST (on port $SMTP_PORT_AT when set) keeping messages in
# $E2E_DIR/NAME/; sets SMTP_PORT.
start_smtp() {
    local name=$1 host=$2 end
    shift 2
    mkdir -p "$E2E_DIR/$name"
    SMTP_PORT=${SMTP_PORT_AT:-$(free_port)}
    # not a job of this shell: killed at exit without a word
    ( PYTHONPATH=$ROOT/tests/e2e "$SMTP_PY" -m aiosmtpd -n -l "$host:$SMTP_PORT" \
        -c smtp_sink.Sink "$@" "$E2E_DIR/$name" > "$E2E_DIR/$name.log" 2>&1 &
      echo $! > "$E2E_DIR/$name.pid" )
    E2E_PIDS="$E2E_PIDS $(cat "$E2E_DIR/$name.pid")"
    end=$(( $(now_ms) + 10000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        (exec 3<> "/dev/tcp/$host/$SMTP_PORT") 2> /dev/null && return 0
        sleep 0.05
    done
    sed 's/^/  | /' "$E2E_DIR/$name.log" >&2
    return 1
}

# The message exactly as the server received it: every byte but the Date
# value (checked by its form), the Message-ID (the step's output) and the
# boundary (checked by its form, then used).
test_mail_bytes() {
    local url=$1 msg id date boundary subject
    http POST "$url/mail/send" -H 'Content-Type: application/json' \
        -d '{"to":"alice@example.com","cc":"Doe, Jane <jane@example.com>","subject":"Commande n° 1001 reçue — merci beaucoup pour votre confiance et à bientôt chez nous","id":1001}'
    expect_eq "send_email: answered" "$HTTP_STATUS" 200
    expect_match "send_email: the output" "$HTTP_BODY" \
        '^\{"sent":true,"message_id":"[0-9a-f-]{36}@example\.com","recipients":4,"attempts":1\}$'
    id=$(printf '%s' "$HTTP_BODY" | sed 's/.*"message_id":"\([^"]*\)".*/\1/')
    msg=$E2E_DIR/inbox/1.eml
    [ -s "$msg" ] || { fail "send_email: no message received"; return; }
    date=$(sed -n '1s/^Date: \(.*\)\r$/\1/p' "$msg")
    expect_match "send_email: Date in RFC 5322 form" "$date" \
        '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$'
    boundary=$(sed -n 's/^Content-Type: multipart\/alternative; boundary="\(flusso-[0-9a-f-]*\)"\r$/\1/p' "$msg")
    expect_match "send_email: a boundary of its own" "$boundary" '^flusso-[0-9a-f-]{36}$'
    subject='=?UTF-8?B?Q29tbWFuZGUgbsKwIDEwMDEgcmXDp3VlIOKAlCBtZXJjaSBiZWF1?=\r\n =?UTF-8?B?Y291cCBwb3VyIHZvdHJlIGNvbmZpYW5jZSBldCDDoCBiaWVudMO0dCBjaGV6?=\r\n =?UTF-8?B?IG5vdXM=?='
    printf '%s\r\n' "Date: $date" "Message-ID: <$id>" "From: Shop <shop@example.com>" \
        "To: alice@example.com, Second Person <second@example.com>" \
        'Cc: "Doe, Jane" <jane@example.com>' "Reply-To: help@example.com" > expected.eml
    printf 'Subject: %b\r\n' "$subject" >> expected.eml
    printf '%s\r\n' "MIME-Version: 1.0" \
        "Content-Type: multipart/alternative; boundary=\"$boundary\"" "" \
        "--$boundary" "Content-Type: text/plain; charset=utf-8" \
        "Content-Transfer-Encoding: 7bit" "" "Thank you for order 1001!" "See you." \
        "--$boundary" "Content-Type: text/html; charset=utf-8" \
        "Content-Transfer-Encoding: 7bit" "" "<p>Thank you for order <b>1001</b></p>" \
        "--$boundary--" >> expected.eml
    if cmp -s expected.eml "$msg"; then
        pass "send_email: the message, byte for byte"
    else
        fail "send_email: the message differs"
        diff <(cat -A expected.eml) <(cat -A "$msg") | head -20 >&2
    fi
    expect_eq "send_email: the envelope (bcc in it, not in the headers)" \
        "$(cat "$E2E_DIR/inbox/1.env")" \
        "$(printf 'from=shop@example.com\nto=alice@example.com,second@example.com,jane@example.com,hidden@example.com\ntls=no')"
    expect_eq "send_email: the subject decodes" "$("$SMTP_PY" -c '
import email, sys
from email.header import decode_header, make_header
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
print(str(make_header(decode_header(m["Subject"]))))' "$msg")" \
        "Commande n° 1001 reçue — merci beaucoup pour votre confiance et à bientôt chez nous"
}

test_mail_refused() {
    local url=$1 before
    before=$(emails "$E2E_DIR/inbox")
    http POST "$url/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"refuse-me@example.com","subject":"x","text":"x"}'
    expect_eq "refused recipient: the step fails" "$HTTP_STATUS" 500
    expect_match "refused recipient: the server's reply" "$(why)" \
        '"message":"smtp://127.0.0.1:[0-9]+ refused the message: 550 5.1.1 <refuse-me@example.com>: Recipient address rejected"'
    http POST "$url/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"later@example.com","subject":"x","text":"x"}'
    expect_eq "temporary refusal: the step fails after its retries" "$HTTP_STATUS" 500
    expect_match "temporary refusal: 3 attempts" "$(why)" '451 4.3.0 .*\(3 attempts\)"'
    http POST "$url/mail/plain" -H 'Content-Type: application/json' \
        --data-binary '{"from":"shop@example.com","to":"bob@example.com","subject":"Hi\r\nBcc: evil@example.com","text":"x"}'
    expect_eq "CR/LF in the subject: the step fails" "$HTTP_STATUS" 500
    expect_match "CR/LF in the subject: says so" "$(why)" '"message":"subject: contains CR or LF"'
    http POST "$url/mail/plain" -H 'Content-Type: application/json' \
        --data-binary '{"from":"shop@example.com","to":"bob@example.com\nBcc: evil@example.com","subject":"x","text":"x"}'
    expect_match "CR/LF in an address: the step fails" "$(why)" '"message":"to: the address contains CR or LF"'
    http POST "$url/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"not an address","subject":"x","text":"x"}'
    expect_match "not an address: the step fails" "$(why)" '"message":"to: the address is not an email address'
    expect_eq "nothing refused was delivered" "$(emails "$E2E_DIR/inbox")" "$before"
}

# 300 runs waiting on the SMTP server at once: no thread more.
test_mail_threads() {
    local before out
    if [ ! -x "$LOADGEN" ]; then
        LOADGEN=$E2E_DIR/loadgen
        # shellcheck disable=SC2086
        $CC $E2E_CFLAGS $WARN -o "$LOADGEN" "$ROOT/tests/e2e/loadgen.c" || return
    fi
    before=$(threads "$HANDLER_PID")
    out=$("$LOADGEN" 127.0.0.1 "$HANDLER_PORT" /mail/many 300 201 "$HANDLER_PID")
    echo "  300 runs sending email: $out (threads before: $before)"
    expect_match "300 runs sending email all answered 201" "$out" '^ok=300 failed=0 '
    expect_match "thread count unchanged while 300 runs wait on SMTP" "$out" \
        "threads_min=$before threads_max=$before "
    expect_eq "300 messages received" "$(emails "$E2E_DIR/inbox")" 301
}

test_mail_down() {
    local closed
    closed=$(free_port)
    SMTP_URL=smtp://127.0.0.1:$closed SMTP_USER='' SMTP_PASSWORD='' start_handler down.log ./mailh --listen 0 --journal none ||
        { fail "mail handler (no server)"; return; }
    http POST "$HANDLER_URL/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"bob@example.com","subject":"x","text":"x"}'
    expect_eq "no SMTP server: the step fails" "$HTTP_STATUS" 500
    expect_match "no SMTP server: after 3 attempts" "$(why)" "smtp://127.0.0.1:$closed failed: .*\\(3 attempts\\)"
    stop_handler "$HANDLER_PID"
}

# A send_email after the answer, its SMTP server down: the waits between
# attempts are the run's, journaled (spec 8.2).  retry_max_delay_ms 4000:
# attempts at about 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s, the 7th 3.2-3.52 s
# after the 6th.  The handler is killed 0.3 s after the 6th failed, the
# server comes up on that port, the handler restarts: the 7th attempt,
# when due (not at once), delivers the message, and the output counts 7
# attempts, as run.attempt 2.
test_mail_restart() {
    local port journal=$E2E_DIR/mailr.journal pid t6 up t7 due runs end
    compile mailr "$WF/mailretry-restart.json" || return
    port=$(free_port)
    SMTP_URL=smtp://127.0.0.1:$port start_handler mr1.log ./mailr --listen 0 --journal "$journal" ||
        { fail "mail retry handler"; return; }
    pid=$HANDLER_PID
    http POST "$HANDLER_URL/mail/retry" -H 'Content-Type: application/json' \
        -d '{"to":"bob@example.com","subject":"outage"}'
    expect_eq "email retries over a restart: answered first" "$HTTP_STATUS" 202
    wait_count mr1.log '"event":"email_retry"' 6 30 ||
        fail "email retries over a restart: 6 attempts not made"
    t6=$(now_ms)
    sleep 0.3
    kill -KILL "$pid"
    end=$(( $(now_ms) + 5000 ))
    while kill -0 "$pid" 2> /dev/null && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
    expect_eq "email retries: killed between attempts 6 and 7" \
        "$(grep -c '"event":"email_retry"' mr1.log)" 6
    runs=$(./mailr --runs --journal "$journal")
    expect_match "email retries: pending at the send while it waits" "$runs" \
        "	pending	mailretry-restart	notify	"
    SMTP_PORT_AT=$port start_smtp retrybox 127.0.0.1 || { fail "aiosmtpd (retries)"; return; }
    SMTP_URL=smtp://127.0.0.1:$port start_handler mr2.log ./mailr --listen 0 --journal "$journal" ||
        { fail "mail retry handler (restart)"; return; }
    up=$(now_ms)
    expect_true "email retries: resumed with its 6 attempts" \
        grep -q '"event":"recovered","message":"resumes at notify (attempt 2), 6 tries made"' mr2.log
    end=$(( $(now_ms) + 30000 ))
    while [ ! -e "$E2E_DIR/retrybox/1.eml" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.02
    done
    t7=$(now_ms)
    due=$(( t6 + 3520 > up ? t6 + 3520 : up ))
    echo "  kill -9 after attempt 6, restart $(( up - t6 )) ms later, delivered $(( t7 - t6 )) ms after attempt 6 (due after 3200-3520)"
    expect_eq "email retries: delivered after the restart" "$(emails "$E2E_DIR/retrybox")" 1
    expect_true "email retries: attempt 7 not before its back-off ($(( t7 - t6 )) ms)" \
        test $(( t7 - t6 )) -ge 3000
    expect_true "email retries: attempt 7 when due ($(( t7 - due )) ms after)" \
        test "$t7" -le $(( due + 3000 ))
    expect_true "email retries: output attempts 7 across the restart, run.attempt 2" \
        wait_count mr2.log '"message":"outage sent: attempts 7, run.attempt 2"' 1 10
    sleep 0.3
    expect_eq "email retries: one message" "$(emails "$E2E_DIR/retrybox")" 1
    stop_handler "$HANDLER_PID"
    expect_eq "email retries: stopped cleanly" "$STOP_STATUS" 0
    expect_eq "email retries: the finished run left the journal" \
        "$(./mailr --runs --journal "$journal" | grep -c mailretry-restart)" 0
}

# STARTTLS with a throw-away certificate: used when offered, verified
# always; required with a username off loopback.
test_mail_tls() {
    local ip
    openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
        -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        > openssl.log 2>&1 || { fail "openssl: no certificate"; return; }
    start_smtp tlsbox 127.0.0.1 --tlscert cert.pem --tlskey key.pem --no-requiretls ||
        { fail "aiosmtpd with STARTTLS"; return; }
    SSL_CERT_FILE=$E2E_DIR/cert.pem SMTP_URL=smtp://127.0.0.1:$SMTP_PORT SMTP_USER='' SMTP_PASSWORD='' \
        start_handler tls.log ./mailh --listen 0 --journal none || { fail "mail handler (TLS)"; return; }
    http POST "$HANDLER_URL/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"bob@example.com","subject":"over TLS","text":"secret"}'
    expect_eq "STARTTLS offered: sent" "$HTTP_STATUS" 200
    expect_match "STARTTLS offered: used" "$(cat "$E2E_DIR/tlsbox/1.env" 2>/dev/null)" 'tls=yes'
    stop_handler "$HANDLER_PID"
    SMTP_URL=smtp://127.0.0.1:$SMTP_PORT SMTP_USER='' SMTP_PASSWORD='' \
        start_handler tls2.log ./mailh --listen 0 --journal none || { fail "mail handler (TLS 2)"; return; }
    http POST "$HANDLER_URL/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"bob@example.com","subject":"x","text":"x"}'
    expect_eq "an untrusted certificate: the step fails" "$HTTP_STATUS" 500
    expect_eq "an untrusted certificate: nothing sent" "$(emails "$E2E_DIR/tlsbox")" 1
    stop_handler "$HANDLER_PID"
    ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -1)
    if [ -z "$ip" ]; then
        echo "  skip STARTTLS required off loopback: no other IPv4 address"
        return
    fi
    start_smtp plainbox "$ip" || { fail "aiosmtpd on $ip"; return; }
    SMTP_URL=smtp://$ip:$SMTP_PORT SMTP_USER=shop SMTP_PASSWORD=pw \
        start_handler req.log ./mailh --listen 0 --journal none || { fail "mail handler (required TLS)"; return; }
    http POST "$HANDLER_URL/mail/plain" -H 'Content-Type: application/json' \
        -d '{"from":"shop@example.com","to":"bob@example.com","subject":"x","text":"x"}'
    expect_eq "username off loopback without STARTTLS: the step fails" "$HTTP_STATUS" 500
    expect_eq "username off loopback without STARTTLS: nothing sent (no password in clear)" \
        "$(emails "$E2E_DIR/plainbox")" 0
    stop_handler "$HANDLER_PID"
}

test_mail() {
    if ! "$SMTP_PY" -c 'import aiosmtpd' 2> /dev/null; then
        echo "  skip send_email: python3-aiosmtpd is not installed (make deps)"
        return
    fi
    echo "e2e iosteps: send_email"
    compile mailh "$WF"/mail-*.json || return
    start_smtp inbox 127.0.0.1 || { fail "aiosmtpd"; return; }
    SMTP_URL=smtp://127.0.0.1:$SMTP_PORT SMTP_USER='' SMTP_PASSWORD='' \
        start_handler mail.log ./mailh --listen 0 --journal none || { fail "mail handler"; return; }
    local url=$HANDLER_URL
    test_mail_bytes "$url"
    test_mail_refused "$url"
    test_mail_threads
    stop_handler "$HANDLER_PID"
    expect_eq "mail handler: clean stop" "$STOP_STATUS" 0
    test_mail_down
    test_mail_restart
    test_mail_tls
}

# ---- the example: a signed Shopify order into PostgreSQL, then an email -------

# wait_count FILE RE N SECS: until FILE has N lines matching RE.
wait_count() {
    local end=$(( $(now_ms) + $4 * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        [ "$(grep -Ec -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
        sleep 0.05
    done
    return 1
}

test_example() {
    if [ ! -s "$PG/url" ] || ! "$SMTP_PY" -c 'import aiosmtpd' 2> /dev/null; then
        echo "  skip examples/shopify-order.json: needs PostgreSQL and aiosmtpd"
        return
    fi
    echo "e2e iosteps: examples/shopify-order.json"
    compile shop "$ROOT/examples/shopify-order.json" || return
    pg_sql "CREATE TABLE shop_orders (id bigint PRIMARY KEY, name text, email text, total_price numeric, currency text)" > /dev/null
    pg_sql "CREATE TABLE shop_order_lines (order_id bigint, position int, sku text, title text, quantity int, price numeric, PRIMARY KEY (order_id, position))" > /dev/null
    start_smtp shopbox 127.0.0.1 || { fail "aiosmtpd (example)"; return; }
    export SHOPIFY_WEBHOOK_SECRET=shpss_example-secret
    SMTP_URL=smtp://127.0.0.1:$SMTP_PORT SMTP_USER='' SMTP_PASSWORD='' DATABASE_URL=$(cat "$PG/url") \
        start_handler shop.log ./shop --listen 0 --journal none --log-level debug ||
        { fail "example handler"; return; }
    printf '%s' '{"id":5718345678901,"name":"#1001","email":"jon@example.com","total_price":"199.00","currency":"EUR","line_items":[{"sku":"A-1","title":"Mug","quantity":2,"price":"49.50"},{"sku":null,"title":"Gift wrap","quantity":1,"price":"0.00"},{"sku":"C-3","title":"Tea, 250 g","quantity":4,"price":"25.00"}]}' > order.json
    local sig i
    sig=$(openssl dgst -sha256 -hmac "$SHOPIFY_WEBHOOK_SECRET" -binary < order.json | openssl base64 -A)
    for i in 1 2; do
        http POST "$HANDLER_URL/hooks/shopify/orders" -H 'Content-Type: application/json' \
            -H "X-Shopify-Hmac-Sha256: $sig" --data-binary @order.json
        expect_eq "example: delivery $i acknowledged" "$HTTP_STATUS $HTTP_BODY" '200 {"received":true}'
        wait_count shop.log '"step":"(sent|duplicate)"' "$i" 10 ||
            fail "example: delivery $i never finished"
    done
    expect_true "example: the second delivery is a duplicate" grep -q '"step":"duplicate"' shop.log
    expect_eq "example: the order is in PostgreSQL" \
        "$(pg_sql "SELECT id, name, email, total_price, currency FROM shop_orders")" \
        '5718345678901|#1001|jon@example.com|199.00|EUR'
    expect_eq "example: each line item is a row, once" \
        "$(pg_sql "SELECT order_id, position, coalesce(sku, '-'), title, quantity, price FROM shop_order_lines ORDER BY position")" \
        "$(printf '%s\n' '5718345678901|0|A-1|Mug|2|49.50' \
            '5718345678901|1|-|Gift wrap|1|0.00' '5718345678901|2|C-3|Tea, 250 g|4|25.00')"
    expect_eq "example: one confirmation, not two" "$(emails "$E2E_DIR/shopbox")" 1
    expect_match "example: the confirmation" "$(tr -d '\r' < "$E2E_DIR/shopbox/1.eml")" \
        'Subject: Order #1001 received'
    stop_handler "$HANDLER_PID"
    unset SHOPIFY_WEBHOOK_SECRET
}

# ---- links only what it uses ---------------------------------------------------

test_linking() {
    compile plain "$WF/echo.json" || return
    expect_true "a handler without database steps does not link libpq" \
        sh -c '! ldd ./plain | grep -q libpq'
    expect_true "a handler with database steps links libpq" \
        sh -c 'ldd ./pgh | grep -q libpq'
}

case ${IOSTEPS_ONLY:-all} in
all) test_sqlite; test_pg; test_mail; test_example; test_linking ;;
*) "test_$IOSTEPS_ONLY" ;;
esac
e2e_finish
