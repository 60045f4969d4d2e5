/* test_value.c - the runtime's value layer: arena, values, numbers, text,
 * JSON, operators. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flusso.h"
#include "unit.h"

#define BEGIN() FlArena arena_, *a = &arena_; fl_arena_init(a, NULL, 0)
#define END() fl_arena_destroy(a)

static const FlValue *S(FlArena *a, const char *s)
{
    return fl_string_ref(a, s, strlen(s));
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

/* The compact JSON / text of v as a C string (arena strings end in NUL). */
static const char *js(FlArena *a, const FlValue *v)
{
    return fl_json_text(a, v)->u.s;
}

static const char *tx(FlArena *a, const FlValue *v)
{
    const FlValue *t = fl_text(a, v);
    return t->len ? fl_string(a, t->u.s, t->len)->u.s : "";
}

static bool str_is(const FlValue *v, const char *s, size_t len)
{
    return v->type == FL_STRING && v->len == len && memcmp(v->u.s, s, len) == 0;
}
#define STR_IS(v, lit) str_is((v), (lit), sizeof(lit) - 1)

/* ---- arena ------------------------------------------------------------- */

static void test_arena_alloc(void)
{
    char first[100];
    FlArena arena;
    fl_arena_init(&arena, first + 1, sizeof first - 1);   /* misaligned */
    void *prev = NULL;
    for (size_t i = 0; i < 10000; i++) {
        size_t n = i % 37;
        char *p = fl_arena_alloc(&arena, n);
        CU_ASSERT_PTR_NOT_NULL(p);
        CU_ASSERT_EQUAL((uintptr_t)p % 8, 0);
        CU_ASSERT_NOT_EQUAL(p, prev);
        memset(p, 0xAB, n);
        prev = p;
    }
    char *big = fl_arena_alloc(&arena, 1 << 20);          /* own block */
    memset(big, 1, 1 << 20);
    char *small = fl_arena_alloc(&arena, 8);
    CU_ASSERT(small < big || small >= big + (1 << 20));
    fl_arena_reset(&arena);
    char *again = fl_arena_alloc(&arena, 8);
    CU_ASSERT(again >= first && again < first + sizeof first);
    fl_arena_destroy(&arena);
}

static void test_arena_extend_trim(void)
{
    BEGIN();
    char *p = fl_arena_alloc(a, 16);
    CU_ASSERT_TRUE(fl_arena_extend(a, p, 16, 64));
    memset(p, 'x', 64);
    char *q = fl_arena_alloc(a, 8);
    CU_ASSERT_PTR_EQUAL(q, p + 64);
    CU_ASSERT_FALSE(fl_arena_extend(a, p, 64, 128));      /* not on top */
    fl_arena_trim(a, q, 8, 0);
    CU_ASSERT_PTR_EQUAL(fl_arena_alloc(a, 8), q);
    CU_ASSERT_PTR_NOT_NULL(fl_arena_alloc(a, 0));
    END();
}

/* ---- numbers ----------------------------------------------------------- */

