/* value/value.h - the value layer's own side: what the rest of the
 * runtime shares below flusso.h.
 *
 * value/ owns the JSON value model and everything made of values: the
 * per-run arena (alloc.c), values and their constructors (value.c), JSON
 * (json.c), text (text.c), numbers (number.c), operators and conditions
 * (operators.c), built-in functions (builtins.c), crypto (crypto.c) and time
 * (time.c) - section 1 of flusso.h - and, for the whole runtime, the
 * out-of-memory policy (alloc.c) and the clocks (clock.c).  It is the bottom of the runtime: it includes
 * only flusso.h, and every other folder may include it. */
#ifndef FLUSSO_VALUE_H
#define FLUSSO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flusso.h"

/* Prints "flusso: out of memory" and aborts (the arena's policy). */
void rt_oom(void);
static inline void *rt_check(void *p)
{
    if (!p)
        rt_oom();
    return p;
}

/* Whether a Content-Type value names JSON: application/json or any
 * type/subtype ending in +json, case-insensitive, parameters ignored
 * (json.c). */
bool json_media_type(const char *content_type);

/* ---- clocks (clock.c) ---------------------------------------------------
 *
 * fl_time_now_ms() (flusso.h) is the wall clock in milliseconds. */

/* Milliseconds on the monotonic clock: timers, deadlines, durations. */
int64_t clock_ms(void);
/* Microseconds on the monotonic clock: step latencies. */
int64_t clock_us(void);
/* Milliseconds on the coarse monotonic clock: it ticks every few
 * milliseconds, plenty for deadlines of seconds, and costs less to read. */
int64_t clock_coarse_ms(void);
struct timespec;
/* The wall-clock time us microseconds from now: a deadline for
 * pthread_cond_timedwait() on a condition variable of the default clock. */
void clock_realtime_in(struct timespec *ts, long us);
/* Sleeps ms milliseconds (polling loops: shutdown, the journal, tests). */
void clock_sleep_ms(long ms);

#endif
