/* sqlite.c - the journal's SQLite backend (see journal.h).
 *
 * One database file in WAL mode with synchronous=FULL: a commit returns
 * once the write-ahead log is fsynced.  Format 2 (spec 8), four tables:
 *
 *   runs   one row per run not finished: its trigger and outputs at the
 *          acknowledgement (`outputs`, journal.c's byte format), state
 *          (started | pending | retrying | failed | stranded | abandoned),
 *          attempt and position, and for a failed run its error;
 *   steps  one row per step completed after the acknowledgement, with
 *          the run's position after it - or, with an empty output, a
 *          position only: an http_request waiting to try again, `tries`
 *          attempts made (spec 8.2).
 *   shapes (spec 8.4) the step keys by index of every workflow version;
 *   dedupe one row per answered delivery key (spec 8.3), written with the
 *          acknowledgement, loaded at start, pruned by age (JR_FORGET).
 *
 * A run's position is that of its latest step row, or its run row's; a
 * failed or retrying run's is its run row's (the step that failed).
 * Finished runs are deleted; failed ones kept until --retry or --drop
 * (8.1); abandoned ones are kept for a week so that `--runs` can show
 * them, then pruned at a start.  A format-1 journal (runs and steps
 * without the newer columns) is upgraded in place once it passed the
 * check below; a newer format is refused, untouched.
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
#include "ops/log.h"
#include "value/value.h"

enum {
    APP_ID = 0x466c7573,          /* "Flus" */
    CHECKPOINT_FRAMES = 1000,     /* copy the log into the database past it */
    FORMAT = 2,                   /* PRAGMA user_version */
    BUSY_MS = 5000,               /* waiting for another connection's write */
    KEEP_ABANDONED_MS = 7 * 24 * 3600 * 1000
};

/* The two tables format 2 added, for a new journal and for the upgrade of
 * a format-1 one alike: shapes (8.4: a workflow version's step keys by
 * index, joined by '\n') and dedupe (8.3: answered keys; answered 0 is a
 * key in progress).  Dedupe rows are appended in time order and pruned by
 * age per workflow (the handler's memory is the authority on keys): an
 * index by age, not a primary key on random keys, keeps each commit to
 * the last pages of both. */
#define NEW_TABLES                                                            \
    "CREATE TABLE shapes ("                                                   \
    "  shape INTEGER PRIMARY KEY NOT NULL,"                                   \
    "  workflow TEXT NOT NULL,"                                               \
    "  keys TEXT NOT NULL);"                                                  \
    "CREATE TABLE dedupe ("                                                   \
    "  workflow TEXT NOT NULL,"                                               \
    "  key TEXT NOT NULL,"                                                    \
    "  run_id TEXT NOT NULL,"                                                 \
    "  answered INTEGER NOT NULL,"                                            \
    "  status INTEGER,"                                                       \
    "  content_type TEXT,"                                                    \
    "  headers BLOB,"                                                         \
    "  body BLOB,"                                                            \
    "  recorded_at INTEGER NOT NULL);"                                        \
    "CREATE INDEX dedupe_age ON dedupe (workflow, recorded_at);"

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
    NEW_TABLES;

typedef enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SYNC_FULL, ST_SYNC_NORMAL, ST_PUT_RUN, ST_PUT_STEP, ST_DEL_STEPS,
    ST_DEL_RUN, ST_SCAN_STEPS,
    ST_FAIL_RUN,
    ST_PUT_KEY, ST_DEL_KEY,
    ST_COUNT
} Stmt;

