/* sqlite.c - the journal's SQLite backend (see journal.h).
 *
 * One database file in WAL mode with synchronous=FULL: a commit returns
 * once the write-ahead log is fsynced.  Two tables:
 *
 *   runs   one row per run not finished: its trigger and outputs at the
 *          acknowledgement (`outputs`, journal.c's byte format), state
 *          (started | pending | abandoned), attempt and position;
 *   steps  one row per step completed after the acknowledgement, with
 *          the run's position after it;
 *   dedupe one row per answered delivery key (spec 8.3), written with the
 *          acknowledgement, loaded at start, pruned by age (JR_FORGET).
 *
 * A run's position is that of its latest step row, or its run row's.
 * Finished runs are deleted; abandoned ones are kept for a week so that
 * `--runs` can show them, then pruned at a start.
 *
 * Never rewriting a damaged journal: the file is first opened read-only
 * and checked (a SQLite database at all, our application_id and format
 * version, the two tables, PRAGMA quick_check); only a journal that
 * passes is opened for writing.  A new journal is built under a temporary
 * name and renamed into place, so a file at the path is always either a
 * complete journal or not ours - an empty or foreign file is refused,
 * never "repaired".
 *
 * One handler per journal: an exclusive open-file-description lock on
 * PATH.lock (which holds the owner's pid, for the message), held for the
 * life of the process.  The lock file stays when the handler stops. */

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"
#include "value/value.h"

enum {
    APP_ID = 0x466c7573,          /* "Flus" */
    CHECKPOINT_FRAMES = 1000,     /* copy the log into the database past it */
    FORMAT = 2,                   /* PRAGMA user_version */
    KEEP_ABANDONED_MS = 7 * 24 * 3600 * 1000
};

static const char schema[] =
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  workflow TEXT NOT NULL,"
    "  state TEXT NOT NULL,"                   /* started | pending | retrying |
                                                  failed | stranded | abandoned */
    "  started_at TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  next_step INTEGER NOT NULL,"            /* -1: the end */
    "  next_key TEXT NOT NULL,"
    "  wake_at INTEGER,"                       /* Unix ms, or NULL */
    "  changed_at INTEGER NOT NULL,"           /* Unix ms */
    "  outputs BLOB NOT NULL,"
    "  tries INTEGER NOT NULL DEFAULT 0,"      /* 8.2: attempts the step at
                                                  next_step has made */
    "  error TEXT,"                            /* failed: the error; stranded:
                                                  the reason */
    "  shape INTEGER NOT NULL DEFAULT 0);"     /* 8.4: FlWorkflow.shape */
    "CREATE TABLE steps ("
    "  run_id TEXT NOT NULL,"
    "  step INTEGER NOT NULL,"
    "  next_step INTEGER NOT NULL,"
    "  next_key TEXT NOT NULL,"
    "  wake_at INTEGER,"
    "  output BLOB NOT NULL,"                  /* empty: no output yet, a
                                                  position only (8.2) */
    "  tries INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (run_id, step)) WITHOUT ROWID;"
    "CREATE TABLE shapes ("                    /* 8.4: step keys by index */
    "  shape INTEGER PRIMARY KEY NOT NULL,"
    "  workflow TEXT NOT NULL,"
    "  keys TEXT NOT NULL);"                   /* joined by '\n' */
    "CREATE TABLE dedupe ("                    /* 8.3 */
    "  workflow TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  run_id TEXT NOT NULL,"
    "  answered INTEGER NOT NULL,"             /* 0: in progress */
    "  status INTEGER,"
    "  content_type TEXT,"
    "  headers BLOB,"
    "  body BLOB,"
    "  recorded_at INTEGER NOT NULL);"         /* Unix ms */
    /* 8.3: rows are appended in time order and pruned by age per
     * workflow (the handler's memory is the authority on keys): an index
     * by age, not a primary key on random keys, keeps each commit to the
     * last pages of both. */
    "CREATE INDEX dedupe_age ON dedupe (workflow, recorded_at);";

