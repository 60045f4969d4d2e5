/* test_verify.c - trigger `verify` (runtime/verify.c): each scheme against
 * the providers' own published examples where they publish one (GitHub,
 * Slack, Standard Webhooks) and openssl-made vectors otherwise, then the
 * header parsing around them, the timestamp bounds, and the keys made at
 * start. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/verify.h"
#include "unit.h"

/* The request headers of one check: NULL-terminated name/value pairs. */
typedef struct {
    const char *pairs[12];
} Headers;

static const char *lookup(void *ctx, const char *name)
{
    const Headers *h = ctx;
    for (int i = 0; h->pairs[i]; i += 2)
        if (strcasecmp(h->pairs[i], name) == 0)
            return h->pairs[i + 1];
    return NULL;
}

/* verify_check of body under scheme v with secret key at time now_s. */
static const char *check(const FlVerify *v, const char *key, const char *body,
                         const Headers *h, int64_t now_s)
{
    FlValue raw = FL_STRING_LEN_LIT(body, (uint32_t)strlen(body));
    return verify_check(v, (FlBytes){ key, strlen(key) }, &raw, lookup,
                        (void *)h, now_s);
}

#define OK(call) CU_ASSERT_PTR_NULL(call)
#define FAILS(call, why)                                                  \
    do {                                                                  \
        const char *got_ = (call);                                        \
        CU_ASSERT_PTR_NOT_NULL_FATAL(got_);                               \
        CU_ASSERT_STRING_EQUAL(got_, why);                                \
    } while (0)

/* ---- github ---------------------------------------------------------------- */

/* docs.github.com, "Validating webhook deliveries". */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_SIG "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static void test_github(void)
{
    const FlVerify v = { .scheme = FL_VERIFY_GITHUB };
    Headers good = { { "x-hub-signature-256", "sha256=" GH_SIG, NULL } };
    Headers upper = { { "X-Hub-Signature-256", "sha256=757107EA0EB2509FC211221CC"
                        "E984B8A37570B6D7586C22C46F4379C8B043E17", NULL } };
    Headers bare = { { "X-Hub-Signature-256", GH_SIG, NULL } };
    Headers sha1 = { { "X-Hub-Signature", "sha1=" GH_SIG, NULL } };
    Headers shorter = { { "X-Hub-Signature-256", "sha256=757107ea", NULL } };
    OK(check(&v, GH_SECRET, "Hello, World!", &good, 0));
    OK(check(&v, GH_SECRET, "Hello, World!", &upper, 0));
    FAILS(check(&v, GH_SECRET, "Hello, World?", &good, 0), "signature mismatch");
    FAILS(check(&v, "another secret", "Hello, World!", &good, 0), "signature mismatch");
    FAILS(check(&v, GH_SECRET, "Hello, World!", &bare, 0), "malformed signature header");
    FAILS(check(&v, GH_SECRET, "Hello, World!", &sha1, 0), "missing signature header");
    FAILS(check(&v, GH_SECRET, "Hello, World!", &shorter, 0), "signature mismatch");
}

/* ---- stripe ---------------------------------------------------------------- */

#define ST_SECRET "whsec_test_secret"
#define ST_BODY "{\"id\":\"evt_1\"}"
#define ST_SIG "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a"
#define ST_OTHER "00000000000000000000000000000000000000000000000000000000deadbeef"
#define ST_T 1700000000

static const char *stripe(const char *header, int64_t now_s, long tolerance_s)
{
    const FlVerify v = { .scheme = FL_VERIFY_STRIPE, .tolerance_s = tolerance_s };
    Headers h = { { "Stripe-Signature", header, NULL } };
    return check(&v, ST_SECRET, ST_BODY, &h, now_s);
}

