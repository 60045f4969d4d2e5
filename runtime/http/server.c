/* server.c - the HTTP side: libmicrohttpd's daemon and each request's life.
 *
 * The life cycle is libmicrohttpd's own: the URI log callback makes the
 * per-request state (FlConn) - and hands us the raw request target before
 * libmicrohttpd unescapes it -, the first access-handler call routes the
 * request, the next ones take the body into the run's arena, the final
 * call starts the run, and the completion callback frees the state.
 *
 * The hot path: a run whose steps before its answer do not wait runs
 * inline in that final call and its answer is queued right there - no
 * suspend, no hand-off.  A run that must wait first suspends its
 * connection; whoever answers (the run on a worker, the 504 timer,
 * shutdown) stores the answer in the FlConn and resumes the connection,
 * and the access handler, called again, queues it.  The run engine knows
 * none of this: it hands its answer over as plain data through the
 * RunCaller each FlConn embeds (run.h), and only this file turns answers
 * into libmicrohttpd responses.  A connection stays
 * suspended only while its caller waits, and sits meanwhile in the
 * waiting list, so that shutdown can answer every one of them before it
 * stops the daemon (which must not find a suspended connection).
 *
 * Answers given before a run exists (404, 405, 413, 400, 503, /healthz)
 * are made once at start and shared by every request.  Each connection
 * carries a Guard (guard.c: header and body deadlines), every answer
 * queued is counted (metrics.c), and admission is bounded (limits.c).
 * Each HTTP thread runs its daemon in a loop of ours, not libmicrohttpd's
 * (docs/burst-stall.md says why). */
#include "http/server.h"
#include "http/guard.h"
#include "http/listen.h"
#include "http/request.h"
#include "http/tls.h"
#include "http/verify.h"
#include "run/recover.h"
#include "run/run.h"
#include "run/sched.h"
#include "run/step.h"            /* run_id_text, run_trace_id: the access log */
#include "ops/limits.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "ops/notify.h"

#include <microhttpd.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum {
    CONN_LIMIT = 10000,            /* connections, suspended ones included */
    /* Per connection: request line and headers.  libmicrohttpd 0.9.75
     * zeroes the whole pool for every request, so a larger one costs CPU
     * on every request (64 KB: ~8% more, docs/performance.md). */
    CONN_MEMORY = 32 << 10,
    CONN_TIMEOUT_S = 30,           /* idle connections */
    DISCARD_MAX = 16 << 20,        /* body bytes read past a 413, at most */
    FLUSH_MS = 1000,               /* shutdown: time to send the last answers */
    TRIM_THRESHOLD = 4 << 20       /* free heap kept from the kernel (below) */
};

/* One HTTP thread: a daemon and the loop that runs it (below). */
typedef struct {
    struct MHD_Daemon *mhd;
    int epoll_fd;                /* the daemon's (MHD_DAEMON_INFO_EPOLL_FD) */
    int wake_fd;                 /* an eventfd: a connection resumed, or the end */
    pthread_t thread;
    bool running;                /* the thread was started: join it */
    atomic_bool stopping;        /* the loop must end */
} HttpLoop;

static void loop_wake(HttpLoop *l);

typedef enum {
    CONN_ROUTE,      /* the first call is due: route the request */
    CONN_BODY,       /* taking the body into the run's arena */
    CONN_REJECT,     /* answered without a run; the body is dropped */
    CONN_WAITING,    /* suspended until the run's answer is stored */
    CONN_DONE        /* an answer is queued */
} ConnState;

typedef struct FlConn FlConn;
struct FlConn {
    RunCaller caller;            /* how the run answers (run.h) */
    ConnState state;
    struct MHD_Connection *mhd;
    const FlWorkflow *wf;
    FlRun *run;                  /* a reference, or NULL */
    bool listed;                 /* in the waiting list */
    FlBuf body;
    size_t discarded;            /* CONN_REJECT: body bytes dropped */
    struct MHD_Response *reject; /* CONN_REJECT: the shared answer */
    int reject_status;
    _Atomic(struct MHD_Response *) answer;  /* the run's answer, once */
    int answer_status;
    FlConn *prev, *next;         /* the waiting list */
    HttpLoop *loop;              /* its HTTP thread, woken to resume it */
    Guard *guard;                /* the connection's deadlines (guard.c) */
    int64_t started_us;          /* the request line arrived (clock_us) */
    long long answer_bytes;      /* the body of the answer queued */
    char method[24];             /* for the access log */
    size_t path_len;
    char uri[];                  /* the raw request target */
};

/* Requests to one path: the workflows serving it and its 405. */
typedef struct {
    const char *path;
    size_t len;
    const FlWorkflow **wfs;
    int count;
    struct MHD_Response *not_allowed;
} Route;

static struct {
    HttpLoop *loops;             /* one per HTTP thread (listen.c) */
    int nloops;
    Route *routes;
    int nroutes;
    atomic_bool draining;
    bool access_log;             /* --access-log (spec 14) */
    atomic_long live;            /* FlConn objects */
    pthread_mutex_t wait_lock;   /* guards the waiting list and closing */
    FlConn *waiting;
    bool closing;                /* shutdown answers the waiting: no more */
} srv = { .wait_lock = PTHREAD_MUTEX_INITIALIZER };

static struct {
    struct MHD_Response *not_found, *too_large, *bad_signature, *bad_json,
        *unavailable, *overloaded, *bad_framing, *health_ok, *health_draining,
        *health_405;
} canned;

