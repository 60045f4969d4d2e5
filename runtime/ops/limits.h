/* ops/limits.h - bounded work (limits.c): --max-inflight, --max-queue.
 *
 * Runs in flight (admitted, not finished) and queued work (answered, tail
 * not finished), each bounded; see limits.c.  A run's slot state is an
 * atomic int holding one of LimSlot. */
#ifndef FLUSSO_LIMITS_H
#define FLUSSO_LIMITS_H

#include <stdatomic.h>
#include <stdbool.h>

enum { LIM_DEFAULT_INFLIGHT = 20000, LIM_DEFAULT_QUEUE = 10000 };
typedef enum { LIM_NONE, LIM_INFLIGHT, LIM_QUEUED } LimSlot;

void lim_init(long max_inflight, long max_queue);
/* Takes an in-flight slot for a new request; false (take nothing: answer
 * 503) when either bound is reached. */
bool lim_reserve(void);
/* Gives back a slot lim_reserve() took that no run holds. */
void lim_unreserve(void);
/* The run holding *slot was answered: its slot counts as queued work. */
void lim_answered(atomic_int *slot);
/* The run holding *slot ended or was discarded: its slot goes. */
void lim_release(atomic_int *slot);
long lim_inflight(void);
long lim_queued(void);
long lim_max_inflight(void);
long lim_max_queue(void);

#endif