/* --runs reads a format-1 journal as it is: its steps have no tries. */
#define SCAN_STEPS_FORMAT_1 \
    "SELECT step, next_step, next_key, wake_at, output, 0 FROM steps" \
    " WHERE run_id = ?1 ORDER BY step"

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
    [ST_SCAN_STEPS] = ("SELECT step, next_step, next_key, wake_at, output, tries FROM steps"
                       " WHERE run_id = ?1 ORDER BY step"),
    [ST_FAIL_RUN] = ("UPDATE runs SET state = 'failed', attempt = ?2, next_step = ?3,"
                     " next_key = ?4, wake_at = NULL, error = ?5, changed_at = ?6"
                     " WHERE id = ?1"),
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
    long format;                 /* PRAGMA user_version, as checked */
    long data_version;           /* changed(): the last PRAGMA data_version */
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

/* Whether db (read-only) is a sound journal; the reason in why when not,
 * its format in *version once it is known to be ours. */
static bool journal_sound(sqlite3 *db, char *why, size_t size, long *version)
{
    long app = 0, tables = 0;
    if (pragma_int(db, "PRAGMA application_id", &app) < 0) {
        snprintf(why, size, "%s", sqlite3_errmsg(db));
        return false;
    }
    if (app != APP_ID) {
        snprintf(why, size, "not a flusso journal (another database)");
        return false;
    }
    if (pragma_int(db, "PRAGMA user_version", version) < 0 || *version < 1
        || *version > FORMAT) {
        snprintf(why, size, "journal format %ld, this handler reads formats 1 to %d",
                 *version, FORMAT);
        return false;
    }
    if (pragma_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                       " AND name IN ('runs', 'steps', 'shapes', 'dedupe')", &tables) < 0
        || tables != (*version == 1 ? 2 : 4)) {
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
    if (journal_sound(db, why, sizeof why, &j->format))
        return db;
    *status = JOURNAL_ECORRUPT;
    if (j->format > FORMAT)
        snprintf(err, errlen, "journal %s is format %ld, newer than this handler reads "
                 "(format %d): a newer flusso wrote it; the file is left as it is",
                 j->path, j->format, FORMAT);
    else
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

static int upgrade(JournalDb *j, char *err, size_t errlen);

/* The read-write connection: settings, an upgrade when the journal is of
 * an older format, and prepared statements. */
static int open_writer(JournalDb *j, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(j->db, BUSY_MS);   /* --retry, --drop write too */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(j->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                 "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sqlite3_wal_hook(j->db, on_wal, j);
    if (rc == SQLITE_OK && upgrade(j, err, errlen) < 0)
        return -1;
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

/* ---- format 1 to format 2 (8.1) -------------------------------------------
 *
 * Format 2 adds columns to both tables and two tables; a format-1 journal
 * that passed the check is brought up to it in one transaction, which
 * reads the format again (another process may have done it meanwhile).
 * Nothing else changes: its runs resume as they were. */
static const char upgrade_sql[] =
    "ALTER TABLE runs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN error TEXT;"
    "ALTER TABLE runs ADD COLUMN shape INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE steps ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;"
    NEW_TABLES;

/* Upgrades j (open for writing) to FORMAT when it is older; 0 or -1. */
static int upgrade(JournalDb *j, char *err, size_t errlen)
{
    char *msg = NULL, marks[64];
    long version = 0;
    if (j->format == FORMAT)
        return 0;
    int rc = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
    if (rc == SQLITE_OK && pragma_int(j->db, "PRAGMA user_version", &version) < 0)
        rc = SQLITE_ERROR;
    if (rc == SQLITE_OK && version == 1)
        rc = sqlite3_exec(j->db, upgrade_sql, NULL, NULL, &msg);
    snprintf(marks, sizeof marks, "PRAGMA user_version = %d; COMMIT", FORMAT);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(j->db, marks, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot upgrade journal %s to format %d: %s", j->path,
                 FORMAT, msg ? msg : sqlite3_errmsg(j->db));
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (version == 1) {
        log_event(FL_LOG_INFO, "journal", "journal %s upgraded from format %ld to %d",
                  j->path, version, FORMAT);
    }
    j->format = rc == SQLITE_OK ? FORMAT : j->format;
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : -1;
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
    return kind == JR_STARTED ? "started" : kind == JR_ACKED ? "pending"
         : kind == JR_RETRYING ? "retrying" : "abandoned";
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

/* 8.1: the run is kept, failed at r->next, with the error (r->data). */
static int fail_run(JournalDb *j, const JournalRecord *r)
{
    sqlite3_stmt *st = j->stmt[ST_FAIL_RUN];
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, r->attempt);
    sqlite3_bind_int(st, 3, r->next);
    sqlite3_bind_text(st, 4, r->next_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, (const char *)r->data, (int)r->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, fl_time_now_ms());
    return step_reset(st);
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
    case JR_RETRYING:
        return put_run(j, r);
    case JR_STEP:
        return put_step(j, r);
    case JR_FINISHED:
        return del_run(j, r);
    case JR_FAILED:
        return fail_run(j, r);
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
        if (len)                 /* empty: a position only, maybe NULL */
            memcpy(copy, sqlite3_column_blob(st, 4), len);
        (*out)[n++] = (JournalStepData){ sqlite3_column_int(st, 0), copy, len };
        run->next = sqlite3_column_int(st, 1);
        free(*texts);
        *texts = rt_check(strdup(col_text(st, 2)));
        run->next_key = *texts;
        run->wake_at = sqlite3_column_int64(st, 3);
        run->tries = sqlite3_column_int(st, 5);
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

/* The states' names in the runs table, by JournalState. */
static const char *const state_names[] = {
    [JOURNAL_STARTED] = "started", [JOURNAL_PENDING] = "pending",
    [JOURNAL_ABANDONED] = "abandoned", [JOURNAL_FAILED] = "failed",
    [JOURNAL_STRANDED] = "stranded", [JOURNAL_RETRYING] = "retrying",
};
enum { STATES = sizeof state_names / sizeof state_names[0] };

static JournalState state_of(const char *s)
{
    for (int i = 0; i < STATES; i++)
        if (strcmp(s, state_names[i]) == 0)
            return (JournalState)i;
    return JOURNAL_ABANDONED;
}

/* One run row (and its steps) to fn.  A failed or retrying run is where
 * its run row says: the step that failed. */
static int scan_row(JournalDb *j, sqlite3_stmt *st, JournalScanFn fn, void *arg)
{
    JournalSaved run = {
        .id = col_text(st, 0), .workflow = col_text(st, 1),
        .state = state_of(col_text(st, 2)), .started_at = col_text(st, 3),
        .attempt = sqlite3_column_int(st, 4), .next = sqlite3_column_int(st, 5),
        .next_key = col_text(st, 6), .wake_at = sqlite3_column_int64(st, 7),
        .outputs = sqlite3_column_blob(st, 8),
        .outputs_len = (size_t)sqlite3_column_bytes(st, 8),
        .tries = sqlite3_column_int(st, 9),
        .error = (const char *)sqlite3_column_text(st, 10),
        .shape = sqlite3_column_int64(st, 11),
    };
    JournalSaved row = run;
    JournalStepData *steps;
    char *texts;
    int rc = load_steps(j, &run, &steps, &texts);
    if (run.state == JOURNAL_FAILED || run.state == JOURNAL_RETRYING) {
        run.next = row.next;
        run.next_key = row.next_key;
        run.wake_at = 0;
    }
    if (rc == 0)
        rc = fn(arg, &run);
    free_steps(steps, run.step_count, texts);
    return rc;
}

/* The runs in the given states (1u << JournalState), oldest first.  A
 * format-1 journal (read by --runs, which never upgrades) has no tries,
 * error or shape. */
static int sq_scan_states(JournalDb *j, unsigned states, JournalScanFn fn, void *arg,
                          char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc;
    if (!j->db)
        return 0;
    if (!j->stmt[ST_SCAN_STEPS]
        && sqlite3_prepare_v2(j->db, j->format == 1 ? SCAN_STEPS_FORMAT_1
                              : stmt_sql[ST_SCAN_STEPS], -1,
                              &j->stmt[ST_SCAN_STEPS], NULL) != SQLITE_OK)
        goto err;
    if (sqlite3_prepare_v2(j->db, j->format == 1
                           ? "SELECT id, workflow, state, started_at, attempt,"
                             " next_step, next_key, wake_at, outputs, 0, NULL, 0 FROM runs"
                             " WHERE state IN (?1, ?2, ?3, ?4, ?5, ?6) ORDER BY started_at, id"
                           : "SELECT id, workflow, state, started_at, attempt,"
                             " next_step, next_key, wake_at, outputs, tries, error, shape"
                             " FROM runs WHERE state IN (?1, ?2, ?3, ?4, ?5, ?6)"
                             " ORDER BY started_at, id",
                           -1, &st, NULL) != SQLITE_OK)
        goto err;
    for (int i = 0; i < STATES; i++)
        sqlite3_bind_text(st, i + 1, states & (1u << i) ? state_names[i] : "", -1,
                          SQLITE_STATIC);
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

static int sq_scan(JournalDb *j, bool pending, bool abandoned, bool started,
                   JournalScanFn fn, void *arg, char *err, size_t errlen)
{
    unsigned states = (pending ? 1u << JOURNAL_PENDING : 0)
                    | (abandoned ? 1u << JOURNAL_ABANDONED : 0)
                    | (started ? 1u << JOURNAL_STARTED : 0);
    return sq_scan_states(j, states, fn, arg, err, errlen);
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

/* 8.1: a run --retry asked for goes on with one more attempt (its tries
 * were reset by --retry). */
#define RETRYING_TO_PENDING "UPDATE runs SET state = 'pending', attempt = attempt + 1," \
                            " error = NULL, changed_at = ?1"

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
        rc = exec(j, RETRYING_TO_PENDING " WHERE state = 'retrying'", now);
    if (rc == 0)
        rc = step_reset(j->stmt[ST_COMMIT]) == SQLITE_DONE ? 0 : -1;
    if (rc == 0)
        return 0;
    snprintf(err, errlen, "cannot write journal %s: %s", j->path, sqlite3_errmsg(j->db));
    if (!sqlite3_get_autocommit(j->db))
        step_reset(j->stmt[ST_ROLLBACK]);
    return -1;
}

/* ---- 8.1: failed runs kept: the serving handler's side ----------------- */

static long sq_count_failed(JournalDb *j)
{
    long n = 0;
    if (!j->db || pragma_int(j->db, "SELECT count(*) FROM runs WHERE state = 'failed'",
                             &n) < 0)
        return -1;
    return n;
}

static bool sq_changed(JournalDb *j)
{
    long v = 0;
    if (pragma_int(j->db, "PRAGMA data_version", &v) < 0 || v == j->data_version)
        return false;
    j->data_version = v;
    return true;
}

/* Runs one statement on id (?1) at now (?2); 0 or -1. */
static int exec_id(JournalDb *j, const char *sql, const char *id, int64_t now)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) > 1)
            sqlite3_bind_int64(st, 2, now);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The retrying runs a scan saw, and whether the handler took each. */
typedef struct {
    JournalScanFn fn;
    void *arg;
    char (*ids)[37];
    bool *took;
    size_t n, cap;
} Retried;

static int retried_one(void *arg, const JournalSaved *run)
{
    Retried *r = arg;
    JournalSaved copy = *run;
    copy.state = JOURNAL_PENDING;
    copy.attempt = run->attempt + 1;
    copy.error = NULL;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->ids = rt_check(realloc(r->ids, r->cap * sizeof *r->ids));
        r->took = rt_check(realloc(r->took, r->cap * sizeof *r->took));
    }
    snprintf(r->ids[r->n], sizeof r->ids[r->n], "%s", run->id);
    r->took[r->n++] = r->fn(r->arg, &copy) == 0;
    return 0;
}

static int sq_take_retried(JournalDb *j, JournalScanFn fn, void *arg, char *err,
                           size_t errlen)
{
    Retried r = { .fn = fn, .arg = arg };
    int64_t now = fl_time_now_ms();
    int rc = step_reset(j->stmt[ST_BEGIN]) == SQLITE_DONE ? 0 : -1;
    if (rc == 0)
        rc = sq_scan_states(j, 1u << JOURNAL_RETRYING, retried_one, &r, err, errlen);
    for (size_t i = 0; rc == 0 && i < r.n; i++)
        rc = exec_id(j, r.took[i] ? "UPDATE runs SET state = 'pending', attempt = attempt + 1,"
                                    " error = NULL, changed_at = ?2 WHERE id = ?1"
                                  : "UPDATE runs SET state = 'failed', changed_at = ?2"
                                    " WHERE id = ?1",
                     r.ids[i], now);
    if (rc == 0)
        rc = step_reset(j->stmt[ST_COMMIT]) == SQLITE_DONE ? 0 : -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(j->db));
        if (!sqlite3_get_autocommit(j->db))
            step_reset(j->stmt[ST_ROLLBACK]);
    }
    free(r.ids);
    free(r.took);
    return rc;
}

