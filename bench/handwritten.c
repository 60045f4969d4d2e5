/* handwritten.c - examples/payment.json written by hand, for speed: the
 * baseline `make bench` measures the compiled handler against.
 *
 * It does what the workflow does and nothing more: POST /hooks/payment
 * checks X-Signature against the hex HMAC-SHA256 of the raw body under
 * $PAYMENT_SECRET (constant-time), answers 200 {"received":true} or 401
 * {"error":"invalid signature"}, and after the answer a worker thread
 * parses the body with cJSON and writes the log lines the workflow's tail
 * writes ("payment <id> for <amount>", then "run <id> finished"), one
 * write(2) each, to stderr.
 *
 * Written the way one would by hand for speed: libmicrohttpd on epoll, one
 * daemon per thread sharing the port through SO_REUSEPORT (the same daemon
 * layout and options as the runtime, so the two differ only in what they
 * do per request), every answer a static response made
 * once, the body kept in the request's own buffer and handed, buffer and
 * all, to the worker; the HMAC key schedule computed once per thread; the
 * JSON parsed only after the answer, on the worker.
 *
 * Usage: handwritten [--listen [HOST:]PORT] [--workers N]
 * Prints "listening on http://HOST:PORT" to stderr when ready; stops on
 * SIGTERM or SIGINT after the queued log lines are written. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_BODY = 1 << 20,       /* the workflow's max_body_bytes */
    INLINE_BODY = 1024,       /* bodies up to this need no second malloc */
    LINE_MAX_BYTES = 4096     /* a log line; longer messages are cut */
};

/* One request: its body, then (after the answer) the tail's job. */
typedef struct Req {
    struct Req *next;         /* the work queue */
    bool valid;               /* the signature matched */
    bool too_large;
    size_t len, cap;
    char *body;               /* inline_buf or malloc()ed */
    char inline_buf[INLINE_BODY];
} Req;

static struct {
    const char *secret;
    size_t secret_len;
    EVP_MAC *hmac;
    struct MHD_Response *ok, *bad_sig, *not_found, *not_allowed, *too_large;
} app;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    Req *head, *tail;
    bool stopping;
} queue = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false };

/* ---- HMAC: the key schedule once per thread ------------------------------ */

static _Thread_local EVP_MAC_CTX *tls_mac;

/* This thread's HMAC context, keyed with the secret; NULL if OpenSSL fails. */
static EVP_MAC_CTX *mac_ctx(void)
{
    if (tls_mac)
        return tls_mac;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(app.hmac);
    if (!c || !EVP_MAC_init(c, (const unsigned char *)app.secret,
                            app.secret_len, params)) {
        EVP_MAC_CTX_free(c);
        return NULL;
    }
    return tls_mac = c;
}

/* Whether sig is the lower-case hex HMAC-SHA256 of the body, compared in
 * constant time (the workflow's secure_equals on the hex strings). */
static bool signature_ok(const char *sig, const char *body, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    char text[64];
    size_t n;
    EVP_MAC_CTX *c = mac_ctx();
    if (!sig || strlen(sig) != 64 || !c)
        return false;
    /* A NULL key re-uses the key schedule of the first init. */
    if (!EVP_MAC_init(c, NULL, 0, NULL) || !EVP_MAC_update(c, (const unsigned char *)body, len)
        || !EVP_MAC_final(c, mac, &n, sizeof mac) || n != 32)
        return false;
    for (int i = 0; i < 32; i++) {
        text[2 * i] = hex[mac[i] >> 4];
        text[2 * i + 1] = hex[mac[i] & 15];
    }
    return CRYPTO_memcmp(text, sig, 64) == 0;
}

/* ---- log lines ------------------------------------------------------------ */

static _Thread_local uint64_t rng[2];

/* xorshift128+, seeded per thread: run ids, not secrets. */
static uint64_t rng_next(void)
{
    if (!rng[0] && !rng[1] && getrandom(rng, sizeof rng, 0) != sizeof rng)
        rng[0] = (uint64_t)time(NULL) | 1, rng[1] = (uintptr_t)&rng;
    uint64_t x = rng[0], y = rng[1];
    rng[0] = y;
    x ^= x << 23;
    rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return rng[1] + y;
}

/* A version 4 UUID, 36 characters and a NUL. */
static void run_id(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t hi = rng_next(), lo = rng_next();
    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *out++ = '-';
        *out++ = hex[b[i] >> 4];
        *out++ = hex[b[i] & 15];
    }
    *out = '\0';
}

/* YYYY-MM-DDTHH:MM:SS.sssZ; the date part is formatted once a second. */
static void now_text(char out[25])
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[21];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S.", &tm);
        cached_sec = ts.tv_sec;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
    memcpy(out, cached, 20);
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

/* Appends s as a JSON string body (no quotes); returns the new end, never
 * past lim. */
