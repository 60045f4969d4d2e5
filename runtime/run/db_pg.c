/* db_pg.c - the database step's PostgreSQL backend: libpq's asynchronous
 * interface, every connection driven by one thread.
 *
 * Like outbound HTTP (outbound.c), a statement in flight holds no thread:
 * this thread waits in poll() on the sockets of every connection and an
 * eventfd that new calls ring, so one thread serves them all however many
 * runs wait.  Each url has a pool of up to POOL_MAX connections: the one
 * opened (and so checked) at start, more opened without blocking
 * (PQconnectStart) while calls wait for one; a call waits in its pool's
 * queue until a connection is idle.  A connection that breaks (the
 * server went away) fails the statement on it and is dropped; the next
 * call opens a new one, and fails too while the server is down.
 *
 * Statements are sent with PQsendQueryParams, text parameters typed as
 * flusso's typed rule says (database.h), in single-row mode: rows are
 * copied into the call as they come, so a result past max_rows stops at
 * max_rows + 1 rows, whatever the table holds.  timeout_ms, or too many
 * rows, fails the call at once and cancels the statement on the server
 * (PQcancel: a short blocking connect on this thread, not a run
 * worker's); the connection drains what is left and goes back to the pool.
 */
#include "run/database.h"
#include "value/value.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum {
    POOL_MAX = 8,                /* connections per url */
    POLL_MS = 1000,              /* idle wake-up */
    DRAIN_MS = 5000,             /* a cancelled statement's leftovers */
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21,
    OID_INT4 = 23, OID_OID = 26, OID_JSON = 114, OID_FLOAT4 = 700,
    OID_FLOAT8 = 701, OID_NUMERIC = 1700, OID_JSONB = 3802
};

typedef enum {
    PC_CONNECTING,               /* PQconnectPoll until it is made */
    PC_IDLE,                     /* in the pool, free */
    PC_BUSY,                     /* a call's statement in flight */
    PC_DRAINING,                 /* its call failed; results still come */
    PC_DEAD                      /* to be dropped */
} PgState;

typedef struct PgPool PgPool;
typedef struct PgConn PgConn;
struct PgConn {
    PGconn *pg;
    PgState state;
    PostgresPollingStatusType poll;   /* PC_CONNECTING: what it waits for */
    bool flushing;               /* the statement is not all sent yet */
    bool described;              /* the call has its column names */
    DbCall *call;                /* PC_BUSY */
    int64_t drain_until;         /* PC_DRAINING */
    PgPool *pool;
    PgConn *next;
};

struct PgPool {
    char *url;
    PgConn *conns;
    int count;
    DbCall *waiting, *waiting_tail;
    PgPool *next;
};

static struct {
    pthread_mutex_t lock;        /* guards the queue and stopping */
    DbCall *queue;               /* submitted, not yet in a pool */
    bool stopping, started;
    int wakefd;
    pthread_t thread;
    PgPool *pools;
} pgs = { .lock = PTHREAD_MUTEX_INITIALIZER, .wakefd = -1 };

/* ---- opening, at start ---------------------------------------------------- */

/* err without the url's password, should libpq ever quote it. */
static void hide_password(const char *url, char *err)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "password") != 0 || !o->val || !*o->val)
            continue;
        for (char *at; (at = strstr(err, o->val));)
            memset(at, '*', strlen(o->val));
    }
    PQconninfoFree(opts);
}

static void pg_message(const char *url, PGconn *pg, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", pg ? PQerrorMessage(pg) : "out of memory");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
    hide_password(url, err);
}

static PgConn *conn_add(PgPool *pool, PGconn *pg, PgState state)
{
    PgConn *c = rt_check(calloc(1, sizeof *c));
    c->pg = pg;
    c->state = state;
    c->poll = PGRES_POLLING_WRITING;
    c->pool = pool;
    c->next = pool->conns;
    pool->conns = c;
    pool->count++;
    return c;
}

void *pg_db_open(const char *url, char *err, size_t errlen)
{
    for (PgPool *p = pgs.pools; p; p = p->next)
        if (strcmp(p->url, url) == 0)
            return p;
    PGconn *pg = PQconnectdb(url);
    if (!pg || PQstatus(pg) != CONNECTION_OK || PQsetnonblocking(pg, 1) != 0) {
        pg_message(url, pg, err, errlen);
        PQfinish(pg);
        return NULL;
    }
    PgPool *p = rt_check(calloc(1, sizeof *p));
    p->url = rt_check(strdup(url));
    p->next = pgs.pools;
    pgs.pools = p;
    conn_add(p, pg, PC_IDLE);
    return p;
}