static void test_stripe(void)
{
    OK(stripe("t=1700000000,v1=" ST_SIG, ST_T, 300));
    OK(stripe("t=1700000000,v1=" ST_OTHER ",v1=" ST_SIG ",v0=" ST_OTHER, ST_T, 300));
    OK(stripe("v1=" ST_SIG ", t=1700000000", ST_T, 300));
    OK(stripe(" t=1700000000 , v1=" ST_SIG " ", ST_T, 300));
    OK(stripe("t=1700000000,t=1,v1=" ST_SIG, ST_T, 300));    /* the first t */
    FAILS(stripe("t=1700000000,v1=" ST_OTHER, ST_T, 300), "signature mismatch");
    FAILS(stripe("t=1700000000,v0=" ST_SIG, ST_T, 300), "signature mismatch");
    FAILS(stripe("t=1700000001,v1=" ST_SIG, ST_T, 300), "signature mismatch");
    FAILS(stripe("v1=" ST_SIG, ST_T, 300), "malformed signature header");
    FAILS(stripe("", ST_T, 300), "malformed signature header");
    FAILS(stripe("t=,v1=" ST_SIG, ST_T, 300), "malformed timestamp");
    FAILS(stripe("t=-1700000000,v1=" ST_SIG, ST_T, 300), "malformed timestamp");
    FAILS(stripe("t=1.7e9,v1=" ST_SIG, ST_T, 300), "malformed timestamp");
    FAILS(stripe("t=99999999999999999999,v1=" ST_SIG, ST_T, 300), "malformed timestamp");
}

/* Exactly tolerance_s away passes, one second more does not, both ways. */
static void test_stripe_tolerance(void)
{
    const char *h = "t=1700000000,v1=" ST_SIG;
    OK(stripe(h, ST_T + 300, 300));
    OK(stripe(h, ST_T - 300, 300));
    FAILS(stripe(h, ST_T + 301, 300), "timestamp outside the tolerance");
    FAILS(stripe(h, ST_T - 301, 300), "timestamp outside the tolerance");
    OK(stripe(h, ST_T + 5, 5));
    FAILS(stripe(h, ST_T + 6, 5), "timestamp outside the tolerance");
}

/* ---- shopify --------------------------------------------------------------- */

/* base64 and hex HMAC("hush", {"id":1}), made with openssl. */
#define SH_B64 "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY"
#define SH_HEX "5672948d9b0bb8de626568e7e449ed70154217d90c378dcb825cc2135fc649e6"

static void test_shopify(void)
{
    const FlVerify v = { .scheme = FL_VERIFY_SHOPIFY };
    Headers good = { { "X-Shopify-Hmac-Sha256", SH_B64 "=", NULL } };
    Headers unpadded = { { "X-Shopify-Hmac-Sha256", SH_B64, NULL } };
    Headers junk = { { "X-Shopify-Hmac-Sha256", SH_B64 "=!", NULL } };
    Headers hex = { { "X-Shopify-Hmac-Sha256", SH_HEX, NULL } };
    OK(check(&v, "hush", "{\"id\":1}", &good, 0));
    OK(check(&v, "hush", "{\"id\":1}", &unpadded, 0));
    FAILS(check(&v, "hush", "{\"id\":2}", &good, 0), "signature mismatch");
    FAILS(check(&v, "hush", "{\"id\":1}", &junk, 0), "signature mismatch");
    FAILS(check(&v, "hush", "{\"id\":1}", &hex, 0), "signature mismatch");
}

/* ---- slack ----------------------------------------------------------------- */

/* api.slack.com, "Verifying requests from Slack". */
#define SL_SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define SL_BODY "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=" \
    "testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&"   \
    "user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https"  \
    "%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmi" \
    "bIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c4" \
    "47fce8b6703c"
#define SL_HEX "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
#define SL_SIG "v0=" SL_HEX