/* ---- 8.1: --retry and --drop ----------------------------------------------
 *
 * A command opens the journal as --runs does (checked, no lock taken),
 * then for writing - upgrading a format-1 journal no handler holds -
 * and does everything in one transaction that waits BUSY_MS for a busy
 * writer.  What it did to each run is kept until the commit, then
 * reported. */

typedef struct {
    char *id, *workflow, *step;        /* workflow NULL: no such run */
    JournalState state;
    int attempt;
    const char *why;                   /* NULL: done */
} Outcome;

typedef struct {
    Outcome *o;
    size_t n, cap;
} Outcomes;

/* The outcome for id, added unless id was named already (NULL then). */
static Outcome *outcome_add(Outcomes *out, const char *id)
{
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->o[i].id, id) == 0)
            return NULL;
    if (out->n == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 8;
        out->o = rt_check(realloc(out->o, out->cap * sizeof *out->o));
    }
    Outcome *o = &out->o[out->n++];
    *o = (Outcome){ .id = rt_check(strdup(id)), .why = "no such run in the journal" };
    return o;
}

static void outcomes_free(Outcomes *out)
{
    for (size_t i = 0; i < out->n; i++) {
        free(out->o[i].id);
        free(out->o[i].workflow);
        free(out->o[i].step);
    }
    free(out->o);
}