typedef enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SYNC_FULL, ST_SYNC_NORMAL, ST_PUT_RUN, ST_PUT_STEP, ST_DEL_STEPS,
    ST_DEL_RUN, ST_SCAN_STEPS, ST_PUT_KEY, ST_DEL_KEY, ST_COUNT
} Stmt;

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [ST_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [ST_PUT_RUN] = "INSERT OR REPLACE INTO runs (id, workflow, state, started_at, attempt,"
                   " next_step, next_key, wake_at, changed_at, outputs, tries, shape)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_PUT_STEP] = "INSERT OR REPLACE INTO steps (run_id, step, next_step, next_key,"
                    " wake_at, output, tries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_DEL_STEPS] = "DELETE FROM steps WHERE run_id = ?1",
    [ST_DEL_RUN] = "DELETE FROM runs WHERE id = ?1",
    [ST_SCAN_STEPS] = ("SELECT step, next_step, next_key, wake_at, output FROM steps"
                       " WHERE run_id = ?1 ORDER BY step"),
    [ST_PUT_KEY] = ("INSERT OR REPLACE INTO dedupe (workflow, key, run_id, answered,"
                    " status, content_type, headers, body, recorded_at)"
                    " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)"),
    [ST_DEL_KEY] = ("DELETE FROM dedupe WHERE rowid IN (SELECT rowid FROM dedupe"
                    " WHERE workflow = ?1 AND recorded_at <= ?2 LIMIT 4096)"),
};

struct JournalDb {
    sqlite3 *db;                 /* NULL: --runs on a missing journal */
    sqlite3_stmt *stmt[ST_COUNT];
    int lock_fd;
    char *path;
    bool durable;                /* synchronous is FULL (else NORMAL) */
    int wal_frames;              /* in the write-ahead log */
};

/* ---- the lock --------------------------------------------------------------- */

static void lock_path(char *out, size_t size, const char *path)
{
    snprintf(out, size, "%s.lock", path);
}

/* Takes PATH.lock for this process and writes our pid into it. */
static int lock_take(JournalDb *j, JournalStatus *status, char *err, size_t errlen)
{
    char lp[4096], pid[32] = "";
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    lock_path(lp, sizeof lp, j->path);
    j->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->lock_fd < 0) {
        snprintf(err, errlen, "cannot open journal %s: cannot create %s: %s",
                 j->path, lp, strerror(errno));
        return -1;
    }
    if (fcntl(j->lock_fd, F_OFD_SETLK, &fl) == 0) {
        if (ftruncate(j->lock_fd, 0) == 0)
            dprintf(j->lock_fd, "%ld\n", (long)getpid());
        return 0;
    }
    int e = errno;
    ssize_t n = pread(j->lock_fd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    if (e == EAGAIN || e == EACCES) {
        *status = JOURNAL_EBUSY;
        snprintf(err, errlen, "journal %s is in use by another handler%s%s%s", j->path,
                 *pid ? " (pid " : "", pid, *pid ? ")" : "");
    } else {
        snprintf(err, errlen, "cannot open journal %s: cannot lock %s: %s", j->path,
                 lp, strerror(e));
    }
    return -1;
}

/* Whether a handler holds the journal at path (without taking anything). */
static bool lock_held(const char *path)
{
    char lp[4096];
    struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
    lock_path(lp, sizeof lp, path);
    int fd = open(lp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}

/* ---- checking and creating -------------------------------------------------- */

/* The integer a pragma returns; -1 (err) when it cannot be read. */
static int pragma_int(sqlite3 *db, const char *sql, long *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* The first row of quick_check ("ok" when sound) into out. */
static void quick_check(sqlite3 *db, char *out, size_t size)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        snprintf(out, size, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

/* Whether db (read-only) is a sound journal; the reason in why when not. */
static bool journal_sound(sqlite3 *db, char *why, size_t size)
{
    long app = 0, version = 0, tables = 0;
    if (pragma_int(db, "PRAGMA application_id", &app) < 0) {
        snprintf(why, size, "%s", sqlite3_errmsg(db));
        return false;
    }
    if (app != APP_ID) {
        snprintf(why, size, "not a flusso journal (another database)");
        return false;
    }
    if (pragma_int(db, "PRAGMA user_version", &version) < 0 || version != FORMAT) {
        snprintf(why, size, "journal format %ld, this handler reads format %d",
                 version, FORMAT);
        return false;
    }
    if (pragma_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                       " AND name IN ('runs', 'steps', 'shapes', 'dedupe')",
                   &tables) < 0 || tables != 4) {
        snprintf(why, size, "not a flusso journal (tables missing)");
        return false;
    }
    quick_check(db, why, size);
    return strcmp(why, "ok") == 0;
}

/* Opens path read-only and checks it; the connection on success. */
static sqlite3 *open_checked(JournalDb *j, JournalStatus *status, char *err,
                             size_t errlen)
{
    sqlite3 *db = NULL;
    char why[512];
    int rc = sqlite3_open_v2(j->path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open journal %s: %s", j->path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    if (journal_sound(db, why, sizeof why))
        return db;
    *status = JOURNAL_ECORRUPT;
    snprintf(err, errlen, "journal %s is damaged or not a journal: %s; the file is "
             "left as it is (move it aside to start with a new journal)", j->path, why);
    sqlite3_close(db);
    return NULL;
}

/* Builds an empty journal at a temporary name, then renames it to path. */
static int create_journal(const char *path, char *err, size_t errlen)
{
    char tmp[4096], dir[4096], *msg = NULL;
    sqlite3 *db = NULL;
    snprintf(tmp, sizeof tmp, "%s.new", path);
    unlink(tmp);
    int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                              "BEGIN;", NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, schema, NULL, NULL, &msg);
    if (rc == SQLITE_OK) {
        char marks[96];
        snprintf(marks, sizeof marks, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 APP_ID, FORMAT);
        rc = sqlite3_exec(db, marks, NULL, NULL, &msg);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "cannot create journal %s: %s", path,
                 msg ? msg : db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_free(msg);
    if (sqlite3_close(db) != SQLITE_OK && rc == SQLITE_OK) {
        snprintf(err, errlen, "cannot create journal %s: close failed", path);
        rc = SQLITE_ERROR;
    }
    if (rc == SQLITE_OK && rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot create journal %s: %s", path, strerror(errno));
        rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        unlink(tmp);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);     /* the new name, durable */
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = '\0';          /* "/x" -> "/", "a/x" -> "a" */
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* After each commit: the log's length, for checkpoint() (replacing
 * SQLite's automatic checkpoints, which would run inside a commit that
 * callers wait for). */
static int on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db, (void)name;
    ((JournalDb *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

/* The read-write connection: settings and prepared statements. */
static int open_writer(JournalDb *j, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(j->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                 "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sqlite3_wal_hook(j->db, on_wal, j);
    j->durable = true;
    for (int i = 0; rc == SQLITE_OK && i < ST_COUNT; i++)
        rc = sqlite3_prepare_v3(j->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &j->stmt[i], NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open journal %s: %s", j->path,
                 j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

static void sq_close(JournalDb *j)
{
    if (!j)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(j->stmt[i]);
    sqlite3_close(j->db);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    free(j->path);
    free(j);
}

static JournalDb *sq_open(const char *path, bool read_only, bool *locked,
                          JournalStatus *status, char *err, size_t errlen)
{
    struct stat st;
    JournalDb *j = rt_check(calloc(1, sizeof *j));
    j->lock_fd = -1;
    j->path = rt_check(strdup(path));
    *status = JOURNAL_ECANTOPEN;
    if (read_only)
        *locked = lock_held(path);
    else if (lock_take(j, status, err, errlen) < 0)
        goto err;
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot open journal %s: %s", path, strerror(errno));
            goto err;
        }
        if (read_only)
            return j;                    /* no journal: no runs */
        if (create_journal(path, err, errlen) < 0)
            goto err;
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot open journal %s: not a regular file", path);
        goto err;
    }
    sqlite3 *checked = open_checked(j, status, err, errlen);
    if (!checked)
        goto err;
    if (read_only) {
        j->db = checked;
        return j;
    }
    sqlite3_close(checked);
    if (open_writer(j, err, errlen) < 0)
        goto err;
    return j;
err:
    sq_close(j);
    return NULL;
}

/* ---- writing ------------------------------------------------------------------ */

static const char *state_name(JournalRecordKind kind)
{
    return kind == JR_STARTED ? "started" : kind == JR_ACKED ? "pending" : "abandoned";
}

static void bind_wake(sqlite3_stmt *st, int col, int64_t wake_at)
{
    if (wake_at)
        sqlite3_bind_int64(st, col, wake_at);
    else
        sqlite3_bind_null(st, col);
}

/* Runs a statement to completion and resets it; SQLITE_DONE when fine. */
static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int put_run(JournalDb *j, const JournalRecord *r)
{
    sqlite3_stmt *st = j->stmt[ST_PUT_RUN];
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, state_name(r->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->started_at, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, r->attempt);
    sqlite3_bind_int(st, 6, r->next);
    sqlite3_bind_text(st, 7, r->next_key, -1, SQLITE_STATIC);
    bind_wake(st, 8, r->wake_at);
    sqlite3_bind_int64(st, 9, fl_time_now_ms());
    sqlite3_bind_blob64(st, 10, r->data, r->len, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, r->tries);
    sqlite3_bind_int64(st, 12, r->shape);
    return step_reset(st);
}

static int put_step(JournalDb *j, const JournalRecord *r)
{
    sqlite3_stmt *st = j->stmt[ST_PUT_STEP];
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, r->step);
    sqlite3_bind_int(st, 3, r->next);
    sqlite3_bind_text(st, 4, r->next_key, -1, SQLITE_STATIC);
    bind_wake(st, 5, r->wake_at);
    sqlite3_bind_blob64(st, 6, r->data, r->len, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, r->tries);
    return step_reset(st);
}

/* 8.3: an acknowledgement's dedupe key and answer. */
static int put_key(JournalDb *j, const JournalRecord *r)
{
    sqlite3_stmt *st = j->stmt[ST_PUT_KEY];
    const FlResponse *resp = &r->answer->resp;
    size_t hlen = journal_headers_size(resp);
    unsigned char *hs = rt_check(malloc(hlen + 1));
    journal_headers_put(resp, hs);
    sqlite3_bind_text(st, 1, r->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, r->key, r->key_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->answer->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, resp->status);
    if (resp->content_type)
        sqlite3_bind_text(st, 5, resp->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 6, hs, hlen, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 7, resp->body, resp->body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, r->answer->recorded_at);
    int rc = step_reset(st);
    free(hs);
    return rc;
}

/* 8.3: the workflow's keys recorded at wake_at or before: past their
 * window (at most 4096 rows a record: the table forgets as it goes). */
static int del_keys(JournalDb *j, const JournalRecord *r)
{
    sqlite3_stmt *st = j->stmt[ST_DEL_KEY];
    sqlite3_bind_text(st, 1, r->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->wake_at);
    return step_reset(st);
}

static int del_run(JournalDb *j, const JournalRecord *r)
{
    int rc = SQLITE_DONE;
    for (Stmt s = ST_DEL_STEPS; s <= ST_DEL_RUN && rc == SQLITE_DONE; s++) {
        sqlite3_bind_text(j->stmt[s], 1, r->id, -1, SQLITE_STATIC);
        rc = step_reset(j->stmt[s]);
    }
    return rc;
}

static int put_record(JournalDb *j, const JournalRecord *r)
{
    switch (r->kind) {
    case JR_ACKED:
        if (r->answer) {
            int rc = put_key(j, r);
            if (rc != SQLITE_DONE)
                return rc;
        }
        return put_run(j, r);
    case JR_STARTED:
    case JR_ABANDONED:
        return put_run(j, r);
    case JR_STEP:
        return put_step(j, r);
    case JR_FINISHED:
        return del_run(j, r);
    case JR_FORGET:
        return del_keys(j, r);
    }
    return SQLITE_MISUSE;
}

/* Copies the log into the database once it is long, after a write no
 * caller waits for (or when it grows far too long anyway). */
static void checkpoint(JournalDb *j, bool durable)
{
    if (j->wal_frames < (durable ? 8 : 1) * CHECKPOINT_FRAMES)
        return;
    sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    j->wal_frames = 0;
}

static int sq_write(JournalDb *j, const JournalRecord *first, bool durable,
                    char *err, size_t errlen)
{
    int rc = SQLITE_DONE;
    if (j->durable != durable)
        rc = step_reset(j->stmt[durable ? ST_SYNC_FULL : ST_SYNC_NORMAL]);
    j->durable = durable;
    if (rc == SQLITE_DONE)
        rc = step_reset(j->stmt[ST_BEGIN]);
    for (const JournalRecord *r = first; r && rc == SQLITE_DONE; r = r->link)
        rc = put_record(j, r);
    if (rc == SQLITE_DONE)
        rc = step_reset(j->stmt[ST_COMMIT]);
    if (rc == SQLITE_DONE) {
        checkpoint(j, durable);
        return 0;
    }
    snprintf(err, errlen, "%s", sqlite3_errmsg(j->db));
    if (!sqlite3_get_autocommit(j->db))
        step_reset(j->stmt[ST_ROLLBACK]);
    return -1;
}

/* ---- reading ------------------------------------------------------------------ */

static const char *col_text(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? s : "";
}

/* The step rows of run->id into a malloc()ed array, moving run's position
 * to the latest one. */
static int load_steps(JournalDb *j, JournalSaved *run, JournalStepData **out,
                      char **texts)
{
    sqlite3_stmt *st = j->stmt[ST_SCAN_STEPS];
    size_t n = 0, cap = 0;
    int rc;
    *out = NULL;
    *texts = NULL;
    sqlite3_bind_text(st, 1, run->id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = rt_check(realloc(*out, cap * sizeof **out));
        }
        size_t len = (size_t)sqlite3_column_bytes(st, 4);
        void *copy = rt_check(malloc(len + 1));
        memcpy(copy, sqlite3_column_blob(st, 4), len);
        (*out)[n++] = (JournalStepData){ sqlite3_column_int(st, 0), copy, len };
        run->next = sqlite3_column_int(st, 1);
        free(*texts);
        *texts = rt_check(strdup(col_text(st, 2)));
        run->next_key = *texts;
        run->wake_at = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    run->steps = *out;
    run->step_count = n;
    return rc == SQLITE_DONE ? 0 : -1;
}

static void free_steps(JournalStepData *steps, size_t n, char *texts)
{
    for (size_t i = 0; i < n; i++)
        free((void *)steps[i].data);
    free(steps);
    free(texts);
}

static JournalState state_of(const char *s)
{
    return strcmp(s, "pending") == 0 ? JOURNAL_PENDING
         : strcmp(s, "started") == 0 ? JOURNAL_STARTED : JOURNAL_ABANDONED;
}

/* One run row (and its steps) to fn. */
static int scan_row(JournalDb *j, sqlite3_stmt *st, JournalScanFn fn, void *arg)
{
    JournalSaved run = {
        .id = col_text(st, 0), .workflow = col_text(st, 1),
        .state = state_of(col_text(st, 2)), .started_at = col_text(st, 3),
        .attempt = sqlite3_column_int(st, 4), .next = sqlite3_column_int(st, 5),
        .next_key = col_text(st, 6), .wake_at = sqlite3_column_int64(st, 7),
        .outputs = sqlite3_column_blob(st, 8),
        .outputs_len = (size_t)sqlite3_column_bytes(st, 8),
    };
    JournalStepData *steps;
    char *texts;
    int rc = load_steps(j, &run, &steps, &texts);
    if (rc == 0)
        rc = fn(arg, &run);
    free_steps(steps, run.step_count, texts);
    return rc;
}

static int sq_scan(JournalDb *j, bool pending, bool abandoned, bool started,
                   JournalScanFn fn, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;
    if (!j->db)
        return 0;
    if (!j->stmt[ST_SCAN_STEPS]
        && sqlite3_prepare_v2(j->db, stmt_sql[ST_SCAN_STEPS], -1,
                              &j->stmt[ST_SCAN_STEPS], NULL) != SQLITE_OK)
        goto err;
    if (sqlite3_prepare_v2(j->db, "SELECT id, workflow, state, started_at, attempt,"
                           " next_step, next_key, wake_at, outputs FROM runs"
                           " WHERE state IN (?1, ?2, ?3) ORDER BY started_at, id",
                           -1, &st, NULL) != SQLITE_OK)
        goto err;
    sqlite3_bind_text(st, 1, pending ? "pending" : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, abandoned ? "abandoned" : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, started ? "started" : "", -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop = scan_row(j, st, fn, arg);
        if (stop) {
            sqlite3_finalize(st);
            return stop;
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
err:
    snprintf(err, errlen, "%s", sqlite3_errmsg(j->db));
    return -1;
}

/* ---- the start ------------------------------------------------------------- */

static int exec(JournalDb *j, const char *sql, int64_t now)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_start(JournalDb *j, JournalScanFn abandoned, void *arg, char *err,
                    size_t errlen)
{
    int64_t now = fl_time_now_ms();
    char cutoff[160];
    snprintf(cutoff, sizeof cutoff, "DELETE FROM runs WHERE state = 'abandoned'"
             " AND changed_at < ?1 - %lld", (long long)KEEP_ABANDONED_MS);
    int rc = step_reset(j->stmt[ST_BEGIN]) == SQLITE_DONE ? 0 : -1;
    if (rc == 0)
        rc = exec(j, cutoff, now);
    if (rc == 0 && abandoned)
        rc = sq_scan(j, false, false, true, abandoned, arg, err, errlen) ? -1 : 0;
    if (rc == 0)
        rc = exec(j, "UPDATE runs SET state = 'abandoned', changed_at = ?1"
                     " WHERE state = 'started'", now);
    if (rc == 0)
        rc = exec(j, "UPDATE runs SET attempt = attempt + 1, changed_at = ?1"
                     " WHERE state = 'pending'", now);
    if (rc == 0)
        rc = step_reset(j->stmt[ST_COMMIT]) == SQLITE_DONE ? 0 : -1;
    if (rc == 0)
        return 0;
    snprintf(err, errlen, "cannot write journal %s: %s", j->path, sqlite3_errmsg(j->db));
    if (!sqlite3_get_autocommit(j->db))
        step_reset(j->stmt[ST_ROLLBACK]);
    return -1;
}

/* ---- dedupe keys (8.3) ------------------------------------------------------ */

enum { KEEP_KEYS_MS = 2592000LL * 1000 };     /* the longest window */

/* One dedupe row to fn; a row that does not decode is skipped. */
static void key_row(sqlite3_stmt *st, JournalKeyFn fn, void *arg)
{
    JournalAnswer *a = journal_answer_read(
        sqlite3_column_int(st, 3), (const char *)sqlite3_column_text(st, 4),
        sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5),
        sqlite3_column_blob(st, 6), (size_t)sqlite3_column_bytes(st, 6),
        col_text(st, 2), sqlite3_column_int64(st, 7));
    if (!a)
        return;
    fn(arg, col_text(st, 0), sqlite3_column_blob(st, 1),
       (size_t)sqlite3_column_bytes(st, 1), a);
    free(a);
}

static int sq_keys(JournalDb *j, JournalKeyFn fn, void *arg, char *err,
                   size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(j, "DELETE FROM dedupe WHERE answered = 0 OR recorded_at < ?1",
                  fl_time_now_ms() - KEEP_KEYS_MS);
    if (rc == 0 && sqlite3_prepare_v2(j->db, "SELECT workflow, key, run_id, status,"
                                      " content_type, headers, body, recorded_at"
                                      " FROM dedupe ORDER BY recorded_at", -1, &st,
                                      NULL) == SQLITE_OK) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            key_row(st, fn, arg);
        rc = step == SQLITE_DONE ? 0 : -1;
    } else {
        rc = -1;
    }
    sqlite3_finalize(st);
    if (rc < 0)
        snprintf(err, errlen, "cannot read journal %s: %s", j->path,
                 sqlite3_errmsg(j->db));
    return rc;
}

const JournalBackend journal_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .write = sq_write,
    .start = sq_start,
    .scan = sq_scan,
    .close = sq_close,
    .keys = sq_keys,
};
