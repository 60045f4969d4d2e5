/* email.c - the send_email step: SMTP on libcurl's multi interface, every
 * message driven by one thread.
 *
 * fl_send_email() checks the rendered addresses and subject (CR or LF
 * fails the step: no header injection), builds the whole message in the
 * run's arena (mailmsg.c) and tells run.c what the run waits for.  Once
 * the run is parked the message goes to this file's curl lane
 * (curl_lane.c), whose one thread drives every transfer in flight, as
 * outbound.c's does for http_request: a run waiting on an SMTP server
 * holds no thread.  A finished transfer either arms a back-off
 * timer (a retry: connection failures, time-outs and 4xx replies) or
 * posts the call to a run worker, which records the output and re-enters
 * the run.  The thread only reads the message bytes, which live as long
 * as the run; it never touches the run itself.
 *
 * Retries (spec 8.2) back off as http_request's do (run/backoff.h): on
 * the call's own timer before the run's acknowledgement, and after it as
 * the run (run_retry_later(), see run.c's "retries that outlast an
 * outage"): the worker frees the call, the run waits holding no thread
 * with its position journaled, and after a restart the step runs again
 * when due, its attempt count kept (run_take_tries()).  Such a retry
 * builds the message anew, with a new Date and Message-ID: none was
 * delivered.
 *
 * TLS (spec §10): smtps:// is TLS from the start; smtp:// upgrades with
 * STARTTLS when the server offers it, and requires it when a username is
 * set and the host is not a loopback address.  Certificates are always
 * verified, against the system's CAs or the file SSL_CERT_FILE names (as
 * OpenSSL's own tools do).  Ownership is outbound.c's: one holder at a
 * time - this thread, the timer heap, a worker - and the last frees. */
#include "run/backoff.h"
#include "run/curl_lane.h"
#include "run/mailmsg.h"
#include "run/sched.h"
#include "run/step.h"
#include "ops/log.h"
#include "value/value.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

enum {
    ORIGIN_MAX = 160,
    REPLY_MAX = 256
};

typedef struct MailCall MailCall;
struct MailCall {
    FlRun *run;
    int index, next;
    CurlJob job;                 /* its easy handle; NULL when done */
    struct curl_slist *rcpts;
    const FlValue *message;      /* in the run's arena */
    size_t sent;                 /* bytes of it read by libcurl this attempt */
    const char *message_id;      /* in the run's arena */
    int recipients;
    long timeout_ms;
    int64_t max_delay_ms;        /* retry_max_delay_ms */
    int retries, attempts;       /* attempts: made, earlier calls' included */
    bool journaled;              /* back off as the run (run_retry_later) */
    int64_t retry_wait_ms;       /* journaled: the back-off; 0: none */
    long reply_code;             /* the server's last reply code */
    char reply[REPLY_MAX];       /* its first refusal's text */
    int64_t started_ms;
    FlTimer retry;
    FlTask done;
    char origin[ORIGIN_MAX];     /* "smtp://host:port", for messages */
    char curl_error[CURL_ERROR_SIZE];
    char error[CURL_ERROR_SIZE + ORIGIN_MAX + REPLY_MAX + 64];
};

static void attempt_begin(CurlJob *j);
static void attempt_end(CurlJob *j, CURLcode rc);
static void job_abandon(CurlJob *j);
static const CurlLaneOps lane_ops = { attempt_begin, attempt_end, job_abandon };

static struct {
    CurlLane lane;               /* the transfers */
    char *ca_file;               /* SSL_CERT_FILE, read at start */
} smtp = { .lane = CURL_LANE_INIT(&lane_ops) };

/* ---- calls ---------------------------------------------------------------- */

static void call_free(MailCall *c)
{
    if (c->job.easy)
        curl_easy_cleanup(c->job.easy);
    curl_slist_free_all(c->rcpts);
    free(c);
}

static void call_abandon(MailCall *c)
{
    FlRun *run = c->run;
    call_free(c);
    run_abandon(run);
}

/* CURLOPT_READFUNCTION: the message, from where this attempt is. */
static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    MailCall *c = arg;
    size_t left = c->message->len - c->sent;
    n *= size;
    if (n > left)
        n = left;
    memcpy(buf, c->message->u.s + c->sent, n);
    c->sent += n;
    return n;
}