/* ---- calls ------------------------------------------------------------------ */

static void waiting_push(PgPool *p, DbCall *c)
{
    c->link = NULL;
    if (p->waiting_tail)
        p->waiting_tail->link = c;
    else
        p->waiting = c;
    p->waiting_tail = c;
}

static DbCall *waiting_pop(PgPool *p)
{
    DbCall *c = p->waiting;
    if (c) {
        p->waiting = c->link;
        if (!p->waiting)
            p->waiting_tail = NULL;
    }
    return c;
}

/* The call on conn is over, well or not: to a worker. */
static void conn_release_call(PgConn *c)
{
    if (c->call)
        db_finish(c->call);
    c->call = NULL;
}

/* The connection broke: its call fails, and it goes. */
static void conn_broken(PgConn *c, const char *what)
{
    if (c->call) {
        char msg[400];
        pg_message(c->pool->url, c->pg, msg, sizeof msg);
        db_fail(c->call, "%s: %s", what, msg);
    }
    conn_release_call(c);
    c->state = PC_DEAD;
}

/* Fails the call at once and asks the server to stop the statement; the
 * connection drains what is left. */
static void conn_cancel(PgConn *c)
{
    char buf[256];
    PGcancel *cancel = PQgetCancel(c->pg);
    if (!cancel || !PQcancel(cancel, buf, sizeof buf))
        c->state = PC_DEAD;           /* cannot stop it: drop the connection */
    else
        c->state = PC_DRAINING;
    PQfreeCancel(cancel);
    c->drain_until = clock_ms() + DRAIN_MS;
    conn_release_call(c);
}

static Oid param_type(DbKind k)
{
    switch (k) {
    case DB_BOOL: return OID_BOOL;
    case DB_INT: return OID_INT8;
    case DB_FLOAT: return OID_FLOAT8;
    default: return 0;                /* the server infers it from the use */
    }
}

/* Sends call's statement on the idle connection c. */
static void conn_send(PgConn *c, DbCall *call)
{
    int n = call->param_count;
    const char **values = rt_check(calloc((size_t)n + 1, sizeof *values));
    Oid *types = rt_check(calloc((size_t)n + 1, sizeof *types));
    for (int i = 0; i < n; i++) {
        values[i] = call->params[i].kind == DB_NULL ? NULL : call->params[i].text;
        types[i] = param_type(call->params[i].kind);
    }
    c->call = call;
    c->state = PC_BUSY;
    c->described = false;
    int sent = PQsendQueryParams(c->pg, call->sql, n, types, values, NULL, NULL, 0);
    free(values);
    free(types);
    if (!sent) {
        conn_broken(c, "cannot send the statement");
        return;
    }
    PQsetSingleRowMode(c->pg);
    int f = PQflush(c->pg);
    c->flushing = f == 1;
    if (f < 0)
        conn_broken(c, "cannot send the statement");
}

/* Starts as many waiting calls as the pool allows. */
static void pool_dispatch(PgPool *p)
{
    int connecting = 0, waiting = 0;
    for (PgConn *c = p->conns; c && p->waiting; c = c->next)
        if (c->state == PC_IDLE)
            conn_send(c, waiting_pop(p));
    for (PgConn *c = p->conns; c; c = c->next)
        connecting += c->state == PC_CONNECTING;
    for (DbCall *w = p->waiting; w; w = w->link)
        waiting++;
    while (waiting > connecting && p->count < POOL_MAX) {
        PGconn *pg = PQconnectStart(p->url);
        if (!pg || PQstatus(pg) == CONNECTION_BAD) {
            DbCall *call = waiting_pop(p);
            char msg[400];
            pg_message(p->url, pg, msg, sizeof msg);
            db_fail(call, "cannot connect to the database: %s", msg);
            db_finish(call);
            PQfinish(pg);
            waiting--;
            continue;
        }
        conn_add(p, pg, PC_CONNECTING);
        connecting++;
    }
}

/* ---- results ------------------------------------------------------------------ */

static DbKind cell_kind(Oid type)
{
    switch (type) {
    case OID_BOOL: return DB_BOOL;
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: return DB_INT;
    case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC: return DB_FLOAT;
    case OID_JSON: case OID_JSONB: return DB_JSON;
    case OID_BYTEA: return DB_BLOB;
    default: return DB_TEXT;
    }
}