/* ---- responses ---------------------------------------------------------- */

static void add_header(struct MHD_Response *r, const char *name, const char *value)
{
    /* libmicrohttpd 0.9.75 refuses empty values: such a header is omitted */
    (void)MHD_add_response_header(r, name, value);
}

/* A header value as a C string; values come as (pointer, length). */
static void add_header_n(struct MHD_Response *r, const char *name,
                         const char *value, size_t len)
{
    char small[256];
    char *v = len < sizeof small ? small : rt_check(malloc(len + 1));
    memcpy(v, value, len);
    v[len] = '\0';
    add_header(r, name, v);
    if (v != small)
        free(v);
}

/* A response to send: copies resp's body unless body_static, adds
 * X-Flusso-Run-Id when run_id is not NULL.  The caller owns it. */
static struct MHD_Response *response_make(const FlResponse *resp,
                                          const char *run_id)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body_len, (void *)resp->body,
        resp->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    rt_check(r);
    if (run_id)
        add_header(r, "X-Flusso-Run-Id", run_id);
    if (resp->content_type)
        add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (int i = 0; i < resp->header_count; i++)
        add_header_n(r, resp->headers[i].name, resp->headers[i].value,
                     resp->headers[i].value_len);
    return r;
}

/* The body sizes of the shared answers, for the access log (libmicrohttpd
 * does not tell a response's size); made at start, read-only after. */
static struct {
    const struct MHD_Response **r;
    size_t *len;
    int n, cap;
} sizes;

static void sizes_add(const struct MHD_Response *r, size_t len)
{
    if (sizes.n == sizes.cap) {
        sizes.cap = sizes.cap ? 2 * sizes.cap : 32;
        sizes.r = rt_check(realloc(sizes.r, (size_t)sizes.cap * sizeof *sizes.r));
        sizes.len = rt_check(realloc(sizes.len, (size_t)sizes.cap * sizeof *sizes.len));
    }
    sizes.r[sizes.n] = r;
    sizes.len[sizes.n++] = len;
}

/* The body size of a shared answer r. */
static long long canned_bytes(const struct MHD_Response *r)
{
    for (int i = 0; i < sizes.n; i++)
        if (sizes.r[i] == r)
            return (long long)sizes.len[i];
    return 0;
}

/* A shared JSON answer made at start. */
static struct MHD_Response *canned_json(const char *body)
{
    FlResponse resp = { .body = body, .body_len = strlen(body), .body_static = true,
                        .content_type = "application/json" };
    struct MHD_Response *r = response_make(&resp, NULL);
    sizes_add(r, resp.body_len);
    return r;
}

static void canned_make(void)
{
    canned.not_found = canned_json("{\"error\":\"not found\"}");
    canned.too_large = canned_json("{\"error\":\"request body too large\"}");
    canned.bad_signature = canned_json("{\"error\":\"invalid signature\"}");
    canned.bad_json = canned_json("{\"error\":\"invalid JSON body\"}");
    canned.unavailable = canned_json("{\"error\":\"shutting down\"}");
    add_header(canned.unavailable, "Retry-After", "5");
    add_header(canned.unavailable, MHD_HTTP_HEADER_CONNECTION, "close");
    canned.bad_framing = canned_json("{\"error\":\"ambiguous request body length\"}");
    add_header(canned.bad_framing, MHD_HTTP_HEADER_CONNECTION, "close");
    canned.overloaded = canned_json("{\"error\":\"overloaded\"}");
    add_header(canned.overloaded, "Retry-After", "1");
    add_header(canned.overloaded, MHD_HTTP_HEADER_CONNECTION, "close");
    canned.health_ok = canned_json("{\"status\":\"ok\"}");
    canned.health_draining = canned_json("{\"status\":\"draining\"}");
    canned.health_405 = canned_json("{\"error\":\"method not allowed\"}");
    add_header(canned.health_405, MHD_HTTP_HEADER_ALLOW, "GET");
}

static void canned_free(void)
{
    struct MHD_Response **all[] = {
        &canned.not_found, &canned.too_large, &canned.bad_signature,
        &canned.bad_json, &canned.unavailable, &canned.overloaded, &canned.bad_framing,
        &canned.health_ok, &canned.health_draining, &canned.health_405,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        MHD_destroy_response(*all[i]);
        *all[i] = NULL;
    }
    free(sizes.r);
    free(sizes.len);
    sizes.r = NULL;
    sizes.len = NULL;
    sizes.n = sizes.cap = 0;
}

/* ---- routes ------------------------------------------------------------- */

static Route *route_find(const char *path, size_t len)
{
    for (int i = 0; i < srv.nroutes; i++)
        if (srv.routes[i].len == len && memcmp(srv.routes[i].path, path, len) == 0)
            return &srv.routes[i];
    return NULL;
}

static const FlWorkflow *route_method(const Route *rt, const char *method)
{
    for (int i = 0; i < rt->count; i++)
        for (int m = 0; m < rt->wfs[i]->method_count; m++)
            if (strcmp(rt->wfs[i]->methods[m], method) == 0)
                return rt->wfs[i];
    return NULL;
}

