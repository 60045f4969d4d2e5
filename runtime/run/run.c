/* run.c - the run engine: the life of a run.
 *
 * A run is a small state machine over the workflow's table of step
 * functions: advance() calls the current step, which returns the next
 * index or FL_NEXT_END / FL_NEXT_WAIT / FL_NEXT_FAIL.  It starts inline on
 * its caller's thread, so a workflow whose steps before its answer never
 * wait is answered with no hand-off at all; from the answer on (or from
 * its first wait) it goes on in worker threads, re-entered at the step
 * the waiting helper recorded.
 *
 * The engine knows nothing of HTTP: its answer is plain data (RunAnswer)
 * handed to the caller's RunCaller interface (run.h).  The caller gets
 * exactly one answer: whoever claims the run's answer state first - the
 * response step, the default 202, a failure's 500, the 504 deadline, or
 * shutdown's 503 - hands it over, once.  Where the run is in its life is
 * RunPhase, moved only through run_move() (the table below).
 *
 * Every life-cycle event passes through run_event(), the journal seam. */
#include "run/run.h"
#include "run/step.h"
#include "run/compact.h"
#include "run/runmem.h"
#include "run/sched.h"
#include "journal/journal.h"
#include "ops/limits.h"
#include "ops/log.h"
#include "ops/metrics.h"

#include <stdarg.h>
#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

/* The arena's embedded first block.  A small request's trigger output
 * takes about 1.5 KB; larger ones get more blocks (4 KB, then doubling).
 * A run in a short delay keeps all of it while it waits; a longer wait
 * moves the run into a compact copy first (run_compact()). */
enum { RUN_FIRST_BLOCK = 2 * 1024 };

/* How much of the first block run_prefetch() loads: where a re-entered
 * run's reads are (the step outputs' table, then the trigger output). */
enum { WARM_ARENA = 1024 };

/* A run about to wait this long or longer in a delay moves into a copy
 * that keeps only what its remaining steps read (run_compact()): at
 * 100,000 answers a second that is 10,000 runs or more waiting at once.
 * Shorter waits keep the run as it is: the copy would cost more than the
 * memory it saves. */
enum { COMPACT_MIN_MS = 100 };

/* Room a compact run's arena has beyond what it keeps, for the steps
 * after its delay (a log line, an output); more takes a new block. */
enum { COMPACT_SLACK = 128 };

/* ---- the life of a run ----------------------------------------------------
 *
 * Where a run is.  Only the thread holding the run's execution at the
 * time moves it (hand-offs - a posted task, a timer, the journal's
 * callback - order the moves), and only through run_move(), which checks
 * each move against run_moves[]:
 *
 *   from      to        when
 *   NEW       INLINE    run_start(): it runs on its caller's thread
 *   NEW       READY     run_restore(): rebuilt from the journal
 *   INLINE    WAITING   a step returned FL_NEXT_WAIT before the answer,
 *                       or after it into a delay (armed on this thread)
 *   INLINE    HOLDING   its acknowledgement waits for the journal's commit
 *   INLINE    READY     answered: the tail goes to a worker
 *   INLINE    ENDED     it ended on its caller's thread
 *   READY     RUNNING   a worker enters it at its next step
 *   READY     ENDED     dropped before it ran (shutdown, recovery undone)
 *   RUNNING   WAITING, HOLDING, ENDED   as from INLINE
 *   WAITING   RUNNING   what it waited for is over (timer, outbound call)
 *   WAITING   ENDED     abandoned at shutdown
 *   HOLDING   WAITING   the commit is durable; it goes on into its wait
 *   HOLDING   READY     the commit is durable; a worker goes on
 *   HOLDING   ENDED     the commit failed: its caller got 503
 *
 * A step that waited is closed (its latency measured) when the run leaves
 * WAITING.  The answer has a state of its own (RunAnswerState, below): the
 * only part of a run other threads race for. */
typedef enum {
    RUN_NEW,         /* made; the request body arrives into its arena */
    RUN_INLINE,      /* started: running on its caller's thread */
    RUN_READY,       /* to be entered at core.next by a worker */
    RUN_RUNNING,     /* a worker runs its steps */
    RUN_WAITING,     /* a step returned FL_NEXT_WAIT: re-entered at
                        core.next once what it waits for completes */
    RUN_HOLDING,     /* stopped after an acknowledgement until the journal
                        has committed it (held_rc: where it goes on) */
    RUN_ENDED,       /* finished, failed or abandoned: only references */
    RUN_PHASES
} RunPhase;

#define TO(p) (1u << (p))
static const unsigned run_moves[RUN_PHASES] = {
    [RUN_NEW]     = TO(RUN_INLINE) | TO(RUN_READY),
    [RUN_INLINE]  = TO(RUN_WAITING) | TO(RUN_HOLDING) | TO(RUN_READY) | TO(RUN_ENDED),
    [RUN_READY]   = TO(RUN_RUNNING) | TO(RUN_ENDED),
    [RUN_RUNNING] = TO(RUN_WAITING) | TO(RUN_HOLDING) | TO(RUN_ENDED),
    [RUN_WAITING] = TO(RUN_RUNNING) | TO(RUN_ENDED),
    [RUN_HOLDING] = TO(RUN_WAITING) | TO(RUN_READY) | TO(RUN_ENDED),
    [RUN_ENDED]   = 0,
};
#undef TO

/* Whether the caller is answered: one atomic int, moved only by
 * compare-and-swap, since the run, the 504 timer and shutdown's 503 race
 * for it.  Exactly one claim succeeds, and only the claimant touches the
 * caller (run->caller), once.
 *
 *   OPEN  -> TIMED     run_park(): the caller waits suspended and the 504
 *                      deadline is armed (the run's thread)
 *   OPEN  -> ANSWERED  the run answers before it ever waited unanswered
 *                      (its own thread)
 *   OPEN  -> LATE      another thread answers first (shutdown's 503)
 *   TIMED -> LATE      whoever answers first: the run, the 504, the 503
 *
 * LATE: the deadline may be armed (the claimant cancels it), and the
 * claimant may be another thread still handing over the answer - such a
 * run is never compacted.  A run restored from the journal is ANSWERED. */
typedef enum {
    ANSWER_OPEN,     /* the caller waits; no deadline armed */
    ANSWER_TIMED,    /* the caller waits; the 504 deadline holds a reference */
    ANSWER_ANSWERED, /* answered by the run itself, never timed */
    ANSWER_LATE      /* answered after the deadline was armed, or by
                        another thread */
} RunAnswerState;

/* What the journal has of a run; it only grows: NONE -> STARTED -> ACKED,
 * or NONE -> ACKED. */
typedef enum {
    JP_NONE,         /* nothing */
    JP_STARTED,      /* noted while it waits for its answer */
    JP_ACKED         /* its acknowledgement is durable: steps recorded */
} JournalPhase;

/* What a run is, apart from its memory and its links to other threads:
 * what a compact copy keeps (run_compact() copies it whole).  Every other
 * field of FlRun is made afresh by run_init(), for a new run and a
 * compact one alike. */
