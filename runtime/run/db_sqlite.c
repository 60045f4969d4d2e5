/* db_sqlite.c - the database step's SQLite backend: one thread of its
 * own runs every statement, one at a time, on one connection per file.
 *
 * SQLite has no asynchronous interface: a statement blocks on the disk
 * (and on another process's lock).  So statements do not run on the run
 * workers but on this thread, which takes them from a queue; a run
 * waiting for one holds no worker.  One connection per file is the whole
 * pool: SQLite serialises writers anyway, and the thread runs one
 * statement at a time.  timeout_ms bounds both the wait for a lock
 * (sqlite3_busy_timeout) and the statement's own work (a progress
 * handler interrupts it past its deadline).
 *
 * Files are opened read-write at start and must exist: a misspelt path
 * stops the handler instead of making an empty database. */
#include "run/database.h"
#include "value/value.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROGRESS_OPS = 1000 };    /* VM steps between deadline checks */

typedef struct SqlitePool SqlitePool;
struct SqlitePool {
    char *path;
    sqlite3 *db;
    SqlitePool *next;
};

static struct {
    pthread_mutex_t lock;        /* guards the queue and stopping */
    pthread_cond_t wake;
    DbCall *queue, *queue_tail;
    bool stopping, started;
    pthread_t thread;
    SqlitePool *pools;
} lite = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* ---- opening, at start ------------------------------------------------- */

static SqlitePool *pool_find(const char *path)
{
    for (SqlitePool *p = lite.pools; p; p = p->next)
        if (strcmp(p->path, path) == 0)
            return p;
    return NULL;
}

/* Opens the file and reads its schema: a file that is not a database
 * fails here, not at the first statement. */
void *sqlite_db_open(const char *path, char *err, size_t errlen)
{
    SqlitePool *p = pool_find(path);
    if (p)
        return p;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE
                             | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    p = rt_check(calloc(1, sizeof *p));
    p->path = rt_check(strdup(path));
    p->db = db;
    p->next = lite.pools;
    lite.pools = p;
    return p;
}

/* ---- one statement, on the thread ----------------------------------------- */

/* Interrupts the statement past its deadline. */
static int on_progress(void *arg)
{
    const DbCall *c = arg;
    return clock_ms() > c->deadline_ms;
}

/* Binds $1...$N by name, so their order in the text does not matter. */
static int bind_params(sqlite3_stmt *st, DbCall *c)
{
    for (int i = 0; i < c->param_count; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int at = sqlite3_bind_parameter_index(st, name), rc = SQLITE_OK;
        const DbParam *p = &c->params[i];
        if (at == 0)
            continue;
        switch (p->kind) {
        case DB_NULL: rc = sqlite3_bind_null(st, at); break;
        case DB_BOOL: case DB_INT: rc = sqlite3_bind_int64(st, at, p->i); break;
        case DB_FLOAT: rc = sqlite3_bind_double(st, at, p->d); break;
        default:
            rc = sqlite3_bind_text(st, at, p->text, (int)p->len, SQLITE_STATIC);
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static void put_column(DbCall *c, sqlite3_stmt *st, int i)
{
    char num[40];
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, i));
        db_put_cell(c, DB_INT, num, strlen(num));
        break;
    case SQLITE_FLOAT:
        snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i));
        db_put_cell(c, DB_FLOAT, num, strlen(num));
        break;
    case SQLITE_TEXT:
        db_put_cell(c, DB_TEXT, sqlite3_column_text(st, i),
                    (size_t)sqlite3_column_bytes(st, i));
        break;
    case SQLITE_BLOB:
        db_put_cell(c, DB_BLOB, sqlite3_column_blob(st, i),
                    (size_t)sqlite3_column_bytes(st, i));
        break;
    default:
        db_put_cell(c, DB_NULL, NULL, 0);
    }
}