/* The Allow header of a path: its workflows' methods, in declared order. */
static void route_allow(Route *rt)
{
    char allow[512] = "";
    size_t n = 0;
    for (int i = 0; i < rt->count; i++)
        n += strlen(rt->wfs[i]->allow) + 2;
    char *s = n < sizeof allow ? allow : rt_check(malloc(n + 1));
    s[0] = '\0';
    for (int i = 0; i < rt->count; i++) {
        if (i > 0)
            strcat(s, ", ");
        strcat(s, rt->wfs[i]->allow);
    }
    rt->not_allowed = canned_json("{\"error\":\"method not allowed\"}");
    add_header(rt->not_allowed, MHD_HTTP_HEADER_ALLOW, s);
    if (s != allow)
        free(s);
}

static void routes_make(const FlProgram *p)
{
    srv.routes = rt_check(calloc((size_t)p->workflow_count + 1, sizeof *srv.routes));
    for (int i = 0; i < p->workflow_count; i++) {
        const FlWorkflow *wf = p->workflows[i];
        Route *rt = route_find(wf->path, strlen(wf->path));
        if (!rt) {
            rt = &srv.routes[srv.nroutes++];
            rt->path = wf->path;
            rt->len = strlen(wf->path);
            rt->wfs = rt_check(calloc((size_t)p->workflow_count, sizeof *rt->wfs));
        }
        rt->wfs[rt->count++] = wf;
    }
    for (int i = 0; i < srv.nroutes; i++)
        route_allow(&srv.routes[i]);
}

static void routes_free(void)
{
    for (int i = 0; i < srv.nroutes; i++) {
        MHD_destroy_response(srv.routes[i].not_allowed);
        free(srv.routes[i].wfs);
    }
    free(srv.routes);
    srv.routes = NULL;
    srv.nroutes = 0;
}

/* ---- the waiting list ----------------------------------------------------*/

/* Lists a suspended connection; false when shutdown has begun answering
 * the waiting (the caller then answers this one itself). */
static bool waitlist_add(FlConn *c)
{
    pthread_mutex_lock(&srv.wait_lock);
    bool ok = !srv.closing;
    if (ok) {
        c->prev = NULL;
        c->next = srv.waiting;
        if (srv.waiting)
            srv.waiting->prev = c;
        srv.waiting = c;
        c->listed = true;
    }
    pthread_mutex_unlock(&srv.wait_lock);
    return ok;
}

/* Unlinks c.  Called with the lock held. */
static void waitlist_unlink(FlConn *c)
{
    if (!c->listed)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.waiting = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->listed = false;
}

/* RunCallerOps.answer: the run's answer becomes c's response.  On the
 * connection's own thread (inside run_start()) the access handler queues
 * it on return; otherwise the connection is suspended and is resumed. */
static void conn_answer(RunCaller *caller, const RunAnswer *a, bool own_thread)
{
    FlConn *c = (FlConn *)(void *)caller;
    struct MHD_Response *r = response_make(&a->resp, a->run_id);
    c->answer_status = a->resp.status;
    c->answer_bytes = (long long)a->resp.body_len;
    atomic_store_explicit(&c->answer, r, memory_order_release);
    if (own_thread)
        return;
    /* Resumed under the lock, so shutdown never sees c unlisted yet still
     * suspended.  libmicrohttpd calls us under none of its locks that
     * MHD_resume_connection() takes. */
    HttpLoop *loop = c->loop;    /* c may be freed once resumed: its
                                    thread can answer and finish it first */
    pthread_mutex_lock(&srv.wait_lock);
    waitlist_unlink(c);
    MHD_resume_connection(c->mhd);
    loop_wake(loop);
    pthread_mutex_unlock(&srv.wait_lock);
}

/* Shutdown: answers 503 to every caller still waiting, and makes later
 * suspensions answer themselves. */
static void waitlist_answer_all(void)
{
    pthread_mutex_lock(&srv.wait_lock);
    srv.closing = true;
    size_t n = 0;
    for (FlConn *c = srv.waiting; c; c = c->next)
        n++;
    FlRun **runs = rt_check(calloc(n + 1, sizeof *runs));
    n = 0;
    for (FlConn *c = srv.waiting; c; c = c->next) {
        run_retain(c->run);      /* c may be answered and freed meanwhile */
        runs[n++] = c->run;
    }
    pthread_mutex_unlock(&srv.wait_lock);
    for (size_t i = 0; i < n; i++) {
        run_answer_error(runs[i], 503, "shutting down");
        run_release(runs[i]);
    }
    free(runs);
}

/* ---- the request's life -------------------------------------------------- */

static void conn_suspend(RunCaller *caller);
static const RunCallerOps conn_ops = { conn_answer, conn_suspend };

/* Frees a request's state: its stored answer, and its run's reference. */
static void conn_free(FlConn *c)
{
    struct MHD_Response *r = atomic_load(&c->answer);
    if (r)
        MHD_destroy_response(r);
    if (c->run)
        run_release(c->run);
    atomic_fetch_sub_explicit(&srv.live, 1, memory_order_relaxed);
    free(c);
}

/* A request libmicrohttpd dropped without calling on_completed() (it does
 * so after some of its own error answers when the client has gone): its
 * state is still stored in the connection's guard, and freed here, when
 * the next request starts or the connection closes.  c may be NULL. */
static void conn_free_dropped(FlConn *c)
{
    if (c && !c->listed)         /* a waiting caller is never dropped */
        conn_free(c);
}