typedef struct {
    const FlWorkflow *wf;
    RunPhase phase;
    int next;                   /* where the run (re-)enters */
    int current;                /* the step running, or last run */
    int64_t received_ms;        /* clock_ms() when the body completed */
    int64_t started_ms;
    int64_t wake_ms;            /* fl_delay: when to re-enter */
    int64_t wait_ms;            /* ... and how long from then */
    int64_t step_started_us;    /* when the current step began (metrics) */
    JournalPhase jphase;
    int jstep;                  /* a step output not journaled yet; 0: none */
    int done;                   /* the step that recorded an output last;
                                   0: none since the iteration began */
    int resume_loop;            /* restored into this for_each: its journaled
                                   output holds the finished iterations */
    int attempt;                /* run.attempt */
    int tries, tries_at;        /* attempts step tries_at has made while it
                                   waits to try again (8.2); 0: none */
    struct RunKey *key;         /* 8.3: the dedupe key it claimed; NULL */
    char id[37];
    char started_at[25];
    char trace_id[33];          /* W3C trace context: the caller's, or new */
    char trace_flags[3];
} RunCore;

struct FlRun {
    FlArena arena;
    RunCore core;
    const FlValue **outputs;    /* by step index; NULL: has not run */
    atomic_int refs;
    atomic_int answer;          /* a RunAnswerState */
    RunCaller *caller;          /* until the claimant takes it */
    const char *error;          /* a helper's failure message (arena) */
    void (*wait_start)(void *); /* run_set_wait: hands the wait on */
    void *wait_arg;
    atomic_int slot;            /* admission (limits.c): a LimSlot */
    FlTask task;                /* re-entry on a worker */
    FlTimer wake;               /* fl_delay */
    FlTimer deadline;           /* the 504 */
    FlValue id_v, started_v, workflow_v, attempt_v;   /* from core */
    RunAnswer *held;            /* an acknowledgement waiting for its
                                   commit (in the arena); NULL: none */
    int held_rc;                /* where the run goes on once committed */
    void **loops;               /* loop.c's state of each running for_each,
                                   by step index; NULL until the first */
    bool held_late;             /* held only to be recorded with its key
                                   (8.3: answered after a 504) */
    _Alignas(8) char first[];   /* the arena's first block: RUN_FIRST_BLOCK
                                   bytes, or a compact run's */
};

typedef enum {
    EV_ACCEPTED,     /* the trigger output is final */
    EV_WAITING,      /* it waits before its answer */
    EV_ANSWERED,     /* the answer is about to leave */
    EV_STEP_DONE,    /* a step's output is recorded */
    EV_FINISHED,     /* the run ended normally */
    EV_FAILED,       /* a step failed with on_error fail */
    EV_ABANDONED     /* shutdown dropped the run mid-way */
} RunEvent;

static atomic_long inflight;

static void run_task(FlTask *t, bool discard);
static void key_free(FlRun *run);
static void key_end(FlRun *run);
static bool key_pending(const FlRun *run);
static void key_record(FlRun *run, const FlResponse *resp);
static void key_committed(FlRun *run, bool durable);
static void run_park(FlRun *run);
static bool waits_long(const FlRun *run);
static FlRun *run_compact(FlRun *old);
static void wake_fire(FlTimer *t, bool discard);
static void deadline_fire(FlTimer *t, bool discard);
static void journal_event(FlRun *run, RunEvent ev, int arg);
static void journal_progress(FlRun *run, int next, int64_t wake_ms);
static bool must_commit(FlRun *run, int rc);
static void commit(FlRun *run);

/* Moves run to phase to; a move not in run_moves[] is our bug. */
static void run_move(FlRun *run, RunPhase to)
{
    assert(run_moves[run->core.phase] & (1u << to));
    run->core.phase = to;
}

/* ---- the journal seam --------------------------------------------------- */

/* Logs a run's event; with_step names the current step (only the thread
 * running the run may ask: others would race with it). */
static void event_log(const FlRun *run, FlLogLevel level, const char *event,
                      bool with_step, const char *msg, long long duration_ms)
{
    if (!log_enabled(level))
        return;
    const RunCore *k = &run->core;
    LogLine l = {
        .run_id = k->id, .trace_id = k->trace_id, .workflow = k->wf->name,
        .step = with_step && k->current > 0 ? k->wf->steps[k->current].key : NULL,
        .event = event, .message = msg, .message_len = msg ? strlen(msg) : 0,
        .duration_ms = duration_ms,
    };
    log_write(level, &l);
}

void run_log(const FlRun *run, FlLogLevel level, const char *event,
             const char *msg, long long duration_ms)
{
    event_log(run, level, event, true, msg, duration_ms);
}

/* Every life-cycle event of a run passes here, in the order it happens to
 * that run; it logs (at debug level except failures and abandons) and
 * tells the journal (spec 7, journal_event() below):
 *   EV_ACCEPTED   nothing yet: a run answered at once costs one write;
 *   EV_WAITING    the run waits unanswered: noted, so that a crash now
 *                 leaves it to be marked abandoned;
 *   EV_ANSWERED   the answer leaves - with a journal, only once the run's
 *                 acknowledgement is durable (commit() below);
 *   EV_STEP_DONE  step `arg` has its output: journaled with the run's
 *                 position as soon as that is known;
 *   EV_FINISHED   the run ends: deleted from the journal;
 *   EV_FAILED     it failed: kept in the journal once acknowledged (8.1);
 *   EV_ABANDONED  shutdown (arg 0) or a failed commit (arg 1) dropped it:
 *                 an acknowledged run stays in the journal and resumes. */
static long long run_age_ms(const FlRun *run)
{
    return clock_ms() - run->core.started_ms;
}

static void run_event(FlRun *run, RunEvent ev, int arg)
{
    char msg[32];
    switch (ev) {
    case EV_ACCEPTED:
        event_log(run, FL_LOG_DEBUG, "started", false, NULL, -1);
        break;
    case EV_WAITING:
        break;
    case EV_ANSWERED:
        if (log_enabled(FL_LOG_DEBUG)) {
            snprintf(msg, sizeof msg, "status %d", arg);
            event_log(run, FL_LOG_DEBUG, "answered", false, msg, run_age_ms(run));
        }
        break;
    case EV_STEP_DONE:
        break;                   /* logged as the run leaves it: step_left() */
    case EV_FINISHED:
        if (log_enabled(FL_LOG_DEBUG))   /* no clock read when filtered */
            event_log(run, FL_LOG_DEBUG, "finished", false, NULL, run_age_ms(run));
        break;
    case EV_FAILED:
        event_log(run, FL_LOG_ERROR, "failed", true, run->error, run_age_ms(run));
        break;
    case EV_ABANDONED:
        event_log(run, FL_LOG_WARN, "abandoned", true, arg ? "the journal could not "
                  "record its acknowledgement: answered 503" : "shutdown before the run "
                  "finished", run_age_ms(run));
        break;
    }
    if (journal_enabled())
        journal_event(run, ev, arg);
}

/* ---- run ids -----------------------------------------------------------------
 *
 * Version 4 UUIDs from a per-thread xoshiro256** generator seeded from
 * getrandom(): unique, and cheap on the hot path - no lock and no system
 * call per run (OpenSSL's RAND_bytes costs both).  Ids name runs; nothing
 * secret depends on them. */

static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_ready;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t out = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return out;
}

/* Seeds this thread's generator; without getrandom(), from the clock and
 * the thread's address through splitmix64. */
static void rng_seed(void)
{
    if (getrandom(rng, sizeof rng, 0) != (ssize_t)sizeof rng) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uintptr_t)&rng;
        for (int i = 0; i < 4; i++) {
            uint64_t z = (x += 0x9e3779b97f4a7c15u);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
            rng[i] = z ^ (z >> 31);
        }
    }
    rng_ready = true;
}

static void run_id_make(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    if (!rng_ready)
        rng_seed();
    uint64_t hi = rng_next(), lo = rng_next();
    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);     /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);     /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *out++ = '-';
        *out++ = hex[b[i] >> 4];
        *out++ = hex[b[i] & 15];
    }
    *out = '\0';
}

