/* internal.h - what the runtime's own files share; generated code never
 * includes it.
 *
 * The runtime is five small modules around one object, the run:
 *
 *   cli.c      fl_main: options, environment, regexes, then the server
 *   server.c   libmicrohttpd: routing, bodies, suspend/resume, answers
 *   listen.c   the listening address, claimed before the daemons share it
 *   request.c  a request turned into the trigger's output (spec 3)
 *   run.c      the run: life cycle, step loop, answers, the journal seam
 *   runmem.c   memory for runs: a cache per thread, refilled by freeing
 *   keep.c     what a run keeps of its outputs while it waits in a delay
 *   sched.c    worker threads and the timer thread
 *   steps.c    the step helpers generated code calls (fl_respond, ...)
 *   log.c      JSON log lines and `log` step files
 *   recover.c  the journal at start: resuming runs, --runs (journal.h)
 *   http.c     http_request: libcurl's multi interface on one thread
 *   verify.c   trigger `verify`: the signature schemes, keys made at start
 *   limits.c   bounded work: --max-inflight, --max-queue
 *   metrics.c  the counters behind /metrics
 *   guard.c    header and body deadlines for slow clients
 *
 * Who owns a run, and how it answers: run.h. */
#ifndef FLUSSO_INTERNAL_H
#define FLUSSO_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "flusso.h"


/* ---- options (cli.c) ---------------------------------------------------- */

typedef struct {
    const char *listen;      /* [HOST:]PORT, already defaulted */
    int workers;             /* MHD threads, and run workers, each */
    FlLogLevel log_level;
    long grace_ms;           /* drain bound on SIGTERM/SIGINT */
    long max_inflight;       /* limits.c: 503 past these */
    long max_queue;
    long header_timeout_ms;  /* guard.c: slow clients are cut off */
    long body_timeout_ms;
    const char *journal;     /* --journal: a path, "none", NULL: default */
    bool runs;               /* --runs: list the journal's runs and stop */
} FlOptions;

/* The program fl_main() serves; set once before any thread starts. */
extern const FlProgram *rt_program;

/* Prints "flusso: out of memory" and aborts (the arena's policy). */
void rt_oom(void);
static inline void *rt_check(void *p)
{
    if (!p)
        rt_oom();
    return p;
}

/* ---- scheduler (sched.c) -------------------------------------------------
 *
 * Tasks run on a fixed pool of worker threads; timers fire on one timer
 * thread.  Both are intrusive: the owner embeds them (run.c in the run).
 * `discard` is true when the scheduler stops with the item still pending:
 * the callback must then only release what the item held. */

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
    int64_t due_ms;          /* sched_now_ms() clock */
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
/* Arms t to fire at due_ms (sched_now_ms() clock); t must not be armed. */
void sched_at(FlTimer *t, int64_t due_ms);
/* Disarms t.  True when it was armed (so it will never fire); false when
 * it already fired or is firing. */
bool sched_cancel(FlTimer *t);
/* Tasks queued, for --max-queue and /metrics later. */
long sched_queue_depth(void);
/* Stops the threads (each finishes the tasks it took) and discards every
 * task and timer still pending. */
void sched_stop(void);
/* Milliseconds on the monotonic clock. */
int64_t sched_now_ms(void);
struct timespec;
/* The wall-clock time us microseconds from now: a deadline for
 * pthread_cond_timedwait() on a condition variable of the default clock. */
void sched_realtime_in(struct timespec *ts, long us);

/* ---- memory for runs (runmem.c) ---------------------------------------- */

/* A block of at least size bytes, from this thread's cache when it has
 * one of that size class. */
void *runmem_get(size_t size);
/* Gives a block back to the cache of the thread that made it; any thread. */
void runmem_put(void *p);
/* Blocks of size's class in this thread's cache, returned ones included
 * (for tests). */
int runmem_cached(size_t size);
/* Frees every cache and the blocks in them; only once every thread that
 * could make or free a run has stopped.  Blocks freed later go to free(). */
void runmem_free_all(void);

/* ---- what a waiting run keeps (keep.c) ---------------------------------- */

/* The bytes keep_copy() needs for what step (a delay) keeps of the n
 * outputs: their table and the values. */