/* Why op may not act on a run in state s (NULL: it may).  A run started
 * and never acknowledged is abandoned unless a handler serves it. */
static const char *refusal(JournalCommandOp op, JournalState s, bool locked)
{
    switch (s) {
    case JOURNAL_FAILED:
        return NULL;
    case JOURNAL_PENDING:
    case JOURNAL_RETRYING:
        return op == JOURNAL_RETRY ? "it is pending: it resumes by itself"
                                   : "it is pending: only failed, stranded or abandoned "
                                     "runs can be dropped";
    case JOURNAL_STARTED:          /* abandoned, unless a handler serves it */
    case JOURNAL_ABANDONED:
        if (s == JOURNAL_STARTED && locked)
            return "it is waiting for its answer in the handler serving the journal";
        return op == JOURNAL_DROP ? NULL : "it is abandoned: it was never acknowledged, "
                                           "its sender will send it again (--drop removes it)";
    case JOURNAL_STRANDED:
        return op == JOURNAL_DROP ? NULL : "it is stranded: its workflow changed; it "
                                           "resumes only at a step named with --resume-at";
    }
    return "its state is unknown";
}

/* Acts on the run o names, if it is there and its state allows; 0 or -1. */
static int command_one(JournalDb *j, JournalCommandOp op, bool locked, Outcome *o,
                       int64_t now)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db, "SELECT workflow, state, attempt, next_key"
                                " FROM runs WHERE id = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        o->workflow = rt_check(strdup(col_text(st, 0)));
        o->state = state_of(col_text(st, 1));
        o->attempt = sqlite3_column_int(st, 2);
        o->step = rt_check(strdup(col_text(st, 3)));
        o->why = refusal(op, o->state, locked);
        if (o->state == JOURNAL_STARTED)
            o->state = JOURNAL_ABANDONED;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -1;
    if (o->why)
        return 0;
    if (op == JOURNAL_RETRY)       /* 8.2's tries start again: a fresh retry */
        return exec_id(j, "UPDATE runs SET state = 'retrying', tries = 0, changed_at = ?2"
                          " WHERE id = ?1", o->id, now) < 0
               || exec_id(j, "DELETE FROM steps WHERE run_id = ?1 AND length(output) = 0",
                          o->id, now) < 0 ? -1 : 0;
    return exec_id(j, "DELETE FROM steps WHERE run_id = ?1", o->id, now) < 0
           || exec_id(j, "DELETE FROM runs WHERE id = ?1", o->id, now) < 0 ? -1 : 0;
}