static void put_cell(DbCall *call, const PGresult *res, int col)
{
    if (PQgetisnull(res, 0, col)) {
        db_put_cell(call, DB_NULL, NULL, 0);
        return;
    }
    DbKind kind = cell_kind(PQftype(res, col));
    const char *v = PQgetvalue(res, 0, col);
    if (kind != DB_BLOB) {
        db_put_cell(call, kind, v, (size_t)PQgetlength(res, 0, col));
        return;
    }
    size_t len = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)v, &len);
    db_put_cell(call, DB_BLOB, bytes, bytes ? len : 0);
    PQfreemem(bytes);
}

static void describe(PgConn *c, const PGresult *res)
{
    if (c->described)
        return;
    c->described = true;
    c->call->columns = PQnfields(res);
    for (int i = 0; i < c->call->columns; i++)
        db_put_name(c->call, PQfname(res, i));
}

/* One result of the statement on c. */
static void take_result(PgConn *c, const PGresult *res)
{
    DbCall *call = c->call;
    if (!call)
        return;                       /* draining */
    switch (PQresultStatus(res)) {
    case PGRES_SINGLE_TUPLE:
        describe(c, res);
        if (call->rows == call->max_rows) {
            db_fail(call, "the result has more than %ld rows (max_rows)",
                    call->max_rows);
            conn_cancel(c);
            return;
        }
        for (int i = 0; i < call->columns; i++)
            put_cell(call, res, i);
        call->rows++;
        break;
    case PGRES_TUPLES_OK:
        describe(c, res);
        break;
    case PGRES_COMMAND_OK:
        call->changed = atol(PQcmdTuples((PGresult *)res));
        break;
    case PGRES_EMPTY_QUERY:
        db_fail(call, "the statement is empty");
        break;
    default:
        db_fail(call, "%s", PQresultErrorMessage(res));
    }
}

/* Reads what arrived on a busy or draining connection. */
static void conn_read(PgConn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_broken(c, "the connection to the database was lost");
        return;
    }
    while ((c->state == PC_BUSY || c->state == PC_DRAINING) && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (!res) {                   /* the statement is over */
            conn_release_call(c);
            c->state = PQstatus(c->pg) == CONNECTION_OK ? PC_IDLE : PC_DEAD;
            return;
        }
        take_result(c, res);
        PQclear(res);
    }
}

/* ---- the thread ------------------------------------------------------------- */

static void conn_service(PgConn *c, short revents)
{
    switch (c->state) {
    case PC_CONNECTING:
        c->poll = PQconnectPoll(c->pg);
        if (c->poll == PGRES_POLLING_OK)
            c->state = PQsetnonblocking(c->pg, 1) == 0 ? PC_IDLE : PC_DEAD;
        else if (c->poll == PGRES_POLLING_FAILED) {
            DbCall *call = waiting_pop(c->pool);
            if (call) {
                c->call = call;
                conn_broken(c, "cannot connect to the database");
            }
            c->state = PC_DEAD;
        }
        break;
    case PC_BUSY: case PC_DRAINING:
        if (c->flushing && (revents & POLLOUT)) {
            int f = PQflush(c->pg);
            c->flushing = f == 1;
            if (f < 0)
                conn_broken(c, "the connection to the database was lost");
        }
        if (revents & (POLLIN | POLLERR | POLLHUP))
            conn_read(c);
        break;
    case PC_IDLE:                     /* the server closed it, or a notice */
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK)
            c->state = PC_DEAD;
        break;
    case PC_DEAD:
        break;
    }
}

static short conn_events(const PgConn *c)
{
    if (c->state == PC_CONNECTING)
        return c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    return (short)(POLLIN | (c->flushing ? POLLOUT : 0));
}

/* Deadlines: statements past theirs are cancelled, calls waiting for a
 * connection past theirs fail, drains past theirs are dropped. */
static void check_deadlines(PgPool *p, int64_t now)
{
    for (PgConn *c = p->conns; c; c = c->next) {
        if (c->state == PC_BUSY && now >= c->call->deadline_ms) {
            db_fail(c->call, "timed out after %ld ms", c->call->timeout_ms);
            conn_cancel(c);
        } else if (c->state == PC_DRAINING && now >= c->drain_until) {
            c->state = PC_DEAD;
        }
    }
    while (p->waiting && now >= p->waiting->deadline_ms) {
        DbCall *call = waiting_pop(p);
        db_fail(call, "timed out after %ld ms waiting for a connection",
                call->timeout_ms);
        db_finish(call);
    }
}

/* Drops dead connections. */
static void pool_sweep(PgPool *p)
{
    for (PgConn **at = &p->conns; *at;) {
        PgConn *c = *at;
        if (c->state != PC_DEAD) {
            at = &c->next;
            continue;
        }
        *at = c->next;
        conn_release_call(c);
        PQfinish(c->pg);
        free(c);
        p->count--;
    }
}