/* cls: the daemon's HttpLoop. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    uri = uri ? uri : "";
    size_t n = strlen(uri);
    FlConn *c = malloc(sizeof *c + n + 1);
    if (!c)
        return NULL;             /* the access handler drops the request */
    memset(c, 0, sizeof *c);
    c->caller.ops = &conn_ops;
    c->mhd = mc;
    c->loop = cls;
    c->started_us = clock_us();
    atomic_init(&c->answer, NULL);
    memcpy(c->uri, uri, n + 1);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    c->guard = ci ? ci->socket_context : NULL;
    const char *q = memchr(uri, '?', n);
    c->path_len = q ? (size_t)(q - uri) : n;
    atomic_fetch_add_explicit(&srv.live, 1, memory_order_relaxed);
    conn_free_dropped(guard_swap_request(c->guard, c));
    return c;
}

/* The client's address as text ("" when unknown). */
static void remote_addr(struct MHD_Connection *mc, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  out, INET6_ADDRSTRLEN);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  out, INET6_ADDRSTRLEN);
}

/* The access log's line for c's request, answered and sent (spec 14):
 * at info, event "request", with the run's id and trace when it has a
 * run.  Request content reaches it only as escaped JSON strings. */
static void access_log(const FlConn *c, struct MHD_Connection *mc)
{
    char addr[INET6_ADDRSTRLEN];
    const char *id = c->run ? run_id_text(c->run) : NULL;
    bool has_run = id && id[0];
    remote_addr(mc, addr);
    LogRequest rq = {
        .method = c->method, .path = c->uri, .path_len = c->path_len,
        .status = c->answer_status, .bytes = c->answer_bytes,
        .remote_addr = addr[0] ? addr : NULL,
    };
    LogLine l = {
        .run_id = has_run ? id : NULL,
        .trace_id = has_run ? run_trace_id(c->run) : NULL,
        .workflow = c->wf ? c->wf->name : NULL, .event = "request",
        .duration_ms = (clock_us() - c->started_us) / 1000, .request = &rq,
    };
    log_write(FL_LOG_INFO, &l);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **ctx,
                         enum MHD_RequestTerminationCode why)
{
    FlConn *c = *ctx;
    (void)cls, (void)mc, (void)why;
    if (!c)
        return;
    *ctx = NULL;
    if (c->state == CONN_DONE && srv.access_log && log_enabled(FL_LOG_INFO))
        access_log(c, mc);
    guard_swap_request(c->guard, NULL);
    guard_set(c->guard, GUARD_HEADERS);     /* keep-alive: the next request */
    conn_free(c);
}

static bool has_body(struct MHD_Connection *mc)
{
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strcmp(cl, "0") != 0) ||
           MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* Counts an answer queued for c: by workflow, with the time it took,
 * when the request reached one. */
static void count_answer(const FlConn *c, int status)
{
    if (c->wf)
        metrics_answer(c->wf, status, clock_us() - c->started_us);
    else
        metrics_request(status);
}

/* Queues r (shared) now; the request is done. */
static enum MHD_Result answer_now(FlConn *c, int status, struct MHD_Response *r)
{
    c->state = CONN_DONE;
    c->answer_status = status;
    c->answer_bytes = canned_bytes(r);
    guard_set(c->guard, GUARD_NONE);
    count_answer(c, status);
    return MHD_queue_response(c->mhd, (unsigned)status, r);
}

/* Queues r (the caller's, destroyed here) now; the request is done. */
static enum MHD_Result answer_made(FlConn *c, int status, struct MHD_Response *r)
{
    enum MHD_Result ok = answer_now(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Answers r (shared) without a run.  On the first call of a request with
 * a body, at once (libmicrohttpd then skips the body and closes the
 * connection); otherwise in the final call, keeping the connection alive,
 * with any body read and dropped. */
static enum MHD_Result answer_canned(FlConn *c, int status, struct MHD_Response *r)
{
    if (c->state == CONN_ROUTE && has_body(c->mhd))
        return answer_now(c, status, r);
    c->reject = r;
    c->reject_status = status;
    c->state = CONN_REJECT;
    return MHD_YES;
}

static enum MHD_Result answer_health(FlConn *c, const char *method)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return answer_canned(c, 405, canned.health_405);
    if (atomic_load(&srv.draining))
        return answer_canned(c, 503, canned.health_draining);
    return answer_canned(c, 200, canned.health_ok);
}

/* GET /metrics: the Prometheus text, made for this request. */
static enum MHD_Result answer_metrics(FlConn *c, const char *method)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return answer_canned(c, 405, canned.health_405);
    MetGauges g = {
        .inflight = lim_inflight(), .queued = lim_queued(),
        .worker_queue = sched_queue_depth(), .connections = guard_connections(),
        .draining = atomic_load(&srv.draining),
        .failed_kept = recover_failed_kept(),
    };
    size_t len;
    char *text = metrics_render(&g, &len);
    struct MHD_Response *r = rt_check(
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE));
    add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ok = answer_now(c, 200, r);
    c->answer_bytes = (long long)len;
    MHD_destroy_response(r);
    return ok;
}

/* 503 for a request past --max-inflight or --max-queue; a warning at
 * most once a second says so. */
static enum MHD_Result answer_overloaded(FlConn *c)
{
    static atomic_llong last_ms;
    int64_t now = clock_ms();
    long long last = atomic_load_explicit(&last_ms, memory_order_relaxed);
    if (now - last >= 1000
        && atomic_compare_exchange_strong(&last_ms, &last, (long long)now))
        log_event(FL_LOG_WARN, "overloaded",
                  "answering 503: %ld run(s) in flight (max %ld), %ld queued (max %ld)",
                  lim_inflight(), lim_max_inflight(), lim_queued(), lim_max_queue());
    return answer_canned(c, 503, canned.overloaded);
}

