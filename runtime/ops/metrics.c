/* metrics.c - the counters behind GET /metrics, and their text format.
 *
 * Counting costs no lock, no allocation, no system call, and no shared
 * write: every thread counts in a shard of its own, so the hot path never
 * bounces a cache line between the HTTP threads and the workers (one
 * shared relaxed atomic per counter did: each bump was a locked
 * read-modify-write on a line another core had just written).  A shard
 * holds every table - answers by status, timeouts, and per workflow the
 * run counters, the run histogram and the step histograms - and only its
 * own thread writes it, with a relaxed load and a relaxed store (one
 * writer needs no lock prefix; the atomics only keep the renderer's
 * concurrent reads defined).  A thread makes its shard on its first count
 * and adds it, under a mutex, to the list of all shards; the runtime's
 * threads are a fixed set (libmicrohttpd's pool, the workers, the timer,
 * the sweeper), so the list stays short.  Shards live until
 * metrics_free(), which runs once every thread has stopped.
 *
 * metrics_init() and metrics_free() each start a new generation; a
 * thread whose shard is of an older one makes a new shard.  So counting
 * before metrics_init() or after metrics_free() (unit tests do) is
 * harmless: such a shard has no workflow tables, and is freed with the
 * others.
 *
 * The tables are made at start from the program - one entry per workflow
 * and per step - so the label sets are fixed and their number bounded by
 * the program itself: nothing a request sends becomes a label.
 * Rendering (metrics_render) sums the shards into one without stopping
 * anyone; a scrape may see one counter a little ahead of another, as
 * Prometheus expects.
 *
 * Latencies are kept in microseconds in fixed buckets (1 ms ... 60 s) and
 * printed in seconds, cumulative, as Prometheus histograms. */
#include "ops/metrics.h"
#include "value/value.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { STATUS_MIN = 100, STATUS_MAX = 599, BUCKETS = 14, LINE = 64 };

static const int64_t bucket_us[BUCKETS] = {
    1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
static const char *const bucket_le[BUCKETS] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10", "30", "60",
};

typedef struct {
    atomic_ulong bucket[BUCKETS + 1];    /* not cumulative; last: +Inf */
    atomic_ulong count;
    atomic_ulong sum_us;
} Histogram;

typedef struct {
    const FlWorkflow *wf;
    atomic_ulong requests[STATUS_MAX - STATUS_MIN + 1];   /* answers by status */
    atomic_ulong requests_other;
    Histogram answer_time;               /* request line to answer queued */
    atomic_ulong runs[MET_RUN_EVENTS];
    atomic_ulong duplicates;             /* 8.3: answered from the record */
    Histogram run_time;
    Histogram *step_time;                /* by step index; [0] unused */
} WorkflowMetrics;

/* One thread's counters (in metrics_render, the sum of all of them). */
typedef struct Shard {
    atomic_ulong requests[STATUS_MAX - STATUS_MIN + 1];
    atomic_ulong requests_other;         /* a status outside 100..599 */
    atomic_ulong timeouts[2];            /* headers, body */
    Histogram commit_time;               /* the journal's commits */
    WorkflowMetrics *wfs;                /* as met.wfs, or NULL: none */
    int nwfs;
    int last;                            /* entry()'s last find; owner only */
    struct Shard *next;                  /* in met.shards */
} Shard;

/* Read on every count, so on cache lines of its own: sharing one with
 * another file's busy atomics (the linker puts small globals together)
 * would bring back the bouncing that shards avoid.  All zero, so in .bss:
 * it does not move the initialized globals of other files either. */
static _Alignas(LINE) struct {
    atomic_ulong gen;                    /* bumped by metrics_init and _free */
    const FlWorkflow *const *wfs;        /* the program's, borrowed */
    int nwfs;
    pthread_mutex_t lock;                /* held to add to or walk shards */
    Shard *shards;
    char pad[LINE];                      /* nothing else on the last line */
} met = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Thread_local Shard *mine;        /* this thread's shard */
static _Thread_local unsigned long mine_gen = ULONG_MAX;   /* its met.gen */

