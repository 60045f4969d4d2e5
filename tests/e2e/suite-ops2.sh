#!/usr/bin/env bash
# suite-ops2.sh - operating a handler in production (spec §14): HTTPS with
# a throw-away certificate and its reload on SIGHUP, SIGHUP under load,
# --listen :PORT, the access log, /metrics' labels and histograms, a
# failed step's 500, W3C trace context through http_request, the journal
# under $STATE_DIRECTORY and systemd's readiness notification.
#
# Usage: tests/e2e/suite-ops2.sh FLUSSOC BUILDDIR   (env CC, E2E_CFLAGS,
# E2E_LDLIBS).  Handlers are compiled from tests/e2e/workflows/ops2-*.json;
# the downstream from tests/e2e/downstream.c; certificates are made here
# with openssl.  Time bounds are generous: the suite also runs under ASan.
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WF=$ROOT/tests/e2e/workflows
. "$ROOT/tests/e2e/lib.sh"
e2e_init
unset FLUSSO_LISTEN STATE_DIRECTORY NOTIFY_SOCKET
export DOWNSTREAM=http://127.0.0.1:9      # set to the real one in test_trace

CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2 -g}
E2E_LDLIBS=${E2E_LDLIBS:--lmicrohttpd -lcjson -lcrypto -lcurl -lsqlite3 -lpthread -lm}
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
OPS2=$E2E_DIR/ops2
LOADGEN=$BUILD/tests/loadgen
RUN_ID_RE='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

build() {
    # shellcheck disable=SC2086
    $CC $E2E_CFLAGS $WARN -o "$E2E_DIR/downstream" "$ROOT/tests/e2e/downstream.c" \
        $E2E_LDLIBS || return 1
    if [ ! -x "$LOADGEN" ]; then
        LOADGEN=$E2E_DIR/loadgen
        # shellcheck disable=SC2086
        $CC $E2E_CFLAGS $WARN -o "$LOADGEN" "$ROOT/tests/e2e/loadgen.c" || return 1
    fi
    "$FLUSSOC" "$WF"/ops2-*.json -o "$OPS2" 2> "$E2E_DIR/ops2.cc.log" || {
        sed 's/^/  | /' "$E2E_DIR/ops2.cc.log" >&2
        return 1
    }
}

# ---- helpers -----------------------------------------------------------------

# cert NAME: a self-signed certificate for localhost and 127.0.0.1, in
# NAME.crt and NAME.key.
cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$E2E_DIR/$1.key" -out "$E2E_DIR/$1.crt" 2>/dev/null
}

# wait_https LOG SECS: the URL of LOG's "listening on https://" line.
wait_https() {
    local end=$(( $(now_ms) + $2 * 1000 )) line
    while [ "$(now_ms)" -lt "$end" ]; do
        line=$(grep -m1 '^listening on https://' "$1" 2>/dev/null)
        [ -n "$line" ] && { echo "${line#listening on }"; return 0; }
        sleep 0.05
    done
    return 1
}