/* CURLOPT_DEBUGFUNCTION: keeps the server's first refusal (a 4xx or 5xx
 * reply) of the attempt, for messages. */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t n, void *arg)
{
    MailCall *c = arg;
    (void)e;
    if (type != CURLINFO_HEADER_IN || c->reply[0] || n == 0
        || (data[0] != '4' && data[0] != '5'))
        return 0;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    if (n >= sizeof c->reply)
        n = sizeof c->reply - 1;
    for (size_t i = 0; i < n; i++)    /* a log line stays one line */
        c->reply[i] = data[i] >= ' ' && data[i] < 0x7f ? data[i] : '?';
    c->reply[n] = '\0';
    return 0;
}

/* ---- the curl thread -------------------------------------------------------- */

static void attempt_begin(CurlJob *j)
{
    MailCall *c = container_of(j, MailCall, job);
    c->attempts++;
    c->sent = 0;
    c->reply[0] = c->curl_error[0] = '\0';
    c->reply_code = 0;
}

/* Temporary failures: no connection, a time-out, a 4xx reply. */
static bool retryable(const MailCall *c, CURLcode rc)
{
    if (rc == CURLE_OK)
        return false;
    if (c->reply_code >= 400 && c->reply_code < 500)
        return true;
    if (c->reply_code >= 500)
        return false;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

/* The back-off after the attempts made (run/backoff.h), with jitter. */
static int64_t backoff_next(MailCall *c)
{
    return backoff_ms(c->attempts, c->max_delay_ms, curl_lane_random(&smtp.lane));
}

static void describe_failure(MailCall *c, CURLcode rc, bool attempts)
{
    size_t n = sizeof c->error;
    int w;
    if (c->reply_code >= 400 && c->reply[0])
        w = snprintf(c->error, n, "%s refused the message: %s", c->origin, c->reply);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        w = snprintf(c->error, n, "%s timed out after %ld ms", c->origin, c->timeout_ms);
    else
        w = snprintf(c->error, n, "%s failed: %s", c->origin,
                     c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc));
    if (attempts && w > 0 && (size_t)w < n && c->attempts > 1)
        snprintf(c->error + w, n - (size_t)w, " (%d attempts)", c->attempts);
}

/* The attempt failed and another is due: logs it and returns the wait. */
static int64_t retry_announce(MailCall *c, CURLcode rc)
{
    int64_t wait = backoff_next(c);
    char msg[sizeof c->error + 64];
    describe_failure(c, rc, false);
    snprintf(msg, sizeof msg, "%s; attempt %d of %d in %lld ms", c->error,
             c->attempts + 1, c->retries + 1, (long long)wait);
    run_log(c->run, FL_LOG_WARN, "email_retry", msg, -1);
    c->error[0] = '\0';
    return wait;
}

/* An attempt is over: retry after a back-off - on the call's timer, or,
 * journaled, as the run (call_done()) - or hand the call to a worker. */
static void attempt_end(CurlJob *j, CURLcode rc)
{
    MailCall *c = container_of(j, MailCall, job);
    curl_easy_getinfo(c->job.easy, CURLINFO_RESPONSE_CODE, &c->reply_code);
    bool again = rc != CURLE_OK && c->attempts <= c->retries && retryable(c, rc);
    if (again && !c->journaled) {
        sched_at(&c->retry, clock_ms() + retry_announce(c, rc));
        return;
    }
    if (again)
        c->retry_wait_ms = retry_announce(c, rc);
    else if (rc != CURLE_OK)
        describe_failure(c, rc, true);
    else
        c->error[0] = '\0';
    curl_easy_cleanup(c->job.easy);
    c->job.easy = NULL;
    sched_post(&c->done);
}

static void call_submit(MailCall *c)
{
    curl_lane_submit(&smtp.lane, &c->job);
}

static void job_abandon(CurlJob *j)
{
    call_abandon(container_of(j, MailCall, job));
}

static void call_start(void *arg)
{
    MailCall *c = arg;
    c->started_ms = clock_ms();
    call_submit(c);
}

static void retry_fire(FlTimer *t, bool discard)
{
    MailCall *c = container_of(t, MailCall, retry);
    if (discard)
        call_abandon(c);
    else
        call_submit(c);
}

int fl_email_start(void)
{
    const char *ca = getenv("SSL_CERT_FILE");
    smtp.ca_file = ca && *ca ? strdup(ca) : NULL;
    return curl_lane_start(&smtp.lane);
}

void fl_email_stop(void)
{
    curl_lane_stop(&smtp.lane);
    free(smtp.ca_file);
    smtp.ca_file = NULL;
}

/* ---- the output, on a worker ---------------------------------------------- */

