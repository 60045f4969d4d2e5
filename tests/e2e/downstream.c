/* downstream.c - the system http_request steps call in the e2e tests.
 *
 *   downstream [--listen PORT]      (default 0: a free port)
 *
 * Listens on 127.0.0.1, prints "listening on http://127.0.0.1:PORT" to
 * stderr when ready (as handlers do, so tests/e2e/lib.sh starts it), and
 * stops with exit status 0 on SIGTERM or SIGINT.  One thread per
 * connection, so any number of slow answers can be pending at once.
 *
 * Every request carrying ?key=K counts one attempt for K.  Endpoints (any
 * method):
 *   /json              200 JSON, two X-Multi headers
 *   /text              200 text/plain
 *   /echo              200 JSON describing the request: method, content
 *                      type, X-Test, User-Agent and the body as text
 *   /slow?ms=N         sleeps N ms, then 200 {"slept":N}
 *   /status?code=N     status N with a JSON body
 *   /flaky?key=K&fail=F&code=C   C for K's first F attempts, then 200
 *   /redirect          302 to /json
 *   /huge?bytes=N      N bytes of text (&chunked=1: without Content-Length)
 *   /count?key=K       {"count": attempts of K so far}
 *   /last?key=K        {"count": the same, "at_ms": Unix ms of K's latest
 *                      attempt, 0 before any}
 *   /trace             {"traceparent": the request's traceparent header} */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { KEYS_MAX = 512, KEY_LEN = 64, BODY_MAX = 1 << 20 };

static struct {
    pthread_mutex_t lock;
    char keys[KEYS_MAX][KEY_LEN];
    int counts[KEYS_MAX];
    long long last_ms[KEYS_MAX];     /* when its latest attempt came */
    int n;
} counters = { .lock = PTHREAD_MUTEX_INITIALIZER };

typedef struct {
    char *body;
    size_t len;
} Request;

static long long unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds one attempt to key (when add) and returns its count; *last (may be
 * NULL) gets the time of its latest attempt. */
static int count_at(const char *key, int add, long long *last)
{
    int i, n = 0;
    pthread_mutex_lock(&counters.lock);
    for (i = 0; i < counters.n; i++)
        if (strcmp(counters.keys[i], key) == 0)
            break;
    if (i == counters.n && add && counters.n < KEYS_MAX) {
        snprintf(counters.keys[i], KEY_LEN, "%s", key);
        counters.counts[i] = 0;
        counters.n++;
    }
    if (i < counters.n) {
        counters.counts[i] += add;
        n = counters.counts[i];
        if (add)
            counters.last_ms[i] = unix_ms();
        if (last)
            *last = counters.last_ms[i];
    }
    pthread_mutex_unlock(&counters.lock);
    return n;
}

static int count(const char *key, int add)
{
    return count_at(key, add, NULL);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static long arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
    const char *v = arg(c, name);
    return v ? strtol(v, NULL, 10) : dflt;
}

/* Appends s as a JSON string (or null) to out. */
static void json_string(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = strlen(out);
    if (!s) {
        snprintf(out + n, cap - n, "null");
        return;
    }
    if (n + 1 < cap)
        out[n++] = '"';
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            n += (size_t)snprintf(out + n, cap - n, "\\%c", ch);
        else if (ch < 0x20)
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        else
            out[n++] = (char)ch;
    }
    snprintf(out + n, cap - n, "\"");
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *c)
{
    const char *body = "{\"ok\":true,\"n\":42,\"list\":[1,2]}";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "Application/JSON; charset=utf-8");
    MHD_add_response_header(r, "X-Multi", "a");
    MHD_add_response_header(r, "X-Multi", "b");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_echo(struct MHD_Connection *c, const char *method,
                                  const Request *rq)
{
    static const char *const headers[][2] = {
        { "content_type", MHD_HTTP_HEADER_CONTENT_TYPE }, { "x_test", "X-Test" },
        { "user_agent", MHD_HTTP_HEADER_USER_AGENT },
    };
    char *out = calloc(1, 3 * BODY_MAX);
    size_t cap = 3 * BODY_MAX;
    snprintf(out, cap, "{\"method\":");
    json_string(out, cap, method, strlen(method));
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, headers[i][1]);
        snprintf(out + strlen(out), cap - strlen(out), ",\"%s\":", headers[i][0]);
        json_string(out, cap, v, v ? strlen(v) : 0);
    }
    snprintf(out + strlen(out), cap - strlen(out), ",\"body\":");
    json_string(out, cap, rq->body ? rq->body : "", rq->len);
    snprintf(out + strlen(out), cap - strlen(out), "}");
    enum MHD_Result ok = reply(c, 200, "application/json", out);
    free(out);
    return ok;
}

