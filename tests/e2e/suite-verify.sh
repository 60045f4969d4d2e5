#!/usr/bin/env bash
# suite-verify.sh - trigger `verify` end to end (spec 3, 4.7, 4.8): every
# scheme accepts a payload signed exactly as its provider documents it
# (openssl, the way a sender would), and answers 401 {"error":"invalid
# signature"} - no X-Flusso-Run-Id, no run started - to the wrong secret, a
# tampered body, a missing or malformed header and, where the scheme has
# one, a stale or future timestamp.  Then the order of the checks (404,
# 405, 413 before 401; 401 before 400), secrets that cannot be keys at
# start, the examples (the providers' and stripe-by-hand.json, which checks
# Stripe's scheme with built-ins only), and that no secret appears in the
# generated C, the binary or its log.
#
# Usage: tests/e2e/suite-verify.sh FLUSSOC BUILDDIR
set -u
FLUSSOC=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib.sh"
e2e_init
cd "$E2E_DIR" || exit 1

# ---- secrets and signing, as the providers document them ------------------

export GH_SECRET='gh-Sx9pQ2-github-secret-7f3a'
export STRIPE_SECRET='whsec_stripeTestSecret9c41d7e2b0'
export SHOPIFY_SECRET='shpss_shopify-secret-51ab9e0c'
export SLACK_SECRET='8f742231b10e8888abcd99yyyzzz85a5'
export SW_SECRET='whsec_obLD1OX2BxgpOktcbX6PkBEiM0RVZneImaq7zN3u/wA='
SW_KEY_HEX=$(printf '%s' "${SW_SECRET#whsec_}" | openssl base64 -d -A | od -An -tx1 -v | tr -d ' \n')
export HEX_SECRET='generic-hex-secret-d00d'
export B64_SECRET='generic-b64-secret-f00d'
SECRETS=("$GH_SECRET" "$STRIPE_SECRET" "$SHOPIFY_SECRET" "$SLACK_SECRET"
         "${SW_SECRET#whsec_}" "$HEX_SECRET" "$B64_SECRET")

# hmac_hex KEY FILE / hmac_b64 KEY FILE: HMAC-SHA256 of FILE's bytes.
hmac_hex() { openssl dgst -sha256 -hmac "$1" < "$2" | awk '{ print $NF }'; }
hmac_b64() { openssl dgst -sha256 -hmac "$1" -binary < "$2" | openssl base64 -A; }
# hmac_b64_hexkey HEXKEY FILE: the same with a binary key (Standard Webhooks).
hmac_b64_hexkey() {
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -binary < "$2" | openssl base64 -A
}

# signed_file FILE PARTS...: FILE holds the parts concatenated, exactly.
signed_file() {
    local f=$1
    shift
    printf '%s' "$@" > "$f"
}

# ---- the workflows: one per scheme, each answering 200 and logging --------

# workflow NAME VERIFY [TRIGGER EXTRA]: a workflow on POST /NAME that
# answers {"scheme":NAME,"id":body.id} and logs "ran NAME <id>".
workflow() {
    cat > "wf-$1.json" <<EOF
{
  "name": "v-$1",
  "trigger": { "key": "trigger", "type": "webhook_trigger",
    "config": { "path": "/$1", "verify": $2 ${3:-} } },
  "steps": [
    { "key": "ack", "type": "webhook_response",
      "config": { "status_code": 200, "body": { "scheme": "$1", "id": "{{ trigger.output.body.id }}" } } },
    { "key": "ran", "type": "log",
      "config": { "message": "ran $1 {{ trigger.output.body.id }}" } }
  ]
}
EOF
}