size_t keep_size(const FlStepInfo *step, const FlValue *const *outputs, int n);
/* Copies that into to (keep_size() bytes, 8-aligned) and returns the new
 * outputs table, in to; it borrows nothing from outputs. */
const FlValue **keep_copy(const FlStepInfo *step, const FlValue *const *outputs,
                          int n, void *to);

/* ---- runs (run.c): what the step helpers call ---------------------------
 *
 * run.h is the engine's contract with its callers; these are its other
 * half, for steps.c and http.c. */

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

/* ---- server (server.c) ---------------------------------------------------*/

/* Serves the program until SIGTERM/SIGINT.  Returns the exit status. */
int srv_run(const FlOptions *opt);

/* ---- listening (listen.c) ------------------------------------------------*/

/* Splits [HOST:]PORT ([::1]:PORT for IPv6) and resolves it; the printable
 * host goes to host.  0 or -1. */
int listen_resolve(const char *spec, struct sockaddr_storage *ss,
                   socklen_t *sslen, char host[80]);
/* Binds ss once without SO_REUSEPORT and lets it go: fails (-1, errno)
 * when the address is taken; port 0 becomes the port the kernel chose. */
int listen_claim(struct sockaddr_storage *ss, socklen_t sslen);
unsigned listen_port(const struct sockaddr_storage *ss);
/* Raises the open-file limit to its hard limit; returns the new soft one. */
unsigned long listen_raise_nofile(void);

/* ---- request (request.c) -------------------------------------------------*/

/* One request header as received (name in its original case). */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;       /* NUL-terminated as well */
    size_t value_len;
} ReqHeader;

/* The trigger output of spec 3 for a request, built in a: method, path
 * and query from uri (the raw request target; path_len bytes of path),
 * headers the n of hs in arrival order (borrowed: they must live as long
 * as the result, while uri's and method's bytes are copied), body and
 * raw_body from raw (a string in a).  Returns NULL when the body is
 * declared JSON but does not parse.  The server collects the headers
 * from libmicrohttpd; tests and the fuzzer pass their own. */
const FlValue *req_trigger_of(FlArena *a, const char *method, const char *uri,
                              size_t path_len, const ReqHeader *hs, size_t n,
                              const FlValue *raw, int64_t received_unix_ms);
/* Whether a Content-Type value names JSON: application/json or any
 * type/subtype ending in +json, case-insensitive, parameters ignored. */
bool req_type_is_json(const char *content_type);

/* ---- signatures (verify.c) ---------------------------------------------------
 *
 * A request header by name (any letter case), or NULL when absent. */
typedef const char *VerifyHeaderFn(void *ctx, const char *name);

/* Computes every workflow's verify secret once (after the environment is
 * read) and keeps its key until verify_free().  0, or 2 after naming the
 * workflow whose secret cannot be a key (empty; not base64 for
 * standard_webhooks) - never printing the secret. */
int verify_init(const FlProgram *p);
void verify_free(void);
/* Whether the request to wf (which has a verify) carries a valid signature
 * on raw, its exact body; a failure is logged with its reason.  Any thread. */
bool verify_request(const FlWorkflow *wf, const FlValue *raw,
                    VerifyHeaderFn *header, void *ctx);
/* The check itself, for tests: NULL when the signature is valid, else a
 * fixed reason ("signature mismatch", ...).  key is borrowed, now_s is the
 * Unix time in seconds. */
const char *verify_check(const FlVerify *v, FlBytes key, const FlValue *raw,
                         VerifyHeaderFn *header, void *ctx, int64_t now_s);

/* ---- outbound HTTP (http.c) ------------------------------------------------
 *
 * One thread drives every http_request transfer (libcurl multi).  The
 * program's http_start (fl_http_start, flusso.h) runs after sched_start(),
 * its http_stop after sched_stop(): transfers still running are aborted
 * and their runs abandoned.  Programs without http_request have neither. */

/* ---- the journal at start (recover.c, spec 7) ----------------------------
 *
 * journal: the --journal option (a path, "none", or NULL for the binary's
 * name with ".journal" in the working directory). */

/* Opens the journal and rebuilds the runs it kept; 0, or 2 after printing
 * why (unopenable, in use, damaged). */