/* ---- trace context (W3C Trace Context, spec 14) -----------------------------
 *
 * A run belongs to the trace of the request's `traceparent` header, or
 * starts one: its trace id is logged on each of its lines, and every
 * outbound call carries a traceparent with that id and a new span id.
 * The ids come from the same generator as run ids.  A run resumed from
 * the journal starts a new trace (the journal does not keep it). */

/* Writes n random bytes as 2n lowercase hex digits and a NUL. */
static void hex_random(char *out, int n)
{
    static const char hex[] = "0123456789abcdef";
    if (!rng_ready)
        rng_seed();
    for (int i = 0; i < n; i += 8) {
        uint64_t r = rng_next();
        for (int j = i; j < n && j < i + 8; j++, r >>= 8) {
            *out++ = hex[(r >> 4) & 15];
            *out++ = hex[r & 15];
        }
    }
    *out = '\0';
}

/* Whether s[0..n) is lowercase hex. */
static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Whether s[0..n) is a valid id: lowercase hex, not all zero. */
static bool hex_id(const char *s, size_t n)
{
    return is_hex(s, n) && strspn(s, "0") < n;
}

/* Whether h is a traceparent this version of the format understands:
 * version-traceid-parentid-flags, "ff" never a version, and version 00
 * exactly 55 characters (a later version may append "-..."). */