# start_tls LOG FLAGS...: starts the handler serving HTTPS (its ready line
# is not the one start_handler waits for); sets PID, PORT.
start_tls() {
    local log=$1 pidf=$E2E_DIR/tls.$RANDOM.pid url
    shift
    : > "$log"
    ( ( "$OPS2" "$@" 2> "$log" & p=$!; echo "$p" > "$pidf"
        wait "$p"; echo $? > "$E2E_DIR/handler.$p.rc" ) & )
    url=$(wait_https "$log" 10) || { sed 's/^/  | /' "$log" >&2; return 1; }
    PID=$(cat "$pidf")
    E2E_PIDS="$E2E_PIDS $PID"
    PORT=${url##*:}
}

# https PATH CACERT: POSTs {} to https://localhost:PORT/PATH trusting
# CACERT; sets HTTP_STATUS ("000" when the handshake or the check failed).
https() {
    HTTP_STATUS=$(curl -s --max-time 10 --cacert "$2" -o "$E2E_DIR/https.body" \
        -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' \
        "https://localhost:$PORT$1")
    HTTP_BODY=$(cat "$E2E_DIR/https.body" 2>/dev/null)
}

# hup_reopened LOG N: sends SIGHUP to PID and waits for LOG's Nth
# "reopened" line; prints how long that took, in ms.
hup_reopened() {
    local t0
    t0=$(now_ms)
    kill -HUP "$PID"
    local end=$(( t0 + 10000 ))
    while [ "$(grep -c '"event":"reopened"' "$1")" -lt "$2" ] && [ "$(now_ms)" -lt "$end" ]; do
        sleep 0.01
    done
    echo $(( $(now_ms) - t0 ))
}

# ---- HTTPS, and a new certificate on SIGHUP ------------------------------------

test_tls() {
    local log=$E2E_DIR/tls.log ms
    cert one && cert two || { fail "openssl cannot make a certificate"; return; }
    cp "$E2E_DIR/one.crt" "$E2E_DIR/live.crt"
    cp "$E2E_DIR/one.key" "$E2E_DIR/live.key"
    start_tls "$log" --listen 127.0.0.1:0 --journal none \
        --tls-cert "$E2E_DIR/live.crt" --tls-key "$E2E_DIR/live.key" \
        || { fail "the HTTPS handler did not start"; return; }
    pass "ready line says https://127.0.0.1:PORT"
    https /ops2/ack "$E2E_DIR/one.crt"
    expect_eq "HTTPS: a run answered" "$HTTP_STATUS $HTTP_BODY" '200 {"ok":true}'
    https /healthz "$E2E_DIR/two.crt"
    expect_eq "HTTPS: another CA's certificate is refused" "$HTTP_STATUS" 000
    expect_true "plain HTTP to the HTTPS port gets no 200" test \
        "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" != 200

    cp "$E2E_DIR/two.crt" "$E2E_DIR/live.crt"
    cp "$E2E_DIR/two.key" "$E2E_DIR/live.key"
    ms=$(hup_reopened "$log" 1)
    expect_true "SIGHUP: reopened logged within 1 s ($ms ms)" test "$ms" -lt 1000
    https /ops2/ack "$E2E_DIR/two.crt"
    expect_eq "SIGHUP: the new certificate is served" "$HTTP_STATUS $HTTP_BODY" '200 {"ok":true}'
    https /healthz "$E2E_DIR/one.crt"
    expect_eq "SIGHUP: the old one is not" "$HTTP_STATUS" 000

    echo "not a certificate" > "$E2E_DIR/live.crt"
    hup_reopened "$log" 2 >/dev/null
    expect_true "a bad certificate is logged at error" \
        grep -q '"level":"error","event":"reopened","message":"kept the current certificate: .*live.crt' "$log"
    https /ops2/ack "$E2E_DIR/two.crt"
    expect_eq "a bad certificate keeps the current one" "$HTTP_STATUS" 200
    expect_true "the handler still runs" kill -0 "$PID"
    stop_handler "$PID"
    expect_eq "HTTPS handler: exit 0 after SIGTERM" "$STOP_STATUS" 0

    local out rc
    out=$(timeout 10 "$OPS2" --listen 127.0.0.1:0 --journal none \
        --tls-cert "$E2E_DIR/nothing.crt" --tls-key "$E2E_DIR/one.key" 2>&1); rc=$?
    expect_eq "a missing certificate file: exit 2" "$rc" 2
    expect_match "... naming it" "$out" 'nothing\.crt'
    out=$(timeout 10 "$OPS2" --listen 127.0.0.1:0 --journal none \
        --tls-cert "$E2E_DIR/one.crt" --tls-key "$E2E_DIR/two.key" 2>&1); rc=$?
    expect_eq "a key of another certificate: exit 2" "$rc" 2
    timeout 10 "$OPS2" --tls-cert "$E2E_DIR/one.crt" >/dev/null 2>&1
    expect_eq "--tls-cert without --tls-key: exit 2" "$?" 2
}

# ---- SIGHUP never stops the handler, nor loses a request -----------------------

test_sighup_load() {
    local log=$E2E_DIR/hup.log out i
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none \
        || { fail "handler did not start"; return; }
    PID=$HANDLER_PID
    "$LOADGEN" 127.0.0.1 "$HANDLER_PORT" /ops2/ack 3000 200 > "$E2E_DIR/load.out" &
    local lg=$!
    for i in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.05
        kill -HUP "$PID"
    done
    wait "$lg"
    out=$(cat "$E2E_DIR/load.out")
    expect_match "SIGHUP x10 during 3000 requests: every one answered 200" "$out" '^ok=3000 failed=0'
    expect_true "the handler still runs after SIGHUP" kill -0 "$PID"
    wait_for_line "$log" '"event":"reopened"' 5
    expect_eq "each SIGHUP logged reopened" "$(grep -c '"event":"reopened"' "$log")" 10
    http GET "$HANDLER_URL/healthz"
    expect_eq "then /healthz" "$HTTP_STATUS" 200
    stop_handler "$PID"
    expect_eq "exit 0 after SIGTERM" "$STOP_STATUS" 0
}

# ---- --listen :PORT ------------------------------------------------------------

test_listen_any() {
    local log=$E2E_DIR/any.log
    start_handler "$log" "$OPS2" --listen :0 --journal none \
        || { fail "--listen :0 did not start"; return; }
    expect_match "--listen :0 prints [::] (or 0.0.0.0)" "$HANDLER_URL" \
        '^http://(\[::\]|0\.0\.0\.0):[0-9]+$'
    http GET "http://127.0.0.1:$HANDLER_PORT/healthz"
    expect_eq "--listen :PORT answers on IPv4" "$HTTP_STATUS" 200
    if [[ $HANDLER_URL == *"[::]"* ]]; then
        http GET "http://[::1]:$HANDLER_PORT/healthz"
        expect_eq "--listen :PORT answers on IPv6" "$HTTP_STATUS" 200
    fi
    stop_handler "$HANDLER_PID"
}

# ---- the access log -------------------------------------------------------------

# json_lines LOG: every line after the ready line parses as a JSON object.
json_lines() {
    sed 1d "$1" | python3 -c '
import json, sys
for line in sys.stdin:
    assert isinstance(json.loads(line), dict), line
'
}

test_access_log() {
    local log=$E2E_DIR/access.log id line
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none \
        || { fail "access log: start"; return; }
    http POST "$HANDLER_URL/ops2/ack?secret=1" -H 'Content-Type: application/json' -d '{}'
    id=$(header X-Flusso-Run-Id)
    http GET "$HANDLER_URL/nope?x=1"
    http GET "$HANDLER_URL/healthz"
    wait_for_line "$log" '"path":"/healthz"' 5
    line=$(grep '"event":"request"' "$log" | grep '"path":"/ops2/ack"')
    expect_match "access log: a run's request, every field" "$line" \
        "^\\{\"time\":\"[^\"]+\",\"level\":\"info\",\"run_id\":\"$id\",\"workflow\":\"ops2-ack\",\"event\":\"request\",\"duration_ms\":[0-9]+,\"trace_id\":\"[0-9a-f]{32}\",\"method\":\"POST\",\"path\":\"/ops2/ack\",\"status\":200,\"bytes\":11,\"remote_addr\":\"127\\.0\\.0\\.1\"\\}\$"
    expect_true "access log: the query is left out" test "$(grep -c 'secret' "$log")" = 0
    line=$(grep '"event":"request"' "$log" | grep '"path":"/nope"')
    expect_match "access log: a 404 has no run" "$line" \
        '"level":"info","event":"request","duration_ms":[0-9]+,"method":"GET","path":"/nope","status":404,"bytes":21,"remote_addr":"127\.0\.0\.1"\}$'
    expect_match "access log: /healthz too" "$(grep '"path":"/healthz"' "$log")" '"status":200,"bytes":15,'
    expect_true "access log: every line is JSON" json_lines "$log"
    stop_handler "$HANDLER_PID"

    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none --access-log off \
        || { fail "access log off: start"; return; }
    http POST "$HANDLER_URL/ops2/ack" -d '{}'
    wait_for_line "$log" '"message":"acked"' 5
    expect_eq "--access-log off: no request line" "$(grep -c '"event":"request"' "$log")" 0
    stop_handler "$HANDLER_PID"
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none --log-level warn \
        || { fail "access log at warn: start"; return; }
    http POST "$HANDLER_URL/ops2/ack" -d '{}'
    http GET "$HANDLER_URL/healthz"
    expect_eq "--log-level warn: no request line" "$(grep -c '"event":"request"' "$log")" 0
    stop_handler "$HANDLER_PID"
    timeout 10 "$OPS2" --access-log maybe >/dev/null 2>&1
    expect_eq "--access-log maybe: exit 2" "$?" 2
}

# ---- /metrics: labels, and histograms whose buckets are cumulative -------------

# check_metrics FILE: parses a /metrics text; prints what is wrong, if anything.
check_metrics() {
    python3 - "$1" <<'PY'
import re, sys
series = {}
for line in open(sys.argv[1]):
    if line.startswith('#') or not line.strip():
        continue
    m = re.match(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$', line.strip())
    if not m:
        print('bad line: ' + line.strip()); continue
    labels = dict(re.findall(r'([a-z_]+)="([^"]*)"', m.group(2) or ''))
    series.setdefault(m.group(1), []).append((labels, float(m.group(3))))
def one(name, **want):
    got = [v for l, v in series.get(name, []) if all(l.get(k) == w for k, w in want.items())]
    return got[0] if len(got) == 1 else None
def histogram(name, **want):
    buckets = [(l['le'], v) for l, v in series.get(name + '_bucket', [])
               if all(l.get(k) == w for k, w in want.items())]
    if not buckets:
        print('no histogram %s %s' % (name, want)); return
    les = [float('inf') if le == '+Inf' else float(le) for le, _ in buckets]
    if les != sorted(les) or les[-1] != float('inf'):
        print('%s %s: le not increasing to +Inf' % (name, want))
    counts = [v for _, v in buckets]
    if any(b < a for a, b in zip(counts, counts[1:])):
        print('%s %s: buckets not cumulative: %s' % (name, want, counts))
    if one(name + '_count', **want) != counts[-1]:
        print('%s %s: _count is not the +Inf bucket' % (name, want))
    if one(name + '_sum', **want) is None:
        print('%s %s: no _sum' % (name, want))
    return counts[-1]
if one('flusso_http_requests_total', workflow='ops2-ack', status='200') != 5:
    print('requests_total{workflow="ops2-ack",status="200"} is not 5')
if one('flusso_http_requests_total', workflow='', status='404') != 1:
    print('requests_total{workflow="",status="404"} is not 1')
if histogram('flusso_http_answer_duration_seconds', workflow='ops2-ack') != 5:
    print('answer histogram of ops2-ack does not count 5')
if histogram('flusso_step_duration_seconds', workflow='ops2-ack', step='note') != 5:
    print('step histogram of ops2-ack/note does not count 5')
if not histogram('flusso_journal_commit_duration_seconds'):
    print('no journal commit counted')
histogram('flusso_run_duration_seconds', workflow='ops2-ack')
PY
}

test_metrics() {
    local log=$E2E_DIR/metrics.log out i
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal "$E2E_DIR/metrics.journal" \
        || { fail "metrics: start"; return; }
    for i in 1 2 3 4 5; do http POST "$HANDLER_URL/ops2/ack" -d '{}'; done
    http GET "$HANDLER_URL/nope"
    wait_for_line "$log" '"message":"acked".*' 5
    sleep 0.3                      # the last tail's step is counted as it ends
    curl -s --max-time 10 "$HANDLER_URL/metrics" > "$E2E_DIR/m.txt"
    out=$(check_metrics "$E2E_DIR/m.txt")
    expect_eq "metrics: labels, counts and cumulative histograms" "$out" ""
    stop_handler "$HANDLER_PID"
}

# ---- a failed step's 500, and trace context through http_request --------------

start_downstream() {
    start_handler "$E2E_DIR/downstream.log" "$E2E_DIR/downstream" --listen 0 \
        || { fail "downstream did not start"; return 1; }
    DOWN_PID=$HANDLER_PID
    export DOWNSTREAM=$HANDLER_URL
}

test_500() {
    local log=$E2E_DIR/fail.log id
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none \
        || { fail "500: start"; return; }
    http POST "$HANDLER_URL/ops2/fail" -d '{}'
    id=$(header X-Flusso-Run-Id)
    expect_eq "500: the body names the step, no more" "$HTTP_STATUS $HTTP_BODY" \
        "500 {\"error\":\"step 'charge' failed\",\"run_id\":\"$id\"}"
    expect_true "500: no URL, host or port in the body" \
        test "$(printf '%s' "$HTTP_BODY" | grep -Ec 'http|127\.0|localhost|:[0-9]')" = 0
    expect_true "500: the log has the message, at error, with the step" \
        grep -Eq "\"level\":\"error\",\"run_id\":\"$id\",\"workflow\":\"ops2-fail\",\"step\":\"charge\",\"event\":\"failed\",\"message\":\"GET http://127\\.0\\.0\\.1:[0-9]+ answered HTTP 500\"" "$log"
    stop_handler "$HANDLER_PID"
}

test_trace() {
    local log=$E2E_DIR/trace.log id tp got trace
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none \
        || { fail "trace: start"; return; }
    trace=4bf92f3577b34da6a3ce929d0e0e4736
    tp="00-$trace-00f067aa0ba902b7-01"
    http POST "$HANDLER_URL/ops2/call" -H "traceparent: $tp" -d '{}'
    id=$(header X-Flusso-Run-Id)
    got=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"traceparent":"\([^"]*\)".*/\1/p')
    expect_match "traceparent: passed on with the caller's trace id" "$got" \
        "^00-$trace-[0-9a-f]{16}-01\$"
    expect_true "traceparent: ... and a new span id" test "${got:36:16}" != 00f067aa0ba902b7
    wait_for_line "$log" "\"run_id\":\"$id\".*\"event\":\"request\"" 5
    wait_for_line "$log" "\"run_id\":\"$id\".*\"message\":\"answered\"" 5
    expect_true "trace_id on every line of the run (at least 2)" \
        test "$(grep -c "\"run_id\":\"$id\"" "$log")" -ge 2 -a \
             "$(grep "\"run_id\":\"$id\"" "$log" | grep -vc "\"trace_id\":\"$trace\"")" = 0
    http POST "$HANDLER_URL/ops2/call" -d '{}'
    id=$(header X-Flusso-Run-Id)
    got=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"traceparent":"\([^"]*\)".*/\1/p')
    expect_match "no traceparent: the run starts a trace" "$got" '^00-[0-9a-f]{32}-[0-9a-f]{16}-01$'
    wait_for_line "$log" "\"run_id\":\"$id\".*\"message\":\"answered\"" 5
    expect_true "... logged as its trace_id" \
        grep -q "\"run_id\":\"$id\".*\"trace_id\":\"${got:3:32}\"" "$log"
    for tp in "00-${trace^^}-00f067aa0ba902b7-01" "00-00000000000000000000000000000000-00f067aa0ba902b7-01" \
              "ff-$trace-00f067aa0ba902b7-01" "00-$trace-0000000000000000-01" "00-$trace-00f067aa0ba902b7-01-x"; do
        http POST "$HANDLER_URL/ops2/call" -H "traceparent: $tp" -d '{}'
        got=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"traceparent":"\([^"]*\)".*/\1/p')
        expect_true "a malformed traceparent starts a new trace ($tp)" \
            test "${got:3:32}" != "$trace" -a "${got:3:32}" != "${trace^^}" -a ${#got} = 55
    done
    stop_handler "$HANDLER_PID"
}