/* Steps through the rows, up to max_rows. */
static int read_rows(DbCall *c, sqlite3_stmt *st)
{
    int rc;
    c->columns = sqlite3_column_count(st);
    for (int i = 0; i < c->columns; i++)
        db_put_name(c, sqlite3_column_name(st, i));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->rows == c->max_rows) {
            db_fail(c, "the result has more than %ld rows (max_rows)", c->max_rows);
            return SQLITE_OK;
        }
        for (int i = 0; i < c->columns; i++)
            put_column(c, st, i);
        c->rows++;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void run_call(DbCall *c)
{
    sqlite3 *db = ((SqlitePool *)c->conn_pool)->db;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    long left = (long)(c->deadline_ms - clock_ms());
    sqlite3_busy_timeout(db, left > 0 ? (int)left : 1);
    sqlite3_progress_handler(db, PROGRESS_OPS, on_progress, c);
    int rc = sqlite3_prepare_v2(db, c->sql, -1, &st, &tail);
    if (rc == SQLITE_OK && !st)
        db_fail(c, "the statement is empty");
    if (rc == SQLITE_OK && st)
        rc = bind_params(st, c);
    if (rc == SQLITE_OK && st)
        rc = read_rows(c, st);
    if (rc == SQLITE_INTERRUPT || (rc == SQLITE_BUSY && clock_ms() >= c->deadline_ms))
        db_fail(c, "timed out after %ld ms", c->timeout_ms);
    else if (rc != SQLITE_OK)
        db_fail(c, "%s", sqlite3_errmsg(db));
    c->changed = sqlite3_changes(db);
    sqlite3_finalize(st);
    sqlite3_progress_handler(db, 0, NULL, NULL);
}

/* ---- the thread --------------------------------------------------------------- */

/* The next call, or NULL when stopping. */
static DbCall *take(void)
{
    pthread_mutex_lock(&lite.lock);
    while (!lite.queue && !lite.stopping)
        pthread_cond_wait(&lite.wake, &lite.lock);
    DbCall *c = lite.stopping ? NULL : lite.queue;
    if (c) {
        lite.queue = c->link;
        if (!lite.queue)
            lite.queue_tail = NULL;
    }
    pthread_mutex_unlock(&lite.lock);
    return c;
}

static void *sqlite_main(void *arg)
{
    (void)arg;
    sigset_t all;                     /* signals are the main thread's */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    DbCall *c;
    while ((c = take())) {
        run_call(c);
        db_finish(c);
    }
    return NULL;
}

int sqlite_db_start(void)
{
    lite.stopping = false;
    if (pthread_create(&lite.thread, NULL, sqlite_main, NULL) != 0)
        return -1;
    lite.started = true;
    return 0;
}

void sqlite_db_submit(DbCall *c)
{
    pthread_mutex_lock(&lite.lock);
    bool stopping = lite.stopping;
    if (!stopping) {
        c->link = NULL;
        if (lite.queue_tail)
            lite.queue_tail->link = c;
        else
            lite.queue = c;
        lite.queue_tail = c;
        pthread_cond_signal(&lite.wake);
    }
    pthread_mutex_unlock(&lite.lock);
    if (stopping)
        db_abandon(c);
}

/* After the scheduler: the statement running finishes (its task is then
 * discarded), the queued ones are abandoned. */
void sqlite_db_stop(void)
{
    pthread_mutex_lock(&lite.lock);
    lite.stopping = true;
    pthread_cond_signal(&lite.wake);
    DbCall *q = lite.queue;
    lite.queue = lite.queue_tail = NULL;
    pthread_mutex_unlock(&lite.lock);
    if (lite.started)
        pthread_join(lite.thread, NULL);
    lite.started = false;
    while (q) {
        DbCall *c = q;
        q = q->link;
        db_abandon(c);
    }
    while (lite.pools) {
        SqlitePool *p = lite.pools;
        lite.pools = p->next;
        sqlite3_close(p->db);
        free(p->path);
        free(p);
    }
}