int recover_open(const char *journal, const char *argv0);
/* Starts the rebuilt runs (the scheduler runs). */
void recover_resume(void);
/* Drops rebuilt runs never started and closes the journal. */
void recover_close(void);
/* --runs: prints one line per pending or abandoned run; 0 or 2. */
int recover_list(const char *journal, const char *argv0);

/* ---- log (log.c) ---------------------------------------------------------*/

extern FlLogLevel log_min;
static inline bool log_enabled(FlLogLevel level)
{
    return level >= log_min;
}

typedef struct {
    const char *run_id;      /* NULL: absent, and so on */
    const char *workflow;
    const char *step;
    const char *event;
    const char *message;
    size_t message_len;
    long long duration_ms;   /* < 0: absent */
} LogLine;

/* Writes one JSON line to stderr (the caller checked log_enabled()). */
void log_write(FlLogLevel level, const LogLine *line);
/* A line without a run: event and a printf-style message. */
void log_event(FlLogLevel level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends msg (its newlines as \n) and a newline to path in one write.
 * Returns 0, or -1 with errno set. */
int log_append_file(FlArena *a, const char *path, const char *msg, size_t len);
/* Parses "debug" ... "error"; -1 when unknown. */
int log_level_parse(const char *s);
const char *log_level_name(FlLogLevel level);
/* Closes the cached `log` step files. */
void log_close_files(void);

/* ---- bounded work (limits.c) ----------------------------------------------
 *
 * Runs in flight (admitted, not finished) and queued work (answered, tail
 * not finished), each bounded; see limits.c.  A run's slot state is an
 * atomic int holding one of LimSlot. */

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

/* ---- metrics (metrics.c) --------------------------------------------------*/

typedef enum {
    MET_STARTED, MET_FINISHED, MET_FAILED, MET_ABANDONED, MET_RUN_EVENTS
} MetRunEvent;

/* The gauges metrics_render() prints, read by the caller. */
typedef struct {
    long inflight, queued, worker_queue, connections;
    bool draining;
} MetGauges;

/* Makes the per-workflow and per-step tables; before it, the counters of
 * runs and steps count nothing. */
void metrics_init(const FlProgram *p);
void metrics_free(void);
/* The monotonic clock in microseconds. */
int64_t metrics_now_us(void);
/* One answer sent with this status. */
void metrics_request(int status);
/* A run of wf started or ended (took_us: its duration; ignored for
 * MET_STARTED). */
void metrics_run(const FlWorkflow *wf, MetRunEvent ev, int64_t took_us);
/* The run left step index of wf after took_us. */
void metrics_step(const FlWorkflow *wf, int step, int64_t took_us);
/* A connection was cut off for slowness, in its body or its headers. */
void metrics_timeout(bool in_body);
/* The Prometheus text (version 0.0.4); returns new malloc()ed text of
 * *len bytes, the caller frees it. */
char *metrics_render(const MetGauges *g, size_t *len);

/* ---- slow clients (guard.c) -----------------------------------------------*/

typedef struct Guard Guard;
typedef enum { GUARD_NONE, GUARD_HEADERS, GUARD_BODY } GuardPhase;

/* Starts the sweeper thread: connections still in GUARD_HEADERS after
 * header_ms, or in GUARD_BODY after body_ms, are shut down.  0 or -1. */
int guard_start(long header_ms, long body_ms);
void guard_stop(void);
/* A new connection on socket fd, in GUARD_HEADERS from now; returns its
 * guard (new; guard_close() frees it). */
Guard *guard_open(int fd);
/* The connection is closing: called before its descriptor is closed. */
void guard_close(Guard *g);
/* The connection enters phase (its deadline counts from now).  Any
 * thread; g may be NULL. */
void guard_set(Guard *g, GuardPhase phase);
/* Stores the server's per-request state in g and returns the one stored
 * before (NULL if none); g may be NULL.  Only the connection's thread
 * calls it.  libmicrohttpd 0.9.75 sometimes drops a request without its
 * completion callback (a 431 to a client that hung up): the state still
 * stored when the connection closes is the server's to free. */
void *guard_swap_request(Guard *g, void *request);
long guard_connections(void);

#endif
