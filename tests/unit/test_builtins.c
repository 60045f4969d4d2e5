/* test_builtins.c - the built-in functions, the conditions operators, and
 * the crypto and time helpers of the runtime. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flusso.h"
#include "unit.h"

#define BEGIN() FlArena arena_, *a = &arena_; fl_arena_init(a, NULL, 0)
#define END() fl_arena_destroy(a)

static const FlValue *S(FlArena *a, const char *s)
{
    return fl_string_ref(a, s, strlen(s));
}

static const FlValue *B(FlArena *a, const char *s, size_t n)
{
    return fl_string_ref(a, s, n);
}

static const FlValue *N(FlArena *a, double n)
{
    return fl_number(a, n);
}

static const FlValue *J(FlArena *a, const char *s)
{
    const FlValue *v = fl_json_parse(a, s, strlen(s));
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static const char *js(FlArena *a, const FlValue *v)
{
    return fl_json_text(a, v)->u.s;
}

static bool str_is(const FlValue *v, const char *s, size_t len)
{
    return v->type == FL_STRING && v->len == len && memcmp(v->u.s, s, len) == 0;
}
#define STR_IS(v, lit) str_is((v), (lit), sizeof(lit) - 1)

/* ---- crypto ---------------------------------------------------------------- */

static void test_hmac_sha256(void)
{
    BEGIN();
    fl_crypto_init();
    fl_crypto_init();
    char key1[20], key6[131];
    memset(key1, 0x0b, sizeof key1);
    memset(key6, 0xaa, sizeof key6);
    CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, key1, 20), S(a, "Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
    CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, S(a, "Jefe"), S(a, "what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, key6, 131),
        S(a, "Test Using Larger Than Block-Size Key - Hash Key First")),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    /* An empty key is a key, not "the previous key". */
    CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, S(a, ""), S(a, "")),
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
    CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, "k\0ey", 4), B(a, "da\0ta", 5)),
        "4f9c85c159275756e3761e92db1874738237297476f3ca6efb96f306a6125315"));
    CU_ASSERT(STR_IS(fl_fn_hmac_sha256_base64(a, S(a, "Jefe"),
        S(a, "what do ya want for nothing?")),
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="));
    CU_ASSERT_PTR_EQUAL(fl_fn_hmac_sha256(a, S(a, "k"), N(a, 42)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_hmac_sha256(a, &fl_null, S(a, "d")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_hmac_sha256_base64(a, S(a, "k"), J(a, "{}")), &fl_null);

    /* The parts form: HMAC("Jefe", "what do ya" + " want for nothing?"). */
    FlBytes parts[] = {{"what do ya", 10}, {" want for nothing?", 18}};
    unsigned char mac[32];
    CU_ASSERT_EQUAL(fl_hmac_sha256_raw("Jefe", 4, parts, 2, mac), 0);
    CU_ASSERT_EQUAL(mac[0], 0x5b);
    CU_ASSERT_EQUAL(mac[31], 0x43);
    END();
}

/* A thread re-uses the key schedule of its last HMAC key: switching keys,
 * keys that are prefixes of each other, and keys too long to keep must
 * all still give the right MAC. */
static void test_hmac_key_reuse(void)
{
    static const char jefe[] =
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    BEGIN();
    char key1[20], a127[127], a128[128], key6[131];
    memset(key1, 0x0b, sizeof key1);
    memset(a127, 'a', sizeof a127);
    memset(a128, 'a', sizeof a128);
    memset(key6, 0xaa, sizeof key6);
    const FlValue *msg = S(a, "what do ya want for nothing?");
    for (int round = 0; round < 2; round++) {
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, S(a, "Jefe"), msg), jefe));
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, S(a, "Jefe"), msg), jefe));
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, S(a, "Jef"), S(a, "abc")),
            "3496521ced16b8e2e63152f32b50830b9e1fe33f4b46a180ffbd1c1530596fb8"));
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, key1, 20), S(a, "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, S(a, ""), S(a, "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, a128, 128), S(a, "abc")),
            "0c4848880b965d427100cd3d4aa0c4520631a73daafa6be9b19a06f3e25a93c2"));
        CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, a127, 127), S(a, "abc")),
            "7ad21f76f25253c4ce511b5dd51d3fcd47e0516bdf7d4b3da7345f41c5ad8edd"));
        for (int i = 0; i < 2; i++)
            CU_ASSERT(STR_IS(fl_fn_hmac_sha256(a, B(a, key6, 131),
                S(a, "Test Using Larger Than Block-Size Key - Hash Key First")),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    }
    END();
}

