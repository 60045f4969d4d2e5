/* verify.c - trigger `verify`: the senders' signature schemes (spec 3).
 *
 * Every scheme is an HMAC-SHA256 over the exact raw body, some with a
 * timestamp (and an id) signed in front of it, and a header carrying one
 * or more candidate MACs in hex or base64.  So each check makes the same
 * three moves: find its headers (and check the timestamp), compute the one
 * expected MAC over the signed parts - handed to HMAC piece by piece, the
 * body never copied -, then decode each candidate into 32 bytes and compare
 * them with the expected MAC in constant time.  A candidate that is not
 * well-formed simply matches nothing.
 *
 * The secrets are computed once at start (verify_init), after the
 * environment is read, turned into keys (a standard_webhooks secret is
 * base64) and kept here until verify_free() wipes them.  Nothing here
 * logs or returns a secret, a key or an expected MAC: a failure is logged
 * with a fixed reason only. */
#include "http/verify.h"
#include "ops/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    MAC_LEN = 32,            /* HMAC-SHA256 */
    B64_MAX = 64,            /* longest base64 candidate worth decoding */
    TS_DIGITS_MAX = 15       /* longest timestamp accepted, in digits */
};

/* A workflow's key, made at start. */
typedef struct {
    const FlWorkflow *wf;
    unsigned char *key;      /* malloc()ed, wiped and freed at exit */
    size_t len;
} Key;

static Key *keys;
static int key_count;

