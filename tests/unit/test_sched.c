/* test_sched.c - the timer thread: timers in lanes and in the heap fire in
 * due order, a cancelled one never fires, timers armed from several
 * threads at once all fire, and one armed before the timer thread would
 * look again wakes it.
 *
 * One test starts and stops the scheduler (sched.c allows that once per
 * process).  Due times are a few tens of milliseconds ahead, armed in a
 * few microseconds, so the timer thread sees them all before the first is
 * due; waiting for them is bounded. */
#include "unit.h"

#include "run/sched.h"

#include <pthread.h>
#include <time.h>

enum { TIMERS = 300, FIRST_MS = 60, SPREAD_MS = 40 };

typedef struct {
    FlTimer timer;                /* first: the callback casts back */
    int64_t due_ms;
    bool cancelled;
} Probe;

static pthread_mutex_t fired_lock = PTHREAD_MUTEX_INITIALIZER;
static Probe *fired[TIMERS];
static int fired_count, discarded_count;

static void probe_fire(FlTimer *t, bool discard)
{
    pthread_mutex_lock(&fired_lock);
    if (discard)
        discarded_count++;
    else if (fired_count < TIMERS)
        fired[fired_count++] = (Probe *)(void *)t;
    pthread_mutex_unlock(&fired_lock);
}

static int fired_so_far(void)
{
    pthread_mutex_lock(&fired_lock);
    int n = fired_count;
    pthread_mutex_unlock(&fired_lock);
    return n;
}

/* Due times: a run in order (one lane), two interleaved runs in order
 * (two more lanes), then scrambled ones (the heap once the lanes' tails
 * are later). */
static int64_t due_of(int i, int64_t base)
{
    if (i < 100)
        return base + i * SPREAD_MS / 100;
    if (i < 200)
        return base + (i % 2 ? SPREAD_MS / 2 : 0) + (i - 100) / 10;
    return base + (int64_t)((unsigned)i * 7919u % SPREAD_MS);
}

/* ---- several threads arming at once (no lock: sched.c) ---- */

enum { ARMERS = 4, PER_ARMER = 250 };

static Probe armed_probes[ARMERS][PER_ARMER];
static int armed_fired, armed_out_of_order;
static int64_t armed_last_due;

static void armed_fire(FlTimer *t, bool discard)
{
    Probe *p = (Probe *)(void *)t;
    pthread_mutex_lock(&fired_lock);
    if (!discard) {
        armed_fired++;
        if (p->due_ms < armed_last_due)
            armed_out_of_order++;
        armed_last_due = p->due_ms;
    }
    pthread_mutex_unlock(&fired_lock);
}

static int64_t armed_base;

static void *armer(void *arg)
{
    Probe *probes = arg;
    for (int i = 0; i < PER_ARMER; i++) {
        probes[i] = (Probe){ .timer = { .fire = armed_fire, .heap_index = -1 },
                             .due_ms = armed_base + i / 10 };
        sched_at(&probes[i].timer, probes[i].due_ms);
    }
    return NULL;
}

static int armed_fired_so_far(void)
{
    pthread_mutex_lock(&fired_lock);
    int n = armed_fired;
    pthread_mutex_unlock(&fired_lock);
    return n;
}

static void check_concurrent_arming(void)
{
    pthread_t threads[ARMERS];
    armed_base = clock_ms() + FIRST_MS;
    for (int i = 0; i < ARMERS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&threads[i], NULL, armer, armed_probes[i]), 0);
    for (int i = 0; i < ARMERS; i++)
        pthread_join(threads[i], NULL);
    for (int waited = 0; armed_fired_so_far() < ARMERS * PER_ARMER && waited < 5000; waited += 10)
        clock_sleep_ms(10);
    clock_sleep_ms(SPREAD_MS);                         /* a timer fired twice would show */
    CU_ASSERT_EQUAL(armed_fired_so_far(), ARMERS * PER_ARMER);
    CU_ASSERT_EQUAL(armed_out_of_order, 0);
}

