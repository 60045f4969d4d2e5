/* run/run.h - the run engine's contract: what starts a run, and how it
 * answers.
 *
 * The engine knows nothing of HTTP.  A caller (the HTTP server, a test,
 * `flussoc test` later) makes a run, fills its arena with the request,
 * and starts it with a RunCaller: a small connection interface through
 * which the engine hands over its one answer as plain data (RunAnswer)
 * and says when the caller must wait.  The server turns answers into
 * libmicrohttpd responses; tests capture them.
 *
 * Who owns a run: it is reference-counted.  The caller's reference comes
 * with run_new() and goes with run_release(); run_start() gives the run's
 * execution a reference of its own until it finishes (or is abandoned at
 * shutdown), and an armed 504 deadline holds one until it fires or is
 * cancelled.  So a run may outlive its caller (the tail after the answer),
 * and a caller its run, without either freeing what the other uses.
 *
 * run/ is the engine and what runs need: the step helpers, run memory,
 * compact runs, the scheduler, recovery.  It may include value/, ops/
 * (log, metrics, limits) and journal/; it never includes http/. */
#ifndef FLUSSO_RUN_H
#define FLUSSO_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "flusso.h"

/* A run's one answer, as plain data: resp's status, content type, headers
 * and body, and the run id the server sends as X-Flusso-Run-Id (NULL:
 * none).  Everything is borrowed for the duration of RunCallerOps.answer:
 * a caller that keeps any of it copies it (body_static bodies excepted). */
typedef struct {
    FlResponse resp;
    const char *run_id;
} RunAnswer;

typedef struct RunCaller RunCaller;

typedef struct {
    /* Takes the run's answer, once.  own_thread: called from inside the
     * caller's own run_start() (the answer is due when it returns true);
     * otherwise from any thread, at any time after suspend(). */
    void (*answer)(RunCaller *caller, const RunAnswer *answer, bool own_thread);
    /* The run must wait before it answers: called inside run_start(), on
     * the caller's thread, before any other thread may answer. */
    void (*suspend)(RunCaller *caller);
} RunCallerOps;

/* Embedded by the caller (container_of finds its own state). */
struct RunCaller {
    const RunCallerOps *ops;
};

/* A new run of wf, not started, holding the caller's reference.  Its
 * arena (fl_run_arena) takes the request body while it arrives.
 * admitted: the run takes over the in-flight slot lim_reserve() gave its
 * request, and gives it back when it ends or is released unstarted. */
FlRun *run_new(const FlWorkflow *wf, bool admitted);

/* Takes the trace of a request's `traceparent` header (borrowed; NULL or
 * malformed: the run starts a trace of its own).  Before run_start(). */
void run_set_traceparent(FlRun *run, const char *header);
/* Starts the run: trigger (in the run's arena) becomes step 0's output,
 * the run gets its id, and it runs on this thread until its caller is
 * answered or it must wait.  received_ms is when the body completed on
 * clock_ms()'s clock (the 504 deadline counts from it), received_unix_ms
 * the same moment on the wall clock (run.started_at).  Returns true when
 * the answer was given on this thread (caller->ops->answer with
 * own_thread); false when caller->ops->suspend was called and the answer
 * comes later from some thread (it may have come already).  caller may be
 * NULL (no one waits). */
bool run_start(FlRun *run, const FlValue *trigger, int64_t received_ms,
               int64_t received_unix_ms, RunCaller *caller);

/* Answers the caller {"error": message, "run_id": ...} with status unless
 * it was answered already (503 adds Retry-After); true when this call
 * answered.  Any thread, e.g. shutdown's 503. */
bool run_answer_error(FlRun *run, int status, const char *message);

/* ---- duplicate deliveries (spec 8.3) ------------------------------------ */

/* The most bytes a dedupe key may have; a longer one is refused (400). */
enum { RUN_KEY_MAX = 1024 };

typedef enum {
    RUN_KEY_NONE,      /* no dedupe, or a null or empty key: start the run */
    RUN_KEY_CLAIMED,   /* the key is this run's: start it */
    RUN_KEY_ANSWERED,  /* a duplicate: replay out->answer, no run */
    RUN_KEY_BUSY,      /* its first delivery has not answered yet: 409 */
    RUN_KEY_BAD        /* the key is unusable (out->error): 400 */
} RunKeyCheck;

typedef struct {
    RunAnswer answer;          /* RUN_KEY_ANSWERED: the recorded answer,
                                  its run_id the original run */
    char run_id[37];           /* ANSWERED, BUSY: the original run */
    const char *error;         /* RUN_KEY_BAD: why (static text) */
    void *block;               /* what run_key_done() frees */
} RunKeyOutcome;

/* Before run_start(), after verify and body parsing: the workflow's
 * dedupe key of trigger (which becomes the run's trigger output), claimed
 * for the run - whose id is made here - unless another run holds it. */
RunKeyCheck run_check_key(FlRun *run, const FlValue *trigger, RunKeyOutcome *out);
/* Frees what an outcome holds. */
void run_key_done(RunKeyOutcome *out);

void run_retain(FlRun *run);
/* Drops a reference; the last one frees the run (and gives back an
 * admission slot a run never started still holds). */
void run_release(FlRun *run);

/* Started runs not yet finished. */
long run_inflight(void);

/* ---- runs the journal kept (recover.c) ---------------------------------- */

struct JournalSaved;
/* Rebuilds an acknowledged run the journal kept: its outputs, id, attempt
 * and position, its caller answered already.  It holds only its
 * execution's reference.  NULL when its saved bytes do not decode. */
FlRun *run_restore(const FlWorkflow *wf, const struct JournalSaved *saved);
/* Starts a rebuilt run: at its next step, or in its delay for what is
 * left of it; with discard, drops it instead (the server never started). */
void run_restart(FlRun *run, bool discard);

#endif
