/* run/database.h - what the database step's files share: database.c (the
 * step, the pools by url, the output), db_sqlite.c and db_pg.c (the two
 * backends, each on a thread of its own).
 *
 * A DbCall is one statement of one run.  database.c makes it on the
 * run's thread (the parameters rendered as typed text in the run's arena),
 * hands it to its backend once the run is parked, and the backend's
 * thread fills in the result as plain bytes (DbCell records) or an error.
 * It then posts the call's task to a run worker, which makes the output
 * values in the run's arena and re-enters the run.  The backend threads
 * never touch the run itself. */
#ifndef FLUSSO_DATABASE_H
#define FLUSSO_DATABASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flusso.h"
#include "run/sched.h"

/* What a parameter or a result cell is. */
typedef enum {
    DB_NULL,     /* no bytes */
    DB_BOOL,     /* "t" or "f" */
    DB_INT,      /* decimal digits of a 64-bit integer */
    DB_FLOAT,    /* a number as text (strtod reads it; NaN becomes null) */
    DB_TEXT,     /* UTF-8 text */
    DB_BLOB,     /* bytes (given back as base64) */
    DB_JSON      /* JSON text (given back parsed) */
} DbKind;

typedef struct {
    DbKind kind;
    const char *text;        /* NUL-terminated, in the run's arena */
    size_t len;
    int64_t i;               /* DB_INT, DB_BOOL (1/0) */
    double d;                /* DB_FLOAT */
} DbParam;

typedef struct {                 /* a malloc()ed byte buffer */
    char *p;
    size_t len, cap;
} DbBytes;

typedef struct DbCall DbCall;
struct DbCall {
    FlRun *run;
    int index, next;             /* the step, and the step after it */
    void *conn_pool;             /* the backend's pool for the url */
    const char *sql;             /* static, from the generated code */
    const DbParam *params;       /* in the run's arena */
    int param_count;
    long timeout_ms, max_rows;
    int64_t deadline_ms;         /* clock_ms() clock, set when submitted */
    int64_t started_ms;
    /* the result, filled in by the backend thread: */
    int columns;                 /* 0 when the statement returns no rows */
    long rows;                   /* rows returned */
    long changed;                /* rows changed, when none are returned */
    DbBytes names;               /* the column names, each NUL-terminated */
    DbBytes cells;               /* rows * columns DbCell records */
    char error[512];             /* "" unless it failed */
    FlTask done;                 /* the output, on a worker */
    DbCall *link;                /* the backend's queues */
};

/* Appends a result cell: kind, length, bytes (the backend's thread). */
void db_put_cell(DbCall *c, DbKind kind, const void *p, size_t len);
/* Appends a column name. */
void db_put_name(DbCall *c, const char *name);
/* Sets c->error (printf-style) unless it is set already. */
void db_fail(DbCall *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The statement is over: hands the call to a run worker (any thread). */
void db_finish(DbCall *c);
/* Shutdown: the call goes, and its run with it. */
void db_abandon(DbCall *c);

/* ---- the backends ----------------------------------------------------------
 *
 * open: at start, on the main thread; connects (or opens the file) and
 * checks the database answers.  Returns the backend's pool for the url
 * (the same one for the same url), or NULL with a message in err (never
 * a password).  start/stop: the backend's thread, after every open and
 * after the scheduler has stopped.  submit: queues a call (any thread). */
void *sqlite_db_open(const char *path, char *err, size_t errlen);
int sqlite_db_start(void);
void sqlite_db_submit(DbCall *c);
void sqlite_db_stop(void);

void *pg_db_open(const char *url, char *err, size_t errlen);
int pg_db_start(void);
void pg_db_submit(DbCall *c);
void pg_db_stop(void);

#endif
