/* test_backoff.c - the wait between an http_request's attempts
 * (runtime/run/backoff.c): 100 ms doubling, capped, plus at most 10%. */
#include "run/backoff.h"
#include "unit.h"

static void test_doubling(void)
{
    CU_ASSERT_EQUAL(backoff_base_ms(1, 5000), 100);
    CU_ASSERT_EQUAL(backoff_base_ms(2, 5000), 200);
    CU_ASSERT_EQUAL(backoff_base_ms(3, 5000), 400);
    CU_ASSERT_EQUAL(backoff_base_ms(6, 5000), 3200);
    CU_ASSERT_EQUAL(backoff_base_ms(7, 5000), 5000);     /* the default cap */
    CU_ASSERT_EQUAL(backoff_base_ms(100, 5000), 5000);
}

static void test_cap(void)
{
    CU_ASSERT_EQUAL(backoff_base_ms(1, 50), 50);         /* below the first */
    CU_ASSERT_EQUAL(backoff_base_ms(5, 1), 1);
    CU_ASSERT_EQUAL(backoff_base_ms(3, 300), 300);
    CU_ASSERT_EQUAL(backoff_base_ms(20, 86400000), 52428800);
    CU_ASSERT_EQUAL(backoff_base_ms(21, 86400000), 86400000);
    CU_ASSERT_EQUAL(backoff_base_ms(100, 86400000), 86400000);  /* no overflow */
    CU_ASSERT_EQUAL(backoff_base_ms(1000000, 86400000), 86400000);
    CU_ASSERT_EQUAL(backoff_base_ms(2, 0), 1);           /* a cap of 1 at least */
}

static void test_jitter(void)
{
    CU_ASSERT_EQUAL(backoff_ms(1, 5000, 0), 100);
    CU_ASSERT_EQUAL(backoff_ms(1, 5000, 10), 110);       /* 10% at most */
    CU_ASSERT_EQUAL(backoff_ms(1, 5000, 11), 100);
    CU_ASSERT_EQUAL(backoff_ms(7, 5000, UINT64_MAX), 5000 + UINT64_MAX % 501);
    CU_ASSERT_EQUAL(backoff_ms(3, 5, 7), 5);             /* 5 / 10: none */
    for (uint64_t r = 0; r < 100000; r += 7) {
        int64_t w = backoff_ms(30, 86400000, r * 0x9e3779b97f4a7c15u);
        CU_ASSERT(w >= 86400000 && w <= 86400000 + 8640000);
    }
}

static const UnitTest tests[] = {
    {"doubling", test_doubling},
    {"cap", test_cap},
    {"jitter", test_jitter},
    {NULL, NULL},
};
UNIT_SUITE("backoff", tests)