static void test_number_format(void)
{
    static const struct {
        double n;
        const char *s;
    } cases[] = {
        {0, "0"}, {-0.0, "0"}, {1, "1"}, {-1, "-1"}, {42, "42"},
        {0.1 + 0.2, "0.30000000000000004"}, {0.1, "0.1"}, {1.5, "1.5"},
        {-2.5e-3, "-0.0025"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"},
        {123e20, "1.23e+22"}, {1e-7, "1e-7"}, {1e-6, "0.000001"},
        {1.5e-7, "1.5e-7"}, {123e-20, "1.23e-18"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {9007199254740991.0, "9007199254740991"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740993.0, "9007199254740992"},
        {-9007199254740991.0, "-9007199254740991"},
        {1.2345678901234568e20, "123456789012345680000"},
        {123456789.123, "123456789.123"}, {1 / 3.0, "0.3333333333333333"},
        {100, "100"}, {1e15, "1000000000000000"}, {4.35, "4.35"},
        {0.000001234, "0.000001234"}, {-1e-7, "-1e-7"}, {2e-323, "2e-323"},
        {1.1e-322, "1.1e-322"}, {5.551115123125783e-17, "5.551115123125783e-17"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        size_t n = fl_number_format(cases[i].n, out);
        CU_ASSERT_STRING_EQUAL(out, cases[i].s);
        CU_ASSERT_EQUAL(n, strlen(cases[i].s));
    }
    char out[32];
    fl_number_format(NAN, out);
    CU_ASSERT_STRING_EQUAL(out, "null");
    fl_number_format(-INFINITY, out);
    CU_ASSERT_STRING_EQUAL(out, "null");
}

/* Every integer up to 2^53 prints as itself; check a spread of them. */
static void test_number_integers(void)
{
    char out[32], want[32];
    for (double d = 1; d <= 9007199254740992.0; d = d * 3 + 1) {
        fl_number_format(d, out);
        snprintf(want, sizeof want, "%.0f", d);
        CU_ASSERT_STRING_EQUAL(out, want);
    }
}

/* Shortest round trip: what is printed reads back exactly. */
static void test_number_round_trip(void)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double d;
        memcpy(&d, &s, sizeof d);
        if (!isfinite(d))
            continue;
        char out[32];
        CU_ASSERT(fl_number_format(d, out) <= 25);
        CU_ASSERT(strtod(out, NULL) == d);
    }
}

/* ---- values -------------------------------------------------------------- */

static const FlValue k_items[] = {FL_NUMBER_LIT(1), FL_STRING_LIT("a\0b"),
                                  FL_NULL_LIT, FL_BOOL_LIT(true)};
static const FlMember k_members[] = {
    FL_MEMBER("ok", FL_BOOL_LIT(false)),
    FL_MEMBER("list", FL_ARRAY_LIT(k_items)),
    FL_MEMBER("empty", FL_EMPTY_OBJECT_LIT),
    FL_MEMBER("none", FL_EMPTY_ARRAY_LIT),
};
static const FlValue k_object = FL_OBJECT_LIT(k_members);

static void test_static_constants(void)
{
    BEGIN();
    CU_ASSERT_EQUAL(k_object.len, 4);
    CU_ASSERT_STRING_EQUAL(js(a, &k_object),
        "{\"ok\":false,\"list\":[1,\"a\\u0000b\",null,true],\"empty\":{},\"none\":[]}");
    const FlValue *list = fl_get_field(&k_object, "list", 4);
    CU_ASSERT_EQUAL(list->type, FL_ARRAY);
    CU_ASSERT(STR_IS(fl_get_int(list, 1), "a\0b"));
    CU_ASSERT_EQUAL(fl_get_int(list, 1)->len, 3);
    /* Equal to the same object built in another key order (not parsed:
     * the parser rejects \u0000, so "a\0b" cannot come from JSON). */
    static const char *const keys[] = {"none", "empty", "ok", "list"};
    const FlValue *items[] = {N(a, 1), fl_string(a, "a\0b", 3), &fl_null,
                              &fl_true};
    const FlValue *values[] = {J(a, "[]"), J(a, "{}"), &fl_false,
                               fl_array_of(a, items, 4)};
    CU_ASSERT_TRUE(fl_equal(&k_object, fl_object_of(a, keys, values, 4)));
    END();
}

static void test_constructors(void)
{
    BEGIN();
    char src[] = "hello";
    const FlValue *copy = fl_string(a, src, 5), *ref = fl_string_ref(a, src, 5);
    src[0] = 'j';
    CU_ASSERT(STR_IS(copy, "hello"));
    CU_ASSERT_EQUAL(copy->u.s[5], '\0');
    CU_ASSERT(STR_IS(ref, "jello"));
    CU_ASSERT_PTR_EQUAL(fl_string(a, "", 0), &fl_empty_string);
    CU_ASSERT_PTR_EQUAL(fl_number(a, NAN), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_number(a, INFINITY), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_bool(true), &fl_true);
    const FlValue *items[] = {N(a, 1), &fl_null, S(a, "x")};
    CU_ASSERT_STRING_EQUAL(js(a, fl_array_of(a, items, 3)), "[1,null,\"x\"]");
    CU_ASSERT_STRING_EQUAL(js(a, fl_array_of(a, NULL, 0)), "[]");
    const char *keys[] = {"b", "a", "b"};
    CU_ASSERT_STRING_EQUAL(js(a, fl_object_of(a, keys, items, 3)),
                           "{\"b\":\"x\",\"a\":null}");
    CU_ASSERT_STRING_EQUAL(js(a, fl_object_of(a, NULL, NULL, 0)), "{}");
    END();
}

static void test_builders(void)
{
    BEGIN();
    FlArrayBuilder ab;
    fl_array_init(&ab, a, 0);
    for (int i = 0; i < 100; i++) {
        fl_array_append(&ab, N(a, i));      /* interleaved allocations */
    }
    const FlValue *arr = fl_array_finish(&ab);
    CU_ASSERT_EQUAL(arr->len, 100);
    CU_ASSERT_EQUAL(fl_get_int(arr, 99)->u.n, 99);

    FlObjectBuilder ob;
    fl_object_init(&ob, a, 2);
    fl_object_add(&ob, "b", 1, N(a, 1));
    fl_object_add(&ob, "a", 1, N(a, 2));
    fl_object_set(&ob, "b", 1, N(a, 3));
    fl_object_set(&ob, "c", 1, &fl_true);
    fl_object_add(&ob, "a", 1, N(a, 9));    /* duplicate: first wins */
    const FlValue *obj = fl_object_finish(&ob);
    CU_ASSERT_STRING_EQUAL(js(a, obj), "{\"b\":3,\"a\":2,\"c\":true,\"a\":9}");
    CU_ASSERT_EQUAL(fl_get_field(obj, "a", 1)->u.n, 2);

    fl_object_init(&ob, a, 0);
    CU_ASSERT_STRING_EQUAL(js(a, fl_object_finish(&ob)), "{}");
    END();
}

static void test_access(void)
{
    BEGIN();
    const FlValue *v = J(a, "{\"a\":[10,20,30],\"b\":null,\"x-y\":{\"c\":1}}");
    const FlValue *arr = fl_get_field(v, "a", 1);
    CU_ASSERT_EQUAL(fl_get_int(arr, 2)->u.n, 30);
    CU_ASSERT_PTR_EQUAL(fl_get_int(arr, 3), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_int(arr, -1), &fl_null);
    CU_ASSERT_EQUAL(fl_get_index(arr, N(a, 1))->u.n, 20);
    CU_ASSERT_EQUAL(fl_get_index(arr, N(a, 1.0))->u.n, 20);
    CU_ASSERT_PTR_EQUAL(fl_get_index(arr, N(a, 1.5)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_index(arr, N(a, -1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_index(arr, N(a, 3)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_index(arr, N(a, 1e300)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_index(arr, S(a, "0")), &fl_null);
    CU_ASSERT_EQUAL(fl_get_index(fl_get_index(v, S(a, "x-y")), S(a, "c"))->u.n, 1);
    CU_ASSERT_PTR_EQUAL(fl_get_index(v, N(a, 0)), &fl_null);
    CU_ASSERT_EQUAL(fl_get_field(v, "b", 1)->type, FL_NULL);
    CU_ASSERT_PTR_EQUAL(fl_get_field(v, "zz", 2), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_field(arr, "a", 1), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_field(&fl_null, "a", 1), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_get_int(S(a, "abc"), 0), &fl_null);
    END();
}

static void test_truthy(void)
{
    BEGIN();
    CU_ASSERT_FALSE(fl_truthy(&fl_null));
    CU_ASSERT_FALSE(fl_truthy(&fl_false));
    CU_ASSERT_FALSE(fl_truthy(N(a, 0)));
    CU_ASSERT_FALSE(fl_truthy(N(a, -0.0)));
    CU_ASSERT_FALSE(fl_truthy(S(a, "")));
    CU_ASSERT_TRUE(fl_truthy(&fl_true));
    CU_ASSERT_TRUE(fl_truthy(N(a, 0.001)));
    CU_ASSERT_TRUE(fl_truthy(S(a, "0")));
    CU_ASSERT_TRUE(fl_truthy(S(a, "false")));
    CU_ASSERT_TRUE(fl_truthy(J(a, "[]")));
    CU_ASSERT_TRUE(fl_truthy(J(a, "{}")));
    END();
}

/* ---- operators ------------------------------------------------------------ */

static void test_equality(void)
{
    BEGIN();
    CU_ASSERT_TRUE(fl_equal(N(a, 1), J(a, "1.0")));
    CU_ASSERT_TRUE(fl_equal(N(a, 0), N(a, -0.0)));
    CU_ASSERT_FALSE(fl_equal(N(a, 1), S(a, "1")));
    CU_ASSERT_FALSE(fl_equal(&fl_true, N(a, 1)));
    CU_ASSERT_FALSE(fl_equal(&fl_null, &fl_false));
    CU_ASSERT_FALSE(fl_equal(&fl_null, S(a, "")));
    CU_ASSERT_TRUE(fl_equal(&fl_null, J(a, "null")));
    CU_ASSERT_TRUE(fl_equal(S(a, "ab"), J(a, "\"a\\u0062\"")));
    CU_ASSERT_FALSE(fl_equal(S(a, "ab"), S(a, "abc")));
    CU_ASSERT_TRUE(fl_equal(J(a, "[1,[2,{\"a\":null}]]"), J(a, "[1,[2,{\"a\":null}]]")));
    CU_ASSERT_FALSE(fl_equal(J(a, "[1,2]"), J(a, "[2,1]")));
    CU_ASSERT_FALSE(fl_equal(J(a, "[1,2]"), J(a, "[1,2,3]")));
    CU_ASSERT_TRUE(fl_equal(J(a, "{\"a\":1,\"b\":[2]}"), J(a, "{\"b\":[2],\"a\":1}")));
    CU_ASSERT_FALSE(fl_equal(J(a, "{\"a\":1}"), J(a, "{\"a\":1,\"b\":2}")));
    CU_ASSERT_FALSE(fl_equal(J(a, "{\"a\":null}"), J(a, "{}")));
    CU_ASSERT_FALSE(fl_equal(J(a, "{\"a\":null}"), J(a, "{\"b\":null}")));
    CU_ASSERT_TRUE(fl_equal(J(a, "{\"a\":1,\"a\":2}"), J(a, "{\"a\":1}")));
    CU_ASSERT_FALSE(fl_equal(J(a, "{\"a\":1,\"a\":2}"), J(a, "{\"a\":2}")));
    CU_ASSERT_PTR_EQUAL(fl_op_eq(a, N(a, 2), N(a, 2)), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_ne(a, N(a, 2), S(a, "2")), &fl_true);
    END();
}

static void test_comparisons(void)
{
    BEGIN();
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, N(a, 1), N(a, 2)), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, N(a, 2), N(a, 2)), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_op_le(a, N(a, 2), N(a, 2)), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_gt(a, N(a, -1), N(a, -2)), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_ge(a, N(a, -3), N(a, -2)), &fl_false);
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, S(a, "a"), S(a, "b")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, S(a, "a"), S(a, "ab")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, S(a, ""), S(a, "a")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, S(a, "B"), S(a, "a")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_gt(a, S(a, "\xc3\xa9"), S(a, "z")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_lt(a, S(a, "10"), S(a, "9")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_ge(a, S(a, "abc"), S(a, "abc")), &fl_true);
    /* Mixed or other pairs: always false, both ways. */
    const FlValue *odd[] = {N(a, 1), S(a, "1"), &fl_null, &fl_true, J(a, "[1]")};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            if (i == j && i < 2)
                continue;
            CU_ASSERT_PTR_EQUAL(fl_op_lt(a, odd[i], odd[j]), &fl_false);
            CU_ASSERT_PTR_EQUAL(fl_op_le(a, odd[i], odd[j]), &fl_false);
            CU_ASSERT_PTR_EQUAL(fl_op_gt(a, odd[i], odd[j]), &fl_false);
            CU_ASSERT_PTR_EQUAL(fl_op_ge(a, odd[i], odd[j]), &fl_false);
        }
    END();
}

static void test_arithmetic(void)
{
    BEGIN();
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, N(a, 0.1), N(a, 0.2))), "0.30000000000000004");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, S(a, "a"), N(a, 1))), "\"a1\"");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, N(a, 1.5), S(a, "x"))), "\"1.5x\"");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, S(a, "a"), S(a, "b"))), "\"ab\"");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, S(a, "n:"), &fl_null)), "\"n:\"");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, &fl_null, S(a, ""))), "\"\"");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, S(a, "b:"), &fl_true)), "\"b:true\"");
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_add(a, J(a, "[1,{\"a\":2}]"), S(a, "!"))),
                           "\"[1,{\\\"a\\\":2}]!\"");
    CU_ASSERT_PTR_EQUAL(fl_op_add(a, N(a, 1), &fl_true), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_add(a, &fl_null, &fl_null), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_add(a, J(a, "[1]"), J(a, "[2]")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_add(a, N(a, 1e308), N(a, 1e308)), &fl_null);
    CU_ASSERT_EQUAL(fl_op_sub(a, N(a, 5), N(a, 7))->u.n, -2);
    CU_ASSERT_EQUAL(fl_op_mul(a, N(a, 6), N(a, 7))->u.n, 42);
    CU_ASSERT_EQUAL(fl_op_div(a, N(a, 7), N(a, 2))->u.n, 3.5);
    CU_ASSERT_PTR_EQUAL(fl_op_div(a, N(a, 7), N(a, 0)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_div(a, N(a, 0), N(a, -0.0)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_mul(a, N(a, 1e200), N(a, 1e200)), &fl_null);
    CU_ASSERT_EQUAL(fl_op_mod(a, N(a, 7), N(a, 3))->u.n, 1);
    CU_ASSERT_EQUAL(fl_op_mod(a, N(a, -7), N(a, 3))->u.n, -1);
    CU_ASSERT_EQUAL(fl_op_mod(a, N(a, 7.5), N(a, 2))->u.n, 1.5);
    CU_ASSERT_PTR_EQUAL(fl_op_mod(a, N(a, 7), N(a, 0)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_sub(a, S(a, "5"), N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_mul(a, &fl_true, N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_div(a, &fl_null, N(a, 1)), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_mod(a, S(a, "x"), S(a, "y")), &fl_null);
    CU_ASSERT_EQUAL(fl_op_neg(a, N(a, 3))->u.n, -3);
    CU_ASSERT_STRING_EQUAL(js(a, fl_op_neg(a, N(a, 0))), "0");
    CU_ASSERT_PTR_EQUAL(fl_op_neg(a, S(a, "3")), &fl_null);
    CU_ASSERT_PTR_EQUAL(fl_op_not(a, S(a, "")), &fl_true);
    CU_ASSERT_PTR_EQUAL(fl_op_not(a, J(a, "[]")), &fl_false);
    END();
}

/* ---- text and JSON ------------------------------------------------------- */

static void test_text_rule(void)
{
    BEGIN();
    CU_ASSERT_STRING_EQUAL(tx(a, S(a, "as \"is\"\n")), "as \"is\"\n");
    CU_ASSERT_STRING_EQUAL(tx(a, N(a, 42)), "42");
    CU_ASSERT_STRING_EQUAL(tx(a, N(a, 1e21)), "1e+21");
    CU_ASSERT_STRING_EQUAL(tx(a, &fl_true), "true");
    CU_ASSERT_STRING_EQUAL(tx(a, &fl_false), "false");
    CU_ASSERT_STRING_EQUAL(tx(a, &fl_null), "");
    CU_ASSERT_STRING_EQUAL(tx(a, J(a, " [ 1 , \"a\" , null ] ")), "[1,\"a\",null]");
    CU_ASSERT_STRING_EQUAL(tx(a, J(a, "{ \"k\" : { } }")), "{\"k\":{}}");
    const FlValue *s = S(a, "same");
    CU_ASSERT_PTR_EQUAL(fl_text(a, s), s);

    FlBuf b;
    fl_buf_init(&b, a);
    FL_BUF_APPEND_LIT(&b, "payment ");
    fl_buf_append_text(&b, N(a, 12.5));
    fl_buf_putc(&b, ' ');
    fl_buf_append_text(&b, &fl_null);
    fl_buf_append_json(&b, S(a, "q\""));
    const FlValue *out = fl_buf_finish(&b);
    CU_ASSERT(STR_IS(out, "payment 12.5 \"q\\\"\""));
    CU_ASSERT_EQUAL(out->u.s[out->len], '\0');
    fl_buf_init(&b, a);
    CU_ASSERT_PTR_EQUAL(fl_buf_finish(&b), &fl_empty_string);
    END();
}

static void test_buf_growth(void)
{
    BEGIN();
    FlBuf b;
    fl_buf_init(&b, a);
    for (int i = 0; i < 100000; i++) {
        fl_buf_putc(&b, (char)('a' + i % 26));
        if (i % 1000 == 0)
            fl_arena_alloc(a, 24);          /* someone else allocates */
    }
    const FlValue *v = fl_buf_finish(&b);
    CU_ASSERT_EQUAL(v->len, 100000);
    bool ok = true;
    for (int i = 0; i < 100000; i++)
        ok &= v->u.s[i] == (char)('a' + i % 26);
    CU_ASSERT_TRUE(ok);
    END();
}

static void test_json_escapes(void)
{
    BEGIN();
    static const char raw[] = "q\" b\\ s/ \b\f\n\r\t \x01\x1f\x7f \0 \xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x98\x80";
    CU_ASSERT_STRING_EQUAL(js(a, fl_string_ref(a, raw, sizeof raw - 1)),
        "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f \\u0000 \xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x98\x80\"");
    /* Invalid UTF-8: each maximal invalid subpart becomes U+FFFD. */
    static const struct {
        const char *in, *out;
    } bad[] = {
        {"a\xff" "b", "\"a\xef\xbf\xbd" "b\""},
        {"\xc3", "\"\xef\xbf\xbd\""},
        {"\xe2\x80", "\"\xef\xbf\xbd\""},
        {"\xe2\x80x", "\"\xef\xbf\xbdx\""},
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\x80", "\"\xef\xbf\xbd\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_STRING_EQUAL(js(a, S(a, bad[i].in)), bad[i].out);
    /* Keys are escaped too; text of a string is its raw bytes. */
    CU_ASSERT_STRING_EQUAL(js(a, J(a, "{\"a\\nb\":1}")), "{\"a\\nb\":1}");
    CU_ASSERT_STRING_EQUAL(tx(a, S(a, "a\xff")), "a\xff");
    END();
}

/* ---- JSON string escaping against a reference ---------------------------- */

/* The length of the well-formed UTF-8 sequence at p (Unicode table 3-7),
 * or, when there is none, minus the length of its maximal subpart (at
 * least 1). */
static int utf8_ref(const unsigned char *p, size_t left)
{
    static const struct {
        unsigned char lead_lo, lead_hi, len, lo, hi;    /* lo, hi: 2nd byte */
    } forms[] = {
        {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
        {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F},
        {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
        {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        if (p[0] < forms[f].lead_lo || p[0] > forms[f].lead_hi)
            continue;
        int k = 1;
        while (k < forms[f].len && (size_t)k < left &&
               p[k] >= (k == 1 ? forms[f].lo : 0x80) &&
               p[k] <= (k == 1 ? forms[f].hi : 0xBF))
            k++;
        return k == forms[f].len ? k : -k;
    }
    return -1;
}

/* JSON.stringify's escaping, one byte at a time, into out. */
static size_t escape_ref(char *out, const unsigned char *p, size_t len)
{
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : NULL;
        int n = c < 0x80 ? 1 : utf8_ref(p + i, len - i);
        if (e)
            o += sprintf(o, "%s", e);
        else if (c < 0x20)
            o += sprintf(o, "\\u%04x", c);
        else if (n > 0)
            memcpy(o, p + i, (size_t)n), o += n;
        else
            o += sprintf(o, "\xef\xbf\xbd");
        i += (size_t)(n > 0 ? n : -n);
    }
    *o++ = '"';
    return (size_t)(o - out);
}

static bool escapes_as_ref(FlArena *a, const unsigned char *p, size_t len)
{
    char want[1024];
    size_t n = escape_ref(want, p, len);
    const FlValue *got = fl_json_text(a, fl_string_ref(a, (const char *)p, len));
    return got->len == n && memcmp(got->u.s, want, n) == 0;
}

/* Every byte and every pair of bytes, alone and at each place in the
 * first word of a longer string (the printer tests plain text eight bytes
 * at a time), then random strings over the bytes that matter. */
static void test_json_escapes_all(void)
{
    BEGIN();
    unsigned char s[64];
    bool ok = true;
    for (unsigned c = 0; c < 256; c++)
        for (size_t pre = 0; pre < 10; pre++) {
            memset(s, 'a', sizeof s);
            s[pre] = (unsigned char)c;
            ok &= escapes_as_ref(a, s, pre + 1) && escapes_as_ref(a, s, pre + 9);
        }
    for (unsigned c = 0; c < 65536; c++) {
        size_t at = c % 9;
        memset(s, 'x', 20);
        s[at] = (unsigned char)(c >> 8);
        s[at + 1] = (unsigned char)c;
        ok &= escapes_as_ref(a, s + at, 2) && escapes_as_ref(a, s, 20);
        if (c % 4096 == 0)
            fl_arena_reset(a);
    }
    static const unsigned char pick[] = {
        'a', 'b', ' ', '"', '\\', '/', 0, '\n', 0x1f, 0x7f, 0x80, 0x8f, 0x90,
        0x9f, 0xa0, 0xa8, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed,
        0xef, 0xf0, 0xf4, 0xf5, 0xff,
    };
    uint64_t x = 88172645463325252u;                       /* xorshift64 */
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = x % sizeof s;
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[k] = x % 4 ? 'a' + (unsigned char)(x % 26) : pick[x / 4 % sizeof pick];
        }
        ok &= escapes_as_ref(a, s, len);
        if (i % 1000 == 0)
            fl_arena_reset(a);
    }
    CU_ASSERT_TRUE(ok);
    /* U+2028 and U+2029 pass as they are, as in JSON.stringify. */
    CU_ASSERT_STRING_EQUAL(js(a, S(a, "\xe2\x80\xa8\xe2\x80\xa9")),
                           "\"\xe2\x80\xa8\xe2\x80\xa9\"");
    END();
}

static void test_json_round_trip(void)
{
    BEGIN();
    static const char *docs[] = {
        "null", "true", "false", "0", "-1", "3.25", "1e+21", "\"\"", "[]", "{}",
        "{\"z\":1,\"a\":2,\"m\":[true,false,null,{\"y\":\"x\",\"b\":{}}]}",
        "[0.1,-0.5,1e-7,123456789012345680000,5e-324]",
        "\"\\u0001\\\"\\\\\\n\xc3\xa9\"",
        "{\"dup\":1,\"dup\":2}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        CU_ASSERT_STRING_EQUAL(js(a, J(a, docs[i])), docs[i]);
    static const struct {
        const char *in, *out;
    } norm[] = {
        {" { \"a\" : [ 1 , 2 ] }\r\n\t", "{\"a\":[1,2]}"},
        {"1.0", "1"}, {"-0", "0"}, {"1E3", "1000"}, {"1e-2", "0.01"},
        {"2.5E+1", "25"}, {"1e400", "null"}, {"-1e400", "null"},
        {"12345678901234567890", "12345678901234567000"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"\"\\/\\b\\f\\r\\t\"", "\"/\\b\\f\\r\\t\""},
        {"\"\\u00e9\\u20AC\"", "\"\xc3\xa9\xe2\x82\xac\""},
        {"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""},
        {"\"\\uD83D\\uDE00\"", "\"\xf0\x9f\x98\x80\""},
        {"\"\x7f\xff\"", "\"\x7f\xef\xbf\xbd\""},
        {"[1e05,1E-05,0e1,-0.05,10,100]", "[100000,0.00001,0,-0.05,10,100]"},
        {"123456789012345678901234567890123456789012345678901234567890123456789",
         "1.234567890123457e+68"},
    };
    for (size_t i = 0; i < sizeof norm / sizeof norm[0]; i++)
        CU_ASSERT_STRING_EQUAL(js(a, J(a, norm[i].in)), norm[i].out);
    END();
}

static void test_json_invalid(void)
{
    BEGIN();
    static const char *bad[] = {
        "", " ", "{} x", "[1] [2]", "01", "-01", "1.", ".5", "-", "+1", "1e",
        "1e+", "0x10", "NaN", "Infinity", "[1,]", "[,1]", "[1 2]", "{\"a\" 1}",
        "{\"a\":}", "{a:1}", "{\"a\":1,}", "{'a':1}", "\"abc", "\"a\nb\"",
        "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\", "tru", "nul", "falsey",
        "[", "]", "{", "}", "[\"a\":1]", "{\"a\",1}", "\"a\" \"b\"",
        /* What cJSON alone would accept. */
        "00", "-00", "[01]", "{\"a\":-01}", "1.e5", "-.5", "[1.]",
        "\xef\xbb\xbf" "1", "\x01" "1", "[1,\x0b" "2]", "\"a\tb\"",
        /* Unpaired surrogates: cJSON rejects them (they once became
         * U+FFFD). */
        "\"\\ud83d\"", "\"\\ude00x\"", "\"\\ud83d\\u0041\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_NULL(fl_json_parse(a, bad[i], strlen(bad[i])));
    /* Embedded NUL outside a string; a buffer not NUL-terminated. */
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "1\0", 2));
    CU_ASSERT_PTR_NOT_NULL(fl_json_parse(a, "123456", 3));
    CU_ASSERT_EQUAL(fl_json_parse(a, "1.5e3xyz", 3)->u.n, 1.5);
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "1.5e3xyz", 4));
    CU_ASSERT_EQUAL(fl_json_parse(a, "1.5e3xyz", 5)->u.n, 1500);
    END();
}

/* cJSON stops after the document; only JSON white space may follow. */
static void test_json_trailing(void)
{
    BEGIN();
    static const char *bad[] = {
        "1 x", "1x", "[1]]", "{}}", "{}{}", "\"a\"\"b\"", "1,", "[1] ,",
        "null null", "truex", "1e5e5", "1.5.5", "-1-1", "[1] \n\t //",
        "1\x0b", "\x0c" "1", "{} \x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_NULL(fl_json_parse(a, bad[i], strlen(bad[i])));
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "[1] \0", 5));
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "\"a\" \0\"b\"", 8));
    CU_ASSERT_EQUAL(J(a, " \t\n\r[1] \n\t\r ")->len, 1);
    CU_ASSERT_EQUAL(J(a, "7\n")->u.n, 7);
    END();
}

/* cJSON's strings end at NUL, so it would cut "a\u0000b" to "a": the
 * parser rejects the text instead.  So does a \u without four hex
 * digits, which cJSON would read as \u0000. */
static void test_json_nul(void)
{
    BEGIN();
    static const char *bad[] = {
        "\"\\u0000\"", "\"a\\u0000b\"", "[\"x\",\"\\u0000\"]",
        "{\"k\\u0000\":1}", "{\"k\":\"\\u0000\"}", "\"\\\\\\u0000\"",
        "\"\\u00000\"", "\"\\u12g4\"", "\"\\uzzzz\"", "\"\\u 123\"",
        "\"\\ud83d\\uzzzz\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_PTR_NULL(fl_json_parse(a, bad[i], strlen(bad[i])));
    /* Raw NUL bytes, inside a string or out. */
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "\"a\0b\"", 5));
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "[1,\0 2]", 7));
    /* An escaped backslash followed by "u0000" is plain text; other
     * escapes below 0x20 are kept. */
    CU_ASSERT(STR_IS(J(a, "\"\\\\u0000\""), "\\u0000"));
    CU_ASSERT(STR_IS(J(a, "\"\\\\\\\\u0000\""), "\\\\u0000"));
    CU_ASSERT(STR_IS(J(a, "\"u0000\""), "u0000"));
    CU_ASSERT(STR_IS(J(a, "\"\\u0001\\u001F\\u00e9\""), "\x01\x1f\xc3\xa9"));
    CU_ASSERT_EQUAL(J(a, "{\"a\\\\u0000\":1}")->u.members[0].klen, 7);
    /* So a string holding NUL prints, but does not parse back. */
    const FlValue *text = fl_json_text(a, fl_string(a, "a\0b", 3));
    CU_ASSERT(STR_IS(text, "\"a\\u0000b\""));
    CU_ASSERT_PTR_NULL(fl_json_parse(a, text->u.s, text->len));
    END();
}

