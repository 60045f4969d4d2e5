/* test_ops.c - the runtime's operating machinery without a server:
 * admission bounds (limits.c), the /metrics text (metrics.c), and the
 * request -> trigger output path on plain bytes (request.c). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "ops/limits.h"
#include "ops/metrics.h"
#include "unit.h"

/* ---- limits --------------------------------------------------------------- */

static void test_inflight_bound(void)
{
    atomic_int a = LIM_NONE, b = LIM_NONE;
    lim_init(2, 100);
    CU_ASSERT_TRUE(lim_reserve());
    atomic_store(&a, LIM_INFLIGHT);
    CU_ASSERT_TRUE(lim_reserve());
    atomic_store(&b, LIM_INFLIGHT);
    CU_ASSERT_FALSE(lim_reserve());              /* the third: 503 */
    CU_ASSERT_EQUAL(lim_inflight(), 2);
    lim_release(&a);
    CU_ASSERT_EQUAL(lim_inflight(), 1);
    lim_release(&a);                             /* twice: counts once */
    CU_ASSERT_EQUAL(lim_inflight(), 1);
    CU_ASSERT_TRUE(lim_reserve());
    lim_unreserve();                             /* e.g. a 413 after it */
    lim_release(&b);
    CU_ASSERT_EQUAL(lim_inflight(), 0);
    lim_init(LIM_DEFAULT_INFLIGHT, LIM_DEFAULT_QUEUE);
}

static void test_queue_bound(void)
{
    atomic_int s[3] = { LIM_NONE, LIM_NONE, LIM_NONE };
    lim_init(100, 2);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(lim_reserve());
        atomic_store(&s[i], LIM_INFLIGHT);
    }
    lim_answered(&s[0]);
    lim_answered(&s[0]);                         /* a second answer: nothing */
    CU_ASSERT_EQUAL(lim_queued(), 1);
    lim_answered(&s[1]);
    CU_ASSERT_EQUAL(lim_queued(), 2);
    CU_ASSERT_FALSE(lim_reserve());              /* the queue is full */
    lim_answered(&s[2]);                         /* admitted before: counted */
    CU_ASSERT_EQUAL(lim_queued(), 3);
    for (int i = 0; i < 3; i++)
        lim_release(&s[i]);
    CU_ASSERT_EQUAL(lim_queued(), 0);
    CU_ASSERT_EQUAL(lim_inflight(), 0);
    lim_answered(&s[0]);                         /* after the end: nothing */
    CU_ASSERT_EQUAL(lim_queued(), 0);
    CU_ASSERT_TRUE(lim_reserve());
    lim_unreserve();
    lim_init(LIM_DEFAULT_INFLIGHT, LIM_DEFAULT_QUEUE);
}

/* ---- metrics -------------------------------------------------------------- */

static const FlStepInfo steps[] = {
    { .key = "trigger", .type = FL_STEP_TRIGGER, .path = "trigger",
      .fn = NULL, .on_error_continue = false, .keep = NULL },
    { .key = "ack", .type = FL_STEP_RESPONSE, .path = "steps[0]",
      .fn = NULL, .on_error_continue = false, .keep = NULL },
};
static const FlWorkflow wf = { .name = "wf-a", .path = "/a", .steps = steps, .step_count = 2 };
static const FlWorkflow *const wfs[] = { &wf };
static const FlProgram program = { .workflows = wfs, .workflow_count = 1 };

/* The value of one series in text, or -1. */
static long series(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtol(p + n + 1, NULL, 10);
    return -1;
}

/* The count of the `ack` step's duration bucket le (as the text writes it). */
static long ack_bucket(const char *text, const char *le)
{
    char name[256];
    snprintf(name, sizeof name, "flusso_step_duration_seconds_bucket{workflow=\"wf-a\","
             "step=\"ack\",type=\"webhook_response\",le=\"%s\"}", le);
    return series(text, name);
}

