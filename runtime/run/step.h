/* run/step.h - the engine's side for step helpers: what steps.c and
 * outbound.c call in run.c to answer, wait, fail and re-enter a run.
 * run.h is the other side, for the engine's callers. */
#ifndef FLUSSO_STEP_H
#define FLUSSO_STEP_H

#include <stdbool.h>
#include <stdint.h>
#include "flusso.h"

/* Sets the run's error message (printf-style) and returns -1. */
int run_fail(FlRun *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The helpers behind fl_respond() and fl_respond_default(): answer the
 * caller unless answered already; true when this call answered.  resp is
 * borrowed for the call; the bytes it points at (body, content type,
 * header names and values) must live as long as the run. */
bool run_answer(FlRun *run, const FlResponse *resp);
bool run_answer_default(FlRun *run);
/* Records where fl_delay() continues: step next, wait_ms from now. */
void run_set_wake(FlRun *run, int64_t wait_ms, int next);
/* Records that the current step waits for something other than a timer
 * (an outbound HTTP call): once the step's thread has let go of the run,
 * the engine calls start(arg) instead of arming the wake timer.  From then
 * on the waiter owns the run's re-entry: it calls run_resume() once, or
 * run_abandon() at shutdown. */
void run_set_wait(FlRun *run, void (*start)(void *arg), void *arg);
/* Re-enters a waiting run at step next on a worker; FL_NEXT_FAIL ends it
 * as failed (after fl_step_failed(): a 500 while the caller waits).  Any
 * thread. */
void run_resume(FlRun *run, int next);
/* Ends a waiting run that will never be re-entered (shutdown). */
void run_abandon(FlRun *run);
/* The run's id ("" before acceptance) and the key of its current step. */
const char *run_id_text(const FlRun *run);
const char *run_step_key(const FlRun *run);
/* The run's W3C trace id (32 hex digits; NULL before acceptance), and a
 * traceparent header value for an outbound call: the run's trace, a new
 * span id. */
const char *run_trace_id(const FlRun *run);
void run_traceparent(const FlRun *run, char out[56]);

#endif