workflow github '{ "scheme": "github", "secret": "{{ env.GH_SECRET }}" }'
workflow stripe '{ "scheme": "stripe", "secret": "{{ env.STRIPE_SECRET }}" }'
workflow shopify '{ "scheme": "shopify", "secret": "{{ env.SHOPIFY_SECRET }}" }'
workflow slack '{ "scheme": "slack", "secret": "{{ env.SLACK_SECRET }}", "tolerance_s": 60 }'
workflow standard '{ "scheme": "standard_webhooks", "secret": "{{ env.SW_SECRET }}" }'
workflow hex '{ "scheme": "hmac_sha256", "secret": "{{ env.HEX_SECRET }}",
               "header": "X-Signature", "prefix": "sha256=" }' ', "max_body_bytes": 1024'
workflow b64 '{ "scheme": "hmac_sha256", "secret": "{{ env.B64_SECRET }}",
               "header": "X-Payload-MAC", "encoding": "base64" }'

echo "e2e verify: building handlers"
if ! "$FLUSSOC" wf-*.json -o verify 2> build.log; then
    sed 's/^/  | /' build.log >&2
    fail "flussoc wf-*.json failed"
    e2e_finish
    exit 1
fi
"$FLUSSOC" --emit-c verify.c wf-*.json 2>> build.log

start_handler verify.log ./verify --listen 127.0.0.1:0 --log-level debug || exit 1
VERIFY_PID=$HANDLER_PID
URL=$HANDLER_URL

# started NAME: runs of workflow v-NAME started so far (debug log lines).
started() {
    grep -c "\"workflow\":\"v-$1\".*\"event\":\"started\"" verify.log
}

# accepted WHAT NAME ID: the last answer is the run's, and the run went on.
accepted() {
    expect_eq "$1: status" "$HTTP_STATUS" 200
    expect_eq "$1: body" "$HTTP_BODY" "{\"scheme\":\"$2\",\"id\":\"$3\"}"
    expect_match "$1: run id" "$(header X-Flusso-Run-Id)" '^[0-9a-f-]{36}$'
    expect_true "$1: log line" wait_for_line verify.log "\"message\":\"ran $2 $3\"" 15
}

# rejected WHAT NAME BEFORE: the last answer is the 401, and no run of
# v-NAME started (BEFORE: started NAME before the request).
rejected() {
    expect_eq "$1: status" "$HTTP_STATUS" 401
    expect_eq "$1: body" "$HTTP_BODY" '{"error":"invalid signature"}'
    expect_eq "$1: content type" "$(header Content-Type)" application/json
    expect_eq "$1: no run id" "$(header X-Flusso-Run-Id)" ""
    expect_eq "$1: no run started" "$(started "$2")" "$3"
}

# post NAME BODYFILE [CURL ARGS]: a JSON POST of BODYFILE's exact bytes.
post() {
    local name=$1 body=$2
    shift 2
    http POST "$URL/$name" -H 'Content-Type: application/json' \
        --data-binary "@$body" "$@"
}

# ---- github: X-Hub-Signature-256: sha256=<hex HMAC(secret, body)> ---------
test_github() {
    local sig n
    printf '{"id":"gh-1","ref":"refs/heads/main"}' > gh.json
    sig=$(hmac_hex "$GH_SECRET" gh.json)
    post github gh.json -H "X-Hub-Signature-256: sha256=$sig"
    accepted "github: good signature" github gh-1
    printf '{"id":"gh-2"}' > gh2.json
    post github gh2.json -H "x-hub-signature-256: sha256=$(hmac_hex "$GH_SECRET" gh2.json)"
    accepted "github: header name in any case" github gh-2
    printf '{"id":"gh-3"}' > gh3.json
    post github gh3.json -H "X-Hub-Signature-256: sha256=$(hmac_hex "$GH_SECRET" gh3.json | tr a-f A-F)"
    accepted "github: upper-case hex" github gh-3

    n=$(started github)
    printf '{"id":"gh-x","ref":"refs/heads/main"}' > ghx.json
    post github ghx.json -H "X-Hub-Signature-256: sha256=$(hmac_hex wrong-secret ghx.json)"
    rejected "github: wrong secret" github "$n"
    post github ghx.json -H "X-Hub-Signature-256: sha256=$sig"
    rejected "github: tampered body" github "$n"
    post github ghx.json
    rejected "github: missing header" github "$n"
    post github ghx.json -H "X-Hub-Signature-256: $(hmac_hex "$GH_SECRET" ghx.json)"
    rejected "github: no sha256= prefix" github "$n"
    post github ghx.json -H "X-Hub-Signature-256: sha1=$(hmac_hex "$GH_SECRET" ghx.json)"
    rejected "github: sha1=" github "$n"
    post github ghx.json -H "X-Hub-Signature-256: sha256=$(hmac_hex "$GH_SECRET" ghx.json)00"
    rejected "github: too long" github "$n"
    post github ghx.json -H "X-Hub-Signature-256: sha256=$(hmac_b64 "$GH_SECRET" ghx.json)"
    rejected "github: base64 instead of hex" github "$n"
}

