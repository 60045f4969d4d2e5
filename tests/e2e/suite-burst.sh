#!/usr/bin/env bash
# suite-burst.sh - a burst of connections never stalls the handler (issue
# 22): the short form of bench/burst, on the payment example.
#
#   paused  N = 128 and 256, one HTTP thread (--workers 1), 2 rounds each:
#           the N connections are made and left idle, the handler is
#           stopped while every request is sent, then continued (`burst
#           -p`).  libmicrohttpd's own epoll loop left all N unanswered,
#           every time, until the guard's 10 s header deadline
#           (docs/burst-stall.md); our loop around MHD_run() answers them.
#   fresh   N = 512, two HTTP threads, 2 rounds, each on a handler started
#           for it with its journal on: every answer is then held for the
#           journal's commit and handed back through the loop's wake-up.
#
# A round fails when a request was refused, reset or answered other than
# 200, or when an answer never came within BURST_E2E_WAIT_MS (6000 ms; a
# stall lasted 9.5 s at least).  Slowness alone fails nothing: the suite
# also runs under ASan on a shared machine.  No CPU hogs: the pause makes
# the stall happen without them (`make storm` is the long form, with them).
#
# Usage: tests/e2e/suite-burst.sh FLUSSOC BUILDDIR   (env CC, E2E_CFLAGS
# build the client, bench/burst.c).  BURST_HANDLER=PATH runs that payment
# handler binary instead of compiling examples/payment.json (a handler
# built before the fix fails the paused rounds).
set -u
FLUSSOC=$(realpath "$1")
BUILD=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib.sh"
e2e_init

CC=${CC:-cc}
E2E_CFLAGS=${E2E_CFLAGS:--std=c11 -D_GNU_SOURCE -O2 -g}
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
WAIT_MS=${BURST_E2E_WAIT_MS:-6000}
cd "$E2E_DIR" || exit 1

# ---- build ------------------------------------------------------------------
echo "e2e burst: building the client and the handler ($BUILD)"
# shellcheck disable=SC2086
if ! $CC $E2E_CFLAGS $WARN -o burst "$ROOT/bench/burst.c" 2> burst.cc.log; then
    sed 's/^/  | /' burst.cc.log >&2
    fail "bench/burst.c does not build"
    exit 1
fi
if [ -n "${BURST_HANDLER:-}" ]; then
    HANDLER=$(realpath "$BURST_HANDLER")
    echo "e2e burst: handler $HANDLER (BURST_HANDLER)"
elif "$FLUSSOC" "$ROOT/examples/payment.json" -o payment 2> payment.cc.log; then
    HANDLER=$E2E_DIR/payment
else
    sed 's/^/  | /' payment.cc.log >&2
    fail "flussoc: examples/payment.json does not compile"
    exit 1
fi

export PAYMENT_SECRET=burst-secret
export BENCH_BODY='{"id":"evt_1","amount":4200}'
BENCH_SIGNATURE=$(printf '%s' "$BENCH_BODY" |
    openssl dgst -sha256 -hmac "$PAYMENT_SECRET" -r | cut -d' ' -f1)
export BENCH_SIGNATURE

# field LINE KEY: the value of KEY=... in the client's BURST line.
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# burst_round WHAT N [-p PID]: one burst of N against the handler started
# last; every request answered 200 within WAIT_MS.
burst_round() {
    local what=$1 n=$2 out
    shift 2
    out=$(./burst "$@" "${HANDLER_URL#http://}" "$n" "$WAIT_MS" "$WAIT_MS")
    echo "  $what: ${out#BURST }"
    expect_eq "$what: requests never answered within $WAIT_MS ms" \
        "$(field "$out" unanswered)" 0
    expect_eq "$what: requests refused, reset or not 200" "$(field "$out" errors)" 0
}

# round KIND N ROUND: a handler started for the round, one burst, stopped.
round() {
    local what="$1 N=$2 round $3"
    case $1 in
    paused)
        start_handler "paused.$2.$3.log" "$HANDLER" --listen 127.0.0.1:0 \
            --workers 1 --journal none || { fail "$what: handler did not start"; return 1; }
        burst_round "$what (--workers 1)" "$2" -p "$HANDLER_PID" ;;
    fresh)
        start_handler "fresh.$2.$3.log" "$HANDLER" --listen 127.0.0.1:0 \
            --workers 2 --journal "fresh.$2.$3.journal" ||
            { fail "$what: handler did not start"; return 1; }
        burst_round "$what (--workers 2, journal on)" "$2" ;;
    esac
    stop_handler "$HANDLER_PID"
    expect_eq "$what: handler exit status" "$STOP_STATUS" 0
}

T0=$(now_ms)
for n in 128 256; do
    for r in 1 2; do
        round paused "$n" "$r"
    done
done
for r in 1 2; do
    round fresh 512 "$r"
done
echo "e2e burst: $(( ($(now_ms) - T0) / 1000 )) s"
e2e_finish
