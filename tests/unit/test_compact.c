/* test_compact.c - what a run keeps while it waits in a delay (runtime/run/compact.c):
 * the listed fields and nothing else, copied out of the run's arena into
 * a block of exactly the size compact_size() says. */
#include <stdlib.h>
#include <string.h>

#include "run/compact.h"
#include "unit.h"

enum { STEPS = 4 };

/* The copy of outputs (JSON texts by step, NULL: no output) that step
 * keeps, made in a block of exactly compact_size() bytes (*block, to free)
 * after the originals' arena is gone: ASan finds any byte borrowed from
 * it, or written past the block. */
static const FlValue **kept(const FlStepInfo *step, const char *const json[STEPS],
                            void **block)
{
    FlArena a;
    const FlValue *outputs[STEPS] = { NULL };
    fl_arena_init(&a, NULL, 0);
    for (int i = 0; i < STEPS; i++)
        if (json[i]) {
            outputs[i] = fl_json_parse(&a, json[i], strlen(json[i]));
            CU_ASSERT_PTR_NOT_NULL_FATAL(outputs[i]);
        }
    size_t size = compact_size(step, outputs, STEPS);
    *block = malloc(size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*block);
    const FlValue **table = compact_copy(step, outputs, STEPS, *block);
    fl_arena_destroy(&a);
    return table;
}

/* The compact JSON of v, or "absent" for a missing output. */
static const char *json_of(FlArena *a, const FlValue *v)
{
    return v ? fl_json_text(a, v)->u.s : "absent";
}

static const char *const trigger_and_set[STEPS] = {
    "{\"headers\":{\"x-sig\":\"abc\",\"host\":\"h\"},"
    "\"body\":{\"id\":\"evt_1\",\"amount\":4200,\"items\":[1,{\"a\":2}],\"id\":\"dup\"},"
    "\"raw_body\":\"long text\"}",
    "{\"result\":true}",
    NULL,
    "{\"total\":3,\"note\":\"n\"}",
};

static void test_fields_only(void)
{
    static const FlKeep body[] = {
        { 0, "id", 2, NULL, 0 }, { 0, "missing", 7, NULL, 0 },
        { 0, "items", 5, NULL, 0 },
    };
    static const FlKeep trigger[] = { { 0, "body", 4, body, 3 } };
    static const FlKeep top[] = { { 0, NULL, 0, trigger, 1 }, { 3, NULL, 0, NULL, 0 } };
    static const FlKeepList list = { top, 2 };
    const FlStepInfo step = { .key = "pause", .type = FL_STEP_DELAY, .path = "p",
                              .fn = NULL, .on_error_continue = false, .keep = &list };
    FlArena a;
    void *block;
    const FlValue **out = kept(&step, trigger_and_set, &block);
    fl_arena_init(&a, NULL, 0);
    /* the first "id" (as fl_get_field reads it), the array whole, no
     * "missing"; the headers and the raw body dropped */
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[0]),
                           "{\"body\":{\"id\":\"evt_1\",\"items\":[1,{\"a\":2}]}}");
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[1]), "absent");   /* not read */
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[2]), "absent");   /* never ran */
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[3]), "{\"total\":3,\"note\":\"n\"}");
    fl_arena_destroy(&a);
    free(block);
}

/* A field kept of something that is no object keeps all of it: a read
 * of the field is null either way, and so it stays the same. */
static void test_field_of_non_object(void)
{
    static const char *const outputs[STEPS] = { "[1,2]", "\"text\"", NULL, NULL };
    static const FlKeep sub[] = { { 0, "x", 1, NULL, 0 } };
    static const FlKeep top[] = { { 0, NULL, 0, sub, 1 }, { 1, NULL, 0, sub, 1 } };
    static const FlKeepList list = { top, 2 };
    const FlStepInfo step = { .key = "pause", .type = FL_STEP_DELAY, .path = "p",
                              .fn = NULL, .on_error_continue = false, .keep = &list };
    FlArena a;
    void *block;
    const FlValue **out = kept(&step, outputs, &block);
    fl_arena_init(&a, NULL, 0);
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[0]), "[1,2]");
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[1]), "\"text\"");
    fl_arena_destroy(&a);
    free(block);
}

/* Without flussoc's list (a hand-written program) every output is kept
 * whole; with an empty one, none. */
static void test_unknown_and_empty(void)
{
    static const FlKeepList none = { NULL, 0 };
    const FlStepInfo unknown = { .key = "pause", .type = FL_STEP_DELAY, .path = "p",
                                 .fn = NULL, .on_error_continue = false, .keep = NULL };
    const FlStepInfo nothing = { .key = "pause", .type = FL_STEP_DELAY, .path = "p",
                                 .fn = NULL, .on_error_continue = false, .keep = &none };
    FlArena a;
    void *block;
    const FlValue **out = kept(&unknown, trigger_and_set, &block);
    fl_arena_init(&a, NULL, 0);
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[0]), json_of(&a, fl_json_parse(&a,
                           trigger_and_set[0], strlen(trigger_and_set[0]))));
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[1]), "{\"result\":true}");
    CU_ASSERT_STRING_EQUAL(json_of(&a, out[2]), "absent");
    free(block);
    out = kept(&nothing, trigger_and_set, &block);
    for (int i = 0; i < STEPS; i++)
        CU_ASSERT_PTR_NULL(out[i]);
    fl_arena_destroy(&a);
    free(block);
}

/* Strings come out with a NUL after them, as the runtime's own copies do,
 * also those that had none (a slice of the raw body). */
static void test_strings_end_in_nul(void)
{
    static const FlKeep top[] = { { 0, NULL, 0, NULL, 0 } };
    static const FlKeepList list = { top, 1 };
    const FlStepInfo step = { .key = "pause", .type = FL_STEP_DELAY, .path = "p",
                              .fn = NULL, .on_error_continue = false, .keep = &list };
    FlArena a;
    fl_arena_init(&a, NULL, 0);
    const FlValue *outputs[STEPS] = { fl_string_ref(&a, "abcdef", 3) };
    size_t size = compact_size(&step, outputs, STEPS);
    void *block = malloc(size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(block);
    const FlValue **out = compact_copy(&step, outputs, STEPS, block);
    CU_ASSERT_EQUAL(out[0]->len, 3);
    CU_ASSERT_STRING_EQUAL(out[0]->u.s, "abc");
    CU_ASSERT_PTR_NOT_EQUAL(out[0]->u.s, outputs[0]->u.s);
    fl_arena_destroy(&a);
    free(block);
}

static const UnitTest tests[] = {
    {"fields_only", test_fields_only},
    {"field_of_non_object", test_field_of_non_object},
    {"unknown_and_empty", test_unknown_and_empty},
    {"strings_end_in_nul", test_strings_end_in_nul},
    {NULL, NULL},
};
UNIT_SUITE("keep", tests)