/* {"attempts": n}: what a failed step's output knows. */
static const FlValue *attempts_only(FlArena *a, int attempts)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 1);
    fl_object_add(&ob, "attempts", 8, fl_number(a, attempts));
    return fl_object_finish(&ob);
}

/* Records the step's output or failure; returns where the run goes on. */
static int call_record(MailCall *c)
{
    FlRun *run = c->run;
    FlArena *a = fl_run_arena(run);
    long long took = clock_ms() - c->started_ms;
    if (c->error[0]) {
        run_log(c->run, FL_LOG_DEBUG, "email", c->error, took);
        return run_step_failed(run, c->index, c->error, c->next,
                               attempts_only(a, c->attempts));
    }
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 4);
    fl_object_add(&ob, "sent", 4, &fl_true);
    fl_object_add(&ob, "message_id", 10,
                  fl_string_ref(a, c->message_id, strlen(c->message_id)));
    fl_object_add(&ob, "recipients", 10, fl_number(a, c->recipients));
    fl_object_add(&ob, "attempts", 8, fl_number(a, c->attempts));
    fl_step_done(run, c->index, fl_object_finish(&ob));
    run_log(c->run, FL_LOG_DEBUG, "email", "sent", took);
    return c->next;
}

static void call_done(FlTask *t, bool discard)
{
    MailCall *c = container_of(t, MailCall, done);
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

/* ---- fl_send_email: the message, checked and built ------------------------- */

typedef struct {
    FlBuf to, cc;                /* the header forms, joined */
    int to_col, cc_col;
    struct curl_slist *rcpts;    /* "<addr>" of every recipient */
    int count;
} Envelope;

/* Adds one recipient value (an address or an array of them). */
static int add_recipients(FlRun *run, const char *field, const FlValue *v,
                          FlBuf *header, int *col, Envelope *env)
{
    FlArena *a = fl_run_arena(run);
    if (v->type == FL_NULL)
        return 0;
    if (v->type == FL_ARRAY) {
        for (uint32_t i = 0; i < v->len; i++)
            if (add_recipients(run, field, &v->u.items[i], header, col, env) < 0)
                return -1;
        return 0;
    }
    MailAddr m;
    const char *why = mail_address(a, v, &m);
    if (why)
        return run_fail(run, "%s: the address %s", field, why);
    if (header)
        mail_join_address(header, m.header, col, header->len == 0);
    char rcpt[512];
    snprintf(rcpt, sizeof rcpt, "<%s>", m.addr);
    env->rcpts = rt_check(curl_slist_append(env->rcpts, rcpt));
    env->count++;
    return 0;
}

static int envelope_of(FlRun *run, const FlEmail *m, Envelope *env)
{
    FlArena *a = fl_run_arena(run);
    fl_buf_init(&env->to, a);
    env->to_col = 4;                  /* "To: " */
    for (int i = 0; i < m->to.count; i++)
        if (add_recipients(run, "to", m->to.items[i], &env->to, &env->to_col, env) < 0)
            return -1;
    fl_buf_init(&env->cc, a);
    env->cc_col = 4;
    for (int i = 0; i < m->cc.count; i++)
        if (add_recipients(run, "cc", m->cc.items[i], &env->cc, &env->cc_col, env) < 0)
            return -1;
    for (int i = 0; i < m->bcc.count; i++)
        if (add_recipients(run, "bcc", m->bcc.items[i], NULL, NULL, env) < 0)
            return -1;
    if (env->count == 0)
        return run_fail(run, "the message has no recipient");
    return 0;
}

/* "scheme://host:port" of the url (no user info, no path), and whether
 * its host is a loopback address. */
static int origin_of(const char *url, char out[ORIGIN_MAX], bool *loopback)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        snprintf(out, ORIGIN_MAX, "%s://%s:%s", scheme, host, port);
        *loopback = strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0
                    || strcmp(host, "[::1]") == 0;
        rc = (strcasecmp(scheme, "smtp") == 0 || strcasecmp(scheme, "smtps") == 0) ? 0 : -1;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static const char *c_text(FlArena *a, const FlValue *v)
{
    if (!v || v->type != FL_STRING || v->len == 0 || memchr(v->u.s, '\0', v->len))
        return NULL;
    return fl_string(a, v->u.s, v->len)->u.s;
}

/* The easy handle: url, envelope, TLS rule, credentials, limits. */
static void set_options(MailCall *c, const FlEmail *m, FlArena *a,
                        const char *url, const char *from, bool loopback)
{
    CURL *e = c->job.easy;
    const char *user = c_text(a, m->username), *pass = c_text(a, m->password);
    char mail_from[512];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, c->rcpts);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, c);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->message->len);
    curl_easy_setopt(e, CURLOPT_USE_SSL, user && !loopback ? (long)CURLUSESSL_ALL
                                                           : (long)CURLUSESSL_TRY);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (smtp.ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, smtp.ca_file);
    if (user)
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
    if (pass)
        curl_easy_setopt(e, CURLOPT_PASSWORD, pass);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_error);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);         /* for on_debug only */
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, c);
}