# ---- stripe: Stripe-Signature: t=<ts>,v1=<hex HMAC(secret, "<ts>.<body>")> -
stripe_sig() {   # stripe_sig KEY TS BODYFILE
    signed_file st.signed "$2" "." "$(cat "$3")"
    hmac_hex "$1" st.signed
}

test_stripe() {
    local now n good
    now=$(date +%s)
    printf '{"id":"evt_1","type":"invoice.paid"}' > st.json
    good=$(stripe_sig "$STRIPE_SECRET" "$now" st.json)
    post stripe st.json -H "Stripe-Signature: t=$now,v1=$good"
    accepted "stripe: good signature" stripe evt_1
    printf '{"id":"evt_2"}' > st2.json
    post stripe st2.json -H "stripe-signature: t=$now,v1=$(stripe_sig wrong "$now" st2.json),v1=$(stripe_sig "$STRIPE_SECRET" "$now" st2.json),v0=00ff"
    accepted "stripe: second v1 matches" stripe evt_2
    printf '{"id":"evt_3"}' > st3.json
    post stripe st3.json -H "Stripe-Signature: t=$((now - 250)),v1=$(stripe_sig "$STRIPE_SECRET" $((now - 250)) st3.json)"
    accepted "stripe: 250 s old, within the default 300" stripe evt_3

    n=$(started stripe)
    printf '{"id":"evt_x"}' > stx.json
    post stripe stx.json -H "Stripe-Signature: t=$now,v1=$(stripe_sig wrong-secret "$now" stx.json)"
    rejected "stripe: wrong secret" stripe "$n"
    post stripe stx.json -H "Stripe-Signature: t=$now,v1=$good"
    rejected "stripe: tampered body" stripe "$n"
    post stripe stx.json
    rejected "stripe: missing header" stripe "$n"
    post stripe stx.json -H "Stripe-Signature: v1=$(stripe_sig "$STRIPE_SECRET" "$now" stx.json)"
    rejected "stripe: no t=" stripe "$n"
    post stripe stx.json -H "Stripe-Signature: t=$now,v0=$(stripe_sig "$STRIPE_SECRET" "$now" stx.json)"
    rejected "stripe: no v1=" stripe "$n"
    post stripe stx.json -H "Stripe-Signature: t=${now}x,v1=$(stripe_sig "$STRIPE_SECRET" "${now}x" stx.json)"
    rejected "stripe: malformed timestamp" stripe "$n"
    post stripe stx.json -H "Stripe-Signature: t=$((now - 400)),v1=$(stripe_sig "$STRIPE_SECRET" $((now - 400)) stx.json)"
    rejected "stripe: stale timestamp" stripe "$n"
    post stripe stx.json -H "Stripe-Signature: t=$((now + 400)),v1=$(stripe_sig "$STRIPE_SECRET" $((now + 400)) stx.json)"
    rejected "stripe: future timestamp" stripe "$n"
}