static const FlValue *parse_depth(FlArena *a, int depth)
{
    char *s = malloc(2 * (size_t)depth + 1);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    const FlValue *v = fl_json_parse(a, s, 2 * (size_t)depth);
    free(s);
    return v;
}

static const FlValue *parse_objects(FlArena *a, int depth)
{
    FlBuf b;
    fl_buf_init(&b, a);
    for (int i = 0; i < depth; i++)
        FL_BUF_APPEND_LIT(&b, "{\"a\":");
    fl_buf_putc(&b, '1');
    for (int i = 0; i < depth; i++)
        fl_buf_putc(&b, '}');
    const FlValue *text = fl_buf_finish(&b);
    return fl_json_parse(a, text->u.s, text->len);
}

static void test_json_depth(void)
{
    BEGIN();
    CU_ASSERT_PTR_NOT_NULL(parse_depth(a, FL_JSON_MAX_DEPTH));
    CU_ASSERT_PTR_NULL(parse_depth(a, FL_JSON_MAX_DEPTH + 1));
    CU_ASSERT_PTR_NULL(parse_depth(a, 100000));
    /* Unclosed: 100000 opening brackets only. */
    char *s = malloc(100000);
    memset(s, '{', 100000);
    CU_ASSERT_PTR_NULL(fl_json_parse(a, s, 100000));
    free(s);
    /* Objects count too: {"a":{"a":...1...}}. */
    CU_ASSERT_PTR_NOT_NULL(parse_objects(a, FL_JSON_MAX_DEPTH));
    CU_ASSERT_PTR_NULL(parse_objects(a, FL_JSON_MAX_DEPTH + 1));
    /* A value nested 1000 deep prints and compares without trouble. */
    const FlValue *deep = parse_depth(a, FL_JSON_MAX_DEPTH);
    CU_ASSERT_EQUAL(fl_json_text(a, deep)->len, 2 * FL_JSON_MAX_DEPTH);
    CU_ASSERT_TRUE(fl_equal(deep, parse_depth(a, FL_JSON_MAX_DEPTH)));
    END();
}

