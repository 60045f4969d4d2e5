/* unit.h - how a test file joins the one CUnit binary.
 *
 * Each tests/unit/test_*.c file ends with
 *
 *     static const UnitTest tests[] = { {"name", fn}, ..., {NULL, NULL} };
 *     UNIT_SUITE("lexer", tests)
 *
 * (or UNIT_SUITE_WITH, naming a set-up and a tear-down) and main.c runs
 * every suite so declared: no list to keep in sync. */
#ifndef FLUSSOC_UNIT_H
#define FLUSSOC_UNIT_H

#include <CUnit/CUnit.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} UnitTest;

/* init (before the suite's first test) and clean (after its last) may
 * be NULL; each returns 0, or non-zero when it failed. */
void unit_register(const char *suite, const UnitTest *tests,
                   int (*init)(void), int (*clean)(void));

#define UNIT_SUITE(suite, tests) UNIT_SUITE_WITH(suite, tests, NULL, NULL)

/* A suite with a set-up and a tear-down (threads started and stopped). */
#define UNIT_SUITE_WITH(suite, tests, init, clean)                        \
    __attribute__((constructor)) static void unit_register_suite(void)    \
    {                                                                     \
        unit_register(suite, tests, init, clean);                         \
    }

#endif
