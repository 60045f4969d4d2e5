/* test_runmem.c - run memory goes back to the cache of the thread that
 * made it, whoever frees it, to the shelf of its size class; after
 * runmem_free_all() it is plain malloc. */
#include "unit.h"

#include "run/runmem.h"

#include <pthread.h>

enum { SIZE = 2500 };

static void *put_there(void *p)
{
    runmem_put(p);
    return NULL;
}

static void *get_there(void *out)
{
    *(void **)out = runmem_get(SIZE);
    return NULL;
}

/* Runs fn(arg) on a thread of its own and waits for it. */
static void on_other_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, fn, arg), 0);
    pthread_join(t, NULL);
}

static void test_home_cache(void)
{
    void *a = runmem_get(SIZE);
    int before = runmem_cached(SIZE);
    memset(a, 0xAB, SIZE);                  /* all of it is ours */
    runmem_put(a);
    CU_ASSERT_EQUAL(runmem_cached(SIZE), before + 1);
    CU_ASSERT_PTR_EQUAL(runmem_get(SIZE), a);          /* own cache, LIFO */
    CU_ASSERT_EQUAL(runmem_cached(SIZE), before);

    on_other_thread(put_there, a);          /* freed elsewhere: comes home */
    CU_ASSERT_EQUAL(runmem_cached(SIZE), before + 1);
    CU_ASSERT_PTR_EQUAL(runmem_get(SIZE), a);

    void *theirs = NULL;                    /* made elsewhere, freed here */
    on_other_thread(get_there, &theirs);
    CU_ASSERT_PTR_NOT_NULL_FATAL(theirs);
    runmem_put(theirs);
    CU_ASSERT_EQUAL(runmem_cached(SIZE), before);   /* it went to the other cache */
    runmem_put(a);

    runmem_free_all();                      /* every cache freed (ASan) */
    void *c = runmem_get(SIZE);             /* plain malloc from here on */
    memset(c, 0xCD, SIZE);
    runmem_put(c);
}

/* Sizes of one class share blocks, other classes do not; a block larger
 * than every class is never cached. */
static void test_size_classes(void)
{
    void *small = runmem_get(650);
    int before = runmem_cached(650);
    memset(small, 0x11, 650);
    runmem_put(small);
    CU_ASSERT_EQUAL(runmem_cached(650), before + 1);
    CU_ASSERT_EQUAL(runmem_cached(700), before + 1);     /* same class */
    void *big = runmem_get(SIZE);
    CU_ASSERT_PTR_NOT_EQUAL(big, small);                 /* not too small */
    runmem_put(big);
    void *again = runmem_get(704);                       /* the class's top */
    CU_ASSERT_PTR_EQUAL(again, small);
    memset(again, 0x22, 704);
    runmem_put(again);

    int huge_before = runmem_cached(1 << 20);
    void *huge = runmem_get(1 << 20);
    memset(huge, 0x33, 1 << 20);
    runmem_put(huge);
    CU_ASSERT_EQUAL(runmem_cached(1 << 20), huge_before);
    CU_ASSERT_EQUAL(huge_before, 0);
}

static const UnitTest tests[] = {
    {"size_classes", test_size_classes},
    {"home_cache", test_home_cache},
    {NULL, NULL},
};

UNIT_SUITE("runmem", tests)