/* Adds every failed run to out (--retry failed); 0 or -1. */
static int add_failed(JournalDb *j, Outcomes *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db, "SELECT id FROM runs WHERE state = 'failed'"
                                " ORDER BY started_at, id", -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        (void)outcome_add(out, col_text(st, 0)), rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The command in one transaction; 0, or -1 (err) with nothing changed. */
static int command_apply(JournalDb *j, const JournalCommand *cmd, bool locked,
                         Outcomes *out, char *err, size_t errlen)
{
    int64_t now = fl_time_now_ms();
    int rc = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (rc == 0 && cmd->all_failed)
        rc = add_failed(j, out);
    for (int i = 0; rc == 0 && i < cmd->id_count; i++)
        (void)outcome_add(out, cmd->ids[i]);
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = command_one(j, cmd->op, locked, &out->o[i], now);
    if (rc == 0 && sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    int code = sqlite3_errcode(j->db);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        snprintf(err, errlen, "journal %s stayed locked by a busy writer for %d s: "
                 "nothing was changed", j->path, BUSY_MS / 1000);
    else
        snprintf(err, errlen, "cannot write journal %s: %s: nothing was changed", j->path,
                 sqlite3_errmsg(j->db));
    if (!sqlite3_get_autocommit(j->db))
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The journal at path, checked, open for writing (db NULL: there is none).
 * A format-1 journal is upgraded unless a handler of an older flusso
 * holds it. */
static JournalDb *open_for_command(const char *path, bool *locked,
                                   JournalStatus *status, char *err, size_t errlen)
{
    JournalDb *j = sq_open(path, true, locked, status, err, errlen);
    if (!j || !j->db)
        return j;
    sqlite3_close(j->db);
    j->db = NULL;
    if (j->format < FORMAT && *locked) {
        *status = JOURNAL_EBUSY;
        snprintf(err, errlen, "journal %s is format %ld and in use by a handler of an "
                 "older flusso: stop it first", path, j->format);
        goto err;
    }
    int rc = sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(j->db, BUSY_MS);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open journal %s: %s", path,
                 j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
        goto err;
    }
    if (upgrade(j, err, errlen) < 0)
        goto err;
    return j;
err:
    sq_close(j);
    return NULL;
}

static int sq_command(const char *path, const JournalCommand *cmd, JournalOutcomeFn fn,
                      void *arg, char *err, size_t errlen)
{
    bool locked = false;
    JournalStatus status = JOURNAL_ECANTOPEN;
    Outcomes out = { 0 };
    JournalDb *j = open_for_command(path, &locked, &status, err, errlen);
    if (!j)
        return status;
    if (j->db && command_apply(j, cmd, locked, &out, err, errlen) < 0) {
        outcomes_free(&out);
        sq_close(j);
        return JOURNAL_EBUSY;
    }
    for (int i = 0; !j->db && i < cmd->id_count; i++)
        (void)outcome_add(&out, cmd->ids[i]);     /* no journal: no such runs */
    sq_close(j);
    for (size_t i = 0; i < out.n; i++) {
        const Outcome *o = &out.o[i];
        fn(arg, &(JournalOutcome){ .id = o->id, .workflow = o->workflow,
                                   .step = o->step ? o->step : "", .state = o->state,
                                   .attempt = o->attempt, .done = !o->why, .why = o->why });
    }
    outcomes_free(&out);
    return JOURNAL_OK;
}

/* ---- 8.4: changed workflows ---------------------------------------------- */

enum { ADMIN_BUSY_MS = 10000 };   /* a command waits this long for a writer */

/* A command's connection: the existing journal, checked, read-write,
 * without the lock (a handler may hold it: WAL lets both in, one writer
 * at a time, the other waiting). */
static JournalDb *sq_open_admin(const char *path, JournalStatus *status, char *err,
                                size_t errlen)
{
    struct stat st = { 0 };
    JournalDb *j = rt_check(calloc(1, sizeof *j));
    j->lock_fd = -1;
    j->path = rt_check(strdup(path));
    *status = JOURNAL_ECANTOPEN;
    errno = 0;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot open journal %s: %s", path,
                 S_ISDIR(st.st_mode) || errno == 0 ? "not a regular file"
                                                  : strerror(errno));
        goto err;
    }
    sqlite3 *checked = open_checked(j, status, err, errlen);
    if (!checked)
        goto err;
    sqlite3_close(checked);
    *status = JOURNAL_ECANTOPEN;
    if (open_writer(j, err, errlen) < 0)
        goto err;
    sqlite3_busy_timeout(j->db, ADMIN_BUSY_MS);
    return j;
err:
    sq_close(j);
    return NULL;
}