# ---- systemd: readiness on $NOTIFY_SOCKET, the journal in $STATE_DIRECTORY ------

# notify_listen SOCKET FILE: a unix datagram socket (a path, or @name in the
# abstract namespace) whose messages are appended to FILE, one per line;
# sets NOTIFY_PID.
notify_listen() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind("\0" + name[1:] if name.startswith("@") else name)
with open(sys.argv[2], "a") as f:
    print("bound", file=f, flush=True)
    while True:
        f.write(s.recv(4096).decode() + "\n")
        f.flush()
' "$1" "$2" &
    NOTIFY_PID=$!
    wait_for_line "$2" '^bound$' 10
}

test_systemd() {
    local log=$E2E_DIR/sd.log state=$E2E_DIR/state note=$E2E_DIR/notify.txt out rc
    mkdir -p "$state" "$E2E_DIR/cwd"
    notify_listen "$E2E_DIR/notify.sock" "$note" || { fail "notify socket"; return; }
    cd "$E2E_DIR/cwd" || return
    start_handler "$log" env NOTIFY_SOCKET="$E2E_DIR/notify.sock" STATE_DIRECTORY="$state" \
        "$OPS2" --listen 127.0.0.1:0 || { cd "$ROOT"; fail "systemd: start"; return; }
    cd "$ROOT" || return
    expect_true "READY=1 sent once listening" wait_for_line "$note" '^READY=1$' 5
    expect_true "the journal is in \$STATE_DIRECTORY" test -f "$state/ops2.journal"
    expect_true "... not in the working directory" test ! -e "$E2E_DIR/cwd/ops2.journal"
    http POST "$HANDLER_URL/ops2/ack" -d '{}'
    expect_eq "then a run" "$HTTP_STATUS" 200
    stop_handler "$HANDLER_PID"
    expect_true "STOPPING=1 sent when draining starts" wait_for_line "$note" '^STOPPING=1$' 5
    kill "$NOTIFY_PID"

    notify_listen "@flusso-e2e-$$" "$E2E_DIR/notify2.txt" || { fail "abstract socket"; return; }
    start_handler "$log" env NOTIFY_SOCKET="@flusso-e2e-$$" "$OPS2" --listen 127.0.0.1:0 \
        --journal none || { fail "systemd (abstract): start"; return; }
    expect_true "READY=1 to an abstract socket (@name)" \
        wait_for_line "$E2E_DIR/notify2.txt" '^READY=1$' 5
    stop_handler "$HANDLER_PID"
    kill "$NOTIFY_PID"

    out=$(cd "$E2E_DIR/cwd" && STATE_DIRECTORY=$E2E_DIR/missing/dir timeout 10 \
        "$OPS2" --listen 127.0.0.1:0 2>&1); rc=$?
    expect_eq "a journal that cannot be created: exit 2" "$rc" 2
    expect_match "... naming the path" "$out" "missing/dir/ops2\\.journal"
    expect_match "... and the flag to use" "$out" '--journal PATH'
}

