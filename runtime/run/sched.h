/* run/sched.h - the worker pool and the timer thread (sched.c).
 *
 * Tasks run on a fixed pool of worker threads; timers fire on one timer
 * thread.  Both are intrusive: the owner embeds them (run.c in the run).
 * `discard` is true when the scheduler stops with the item still pending:
 * the callback must then only release what the item held.  Nothing here
 * knows about runs; it includes only value/. */
#ifndef FLUSSO_SCHED_H
#define FLUSSO_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include "value/value.h"

typedef struct FlTask FlTask;
struct FlTask {
    void (*run)(FlTask *t, bool discard);
    FlTask *next;            /* private to sched.c */
};

typedef struct FlTimer FlTimer;
struct FlTimer {
    /* Runs on the timer thread: must not block (post a task instead). */
    void (*fire)(FlTimer *t, bool discard);
    /* private to sched.c: */
    int64_t due_ms;          /* clock_ms() clock */
    long heap_index;         /* -1 when not in the heap */
    int lane;                /* 1.. when put in that lane last, else 0 */
    uint64_t slot;           /* its position there */
    FlTimer *next;           /* in the stack of timers being armed */
};

/* Starts `workers` worker threads and the timer thread.  0 or -1.  It may
 * start again after sched_stop(). */
int sched_start(int workers);
/* Queues t for a worker (FIFO).  After sched_stop(): discarded at once. */
void sched_post(FlTask *t);
/* Arms t to fire at due_ms (clock_ms() clock); t must not be armed. */
void sched_at(FlTimer *t, int64_t due_ms);
/* Disarms t.  True when it was armed (so it will never fire); false when
 * it already fired or is firing. */
bool sched_cancel(FlTimer *t);
/* Tasks queued, for --max-queue and /metrics later. */
long sched_queue_depth(void);
/* Stops the threads (each finishes the tasks it took) and discards every
 * task and timer still pending. */
void sched_stop(void);
#endif