/* Prepares sql on j, binds ?1 to an integer, and runs it once; the
 * statement is left for the caller to read (row) and finalize. */
static int run_int(JournalDb *j, const char *sql, int64_t x, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(j->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(*st, 1, x);
    return sqlite3_step(*st);
}

static int sq_put_shape(JournalDb *j, int64_t shape, const char *workflow,
                        const char *keys, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(j->db, "INSERT OR IGNORE INTO shapes (shape, workflow,"
                                " keys) VALUES (?1, ?2, ?3)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, shape);
        sqlite3_bind_text(st, 2, workflow, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, keys, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    snprintf(err, errlen, "%s", sqlite3_errmsg(j->db));
    return -1;
}

static int sq_shape_keys(JournalDb *j, int64_t shape, char **keys, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = run_int(j, "SELECT keys FROM shapes WHERE shape = ?1", shape, &st);
    *keys = rc == SQLITE_ROW ? rt_check(strdup(col_text(st, 0))) : NULL;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return 0;
    snprintf(err, errlen, "%s", sqlite3_errmsg(j->db));
    return -1;
}

static int sq_strand(JournalDb *j, const char *id, int attempt, const char *reason,
                     char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(j->db, "UPDATE runs SET state = 'stranded', error = ?2,"
                                " attempt = ?3, changed_at = ?4 WHERE id = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, attempt);
        sqlite3_bind_int64(st, 4, fl_time_now_ms());
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    snprintf(err, errlen, "%s", sqlite3_errmsg(j->db));
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
    .scan_states = sq_scan_states,
    .count_failed = sq_count_failed,
    .changed = sq_changed,
    .take_retried = sq_take_retried,
    .command = sq_command,
    .open_admin = sq_open_admin,
    .put_shape = sq_put_shape,
    .shape_keys = sq_shape_keys,
    .strand = sq_strand,
    .keys = sq_keys,
};