static void test_sha256(void)
{
    BEGIN();
    CU_ASSERT(STR_IS(fl_fn_sha256(a, S(a, "abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CU_ASSERT(STR_IS(fl_fn_sha256(a, S(a, "")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CU_ASSERT_PTR_EQUAL(fl_fn_sha256(a, N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_sha256(a, &fl_null), &fl_null);
    END();
}

static void *hmac_thread(void *arg)
{
    (void)arg;
    FlArena arena;
    fl_arena_init(&arena, NULL, 0);
    long ok = 1;
    for (int i = 0; i < 500; i++) {
        const FlValue *h = fl_fn_hmac_sha256(&arena, S(&arena, "Jefe"),
                                             S(&arena, "what do ya want for nothing?"));
        ok &= STR_IS(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        ok &= STR_IS(fl_fn_sha256(&arena, S(&arena, "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
    fl_arena_destroy(&arena);
    return (void *)ok;
}

/* Per-thread contexts: correct under concurrency, freed at thread exit. */
static void test_crypto_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, hmac_thread, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        CU_ASSERT_PTR_EQUAL(ok, (void *)1);
    }
}

static void test_base64(void)
{
    BEGIN();
    CU_ASSERT(STR_IS(fl_fn_base64_encode(a, S(a, "Man")), "TWFu"));
    CU_ASSERT(STR_IS(fl_fn_base64_encode(a, S(a, "Ma")), "TWE="));
    CU_ASSERT(STR_IS(fl_fn_base64_encode(a, S(a, "M")), "TQ=="));
    CU_ASSERT(STR_IS(fl_fn_base64_encode(a, S(a, "")), ""));
    CU_ASSERT(STR_IS(fl_fn_base64_encode(a, B(a, "\xfb\xff", 2)), "+/8="));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "TWFu")), "Man"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "TWE=")), "Ma"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "TWE")), "Ma"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "TQ==")), "M"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "TQ")), "M"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "")), ""));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "+/8=")), "\xfb\xff"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "-_8")), "\xfb\xff"));
    CU_ASSERT(STR_IS(fl_fn_base64_decode(a, S(a, "AGEA")), "\0a\0"));
    static const char *bad[] = {
        "T", "TQ=", "TQ===", "====", "=", "TQ=a", "TQ==TQ==", "T Q==", "TQ\n==",
        " TWFu", "TWFu ", "TW.u", "TWFuT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_EQUAL(fl_fn_base64_decode(a, S(a, bad[i])), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_base64_decode(a, N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_base64_encode(a, &fl_true), &fl_null);
    END();
}

/* Round trips of every length up to 300 and across the decoder's chunks. */
static void test_base64_round_trip(void)
{
    BEGIN();
    static char data[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7919 % 251);
    size_t lens[320];
    size_t n = 0;
    for (size_t len = 0; len <= 300; len++)
        lens[n++] = len;
    size_t big[] = {3071, 3072, 3073, 3074, 6144, 9999, 20000};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        lens[n++] = big[i];
    for (size_t i = 0; i < n; i++) {
        const FlValue *raw = B(a, data, lens[i]);
        const FlValue *enc = fl_fn_base64_encode(a, raw);
        CU_ASSERT_EQUAL(enc->len, (lens[i] + 2) / 3 * 4);
        CU_ASSERT_TRUE(fl_equal(fl_fn_base64_decode(a, enc), raw));
        /* Unpadded, too. */
        size_t len = enc->len;
        while (len && enc->u.s[len - 1] == '=')
            len--;
        CU_ASSERT_TRUE(fl_equal(fl_fn_base64_decode(a, B(a, enc->u.s, len)), raw));
    }
    END();
}

