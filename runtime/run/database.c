/* database.c - the database step (spec §10): the databases opened at
 * start, the statement handed to its backend, the output made of what
 * came back.
 *
 * fl_db_start() opens every database the program's steps name, through
 * the backend its url's scheme picks (db_sqlite.c, db_pg.c), and starts
 * the backends' threads; a database that cannot be opened stops the
 * handler with exit status 2, naming the step and the url without its
 * password.  fl_database() renders the parameters by the typed rule into
 * the run's arena and parks the run: the backend's thread runs the
 * statement, and a run worker turns the plain bytes it left (database.h)
 * into the output {"rows", "row_count"} and re-enters the run.  So no run
 * worker waits for a database. */
#include "run/database.h"
#include "run/step.h"
#include "ops/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

enum { URL_SHOWN_MAX = 200 };

typedef enum { BACKEND_SQLITE, BACKEND_PG } Backend;

static struct {
    Backend *backend;            /* by FlDatabase index */
    void **pool;                 /* the backend's pool, by FlDatabase index */
    int count;
    bool sqlite, pg;             /* which backends run */
} dbs;

/* ---- start and stop ---------------------------------------------------- */

/* The url without its password (user:password@ -> user:***@; the
 * password= parameter too), for messages. */
static void url_shown(char out[URL_SHOWN_MAX], const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *slash = strchr(auth, '/');
    const char *at = memrchr(auth, '@', slash ? (size_t)(slash - auth) : strlen(auth));
    const char *colon = strchr(auth, ':');   /* the last @ ends the password */
    if (at && colon && colon < at && (!slash || at < slash))
        snprintf(out, URL_SHOWN_MAX, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, URL_SHOWN_MAX, "%s", url);
    char *pw = strstr(out, "password=");
    if (pw)
        snprintf(pw, (size_t)(URL_SHOWN_MAX - (pw - out)), "password=***");
}

/* The url of database d: literal, or its environment variable's value. */
static const char *db_url(const FlDatabase *d)
{
    if (d->url)
        return d->url;
    const FlValue *v = fl_env(d->env);
    return v->type == FL_STRING ? v->u.s : "";
}

/* Opens database i; 0, or 2 after printing why not. */
static int db_open(const FlDatabase *d, int i)
{
    const char *url = db_url(d);
    char err[512] = "", shown[URL_SHOWN_MAX];
    if (strncmp(url, "sqlite:", 7) == 0) {
        dbs.backend[i] = BACKEND_SQLITE;
        dbs.pool[i] = sqlite_db_open(url + 7, err, sizeof err);
        dbs.sqlite = true;
    } else if (strncmp(url, "postgresql://", 13) == 0
               || strncmp(url, "postgres://", 11) == 0) {
        dbs.backend[i] = BACKEND_PG;
        dbs.pool[i] = pg_db_open(url, err, sizeof err);
        dbs.pg = true;
    } else {
        snprintf(err, sizeof err, "the url must start with sqlite:, "
                 "postgresql:// or postgres://");
    }
    if (dbs.pool[i])
        return 0;
    url_shown(shown, url);
    fprintf(stderr, "flusso: workflow '%s', step '%s': cannot open the "
            "database '%s': %s\n", d->workflow, d->step, shown, err);
    return 2;
}

int fl_db_start(const FlDatabase *databases, int count)
{
    dbs.backend = rt_check(calloc((size_t)count, sizeof *dbs.backend));
    dbs.pool = rt_check(calloc((size_t)count, sizeof *dbs.pool));
    dbs.count = count;
    for (int i = 0; i < count; i++)
        if (db_open(&databases[i], i) != 0)
            return 2;
    if ((dbs.sqlite && sqlite_db_start() < 0) || (dbs.pg && pg_db_start() < 0)) {
        fprintf(stderr, "flusso: cannot start the database threads\n");
        return 2;
    }
    return 0;
}

void fl_db_stop(void)
{
    if (dbs.sqlite)
        sqlite_db_stop();
    if (dbs.pg)
        pg_db_stop();
    free(dbs.backend);
    free(dbs.pool);
    memset(&dbs, 0, sizeof dbs);
}