typedef struct {
    int count;               /* Content-Length headers */
    const char *first;
    bool differ;             /* two of them disagree */
} Lengths;

static enum MHD_Result length_seen(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    Lengths *l = cls;
    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
        return MHD_YES;
    if (l->count++ == 0)
        l->first = value ? value : "";
    else if (strcmp(l->first, value ? value : "") != 0)
        l->differ = true;
    return MHD_YES;
}

/* RFC 9112 section 6.3: a request whose body length is ambiguous -
 * Content-Length twice with different values, or beside
 * Transfer-Encoding - is refused (400), so that no proxy in front of the
 * handler can frame it differently (request smuggling).  libmicrohttpd
 * 0.9.75 would take the first Content-Length. */
static bool framing_ok(struct MHD_Connection *mc)
{
    Lengths l = { 0 };
    MHD_get_connection_values(mc, MHD_HEADER_KIND, length_seen, &l);
    return !l.differ
        && !(l.count && MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_TRANSFER_ENCODING));
}

/* Content-Length over the workflow's limit. */
static bool declared_too_large(struct MHD_Connection *mc, const FlWorkflow *wf)
{
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > (unsigned long long)wf->max_body_bytes;
}

/* The first call: the checks of spec 4.8 that need only the headers, in
 * their order - 404, 405, 503 (draining, or past --max-inflight or
 * --max-queue: limits.c reserves the run's slot here), 413 - after the
 * framing check and the handler's own paths.  From here the body's
 * deadline runs (guard.c). */
static enum MHD_Result conn_route(FlConn *c, const char *method)
{
    snprintf(c->method, sizeof c->method, "%s", method);
    guard_set(c->guard, GUARD_BODY);
    if (!framing_ok(c->mhd))
        return answer_now(c, 400, canned.bad_framing);
    if (c->path_len == 8 && memcmp(c->uri, "/healthz", 8) == 0)
        return answer_health(c, method);
    if (c->path_len == 8 && memcmp(c->uri, "/metrics", 8) == 0)
        return answer_metrics(c, method);
    const Route *rt = route_find(c->uri, c->path_len);
    if (!rt)
        return answer_canned(c, 404, canned.not_found);
    const FlWorkflow *wf = route_method(rt, method);
    if (!wf)
        return answer_canned(c, 405, rt->not_allowed);
    c->wf = wf;                  /* its answers count for it from here */
    if (atomic_load_explicit(&srv.draining, memory_order_relaxed))
        return answer_canned(c, 503, canned.unavailable);
    if (!lim_reserve())
        return answer_overloaded(c);
    if (declared_too_large(c->mhd, wf)) {
        lim_unreserve();
        return answer_canned(c, 413, canned.too_large);
    }
    c->run = run_new(wf, true);
    fl_buf_init(&c->body, fl_run_arena(c->run));
    c->state = CONN_BODY;
    return MHD_YES;
}

/* A piece of the body; past max_body_bytes the run goes and 413 waits
 * for the final call. */
static enum MHD_Result conn_take(FlConn *c, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (n > (size_t)c->wf->max_body_bytes - c->body.len) {
        run_release(c->run);
        c->run = NULL;
        return answer_canned(c, 413, canned.too_large);
    }
    fl_buf_append(&c->body, data, n);
    return MHD_YES;
}

static enum MHD_Result conn_drop(FlConn *c, size_t *size)
{
    c->discarded += *size;
    *size = 0;
    return c->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
}

/* Queues the answer a run stored (the final or the resumed call). */
static enum MHD_Result conn_queue_answer(FlConn *c)
{
    struct MHD_Response *r = atomic_exchange_explicit(&c->answer, NULL,
                                                      memory_order_acquire);
    if (!r)
        return MHD_NO;
    count_answer(c, c->answer_status);
    enum MHD_Result ok = MHD_queue_response(c->mhd, (unsigned)c->answer_status, r);
    MHD_destroy_response(r);
    c->state = CONN_DONE;
    return ok;
}

/* RunCallerOps.suspend: the run must wait before it answers, and the
 * connection waits suspended; once this returns c may be answered any
 * time, from any thread. */
static void conn_suspend(RunCaller *caller)
{
    FlConn *c = (FlConn *)(void *)caller;
    MHD_suspend_connection(c->mhd);
    c->state = CONN_WAITING;
    if (!waitlist_add(c))
        run_answer_error(c->run, 503, "shutting down");
}


/* A request's headers as request.c takes them. */
typedef struct {
    FlArena *arena;
    ReqHeader *hs;
    size_t n, cap;
} HeaderList;

static enum MHD_Result header_collect(void *cls, enum MHD_ValueKind kind,
                                      const char *key, size_t klen,
                                      const char *value, size_t vlen)
{
    HeaderList *l = cls;
    (void)kind;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        ReqHeader *hs = fl_arena_alloc(l->arena, cap * sizeof *hs);
        if (l->n)
            memcpy(hs, l->hs, l->n * sizeof *hs);
        l->hs = hs;
        l->cap = cap;
    }
    l->hs[l->n++] = (ReqHeader){ key, klen, value ? value : "", value ? vlen : 0 };
    return MHD_YES;
}

/* The trigger output of c's request (request.c), the headers collected
 * from libmicrohttpd into the run's arena; NULL when its JSON body does
 * not parse. */