static void test_metrics_text(void)
{
    metrics_init(&program);
    metrics_request(200);
    metrics_request(200);
    metrics_request(503);
    metrics_request(42);
    metrics_run(&wf, MET_STARTED, 0);
    metrics_run(&wf, MET_FINISHED, 2000);
    metrics_step(&wf, 1, 500);                   /* <= 1 ms */
    metrics_step(&wf, 1, 70000000);              /* over 60 s */
    metrics_step(&wf, 5, 1);                     /* no such step: ignored */
    metrics_timeout(false);
    MetGauges g = { .inflight = 3, .queued = 1, .draining = true };
    size_t len;
    char *t = metrics_render(&g, &len);
    CU_ASSERT_EQUAL(strlen(t), len);
    CU_ASSERT_EQUAL(series(t, "flusso_http_requests_total{workflow=\"\",status=\"200\"}"), 2);
    CU_ASSERT_EQUAL(series(t, "flusso_http_requests_total{workflow=\"\",status=\"503\"}"), 1);
    CU_ASSERT_EQUAL(series(t, "flusso_http_requests_total{workflow=\"\",status=\"other\"}"), 1);
    CU_ASSERT_EQUAL(series(t, "flusso_http_requests_total{workflow=\"\",status=\"404\"}"), -1);
    CU_ASSERT_EQUAL(series(t, "flusso_runs_started_total{workflow=\"wf-a\"}"), 1);
    CU_ASSERT_EQUAL(series(t, "flusso_runs_finished_total{workflow=\"wf-a\"}"), 1);
    CU_ASSERT_EQUAL(series(t, "flusso_runs_failed_total{workflow=\"wf-a\"}"), 0);
    CU_ASSERT_EQUAL(series(t, "flusso_runs_in_flight"), 3);
    CU_ASSERT_EQUAL(series(t, "flusso_queued_work"), 1);
    CU_ASSERT_EQUAL(series(t, "flusso_draining"), 1);
    CU_ASSERT_EQUAL(series(t, "flusso_connections_timed_out_total{phase=\"headers\"}"), 1);
    CU_ASSERT_EQUAL(ack_bucket(t, "0.001"), 1);
    CU_ASSERT_EQUAL(ack_bucket(t, "60"), 1);
    CU_ASSERT_EQUAL(ack_bucket(t, "+Inf"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "flusso_step_duration_seconds_sum{workflow=\"wf-a\","
                                     "step=\"ack\",type=\"webhook_response\"} 70.000500\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE flusso_run_duration_seconds histogram\n"));
    free(t);
    metrics_free();
    metrics_run(&wf, MET_STARTED, 0);            /* after free: ignored */
}

/* Each thread counts in a shard of its own; the text is their sum.  Counts
 * made before metrics_init() (answers only) and after metrics_free() are
 * harmless. */
enum { COUNTERS = 4, COUNTS = 10000 };

static void *count_some(void *arg)
{
    (void)arg;
    for (int i = 0; i < COUNTS; i++) {
        metrics_request(i % 2 ? 200 : 404);
        metrics_run(&wf, MET_STARTED, 0);
        metrics_run(&wf, MET_FINISHED, 3);
        metrics_step(&wf, 1, 7000);              /* the 0.01 bucket */
    }
    metrics_timeout(true);
    return NULL;
}

static void test_metrics_threads(void)
{
    metrics_request(201);                        /* before init: kept */
    metrics_run(&wf, MET_STARTED, 0);            /* before init: ignored */
    metrics_init(&program);
    pthread_t t[COUNTERS];
    for (int i = 0; i < COUNTERS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, count_some, NULL), 0);
    count_some(NULL);                            /* this thread as well */
    for (int i = 0; i < COUNTERS; i++)
        pthread_join(t[i], NULL);
    MetGauges g = { 0 };
    size_t len;
    char *text = metrics_render(&g, &len);
    long n = (COUNTERS + 1) * COUNTS;
    CU_ASSERT_EQUAL(series(text, "flusso_http_requests_total{workflow=\"\",status=\"200\"}"), n / 2);
    CU_ASSERT_EQUAL(series(text, "flusso_http_requests_total{workflow=\"\",status=\"404\"}"), n / 2);
    CU_ASSERT_EQUAL(series(text, "flusso_http_requests_total{workflow=\"\",status=\"201\"}"), 1);
    CU_ASSERT_EQUAL(series(text, "flusso_runs_started_total{workflow=\"wf-a\"}"), n);
    CU_ASSERT_EQUAL(series(text, "flusso_runs_finished_total{workflow=\"wf-a\"}"), n);
    CU_ASSERT_EQUAL(series(text, "flusso_connections_timed_out_total{phase=\"body\"}"),
                    COUNTERS + 1);
    CU_ASSERT_EQUAL(ack_bucket(text, "0.005"), 0);
    CU_ASSERT_EQUAL(ack_bucket(text, "0.01"), n);
    CU_ASSERT_EQUAL(ack_bucket(text, "+Inf"), n);
    char name[256];
    snprintf(name, sizeof name, "flusso_run_duration_seconds_sum{workflow=\"wf-a\"} 0.%06ld\n",
             3 * n);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, name));
    free(text);
    metrics_free();
    metrics_request(200);                        /* after free: a new shard */
    metrics_step(&wf, 1, 1);
    text = metrics_render(&g, &len);
    CU_ASSERT_EQUAL(series(text, "flusso_http_requests_total{workflow=\"\",status=\"200\"}"), 1);
    CU_ASSERT_PTR_NULL(strstr(text, "wf-a"));
    free(text);
    metrics_free();
}

/* ---- the trigger output from plain bytes ---------------------------------- */