static void test_secure_equals(void)
{
    BEGIN();
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, S(a, "abc"), S(a, "abc")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, S(a, ""), S(a, "")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, S(a, "abc"), S(a, "abd")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, S(a, "abc"), S(a, "abcd")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, B(a, "a\0b", 3), B(a, "a\0c", 3)), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, N(a, 1), N(a, 1)), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, &fl_null, &fl_null), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_secure_equals(a, S(a, "1"), N(a, 1)), &fl_false);
    END();
}

/* ---- text functions ------------------------------------------------------- */

static void test_case_and_trim(void)
{
    BEGIN();
    CU_ASSERT(STR_IS(fl_fn_lower(a, S(a, "HeLLo \xc3\x89-Z")), "hello \xc3\x89-z"));
    CU_ASSERT(STR_IS(fl_fn_upper(a, S(a, "HeLLo \xc3\xa9-z")), "HELLO \xc3\xa9-Z"));
    const FlValue *s = S(a, "already lower");
    CU_ASSERT_PTR_EQUAL(fl_fn_lower(a, s), s);
    CU_ASSERT(STR_IS(fl_fn_trim(a, S(a, " \t\r\n\v\fx y\n ")), "x y"));
    CU_ASSERT(STR_IS(fl_fn_trim(a, S(a, "   ")), ""));
    CU_ASSERT(STR_IS(fl_fn_trim(a, B(a, "\0a\0", 3)), "\0a\0"));
    CU_ASSERT_PTR_EQUAL(fl_fn_trim(a, s), s);
    CU_ASSERT_PTR_EQUAL(fl_fn_lower(a, N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_upper(a, &fl_null), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_trim(a, J(a, "[\" a \"]")), &fl_null);
    END();
}

static void test_len(void)
{
    BEGIN();
    CU_ASSERT_EQUAL(fl_fn_len(a, S(a, "h\xc3\xa9"))->u.n, 3);
    CU_ASSERT_EQUAL(fl_fn_len(a, S(a, ""))->u.n, 0);
    CU_ASSERT_EQUAL(fl_fn_len(a, J(a, "[1,[2,3]]"))->u.n, 2);
    CU_ASSERT_EQUAL(fl_fn_len(a, J(a, "{\"a\":1,\"b\":2,\"c\":3}"))->u.n, 3);
    CU_ASSERT_PTR_EQUAL(fl_fn_len(a, N(a, 123)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_len(a, &fl_null), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_len(a, &fl_true), &fl_null);
    END();
}

static void test_contains(void)
{
    BEGIN();
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, S(a, "hello"), S(a, "ell")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, S(a, "hello"), S(a, "")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, S(a, "hello"), S(a, "olé")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, B(a, "a\0b", 3), B(a, "\0b", 2)), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, J(a, "[1,\"a\",{\"k\":[2]}]"), J(a, "{\"k\":[2]}")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, J(a, "[1,\"a\"]"), S(a, "1")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, J(a, "[null]"), &fl_null), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, J(a, "{\"a\":null}"), S(a, "a")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, J(a, "{\"a\":null}"), S(a, "b")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, J(a, "{\"1\":0}"), N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, S(a, "123"), N(a, 2)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, &fl_null, S(a, "x")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_contains(a, N(a, 12), N(a, 1)), &fl_null);
    END();
}

