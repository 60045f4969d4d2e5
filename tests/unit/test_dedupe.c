/* test_dedupe.c - the table of delivery keys (journal/dedupe.c, spec 8.3),
 * without a journal: claims, busy keys, recorded answers and their
 * copies, freed keys, workflows apart, expiry and the memory bound. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal/journal.h"
#include "unit.h"

static const char *const wf_a = "wf-a", *const wf_b = "wf-b";

static JournalKeyState claim(const char *wf, long window_s, const char *key,
                             const char *run, char owner[37], JournalAnswer **a)
{
    *a = NULL;
    return journal_dedupe_claim(wf, window_s, key, strlen(key), run, owner, a);
}

static JournalAnswer *answer(int status, const char *body, const char *run)
{
    static const FlHeader h = { "X-A", "b\0c", 3 };
    FlResponse r = { .status = status, .body = body, .body_len = strlen(body),
                     .content_type = "text/plain", .headers = &h, .header_count = 1 };
    return journal_answer_copy(&r, run, fl_time_now_ms());
}

static void test_claim_busy_record_replay(void)
{
    char owner[37];
    JournalAnswer *a;
    journal_dedupe_reset();
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k1", "run-1", owner, &a), JOURNAL_KEY_NEW);
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k1", "run-2", owner, &a), JOURNAL_KEY_BUSY);
    CU_ASSERT_STRING_EQUAL(owner, "run-1");
    CU_ASSERT_EQUAL(claim(wf_b, 60, "k1", "run-3", owner, &a), JOURNAL_KEY_NEW);
    journal_dedupe_record(wf_a, "k1", 2, answer(201, "made", "run-1"));
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k1", "run-4", owner, &a), JOURNAL_KEY_ANSWERED);
    CU_ASSERT_STRING_EQUAL(owner, "run-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->resp.status, 201);
    CU_ASSERT_EQUAL(a->resp.body_len, 4);
    CU_ASSERT_NSTRING_EQUAL(a->resp.body, "made", 4);
    CU_ASSERT_STRING_EQUAL(a->resp.content_type, "text/plain");
    CU_ASSERT_EQUAL(a->resp.header_count, 1);
    CU_ASSERT_STRING_EQUAL(a->resp.headers[0].name, "X-A");
    CU_ASSERT_EQUAL(a->resp.headers[0].value_len, 3);
    CU_ASSERT_EQUAL(memcmp(a->resp.headers[0].value, "b\0c", 3), 0);
    free(a);
    journal_dedupe_reset();
}

static void test_free(void)
{
    char owner[37];
    JournalAnswer *a;
    journal_dedupe_reset();
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k", "run-1", owner, &a), JOURNAL_KEY_NEW);
    journal_dedupe_free(wf_a, "k", 1, "run-other");     /* not its owner */
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k", "run-2", owner, &a), JOURNAL_KEY_BUSY);
    journal_dedupe_free(wf_a, "k", 1, "run-1");
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k", "run-2", owner, &a), JOURNAL_KEY_NEW);
    journal_dedupe_reset();
}

static void test_window(void)
{
    char owner[37];
    JournalAnswer *a;
    journal_dedupe_reset();
    CU_ASSERT_EQUAL(claim(wf_a, 1, "k", "run-1", owner, &a), JOURNAL_KEY_NEW);
    journal_dedupe_record(wf_a, "k", 1, answer(200, "x", "run-1"));
    CU_ASSERT_EQUAL(claim(wf_a, 1, "k", "run-2", owner, &a), JOURNAL_KEY_ANSWERED);
    free(a);
    usleep(1100 * 1000);
    CU_ASSERT_EQUAL(claim(wf_a, 1, "k", "run-3", owner, &a), JOURNAL_KEY_NEW);
    journal_dedupe_reset();
}

/* Without a journal a workflow keeps 100,000 keys, the oldest forgotten
 * first; equal answers are shared, so this costs little memory. */
static void test_memory_bound(void)
{
    char owner[37], key[32];
    JournalAnswer *a;
    journal_dedupe_reset();
    for (int i = 0; i < 100001; i++) {
        snprintf(key, sizeof key, "k%d", i);
        claim(wf_a, 60, key, "run", owner, &a);
        journal_dedupe_record(wf_a, key, strlen(key), answer(200, "ok", "run"));
    }
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k100000", "r", owner, &a), JOURNAL_KEY_ANSWERED);
    free(a);
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k5", "r", owner, &a), JOURNAL_KEY_ANSWERED);
    free(a);
    CU_ASSERT_EQUAL(claim(wf_a, 60, "k0", "r", owner, &a), JOURNAL_KEY_NEW);
    journal_dedupe_reset();
}

static void test_answer_read(void)
{
    JournalAnswer *a = answer(409, "{}", "run-9");
    size_t n = journal_headers_size(&a->resp);
    unsigned char *hs = malloc(n);
    journal_headers_put(&a->resp, hs);
    JournalAnswer *b = journal_answer_read(409, "text/plain", hs, n, "{}", 2, "run-9", 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(b->resp.header_count, 1);
    CU_ASSERT_STRING_EQUAL(b->resp.headers[0].name, "X-A");
    CU_ASSERT_EQUAL(b->recorded_at, 7);
    CU_ASSERT_PTR_NULL(journal_answer_read(200, NULL, hs, n - 1, "", 0, "r", 0));
    free(b);
    free(hs);
    free(a);
}

static const UnitTest tests[] = {
    { "claim, busy, record, replay", test_claim_busy_record_replay },
    { "a freed key runs again", test_free },
    { "the window expires", test_window },
    { "100,000 keys a workflow without a journal", test_memory_bound },
    { "an answer's bytes read back", test_answer_read },
    { NULL, NULL },
};
UNIT_SUITE("dedupe", tests)