/* ---- what the backends call ------------------------------------------- */

static void bytes_append(DbBytes *b, const void *p, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1)
            cap *= 2;
        b->p = rt_check(realloc(b->p, cap));
        b->cap = cap;
    }
    if (n)                        /* p may be NULL then (a NULL cell) */
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* A cell is its kind (one byte), its length (a size_t) and its bytes. */
void db_put_cell(DbCall *c, DbKind kind, const void *p, size_t len)
{
    unsigned char k = (unsigned char)kind;
    bytes_append(&c->cells, &k, 1);
    bytes_append(&c->cells, &len, sizeof len);
    bytes_append(&c->cells, p, len);
}

void db_put_name(DbCall *c, const char *name)
{
    bytes_append(&c->names, name, strlen(name) + 1);
}

void db_fail(DbCall *c, const char *fmt, ...)
{
    if (c->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    size_t n = strlen(c->error);      /* libpq's messages end in newlines */
    while (n > 0 && (c->error[n - 1] == '\n' || c->error[n - 1] == ' '))
        c->error[--n] = '\0';
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "the database failed");
}

static void call_free(DbCall *c)
{
    free(c->names.p);
    free(c->cells.p);
    free(c);
}

void db_abandon(DbCall *c)
{
    FlRun *run = c->run;
    call_free(c);
    run_abandon(run);
}

void db_finish(DbCall *c)
{
    sched_post(&c->done);
}

/* ---- the output, on a worker -------------------------------------------- */

/* Reads the cell at *at in c->cells as a value. */
static const FlValue *cell_value(FlArena *a, const DbCall *c, size_t *at)
{
    DbKind kind = (DbKind)(unsigned char)c->cells.p[*at];
    size_t len;
    memcpy(&len, c->cells.p + *at + 1, sizeof len);
    const char *p = c->cells.p + *at + 1 + sizeof len;
    *at += 1 + sizeof len + len;
    switch (kind) {
    case DB_NULL: return &fl_null;
    case DB_BOOL: return fl_bool(len > 0 && (p[0] == 't' || p[0] == '1'));
    case DB_INT: case DB_FLOAT: return fl_number(a, strtod(p, NULL));
    case DB_TEXT: return fl_string(a, p, len);
    case DB_BLOB: return fl_base64_encode(a, p, len);
    case DB_JSON: {
        const FlValue *v = fl_json_parse(a, p, len);
        return v ? v : fl_string(a, p, len);
    }
    }
    return &fl_null;
}

/* The rows as an array of objects, column name -> value. */
static const FlValue *rows_value(FlArena *a, const DbCall *c)
{
    const char **names = fl_arena_alloc(a, sizeof *names * (size_t)(c->columns + 1));
    size_t *lens = fl_arena_alloc(a, sizeof *lens * (size_t)(c->columns + 1));
    const char *p = c->names.p;
    for (int i = 0; i < c->columns; i++) {
        lens[i] = strlen(p);
        names[i] = fl_string(a, p, lens[i])->u.s;
        p += lens[i] + 1;
    }
    FlArrayBuilder ab;
    fl_array_init(&ab, a, (size_t)c->rows);
    size_t at = 0;
    for (long r = 0; r < c->rows; r++) {
        FlObjectBuilder ob;
        fl_object_init(&ob, a, (size_t)c->columns);
        for (int i = 0; i < c->columns; i++)   /* a repeated name: last wins */
            fl_object_set(&ob, names[i], lens[i], cell_value(a, c, &at));
        fl_array_append(&ab, fl_object_finish(&ob));
    }
    return fl_array_finish(&ab);
}

/* Records the step's output or failure; returns where the run goes on. */
static int call_record(DbCall *c)
{
    long long took = clock_ms() - c->started_ms;
    if (c->error[0]) {
        run_log(c->run, FL_LOG_DEBUG, "database", c->error, took);
        return fl_step_failed(c->run, c->index, c->error, c->next);
    }
    FlArena *a = fl_run_arena(c->run);
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 2);
    fl_object_add(&ob, "rows", 4, rows_value(a, c));
    fl_object_add(&ob, "row_count", 9,
                  fl_number(a, (double)(c->columns ? c->rows : c->changed)));
    fl_step_done(c->run, c->index, fl_object_finish(&ob));
    char msg[64];
    snprintf(msg, sizeof msg, "%ld row(s)", c->columns ? c->rows : c->changed);
    run_log(c->run, FL_LOG_DEBUG, "database", msg, took);
    return c->next;
}

