/* outbound.c - the http_request step: outbound HTTP on libcurl's multi
 * interface, all of it driven by one thread (a curl lane, curl_lane.c).
 *
 * A waiting request holds no thread.  fl_http() checks the rendered
 * request, prepares a curl easy handle for it (an HttpCall) and tells
 * run.c what the run waits for (run_set_wait).  Once the step's thread has
 * let go of the run, run_park() hands the call to the lane's thread,
 * which drives every transfer in flight, so one thread serves them all
 * however many runs wait.  When a
 * transfer ends it either arms a back-off timer on the scheduler's heap (a
 * retry: the timer submits the call again) or posts the call's task to the
 * worker pool, which turns what arrived into the step's output in the
 * run's arena and re-enters the run (run_resume).  A run whose
 * acknowledgement is journaled backs off differently (spec 8.2): the
 * worker frees the call and the run itself waits to run the step again
 * (run_retry_later), its position journaled like a delay's, so that the
 * retry outlasts a restart; the next call starts at the attempt count the
 * run kept (run_take_tries).
 *
 * Ownership: an HttpCall belongs to exactly one holder at a time - the
 * curl thread while queued or in flight, the timer heap while backing
 * off, a worker at the end - and the last one frees it.  The curl thread
 * never touches the run: it copies what the response said (status,
 * headers, body bytes) into the call, and the worker makes the values.
 * The multi handle keeps the connection and DNS caches, so calls to one
 * host reuse connections.  At shutdown (after sched_stop) transfers still
 * running are aborted and their runs abandoned. */
#include "run/step.h"
#include "run/backoff.h"
#include "run/curl_lane.h"
#include "run/sched.h"
#include "ops/log.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

enum {
    MAX_REDIRECTS = 10,
    ORIGIN_MAX = 160
};

typedef struct {                  /* a malloc()ed byte buffer */
    char *p;
    size_t len, cap;
} Bytes;

typedef struct HttpCall HttpCall;
struct HttpCall {
    FlRun *run;
    int index, next;              /* the step, and the step after it */
    CurlJob job;                  /* its easy handle; NULL once the
                                     transfer is over */
    struct curl_slist *headers;   /* the request's */
    long timeout_ms;
    int retries, attempts;        /* attempts: made, earlier calls' included */
    int64_t max_delay_ms;         /* retry_max_delay_ms */
    bool journaled;               /* back off as the run (run_retry_later) */
    int64_t retry_wait_ms;        /* journaled: the back-off; 0: none */
    bool fail_on_status;
    size_t max_bytes;
    bool too_large;               /* the body went over max_bytes */
    long status;                  /* of the last attempt; 0: no answer */
    Bytes body;                   /* of the last attempt */
    Bytes header_pairs;           /* lower-cased name \0 value \0 ... */
    int64_t started_ms;
    FlTimer retry;                /* the back-off */
    FlTask done;                  /* the output, on a worker */
    char origin[ORIGIN_MAX];      /* "POST https://host:port", for messages */
    char curl_error[CURL_ERROR_SIZE];
    char error[CURL_ERROR_SIZE + ORIGIN_MAX + 64];  /* "" unless it failed */
};

static void attempt_begin(CurlJob *j);
static void attempt_end(CurlJob *j, CURLcode rc);
static void job_abandon(CurlJob *j);
static const CurlLaneOps lane_ops = { attempt_begin, attempt_end, job_abandon };

static struct {
    CurlLane lane;                /* the transfers */
} http = { .lane = CURL_LANE_INIT(&lane_ops) };

static void retry_fire(FlTimer *t, bool discard);
static void call_done(FlTask *t, bool discard);

/* ---- calls -------------------------------------------------------------- */

static void bytes_append(Bytes *b, const void *p, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1)
            cap *= 2;
        b->p = rt_check(realloc(b->p, cap));
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Frees the call, not its run. */
static void call_free(HttpCall *c)
{
    if (c->job.easy)
        curl_easy_cleanup(c->job.easy);
    curl_slist_free_all(c->headers);
    free(c->body.p);
    free(c->header_pairs.p);
    free(c);
}

/* Shutdown: the call goes, and its run with it. */
static void call_abandon(HttpCall *c)
{
    FlRun *run = c->run;
    call_free(c);
    run_abandon(run);
}

/* CURLOPT_WRITEFUNCTION: the body, refused past max_response_bytes (a
 * short count makes libcurl abort the transfer at once). */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    HttpCall *c = arg;
    n *= size;
    if (n > c->max_bytes - c->body.len) {
        c->too_large = true;
        return 0;
    }
    bytes_append(&c->body, p, n);
    return n;
}

/* ---- the curl thread ------------------------------------------------- */