# ---- examples/deploy: the systemd unit is one systemd accepts -------------------

test_deploy_unit() {
    local unit=$E2E_DIR/payment-handler.service out rc
    if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "  (no systemd-analyze: the unit is not verified)"
        return
    fi
    # the unit as shipped, but for the binary's and the env file's paths
    sed -e "s|/usr/local/bin/payment-handler|$OPS2|" \
        -e "s|^EnvironmentFile=.*|EnvironmentFile=-$E2E_DIR/none.env|" \
        "$ROOT/examples/deploy/flusso-handler.service" > "$unit"
    out=$(systemd-analyze verify --man=no "$unit" 2>&1); rc=$?
    expect_eq "systemd-analyze verify: the unit is clean" "$rc:$out" "0:"
    for key in '^Type=notify$' '^DynamicUser=yes$' '^StateDirectory=' '^ProtectSystem=strict$' \
               '^ExecReload=/bin/kill -HUP \$MAINPID$' '^NoNewPrivileges=yes$'; do
        expect_true "the unit has $key" grep -Eq "$key" "$unit"
    done
}

# ---- SIGHUP reopens the log steps' files (logrotate) ----------------------------

test_reopen_files() {
    local dir=$E2E_DIR/rotate log=$E2E_DIR/rotate/handler.log
    mkdir -p "$dir"
    cd "$dir" || return
    start_handler "$log" "$OPS2" --listen 127.0.0.1:0 --journal none \
        || { cd "$ROOT"; fail "reopen: start"; return; }
    cd "$ROOT" || return
    PID=$HANDLER_PID
    http POST "$HANDLER_URL/ops2/file?n=1" -d '{}'
    wait_for_line "$dir/ops2-file.log" '^line 1$' 5
    mv "$dir/ops2-file.log" "$dir/ops2-file.log.1"          # as logrotate does
    http POST "$HANDLER_URL/ops2/file?n=2" -d '{}'
    wait_for_line "$dir/ops2-file.log.1" '^line 2$' 5
    hup_reopened "$log" 1 > /dev/null
    http POST "$HANDLER_URL/ops2/file?n=3" -d '{}'
    expect_true "after SIGHUP the log step writes to a new file" \
        wait_for_line "$dir/ops2-file.log" '^line 3$' 5
    expect_eq "... and the moved one kept what came before" \
        "$(tr '\n' ' ' < "$dir/ops2-file.log.1")" "line 1 line 2 "
    stop_handler "$PID"
}

