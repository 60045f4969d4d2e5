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
/* fl_step_failed() with what is known of the failed step's output: an
 * on_error continue output takes its fixed fields from the object known
 * (NULL: all null), such as an http_request's attempts. */
int run_step_failed(FlRun *run, int index, const char *message, int next,
                    const FlValue *known);
/* Spec 8.2, an http_request's or a send_email's retries.  Whether the run's acknowledgement
 * is journaled: its waits between attempts are then the run's own
 * (run_retry_later()), recorded and resumed after a restart. */
bool run_journaled(const FlRun *run);
/* The attempts step index made before it waited to try again (kept across
 * a restart), taken: 0 when it did not wait. */
int run_take_tries(FlRun *run, int index);
/* A waiting run's current step, having made `tries` attempts, runs again
 * in wait_ms: the run waits on its own timer, holding no thread, and a
 * journaled run's position (that step, the attempts, when) is recorded.
 * Called by whoever owns the run's re-entry (run_set_wait), instead of
 * run_resume(). */
void run_retry_later(FlRun *run, int64_t wait_ms, int tries);
/* Ends a waiting run that will never be re-entered (shutdown). */
void run_abandon(FlRun *run);
/* For loop.c (for_each): the run's table of loop states by step index,
 * made (all NULL) on first use, in the run's arena; the step that
 * recorded an output last (0: none since run_clear_done()); and whether
 * the run was restored into for_each loop, whose journaled output then
 * holds its finished iterations (true once).  A run in a loop body is
 * never compacted: the states are not in its core. */
void **run_loop_states(FlRun *run);
const FlWorkflow *run_workflow(const FlRun *run);
int run_last_done(const FlRun *run);
void run_clear_done(FlRun *run);
bool run_take_resume(FlRun *run, int loop);
/* (loop.c) A step of loop's body failed and loop takes the failure
 * (on_error continue): its state, and that of the loops inside it, is
 * dropped, and its function, entered next, goes on after it. */
void loop_fail(FlRun *run, int loop);
/* The run's id ("" before acceptance) and the key of its current step. */
const char *run_id_text(const FlRun *run);
const char *run_step_key(const FlRun *run);
/* The run's W3C trace id (32 hex digits; NULL before acceptance), and a
 * traceparent header value for an outbound call: the run's trace, a new
 * span id. */
const char *run_trace_id(const FlRun *run);
void run_traceparent(const FlRun *run, char out[56]);
/* A log line of the run at its current step (its id, trace id, workflow
 * and step filled in); duration_ms -1: none.  Nothing is read when level
 * is filtered out. */
void run_log(const FlRun *run, FlLogLevel level, const char *event,
             const char *msg, long long duration_ms);

#endif