# ---- shopify: X-Shopify-Hmac-Sha256: <base64 HMAC(secret, body)> ----------
test_shopify() {
    local n sig
    printf '{"id":"sh-1","total_price":"12.50"}' > sh.json
    sig=$(hmac_b64 "$SHOPIFY_SECRET" sh.json)
    post shopify sh.json -H "X-Shopify-Hmac-Sha256: $sig"
    accepted "shopify: good signature" shopify sh-1

    n=$(started shopify)
    printf '{"id":"sh-x","total_price":"1250.00"}' > shx.json
    post shopify shx.json -H "X-Shopify-Hmac-Sha256: $(hmac_b64 wrong-secret shx.json)"
    rejected "shopify: wrong secret" shopify "$n"
    post shopify shx.json -H "X-Shopify-Hmac-Sha256: $sig"
    rejected "shopify: tampered body" shopify "$n"
    post shopify shx.json
    rejected "shopify: missing header" shopify "$n"
    post shopify shx.json -H "X-Shopify-Hmac-Sha256: $(hmac_hex "$SHOPIFY_SECRET" shx.json)"
    rejected "shopify: hex instead of base64" shopify "$n"
    post shopify shx.json -H 'X-Shopify-Hmac-Sha256: not base64 at all!'
    rejected "shopify: malformed" shopify "$n"
}

# ---- slack: v0=<hex HMAC(secret, "v0:<ts>:<body>")>, tolerance_s 60 -------
slack_sig() {   # slack_sig KEY TS BODYFILE
    signed_file sl.signed "v0:" "$2" ":" "$(cat "$3")"
    hmac_hex "$1" sl.signed
}

# slack_post BODYFILE TS SIG: a form-encoded POST as Slack sends it.
slack_post() {
    http POST "$URL/slack" -H 'Content-Type: application/x-www-form-urlencoded' \
        -H "X-Slack-Request-Timestamp: $2" -H "X-Slack-Signature: $3" \
        --data-binary "@$1"
}

test_slack() {
    local now n
    now=$(date +%s)
    printf 'token=x&team_id=T1&command=%%2Fdeploy&text=api+prod&id=sl-1' > sl.form
    slack_post sl.form "$now" "v0=$(slack_sig "$SLACK_SECRET" "$now" sl.form)"
    accepted "slack: good signature (form body)" slack sl-1

    n=$(started slack)
    printf 'command=%%2Fdeploy&text=api+staging&id=sl-x' > slx.form
    slack_post slx.form "$now" "v0=$(slack_sig wrong-secret "$now" slx.form)"
    rejected "slack: wrong secret" slack "$n"
    slack_post slx.form "$now" "v0=$(slack_sig "$SLACK_SECRET" "$now" sl.form)"
    rejected "slack: tampered body" slack "$n"
    http POST "$URL/slack" -H "X-Slack-Request-Timestamp: $now" --data-binary @slx.form
    rejected "slack: missing signature" slack "$n"
    http POST "$URL/slack" -H "X-Slack-Signature: v0=$(slack_sig "$SLACK_SECRET" "$now" slx.form)" \
        --data-binary @slx.form
    rejected "slack: missing timestamp" slack "$n"
    slack_post slx.form "$now" "v1=$(slack_sig "$SLACK_SECRET" "$now" slx.form)"
    rejected "slack: not v0=" slack "$n"
    slack_post slx.form "-$now" "v0=$(slack_sig "$SLACK_SECRET" "-$now" slx.form)"
    rejected "slack: malformed timestamp" slack "$n"
    slack_post slx.form $((now - 120)) "v0=$(slack_sig "$SLACK_SECRET" $((now - 120)) slx.form)"
    rejected "slack: 120 s old, over tolerance_s 60" slack "$n"
    slack_post slx.form $((now + 120)) "v0=$(slack_sig "$SLACK_SECRET" $((now + 120)) slx.form)"
    rejected "slack: 120 s ahead" slack "$n"
}