/* ---- shards --------------------------------------------------------------- */

/* Zeroed memory in whole cache lines, so that no other thread's data
 * shares a line with a shard. */
static void *zalloc_lines(size_t n)
{
    n = n ? (n + LINE - 1) & ~(size_t)(LINE - 1) : LINE;
    void *p = rt_check(aligned_alloc(LINE, n));
    memset(p, 0, n);
    return p;
}

/* Gives s the workflow tables of the program metrics_init() took. */
static void shard_add_tables(Shard *s)
{
    s->nwfs = met.nwfs;
    if (!s->nwfs)
        return;
    s->wfs = zalloc_lines((size_t)s->nwfs * sizeof *s->wfs);
    for (int i = 0; i < s->nwfs; i++) {
        s->wfs[i].wf = met.wfs[i];
        s->wfs[i].step_time = zalloc_lines((size_t)met.wfs[i]->step_count
                                           * sizeof(Histogram));
    }
}

static void shard_drop_tables(Shard *s)
{
    for (int i = 0; i < s->nwfs; i++)
        free(s->wfs[i].step_time);
    free(s->wfs);
    s->wfs = NULL;
    s->nwfs = s->last = 0;
}

/* A new zeroed shard, with tables for the current program; the caller
 * holds met.lock and frees it with shard_free(). */
static Shard *shard_new(void)
{
    Shard *s = zalloc_lines(sizeof *s);
    shard_add_tables(s);
    return s;
}

static void shard_free(Shard *s)
{
    shard_drop_tables(s);
    free(s);
}

/* Makes this thread's shard and lists it: once per thread and generation. */
static __attribute__((noinline)) Shard *shard_register(void)
{
    pthread_mutex_lock(&met.lock);
    Shard *s = shard_new();
    s->next = met.shards;
    met.shards = s;
    mine = s;
    mine_gen = atomic_load_explicit(&met.gen, memory_order_relaxed);
    pthread_mutex_unlock(&met.lock);
    return s;
}

/* This thread's shard, made on first use. */
static Shard *shard(void)
{
    if (mine_gen != atomic_load_explicit(&met.gen, memory_order_relaxed))
        return shard_register();
    return mine;
}

void metrics_init(const FlProgram *p)
{
    pthread_mutex_lock(&met.lock);
    met.wfs = p->workflows;
    met.nwfs = p->workflow_count;
    for (Shard *s = met.shards; s; s = s->next)
        shard_drop_tables(s);            /* counted before: answers only */
    atomic_fetch_add_explicit(&met.gen, 1, memory_order_relaxed);
    pthread_mutex_unlock(&met.lock);
}

void metrics_free(void)
{
    pthread_mutex_lock(&met.lock);
    while (met.shards) {
        Shard *s = met.shards;
        met.shards = s->next;
        shard_free(s);
    }
    met.wfs = NULL;
    met.nwfs = 0;
    atomic_fetch_add_explicit(&met.gen, 1, memory_order_relaxed);
    pthread_mutex_unlock(&met.lock);
}

/* ---- counting ------------------------------------------------------------- */