/* The header texts: CR or LF in any of them fails the step. */
static int check_headers(FlRun *run, const FlEmail *m, MailAddr *from,
                         MailAddr *reply_to)
{
    FlArena *a = fl_run_arena(run);
    const char *why = mail_address(a, m->from, from);
    if (why)
        return run_fail(run, "from: the address %s", why);
    if (m->reply_to && (why = mail_address(a, m->reply_to, reply_to)))
        return run_fail(run, "reply_to: the address %s", why);
    if (memchr(m->subject->u.s, '\r', m->subject->len)
        || memchr(m->subject->u.s, '\n', m->subject->len))
        return run_fail(run, "subject: contains CR or LF");
    return 0;
}

/* Message-ID <uuid@domain of from>; the boundary from another uuid. */
static int make_ids(FlArena *a, const char *from, MailParts *p)
{
    char id[37], boundary[37];
    if (fl_uuid_v4(id) < 0 || fl_uuid_v4(boundary) < 0)
        return -1;
    const char *domain = strrchr(from, '@') + 1;
    FlBuf b;
    fl_buf_init(&b, a);
    fl_buf_append(&b, id, 36);
    fl_buf_putc(&b, '@');
    fl_buf_append(&b, domain, strlen(domain));
    p->message_id = fl_buf_finish(&b)->u.s;
    fl_buf_init(&b, a);
    FL_BUF_APPEND_LIT(&b, "flusso-");
    fl_buf_append(&b, boundary, 36);
    p->boundary = fl_buf_finish(&b)->u.s;
    return 0;
}

int fl_send_email(FlRun *run, int index, const FlEmail *m, int next)
{
    FlArena *a = fl_run_arena(run);
    MailAddr from, reply_to = { NULL, NULL };
    Envelope env = { .rcpts = NULL };
    char origin[ORIGIN_MAX];
    bool loopback = false;
    const char *url = c_text(a, m->smtp_url);
    if (!url || origin_of(url, origin, &loopback) < 0)
        return run_fail(run, "smtp_url must be smtp://HOST or smtps://HOST");
    if (!smtp.lane.multi)
        return run_fail(run, "the SMTP client is not running");
    if (check_headers(run, m, &from, &reply_to) < 0 || envelope_of(run, m, &env) < 0) {
        curl_slist_free_all(env.rcpts);
        return -1;
    }
    MailParts parts = {
        .from = from.header, .reply_to = reply_to.header, .subject = m->subject,
        .to = env.to.len ? fl_buf_finish(&env.to)->u.s : NULL,
        .cc = env.cc.len ? fl_buf_finish(&env.cc)->u.s : NULL,
        .text = m->text, .html = m->html, .date_ms = fl_time_now_ms(),
    };
    if (make_ids(a, from.addr, &parts) < 0) {
        curl_slist_free_all(env.rcpts);
        return run_fail(run, "cannot make a Message-ID");
    }
    MailCall *c = rt_check(calloc(1, sizeof *c));
    c->run = run;
    c->index = index;
    c->next = next;
    c->job.easy = rt_check(curl_easy_init());
    c->rcpts = env.rcpts;
    c->recipients = env.count;
    c->message = mail_message(a, &parts);
    c->message_id = parts.message_id;
    c->timeout_ms = m->timeout_ms > 0 ? m->timeout_ms : 30000;
    c->retries = m->retries > 0 ? m->retries : 0;
    c->attempts = run_take_tries(run, index);
    c->journaled = run_journaled(run);
    c->max_delay_ms = m->retry_max_delay_ms > 0 ? m->retry_max_delay_ms
                                                : BACKOFF_DEFAULT_CAP_MS;
    c->retry = (FlTimer){ .fire = retry_fire, .heap_index = -1 };
    c->done.run = call_done;
    snprintf(c->origin, sizeof c->origin, "%s", origin);
    set_options(c, m, a, url, from.addr, loopback);
    run_set_wait(run, call_start, c);
    return 0;
}
