/* metrics.c - the counters behind GET /metrics, and their text format.
 *
 * Every counter is a relaxed atomic bumped where the event happens: no
 * lock, no allocation, no system call on the hot path.  The tables are
 * made once at start (metrics_init) from the program - one entry per
 * workflow and per step - so the label sets are fixed and their number
 * bounded by the program itself: nothing a request sends becomes a
 * label.  Rendering (metrics_render) reads the counters without stopping
 * anyone; a scrape may see one counter a little ahead of another, as
 * Prometheus expects.
 *
 * Latencies are kept in microseconds in fixed buckets (1 ms ... 60 s) and
 * printed in seconds, cumulative, as Prometheus histograms. */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { STATUS_MIN = 100, STATUS_MAX = 599, BUCKETS = 14 };

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
    atomic_ulong runs[MET_RUN_EVENTS];
    Histogram run_time;
    Histogram *step_time;                /* by step index; [0] unused */
} WorkflowMetrics;

static struct {
    atomic_ulong requests[STATUS_MAX - STATUS_MIN + 1];
    atomic_ulong requests_other;         /* a status outside 100..599 */
    atomic_ulong timeouts[2];            /* headers, body */
    WorkflowMetrics *wfs;
    int nwfs;
} met;

int64_t metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void metrics_init(const FlProgram *p)
{
    met.wfs = rt_check(calloc((size_t)p->workflow_count + 1, sizeof *met.wfs));
    for (int i = 0; i < p->workflow_count; i++) {
        met.wfs[i].wf = p->workflows[i];
        met.wfs[i].step_time = rt_check(calloc((size_t)p->workflows[i]->step_count,
                                               sizeof(Histogram)));
    }
    met.nwfs = p->workflow_count;
}

void metrics_free(void)
{
    for (int i = 0; i < met.nwfs; i++)
        free(met.wfs[i].step_time);
    free(met.wfs);
    met.wfs = NULL;
    met.nwfs = 0;
}

static void bump(atomic_ulong *c, unsigned long n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* The workflow's entry, or NULL before metrics_init() (unit tests). */
static WorkflowMetrics *entry(const FlWorkflow *wf)
{
    for (int i = 0; i < met.nwfs; i++)
        if (met.wfs[i].wf == wf)
            return &met.wfs[i];
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

void metrics_request(int status)
{
    if (status >= STATUS_MIN && status <= STATUS_MAX)
        bump(&met.requests[status - STATUS_MIN], 1);
    else
        bump(&met.requests_other, 1);
}

void metrics_run(const FlWorkflow *wf, MetRunEvent ev, int64_t took_us)
{
    WorkflowMetrics *m = entry(wf);
    if (!m)
        return;
    bump(&m->runs[ev], 1);
    if (ev != MET_STARTED)
        observe(&m->run_time, took_us);
}

void metrics_step(const FlWorkflow *wf, int step, int64_t took_us)
{
    WorkflowMetrics *m = entry(wf);
    if (m && step > 0 && step < wf->step_count)
        observe(&m->step_time[step], took_us);
}

void metrics_timeout(bool in_body)
{
    bump(&met.timeouts[in_body], 1);
}

/* ---- the text format ------------------------------------------------------ */

static unsigned long get(const atomic_ulong *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

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

static void print_requests(FILE *f)
{
    head(f, "flusso_http_requests_total", "counter",
         "HTTP answers the handler sent, by status code.");
    for (int s = STATUS_MIN; s <= STATUS_MAX; s++) {
        unsigned long n = get(&met.requests[s - STATUS_MIN]);
        if (n)
            fprintf(f, "flusso_http_requests_total{status=\"%d\"} %lu\n", s, n);
    }
    if (get(&met.requests_other))
        fprintf(f, "flusso_http_requests_total{status=\"other\"} %lu\n",
                get(&met.requests_other));
    head(f, "flusso_connections_timed_out_total", "counter",
         "Connections closed for sending their request too slowly.");
    fprintf(f, "flusso_connections_timed_out_total{phase=\"headers\"} %lu\n",
            get(&met.timeouts[0]));
    fprintf(f, "flusso_connections_timed_out_total{phase=\"body\"} %lu\n",
            get(&met.timeouts[1]));
}

static void print_runs(FILE *f)
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
        for (int i = 0; i < met.nwfs; i++)
            fprintf(f, "%s{workflow=\"%s\"} %lu\n", names[e], met.wfs[i].wf->name,
                    get(&met.wfs[i].runs[e]));
    }
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
}

static void print_latencies(FILE *f)
{
    char labels[512];
    head(f, "flusso_run_duration_seconds", "histogram",
         "Time from a run's start to its end.");
    for (int i = 0; i < met.nwfs; i++) {
        snprintf(labels, sizeof labels, "workflow=\"%s\"", met.wfs[i].wf->name);
        print_histogram(f, "flusso_run_duration_seconds", labels, &met.wfs[i].run_time);
    }
    head(f, "flusso_step_duration_seconds", "histogram",
         "Time from a step's start to the run leaving it (waits included).");
    for (int i = 0; i < met.nwfs; i++) {
        const FlWorkflow *wf = met.wfs[i].wf;
        for (int s = 1; s < wf->step_count; s++) {
            snprintf(labels, sizeof labels, "workflow=\"%s\",step=\"%s\",type=\"%s\"",
                     wf->name, wf->steps[s].key, wf->steps[s].type);
            print_histogram(f, "flusso_step_duration_seconds", labels,
                            &met.wfs[i].step_time[s]);
        }
    }
}

char *metrics_render(const MetGauges *g, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        rt_oom();
    print_requests(f);
    print_runs(f);
    print_gauges(f, g);
    print_latencies(f);
    if (fclose(f) != 0 || !text)
        rt_oom();
    return text;
}