/* ---- small parsers ---------------------------------------------------------*/

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Whether the hex at p (len characters, either case) is mac. */
static bool hex_matches(const unsigned char mac[MAC_LEN], const char *p, size_t len)
{
    unsigned char got[MAC_LEN];
    if (len != 2 * MAC_LEN)
        return false;
    for (size_t i = 0; i < MAC_LEN; i++) {
        int hi = hex_digit(p[2 * i]), lo = hex_digit(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    return fl_secure_memeq(got, MAC_LEN, mac, MAC_LEN);
}

/* Whether the base64 at p (standard or URL-safe, padding optional) is
 * mac.  Decoded in a stack arena: no allocation. */
static bool b64_matches(const unsigned char mac[MAC_LEN], const char *p, size_t len)
{
    char space[256];
    FlArena a;
    if (len > B64_MAX)
        return false;
    fl_arena_init(&a, space, sizeof space);
    const FlValue *got = fl_base64_decode(&a, p, len);
    bool ok = got && fl_secure_memeq(got->u.s, got->len, mac, MAC_LEN);
    fl_arena_destroy(&a);
    return ok;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* NULL when ts (decimal seconds since the epoch, digits only) is within
 * tolerance_s of now_s either way; otherwise why not. */
static const char *timestamp_check(const char *ts, size_t len, int64_t now_s,
                                   long tolerance_s)
{
    int64_t t = 0;
    if (len == 0 || len > TS_DIGITS_MAX)
        return "malformed timestamp";
    for (size_t i = 0; i < len; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            return "malformed timestamp";
        t = t * 10 + (ts[i] - '0');
    }
    if (t < now_s - tolerance_s || t > now_s + tolerance_s)
        return "timestamp outside the tolerance";
    return NULL;
}

/* ---- the schemes ------------------------------------------------------------ */

/* One check: what it needs, and the expected MAC once computed. */
typedef struct {
    const FlVerify *v;
    FlBytes key;
    FlBytes body;
    VerifyHeaderFn *header;
    void *ctx;
    int64_t now_s;
    unsigned char mac[MAC_LEN];
} Check;

/* Computes c->mac over the n parts; false if OpenSSL fails. */
static bool mac_over(Check *c, const FlBytes *parts, size_t n)
{
    return fl_hmac_sha256_raw(c->key.p, c->key.len, parts, n, c->mac) == 0;
}

/* HMAC(body) in the header `name` after `prefix`, hex or base64: github,
 * shopify and the generic hmac_sha256. */
static const char *check_plain(Check *c, const char *name, const char *prefix,
                               bool base64)
{
    const char *h = c->header(c->ctx, name);
    if (!h)
        return "missing signature header";
    if (!starts_with(h, prefix))
        return "malformed signature header";
    if (!mac_over(c, &c->body, 1))
        return "cannot compute HMAC";
    h += strlen(prefix);
    bool ok = base64 ? b64_matches(c->mac, h, strlen(h))
                     : hex_matches(c->mac, h, strlen(h));
    return ok ? NULL : "signature mismatch";
}

/* X-Slack-Signature: v0=<hex HMAC("v0:<ts>:<body>")>. */
static const char *check_slack(Check *c)
{
    const char *ts = c->header(c->ctx, "X-Slack-Request-Timestamp");
    const char *sig = c->header(c->ctx, "X-Slack-Signature");
    if (!ts || !sig)
        return "missing signature header";
    const char *why = timestamp_check(ts, strlen(ts), c->now_s, c->v->tolerance_s);
    if (why)
        return why;
    if (!starts_with(sig, "v0="))
        return "malformed signature header";
    FlBytes parts[] = { {"v0:", 3}, {ts, strlen(ts)}, {":", 1}, c->body };
    if (!mac_over(c, parts, 4))
        return "cannot compute HMAC";
    return hex_matches(c->mac, sig + 3, strlen(sig + 3)) ? NULL : "signature mismatch";
}

/* The next item of a list separated by sep, spaces around it trimmed:
 * sets *item and *len and returns where the rest starts, or NULL at the
 * end. */
static const char *next_item(const char *s, char sep, const char **item, size_t *len)
{
    if (!*s)
        return NULL;
    const char *end = strchr(s, sep);
    const char *stop = end ? end : s + strlen(s);
    while (s < stop && *s == ' ')
        s++;
    const char *last = stop;
    while (last > s && last[-1] == ' ')
        last--;
    *item = s;
    *len = (size_t)(last - s);
    return end ? end + 1 : stop;
}

/* Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]: the first t is the
 * timestamp; any v1 may match. */
static const char *stripe_timestamp(const char *h, const char **ts, size_t *len)
{
    const char *item;
    size_t n;
    for (const char *s = h; (s = next_item(s, ',', &item, &n));) {
        if (n >= 2 && item[0] == 't' && item[1] == '=') {
            *ts = item + 2;
            *len = n - 2;
            return NULL;
        }
    }
    return "malformed signature header";
}

static const char *check_stripe(Check *c)
{
    const char *h = c->header(c->ctx, "Stripe-Signature"), *ts, *item;
    size_t ts_len, n;
    if (!h)
        return "missing signature header";
    const char *why = stripe_timestamp(h, &ts, &ts_len);
    if (!why)
        why = timestamp_check(ts, ts_len, c->now_s, c->v->tolerance_s);
    if (why)
        return why;
    FlBytes parts[] = { {ts, ts_len}, {".", 1}, c->body };
    if (!mac_over(c, parts, 3))
        return "cannot compute HMAC";
    bool ok = false;
    for (const char *s = h; (s = next_item(s, ',', &item, &n));)
        if (n > 3 && memcmp(item, "v1=", 3) == 0)
            ok |= hex_matches(c->mac, item + 3, n - 3);
    return ok ? NULL : "signature mismatch";
}

/* webhook-signature: "v1,<base64>" entries separated by spaces, over
 * "<webhook-id>.<webhook-timestamp>.<body>". */
static const char *check_standard(Check *c)
{
    const char *id = c->header(c->ctx, "webhook-id");
    const char *ts = c->header(c->ctx, "webhook-timestamp");
    const char *sig = c->header(c->ctx, "webhook-signature"), *item;
    size_t n;
    if (!id || !ts || !sig)
        return "missing signature header";
    const char *why = timestamp_check(ts, strlen(ts), c->now_s, c->v->tolerance_s);
    if (why)
        return why;
    FlBytes parts[] = { {id, strlen(id)}, {".", 1}, {ts, strlen(ts)}, {".", 1},
                        c->body };
    if (!mac_over(c, parts, 5))
        return "cannot compute HMAC";
    bool ok = false;
    for (const char *s = sig; (s = next_item(s, ' ', &item, &n));)
        if (n > 3 && memcmp(item, "v1,", 3) == 0)
            ok |= b64_matches(c->mac, item + 3, n - 3);
    return ok ? NULL : "signature mismatch";
}

const char *verify_check(const FlVerify *v, FlBytes key, const FlValue *raw,
                         VerifyHeaderFn *header, void *ctx, int64_t now_s)
{
    Check c = { .v = v, .key = key, .header = header, .ctx = ctx, .now_s = now_s };
    if (raw->type != FL_STRING)
        return "no body";
    c.body = (FlBytes){ raw->u.s, raw->len };
    switch (v->scheme) {
    case FL_VERIFY_GITHUB:
        return check_plain(&c, "X-Hub-Signature-256", "sha256=", false);
    case FL_VERIFY_SHOPIFY:
        return check_plain(&c, "X-Shopify-Hmac-Sha256", "", true);
    case FL_VERIFY_HMAC_SHA256:
        if (!v->header)
            return "no header configured";
        return check_plain(&c, v->header, v->prefix ? v->prefix : "", v->base64);
    case FL_VERIFY_STRIPE:            return check_stripe(&c);
    case FL_VERIFY_SLACK:             return check_slack(&c);
    case FL_VERIFY_STANDARD_WEBHOOKS: return check_standard(&c);
    case FL_VERIFY_NONE:              break;
    }
    return "unknown scheme";
}

/* ---- keys --------------------------------------------------------------------*/

/* The key of secret s for scheme: its bytes, or for standard_webhooks the
 * base64 after an optional "whsec_" prefix.  Returns a new malloc()ed
 * copy, or NULL (with *why) when s cannot be a key. */
static unsigned char *key_make(FlArena *a, FlVerifyScheme scheme, const FlValue *s,
                               size_t *len, const char **why)
{
    const char *p = s->u.s;
    size_t n = s->len;
    if (scheme == FL_VERIFY_STANDARD_WEBHOOKS) {
        if (n >= 6 && memcmp(p, "whsec_", 6) == 0)
            p += 6, n -= 6;
        const FlValue *raw = fl_base64_decode(a, p, n);
        if (!raw) {
            *why = "is not base64 (after an optional whsec_ prefix)";
            return NULL;
        }
        p = raw->u.s;
        n = raw->len;
    }
    if (n == 0) {
        *why = "is empty";
        return NULL;
    }
    unsigned char *key = rt_check(malloc(n));
    memcpy(key, p, n);
    *len = n;
    return key;
}

int verify_init(const FlProgram *p)
{
    keys = rt_check(calloc((size_t)p->workflow_count + 1, sizeof *keys));
    for (int i = 0; i < p->workflow_count; i++) {
        const FlWorkflow *wf = p->workflows[i];
        if (!wf->verify)
            continue;
        FlArena a;
        const char *why = NULL;
        Key *k = &keys[key_count];
        fl_arena_init(&a, NULL, 0);
        const FlValue *s = fl_text(&a, wf->verify->secret(&a));
        k->key = key_make(&a, wf->verify->scheme, s, &k->len, &why);
        fl_arena_destroy(&a);
        if (!k->key) {
            fprintf(stderr, "flusso: workflow '%s': the verify secret %s\n",
                    wf->name, why);
            return 2;
        }
        k->wf = wf;
        key_count++;
    }
    return 0;
}

void verify_free(void)
{
    for (int i = 0; i < key_count; i++) {
        OPENSSL_cleanse(keys[i].key, keys[i].len);
        free(keys[i].key);
    }
    free(keys);
    keys = NULL;
    key_count = 0;
}

bool verify_request(const FlWorkflow *wf, const FlValue *raw,
                    VerifyHeaderFn *header, void *ctx)
{
    const Key *k = NULL;
    for (int i = 0; i < key_count && !k; i++)
        if (keys[i].wf == wf)
            k = &keys[i];
    const char *why = "no key";
    if (k)
        why = verify_check(wf->verify, (FlBytes){ k->key, k->len }, raw, header,
                           ctx, fl_time_now_ms() / 1000);
    if (why && log_enabled(FL_LOG_WARN)) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "invalid signature: %s", why);
        LogLine l = { .workflow = wf->name, .event = "verify", .message = msg,
                      .message_len = (size_t)n, .duration_ms = -1 };
        log_write(FL_LOG_WARN, &l);
    }
    return !why;
}