static char *put_escaped(char *o, const char *lim, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n && o + 6 < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/* One JSON log line in one write(2), as the runtime writes a log step's. */
static void log_line(const char *id, const char *step, const char *msg, size_t len)
{
    char line[LINE_MAX_BYTES], now[25];
    now_text(now);
    int n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"level\":\"info\",\"run_id\":\"%s\","
                     "\"workflow\":\"payment-ack\",\"step\":\"%s\","
                     "\"event\":\"log\",\"message\":\"", now, id, step);
    char *o = put_escaped(line + n, line + sizeof line - 3, msg, len);
    memcpy(o, "\"}\n", 3);
    ssize_t w;
    do
        w = write(STDERR_FILENO, line, (size_t)(o + 3 - line));
    while (w < 0 && errno == EINTR);
}

/* A JSON value as the workflow's text rule prints it (strings bare,
 * integers without a fraction); "" for what the body lacks. */
static int put_text(char *out, size_t size, const cJSON *v)
{
    if (cJSON_IsString(v))
        return snprintf(out, size, "%s", v->valuestring);
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d && d > -1e15 && d < 1e15)
            return snprintf(out, size, "%lld", (long long)d);
        return snprintf(out, size, "%.17g", d);
    }
    if (cJSON_IsBool(v))
        return snprintf(out, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
    return snprintf(out, size, "%s", "");
}

/* The tail of a run: the `record` log line when the signature matched,
 * then `done`'s. */
static void tail(Req *r)
{
    char id[37], msg[1024], a[256], b[256];
    run_id(id);
    if (r->valid) {
        cJSON *json = cJSON_ParseWithLength(r->body, r->len);
        put_text(a, sizeof a, cJSON_GetObjectItemCaseSensitive(json, "id"));
        put_text(b, sizeof b, cJSON_GetObjectItemCaseSensitive(json, "amount"));
        cJSON_Delete(json);
        int n = snprintf(msg, sizeof msg, "payment %s for %s", a, b);
        log_line(id, "record", msg, n < (int)sizeof msg ? (size_t)n : sizeof msg - 1);
    }
    int n = snprintf(msg, sizeof msg, "run %s finished", id);
    log_line(id, "done", msg, (size_t)n);
}

/* ---- the worker queue ------------------------------------------------------ */

static void req_free(Req *r)
{
    if (r->body != r->inline_buf)
        free(r->body);
    free(r);
}

static void queue_push(Req *r)
{
    r->next = NULL;
    pthread_mutex_lock(&queue.lock);
    if (queue.tail)
        queue.tail->next = r;
    else
        queue.head = r;
    queue.tail = r;
    pthread_cond_signal(&queue.ready);
    pthread_mutex_unlock(&queue.lock);
}

/* Takes jobs until stopped with the queue empty. */
static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&queue.lock);
    for (;;) {
        Req *r = queue.head;
        if (!r) {
            if (queue.stopping)
                break;
            pthread_cond_wait(&queue.ready, &queue.lock);
            continue;
        }
        queue.head = r->next;
        if (!queue.head)
            queue.tail = NULL;
        pthread_mutex_unlock(&queue.lock);
        tail(r);
        req_free(r);
        pthread_mutex_lock(&queue.lock);
    }
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

/* ---- the request ------------------------------------------------------------ */