/* Its next attempt begins (the lane's thread). */
static void attempt_begin(CurlJob *j)
{
    HttpCall *c = container_of(j, HttpCall, job);
    c->attempts++;
    c->status = 0;
    c->too_large = false;
    c->body.len = 0;
    c->curl_error[0] = '\0';
}

/* Connection failures, time-outs, 429 and 5xx are worth another try. */
static bool retryable(const HttpCall *c, CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return c->status == 429 || c->status >= 500;
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return !c->too_large;
    default:
        return false;
    }
}

/* The back-off after the attempts made (run/backoff.h), with jitter. */
static int64_t backoff_next(HttpCall *c)
{
    return backoff_ms(c->attempts, c->max_delay_ms, curl_lane_random(&http.lane));
}

/* Why the attempt failed, into c->error ("" if it did not), with the
 * number of attempts when asked and more than one. */
static void describe_failure(HttpCall *c, CURLcode rc, bool attempts)
{
    size_t n = sizeof c->error;
    int w = 0;
    if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        w = snprintf(c->error, n, "%s: response body over max_response_bytes (%zu)",
                     c->origin, c->max_bytes);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        w = snprintf(c->error, n, "%s timed out after %ld ms", c->origin, c->timeout_ms);
    else if (rc != CURLE_OK)
        w = snprintf(c->error, n, "%s failed: %s", c->origin,
                     c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc));
    else if (c->fail_on_status && c->status >= 400)
        w = snprintf(c->error, n, "%s answered HTTP %ld", c->origin, c->status);
    else
        c->error[0] = '\0';
    if (attempts && w > 0 && (size_t)w < n && c->attempts > 1)
        snprintf(c->error + w, n - (size_t)w, " (%d attempts)", c->attempts);
}

/* Copies the final response's headers (lower-cased names) out of the
 * easy handle, which goes next. */
static void copy_headers(HttpCall *c)
{
    struct curl_header *h, *prev = NULL;
    while ((h = curl_easy_nextheader(c->job.easy, CURLH_HEADER, -1, prev))) {
        size_t start = c->header_pairs.len, nlen = strlen(h->name);
        bytes_append(&c->header_pairs, h->name, nlen + 1);
        for (char *p = c->header_pairs.p + start; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p | 0x20);
        bytes_append(&c->header_pairs, h->value, strlen(h->value) + 1);
        prev = h;
    }
}

/* The attempt failed and another is due: logs it and returns the wait. */
static int64_t retry_announce(HttpCall *c, CURLcode rc)
{
    int64_t wait = backoff_next(c);
    char msg[sizeof c->error + 64];
    describe_failure(c, rc, false);
    if (!c->error[0])    /* a 429 or 5xx with fail_on_status false */
        snprintf(c->error, sizeof c->error, "%s answered HTTP %ld",
                 c->origin, c->status);
    snprintf(msg, sizeof msg, "%s; attempt %d of %d in %lld ms", c->error,
             c->attempts + 1, c->retries + 1, (long long)wait);
    run_log(c->run, FL_LOG_WARN, "http_retry", msg, -1);
    c->error[0] = '\0';
    return wait;
}

/* An attempt is over: retry after a back-off - on the call's timer, or,
 * journaled, as the run (call_done()) - or hand the call to a worker with
 * what it needs. */
static void attempt_end(CurlJob *j, CURLcode rc)
{
    HttpCall *c = container_of(j, HttpCall, job);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c->job.easy, CURLINFO_RESPONSE_CODE, &c->status);
    bool again = c->attempts <= c->retries && retryable(c, rc);
    if (again && !c->journaled) {
        sched_at(&c->retry, clock_ms() + retry_announce(c, rc));
        return;
    }
    if (again)
        c->retry_wait_ms = retry_announce(c, rc);
    else
        describe_failure(c, rc, true);
    if (!again && !c->error[0])
        copy_headers(c);
    curl_easy_cleanup(c->job.easy);
    c->job.easy = NULL;
    sched_post(&c->done);
}

/* Queues c for the curl thread (first attempt or a retry); any thread.
 * After fl_http_stop() has begun, c is abandoned instead. */
static void call_submit(HttpCall *c)
{
    curl_lane_submit(&http.lane, &c->job);
}

static void job_abandon(CurlJob *j)
{
    call_abandon(container_of(j, HttpCall, job));
}

/* run_park(): the step's thread has let go of the run. */
static void call_start(void *arg)
{
    HttpCall *c = arg;
    c->started_ms = clock_ms();
    call_submit(c);
}

static void retry_fire(FlTimer *t, bool discard)
{
    HttpCall *c = container_of(t, HttpCall, retry);
    if (discard)
        call_abandon(c);
    else
        call_submit(c);
}

int fl_http_start(void)
{
    return curl_lane_start(&http.lane);
}

void fl_http_stop(void)
{
    curl_lane_stop(&http.lane);
}

/* ---- the output, on a worker ----------------------------------------- */