static void test_slack(void)
{
    const FlVerify v = { .scheme = FL_VERIFY_SLACK, .tolerance_s = 300 };
    Headers good = { { "X-Slack-Request-Timestamp", "1531420618",
                       "X-Slack-Signature", SL_SIG, NULL } };
    Headers no_ts = { { "X-Slack-Signature", SL_SIG, NULL } };
    Headers other_ts = { { "X-Slack-Request-Timestamp", "1531420619",
                           "X-Slack-Signature", SL_SIG, NULL } };
    Headers v1 = { { "X-Slack-Request-Timestamp", "1531420618",
                     "X-Slack-Signature", "v1=" SL_HEX, NULL } };
    OK(check(&v, SL_SECRET, SL_BODY, &good, 1531420618));
    FAILS(check(&v, SL_SECRET, SL_BODY "x", &good, 1531420618), "signature mismatch");
    FAILS(check(&v, SL_SECRET, SL_BODY, &other_ts, 1531420618), "signature mismatch");
    FAILS(check(&v, SL_SECRET, SL_BODY, &no_ts, 1531420618), "missing signature header");
    FAILS(check(&v, SL_SECRET, SL_BODY, &v1, 1531420618), "malformed signature header");
    FAILS(check(&v, SL_SECRET, SL_BODY, &good, 1531420618 + 301),
          "timestamp outside the tolerance");
}

/* ---- standard webhooks ------------------------------------------------------ */

/* The example of the Standard Webhooks specification and libraries. */
#define SW_KEY "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"      /* after whsec_ */
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* The key bytes behind SW_KEY, as verify_init makes them. */
static FlBytes sw_key(FlArena *a)
{
    const FlValue *k = fl_base64_decode(a, SW_KEY, strlen(SW_KEY));
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    return (FlBytes){ k->u.s, k->len };
}

static const char *standard(const char *id, const char *ts, const char *sig)
{
    const FlVerify v = { .scheme = FL_VERIFY_STANDARD_WEBHOOKS, .tolerance_s = 300 };
    Headers h = { { "webhook-id", id, "webhook-timestamp", ts,
                    "webhook-signature", sig, NULL } };
    FlArena a;
    fl_arena_init(&a, NULL, 0);
    FlValue raw = FL_STRING_LIT(SW_BODY);
    const char *why = verify_check(&v, sw_key(&a), &raw, lookup, &h, 1614265330);
    fl_arena_destroy(&a);
    return why;
}

static void test_standard_webhooks(void)
{
    const char *id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    OK(standard(id, "1614265330", "v1," SW_SIG));
    OK(standard(id, "1614265330", "v1a,abcd v1,Zm9v v1," SW_SIG));
    OK(standard(id, "1614265330", "  v1," SW_SIG "  "));
    FAILS(standard(id, "1614265330", "v1,Zm9v"), "signature mismatch");
    FAILS(standard(id, "1614265330", "v2," SW_SIG), "signature mismatch");
    FAILS(standard(id, "1614265330", "v1=" SW_SIG), "signature mismatch");
    FAILS(standard("msg_other", "1614265330", "v1," SW_SIG), "signature mismatch");
    FAILS(standard(id, "1614265331", "v1," SW_SIG), "signature mismatch");
    FAILS(standard(id, "1614264000", "v1," SW_SIG), "timestamp outside the tolerance");
    FAILS(standard(id, "1614266000", "v1," SW_SIG), "timestamp outside the tolerance");
    FAILS(standard(id, "", "v1," SW_SIG), "malformed timestamp");
}

/* ---- hmac_sha256 ------------------------------------------------------------ */

/* HMAC("k", "payload") in hex, made with openssl; base64 below. */
#define GEN_HEX "53e1cedd550e0e693ce03bafe5ae424d9f292717018d586aaade877481dc824c"

static void test_generic(void)
{
    const FlVerify hex = { .scheme = FL_VERIFY_HMAC_SHA256, .header = "x-signature",
                           .prefix = "sha256=" };
    const FlVerify b64 = { .scheme = FL_VERIFY_HMAC_SHA256, .header = "x-mac",
                           .base64 = true };
    Headers h_hex = { { "X-Signature", "sha256=" GEN_HEX, NULL } };
    Headers h_noprefix = { { "X-Signature", GEN_HEX, NULL } };
    Headers h_b64 = { { "X-MAC", "U+HO3VUODmk84Duv5a5CTZ8pJxcBjVhqqt6HdIHcgkw=", NULL } };
    Headers h_urlsafe = { { "X-MAC", "U-HO3VUODmk84Duv5a5CTZ8pJxcBjVhqqt6HdIHcgkw", NULL } };
    OK(check(&hex, "k", "payload", &h_hex, 0));
    FAILS(check(&hex, "k", "payload", &h_noprefix, 0), "malformed signature header");
    FAILS(check(&hex, "k", "payload", &h_b64, 0), "missing signature header");
    OK(check(&b64, "k", "payload", &h_b64, 0));
    OK(check(&b64, "k", "payload", &h_urlsafe, 0));
    FAILS(check(&b64, "K", "payload", &h_b64, 0), "signature mismatch");
}