static bool traceparent_ok(const char *h)
{
    size_t n = strlen(h);
    if (n < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-')
        return false;
    if (!is_hex(h, 2) || memcmp(h, "ff", 2) == 0)
        return false;
    if (memcmp(h, "00", 2) == 0 ? n != 55 : n > 55 && h[55] != '-')
        return false;
    return hex_id(h + 3, 32) && hex_id(h + 36, 16) && is_hex(h + 53, 2);
}

void run_set_traceparent(FlRun *run, const char *header)
{
    RunCore *k = &run->core;
    if (header && traceparent_ok(header)) {
        memcpy(k->trace_id, header + 3, 32);
        k->trace_id[32] = '\0';
        memcpy(k->trace_flags, header + 53, 2);
    } else {
        hex_random(k->trace_id, 16);
        memcpy(k->trace_flags, "01", 2);     /* sampled: the log records it */
    }
    k->trace_flags[2] = '\0';
}

void run_traceparent(const FlRun *run, char out[56])
{
    char span[17];
    hex_random(span, 8);
    snprintf(out, 56, "00-%s-%s-%s", run->core.trace_id, span, run->core.trace_flags);
}

const char *run_trace_id(const FlRun *run)
{
    return run->core.trace_id[0] ? run->core.trace_id : NULL;
}

/* ---- references and making runs ----------------------------------------- */

void run_retain(FlRun *run)
{
    atomic_fetch_add_explicit(&run->refs, 1, memory_order_relaxed);
}

void run_release(FlRun *run)
{
    if (atomic_fetch_sub_explicit(&run->refs, 1, memory_order_acq_rel) == 1) {
        if (atomic_load_explicit(&run->slot, memory_order_relaxed) != LIM_NONE)
            lim_release(&run->slot);         /* never started */
        if (run->core.phase == RUN_NEW)
            key_end(run);                    /* claimed, never started */
        free(run->core.key);                 /* other threads may have
                                                read it until now */
        fl_arena_destroy(&run->arena);
        runmem_put(run);
    }
}

/* Makes run, a block of runmem, a run of core with one reference, its
 * caller unanswered, nothing held or waited for, and its arena on the
 * first_size bytes from first_off of its first block.  Every field
 * outside core is set here, for run_new() and run_compact() alike. */
static void run_init(FlRun *run, const RunCore *core, size_t first_off,
                     size_t first_size)
{
    memset(run, 0, sizeof *run);
    run->core = *core;
    fl_arena_init(&run->arena, run->first + first_off, first_size);
    atomic_init(&run->refs, 1);
    atomic_init(&run->answer, ANSWER_OPEN);
    atomic_init(&run->slot, LIM_NONE);
    run->task.run = run_task;
    run->wake = (FlTimer){ .fire = wake_fire, .heap_index = -1 };
    run->deadline = (FlTimer){ .fire = deadline_fire, .heap_index = -1 };
}

/* run.id, run.started_at, run.workflow and run.attempt as values, from
 * the core (id_len and started_len: the lengths of its texts). */
static void run_values(FlRun *run, uint32_t id_len, uint32_t started_len)
{
    const RunCore *k = &run->core;
    run->id_v = (FlValue)FL_STRING_LEN_LIT(k->id, id_len);
    run->started_v = (FlValue)FL_STRING_LEN_LIT(k->started_at, started_len);
    run->workflow_v = (FlValue)FL_STRING_LEN_LIT(k->wf->name,
                                                (uint32_t)strlen(k->wf->name));
    run->attempt_v = (FlValue)FL_NUMBER_LIT(k->attempt);
}

FlRun *run_new(const FlWorkflow *wf, bool admitted)
{
    FlRun *run = runmem_get(sizeof *run + RUN_FIRST_BLOCK);
    run_init(run, &(RunCore){ .wf = wf, .phase = RUN_NEW }, 0, RUN_FIRST_BLOCK);
    if (admitted)
        atomic_store_explicit(&run->slot, LIM_INFLIGHT, memory_order_relaxed);
    return run;
}

long run_inflight(void)
{
    return atomic_load(&inflight);
}

/* A table of the workflow's outputs in the run's arena, none run yet. */
static void outputs_make(FlRun *run)
{
    size_t n = (size_t)run->core.wf->step_count;
    run->outputs = fl_arena_alloc(&run->arena, n * sizeof *run->outputs);
    memset(run->outputs, 0, n * sizeof *run->outputs);
}

/* The run is accepted: trigger is step 0's output, and its execution
 * takes a reference of its own. */
static void run_accept(FlRun *run, const FlValue *trigger, int64_t received_ms,
                       int64_t received_unix_ms, RunCaller *caller)
{
    RunCore *k = &run->core;
    if (!run->outputs)                        /* run_check_key() made them */
        outputs_make(run);
    run->outputs[0] = trigger;
    if (!k->id[0])
        run_id_make(k->id);
    if (!k->trace_id[0])
        run_set_traceparent(run, NULL);       /* the caller gave none */
    fl_time_rfc3339(k->started_at, received_unix_ms);
    k->attempt = 1;
    run_values(run, 36, 24);
    k->next = k->wf->first;
    k->received_ms = received_ms;
    k->started_ms = received_ms;
    run->caller = caller;
    run_retain(run);                          /* the execution's reference */
    atomic_fetch_add(&inflight, 1);
    run_event(run, EV_ACCEPTED, 0);
    metrics_run(k->wf, MET_STARTED, 0);
}

/* The execution ends: its reference goes. */
static void run_end(FlRun *run)
{
    key_end(run);
    run_move(run, RUN_ENDED);
    atomic_fetch_sub(&inflight, 1);
    lim_release(&run->slot);
    run_release(run);
}

/* ---- answering ---------------------------------------------------------- */

static bool is_answered(const FlRun *run)
{
    return atomic_load_explicit(&run->answer, memory_order_acquire) >= ANSWER_ANSWERED;
}

/* Claims the right to answer; true for exactly one caller per run.
 * by_run: the claimant is the thread running the run. */
static bool claim(FlRun *run, bool by_run)
{
    int s = atomic_load_explicit(&run->answer, memory_order_acquire);
    while (s == ANSWER_OPEN || s == ANSWER_TIMED) {
        int to = s == ANSWER_OPEN && by_run ? ANSWER_ANSWERED : ANSWER_LATE;
        if (atomic_compare_exchange_weak(&run->answer, &s, to))
            return true;
    }
    return false;
}

/* The claimant's half of answering: a goes to the caller (if any; a is
 * borrowed for the call), and the 504 deadline is disarmed.  own_thread:
 * we are inside the caller's run_start(). */
static void deliver(FlRun *run, const RunAnswer *a, bool own_thread)
{
    RunCaller *c = run->caller;
    run->caller = NULL;
    run_event(run, EV_ANSWERED, a->resp.status);
    lim_answered(&run->slot);
    if (atomic_load_explicit(&run->answer, memory_order_relaxed) == ANSWER_LATE
        && sched_cancel(&run->deadline))
        run_release(run);
    if (c)
        c->ops->answer(c, a, own_thread);
}

/* Whether the run answers on its caller's thread (inside run_start()). */
static bool on_caller_thread(const FlRun *run)
{
    return run->core.phase == RUN_INLINE;
}

static bool holds_answer(const FlRun *run)
{
    return run->held != NULL;
}

/* Keeps the acknowledgement resp until its commit: the struct and its
 * headers array (the step's, on its stack) are copied into the run's
 * arena; the bytes they point at live as long as the run (its arena, or
 * static: fl_respond()'s contract). */
static void hold(FlRun *run, const FlResponse *resp)
{
    RunAnswer *held = fl_arena_alloc(&run->arena, sizeof *held);
    *held = (RunAnswer){ .resp = *resp, .run_id = run->core.id };
    if (resp->header_count > 0) {
        size_t n = (size_t)resp->header_count * sizeof *resp->headers;
        FlHeader *h = fl_arena_alloc(&run->arena, n);
        memcpy(h, resp->headers, n);
        held->resp.headers = h;
    }
    run->held = held;
}

/* A webhook_response reached after the caller got a 504, while the run
 * still holds its dedupe key: its answer is recorded, not sent (8.3) -
 * with a journal in a commit that acknowledges the run. */
static void answer_late(FlRun *run, const FlResponse *resp)
{
    if (!key_pending(run))
        return;
    if (journal_enabled()) {
        hold(run, resp);
        run->held_late = true;
    } else {
        key_record(run, resp);
    }
}

/* An acknowledgement (a webhook_response, by_step, or the default 202):
 * with a journal it is held until the run is durable (commit() below). */
static bool answer_with(FlRun *run, const FlResponse *resp, bool by_step)
{
    if (!claim(run, true)) {
        if (by_step)
            answer_late(run, resp);
        return false;
    }
    if (journal_enabled()) {
        hold(run, resp);
    } else {
        RunAnswer a = { .resp = *resp, .run_id = run->core.id };
        key_record(run, resp);
        deliver(run, &a, on_caller_thread(run));
    }
    return true;
}

bool run_answer(FlRun *run, const FlResponse *resp)
{
    return answer_with(run, resp, true);
}

bool run_answer_default(FlRun *run)
{
    static const FlResponse accepted = { .status = 202, .body_static = true };
    return answer_with(run, &accepted, false);
}

/* Hands the claimed answer {"error": message, "run_id": id} over at
 * once.  Its body is built (only when there is a caller) in a private
 * arena on this stack, since this may run on the timer thread while the
 * run's own arena is busy elsewhere: the caller copies it. */
static void deliver_error(FlRun *run, int status, const char *message,
                          bool own_thread)
{
    static const FlHeader retry = { "Retry-After", "5", 1 };
    char first[1024];
    FlArena a;
    FlBuf b;
    RunAnswer ans = {
        .resp = { .status = status, .content_type = "application/json",
                  .headers = &retry, .header_count = status == 503 },
        .run_id = run->core.id,
    };
    fl_arena_init(&a, first, sizeof first);
    if (run->caller) {
        fl_buf_init(&b, &a);
        FlValue msg = FL_STRING_LEN_LIT(message, (uint32_t)strlen(message));
        FL_BUF_APPEND_LIT(&b, "{\"error\":");
        fl_buf_append_json(&b, &msg);
        FL_BUF_APPEND_LIT(&b, ",\"run_id\":");
        fl_buf_append_json(&b, &run->id_v);
        fl_buf_putc(&b, '}');
        ans.resp.body = b.data;
        ans.resp.body_len = b.len;
    }
    if (status != 504)
        key_free(run);           /* 8.3: the sender's next delivery runs */
    deliver(run, &ans, own_thread);
    fl_arena_destroy(&a);
}

bool run_answer_error(FlRun *run, int status, const char *message)
{
    if (!claim(run, false))
        return false;
    deliver_error(run, status, message, false);
    return true;
}

/* ---- the step loop ------------------------------------------------------ */

/* The run leaves its current step (done, failed, or done waiting): the
 * step's latency, waits included, goes to the metrics and a debug line.
 * Returns the time read, which the next step takes as its start. */
static int64_t step_left(FlRun *run)
{
    int64_t now = clock_us(), took = now - run->core.step_started_us;
    metrics_step(run->core.wf, run->core.current, took);
    event_log(run, FL_LOG_DEBUG, "step_done", true, NULL, took / 1000);
    return now;
}

/* Whether the answering thread runs step i after the answer too: a delay
 * only arms its timer, and handing the run to a worker just for that would
 * cost a wake-up (then another when the timer fires). */
static bool arms_at_once(const FlStepInfo *step)
{
    return step->type == FL_STEP_DELAY;
}

/* Enters the run at core.next: a step that waited is closed, and a run
 * not on its caller's thread is RUNNING.  Returns whether the step that
 * waited runs again (an outbound call's retry re-enters at itself). */
static bool enter(FlRun *run)
{
    RunCore *k = &run->core;
    bool waited = k->phase == RUN_WAITING;
    bool resumed = waited && k->next == k->current;
    if (waited && !resumed)
        step_left(run);                  /* the step that waited is over */
    if (k->phase != RUN_INLINE)
        run_move(run, RUN_RUNNING);
    journal_progress(run, k->next, 0);   /* an output recorded while waiting */
    return resumed;
}

/* Runs steps from core.next until the run ends, waits or fails - or, with
 * stop_answered, as soon as the caller is answered (going on into a delay
 * that follows at once).  Returns the last step's result: an FL_NEXT_
 * value, or the next index when stopped. */
static int advance(FlRun *run, bool stop_answered)
{
    RunCore *k = &run->core;
    const FlStepInfo *steps = k->wf->steps;
    int64_t now_us = 0;                  /* the last step's end, once read */
    bool resumed = enter(run);
    int next = k->next;
    while (next >= 0) {
        assert(next < k->wf->step_count && steps[next].fn);
        if (!resumed) {
            k->current = next;
            k->step_started_us = now_us ? now_us : clock_us();
        }
        resumed = false;
        next = steps[next].fn(run);
        if (next == FL_NEXT_WAIT) {      /* the helper recorded core.next */
            if (k->jstep == k->current)  /* a delay: output and due time */
                journal_progress(run, k->next, k->wake_ms);
            if (holds_answer(run))
                return next;             /* must_commit() holds the run */
            if (run->wait_start || k->wake_ms > clock_ms()) {
                run_move(run, RUN_WAITING);
                return next;
            }
            next = k->next;              /* a delay already over (0 ms) */
        }
        now_us = step_left(run);
        k->next = next;
        journal_progress(run, next, 0);
        if (holds_answer(run) || (stop_answered && is_answered(run)
                                  && (next < 0 || !arms_at_once(&steps[next]))))
            break;                       /* a held answer: commit() first */
    }
    return next;
}

/* The run is over: the caller, if still waiting, gets a 500 for a failure
 * or the default 202 (the compiler normally sent it already, spec 4.3).
 * The 500 names the step that failed and no more (spec 14): the step's
 * message may hold an internal URL or a database's words, and goes to
 * the log only (EV_FAILED). */
static void finish(FlRun *run, int rc)
{
    int64_t took_us = (clock_ms() - run->core.started_ms) * 1000;
    if (rc == FL_NEXT_FAIL) {
        char what[128];
        const RunCore *k = &run->core;
        snprintf(what, sizeof what, "step '%s' failed",
                 k->current > 0 ? k->wf->steps[k->current].key : "trigger");
        if (claim(run, true))
            deliver_error(run, 500, what, on_caller_thread(run));
        run_event(run, EV_FAILED, 0);
        metrics_run(run->core.wf, MET_FAILED, took_us);
    } else {
        run_answer_default(run);
        run_event(run, EV_FINISHED, 0);
        metrics_run(run->core.wf, MET_FINISHED, took_us);
    }
    run_end(run);
}

static void abandon(FlRun *run)
{
    run_event(run, EV_ABANDONED, 0);
    metrics_run(run->core.wf, MET_ABANDONED, run_age_ms(run) * 1000);
    run_end(run);
}

/* Runs the accepted run on its caller's thread until the caller is
 * answered (true: the answer was handed over, the rest of the run handed
 * on) or the run must wait before answering (false: RUN_WAITING, or
 * RUN_HOLDING for its commit). */
static bool start_inline(FlRun *run)
{
    int rc;
    run_move(run, RUN_INLINE);
    if (run->core.wf->default_at_start) {
        run_answer_default(run);
        rc = run->core.next;
    } else {
        rc = advance(run, true);
    }
    if (must_commit(run, rc))
        return false;         /* the caller suspends, then run_park() commits */
    if (rc == FL_NEXT_END || rc == FL_NEXT_FAIL) {
        finish(run, rc);      /* the caller's reference keeps run valid */
        return true;
    }
    if (!is_answered(run))
        return false;         /* rc is FL_NEXT_WAIT */
    if (rc == FL_NEXT_WAIT) {
        run_park(run);
    } else {
        run_move(run, RUN_READY);
        sched_post(&run->task);
    }
    return true;
}

bool run_start(FlRun *run, const FlValue *trigger, int64_t received_ms,
               int64_t received_unix_ms, RunCaller *caller)
{
    run_accept(run, trigger, received_ms, received_unix_ms, caller);
    if (start_inline(run))
        return true;
    if (caller)
        caller->ops->suspend(caller);
    run_park(run);            /* from here on the caller may be answered */
    return false;
}

/* Arms the 504 deadline, once, while the caller waits unanswered. */
static void arm_deadline(FlRun *run)
{
    int open = ANSWER_OPEN;
    if (atomic_load_explicit(&run->answer, memory_order_relaxed) != ANSWER_OPEN)
        return;
    run_retain(run);                         /* the deadline's reference */
    if (!atomic_compare_exchange_strong(&run->answer, &open, ANSWER_TIMED)) {
        run_release(run);                    /* answered meanwhile */
        return;
    }
    run_event(run, EV_WAITING, 0);
    sched_at(&run->deadline, run->core.received_ms + run->core.wf->response_timeout_ms);
}

/* Called once the thread that ran the step has let go of the run (and the
 * caller is suspended), so that what the run waits for may complete at
 * once without racing anyone: a held answer goes to the journal, a delay
 * arms the wake timer, an outbound HTTP call (run_set_wait) goes to its
 * thread. */
static void run_park(FlRun *run)
{
    if (run->core.phase == RUN_HOLDING) {    /* what it waits for: the disk */
        commit(run);
        return;
    }
    arm_deadline(run);
    if (run->wait_start) {
        void (*start)(void *) = run->wait_start;
        run->wait_start = NULL;
        start(run->wait_arg);                /* may re-enter the run at once */
        return;
    }
    if (waits_long(run))
        run = run_compact(run);
    sched_at(&run->wake, run->core.wake_ms);
}

/* ---- compact runs --------------------------------------------------------- */

/* Whether run, parked in a delay (wait_ms: set by the last run_set_wake(),
 * read only for a run parked for its timer alone), moves into a compact
 * copy first: only a run that answered its caller itself before it ever
 * waited unanswered (ANSWER_ANSWERED).  Otherwise the 504 deadline or
 * shutdown's 503 may be answering it on another thread right now:
 * deliver() there still uses the old run, so such a run keeps it. */
static bool waits_long(const FlRun *run)
{
    return run->core.wait_ms >= COMPACT_MIN_MS && !run->wait_start
           && !run->core.wf->steps[run->core.current].loop
           && atomic_load_explicit(&run->answer, memory_order_relaxed) == ANSWER_ANSWERED;
}

/* Moves run into a new one holding what FlStepInfo.keep of its delay
 * lists (compact.c) - the same run to everyone else: its core (id,
 * position, journal state) copied whole, its admission slot moved - and
 * drops the old one's execution reference; returns the new one, or old
 * when the copy would be no smaller than it.  The old one lives on while
 * its request holds it (until the caller has sent the answer), and is
 * then freed, back to its thread's cache at once.  Only the core is read
 * as a block: the request's thread may be releasing the old run meanwhile
 * (its reference count, outside the core). */
static FlRun *run_compact(FlRun *old)
{
    const FlStepInfo *delay = &old->core.wf->steps[old->core.current];
    int n = old->core.wf->step_count;
    size_t kept = compact_size(delay, old->outputs, n);
    if (kept + COMPACT_SLACK >= RUN_FIRST_BLOCK && !old->arena.blocks)
        return old;            /* no smaller (values kept whole, shared
                                  ones copied for each use) */
    FlRun *run = runmem_get(sizeof *run + kept + COMPACT_SLACK);
    run_init(run, &old->core, kept, COMPACT_SLACK);
    run_values(run, old->id_v.len, old->started_v.len);
    atomic_store_explicit(&run->answer, ANSWER_ANSWERED, memory_order_relaxed);
    atomic_store_explicit(&run->slot, atomic_exchange(&old->slot, LIM_NONE),
                          memory_order_relaxed);
    run->outputs = compact_copy(delay, old->outputs, n, run->first);
    old->core.key = NULL;                /* the copy has it now */
    run_release(old);
    if (log_enabled(FL_LOG_DEBUG)) {
        char msg[64];
        snprintf(msg, sizeof msg, "keeps %zu bytes while it waits", sizeof *run + kept);
        event_log(run, FL_LOG_DEBUG, "compacted", true, msg, -1);
    }
    return run;
}

/* A worker re-enters the run. */
static void run_task(FlTask *t, bool discard)
{
    FlRun *run = container_of(t, FlRun, task);
    if (discard) {
        abandon(run);
        return;
    }
    int rc = advance(run, false);
    if (must_commit(run, rc))
        commit(run);          /* its caller waits suspended already */
    else if (rc == FL_NEXT_WAIT)
        run_park(run);
    else
        finish(run, rc);
}

/* Starts loading the memory a run's re-entry reads: the run itself and
 * the start of its arena.  After a long wait none of it is in any cache,
 * and the worker would stall on one line after another; timers fire in
 * batches, so the loads of a batch's runs overlap instead.  With 120,000
 * runs in a 1 s delay this took 0.4 us of CPU per run off the tail
 * (docs/performance.md).  A compact run's arena starts after what it
 * keeps. */
static void run_prefetch(const FlRun *run)
{
    const char *p = (const char *)run;
    size_t kept = (size_t)(run->arena.first - run->first);
    size_t warm = kept ? kept : WARM_ARENA;
    warm = warm < WARM_ARENA ? warm : WARM_ARENA;
    for (size_t off = 0; off < sizeof *run + warm; off += 64)
        __builtin_prefetch(p + off);
}

static void wake_fire(FlTimer *t, bool discard)
{
    FlRun *run = container_of(t, FlRun, wake);
    if (discard) {
        abandon(run);
        return;
    }
    run_prefetch(run);
    sched_post(&run->task);
}

static void deadline_fire(FlTimer *t, bool discard)
{
    FlRun *run = container_of(t, FlRun, deadline);
    if (!discard)
        run_answer_error(run, 504, "workflow did not respond in time");
    run_release(run);
}

void run_set_wake(FlRun *run, int64_t wait_ms, int next)
{
    run->core.wake_ms = clock_ms() + wait_ms;
    run->core.wait_ms = wait_ms;
    run->core.next = next;
}

void run_set_wait(FlRun *run, void (*start)(void *arg), void *arg)
{
    run->wait_start = start;
    run->wait_arg = arg;
}

void run_resume(FlRun *run, int next)
{
    run->core.next = next;
    sched_post(&run->task);
}

void run_abandon(FlRun *run)
{
    abandon(run);
}

int run_fail(FlRun *run, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n = n < 0 ? 0 : (size_t)n >= sizeof msg ? (int)sizeof msg - 1 : n;
    run->error = fl_string(&run->arena, msg, (size_t)n)->u.s;
    return -1;
}

const char *run_id_text(const FlRun *run)
{
    return run->core.id;
}

void **run_loop_states(FlRun *run)
{
    size_t n = (size_t)run->core.wf->step_count;
    if (!run->loops) {
        run->loops = fl_arena_alloc(&run->arena, n * sizeof *run->loops);
        memset(run->loops, 0, n * sizeof *run->loops);
    }
    return run->loops;
}

const FlWorkflow *run_workflow(const FlRun *run)
{
    return run->core.wf;
}

int run_last_done(const FlRun *run)
{
    return run->core.done;
}

void run_clear_done(FlRun *run)
{
    run->core.done = 0;
}

bool run_take_resume(FlRun *run, int loop)
{
    bool mine = run->core.resume_loop == loop;
    if (mine)
        run->core.resume_loop = 0;
    return mine;
}

const char *run_step_key(const FlRun *run)
{
    return run->core.wf->steps[run->core.current].key;
}

/* ---- duplicate deliveries (spec 8.3) ----------------------------------------
 *
 * A run of a workflow with `dedupe` claims its delivery's key before its
 * first step (run_check_key(), called by the server after verify and body
 * parsing).  The key is pending until the run's answer is recorded with
 * it - at once without a journal, otherwise once the acknowledgement that
 * carries the answer is durable (key_attach(), key_committed()) - or
 * until it is freed: by a 500 or 503 the run answers, or by its end with
 * no answer recorded (after a 504).  The state is atomic: shutdown's 503
 * may free the key from another thread while the run goes on. */

typedef enum {
    KEY_PENDING,     /* claimed, no answer recorded */
    KEY_ANSWERED,    /* the answer is recorded (or on its way, durable) */
    KEY_FREED        /* given back: the next delivery runs */
} RunKeyState;

typedef struct RunKey {
    atomic_int state;           /* a RunKeyState */
    JournalAnswer *answer;      /* the copy a commit carries, until
                                   key_committed() (the run's thread) */
    size_t len;
    char key[];
} RunKey;

static bool key_pending(const FlRun *run)
{
    const RunKey *key = run->core.key;
    return key && atomic_load(&key->state) == KEY_PENDING;
}

/* Moves the key from pending to `to`; true for the one call that does. */
static bool key_settle(FlRun *run, RunKeyState to)
{
    int pending = KEY_PENDING;
    RunKey *key = run->core.key;
    return key && atomic_compare_exchange_strong(&key->state, &pending, (int)to);
}

/* Without a journal: resp is the key's answer from now on. */
static void key_record(FlRun *run, const FlResponse *resp)
{
    RunKey *key = run->core.key;
    if (key_settle(run, KEY_ANSWERED))
        journal_dedupe_record(run->core.wf->name, key->key, key->len,
                              journal_answer_copy(resp, run->core.id, fl_time_now_ms()));
}

static void key_free(FlRun *run)
{
    RunKey *key = run->core.key;
    if (key_settle(run, KEY_FREED))
        journal_dedupe_free(run->core.wf->name, key->key, key->len, run->core.id);
}

/* The run ends (or is released unstarted): an unanswered key is free.
 * The RunKey itself goes with the run's last reference: shutdown's 503
 * may be freeing the key on another thread just now (run_release()). */
static void key_end(FlRun *run)
{
    RunKey *key = run->core.key;
    if (!key)
        return;
    key_free(run);
    free(key->answer);
    key->answer = NULL;
}

/* The acknowledgement v carries the held answer with the pending key. */
static void key_attach(FlRun *run, JournalRun *v)
{
    RunKey *key = run->core.key;
    if (!key_pending(run))
        return;
    free(key->answer);
    key->answer = journal_answer_copy(&run->held->resp, run->core.id, fl_time_now_ms());
    v->key = key->key;
    v->key_len = key->len;
    v->answer = key->answer;
}

/* The acknowledgement that carried the key's answer is durable: the
 * answer is replayed from now on; or it failed: the key is free. */
static void key_committed(FlRun *run, bool durable)
{
    RunKey *key = run->core.key;
    if (!key || !key->answer)
        return;
    if (durable && key_settle(run, KEY_ANSWERED))
        journal_dedupe_record(run->core.wf->name, key->key, key->len, key->answer);
    else
        free(key->answer);
    key->answer = NULL;
    if (!durable)
        key_free(run);
}

/* The key's value as text in the run's arena: NULL for none (null, "")
 * or, with out->error set, for an unusable one. */
static const FlValue *key_text(FlRun *run, const FlValue *v, RunKeyOutcome *out)
{
    if (v->type == FL_ARRAY || v->type == FL_OBJECT) {
        out->error = "the dedupe key is an array or an object: it must be text or a number";
        return NULL;
    }
    if (v->type != FL_STRING) {
        FlBuf b;
        fl_buf_init(&b, &run->arena);
        fl_buf_append_text(&b, v);
        v = fl_buf_finish(&b);
    }
    if (v->len > RUN_KEY_MAX) {
        out->error = "the dedupe key is longer than 1024 bytes";
        return NULL;
    }
    return v->len ? v : NULL;
}

/* A duplicate delivery, logged (event "duplicate") under the original
 * run's id. */
static void key_log(const FlWorkflow *wf, const char *original, const char *msg)
{
    if (!log_enabled(FL_LOG_INFO))
        return;
    LogLine l = { .run_id = original, .workflow = wf->name, .event = "duplicate",
                  .message = msg, .message_len = strlen(msg), .duration_ms = -1 };
    log_write(FL_LOG_INFO, &l);
}

RunKeyCheck run_check_key(FlRun *run, const FlValue *trigger, RunKeyOutcome *out)
{
    const FlWorkflow *wf = run->core.wf;
    JournalAnswer *a = NULL;
    char msg[80];
    memset(out, 0, sizeof *out);
    if (!wf->dedupe)
        return RUN_KEY_NONE;
    outputs_make(run);
    run->outputs[0] = trigger;
    run_id_make(run->core.id);
    const FlValue *v = key_text(run, wf->dedupe->key(run), out);
    if (!v)
        return out->error ? RUN_KEY_BAD : RUN_KEY_NONE;
    switch (journal_dedupe_claim(wf->name, wf->dedupe->window_s, v->u.s, v->len,
                                 run->core.id, out->run_id, &a)) {
    case JOURNAL_KEY_NEW: {
        RunKey *key = rt_check(calloc(1, sizeof *key + v->len));
        atomic_init(&key->state, KEY_PENDING);
        memcpy(key->key, v->u.s, v->len);
        key->len = v->len;
        run->core.key = key;
        return RUN_KEY_CLAIMED;
    }
    case JOURNAL_KEY_BUSY:
        key_log(wf, out->run_id, "a repeated delivery while the first has not "
                "answered: 409");
        return RUN_KEY_BUSY;
    case JOURNAL_KEY_ANSWERED:
        break;
    }
    out->block = a;
    out->answer = (RunAnswer){ .resp = a->resp, .run_id = out->run_id };
    snprintf(msg, sizeof msg, "a repeated delivery: the recorded answer (%d) "
             "replayed", a->resp.status);
    key_log(wf, out->run_id, msg);
    metrics_duplicate(wf);
    return RUN_KEY_ANSWERED;
}

void run_key_done(RunKeyOutcome *out)
{
    free(out->block);
    out->block = NULL;
}

/* ---- the journal (spec 7) -------------------------------------------------
 *
 * With a journal, an acknowledgement (a webhook_response, the default 202)
 * is held: run_answer() keeps the answer in the run, the step loop stops
 * right after the step that gave it, and the run waits - RUN_HOLDING,
 * holding no thread, its caller suspended - for its commit: the trigger,
 * the outputs so far and the position, queued by commit() and made
 * durable by the journal thread together with every other commit pending
 * (group commit).  committed() then hands the answer over and lets the
 * run go on; a failed write answers 503 instead and the run's tail never
 * runs.  A run that has nothing left to do when it answers writes
 * nothing: there would be nothing to resume.
 *
 * After the acknowledgement each step's output is journaled (without
 * waiting for the disk) as soon as the run's position after it is known:
 * when its step function returns, or - for a step whose output arrives
 * while the run waits - when the run is re-entered.  A delay's record
 * carries its due time. */

/* What the journal keeps of run, at position next (and until wake_ms, a
 * clock_ms() time, when a delay waits). */
static void journal_view(const FlRun *run, JournalRun *v, int next, int64_t wake_ms)
{
    const RunCore *k = &run->core;
    *v = (JournalRun){
        .id = k->id, .workflow = k->wf->name, .started_at = k->started_at,
        .attempt = k->attempt, .outputs = run->outputs,
        .step_count = k->wf->step_count, .next = next,
        .next_key = next >= 0 ? k->wf->steps[next].key : "",
        .wake_at = wake_ms ? fl_time_now_ms() + (wake_ms - clock_ms()) : 0,
        .shape = k->wf->shape,
        .tries = next >= 0 && next == k->tries_at ? k->tries : 0,
    };
}

/* Journals the output EV_STEP_DONE noted, now that the run's position is
 * known; nothing when the run is about to end (its end deletes it). */
static void journal_progress(FlRun *run, int next, int64_t wake_ms)
{
    JournalRun v;
    if (!run->core.jstep)
        return;
    if (next >= 0) {
        journal_view(run, &v, next, wake_ms);
        journal_step(&v, run->core.jstep);
    }
    run->core.jstep = 0;
}

/* 8.1: a run that fails after its acknowledgement is kept, at the step
 * that failed, with the error and the attempt (its outputs are in the
 * journal already); one failed before it is deleted like a finished one:
 * its caller got the 500. */
static void journal_failed(FlRun *run)
{
    const RunCore *k = &run->core;
    JournalRun v;
    if (k->jphase != JP_ACKED) {
        if (k->jphase == JP_STARTED)
            journal_finish(k->id);
        return;
    }
    journal_view(run, &v, k->current, 0);
    journal_fail(&v, run->error ? run->error : "step failed");
}

static void journal_event(FlRun *run, RunEvent ev, int arg)
{
    RunCore *k = &run->core;
    JournalRun v;
    switch (ev) {
    case EV_WAITING:
        if (k->jphase == JP_NONE) {
            journal_view(run, &v, k->next, 0);
            journal_waiting(&v);
            k->jphase = JP_STARTED;
        }
        break;
    case EV_STEP_DONE:
        if (k->jphase != JP_ACKED)
            break;                       /* the acknowledgement carries it */
        if (k->jstep && k->jstep != arg)
            journal_progress(run, arg, 0);
        k->jstep = arg;
        break;
    case EV_FINISHED:
        if (k->jphase != JP_NONE)
            journal_finish(k->id);
        break;
    case EV_FAILED:
        journal_failed(run);
        break;
    case EV_ACCEPTED:
    case EV_ANSWERED:
    case EV_ABANDONED:
        break;
    }
}

/* Hands the held answer over (own_thread: inside run_start()). */
static void release(FlRun *run, bool own_thread)
{
    const RunAnswer *a = run->held;
    run->held = NULL;
    deliver(run, a, own_thread);
}

/* After the step loop stopped at rc: whether a held answer must be
 * committed before the run goes on (RUN_HOLDING; held_rc says where); a
 * run that is over gets its answer at once. */
static bool must_commit(FlRun *run, int rc)
{
    if (!holds_answer(run))
        return false;
    if ((rc == FL_NEXT_END && !key_pending(run)) || rc == FL_NEXT_FAIL) {
        release(run, on_caller_thread(run));
        return false;
    }
    run->held_rc = rc;
    run_move(run, RUN_HOLDING);
    return true;
}

/* The journal thread: the commit is durable (or failed). */
static void committed(void *arg, bool durable)
{
    FlRun *run = arg;
    key_committed(run, durable);
    if (!durable) {
        run->held = NULL;
        if (!run->held_late)
            deliver_error(run, 503, "the run could not be journaled", false);
        run_event(run, EV_ABANDONED, 1);
        run_end(run);
        return;
    }
    run->core.jphase = JP_ACKED;
    if (run->held_late)
        run->held = NULL;            /* recorded, not sent: answered 504 */
    else
        release(run, false);
    run->held_late = false;
    if (run->held_rc == FL_NEXT_WAIT) {
        run_move(run, RUN_WAITING);
        run_park(run);
    } else {
        run_move(run, RUN_READY);
        sched_post(&run->task);
    }
}

/* Queues the acknowledgement.  The run's position: held_rc, or for a wait
 * the step after a delay (which recorded its output and due time) or the
 * waiting step itself, which runs again after a crash. */
static void commit(FlRun *run)
{
    const RunCore *k = &run->core;
    JournalRun v;
    int next = run->held_rc;
    int64_t wake_ms = 0;
    if (next == FL_NEXT_WAIT) {
        bool done = run->outputs[k->current] != NULL;
        next = done ? k->next : k->current;
        wake_ms = done ? k->wake_ms : 0;
    }
    run->core.jstep = 0;                 /* its outputs go with it */
    journal_view(run, &v, next, wake_ms);
    key_attach(run, &v);
    journal_acknowledge(&v, committed, run);
}

/* ---- retries that outlast an outage (spec 8.2) ------------------------------
 *
 * Before its acknowledgement a run's http_request backs off on a timer of
 * its own (outbound.c): nothing of the run is journaled yet.  After it,
 * the wait between two attempts is the run's, like a delay's: the call is
 * over and freed, the run waits on its wake timer holding no thread, and
 * the journal records its position - the http_request itself, with the
 * attempts made and when the next is due - as a step record with no
 * output (journal_position()).  When the timer fires, or after a restart
 * when it is due, the step function runs again and fl_http() picks the
 * count up (run_take_tries()).  A handler that stops meanwhile abandons
 * the waiting run in memory only: it stays pending in the journal and
 * resumes at the next start, on time. */

bool run_journaled(const FlRun *run)
{
    return run->core.jphase == JP_ACKED;
}

int run_take_tries(FlRun *run, int index)
{
    RunCore *k = &run->core;
    int tries = k->tries_at == index ? k->tries : 0;
    k->tries = k->tries_at = 0;
    return tries;
}

void run_retry_later(FlRun *run, int64_t wait_ms, int tries)
{
    RunCore *k = &run->core;
    k->next = k->tries_at = k->current;
    k->tries = tries;
    k->wake_ms = clock_ms() + wait_ms;
    k->wait_ms = wait_ms;
    if (k->jphase == JP_ACKED) {
        JournalRun v;
        journal_view(run, &v, k->current, k->wake_ms);
        journal_position(&v, k->current);
    }
    sched_at(&run->wake, k->wake_ms);
}

/* A run resumed inside a for_each body goes on at its outermost loop:
 * the iteration that was running runs again, the finished ones - kept in
 * the loop's journaled output - do not (spec 10).  A run resumed at a
 * for_each takes its progress from there too.  Returns whether the
 * position moved. */
static bool restore_loop(FlRun *run)
{
    RunCore *k = &run->core;
    const FlStepInfo *steps = k->wf->steps;
    int at = k->next, outer = 0;
    if (at <= 0)
        return false;
    for (int l = steps[at].loop; l > 0; l = steps[l].loop)
        outer = l;
    k->next = outer ? outer : at;
    if (steps[k->next].type == FL_STEP_FOR_EACH)
        k->resume_loop = k->next;
    return outer != 0;
}

FlRun *run_restore(const FlWorkflow *wf, const JournalSaved *s)
{
    FlRun *run = run_new(wf, false);
    RunCore *k = &run->core;
    outputs_make(run);
    if (journal_decode(s, &run->arena, run->outputs, wf->step_count) < 0
        || !run->outputs[0]) {
        run_release(run);
        return NULL;
    }
    snprintf(k->id, sizeof k->id, "%s", s->id);
    snprintf(k->started_at, sizeof k->started_at, "%s", s->started_at);
    run_set_traceparent(run, NULL);
    k->attempt = s->attempt;
    k->tries = s->tries;
    k->tries_at = s->tries ? s->next : 0;
    run_values(run, (uint32_t)strlen(k->id), (uint32_t)strlen(k->started_at));
    k->next = s->next;
    k->started_ms = k->received_ms = clock_ms();
    /* moved back to its loop: the iteration runs again, at once */
    if (!restore_loop(run) && s->wake_at) {
        int64_t left = s->wake_at - fl_time_now_ms();
        k->wake_ms = k->started_ms + (left > 0 ? left : 0);
    }
    atomic_store(&run->answer, ANSWER_ANSWERED);   /* before the crash */
    k->jphase = JP_ACKED;
    run_move(run, RUN_READY);
    atomic_fetch_add(&inflight, 1);
    return run;
}

void run_restart(FlRun *run, bool discard)
{
    char msg[128];
    const RunCore *k = &run->core;
    if (discard) {
        abandon(run);
        return;
    }
    int n = snprintf(msg, sizeof msg, "resumes at %s (attempt %d)",
                     k->next >= 0 ? k->wf->steps[k->next].key : "its end", k->attempt);
    if (k->tries && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ", %d tries made", k->tries);
    event_log(run, FL_LOG_INFO, "recovered", false, msg, -1);
    metrics_run(k->wf, MET_STARTED, 0);
    if (k->wake_ms)
        sched_at(&run->wake, k->wake_ms);
    else
        sched_post(&run->task);
}

/* ---- what step functions call (flusso.h, section 2) ------------------------ */

FlArena *fl_run_arena(FlRun *run)
{
    return &run->arena;
}

const FlValue *fl_out(const FlRun *run, int index)
{
    assert(index >= 0 && index < run->core.wf->step_count);
    const FlValue *v = run->outputs[index];
    return v ? v : &fl_null;
}

const FlValue *fl_run_id(const FlRun *run)
{
    return &run->id_v;
}

const FlValue *fl_run_started_at(const FlRun *run)
{
    return &run->started_v;
}

const FlValue *fl_run_workflow(const FlRun *run)
{
    return &run->workflow_v;
}

const FlValue *fl_run_attempt(const FlRun *run)
{
    return &run->attempt_v;
}

const char *fl_run_error(const FlRun *run)
{
    return run->error ? run->error : "";
}

/* output with "error": err appended (on_error continue steps). */
static const FlValue *with_error(FlArena *a, const FlValue *output,
                                 const FlValue *err)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, output->type == FL_OBJECT ? output->len + 1 : 1);
    if (output->type == FL_OBJECT)
        for (uint32_t i = 0; i < output->len; i++)
            fl_object_add(&ob, output->u.members[i].key, output->u.members[i].klen,
                          &output->u.members[i].value);
    fl_object_set(&ob, "error", 5, err);
    return fl_object_finish(&ob);
}