/* Large containers: thousands of items, hundreds of members. */
static void test_json_large(void)
{
    BEGIN();
    FlBuf b;
    fl_buf_init(&b, a);
    FL_BUF_APPEND_LIT(&b, "{\"list\":[");
    for (int i = 0; i < 5000; i++)
        fl_buf_append(&b, "[1,{\"k\":2}],", i < 4999 ? 12 : 11);
    FL_BUF_APPEND_LIT(&b, "],");
    for (int i = 0; i < 300; i++) {
        char kv[32];
        int n = snprintf(kv, sizeof kv, "\"k%d\":%d,", i, i);
        fl_buf_append(&b, kv, (size_t)n);
    }
    FL_BUF_APPEND_LIT(&b, "\"end\":true}");
    const FlValue *text = fl_buf_finish(&b);
    const FlValue *v = fl_json_parse(a, text->u.s, text->len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(v->len, 302);
    CU_ASSERT_EQUAL(fl_get_field(v, "list", 4)->len, 5000);
    CU_ASSERT_EQUAL(fl_get_field(v, "k299", 4)->u.n, 299);
    CU_ASSERT_TRUE(fl_equal(fl_json_text(a, v), text));
    END();
}

/* fl_json_parse() borrows nothing: every string is copied (and ends in
 * a NUL), so the text may change or go away after the call. */
static void test_json_copies(void)
{
    BEGIN();
    char body[] = "{\"plain\":\"abc\",\"esc\":\"a\\nb\"}";
    const FlValue *v = fl_json_parse(a, body, sizeof body - 1);
    const FlValue *plain = fl_get_field(v, "plain", 5);
    CU_ASSERT(plain->u.s < body || plain->u.s >= body + sizeof body);
    CU_ASSERT_EQUAL(plain->u.s[plain->len], '\0');
    memset(body, 'x', sizeof body - 1);
    CU_ASSERT(STR_IS(fl_get_field(v, "plain", 5), "abc"));
    CU_ASSERT(STR_IS(fl_get_field(v, "esc", 3), "a\nb"));
    CU_ASSERT_PTR_NULL(fl_json_parse(a, "\"a\\u0000b\"", 10));
    END();
}

static const UnitTest tests[] = {
    {"arena_alloc", test_arena_alloc},
    {"arena_extend_trim", test_arena_extend_trim},
    {"number_format", test_number_format},
    {"number_integers", test_number_integers},
    {"number_round_trip", test_number_round_trip},
    {"static_constants", test_static_constants},
    {"constructors", test_constructors},
    {"builders", test_builders},
    {"access", test_access},
    {"truthy", test_truthy},
    {"equality", test_equality},
    {"comparisons", test_comparisons},
    {"arithmetic", test_arithmetic},
    {"text_rule", test_text_rule},
    {"buf_growth", test_buf_growth},
    {"json_escapes", test_json_escapes},
    {"json_escapes_all", test_json_escapes_all},
    {"json_round_trip", test_json_round_trip},
    {"json_invalid", test_json_invalid},
    {"json_trailing", test_json_trailing},
    {"json_nul", test_json_nul},
    {"json_depth", test_json_depth},
    {"json_large", test_json_large},
    {"json_copies", test_json_copies},
    {NULL, NULL},
};
UNIT_SUITE("value", tests)
