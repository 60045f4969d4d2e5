/* main.c - runs every CUnit suite declared with UNIT_SUITE.
 *
 * Usage: unit_tests [SUITE]   (only the named suite when given) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

enum { MAX_SUITES = 64 };

static struct {
    const char *name;
    const UnitTest *tests;
    int (*init)(void), (*clean)(void);
} suites[MAX_SUITES];
static int suite_count;

void unit_register(const char *suite, const UnitTest *tests,
                   int (*init)(void), int (*clean)(void))
{
    if (suite_count == MAX_SUITES) {
        fputs("unit: too many suites\n", stderr);
        abort();
    }
    suites[suite_count].name = suite;
    suites[suite_count].tests = tests;
    suites[suite_count].init = init;
    suites[suite_count].clean = clean;
    suite_count++;
}

static int add_suite(int i)
{
    CU_pSuite s = CU_add_suite(suites[i].name, suites[i].init, suites[i].clean);
    if (!s)
        return -1;
    for (const UnitTest *t = suites[i].tests; t->name; t++)
        if (!CU_add_test(s, t->name, t->fn))
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (int i = 0; i < suite_count; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;
        if (add_suite(i) < 0) {
            fprintf(stderr, "unit: %s\n", CU_get_error_msg());
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fputs("unit: no tests ran\n", stderr);
        return 1;
    }
    return failed ? 1 : 0;
}