/* A long or binary body is signed byte for byte, NULs included. */
static void test_binary_body(void)
{
    const FlVerify v = { .scheme = FL_VERIFY_HMAC_SHA256, .header = "x-sig",
                         .prefix = "" };
    static const char body[] = "a\0b";
    unsigned char mac[32];
    char hex[65];
    FlBytes part = { body, 3 };
    CU_ASSERT_EQUAL_FATAL(fl_hmac_sha256_raw("k", 1, &part, 1, mac), 0);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    Headers h = { { "x-sig", hex, NULL } };
    FlValue raw = FL_STRING_LEN_LIT(body, 3), cut = FL_STRING_LEN_LIT(body, 1);
    OK(verify_check(&v, (FlBytes){ "k", 1 }, &raw, lookup, &h, 0));
    FAILS(verify_check(&v, (FlBytes){ "k", 1 }, &cut, lookup, &h, 0),
          "signature mismatch");
}

/* ---- keys at start ------------------------------------------------------------ */

static FlValue secret_value;
static const FlValue *secret_fn(FlArena *a)
{
    (void)a;
    return &secret_value;
}

/* verify_init for one workflow of scheme with secret s: its status. */
static int init_with(FlVerifyScheme scheme, const char *s)
{
    static const FlStepInfo steps[] = {
        { .key = "trigger", .type = FL_STEP_TRIGGER, .path = "trigger",
          .fn = NULL, .on_error_continue = false, .keep = NULL },
    };
    const FlVerify v = { .scheme = scheme, .secret = secret_fn, .tolerance_s = 300 };
    const FlWorkflow wf = { .name = "w", .path = "/w", .verify = &v, .steps = steps,
                            .step_count = 1 };
    const FlWorkflow *const all[] = { &wf };
    const FlProgram p = { .workflows = all, .workflow_count = 1 };
    secret_value = (FlValue)FL_STRING_LEN_LIT(s, (uint32_t)strlen(s));
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);               /* the refusal's message is not ours to see */
    int rc = verify_init(&p);
    dup2(saved, 2);
    close(null);
    close(saved);
    verify_free();
    return rc;
}

static void test_keys(void)
{
    CU_ASSERT_EQUAL(init_with(FL_VERIFY_GITHUB, "s"), 0);
    CU_ASSERT_EQUAL(init_with(FL_VERIFY_GITHUB, ""), 2);
    CU_ASSERT_EQUAL(init_with(FL_VERIFY_STANDARD_WEBHOOKS, "whsec_" SW_KEY), 0);
    CU_ASSERT_EQUAL(init_with(FL_VERIFY_STANDARD_WEBHOOKS, SW_KEY), 0);
    CU_ASSERT_EQUAL(init_with(FL_VERIFY_STANDARD_WEBHOOKS, "whsec_"), 2);
    CU_ASSERT_EQUAL(init_with(FL_VERIFY_STANDARD_WEBHOOKS, "whsec_not base64!"), 2);
}

static const UnitTest tests[] = {
    {"github", test_github},
    {"stripe", test_stripe},
    {"stripe_tolerance", test_stripe_tolerance},
    {"shopify", test_shopify},
    {"slack", test_slack},
    {"standard_webhooks", test_standard_webhooks},
    {"generic", test_generic},
    {"binary_body", test_binary_body},
    {"keys", test_keys},
    {NULL, NULL},
};

UNIT_SUITE("verify", tests)