static const FlValue *conn_trigger(FlConn *c, const char *method,
                                   const FlValue *raw, int64_t received_unix_ms)
{
    FlArena *a = fl_run_arena(c->run);
    HeaderList l = { .arena = a };
    int n = MHD_get_connection_values_n(c->mhd, MHD_HEADER_KIND, NULL, NULL);
    if (n > 0) {                     /* the exact size: nothing to grow */
        l.cap = (size_t)n;
        l.hs = fl_arena_alloc(a, l.cap * sizeof *l.hs);
    }
    MHD_get_connection_values_n(c->mhd, MHD_HEADER_KIND, header_collect, &l);
    return req_trigger_of(a, method, c->uri, c->path_len, l.hs, l.n, raw,
                          received_unix_ms);
}

/* A request header for verify.c; libmicrohttpd ignores the name's case. */
static const char *conn_header(void *mhd, const char *name)
{
    return MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, name);
}

/* Signature verification (spec 3, trigger `verify`, in verify.c): on the
 * raw bytes, after 413 and before the body is parsed; a failure answers
 * 401 {"error":"invalid signature"} and starts no run. */
static bool signature_ok(const FlConn *c, const FlValue *raw)
{
    return !c->wf->verify || verify_request(c->wf, raw, conn_header, c->mhd);
}

/* A JSON error made for this request: {"error": message[, "run_id": id]},
 * with X-Flusso-Run-Id when run_id is not NULL. */
static struct MHD_Response *json_error(const char *message, const char *run_id)
{
    char body[256];
    FlResponse resp = { .body = body, .content_type = "application/json" };
    resp.body_len = (size_t)snprintf(body, sizeof body,
                                     run_id ? "{\"error\":\"%s\",\"run_id\":\"%s\"}"
                                            : "{\"error\":\"%s\"}", message, run_id);
    return response_make(&resp, run_id);
}

/* Spec 8.3, after the body is parsed: a repeated delivery gets its first
 * delivery's recorded answer again, byte for byte, marked as a duplicate;
 * one whose first delivery has not answered yet gets 409; an unusable key
 * 400.  None of them starts a run.  The messages are our own text. */
static enum MHD_Result answer_duplicate(FlConn *c, RunKeyCheck check,
                                        RunKeyOutcome *o)
{
    struct MHD_Response *r;
    int status = 400;
    long long bytes;
    run_release(c->run);
    c->run = NULL;
    if (check == RUN_KEY_ANSWERED) {
        status = o->answer.resp.status;
        r = response_make(&o->answer.resp, o->run_id);
        add_header(r, "X-Flusso-Duplicate", "true");
    } else if (check == RUN_KEY_BUSY) {
        status = 409;
        r = json_error("delivery in progress", o->run_id);
        add_header(r, "Retry-After", "1");
    } else {
        r = json_error(o->error, NULL);
    }
    bytes = check == RUN_KEY_ANSWERED ? (long long)o->answer.resp.body_len : -1;
    run_key_done(o);
    enum MHD_Result ok = answer_made(c, status, r);
    if (bytes >= 0)
        c->answer_bytes = bytes;             /* for the access log */
    return ok;
}

/* The final call: the body is complete.  401, 400, or the run starts. */
static enum MHD_Result conn_finish(FlConn *c, const char *method)
{
    FlRun *run = c->run;
    int64_t received_unix = fl_time_now_ms(), received = clock_ms();
    guard_set(c->guard, GUARD_NONE);
    if (atomic_load_explicit(&srv.draining, memory_order_relaxed)) {
        run_release(run);        /* no new run once draining began */
        c->run = NULL;
        return answer_now(c, 503, canned.unavailable);
    }
    const FlValue *raw = fl_buf_finish(&c->body);
    const FlValue *trigger = NULL;
    struct MHD_Response *refusal = canned.bad_signature;
    if (signature_ok(c, raw)) {
        refusal = canned.bad_json;
        trigger = conn_trigger(c, method, raw, received_unix);
    }
    if (!trigger) {
        run_release(run);
        c->run = NULL;
        return answer_now(c, refusal == canned.bad_json ? 400 : 401, refusal);
    }
    run_set_traceparent(run, MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
                                                         "traceparent"));
    RunKeyOutcome dup;
    RunKeyCheck check = run_check_key(run, trigger, &dup);
    if (check != RUN_KEY_NONE && check != RUN_KEY_CLAIMED)
        return answer_duplicate(c, check, &dup);
    if (run_start(run, trigger, received, received_unix, &c->caller))
        return conn_queue_answer(c);
    return MHD_YES;              /* suspended: resumed with the answer */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    FlConn *c = *ctx;
    (void)cls, (void)mc, (void)url, (void)version;
    if (!c)
        return MHD_NO;
    switch (c->state) {
    case CONN_ROUTE:
        return conn_route(c, method);
    case CONN_BODY:
        return *size ? conn_take(c, data, size) : conn_finish(c, method);
    case CONN_REJECT:
        if (*size)
            return conn_drop(c, size);
        return answer_now(c, c->reject_status, c->reject);
    case CONN_WAITING:
        return conn_queue_answer(c);
    case CONN_DONE:
        break;
    }
    return MHD_NO;
}

/* A connection opens or closes: its deadlines (guard.c) live as long. */
static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_ctx = ci ? guard_open(ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_free_dropped(guard_swap_request(*socket_ctx, NULL));
        guard_close(*socket_ctx);
        *socket_ctx = NULL;
    }
}