/* {"traceparent": the request's W3C trace context header, or ""}. */
static enum MHD_Result reply_trace(struct MHD_Connection *c)
{
    char out[512] = "{\"traceparent\":";
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
    json_string(out, sizeof out - 2, v ? v : "", v ? strnlen(v, 200) : 0);
    strcat(out, "}");
    return reply(c, 200, "application/json", out);
}

static ssize_t huge_chunk(void *cls, uint64_t pos, char *buf, size_t max)
{
    uint64_t total = *(uint64_t *)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = total - pos < max ? (size_t)(total - pos) : max;
    if (n > 4096)
        n = 4096;
    memset(buf, 'x', n);
    return (ssize_t)n;
}

static enum MHD_Result reply_huge(struct MHD_Connection *c)
{
    uint64_t *total = malloc(sizeof *total);
    *total = (uint64_t)arg_long(c, "bytes", 1000);
    struct MHD_Response *r = MHD_create_response_from_callback(
        arg(c, "chunked") ? MHD_SIZE_UNKNOWN : *total, 4096, huge_chunk, total, free);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
                             const char *method, const Request *rq)
{
    char buf[256];
    const char *key = arg(c, "key");
    bool query = strcmp(url, "/count") == 0 || strcmp(url, "/last") == 0;
    int n = key && !query ? count(key, 1) : 0;
    if (strcmp(url, "/json") == 0)
        return reply_json(c);
    if (strcmp(url, "/text") == 0)
        return reply(c, 200, "text/plain", "hello, text");
    if (strcmp(url, "/echo") == 0)
        return reply_echo(c, method, rq);
    if (strcmp(url, "/trace") == 0)
        return reply_trace(c);
    if (strcmp(url, "/slow") == 0) {
        long ms = arg_long(c, "ms", 1000);
        sleep_ms(ms);
        snprintf(buf, sizeof buf, "{\"slept\":%ld}", ms);
        return reply(c, 200, "application/json", buf);
    }
    if (strcmp(url, "/status") == 0 || (strcmp(url, "/flaky") == 0
                                        && n <= arg_long(c, "fail", 0))) {
        long code = arg_long(c, "code", 500);
        snprintf(buf, sizeof buf, "{\"error\":\"status %ld\"}", code);
        return reply(c, (unsigned)code, "application/json", buf);
    }
    if (strcmp(url, "/flaky") == 0) {
        snprintf(buf, sizeof buf, "{\"attempt\":%d}", n);
        return reply(c, 200, "application/json", buf);
    }
    if (strcmp(url, "/redirect") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            5, (void *)"moved", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/json");
        enum MHD_Result ok = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/huge") == 0)
        return reply_huge(c);
    if (strcmp(url, "/last") == 0) {
        long long at = 0;
        n = key ? count_at(key, 0, &at) : 0;
        snprintf(buf, sizeof buf, "{\"count\":%d,\"at_ms\":%lld}", n, at);
        return reply(c, 200, "application/json", buf);
    }
    if (strcmp(url, "/count") == 0) {
        snprintf(buf, sizeof buf, "{\"count\":%d}", key ? count(key, 0) : 0);
        return reply(c, 200, "application/json", buf);
    }
    return reply(c, 404, "application/json", "{\"error\":\"not found\"}");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    Request *rq = *ctx;
    (void)cls, (void)version;
    if (!rq) {
        *ctx = calloc(1, sizeof *rq);
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (*size) {
        if (rq->len + *size > BODY_MAX)
            return MHD_NO;
        rq->body = realloc(rq->body, rq->len + *size + 1);
        memcpy(rq->body + rq->len, data, *size);
        rq->len += *size;
        rq->body[rq->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    return route(c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode why)
{
    Request *rq = *ctx;
    (void)cls, (void)c, (void)why;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *ctx = NULL;
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    if (argc == 3 && strcmp(argv[1], "--listen") == 0)
        port = (unsigned)atoi(argv[2]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
        | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "downstream: cannot listen\n");
        return 2;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "listening on http://127.0.0.1:%u\n", info ? info->port : 0);
    fflush(stderr);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