static void call_done(FlTask *t, bool discard)
{
    DbCall *c = container_of(t, DbCall, done);
    FlRun *run = c->run;
    if (discard) {
        db_abandon(c);
        return;
    }
    int next = call_record(c);
    call_free(c);
    run_resume(run, next);
}

/* ---- fl_database: the statement, prepared --------------------------------- */

/* Parameter v by the typed rule (spec §10): null, booleans, numbers
 * (integral ones as 64-bit integers), strings; arrays and objects as
 * JSON text.  Text lives in the run's arena, NUL-terminated. */
static DbParam param_of(FlArena *a, const FlValue *v)
{
    DbParam p = { .kind = DB_NULL, .text = NULL, .len = 0 };
    char num[32];
    const FlValue *text = NULL;
    switch (v->type) {
    case FL_NULL:
        return p;
    case FL_BOOL:
        p.kind = DB_BOOL;
        p.i = v->u.b;
        text = fl_string(a, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
        break;
    case FL_NUMBER:
        if (v->u.n == floor(v->u.n) && fabs(v->u.n) < 9.2e18) {
            p.kind = DB_INT;
            p.i = (int64_t)v->u.n;
            snprintf(num, sizeof num, "%lld", (long long)p.i);
        } else {
            p.kind = DB_FLOAT;
            p.d = v->u.n;
            fl_number_format(v->u.n, num);
        }
        text = fl_string(a, num, strlen(num));
        break;
    case FL_STRING:
        p.kind = DB_TEXT;
        text = fl_string(a, v->u.s, v->len);   /* a NUL-terminated copy */
        break;
    case FL_ARRAY: case FL_OBJECT:
        p.kind = DB_JSON;
        text = fl_json_text(a, v);
        break;
    }
    p.text = text->u.s;
    p.len = text->len;
    return p;
}

/* run_park(): the run's thread has let go of it; the timeout counts
 * from here. */
static void call_stamp(DbCall *c)
{
    c->started_ms = clock_ms();
    c->deadline_ms = c->started_ms + c->timeout_ms;
}

static void sqlite_call_start(void *arg)
{
    call_stamp(arg);
    sqlite_db_submit(arg);
}

static void pg_call_start(void *arg)
{
    call_stamp(arg);
    pg_db_submit(arg);
}

int fl_database(FlRun *run, int index, const FlDbQuery *q, int next)
{
    if (!dbs.pool || q->database < 0 || q->database >= dbs.count)
        return run_fail(run, "the databases are not running");
    FlArena *a = fl_run_arena(run);
    DbParam *params = fl_arena_alloc(a, sizeof *params * (size_t)(q->param_count + 1));
    for (int i = 0; i < q->param_count; i++) {
        params[i] = param_of(a, q->params[i]);
        if (dbs.backend[q->database] == BACKEND_PG && params[i].kind == DB_TEXT
            && memchr(params[i].text, '\0', params[i].len))
            return run_fail(run, "params[%d]: PostgreSQL text cannot hold a "
                            "NUL byte", i);
    }
    DbCall *c = rt_check(calloc(1, sizeof *c));
    c->run = run;
    c->index = index;
    c->next = next;
    c->conn_pool = dbs.pool[q->database];
    c->sql = q->sql;
    c->params = params;
    c->param_count = q->param_count;
    c->timeout_ms = q->timeout_ms > 0 ? q->timeout_ms : 10000;
    c->max_rows = q->max_rows > 0 ? q->max_rows : 10000;
    c->done.run = call_done;
    run_set_wait(run, dbs.backend[q->database] == BACKEND_PG ? pg_call_start
                                                             : sqlite_call_start, c);
    return 0;
}