# ---- standard webhooks: v1,<base64 HMAC(key, "<id>.<ts>.<body>")> ---------
sw_sig() {   # sw_sig HEXKEY ID TS BODYFILE
    signed_file sw.signed "$2" "." "$3" "." "$(cat "$4")"
    hmac_b64_hexkey "$1" sw.signed
}

# sw_post BODYFILE ID TS SIGNATURE-HEADER
sw_post() {
    post standard "$1" -H "webhook-id: $2" -H "Webhook-Timestamp: $3" \
        -H "webhook-signature: $4"
}

test_standard() {
    local now n wrong
    now=$(date +%s)
    wrong=ff${SW_KEY_HEX:2}
    printf '{"id":"sw-1","type":"user.created"}' > sw.json
    sw_post sw.json msg_1 "$now" "v1,$(sw_sig "$SW_KEY_HEX" msg_1 "$now" sw.json)"
    accepted "standard webhooks: good signature" standard sw-1
    printf '{"id":"sw-2"}' > sw2.json
    sw_post sw2.json msg_2 "$now" "v1a,c29tZXRoaW5n v1,$(sw_sig "$wrong" msg_2 "$now" sw2.json) v1,$(sw_sig "$SW_KEY_HEX" msg_2 "$now" sw2.json)"
    accepted "standard webhooks: third of several signatures" standard sw-2

    n=$(started standard)
    printf '{"id":"sw-x"}' > swx.json
    sw_post swx.json msg_x "$now" "v1,$(sw_sig "$wrong" msg_x "$now" swx.json)"
    rejected "standard webhooks: wrong secret" standard "$n"
    sw_post swx.json msg_x "$now" "v1,$(sw_sig "$SW_KEY_HEX" msg_x "$now" sw.json)"
    rejected "standard webhooks: tampered body" standard "$n"
    sw_post swx.json msg_y "$now" "v1,$(sw_sig "$SW_KEY_HEX" msg_x "$now" swx.json)"
    rejected "standard webhooks: another webhook-id" standard "$n"
    post standard swx.json -H "webhook-timestamp: $now" \
        -H "webhook-signature: v1,$(sw_sig "$SW_KEY_HEX" msg_x "$now" swx.json)"
    rejected "standard webhooks: missing webhook-id" standard "$n"
    post standard swx.json -H "webhook-id: msg_x" -H "webhook-timestamp: $now"
    rejected "standard webhooks: missing signature" standard "$n"
    sw_post swx.json msg_x "$now" "v2,$(sw_sig "$SW_KEY_HEX" msg_x "$now" swx.json)"
    rejected "standard webhooks: not v1," standard "$n"
    sw_post swx.json msg_x "$now" "v1,$(sw_sig "$SW_KEY_HEX" msg_x "$now" swx.json | sed 's/.$/*/')"
    rejected "standard webhooks: malformed base64" standard "$n"
    sw_post swx.json msg_x $((now - 400)) "v1,$(sw_sig "$SW_KEY_HEX" msg_x $((now - 400)) swx.json)"
    rejected "standard webhooks: stale timestamp" standard "$n"
    sw_post swx.json msg_x $((now + 400)) "v1,$(sw_sig "$SW_KEY_HEX" msg_x $((now + 400)) swx.json)"
    rejected "standard webhooks: future timestamp" standard "$n"
}