/* Appends a piece of the body; past MAX_BODY the request is marked. */
static void req_take(Req *r, const char *data, size_t n)
{
    if (r->too_large || n > MAX_BODY - r->len) {
        r->too_large = true;
        return;
    }
    if (r->cap - r->len < n) {
        size_t cap = r->cap * 2 > r->len + n ? r->cap * 2 : r->len + n;
        char *p = malloc(cap);
        if (!p) {
            r->too_large = true;
            return;
        }
        memcpy(p, r->body, r->len);
        if (r->body != r->inline_buf)
            free(r->body);
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

/* The body is complete: answer, then hand the request to a worker. */
static enum MHD_Result req_finish(struct MHD_Connection *mc, Req *r, void **ctx)
{
    if (r->too_large)
        return MHD_queue_response(mc, MHD_HTTP_CONTENT_TOO_LARGE, app.too_large);
    const char *sig = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Signature");
    r->valid = signature_ok(sig, r->body, r->len);
    enum MHD_Result ok = r->valid
        ? MHD_queue_response(mc, MHD_HTTP_OK, app.ok)
        : MHD_queue_response(mc, MHD_HTTP_UNAUTHORIZED, app.bad_sig);
    *ctx = NULL;                 /* the worker owns r now */
    queue_push(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    Req *r = *ctx;
    (void)cls, (void)version;
    if (!r) {
        if (strcmp(url, "/hooks/payment") != 0)
            return MHD_queue_response(mc, MHD_HTTP_NOT_FOUND, app.not_found);
        if (strcmp(method, "POST") != 0)
            return MHD_queue_response(mc, MHD_HTTP_METHOD_NOT_ALLOWED, app.not_allowed);
        if (!(r = malloc(sizeof *r)))
            return MHD_NO;
        r->too_large = false;
        r->len = 0;
        r->cap = INLINE_BODY;
        r->body = r->inline_buf;
        *ctx = r;
        return MHD_YES;
    }
    if (*size) {
        req_take(r, data, *size);
        *size = 0;
        return MHD_YES;
    }
    return req_finish(mc, r, ctx);
}

/* Frees a request that never reached a worker. */
static void on_completed(void *cls, struct MHD_Connection *mc, void **ctx,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)mc, (void)why;
    if (*ctx)
        req_free(*ctx);
    *ctx = NULL;
}

/* ---- start ------------------------------------------------------------------- */

static struct MHD_Response *json_response(const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

static int setup(void)
{
    app.secret = getenv("PAYMENT_SECRET");
    if (!app.secret) {
        fputs("handwritten: missing environment variable PAYMENT_SECRET\n", stderr);
        return -1;
    }
    app.secret_len = strlen(app.secret);
    app.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    app.ok = json_response("{\"received\":true}");
    app.bad_sig = json_response("{\"error\":\"invalid signature\"}");
    app.not_found = json_response("{\"error\":\"not found\"}");
    app.not_allowed = json_response("{\"error\":\"method not allowed\"}");
    app.too_large = json_response("{\"error\":\"request body too large\"}");
    if (!app.hmac || !app.ok || !app.bad_sig || !app.not_found
        || !app.not_allowed || !app.too_large)
        return -1;
    MHD_add_response_header(app.not_allowed, MHD_HTTP_HEADER_ALLOW, "POST");
    return 0;
}

/* "[HOST:]PORT" (IPv4) into sa; 0 or -1. */
static int parse_listen(const char *spec, struct sockaddr_in *sa)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(spec, ':'), *port = colon ? colon + 1 : spec;
    if (colon && (size_t)(colon - spec) < sizeof host)
        snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(port));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* One daemon per thread, each on its own SO_REUSEPORT socket bound to the
 * same port, so that the kernel spreads the connections over the threads
 * (a shared listening socket lets one thread take them all). */
static struct MHD_Daemon *daemon_start(const struct sockaddr_in *sa)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
                   | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                            MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                            MHD_OPTION_CONNECTION_LIMIT, 10000u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_END);
}

/* workers daemons; the first picks the port when sa's is 0.  The number
 * started (all, or 0 on failure). */
static unsigned daemons_start(struct sockaddr_in *sa, struct MHD_Daemon **d, unsigned workers)
{
    for (unsigned i = 0; i < workers; i++) {
        d[i] = daemon_start(sa);
        const union MHD_DaemonInfo *info =
            d[i] ? MHD_get_daemon_info(d[i], MHD_DAEMON_INFO_BIND_PORT) : NULL;
        if (!info) {
            while (i-- > 0)
                MHD_stop_daemon(d[i]);
            return 0;
        }
        sa->sin_port = htons(info->port);
    }
    return workers;
}

static int parse_args(int argc, char **argv, const char **listen, unsigned *workers)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            *listen = argv[++i];
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            *workers = (unsigned)atoi(argv[++i]);
        else
            return -1;
    }
    return *workers >= 1 && *workers <= 1024 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8080";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned workers = cpus > 0 ? (unsigned)cpus : 1;
    struct sockaddr_in sa;
    if (parse_args(argc, argv, &listen, &workers) < 0 || parse_listen(listen, &sa) < 0) {
        fputs("usage: handwritten [--listen [HOST:]PORT] [--workers N]\n", stderr);
        return 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* every thread inherits it */
    signal(SIGPIPE, SIG_IGN);
    if (setup() < 0)
        return 2;
    pthread_t *threads = calloc(workers, sizeof *threads);
    for (unsigned i = 0; threads && i < workers; i++)
        if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0)
            return 2;
    struct MHD_Daemon **d = calloc(workers, sizeof *d);
    if (!d || daemons_start(&sa, d, workers) == 0) {
        fprintf(stderr, "handwritten: cannot listen on %s\n", listen);
        return 2;
    }
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    fprintf(stderr, "listening on http://%s:%u\n", host, ntohs(sa.sin_port));
    int sig;
    sigwait(&stop, &sig);
    for (unsigned i = 0; i < workers; i++)
        MHD_stop_daemon(d[i]);
    free(d);
    pthread_mutex_lock(&queue.lock);
    queue.stopping = true;
    pthread_cond_broadcast(&queue.ready);
    pthread_mutex_unlock(&queue.lock);
    for (unsigned i = 0; i < workers; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    return 0;
}