/* libmicrohttpd's own messages, as log lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    if (!log_enabled(FL_LOG_WARN))
        return;
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    n = n < 0 ? 0 : (size_t)n >= sizeof msg ? (int)sizeof msg - 1 : n;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    LogLine l = { .event = "http", .message = msg, .message_len = (size_t)n,
                  .duration_ms = -1 };
    log_write(FL_LOG_WARN, &l);
}

/* ---- listening ----------------------------------------------------------- */

/* One daemon: one HTTP thread on its own SO_REUSEPORT socket (listen.c
 * says why), with its share of the connection limit.  With epoll, the
 * thread is ours (loop_main); without, libmicrohttpd's own, on poll(). */
static struct MHD_Daemon *daemon_start(const struct sockaddr *sa, bool dual,
                                       unsigned limit, HttpLoop *loop)
{
    unsigned flags = MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
           ? MHD_USE_EPOLL : MHD_USE_POLL_INTERNAL_THREAD;
    if (sa->sa_family == AF_INET6)
        flags |= dual ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    /* HTTPS: the certificate comes from tls.c at each handshake, so that
     * SIGHUP can replace it under the running daemons. */
    struct MHD_OptionItem tls_opts[] = {
        { MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_pick },
        { MHD_OPTION_END, 0, NULL },
    };
    if (tls_enabled())
        flags |= MHD_USE_TLS;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                            MHD_OPTION_ARRAY, tls_enabled() ? tls_opts : tls_opts + 1,
                            MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                            MHD_OPTION_CONNECTION_LIMIT, limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, loop,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_END);
}

/* ---- the HTTP threads' loop ----------------------------------------------
 *
 * Why the loop is ours (docs/burst-stall.md): libmicrohttpd 0.9.75's own
 * epoll thread (MHD_epoll, daemon.c) takes events 128 at a time and, when
 * a call returns exactly 128, calls epoll_wait() again with the same
 * blocking timeout - the time left to the next connection timeout.  When
 * nothing else is ready by then, it sleeps there with the 128 connections
 * it just found readable unserved, until a new event or that timeout: a
 * burst of a few hundred requests landing while the thread is off the CPU
 * stalled the handler for seconds.  Here the blocking wait is a poll() on
 * the daemon's epoll descriptor, as long as MHD_get_timeout() allows (0
 * when it holds work already), and MHD_run() then serves what is ready,
 * each of its epoll_wait() calls with a zero timeout.  Without a thread
 * of its own libmicrohttpd has no way to be woken when another thread
 * resumes a connection (it drops MHD_USE_ITC), so conn_answer() wakes
 * the loop itself (loop_wake). */

/* How long the loop may sleep: libmicrohttpd's next connection timeout,
 * 0 when work is pending there, -1 (for ever) without connections. */
static int loop_timeout(struct MHD_Daemon *d)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(d, &ms) != MHD_YES)
        return -1;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wakes l's thread: a connection of its daemon was resumed.  Any
 * thread; l may be NULL, or run by libmicrohttpd (which wakes itself). */
static void loop_wake(HttpLoop *l)
{
    if (l && l->running)
        eventfd_write(l->wake_fd, 1);
}

/* Waits until the daemon has something to do, a wake-up, or its next
 * timeout. */
static void loop_wait(HttpLoop *l)
{
    struct pollfd fds[2] = { { .fd = l->epoll_fd, .events = POLLIN },
                             { .fd = l->wake_fd, .events = POLLIN } };
    eventfd_t n;
    if (poll(fds, 2, loop_timeout(l->mhd)) > 0 && (fds[1].revents & POLLIN))
        eventfd_read(l->wake_fd, &n);
}

/* An HTTP thread: waits, then runs the daemon, until stopped. */
static void *loop_main(void *arg)
{
    HttpLoop *l = arg;
    while (!atomic_load_explicit(&l->stopping, memory_order_relaxed)) {
        loop_wait(l);
        MHD_run(l->mhd);
    }
    return NULL;
}

/* Starts l's thread for its daemon (started, with epoll).  0 or -1. */
static int loop_start(HttpLoop *l)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di || di->epoll_fd < 0)
        return -1;
    l->epoll_fd = di->epoll_fd;
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake_fd < 0)
        return -1;
    l->running = true;           /* before any resume can want to wake it */
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        l->running = false;
        return -1;
    }
    pthread_setname_np(l->thread, "flusso-http");
    return 0;
}

/* Ends l's thread (if any), then its daemon. */
static void loop_stop(HttpLoop *l)
{
    if (l->running) {
        atomic_store(&l->stopping, true);
        eventfd_write(l->wake_fd, 1);
        pthread_join(l->thread, NULL);
    }
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
}

static void daemons_stop(void)
{
    for (int i = 0; i < srv.nloops; i++)
        loop_stop(&srv.loops[i]);
    free(srv.loops);
    srv.loops = NULL;
    srv.nloops = 0;
}

/* --workers daemons on the claimed address, each on its HTTP thread;
 * false if one cannot start. */