static void test_trigger_of(void)
{
    FlArena a;
    fl_arena_init(&a, NULL, 0);
    const ReqHeader hs[] = {
        { "X-Multi", 7, "one", 3 },
        { "Content-TYPE", 12, "application/json; charset=utf-8", 31 },
        { "x-multi", 7, "two", 3 },
        { "content-type", 12, "text/plain", 10 },   /* the first one counts */
    };
    const char *uri = "/p?a=1&a=2&b=%41+c";
    const FlValue *raw = fl_string(&a, "{\"k\":[1]}", 9);
    const FlValue *t = req_trigger_of(&a, "POST", uri, 2, hs, 4, raw, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    const FlValue *json = fl_json_text(&a, t);
    CU_ASSERT_STRING_EQUAL(json->u.s,
        "{\"method\":\"POST\",\"path\":\"/p\",\"query\":{\"a\":\"1\",\"b\":\"A c\"},"
        "\"headers\":{\"x-multi\":\"one, two\",\"content-type\":"
        "\"application/json; charset=utf-8, text/plain\"},\"body\":{\"k\":[1]},"
        "\"raw_body\":\"{\\\"k\\\":[1]}\",\"received_at\":\"1970-01-01T00:00:00.000Z\"}");
    raw = fl_string(&a, "{\"k\":", 5);
    CU_ASSERT_PTR_NULL(req_trigger_of(&a, "POST", "/p", 2, hs, 2, raw, 0));
    CU_ASSERT_PTR_NOT_NULL(req_trigger_of(&a, "POST", "/p", 2, NULL, 0, raw, 0));
    fl_arena_destroy(&a);
}

/* Past INDEX_FROM names the lookups go through a hash index: 20 names,
 * each sent twice (the second round after the index exists), in mixed
 * case; a query of 30 keys, every one repeated.  And values are copied:
 * the request's buffers go away before the run does. */
static void test_trigger_of_many(void)
{
    enum { NAMES = 20, KEYS = 30 };
    FlArena a;
    fl_arena_init(&a, NULL, 0);
    char names[NAMES][16], upper[NAMES][16], values[2 * NAMES][16];
    ReqHeader hs[2 * NAMES];
    for (int i = 0; i < NAMES; i++) {
        snprintf(names[i], sizeof names[i], "x-h%02d", i);
        snprintf(upper[i], sizeof upper[i], "X-H%02d", i);
    }
    for (int i = 0; i < 2 * NAMES; i++) {
        snprintf(values[i], sizeof values[i], "v%d", i);
        const char *name = i < NAMES ? upper[i] : names[i - NAMES];
        hs[i] = (ReqHeader){ name, strlen(name), values[i], strlen(values[i]) };
    }
    char uri[1024] = "/p?";
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < KEYS; k++)
            snprintf(uri + strlen(uri), sizeof uri - strlen(uri), "k%d=%d&", k, round);
    const FlValue *t = req_trigger_of(&a, "GET", uri, 2, hs, 2 * NAMES, &fl_empty_string, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    memset(values, 'z', sizeof values);                 /* the request is gone */
    const FlValue *headers = fl_get_field(t, "headers", 7);
    const FlValue *query = fl_get_field(t, "query", 5);
    CU_ASSERT_EQUAL(headers->len, NAMES);
    CU_ASSERT_EQUAL(query->len, KEYS);
    for (int i = 0; i < NAMES; i++) {
        char want[32];
        snprintf(want, sizeof want, "v%d, v%d", i, i + NAMES);
        const FlValue *v = fl_get_field(headers, names[i], strlen(names[i]));
        CU_ASSERT_EQUAL_FATAL(v->type, FL_STRING);
        CU_ASSERT_EQUAL(v->len, strlen(want));
        CU_ASSERT_NSTRING_EQUAL(v->u.s, want, strlen(want));
        CU_ASSERT_STRING_EQUAL(headers->u.members[i].key, names[i]);   /* order */
    }
    for (int k = 0; k < KEYS; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        const FlValue *v = fl_get_field(query, key, strlen(key));
        CU_ASSERT_EQUAL_FATAL(v->type, FL_STRING);
        CU_ASSERT_STRING_EQUAL(v->u.s, "0");               /* the first wins */
    }
    /* no name twice: the values are copied too */
    char name[] = "X-One", value[] = "abc";
    ReqHeader single = { name, 5, value, 3 };
    const FlValue *one = req_trigger_of(&a, "GET", "/p", 2, &single, 1, &fl_empty_string, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(one);
    memcpy(name, "X-Two", 5);
    memcpy(value, "xyz", 3);
    const FlValue *h = fl_get_field(one, "headers", 7);
    CU_ASSERT_EQUAL(h->len, 1);
    CU_ASSERT_STRING_EQUAL(fl_get_field(h, "x-one", 5)->u.s, "abc");
    fl_arena_destroy(&a);
}

static const UnitTest tests[] = {
    {"inflight_bound", test_inflight_bound},
    {"queue_bound", test_queue_bound},
    {"metrics_text", test_metrics_text},
    {"metrics_threads", test_metrics_threads},
    {"trigger_of", test_trigger_of},
    {"trigger_of_many", test_trigger_of_many},
    {NULL, NULL},
};

UNIT_SUITE("ops", tests)