/* The earliest deadline, as a poll() timeout. */
static int poll_timeout(int64_t now)
{
    int64_t due = now + POLL_MS;
    for (PgPool *p = pgs.pools; p; p = p->next) {
        for (PgConn *c = p->conns; c; c = c->next) {
            if (c->state == PC_BUSY && c->call->deadline_ms < due)
                due = c->call->deadline_ms;
            if (c->state == PC_DRAINING && c->drain_until < due)
                due = c->drain_until;
        }
        if (p->waiting && p->waiting->deadline_ms < due)
            due = p->waiting->deadline_ms;
    }
    return due <= now ? 0 : (int)(due - now);
}

/* Moves the submitted calls to their pools; false when stopping. */
static bool take_queue(void)
{
    uint64_t n;
    if (read(pgs.wakefd, &n, sizeof n) < 0) {
        /* nothing rang: fine */
    }
    pthread_mutex_lock(&pgs.lock);
    bool running = !pgs.stopping;
    DbCall *q = pgs.queue;
    pgs.queue = NULL;
    pthread_mutex_unlock(&pgs.lock);
    DbCall *rev = NULL;               /* submitted newest first: restore order */
    while (q) {
        DbCall *c = q;
        q = q->link;
        c->link = rev;
        rev = c;
    }
    while (rev) {
        DbCall *c = rev;
        rev = rev->link;
        waiting_push(c->conn_pool, c);
    }
    return running;
}

/* One poll() over every connection and the wake-up fd. */
static void poll_once(void)
{
    int n = 1;
    for (PgPool *p = pgs.pools; p; p = p->next)
        n += p->count;
    struct pollfd *fds = rt_check(calloc((size_t)n, sizeof *fds));
    PgConn **conns = rt_check(calloc((size_t)n, sizeof *conns));
    fds[0] = (struct pollfd){ .fd = pgs.wakefd, .events = POLLIN };
    int k = 1;
    for (PgPool *p = pgs.pools; p; p = p->next)
        for (PgConn *c = p->conns; c; c = c->next, k++) {
            conns[k] = c;
            fds[k] = (struct pollfd){ .fd = PQsocket(c->pg), .events = conn_events(c) };
        }
    poll(fds, (nfds_t)k, poll_timeout(clock_ms()));
    for (int i = 1; i < k; i++)
        if (fds[i].revents)
            conn_service(conns[i], fds[i].revents);
    free(fds);
    free(conns);
}

static void *pg_main(void *arg)
{
    (void)arg;
    sigset_t all;                     /* signals are the main thread's */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (take_queue()) {
        int64_t now = clock_ms();
        for (PgPool *p = pgs.pools; p; p = p->next) {
            check_deadlines(p, now);
            pool_sweep(p);
            pool_dispatch(p);
        }
        poll_once();
    }
    return NULL;
}

int pg_db_start(void)
{
    pgs.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pgs.wakefd < 0)
        return -1;
    pgs.stopping = false;
    if (pthread_create(&pgs.thread, NULL, pg_main, NULL) != 0)
        return -1;
    pgs.started = true;
    return 0;
}

static void ring(void)
{
    uint64_t one = 1;
    if (write(pgs.wakefd, &one, sizeof one) < 0) {
        /* the counter is full: the thread is being woken anyway */
    }
}

void pg_db_submit(DbCall *c)
{
    pthread_mutex_lock(&pgs.lock);
    bool stopping = pgs.stopping;
    if (!stopping) {
        c->link = pgs.queue;
        pgs.queue = c;
        ring();
    }
    pthread_mutex_unlock(&pgs.lock);
    if (stopping)
        db_abandon(c);
}

/* After the scheduler: every call still queued, waiting or in flight is
 * abandoned with its run. */
void pg_db_stop(void)
{
    pthread_mutex_lock(&pgs.lock);
    pgs.stopping = true;
    if (pgs.wakefd >= 0)
        ring();
    pthread_mutex_unlock(&pgs.lock);
    if (pgs.started)
        pthread_join(pgs.thread, NULL);
    pgs.started = false;
    take_queue();
    while (pgs.pools) {
        PgPool *p = pgs.pools;
        pgs.pools = p->next;
        for (DbCall *c; (c = waiting_pop(p));)
            db_abandon(c);
        while (p->conns) {
            PgConn *c = p->conns;
            p->conns = c->next;
            if (c->call)
                db_abandon(c->call);
            PQfinish(c->pg);
            free(c);
        }
        free(p->url);
        free(p);
    }
    if (pgs.wakefd >= 0)
        close(pgs.wakefd);
    pgs.wakefd = -1;
}