# ---- --version: the libraries it runs with -------------------------------------

test_version() {
    local out
    out=$(timeout 10 "$OPS2" --version 2>&1)
    expect_eq "--version exits 0" "$?" 0
    expect_match "--version names libmicrohttpd and its version" "$out" 'libmicrohttpd [0-9]+\.[0-9]+'
    expect_match "... GnuTLS" "$out" 'GnuTLS [0-9]+\.[0-9]+'
    expect_match "... OpenSSL" "$out" 'OpenSSL [0-9]+\.[0-9]+'
    expect_match "... SQLite" "$out" 'SQLite [0-9]+\.[0-9]+'
    expect_match "... cJSON" "$out" 'cJSON [0-9]+\.[0-9]+'
    expect_match "... libcurl (this handler calls out)" "$out" 'libcurl [0-9]+\.[0-9]+'
    out=$("$FLUSSOC" --version | tr "\n" " ")
    expect_match "flussoc --version names cJSON and what handlers link" "$out" \
        'cJSON [0-9]+\.[0-9]+.*handlers link: .*-lmicrohttpd'
}

# Under ASan/UBSan (make asan-test), any report in a handler's log fails.
test_sanitizers() {
    expect_eq "no sanitizer reports" \
        "$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR" --include='*.log' | wc -l)" 0
}

echo "e2e ops2: building ($BUILD)"
build || { fail "build"; e2e_finish; exit 1; }
test_tls
test_sighup_load
test_reopen_files
test_version
test_listen_any
test_access_log
test_metrics
test_systemd
test_deploy_unit
start_downstream && {
    test_500
    test_trace
    stop_handler "$DOWN_PID"
}
test_sanitizers
e2e_finish