void fl_step_done(FlRun *run, int index, const FlValue *output)
{
    assert(index > 0 && index < run->core.wf->step_count);
    if (run->core.wf->steps[index].on_error_continue)
        output = with_error(&run->arena, output, &fl_null);
    run->outputs[index] = output;
    run->core.current = index;
    run->core.done = index;
    run_event(run, EV_STEP_DONE, index);
}

/* A failed on_error continue step's output: its type's fixed fields
 * (spec 3, flusso_format.h) as null unless known (in the object known, or
 * NULL: none), and the error. */
static const FlValue *failed_output(FlArena *a, FlStepType type,
                                    const FlValue *known, const FlValue *message)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 5);
    for (const char *const *f = fl_step_outputs(type); *f; f++)
        fl_object_add(&ob, *f, strlen(*f),
                      known ? fl_get_field(known, *f, strlen(*f)) : &fl_null);
    fl_object_add(&ob, "error", 5, message);
    return fl_object_finish(&ob);
}

int fl_step_failed(FlRun *run, int index, const char *message, int next)
{
    return run_step_failed(run, index, message, next, NULL);
}

int run_step_failed(FlRun *run, int index, const char *message, int next,
                    const FlValue *known)
{
    assert(index > 0 && index < run->core.wf->step_count);
    const FlStepInfo *s = &run->core.wf->steps[index];
    if (!message || !*message)
        message = "step failed";
    const FlValue *m = fl_string(&run->arena, message, strlen(message));
    run->core.current = index;
    run->error = m->u.s;
    if (!s->on_error_continue) {
        /* it fails its for_each (spec 10): one under on_error continue
         * takes the failure, and the run goes on after that loop */
        int loop = s->loop;
        while (loop && !run->core.wf->steps[loop].on_error_continue)
            loop = run->core.wf->steps[loop].loop;
        if (!loop)
            return FL_NEXT_FAIL;
        loop_fail(run, loop);
        index = next = loop;
        s = &run->core.wf->steps[loop];
    }
    run->core.done = index;
    run->outputs[index] = failed_output(&run->arena, s->type, s->type == FL_STEP_FOR_EACH ? NULL : known, m);
    event_log(run, FL_LOG_WARN, "step_error", true, message, -1);
    run_event(run, EV_STEP_DONE, index);
    return next;
}
