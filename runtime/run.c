/* run.c - the life of a run.
 *
 * A run is a small state machine over the workflow's table of step
 * functions: advance() calls the current step, which returns the next
 * index or FL_NEXT_END / FL_NEXT_WAIT / FL_NEXT_FAIL.  It starts inline on
 * the connection's thread, so a workflow whose steps before its answer
 * never wait is answered with no hand-off at all; from the answer on (or
 * from its first wait) it goes on in worker threads, re-entered at the
 * step the waiting helper recorded.
 *
 * The caller gets exactly one answer.  One atomic flag, `answered`, is
 * claimed by whoever answers first - the response step, the default 202,
 * a failure's 500, the 504 deadline, or shutdown's 503 - and only the
 * claimant touches the connection (run->conn), once.
 *
 * Every life-cycle event passes through run_event(), the journal seam. */
#include "internal.h"
#include "journal.h"

#include <assert.h>
#include <microhttpd.h>
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

/* What the journal has of a run. */
typedef enum {
    JP_NONE,         /* nothing */
    JP_STARTED,      /* noted while it waits for its answer */
    JP_ACKED         /* its acknowledgement is durable: steps recorded */
} JournalPhase;

/* A field added here must also be copied, or not, in run_compact(). */
struct FlRun {
    FlArena arena;
    const FlWorkflow *wf;
    const FlValue **outputs;    /* by step index; NULL: has not run */
    int next;                   /* where the run (re-)enters */
    int current;                /* the step running, or last run */
    atomic_int refs;
    atomic_bool answered;
    bool on_conn_thread;        /* inside its connection's access handler */
    atomic_bool deadline_armed; /* the 504 timer was armed (once) */
    FlConn *conn;               /* the caller, until the claimant takes it */
    const char *error;          /* a helper's failure message (arena) */
    int64_t received_ms;        /* sched_now_ms() when the body completed */
    int64_t started_ms;
    int64_t wake_ms;            /* fl_delay: when to re-enter */
    bool wait_long;             /* ... at least COMPACT_MIN_MS from then */
    void (*wait_start)(void *); /* run_set_wait: hands the wait on */
    void *wait_arg;
    atomic_int slot;            /* admission (limits.c): a LimSlot */
    int64_t step_started_us;    /* when the current step began (metrics) */
    bool waited;                /* left by FL_NEXT_WAIT: re-entry pending */
    FlTask task;                /* re-entry on a worker */
    FlTimer wake;               /* fl_delay */
    FlTimer deadline;           /* the 504 */
    FlValue id_v, started_v, workflow_v;
    /* the journal (spec 7): see "the journal" below */
    JournalPhase jphase;
    int jstep;                  /* a step output not journaled yet; 0: none */
    bool holding;               /* an answer waits for its commit */
    struct MHD_Response *held;  /* that answer (NULL: no connection) */
    int held_status;
    int held_rc;                /* where the run goes on once committed */
    int attempt;                /* run.attempt */
    FlValue attempt_v;
    char id[37];
    char started_at[25];
    bool compact;               /* made by run_compact() */
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
static bool waits_long(const FlRun *run);
static FlRun *run_compact(FlRun *old);
static void wake_fire(FlTimer *t, bool discard);
static void deadline_fire(FlTimer *t, bool discard);
static void journal_event(FlRun *run, RunEvent ev, int arg);
static void journal_progress(FlRun *run, int next, int64_t wake_ms);
static bool must_commit(FlRun *run, int rc);
static void commit(FlRun *run);

/* ---- the journal seam --------------------------------------------------- */

/* Logs a run's event; with_step names the current step (only the thread
 * running the run may ask: others would race with it). */
static void event_log(FlRun *run, FlLogLevel level, const char *event,
                      bool with_step, const char *msg, long long duration_ms)
{
    if (!log_enabled(level))
        return;
    LogLine l = {
        .run_id = run->id, .workflow = run->wf->name,
        .step = with_step && run->current > 0 ? run->wf->steps[run->current].key : NULL,
        .event = event, .message = msg, .message_len = msg ? strlen(msg) : 0,
        .duration_ms = duration_ms,
    };
    log_write(level, &l);
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
 *   EV_FINISHED, EV_FAILED   the run ends: deleted from the journal;
 *   EV_ABANDONED  shutdown (arg 0) or a failed commit (arg 1) dropped it:
 *                 an acknowledged run stays in the journal and resumes. */
static long long run_age_ms(const FlRun *run)
{
    return sched_now_ms() - run->started_ms;
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

/* ---- references --------------------------------------------------------- */

void run_retain(FlRun *run)
{
    atomic_fetch_add_explicit(&run->refs, 1, memory_order_relaxed);
}

void run_release(FlRun *run)
{
    if (atomic_fetch_sub_explicit(&run->refs, 1, memory_order_acq_rel) == 1) {
        fl_arena_destroy(&run->arena);
        runmem_put(run);
    }
}

FlRun *run_new(const FlWorkflow *wf)
{
    FlRun *run = runmem_get(sizeof *run + RUN_FIRST_BLOCK);
    memset(run, 0, sizeof *run);
    fl_arena_init(&run->arena, run->first, RUN_FIRST_BLOCK);
    run->wf = wf;
    atomic_init(&run->refs, 1);
    atomic_init(&run->answered, false);
    atomic_init(&run->deadline_armed, false);
    atomic_init(&run->slot, LIM_NONE);
    run->task.run = run_task;
    run->wake = (FlTimer){ .fire = wake_fire, .heap_index = -1 };
    run->deadline = (FlTimer){ .fire = deadline_fire, .heap_index = -1 };
    return run;
}

void run_discard(FlRun *run)
{
    lim_release(&run->slot);
    run_release(run);
}

void run_hold_slot(FlRun *run)
{
    atomic_store(&run->slot, LIM_INFLIGHT);
}

long run_inflight(void)
{
    return atomic_load(&inflight);
}

void run_accept(FlRun *run, const FlValue *trigger, int64_t received_ms,
                int64_t received_unix_ms, FlConn *conn)
{
    size_t n = (size_t)run->wf->step_count;
    run->outputs = fl_arena_alloc(&run->arena, n * sizeof *run->outputs);
    memset(run->outputs, 0, n * sizeof *run->outputs);
    run->outputs[0] = trigger;
    run_id_make(run->id);
    fl_time_rfc3339(run->started_at, received_unix_ms);
    run->id_v = (FlValue)FL_STRING_LEN_LIT(run->id, 36);
    run->started_v = (FlValue)FL_STRING_LEN_LIT(run->started_at, 24);
    run->workflow_v = (FlValue)FL_STRING_LEN_LIT(run->wf->name,
                                                (uint32_t)strlen(run->wf->name));
    run->attempt = 1;
    run->attempt_v = (FlValue)FL_NUMBER_LIT(1);
    run->next = run->wf->first;
    run->received_ms = received_ms;
    run->started_ms = received_ms;
    run->conn = conn;
    run_retain(run);                          /* the execution's reference */
    atomic_fetch_add(&inflight, 1);
    run_event(run, EV_ACCEPTED, 0);
    metrics_run(run->wf, MET_STARTED, 0);
}

/* The execution ends: its reference goes. */
static void run_end(FlRun *run)
{
    atomic_fetch_sub(&inflight, 1);
    lim_release(&run->slot);
    run_release(run);
}

/* ---- answering ---------------------------------------------------------- */

static bool is_answered(const FlRun *run)
{
    return atomic_load_explicit(&run->answered, memory_order_acquire);
}

/* Claims the right to answer; true for exactly one caller per run. */
static bool claim(FlRun *run)
{
    bool expected = false;
    if (is_answered(run))
        return false;
    return atomic_compare_exchange_strong(&run->answered, &expected, true);
}

/* The claimant's half of answering: r (NULL when there is no connection)
 * goes to the caller, and the 504 deadline is disarmed. */
static void deliver(FlRun *run, struct MHD_Response *r, int status)
{
    FlConn *c = run->conn;
    run->conn = NULL;
    run_event(run, EV_ANSWERED, status);
    lim_answered(&run->slot);
    if (atomic_load_explicit(&run->deadline_armed, memory_order_relaxed)
        && sched_cancel(&run->deadline))
        run_release(run);
    if (c)
        srv_deliver(c, r, status, run->on_conn_thread);
}

/* An acknowledgement (a webhook_response or the default 202): with a
 * journal it is held until the run is durable (commit() below). */
bool run_answer(FlRun *run, const FlResponse *resp)
{
    if (!claim(run))
        return false;
    struct MHD_Response *r = run->conn ? srv_response(resp, run->id) : NULL;
    if (journal_enabled()) {
        run->holding = true;
        run->held = r;
        run->held_status = resp->status;
    } else {
        deliver(run, r, resp->status);
    }
    return true;
}

bool run_answer_default(FlRun *run)
{
    static const FlResponse accepted = { .status = 202, .body_static = true };
    return run_answer(run, &accepted);
}

/* {"error": message, "run_id": id} for the run's caller (NULL when it has
 * none), built in a private arena: this may run on the timer thread while
 * the run's own arena is busy elsewhere. */
static struct MHD_Response *error_response(FlRun *run, int status,
                                           const char *message)
{
    static const FlHeader retry = { "Retry-After", "5", 1 };
    char first[1024];
    FlArena a;
    FlBuf b;
    if (!run->conn)
        return NULL;
    fl_arena_init(&a, first, sizeof first);
    fl_buf_init(&b, &a);
    FlValue msg = FL_STRING_LEN_LIT(message, (uint32_t)strlen(message));
    FL_BUF_APPEND_LIT(&b, "{\"error\":");
    fl_buf_append_json(&b, &msg);
    FL_BUF_APPEND_LIT(&b, ",\"run_id\":");
    fl_buf_append_json(&b, &run->id_v);
    fl_buf_putc(&b, '}');
    FlResponse resp = {
        .status = status, .body = b.data, .body_len = b.len,
        .content_type = "application/json",
        .headers = &retry, .header_count = status == 503,
    };
    struct MHD_Response *r = srv_response(&resp, run->id);
    fl_arena_destroy(&a);
    return r;
}

bool run_answer_error(FlRun *run, int status, const char *message)
{
    if (!claim(run))
        return false;
    deliver(run, error_response(run, status, message), status);
    return true;
}

/* ---- the step loop ------------------------------------------------------ */

/* The run leaves its current step (done, failed, or done waiting): the
 * step's latency, waits included, goes to the metrics and a debug line.
 * Returns the time read, which the next step takes as its start. */
static int64_t step_left(FlRun *run)
{
    int64_t now = metrics_now_us(), took = now - run->step_started_us;
    metrics_step(run->wf, run->current, took);
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

/* Runs steps from run->next until the run ends, waits or fails - or, with
 * stop_answered, as soon as the caller is answered (going on into a delay
 * that follows at once).  Returns the last step's result: an FL_NEXT_
 * value, or the next index when stopped. */
static int advance(FlRun *run, bool stop_answered)
{
    const FlStepInfo *steps = run->wf->steps;
    int next = run->next;
    int64_t now_us = 0;                  /* the last step's end, once read */
    bool resumed = run->waited && next == run->current;
    if (run->waited && !resumed)
        step_left(run);                  /* the step that waited is over */
    run->waited = false;
    journal_progress(run, next, 0);      /* an output recorded while waiting */
    while (next >= 0) {
        assert(next < run->wf->step_count && steps[next].fn);
        if (!resumed) {
            run->current = next;
            run->step_started_us = now_us ? now_us : metrics_now_us();
        }
        resumed = false;
        next = steps[next].fn(run);
        if (next == FL_NEXT_WAIT) {      /* the helper recorded run->next */
            if (run->jstep == run->current)   /* a delay: output and due time */
                journal_progress(run, run->next, run->wake_ms);
            if (run->holding || run->wait_start || run->wake_ms > sched_now_ms()) {
                run->waited = true;
                return next;
            }
            next = run->next;            /* a delay already over (0 ms) */
        }
        now_us = step_left(run);
        run->next = next;
        journal_progress(run, next, 0);
        if (run->holding || (stop_answered && is_answered(run)
                             && (next < 0 || !arms_at_once(&steps[next]))))
            break;                       /* a held answer: commit() first */
    }
    return next;
}

/* The run is over: the caller, if still waiting, gets a 500 for a failure
 * or the default 202 (the compiler normally sent it already, spec 4.3). */
static void finish(FlRun *run, int rc)
{
    int64_t took_us = (sched_now_ms() - run->started_ms) * 1000;
    if (rc == FL_NEXT_FAIL) {
        run_answer_error(run, 500, run->error ? run->error : "step failed");
        run_event(run, EV_FAILED, 0);
        metrics_run(run->wf, MET_FAILED, took_us);
    } else {
        run_answer_default(run);
        run_event(run, EV_FINISHED, 0);
        metrics_run(run->wf, MET_FINISHED, took_us);
    }
    run_end(run);
}

static void abandon(FlRun *run)
{
    run_event(run, EV_ABANDONED, 0);
    metrics_run(run->wf, MET_ABANDONED, (sched_now_ms() - run->started_ms) * 1000);
    run_end(run);
}

bool run_start_inline(FlRun *run)
{
    int rc;
    run->on_conn_thread = true;
    if (run->wf->default_at_start) {
        run_answer_default(run);
        rc = run->next;
    } else {
        rc = advance(run, true);
    }
    if (must_commit(run, rc)) {
        run->on_conn_thread = false;
        return false;         /* the server suspends, then run_park() commits */
    }
    if (rc == FL_NEXT_END || rc == FL_NEXT_FAIL) {
        finish(run, rc);      /* the request's reference keeps run valid */
        return true;
    }
    run->on_conn_thread = false;
    if (!is_answered(run))
        return false;         /* rc is FL_NEXT_WAIT */
    if (rc == FL_NEXT_WAIT)
        run_park(run);
    else
        sched_post(&run->task);
    return true;
}

/* Called once the thread that ran the step has let go of the run (and the
 * server has suspended the connection), so that what the run waits for
 * may complete at once without racing anyone: a delay arms the wake
 * timer, an outbound HTTP call (run_set_wait) goes to its thread. */
void run_park(FlRun *run)
{
    if (run->holding) {                      /* what it waits for: the disk */
        commit(run);
        return;
    }
    if (!atomic_load_explicit(&run->deadline_armed, memory_order_relaxed)
        && !is_answered(run)) {
        run_event(run, EV_WAITING, 0);
        atomic_store_explicit(&run->deadline_armed, true, memory_order_relaxed);
        run_retain(run);                     /* the deadline's reference */
        sched_at(&run->deadline, run->received_ms + run->wf->response_timeout_ms);
    }
    if (run->wait_start) {
        void (*start)(void *) = run->wait_start;
        run->wait_start = NULL;
        start(run->wait_arg);                /* may re-enter the run at once */
        return;
    }
    if (waits_long(run))
        run = run_compact(run);
    sched_at(&run->wake, run->wake_ms);
}

/* ---- compact runs --------------------------------------------------------- */

/* Whether run, parked in a delay (wait_long: set by the last
 * run_set_wake(), read only for a run parked for its timer alone), moves
 * into a compact copy first: only a run that answered its caller itself,
 * with nothing held for the journal.  A run that ever waited unanswered
 * had its 504 deadline armed, and then the deadline or shutdown's 503 may
 * be answering it on another thread right now: deliver() there still
 * uses the old run, so such a run keeps it. */
static bool waits_long(const FlRun *run)
{
    return run->wait_long && !run->wait_start && !run->holding
           && !atomic_load_explicit(&run->deadline_armed, memory_order_relaxed)
           && is_answered(run);
}

/* Moves run into a new one holding what FlStepInfo.keep of its delay
 * lists (keep.c) - the same run to everyone else: same id, position,
 * admission slot - and drops the old one's execution reference; returns
 * the new one, or old when the copy would be no smaller than it.  The
 * old one lives on while its request holds it (until libmicrohttpd has
 * sent the answer), and is then freed, back to its thread's cache at
 * once.  The fields are copied one by one, not as a block: the request's
 * thread may be releasing the old run meanwhile (its reference count), and
 * a field added to FlRun must be considered here. */
static FlRun *run_compact(FlRun *old)
{
    const FlStepInfo *delay = &old->wf->steps[old->current];
    int n = old->wf->step_count;
    size_t kept = keep_size(delay, old->outputs, n);
    if (kept + COMPACT_SLACK >= RUN_FIRST_BLOCK && !old->arena.blocks)
        return old;            /* no smaller (values kept whole, shared
                                  ones copied for each use) */
    FlRun *run = runmem_get(sizeof *run + kept + COMPACT_SLACK);
    *run = (FlRun){
        .wf = old->wf, .next = old->next, .current = old->current,
        .refs = 1, .answered = true,   /* deadline_armed: never (waits_long) */
        .received_ms = old->received_ms, .started_ms = old->started_ms,
        .wake_ms = old->wake_ms, .slot = atomic_exchange(&old->slot, LIM_NONE),
        .step_started_us = old->step_started_us, .waited = old->waited,
        .task = { .run = run_task },
        .wake = { .fire = wake_fire, .heap_index = -1 },
        .deadline = { .fire = deadline_fire, .heap_index = -1 },
        .workflow_v = old->workflow_v, .jphase = old->jphase,
        .jstep = old->jstep, .attempt = old->attempt, .attempt_v = old->attempt_v,
        .compact = true,
    };
    memcpy(run->id, old->id, sizeof run->id);
    memcpy(run->started_at, old->started_at, sizeof run->started_at);
    run->id_v = (FlValue)FL_STRING_LEN_LIT(run->id, old->id_v.len);
    run->started_v = (FlValue)FL_STRING_LEN_LIT(run->started_at, old->started_v.len);
    run->outputs = keep_copy(delay, old->outputs, n, run->first);
    fl_arena_init(&run->arena, run->first + kept, COMPACT_SLACK);
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
        commit(run);          /* its connection waits suspended already */
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
 * (docs/performance.md). */
static void run_prefetch(const FlRun *run)
{
    const char *p = (const char *)run;
    size_t warm = run->compact ? (size_t)(run->arena.first - run->first) : WARM_ARENA;
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
    run->wake_ms = sched_now_ms() + wait_ms;
    run->wait_long = wait_ms >= COMPACT_MIN_MS;
    run->next = next;
}

void run_set_wait(FlRun *run, void (*start)(void *arg), void *arg)
{
    run->wait_start = start;
    run->wait_arg = arg;
}

void run_resume(FlRun *run, int next)
{
    run->next = next;
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
    return run->id;
}

const char *run_step_key(const FlRun *run)
{
    return run->wf->steps[run->current].key;
}

/* ---- the journal (spec 7) -------------------------------------------------
 *
 * With a journal, an acknowledgement (a webhook_response, the default 202)
 * is held: run_answer() keeps the answer in the run, the step loop stops
 * right after the step that gave it, and the run waits - holding no
 * thread, its connection suspended - for its commit: the trigger, the
 * outputs so far and the position, queued by commit() and made durable by
 * the journal thread together with every other commit pending (group
 * commit).  committed() then sends the answer and lets the run go on; a
 * failed write answers 503 instead and the run's tail never runs.  A run
 * that has nothing left to do when it answers writes nothing: there would
 * be nothing to resume.
 *
 * After the acknowledgement each step's output is journaled (without
 * waiting for the disk) as soon as the run's position after it is known:
 * when its step function returns, or - for a step whose output arrives
 * while the run waits - when the run is re-entered.  A delay's record
 * carries its due time. */

/* What the journal keeps of run, at position next (and until wake_ms, a
 * sched_now_ms() time, when a delay waits). */
static void journal_view(const FlRun *run, JournalRun *v, int next, int64_t wake_ms)
{
    *v = (JournalRun){
        .id = run->id, .workflow = run->wf->name, .started_at = run->started_at,
        .attempt = run->attempt, .outputs = run->outputs,
        .step_count = run->wf->step_count, .next = next,
        .next_key = next >= 0 ? run->wf->steps[next].key : "",
        .wake_at = wake_ms ? fl_time_now_ms() + (wake_ms - sched_now_ms()) : 0,
    };
}

/* Journals the output EV_STEP_DONE noted, now that the run's position is
 * known; nothing when the run is about to end (its end deletes it). */
static void journal_progress(FlRun *run, int next, int64_t wake_ms)
{
    JournalRun v;
    if (!run->jstep)
        return;
    if (next >= 0) {
        journal_view(run, &v, next, wake_ms);
        journal_step(&v, run->jstep);
    }
    run->jstep = 0;
}

static void journal_event(FlRun *run, RunEvent ev, int arg)
{
    JournalRun v;
    switch (ev) {
    case EV_WAITING:
        if (run->jphase == JP_NONE) {
            journal_view(run, &v, run->next, 0);
            journal_waiting(&v);
            run->jphase = JP_STARTED;
        }
        break;
    case EV_STEP_DONE:
        if (run->jphase != JP_ACKED)
            break;                       /* the acknowledgement carries it */
        if (run->jstep && run->jstep != arg)
            journal_progress(run, arg, 0);
        run->jstep = arg;
        break;
    case EV_FINISHED:
    case EV_FAILED:
        if (run->jphase != JP_NONE)
            journal_finish(run->id);
        break;
    case EV_ACCEPTED:
    case EV_ANSWERED:
    case EV_ABANDONED:
        break;
    }
}

/* Sends the held answer. */
static void release(FlRun *run)
{
    run->holding = false;
    deliver(run, run->held, run->held_status);
    run->held = NULL;
}

/* After the step loop stopped at rc: whether a held answer must be
 * committed before the run goes on (held_rc says where); a run that is
 * over gets its answer at once. */
static bool must_commit(FlRun *run, int rc)
{
    if (!run->holding)
        return false;
    if (rc == FL_NEXT_END || rc == FL_NEXT_FAIL) {
        release(run);
        return false;
    }
    run->held_rc = rc;
    return true;
}

/* The journal thread: the commit is durable (or failed). */
static void committed(void *arg, bool durable)
{
    FlRun *run = arg;
    if (!durable) {
        if (run->held)
            MHD_destroy_response(run->held);
        run->held = NULL;
        run->holding = false;
        deliver(run, error_response(run, 503, "the run could not be journaled"), 503);
        run_event(run, EV_ABANDONED, 1);
        run_end(run);
        return;
    }
    run->jphase = JP_ACKED;
    release(run);
    if (run->held_rc == FL_NEXT_WAIT)
        run_park(run);
    else
        sched_post(&run->task);
}

/* Queues the acknowledgement.  The run's position: held_rc, or for a wait
 * the step after a delay (which recorded its output and due time) or the
 * waiting step itself, which runs again after a crash. */
static void commit(FlRun *run)
{
    JournalRun v;
    int next = run->held_rc;
    int64_t wake_ms = 0;
    if (next == FL_NEXT_WAIT) {
        bool done = run->outputs[run->current] != NULL;
        next = done ? run->next : run->current;
        wake_ms = done ? run->wake_ms : 0;
    }
    run->jstep = 0;                      /* its outputs go with it */
    journal_view(run, &v, next, wake_ms);
    journal_acknowledge(&v, committed, run);
}

FlRun *run_restore(const FlWorkflow *wf, const JournalSaved *s)
{
    FlRun *run = run_new(wf);
    size_t n = (size_t)wf->step_count;
    run->outputs = fl_arena_alloc(&run->arena, n * sizeof *run->outputs);
    memset(run->outputs, 0, n * sizeof *run->outputs);
    if (journal_decode(s, &run->arena, run->outputs, wf->step_count) < 0
        || !run->outputs[0]) {
        run_release(run);
        return NULL;
    }
    snprintf(run->id, sizeof run->id, "%s", s->id);
    snprintf(run->started_at, sizeof run->started_at, "%s", s->started_at);
    run->id_v = (FlValue)FL_STRING_LEN_LIT(run->id, (uint32_t)strlen(run->id));
    run->started_v = (FlValue)FL_STRING_LEN_LIT(run->started_at,
                                               (uint32_t)strlen(run->started_at));
    run->workflow_v = (FlValue)FL_STRING_LEN_LIT(wf->name, (uint32_t)strlen(wf->name));
    run->attempt = s->attempt;
    run->attempt_v = (FlValue)FL_NUMBER_LIT(s->attempt);
    run->next = s->next;
    run->started_ms = run->received_ms = sched_now_ms();
    if (s->wake_at) {
        int64_t left = s->wake_at - fl_time_now_ms();
        run->wake_ms = run->started_ms + (left > 0 ? left : 0);
    }
    atomic_store(&run->answered, true);       /* answered before the crash */
    run->jphase = JP_ACKED;
    atomic_fetch_add(&inflight, 1);
    return run;
}

void run_restart(FlRun *run, bool discard)
{
    char msg[96];
    if (discard) {
        abandon(run);
        return;
    }
    snprintf(msg, sizeof msg, "resumes at %s (attempt %d)",
             run->next >= 0 ? run->wf->steps[run->next].key : "its end", run->attempt);
    event_log(run, FL_LOG_INFO, "recovered", false, msg, -1);
    metrics_run(run->wf, MET_STARTED, 0);
    if (run->wake_ms)
        sched_at(&run->wake, run->wake_ms);
    else
        sched_post(&run->task);
}

/* ---- what step functions call (flusso_run.h) ---------------------------- */

FlArena *fl_run_arena(FlRun *run)
{
    return &run->arena;
}

const FlValue *fl_out(const FlRun *run, int index)
{
    assert(index >= 0 && index < run->wf->step_count);
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
    assert(index > 0 && index < run->wf->step_count);
    if (run->wf->steps[index].on_error_continue)
        output = with_error(&run->arena, output, &fl_null);
    run->outputs[index] = output;
    run->current = index;
    run_event(run, EV_STEP_DONE, index);
}

/* A failed on_error continue step's output: its type's fixed fields
 * (spec 3, flusso_format.h) as null, and the error. */
static const FlValue *failed_output(FlArena *a, FlStepType type,
                                    const FlValue *message)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 4);
    for (const char *const *f = fl_step_outputs(type); *f; f++)
        fl_object_add(&ob, *f, strlen(*f), &fl_null);
    fl_object_add(&ob, "error", 5, message);
    return fl_object_finish(&ob);
}

int fl_step_failed(FlRun *run, int index, const char *message, int next)
{
    assert(index > 0 && index < run->wf->step_count);
    const FlStepInfo *s = &run->wf->steps[index];
    if (!message || !*message)
        message = "step failed";
    const FlValue *m = fl_string(&run->arena, message, strlen(message));
    run->current = index;
    run->error = m->u.s;
    if (!s->on_error_continue)
        return FL_NEXT_FAIL;
    run->outputs[index] = failed_output(&run->arena, s->type, m);
    event_log(run, FL_LOG_WARN, "step_error", true, message, -1);
    run_event(run, EV_STEP_DONE, index);
    return next;
}