/* The timer thread sleeps until `late`; a timer due long before that must
 * wake it.  Bounded far below `late`, generously for a busy machine. */
static void check_early_timer_wakes(Probe *late)
{
    Probe soon = { .timer = { .fire = armed_fire, .heap_index = -1 } };
    sched_at(&late->timer, clock_ms() + 60000);
    clock_sleep_ms(50);                                /* it sleeps until late now */
    int before = armed_fired_so_far();
    soon.due_ms = clock_ms() + 20;
    sched_at(&soon.timer, soon.due_ms);
    for (int waited = 0; armed_fired_so_far() == before && waited < 5000; waited += 10)
        clock_sleep_ms(10);
    CU_ASSERT_EQUAL(armed_fired_so_far(), before + 1);
}

/* Timers that fired are armed again, one behind the other in a lane:
 * the one cancelled never fires, the other does, once. */
static void check_rearm(Probe *gone, Probe *again)
{
    int before = fired_so_far();
    int64_t due = clock_ms() + 30;
    gone->due_ms = again->due_ms = due;
    gone->cancelled = true;
    again->cancelled = false;
    sched_at(&gone->timer, due);
    sched_at(&again->timer, due);
    CU_ASSERT_TRUE(sched_cancel(&gone->timer));
    CU_ASSERT_FALSE(sched_cancel(&gone->timer));       /* once is enough */
    for (int waited = 0; fired_so_far() == before && waited < 5000; waited += 10)
        clock_sleep_ms(10);
    clock_sleep_ms(SPREAD_MS);
    CU_ASSERT_EQUAL(fired_so_far(), before + 1);
    CU_ASSERT_PTR_EQUAL(fired[before], again);
}

static void test_timer_order(void)
{
    static Probe probes[TIMERS];
    CU_ASSERT_EQUAL_FATAL(sched_start(1), 0);
    int64_t base = clock_ms() + FIRST_MS;
    for (int i = 0; i < TIMERS; i++) {
        probes[i] = (Probe){ .timer = { .fire = probe_fire, .heap_index = -1 },
                             .due_ms = due_of(i, base) };
        sched_at(&probes[i].timer, probes[i].due_ms);
    }
    int expected = TIMERS;
    for (int i = 0; i < TIMERS; i += 7) {        /* lanes and heap alike */
        probes[i].cancelled = sched_cancel(&probes[i].timer);
        CU_ASSERT_TRUE(probes[i].cancelled);
        expected--;
    }
    for (int waited = 0; fired_so_far() < expected && waited < 5000; waited += 10)
        clock_sleep_ms(10);
    clock_sleep_ms(SPREAD_MS);                         /* anything extra would show */
    CU_ASSERT_EQUAL(fired_so_far(), expected);
    int out_of_order = 0, cancelled_fired = 0;
    for (int i = 0; i < fired_so_far(); i++) {
        if (fired[i]->cancelled)
            cancelled_fired++;
        if (i > 0 && fired[i]->due_ms < fired[i - 1]->due_ms)
            out_of_order++;
    }
    CU_ASSERT_EQUAL(out_of_order, 0);
    CU_ASSERT_EQUAL(cancelled_fired, 0);
    CU_ASSERT_FALSE(sched_cancel(&probes[1].timer));   /* fired already */
    check_rearm(&probes[1], &probes[2]);
    expected++;

    check_concurrent_arming();

    /* armed at stop: discarded, not fired */
    Probe late = { .timer = { .fire = probe_fire, .heap_index = -1 } };
    check_early_timer_wakes(&late);
    sched_stop();
    CU_ASSERT_EQUAL(discarded_count, 1);
    CU_ASSERT_EQUAL(fired_so_far(), expected);
}

static const UnitTest tests[] = {
    {"timer_order", test_timer_order},
    {NULL, NULL},
};

UNIT_SUITE("sched", tests)
