/* limits.c - bounded work: --max-inflight and --max-queue.
 *
 * Two counters, both plain atomics (no lock on the hot path):
 *
 *   in flight  runs admitted and not finished - from the moment a request
 *              is routed to a workflow (before its body is read) until
 *              the run's execution ends, asynchronous tail included;
 *   queued     the part of those already answered: acknowledged work
 *              whose tail has not finished yet.
 *
 * A request is admitted only while both are under their bound, and the
 * admission reserves its slot in the same atomic step (a compare-and-swap
 * loop), so --max-inflight is never exceeded however many server threads
 * race.  An admitted run is never dropped for being over a bound: the
 * bounds only turn new requests away (503) before anything of them is
 * accepted.
 *
 * Each run carries its slot's state (LIM_NONE, LIM_INFLIGHT, LIM_QUEUED)
 * in an atomic int, moved by exactly one caller per transition, so a 504
 * on the timer thread and the run ending on a worker cannot count twice. */
#include "ops/limits.h"

#include <stdatomic.h>

/* Every request writes the counters from some thread: they get a cache
 * line of their own, so that no read-mostly global the linker happens to
 * place beside them (the log level, say) bounces along. */
static struct {
    _Alignas(64) atomic_long inflight;
    atomic_long queued;
    long max_inflight, max_queue;
    char pad[64 - 2 * sizeof(atomic_long) - 2 * sizeof(long)];
} lim = { .max_inflight = LIM_DEFAULT_INFLIGHT, .max_queue = LIM_DEFAULT_QUEUE };

void lim_init(long max_inflight, long max_queue)
{
    lim.max_inflight = max_inflight;
    lim.max_queue = max_queue;
}

bool lim_reserve(void)
{
    if (atomic_load_explicit(&lim.queued, memory_order_relaxed) >= lim.max_queue)
        return false;
    long n = atomic_load_explicit(&lim.inflight, memory_order_relaxed);
    do {
        if (n >= lim.max_inflight)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&lim.inflight, &n, n + 1,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

void lim_unreserve(void)
{
    atomic_fetch_sub_explicit(&lim.inflight, 1, memory_order_relaxed);
}

void lim_answered(atomic_int *slot)
{
    int expected = LIM_INFLIGHT;
    if (atomic_compare_exchange_strong(slot, &expected, LIM_QUEUED))
        atomic_fetch_add_explicit(&lim.queued, 1, memory_order_relaxed);
}

void lim_release(atomic_int *slot)
{
    int was = atomic_exchange(slot, LIM_NONE);
    if (was == LIM_QUEUED)
        atomic_fetch_sub_explicit(&lim.queued, 1, memory_order_relaxed);
    if (was != LIM_NONE)
        atomic_fetch_sub_explicit(&lim.inflight, 1, memory_order_relaxed);
}

long lim_inflight(void)
{
    return atomic_load_explicit(&lim.inflight, memory_order_relaxed);
}

long lim_queued(void)
{
    return atomic_load_explicit(&lim.queued, memory_order_relaxed);
}

long lim_max_inflight(void)
{
    return lim.max_inflight;
}

long lim_max_queue(void)
{
    return lim.max_queue;
}