/* Adds n to a counter only this thread writes: no locked instruction. */
static void bump(atomic_ulong *c, unsigned long n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* The workflow's entry in s, or NULL before metrics_init() (unit tests).
 * The index found last is tried first: one comparison in the usual case. */
static WorkflowMetrics *entry(Shard *s, const FlWorkflow *wf)
{
    if (s->last < s->nwfs && s->wfs[s->last].wf == wf)
        return &s->wfs[s->last];
    for (int i = 0; i < s->nwfs; i++)
        if (s->wfs[i].wf == wf) {
            s->last = i;
            return &s->wfs[i];
        }
    return NULL;
}

static void observe(Histogram *h, int64_t us)
{
    int b = 0;
    if (us < 0)
        us = 0;
    while (b < BUCKETS && us > bucket_us[b])
        b++;
    bump(&h->bucket[b], 1);
    bump(&h->count, 1);
    bump(&h->sum_us, (unsigned long)us);
}

/* Counts status in a table of requests by status. */
static void count_status(atomic_ulong *by_status, atomic_ulong *other, int status)
{
    if (status >= STATUS_MIN && status <= STATUS_MAX)
        bump(&by_status[status - STATUS_MIN], 1);
    else
        bump(other, 1);
}

void metrics_request(int status)
{
    Shard *s = shard();
    count_status(s->requests, &s->requests_other, status);
}

void metrics_answer(const FlWorkflow *wf, int status, int64_t took_us)
{
    Shard *s = shard();
    WorkflowMetrics *m = entry(s, wf);
    if (!m) {
        count_status(s->requests, &s->requests_other, status);
        return;
    }
    count_status(m->requests, &m->requests_other, status);
    observe(&m->answer_time, took_us);
}

void metrics_commit(int64_t took_us)
{
    observe(&shard()->commit_time, took_us);
}

void metrics_run(const FlWorkflow *wf, MetRunEvent ev, int64_t took_us)
{
    WorkflowMetrics *m = entry(shard(), wf);
    if (!m)
        return;
    bump(&m->runs[ev], 1);
    if (ev != MET_STARTED)
        observe(&m->run_time, took_us);
}

void metrics_duplicate(const FlWorkflow *wf)
{
    WorkflowMetrics *m = entry(shard(), wf);
    if (m)
        bump(&m->duplicates, 1);
}

void metrics_step(const FlWorkflow *wf, int step, int64_t took_us)
{
    WorkflowMetrics *m = entry(shard(), wf);
    if (m && step > 0 && step < wf->step_count)
        observe(&m->step_time[step], took_us);
}

void metrics_timeout(bool in_body)
{
    bump(&shard()->timeouts[in_body], 1);
}

/* ---- summing the shards --------------------------------------------------- */

static unsigned long get(const atomic_ulong *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void add_histogram(Histogram *to, const Histogram *from)
{
    for (int b = 0; b <= BUCKETS; b++)
        bump(&to->bucket[b], get(&from->bucket[b]));
    bump(&to->count, get(&from->count));
    bump(&to->sum_us, get(&from->sum_us));
}

/* Adds the counts of `from` (another thread's, still counting) to `to`
 * (the caller's own).  A shard of an older program has no tables. */
static void shard_add(Shard *to, const Shard *from)
{
    for (int i = 0; i <= STATUS_MAX - STATUS_MIN; i++)
        bump(&to->requests[i], get(&from->requests[i]));
    bump(&to->requests_other, get(&from->requests_other));
    for (int i = 0; i < 2; i++)
        bump(&to->timeouts[i], get(&from->timeouts[i]));
    add_histogram(&to->commit_time, &from->commit_time);
    for (int i = 0; i < from->nwfs && i < to->nwfs; i++) {
        const WorkflowMetrics *f = &from->wfs[i];
        WorkflowMetrics *t = &to->wfs[i];
        for (int k = 0; k <= STATUS_MAX - STATUS_MIN; k++)
            bump(&t->requests[k], get(&f->requests[k]));
        bump(&t->requests_other, get(&f->requests_other));
        add_histogram(&t->answer_time, &f->answer_time);
        for (int e = 0; e < MET_RUN_EVENTS; e++)
            bump(&t->runs[e], get(&f->runs[e]));
        bump(&t->duplicates, get(&f->duplicates));
        add_histogram(&t->run_time, &f->run_time);
        for (int s = 1; s < f->wf->step_count; s++)
            add_histogram(&t->step_time[s], &f->step_time[s]);
    }
}

/* The sum of every shard, as a new shard the caller frees. */
static Shard *shard_total(void)
{
    pthread_mutex_lock(&met.lock);
    Shard *t = shard_new();
    for (const Shard *s = met.shards; s; s = s->next)
        shard_add(t, s);
    pthread_mutex_unlock(&met.lock);
    return t;
}

/* ---- the text format ------------------------------------------------------ */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prints the series of h; labels is the inner label text, e.g.
 * workflow="a",step="b" (names and keys of the program need no escaping:
 * the compiler allows only [A-Za-z0-9_-] in them). */
static void print_histogram(FILE *f, const char *name, const char *labels,
                            const Histogram *h)
{
    unsigned long cum = 0;
    for (int b = 0; b <= BUCKETS; b++) {
        cum += get(&h->bucket[b]);
        fprintf(f, "%s_bucket{%s,le=\"%s\"} %lu\n", name, labels,
                b < BUCKETS ? bucket_le[b] : "+Inf", cum);
    }
    unsigned long us = get(&h->sum_us);
    fprintf(f, "%s_sum{%s} %lu.%06lu\n", name, labels, us / 1000000, us % 1000000);
    fprintf(f, "%s_count{%s} %lu\n", name, labels, get(&h->count));
}

/* The series of one table of requests by status; workflow "" for the
 * requests that reached no workflow (404, /healthz, ...). */
static void print_statuses(FILE *f, const char *workflow, const atomic_ulong *by_status,
                           const atomic_ulong *other)
{
    for (int s = STATUS_MIN; s <= STATUS_MAX; s++) {
        unsigned long n = get(&by_status[s - STATUS_MIN]);
        if (n)
            fprintf(f, "flusso_http_requests_total{workflow=\"%s\",status=\"%d\"} %lu\n",
                    workflow, s, n);
    }
    if (get(other))
        fprintf(f, "flusso_http_requests_total{workflow=\"%s\",status=\"other\"} %lu\n",
                workflow, get(other));
}

/* A histogram without labels. */
static void print_histogram_bare(FILE *f, const char *name, const Histogram *h)
{
    unsigned long cum = 0;
    for (int b = 0; b <= BUCKETS; b++) {
        cum += get(&h->bucket[b]);
        fprintf(f, "%s_bucket{le=\"%s\"} %lu\n", name,
                b < BUCKETS ? bucket_le[b] : "+Inf", cum);
    }
    unsigned long us = get(&h->sum_us);
    fprintf(f, "%s_sum %lu.%06lu\n", name, us / 1000000, us % 1000000);
    fprintf(f, "%s_count %lu\n", name, get(&h->count));
}

static void print_requests(FILE *f, const Shard *t)
{
    head(f, "flusso_http_requests_total", "counter",
         "HTTP answers the handler sent, by workflow (\"\": none) and status code.");
    print_statuses(f, "", t->requests, &t->requests_other);
    for (int i = 0; i < t->nwfs; i++)
        print_statuses(f, t->wfs[i].wf->name, t->wfs[i].requests, &t->wfs[i].requests_other);
    head(f, "flusso_connections_timed_out_total", "counter",
         "Connections closed for sending their request too slowly.");
    fprintf(f, "flusso_connections_timed_out_total{phase=\"headers\"} %lu\n",
            get(&t->timeouts[0]));
    fprintf(f, "flusso_connections_timed_out_total{phase=\"body\"} %lu\n",
            get(&t->timeouts[1]));
}

static void print_runs(FILE *f, const Shard *t)
{
    static const char *const names[MET_RUN_EVENTS] = {
        "flusso_runs_started_total", "flusso_runs_finished_total",
        "flusso_runs_failed_total", "flusso_runs_abandoned_total",
    };
    static const char *const helps[MET_RUN_EVENTS] = {
        "Runs accepted.", "Runs that ended normally.",
        "Runs ended by a failing step (on_error fail).",
        "Runs dropped unfinished at shutdown.",
    };
    for (int e = 0; e < MET_RUN_EVENTS; e++) {
        head(f, names[e], "counter", helps[e]);
        for (int i = 0; i < t->nwfs; i++)
            fprintf(f, "%s{workflow=\"%s\"} %lu\n", names[e], t->wfs[i].wf->name,
                    get(&t->wfs[i].runs[e]));
    }
}

/* 8.3: deliveries answered from a recorded answer, by workflow. */
static void print_duplicates(FILE *f, const Shard *t)
{
    head(f, "flusso_deliveries_duplicate_total", "counter",
         "Repeated deliveries answered with the recorded answer (dedupe).");
    for (int i = 0; i < t->nwfs; i++)
        fprintf(f, "flusso_deliveries_duplicate_total{workflow=\"%s\"} %lu\n",
                t->wfs[i].wf->name, get(&t->wfs[i].duplicates));
}

static void print_gauges(FILE *f, const MetGauges *g)
{
    head(f, "flusso_runs_in_flight", "gauge",
         "Runs admitted and not finished, asynchronous tails included (--max-inflight).");
    fprintf(f, "flusso_runs_in_flight %ld\n", g->inflight);
    head(f, "flusso_queued_work", "gauge",
         "Answered runs whose asynchronous tail has not finished (--max-queue).");
    fprintf(f, "flusso_queued_work %ld\n", g->queued);
    head(f, "flusso_worker_queue_depth", "gauge",
         "Run steps waiting for a free worker thread.");
    fprintf(f, "flusso_worker_queue_depth %ld\n", g->worker_queue);
    head(f, "flusso_connections", "gauge", "Open HTTP connections.");
    fprintf(f, "flusso_connections %ld\n", g->connections);
    head(f, "flusso_draining", "gauge", "1 while the handler drains after SIGTERM/SIGINT.");
    fprintf(f, "flusso_draining %d\n", g->draining ? 1 : 0);
    head(f, "flusso_runs_failed_kept", "gauge",
         "Runs that failed after their acknowledgement, kept in the journal (--runs).");
    fprintf(f, "flusso_runs_failed_kept %ld\n", g->failed_kept);
}

static void print_latencies(FILE *f, const Shard *t)
{
    char labels[512];
    head(f, "flusso_http_answer_duration_seconds", "histogram",
         "Time from a request's first line to its answer, by workflow.");
    for (int i = 0; i < t->nwfs; i++) {
        snprintf(labels, sizeof labels, "workflow=\"%s\"", t->wfs[i].wf->name);
        print_histogram(f, "flusso_http_answer_duration_seconds", labels,
                        &t->wfs[i].answer_time);
    }
    head(f, "flusso_run_duration_seconds", "histogram",
         "Time from a run's start to its end.");
    for (int i = 0; i < t->nwfs; i++) {
        snprintf(labels, sizeof labels, "workflow=\"%s\"", t->wfs[i].wf->name);
        print_histogram(f, "flusso_run_duration_seconds", labels, &t->wfs[i].run_time);
    }
    head(f, "flusso_step_duration_seconds", "histogram",
         "Time from a step's start to the run leaving it (waits included).");
    for (int i = 0; i < t->nwfs; i++) {
        const FlWorkflow *wf = t->wfs[i].wf;
        for (int s = 1; s < wf->step_count; s++) {
            snprintf(labels, sizeof labels, "workflow=\"%s\",step=\"%s\",type=\"%s\"",
                     wf->name, wf->steps[s].key, fl_step_type_name(wf->steps[s].type));
            print_histogram(f, "flusso_step_duration_seconds", labels,
                            &t->wfs[i].step_time[s]);
        }
    }
}

char *metrics_render(const MetGauges *g, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        rt_oom();
    Shard *t = shard_total();
    print_requests(f, t);
    print_runs(f, t);
    print_duplicates(f, t);
    print_gauges(f, g);
    print_latencies(f, t);
    head(f, "flusso_journal_commit_duration_seconds", "histogram",
         "Time a journal commit (fsync included) took.");
    print_histogram_bare(f, "flusso_journal_commit_duration_seconds", &t->commit_time);
    shard_free(t);
    if (fclose(f) != 0 || !text)
        rt_oom();
    return text;
}