/* The response headers as an object; a name given twice gets its values
 * joined with ", ", in the first one's place. */
static const FlValue *headers_value(FlArena *a, const Bytes *pairs)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 16);
    for (size_t i = 0; i < pairs->len;) {
        const char *name = pairs->p + i, *value;
        size_t nlen = strlen(name), vlen;
        value = name + nlen + 1;
        vlen = strlen(value);
        i += nlen + vlen + 2;
        size_t m = 0;
        while (m < ob.len && !(ob.members[m].klen == nlen
                               && memcmp(ob.members[m].key, name, nlen) == 0))
            m++;
        if (m == ob.len) {
            fl_object_add(&ob, fl_string(a, name, nlen)->u.s, nlen,
                          fl_string(a, value, vlen));
            continue;
        }
        FlBuf b;               /* the builder's members are ours until finish */
        fl_buf_init(&b, a);
        fl_buf_append(&b, ob.members[m].value.u.s, ob.members[m].value.len);
        FL_BUF_APPEND_LIT(&b, ", ");
        fl_buf_append(&b, value, vlen);
        ob.members[m].value = *fl_buf_finish(&b);
    }
    return fl_object_finish(&ob);
}

/* Parsed JSON when the response says it is JSON (and it parses), else
 * text; null when empty. */
static const FlValue *body_value(FlArena *a, const Bytes *body,
                                 const FlValue *headers)
{
    if (body->len == 0)
        return &fl_null;
    const FlValue *ct = fl_get_field(headers, "content-type", 12);
    if (ct->type == FL_STRING && json_media_type(ct->u.s)) {
        const FlValue *v = fl_json_parse(a, body->p, body->len);
        if (v)
            return v;
    }
    return fl_string(a, body->p, body->len);
}

/* {"attempts": n}: what a failed step's output knows. */
static const FlValue *attempts_only(FlArena *a, int attempts)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 1);
    fl_object_add(&ob, "attempts", 8, fl_number(a, attempts));
    return fl_object_finish(&ob);
}

/* Records the step's output or failure; returns where the run goes on. */
static int call_record(HttpCall *c)
{
    FlRun *run = c->run;
    long long took = clock_ms() - c->started_ms;
    FlArena *a = fl_run_arena(run);
    if (c->error[0]) {
        run_log(c->run, FL_LOG_DEBUG, "http", c->error, took);
        return run_step_failed(run, c->index, c->error, c->next,
                               attempts_only(a, c->attempts));
    }
    const FlValue *headers = headers_value(a, &c->header_pairs);
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 4);
    fl_object_add(&ob, "status", 6, fl_number(a, (double)c->status));
    fl_object_add(&ob, "headers", 7, headers);
    fl_object_add(&ob, "body", 4, body_value(a, &c->body, headers));
    fl_object_add(&ob, "attempts", 8, fl_number(a, c->attempts));
    fl_step_done(run, c->index, fl_object_finish(&ob));
    if (log_enabled(FL_LOG_DEBUG)) {
        char msg[ORIGIN_MAX + 32];
        snprintf(msg, sizeof msg, "%s answered HTTP %ld", c->origin, c->status);
        run_log(c->run, FL_LOG_DEBUG, "http", msg, took);
    }
    return c->next;
}

static void call_done(FlTask *t, bool discard)
{
    HttpCall *c = container_of(t, HttpCall, done);
    FlRun *run = c->run;
    if (discard) {
        call_abandon(c);
        return;
    }
    if (c->retry_wait_ms) {       /* journaled: the run waits, not the call */
        int64_t wait = c->retry_wait_ms;
        int attempts = c->attempts;
        call_free(c);
        run_retry_later(run, wait, attempts);
        return;
    }
    int next = call_record(c);
    call_free(c);
    run_resume(run, next);
}

/* ---- fl_http: the request, checked and prepared ------------------------ */

static bool is_token(const FlValue *v)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (v->type != FL_STRING || v->len == 0 || v->len > 64)
        return false;
    for (uint32_t i = 0; i < v->len; i++) {
        char ch = v->u.s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                     || (ch >= '0' && ch <= '9');
        if (!alnum && !memchr(extra, ch, sizeof extra - 1))
            return false;
    }
    return true;
}

static bool bad_header_value(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return true;
    return false;
}

/* "METHOD scheme://host:port" of url: no user info, path or query, which
 * may hold secrets and end up in a 500 or a log line. */