static void test_affixes(void)
{
    BEGIN();
    CU_ASSERT_PTR_EQUAL(fl_fn_starts_with(a, S(a, "sha256=ab"), S(a, "sha256=")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_starts_with(a, S(a, "sha"), S(a, "sha256=")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_starts_with(a, S(a, "abc"), S(a, "")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_starts_with(a, S(a, "abc"), S(a, "b")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_ends_with(a, S(a, "file.json"), S(a, ".json")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_ends_with(a, S(a, "file.json"), S(a, ".jso")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_ends_with(a, S(a, ""), S(a, "")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_fn_ends_with(a, S(a, "n"), S(a, "json")), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_fn_starts_with(a, N(a, 12), S(a, "1")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_ends_with(a, S(a, "12"), N(a, 2)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_starts_with(a, J(a, "[1]"), J(a, "[1]")), &fl_null);
    END();
}

static void test_split_join(void)
{
    BEGIN();
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, "a,b,,c"), S(a, ","))),
                           "[\"a\",\"b\",\"\",\"c\"]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, ",a,"), S(a, ","))), "[\"\",\"a\",\"\"]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, "a::b::c"), S(a, "::"))),
                           "[\"a\",\"b\",\"c\"]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, "abc"), S(a, ";"))), "[\"abc\"]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, ""), S(a, ","))), "[\"\"]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, ""), S(a, ""))), "[]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_split(a, S(a, "h\xc3\xa9\xf0\x9f\x98\x80!"), S(a, ""))),
                           "[\"h\",\"\xc3\xa9\",\"\xf0\x9f\x98\x80\",\"!\"]");
    CU_ASSERT_EQUAL(fl_fn_split(a, S(a, "a\xff" "b"), S(a, ""))->len, 3);
    CU_ASSERT_PTR_EQUAL(fl_fn_split(a, N(a, 1), S(a, ",")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_split(a, S(a, "1,2"), &fl_null), &fl_null);

    CU_ASSERT(STR_IS(fl_fn_join(a, J(a, "[\"a\",1,true,null,[2,3],{\"k\":\"v\"}]"), S(a, "-")),
                     "a-1-true--[2,3]-{\"k\":\"v\"}"));
    CU_ASSERT(STR_IS(fl_fn_join(a, J(a, "[]"), S(a, ",")), ""));
    CU_ASSERT(STR_IS(fl_fn_join(a, J(a, "[0.5]"), S(a, ",")), "0.5"));
    CU_ASSERT(STR_IS(fl_fn_join(a, fl_fn_split(a, S(a, "x,y,z"), S(a, ",")), S(a, ", ")),
                     "x, y, z"));
    CU_ASSERT_PTR_EQUAL(fl_fn_join(a, S(a, "abc"), S(a, ",")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_join(a, J(a, "[1]"), N(a, 0)), &fl_null);
    END();
}

/* ---- conversions ------------------------------------------------------------ */

static void test_json_functions(void)
{
    BEGIN();
    CU_ASSERT(STR_IS(fl_fn_json(a, J(a, "{ \"b\" : [1, 2.50], \"a\" : \"x\\n\" }")),
                     "{\"b\":[1,2.5],\"a\":\"x\\n\"}"));
    CU_ASSERT(STR_IS(fl_fn_json(a, S(a, "s")), "\"s\""));
    CU_ASSERT(STR_IS(fl_fn_json(a, &fl_null), "null"));
    CU_ASSERT(STR_IS(fl_fn_json(a, N(a, 1e21)), "1e+21"));
    CU_ASSERT_STRING_EQUAL(js(a, fl_fn_parse_json(a, S(a, "{\"a\":[1,{}]}"))), "{\"a\":[1,{}]}");
    CU_ASSERT_EQUAL(fl_fn_parse_json(a, S(a, " 42 "))->u.n, 42);
    CU_ASSERT_PTR_EQUAL(fl_fn_parse_json(a, S(a, "{bad")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_parse_json(a, S(a, "")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_parse_json(a, N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_parse_json(a, J(a, "{}")), &fl_null);
    END();
}

static void test_number_function(void)
{
    BEGIN();
    static const struct {
        const char *in;
        double n;
    } ok[] = {
        {"42", 42}, {" 42\n", 42}, {"-1.5", -1.5}, {"+7", 7}, {"1e3", 1000},
        {".5", 0.5}, {"5.", 5}, {"007", 7}, {"-0", -0.0}, {"1E-2", 0.01},
        {"0.30000000000000004", 0.30000000000000004},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const FlValue *v = fl_fn_number(a, S(a, ok[i].in));
        CU_ASSERT_EQUAL_FATAL(v->type, FL_NUMBER);
        CU_ASSERT_EQUAL(v->u.n, ok[i].n);
    }
    static const char *bad[] = {
        "", "  ", "abc", "1a", "0x10", "1e", "1e+", ".", "-", "+-1", "Infinity",
        "NaN", "inf", "1e999", "1 2", "1,5", "\302\2401",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_EQUAL(fl_fn_number(a, S(a, bad[i])), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_number(a, B(a, "1\0", 2)), &fl_null);
    const FlValue *n = N(a, 3.5);
    CU_ASSERT_PTR_EQUAL(fl_fn_number(a, n), n);
    CU_ASSERT_EQUAL(fl_fn_number(a, &fl_true)->u.n, 1);
    CU_ASSERT_EQUAL(fl_fn_number(a, &fl_false)->u.n, 0);
    CU_ASSERT_PTR_EQUAL(fl_fn_number(a, &fl_null), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_fn_number(a, J(a, "[1]")), &fl_null);
    /* A long digit string goes through the arena copy. */
    char lng[200];
    memset(lng, '0', sizeof lng - 2);
    lng[0] = '.';
    lng[sizeof lng - 2] = '5';
    lng[sizeof lng - 1] = '\0';
    CU_ASSERT_EQUAL(fl_fn_number(a, S(a, lng))->type, FL_NUMBER);
    END();
}

static void test_string_and_default(void)
{
    BEGIN();
    CU_ASSERT(STR_IS(fl_fn_string(a, N(a, 0.1 + 0.2)), "0.30000000000000004"));
    CU_ASSERT(STR_IS(fl_fn_string(a, &fl_null), ""));
    CU_ASSERT(STR_IS(fl_fn_string(a, &fl_false), "false"));
    CU_ASSERT(STR_IS(fl_fn_string(a, J(a, "{\"a\":[1]}")), "{\"a\":[1]}"));
    const FlValue *fb = S(a, "fallback"), *zero = N(a, 0);
    CU_ASSERT_PTR_EQUAL(fl_fn_default(a, &fl_null, fb), fb);
    CU_ASSERT_PTR_EQUAL(fl_fn_default(a, S(a, ""), fb), fb);
    CU_ASSERT_PTR_EQUAL(fl_fn_default(a, zero, fb), zero);
    CU_ASSERT_PTR_EQUAL(fl_fn_default(a, &fl_false, fb), &fl_false);
    const FlValue *empty = J(a, "[]");
    CU_ASSERT_PTR_EQUAL(fl_fn_default(a, empty, fb), empty);
    END();
}

/* ---- time and ids ------------------------------------------------------------ */

static bool digits_at(const char *s, const char *pattern)
{
    for (; *pattern; s++, pattern++)
        if (*pattern == 'd' ? !(*s >= '0' && *s <= '9') : *s != *pattern)
            return false;
    return *s == '\0';
}

static void test_time_rfc3339(void)
{
    static const struct {
        int64_t ms;
        const char *s;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.001Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {951782400000LL, "2000-02-29T00:00:00.000Z"},
        {1700000000123LL, "2023-11-14T22:13:20.123Z"},
        {4102444799999LL, "2099-12-31T23:59:59.999Z"},
        {-62167219200000LL, "0000-01-01T00:00:00.000Z"},
        {-62167219200001LL, "0000-01-01T00:00:00.000Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {INT64_MAX, "9999-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[25];
        fl_time_rfc3339(out, cases[i].ms);
        CU_ASSERT_STRING_EQUAL(out, cases[i].s);
    }
}

/* fl_time_rfc3339 as gmtime_r() and strftime() write it (years
 * 1000-9999, where %Y has four digits). */
static void rfc3339_ref(char out[25], int64_t ms)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);   /* floor */
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 25, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 25 - n, ".%03dZ", (int)(ms - sec * 1000));
}

/* Each thread keeps the text of the last second it formatted: the same
 * second twice, going back, other days and years must all still come out
 * right. */
static void test_time_rfc3339_cache(void)
{
    static const int64_t ms[] = {
        1700000000123LL, 1700000000999LL, 1700000000000LL,  /* one second */
        1700000001000LL, 1700000000500LL,                   /* and back */
        1709164800000LL, 1709251199999LL, 1709251200000LL,  /* 2024-02-29 */
        951782399999LL, 951782400001LL,                     /* 2000-02-29 */
        -1, -999, -1000, -1001, -1500, -1, 0, -86400001LL,
        -2208988800000LL, -2208988799001LL,                 /* 1900-01-01 */
        -30610224000000LL, 253402300799999LL, 1700000000123LL,
    };
    char got[25], want[25];
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        fl_time_rfc3339(got, ms[i]);
        rfc3339_ref(want, ms[i]);
        CU_ASSERT_STRING_EQUAL(got, want);
    }
    uint64_t x = 88172645463325252u;                       /* xorshift64 */
    bool ok = true;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* 1600 ... 2300, often within a second of the previous one */
        int64_t m = i % 3 ? ms[0] + (int64_t)(x % 4000) - 2000
                          : -11676096000000LL + (int64_t)(x % 22089888000000ULL);
        fl_time_rfc3339(got, m);
        rfc3339_ref(want, m);
        ok &= strcmp(got, want) == 0;
    }
    CU_ASSERT_TRUE(ok);
}

static void test_now(void)
{
    BEGIN();
    int64_t before = (int64_t)time(NULL) * 1000;
    const FlValue *ms = fl_fn_now_ms(a);
    CU_ASSERT_EQUAL_FATAL(ms->type, FL_NUMBER);
    CU_ASSERT(ms->u.n >= before && ms->u.n < before + 60000);
    CU_ASSERT(ms->u.n == (double)(int64_t)ms->u.n);
    const FlValue *now = fl_fn_now(a);
    CU_ASSERT_EQUAL_FATAL(now->len, 24);
    CU_ASSERT(digits_at(fl_string(a, now->u.s, now->len)->u.s, "dddd-dd-ddTdd:dd:dd.dddZ"));
    char year[25];
    fl_time_rfc3339(year, before);
    CU_ASSERT_EQUAL(memcmp(now->u.s, year, 4), 0);
    END();
}

static void test_uuid(void)
{
    BEGIN();
    char prev[37] = "";
    for (int i = 0; i < 100; i++) {
        const FlValue *u = fl_fn_uuid(a);
        CU_ASSERT_EQUAL_FATAL(u->len, 36);
        const char *s = u->u.s;
        bool ok = s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
                  s[14] == '4' && strchr("89ab", s[19]) != NULL;
        for (int j = 0; j < 36; j++)
            if (j != 8 && j != 13 && j != 18 && j != 23)
                ok &= strchr("0123456789abcdef", s[j]) != NULL && s[j] != '\0';
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_NOT_EQUAL(memcmp(prev, s, 36), 0);
        memcpy(prev, s, 36);
    }
    END();
}

/* ---- conditions -------------------------------------------------------------- */

static void test_conditions(void)
{
    BEGIN();
    const FlValue *one = N(a, 1), *two = N(a, 2), *s = S(a, "hello");
    CU_ASSERT_TRUE(fl_cond_equals(J(a, "{\"a\":[1]}"), J(a, "{\"a\":[1.0]}")));
    CU_ASSERT_FALSE(fl_cond_equals(one, S(a, "1")));
    CU_ASSERT_TRUE(fl_cond_not_equals(one, S(a, "1")));
    CU_ASSERT_TRUE(fl_cond_contains(s, S(a, "ell")));
    CU_ASSERT_FALSE(fl_cond_contains(&fl_null, S(a, "x")));
    CU_ASSERT_TRUE(fl_cond_not_contains(&fl_null, S(a, "x")));
    CU_ASSERT_FALSE(fl_cond_not_contains(J(a, "[\"x\"]"), S(a, "x")));
    CU_ASSERT_TRUE(fl_cond_starts_with(s, S(a, "he")));
    CU_ASSERT_FALSE(fl_cond_starts_with(one, S(a, "1")));
    CU_ASSERT_TRUE(fl_cond_ends_with(s, S(a, "lo")));
    CU_ASSERT_TRUE(fl_cond_greater_than(two, one));
    CU_ASSERT_FALSE(fl_cond_greater_than(one, one));
    CU_ASSERT_TRUE(fl_cond_greater_or_equal(one, one));
    CU_ASSERT_TRUE(fl_cond_less_than(S(a, "a"), S(a, "b")));
    CU_ASSERT_TRUE(fl_cond_less_or_equal(S(a, "b"), S(a, "b")));
    CU_ASSERT_FALSE(fl_cond_less_than(one, S(a, "2")));
    CU_ASSERT_FALSE(fl_cond_greater_or_equal(&fl_null, &fl_null));
    CU_ASSERT_TRUE(fl_cond_is_empty(&fl_null));
    CU_ASSERT_TRUE(fl_cond_is_empty(S(a, "")));
    CU_ASSERT_TRUE(fl_cond_is_empty(J(a, "[]")));
    CU_ASSERT_TRUE(fl_cond_is_empty(J(a, "{}")));
    CU_ASSERT_FALSE(fl_cond_is_empty(N(a, 0)));
    CU_ASSERT_FALSE(fl_cond_is_empty(&fl_false));
    CU_ASSERT_FALSE(fl_cond_is_empty(S(a, " ")));
    CU_ASSERT_TRUE(fl_cond_is_not_empty(J(a, "[null]")));
    CU_ASSERT_TRUE(fl_cond_exists(&fl_false));
    CU_ASSERT_TRUE(fl_cond_exists(S(a, "")));
    CU_ASSERT_FALSE(fl_cond_exists(&fl_null));
    CU_ASSERT_FALSE(fl_cond_exists(fl_get_field(J(a, "{}"), "x", 1)));
    END();
}

static void test_regex(void)
{
    BEGIN();
    regex_t re, tail;
    CU_ASSERT_EQUAL_FATAL(regcomp(&re, "^[a-z]+-[0-9]{2,}$", REG_EXTENDED | REG_NOSUB), 0);
    CU_ASSERT_EQUAL_FATAL(regcomp(&tail, "b$", REG_EXTENDED), 0);
    CU_ASSERT_TRUE(fl_regex_matches(&re, S(a, "order-123")));
    CU_ASSERT_FALSE(fl_regex_matches(&re, S(a, "order-1")));
    CU_ASSERT_FALSE(fl_regex_matches(&re, S(a, "Order-12")));
    CU_ASSERT_FALSE(fl_regex_matches(&re, B(a, "order-12\0x", 10)));
    CU_ASSERT_TRUE(fl_regex_matches(&tail, B(a, "a\0b", 3)));
    /* Not NUL-terminated: only len bytes are read. */
    CU_ASSERT_FALSE(fl_regex_matches(&tail, B(a, "abc", 1)));
    CU_ASSERT_TRUE(fl_regex_matches(&tail, B(a, "abc", 2)));
    CU_ASSERT_FALSE(fl_regex_matches(&re, N(a, 12)));
    CU_ASSERT_FALSE(fl_regex_matches(&re, &fl_null));
    CU_ASSERT_TRUE(fl_cond_matches(&re, S(a, "x-99")));
    regfree(&re);
    regfree(&tail);
    END();
}

static const UnitTest tests[] = {
    {"hmac_sha256", test_hmac_sha256},
    {"hmac_key_reuse", test_hmac_key_reuse},
    {"sha256", test_sha256},
    {"crypto_threads", test_crypto_threads},
    {"base64", test_base64},
    {"base64_round_trip", test_base64_round_trip},
    {"secure_equals", test_secure_equals},
    {"case_and_trim", test_case_and_trim},
    {"len", test_len},
    {"contains", test_contains},
    {"affixes", test_affixes},
    {"split_join", test_split_join},
    {"json_functions", test_json_functions},
    {"number_function", test_number_function},
    {"string_and_default", test_string_and_default},
    {"time_rfc3339", test_time_rfc3339},
    {"time_rfc3339_cache", test_time_rfc3339_cache},
    {"now", test_now},
    {"uuid", test_uuid},
    {"conditions", test_conditions},
    {"regex", test_regex},
    {NULL, NULL},
};
UNIT_SUITE("builtins", tests)
