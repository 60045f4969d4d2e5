/* test_reshape.c - a saved run on a changed workflow (runtime/run/reshape.c,
 * spec 8.4): outputs moved by step key, and the rule for resuming. */
#include <string.h>

#include "run/reshape.h"
#include "unit.h"

static int step_fn(FlRun *run)
{
    (void)run;
    return FL_NEXT_END;
}

/* The old version: trigger, prep, wait, record (record reads prep). */
static const char *const old_keys[] = { "trigger", "prep", "wait", "record" };

/* The new version inserts `note` first and `lookup` before record, which
 * reads it; a resume at lookup needs prep, at record prep and lookup. */
static const int lookup_needs[] = { 2 };
static const int record_needs[] = { 2, 4 };
static const FlStepInfo new_steps[] = {
    { .key = "trigger", .type = FL_STEP_TRIGGER },
    { .key = "note", .type = FL_STEP_LOG, .fn = step_fn },
    { .key = "prep", .type = FL_STEP_SET, .fn = step_fn },
    { .key = "wait", .type = FL_STEP_DELAY, .fn = step_fn,
      .needs = lookup_needs, .need_count = 1 },
    { .key = "lookup", .type = FL_STEP_SET, .fn = step_fn,
      .needs = lookup_needs, .need_count = 1 },
    { .key = "record", .type = FL_STEP_LOG, .fn = step_fn,
      .needs = record_needs, .need_count = 2 },
};
static const FlWorkflow new_wf = { .name = "changed", .steps = new_steps,
                                   .step_count = 6, .shape = 42 };

/* The new version without lookup: record reads prep only. */
static const int prep_only[] = { 2 };
static const FlStepInfo plain_steps[] = {
    { .key = "trigger", .type = FL_STEP_TRIGGER },
    { .key = "note", .type = FL_STEP_LOG, .fn = step_fn },
    { .key = "prep", .type = FL_STEP_SET, .fn = step_fn },
    { .key = "wait", .type = FL_STEP_DELAY, .fn = step_fn,
      .needs = prep_only, .need_count = 1 },
    { .key = "record", .type = FL_STEP_LOG, .fn = step_fn,
      .needs = prep_only, .need_count = 1 },
};
static const FlWorkflow plain_wf = { .name = "changed", .steps = plain_steps,
                                     .step_count = 5, .shape = 43 };

static const FlValue trigger_v = FL_STRING_LIT("t"), prep_v = FL_STRING_LIT("p"),
                     wait_v = FL_STRING_LIT("w");
/* A run that waited in `wait`: trigger, prep and wait ran. */
static const FlValue *const old_outputs[] = { &trigger_v, &prep_v, &wait_v, NULL };

static void test_keys_split(void)
{
    char keys[] = "trigger\nprep\nwait\nrecord";
    const char *out[4];
    CU_ASSERT_EQUAL(reshape_keys(keys, out, 4), 4);
    CU_ASSERT_STRING_EQUAL(out[0], "trigger");
    CU_ASSERT_STRING_EQUAL(out[3], "record");
    char more[] = "a\nb\nc";
    CU_ASSERT_EQUAL(reshape_keys(more, out, 2), -1);
}

static void test_inserted_step_resumes_by_key(void)
{
    const FlValue *out[5];
    char reason[256] = "";
    int next = -9;
    reshape_outputs(&plain_wf, old_keys, 4, old_outputs, out);
    CU_ASSERT_PTR_EQUAL(out[0], &trigger_v);
    CU_ASSERT_PTR_NULL(out[1]);                     /* note: new, never ran */
    CU_ASSERT_PTR_EQUAL(out[2], &prep_v);
    CU_ASSERT_PTR_EQUAL(out[3], &wait_v);
    CU_ASSERT_PTR_NULL(out[4]);
    CU_ASSERT_EQUAL(reshape_resume_at(&plain_wf, "record", out, &next, reason,
                                      sizeof reason), 0);
    CU_ASSERT_EQUAL(next, 4);
    CU_ASSERT_EQUAL(reshape_resume_at(&plain_wf, "", out, &next, reason,
                                      sizeof reason), 0);
    CU_ASSERT_EQUAL(next, FL_NEXT_END);
}

static void test_missing_read_strands(void)
{
    const FlValue *out[6];
    char reason[256] = "";
    int next = -9;
    reshape_outputs(&new_wf, old_keys, 4, old_outputs, out);
    CU_ASSERT_EQUAL(reshape_resume_at(&new_wf, "record", out, &next, reason,
                                      sizeof reason), -1);
    CU_ASSERT_EQUAL(next, -9);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "step 'record'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "'lookup'"));
    CU_ASSERT_PTR_NULL(strstr(reason, "'prep'"));   /* that one is there */
    /* resumed earlier, at lookup itself: what it needs is there */
    CU_ASSERT_EQUAL(reshape_resume_at(&new_wf, "lookup", out, &next, reason,
                                      sizeof reason), 0);
    CU_ASSERT_EQUAL(next, 4);
}

static void test_missing_resume_key_strands(void)
{
    const FlValue *out[6];
    char reason[256] = "";
    int next = -9;
    reshape_outputs(&new_wf, old_keys, 4, old_outputs, out);
    CU_ASSERT_EQUAL(reshape_resume_at(&new_wf, "gone", out, &next, reason,
                                      sizeof reason), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "no step 'gone'"));
    CU_ASSERT_EQUAL(reshape_resume_at(&new_wf, "trigger", out, &next, reason,
                                      sizeof reason), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "trigger"));
    CU_ASSERT_EQUAL(next, -9);
}

static void test_renamed_trigger_and_dropped_step(void)
{
    static const char *const keys[] = { "hook", "prep", "gone", "record" };
    const FlValue *out[6];
    reshape_outputs(&new_wf, keys, 4, old_outputs, out);
    CU_ASSERT_PTR_EQUAL(out[0], &trigger_v);        /* one trigger per run */
    CU_ASSERT_PTR_EQUAL(out[2], &prep_v);
    CU_ASSERT_PTR_NULL(out[3]);                     /* `gone`'s output is dropped */
}

static const UnitTest tests[] = {
    {"keys_split", test_keys_split},
    {"inserted_step_resumes_by_key", test_inserted_step_resumes_by_key},
    {"missing_read_strands", test_missing_read_strands},
    {"missing_resume_key_strands", test_missing_resume_key_strands},
    {"renamed_trigger_and_dropped_step", test_renamed_trigger_and_dropped_step},
    {NULL, NULL},
};
UNIT_SUITE("reshape", tests)