static void origin_of(char out[ORIGIN_MAX], const char *method, const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    size_t n = strcspn(auth, "/?#");
    for (const char *at; (at = memchr(auth, '@', n));) {
        n -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    snprintf(out, ORIGIN_MAX, "%s %.*s%.*s", method, (int)(sep ? sep + 3 - url : 0),
             url, (int)n, auth);
}

static bool has_header(const FlHttpRequest *req, const char *name)
{
    for (int i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return true;
    return false;
}

/* The request headers as libcurl takes them: "Name: value", or "Name;"
 * for an empty value, then the defaults the workflow did not set. */
static void set_headers(HttpCall *c, const FlHttpRequest *req, FlArena *a)
{
    for (int i = 0; i < req->header_count; i++) {
        const FlHeader *h = &req->headers[i];
        FlBuf b;
        fl_buf_init(&b, a);
        fl_buf_append(&b, h->name, strlen(h->name));
        if (h->value_len) {
            FL_BUF_APPEND_LIT(&b, ": ");
            fl_buf_append(&b, h->value, h->value_len);
        } else {
            fl_buf_putc(&b, ';');
        }
        c->headers = rt_check(curl_slist_append(c->headers, fl_buf_finish(&b)->u.s));
    }
    if (!has_header(req, "Content-Type"))
        c->headers = rt_check(curl_slist_append(c->headers,
            !req->body ? "Content-Type:"
            : req->body_is_json ? "Content-Type: application/json"
            : "Content-Type: text/plain; charset=utf-8"));
    if (!has_header(req, "Expect"))      /* no 100-continue round trip */
        c->headers = rt_check(curl_slist_append(c->headers, "Expect:"));
    if (!has_header(req, "traceparent")) {   /* W3C trace context (spec 14) */
        char tp[sizeof "traceparent: " - 1 + 56] = "traceparent: ";
        run_traceparent(c->run, tp + sizeof "traceparent: " - 1);
        c->headers = rt_check(curl_slist_append(c->headers, tp));
    }
}

/* The method and body: GET and HEAD as such, POST as libcurl's POST (so a
 * 303 turns it into a GET), anything else as a custom method. */
static void set_method(CURL *e, const char *method, const FlValue *body)
{
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(method, "GET") == 0 && !body) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body ? body->len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body->u.s : "");
    }
}

static void set_options(HttpCall *c, const FlHttpRequest *req, const char *url)
{
    CURL *e = c->job.easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_error);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "flusso/" FLUSSOC_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
}

/* A NUL-terminated copy of string v in the arena; NULL when v holds a NUL
 * (or is not a string). */
static const char *c_string(FlArena *a, const FlValue *v)
{
    if (v->type != FL_STRING || memchr(v->u.s, '\0', v->len))
        return NULL;
    return fl_string(a, v->u.s, v->len)->u.s;
}

/* Checks what only the rendered values can tell; 0 or -1 (with an error). */
static int check_request(FlRun *run, const FlHttpRequest *req,
                         const char **method, const char **url)
{
    static const FlValue get = FL_STRING_LIT("GET");
    FlArena *a = fl_run_arena(run);
    const FlValue *m = req->method ? req->method : &get;
    if (!is_token(m))
        return run_fail(run, "method must be an HTTP token such as GET or POST");
    *method = c_string(a, m);
    *url = c_string(a, req->url);
    if (!*url || (strncasecmp(*url, "http://", 7) != 0
                  && strncasecmp(*url, "https://", 8) != 0))
        return run_fail(run, "url must start with http:// or https://");
    if (req->body && req->body->type != FL_STRING)
        return run_fail(run, "the request body must be text");
    for (int i = 0; i < req->header_count; i++)
        if (bad_header_value(req->headers[i].value, req->headers[i].value_len))
            return run_fail(run, "header %s: value contains CR, LF or NUL",
                            req->headers[i].name);
    if (!http.lane.multi)
        return run_fail(run, "the HTTP client is not running");
    return 0;
}

int fl_http(FlRun *run, int index, const FlHttpRequest *req, int next)
{
    const char *method = NULL, *url = NULL;
    if (check_request(run, req, &method, &url) < 0)
        return -1;
    HttpCall *c = rt_check(calloc(1, sizeof *c));
    c->job.easy = rt_check(curl_easy_init());
    c->run = run;
    c->index = index;
    c->next = next;
    c->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 10000;
    c->retries = req->retries > 0 ? req->retries : 0;
    c->attempts = run_take_tries(run, index);
    c->journaled = run_journaled(run);
    c->max_delay_ms = req->retry_max_delay_ms > 0 ? req->retry_max_delay_ms
                                                  : BACKOFF_DEFAULT_CAP_MS;
    c->fail_on_status = req->fail_on_status;
    c->max_bytes = req->max_response_bytes > 0 ? (size_t)req->max_response_bytes : 10485760;
    c->retry = (FlTimer){ .fire = retry_fire, .heap_index = -1 };
    c->done.run = call_done;
    origin_of(c->origin, method, url);
    set_headers(c, req, fl_run_arena(run));
    set_method(c->job.easy, method, req->body);
    set_options(c, req, url);
    run_set_wait(run, call_start, c);
    return 0;
}