# ---- hmac_sha256: header, prefix, hex or base64 ----------------------------
test_generic() {
    local n
    printf '{"id":"hx-1"}' > hx.json
    post hex hx.json -H "X-Signature: sha256=$(hmac_hex "$HEX_SECRET" hx.json)"
    accepted "hmac_sha256 hex: good signature" hex hx-1
    printf '{"id":"hb-1"}' > hb.json
    post b64 hb.json -H "X-Payload-MAC: $(hmac_b64 "$B64_SECRET" hb.json)"
    accepted "hmac_sha256 base64: good signature" b64 hb-1

    n=$(started hex)
    printf '{"id":"hx-x"}' > hxx.json
    post hex hxx.json -H "X-Signature: sha256=$(hmac_hex "$B64_SECRET" hxx.json)"
    rejected "hmac_sha256 hex: wrong secret" hex "$n"
    post hex hxx.json -H "X-Signature: $(hmac_hex "$HEX_SECRET" hxx.json)"
    rejected "hmac_sha256 hex: no prefix" hex "$n"
    post hex hxx.json -H "X-Signature: sha256=$(hmac_hex "$HEX_SECRET" hx.json)"
    rejected "hmac_sha256 hex: tampered body" hex "$n"
    post hex hxx.json
    rejected "hmac_sha256 hex: missing header" hex "$n"
    n=$(started b64)
    post b64 hxx.json -H "X-Payload-MAC: $(hmac_b64 "$HEX_SECRET" hxx.json)"
    rejected "hmac_sha256 base64: wrong secret" b64 "$n"
    post b64 hxx.json -H "X-Payload-MAC: $(hmac_hex "$B64_SECRET" hxx.json)"
    rejected "hmac_sha256 base64: hex instead" b64 "$n"
}

# ---- the order: 404, 405, 413 before 401; 401 before 400 -----------------
test_order() {
    local n
    printf '{"id":"o-1"}' > o.json
    post nowhere o.json -H 'X-Signature: sha256=00'
    expect_eq "order: unknown path is 404 first" "$HTTP_STATUS" 404
    http GET "$URL/hex" -H 'X-Signature: sha256=00'
    expect_eq "order: wrong method is 405 first" "$HTTP_STATUS" 405
    head -c 2000 /dev/zero | tr '\0' a > big.txt
    n=$(started hex)
    http POST "$URL/hex" -H 'X-Signature: sha256=00' --data-binary @big.txt
    expect_eq "order: too large is 413 before 401" "$HTTP_STATUS" 413
    http POST "$URL/hex" -H 'X-Signature: sha256=00' -H 'Transfer-Encoding: chunked' \
        --data-binary @big.txt
    expect_eq "order: chunked too large is 413 before 401" "$HTTP_STATUS" 413
    printf '{"id": ' > bad.json
    post hex bad.json -H 'X-Signature: sha256=00'
    expect_eq "order: bad signature and bad JSON is 401" "$HTTP_STATUS" 401
    post hex bad.json -H "X-Signature: sha256=$(hmac_hex "$HEX_SECRET" bad.json)"
    expect_eq "order: good signature, bad JSON is 400" "$HTTP_STATUS" 400
    expect_eq "order: 400 body" "$HTTP_BODY" '{"error":"invalid JSON body"}'
    expect_eq "order: still no run" "$(started hex)" "$n"
    http POST "$URL/hex" -H "X-Signature: sha256=$(printf '' | openssl dgst -sha256 -hmac "$HEX_SECRET" | awk '{ print $NF }')"
    expect_eq "order: an empty body is signed too" "$HTTP_STATUS" 200
}

# ---- keep-alive: a 401 leaves the connection usable ----------------------
test_keepalive() {
    printf '{"id":"ka-1"}' > ka.json
    local sig out
    sig=$(hmac_hex "$HEX_SECRET" ka.json)
    out=$(curl -s -g --max-time 20 -H 'Content-Type: application/json' \
        -H 'X-Signature: sha256=00' --data-binary @ka.json "$URL/hex" \
        --next -s -H 'Content-Type: application/json' \
        -H "X-Signature: sha256=$sig" --data-binary @ka.json "$URL/hex")
    expect_eq "keep-alive: 401 then 200 on one connection" "$out" \
        '{"error":"invalid signature"}{"scheme":"hex","id":"ka-1"}'
}