static bool daemons_start(int n, const struct sockaddr *sa, bool dual)
{
    unsigned long fds = listen_raise_nofile();
    unsigned long limit = fds > CONN_LIMIT + 64 ? CONN_LIMIT
                        : fds > 128 ? fds - 64 : 64;
    unsigned share = (unsigned)(limit / (unsigned long)n);
    bool epoll = MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES;
    srv.loops = rt_check(calloc((size_t)n, sizeof *srv.loops));
    for (; srv.nloops < n; srv.nloops++) {
        HttpLoop *l = &srv.loops[srv.nloops];
        l->wake_fd = -1;
        l->mhd = daemon_start(sa, dual, share > 0 ? share : 1, l);
        if (!l->mhd || (epoll && loop_start(l) < 0)) {
            srv.nloops++;        /* this one is stopped too */
            daemons_stop();
            return false;
        }
    }
    return true;
}

/* ---- the server's life ---------------------------------------------------- */

/* SIGTERM/SIGINT: new requests get 503 while the runs in flight finish
 * (within the grace period); then callers still waiting get 503, the last
 * answers are sent, and the daemon stops. */
static void drain(long grace_ms)
{
    atomic_store(&srv.draining, true);
    recover_quiesce();           /* no run --retry asks for starts now */
    notify_send("STOPPING=1");
    log_event(FL_LOG_INFO, "draining", "%ld run(s) in flight", run_inflight());
    int64_t end = clock_ms() + grace_ms;
    while (run_inflight() > 0 && clock_ms() < end)
        clock_sleep_ms(10);
    long left = run_inflight();
    if (left > 0)
        log_event(FL_LOG_WARN, "unfinished",
                  "%ld run(s) did not finish within the %ld ms grace period", left, grace_ms);
    else
        log_event(FL_LOG_INFO, "drained", "every run finished");
    waitlist_answer_all();
    end = clock_ms() + FLUSH_MS;
    while (atomic_load(&srv.live) > 0 && clock_ms() < end)
        clock_sleep_ms(10);
}

static sigset_t stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

/* SIGHUP (logrotate, a renewed certificate): the `log` steps' files are
 * opened again and the TLS files read again, while requests go on being
 * served; a certificate that does not load keeps the current one. */
static void reopen(void)
{
    char err[512];
    log_reopen_files();
    if (tls_reload(err, sizeof err) < 0)
        log_event(FL_LOG_ERROR, "reopened", "kept the current certificate: %s", err);
    else
        log_event(FL_LOG_INFO, "reopened", "log files reopened%s",
                  tls_enabled() ? ", certificate reloaded" : "");
}

/* Waits for SIGTERM or SIGINT, answering every SIGHUP meanwhile. */
static int wait_stop(const sigset_t *set)
{
    int sig;
    while (sigwait(set, &sig) == 0 && sig == SIGHUP)
        reopen();
    return sig;
}

/* Listens, announces, and starts the threads.  0, or the exit status. */
static int start(const FlProgram *p, const FlOptions *o)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    char host[80], err[512];
    bool dual;
    if (listen_resolve(o->listen, &ss, &sslen, host, &dual) < 0) {
        fprintf(stderr, "flusso: cannot listen on '%s': expected [HOST:]PORT or :PORT\n",
                o->listen);
        return 2;
    }
    if (o->tls_cert && tls_load(o->tls_cert, o->tls_key, err, sizeof err) < 0) {
        fprintf(stderr, "flusso: cannot serve HTTPS: %s\n", err);
        return 2;
    }
    if (sched_start(o->workers) < 0
        || guard_start(o->header_timeout_ms, o->body_timeout_ms) < 0) {
        fprintf(stderr, "flusso: cannot start worker threads\n");
        return 2;
    }
    if (p->http_start && p->http_start() < 0) {
        fprintf(stderr, "flusso: cannot start the HTTP client\n");
        return 2;
    }
    if (listen_claim(&ss, sslen, dual) < 0) {
        fprintf(stderr, "flusso: cannot listen on %s: %s\n", o->listen, strerror(errno));
        return 2;
    }
    if (!daemons_start(o->workers, (struct sockaddr *)&ss, dual)) {
        fprintf(stderr, "flusso: cannot listen on %s\n", o->listen);
        return 2;
    }
    recover_resume();            /* the runs the journal kept (spec 7) */
    fprintf(stderr, "listening on %s://%s:%u\n", tls_enabled() ? "https" : "http",
            host, listen_port(&ss));
    fflush(stderr);
    notify_send("READY=1");      /* systemd, Type=notify (spec 14) */
    return 0;
}

const char *srv_library_version(void)
{
    return MHD_get_version();
}

int srv_run(const FlProgram *p, const FlOptions *o)
{
    sigset_t set = stop_signals();
    int sig, rc;
    /* Every thread started from here on inherits the mask: only sigwait()
     * below sees the stop signals and SIGHUP. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* glibc gives the free top of a heap back to the kernel once it passes
     * 128 KB.  Under load, runs freed together shrink a heap that the next
     * requests grow again: about one page fault per request, measured
     * (docs/performance.md).  A handler keeps up to 4 MB per heap instead. */
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    canned_make();
    routes_make(p);
    lim_init(o->max_inflight, o->max_queue);
    srv.access_log = o->access_log;
    metrics_init(p);
    rc = start(p, o);
    if (rc == 0) {
        sig = wait_stop(&set);
        drain(o->grace_ms);
    }
    daemons_stop();
    guard_stop();
    sched_stop();
    if (p->http_stop)
        p->http_stop();          /* after the scheduler: see flusso.h */
    routes_free();
    canned_free();
    metrics_free();
    tls_free();
    if (rc == 0)
        log_event(FL_LOG_INFO, "stopped", "stopped after signal %d", sig);
    return rc;
}
