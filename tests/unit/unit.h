/* unit.h - how a test file joins the one CUnit binary.
 *
 * Each tests/unit/test_*.c file ends with
 *
 *     static const UnitTest tests[] = { {"name", fn}, ..., {NULL, NULL} };
 *     UNIT_SUITE("lexer", tests)
 *
 * and main.c runs every suite so declared: no list to keep in sync. */
#ifndef FLUSSOC_UNIT_H
#define FLUSSOC_UNIT_H

#include <CUnit/CUnit.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} UnitTest;

void unit_register(const char *suite, const UnitTest *tests);

#define UNIT_SUITE(suite, tests)                                          \
    __attribute__((constructor)) static void unit_register_suite(void)    \
    {                                                                     \
        unit_register(suite, tests);                                      \
    }

#endif