# ---- secrets that cannot be keys: refused at start ------------------------
test_bad_secrets() {
    local rc
    GH_SECRET='' ./verify --listen 127.0.0.1:0 > /dev/null 2> empty.log
    rc=$?
    expect_eq "empty secret: exit 2" "$rc" 2
    expect_match "empty secret: names the workflow" "$(cat empty.log)" \
        "workflow 'v-github': the verify secret is empty"
    SW_SECRET='whsec_not*base64!' ./verify --listen 127.0.0.1:0 > /dev/null 2> b64.log
    rc=$?
    expect_eq "bad whsec_ secret: exit 2" "$rc" 2
    expect_match "bad whsec_ secret: says why" "$(cat b64.log)" \
        "workflow 'v-standard': the verify secret is not base64"
    expect_true "bad whsec_ secret: not printed" \
        sh -c '! grep -q "not\*base64" b64.log'
    env -u SLACK_SECRET ./verify --listen 127.0.0.1:0 > /dev/null 2> missing.log
    rc=$?
    expect_eq "missing secret variable: exit 2" "$rc" 2
    expect_match "missing secret variable: named" "$(cat missing.log)" SLACK_SECRET
}

# ---- the examples: providers' workflows and stripe-by-hand -----------------
test_examples() {
    local now sig
    export GITHUB_WEBHOOK_SECRET=$GH_SECRET STRIPE_WEBHOOK_SECRET=$STRIPE_SECRET
    export SHOPIFY_WEBHOOK_SECRET=$SHOPIFY_SECRET SLACK_SIGNING_SECRET=$SLACK_SECRET
    export STANDARD_WEBHOOK_SECRET=$SW_SECRET
    if ! "$FLUSSOC" -o examples "$ROOT/examples/stripe-by-hand.json" \
        "$ROOT/examples/github-push.json" "$ROOT/examples/invoice-paid.json" \
        "$ROOT/examples/order-created.json" "$ROOT/examples/slack-deploy.json" \
        "$ROOT/examples/standard-webhooks-events.json" 2> examples.cc.log; then
        fail "flussoc examples failed"
        sed 's/^/  | /' examples.cc.log >&2
        return 1
    fi
    start_handler examples.log ./examples --listen 127.0.0.1:0 || return 1
    local pid=$HANDLER_PID url=$HANDLER_URL
    now=$(date +%s)

    printf '{"id":"evt_hand","type":"invoice.paid"}' > hand.json
    sig=$(stripe_sig "$STRIPE_SECRET" "$now" hand.json)
    http POST "$url/hooks/stripe-by-hand" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: t=$now,v1=$sig" --data-binary @hand.json
    expect_eq "stripe-by-hand: good signature" "$HTTP_STATUS $HTTP_BODY" '200 {"received":true}'
    expect_true "stripe-by-hand: recorded" \
        wait_for_line examples.log 'stripe invoice.paid evt_hand signed at' 15
    http POST "$url/hooks/stripe-by-hand" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: t=$now,v1=$(stripe_sig wrong "$now" hand.json),v1=$sig" \
        --data-binary @hand.json
    expect_eq "stripe-by-hand: second v1" "$HTTP_STATUS" 200
    http POST "$url/hooks/stripe-by-hand" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: t=$now,v1=$(stripe_sig wrong "$now" hand.json)" \
        --data-binary @hand.json
    expect_eq "stripe-by-hand: wrong secret" "$HTTP_STATUS $HTTP_BODY" '401 {"error":"invalid signature"}'
    http POST "$url/hooks/stripe-by-hand" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: t=$((now - 400)),v1=$(stripe_sig "$STRIPE_SECRET" $((now - 400)) hand.json)" \
        --data-binary @hand.json
    expect_eq "stripe-by-hand: stale timestamp" "$HTTP_STATUS" 401
    http POST "$url/hooks/stripe-by-hand" -H 'Content-Type: application/json' \
        --data-binary @hand.json
    expect_eq "stripe-by-hand: no header" "$HTTP_STATUS" 401

    printf '{"ref":"refs/heads/main","after":"abc123","commits":[{"id":"abc123"}],"repository":{"full_name":"acme/api"},"pusher":{"name":"ada"}}' > push.json
    http POST "$url/hooks/github" -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: d-1' \
        -H "X-Hub-Signature-256: sha256=$(hmac_hex "$GH_SECRET" push.json)" \
        --data-binary @push.json
    expect_eq "github-push example: 200" "$HTTP_STATUS" 200
    expect_true "github-push example: answered before its 3 s tail ($HTTP_MS ms)" \
        test "$HTTP_MS" -lt 2500
    expect_true "github-push example: the tail ran" \
        wait_for_line examples.log 'ada pushed 1 commit\(s\) to acme/api@main' 20
    http POST "$url/hooks/github" -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$(hmac_hex nope push.json)" \
        --data-binary @push.json
    expect_eq "github-push example: forged 401" "$HTTP_STATUS" 401

    printf '{"id":"in_1","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":500,"currency":"eur","lines":{"data":[]}}}}' > inv.json
    http POST "$url/hooks/billing" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: t=$now,v1=$(stripe_sig "$STRIPE_SECRET" "$now" inv.json)" \
        --data-binary @inv.json
    expect_eq "invoice-paid example (stripe)" "$HTTP_STATUS" 200

    printf '{"id":1001,"total_price":"40.00","line_items":[{"id":1}],"test":false}' > order.json
    http POST "$url/hooks/orders" -H 'Content-Type: application/json' \
        -H "X-Shopify-Hmac-Sha256: $(hmac_b64 "$SHOPIFY_SECRET" order.json)" \
        --data-binary @order.json
    expect_eq "order-created example (shopify)" "$HTTP_STATUS" 201

    printf 'command=%%2Fdeploy&text=api+production&user_name=ada&channel_name=ops' > cmd.form
    http POST "$url/hooks/slack/deploy" -H 'Content-Type: application/x-www-form-urlencoded' \
        -H "X-Slack-Request-Timestamp: $now" \
        -H "X-Slack-Signature: v0=$(slack_sig "$SLACK_SECRET" "$now" cmd.form)" \
        --data-binary @cmd.form
    expect_eq "slack-deploy example" "$HTTP_STATUS $HTTP_BODY" \
        "200 Deploying api to production for @ada..."

    printf '{"type":"user.created","data":{"id":"u_1","email":"ada@example.com"}}' > swe.json
    http POST "$url/hooks/standard-webhooks" -H 'Content-Type: application/json' \
        -H 'webhook-id: msg_e1' -H "webhook-timestamp: $now" \
        -H "webhook-signature: v1,$(sw_sig "$SW_KEY_HEX" msg_e1 "$now" swe.json)" \
        --data-binary @swe.json
    expect_eq "standard-webhooks example" "$HTTP_STATUS $HTTP_BODY" '200 {"received":"msg_e1"}'
    expect_true "standard-webhooks example: logged" \
        wait_for_line examples.log 'user.created for ada@example.com' 15

    stop_handler "$pid"
    expect_eq "examples: exit 0" "$STOP_STATUS" 0
}

# ---- no secret in the generated C, the binaries or the logs ----------------
test_no_secret_leaks() {
    local s where
    for s in "${SECRETS[@]}" "$SW_SECRET"; do
        for where in verify.c verify examples verify.log examples.log \
                     empty.log b64.log missing.log; do
            [ -e "$where" ] || continue
            if strings -a "$where" | grep -qF -- "$s"; then
                fail "secret ${s:0:6}... appears in $where"
            else
                pass "no secret in $where"
            fi
        done
    done
    expect_true "rejections are logged with a reason" \
        grep -q '"event":"verify","message":"invalid signature: signature mismatch"' verify.log
}

test_github
test_stripe
test_shopify
test_slack
test_standard
test_generic
test_order
test_keepalive
test_bad_secrets
test_examples
stop_handler "$VERIFY_PID"
expect_eq "verify handler: exit 0" "$STOP_STATUS" 0
test_no_secret_leaks
e2e_finish
