/* journal/journal.h - the journal of runs (spec 7): what survives a crash.
 *
 * A small facade in the manner of Redis's ae.h: the runtime calls the
 * functions of section 1 and never sees the store behind them.  journal.c
 * owns what every store shares - the journal thread, group commit, the
 * byte format of values, the test hook - and drives one backend through
 * the five operations of section 2.  sqlite.c is that backend today; a
 * PostgreSQL one would be a pg.c beside it filling the same table
 * (its own lock: an advisory lock instead of a lock file), chosen by
 * journal_open() from the shape of the path (postgres://...).
 *
 * What is kept, per run: the trigger output and the outputs of the steps
 * before the acknowledgement, written when the run is acknowledged (the
 * commit point: the answer waits for it); then each step completed after
 * it, with where the run goes on and, for a delay, until when it waits;
 * then its end, which deletes it - or its failure, which keeps it (8.1).
 * A run that waits before its answer is noted as "started" too, so that
 * a crash before its acknowledgement leaves a trace: such runs are marked abandoned at the next start.
 *
 * Threads: journal_acknowledge(), journal_waiting(), journal_step() and
 * journal_finish() may be called from any thread and never block on the
 * store: they copy what they are given and queue it.  The journal thread
 * writes whatever is queued in one transaction (one fsync for all of it)
 * and then calls the acknowledgements' callbacks.
 *
 * journal/ is this facade and its backends.  It may include value/ and
 * ops/log.h; the engine (run/) is its only caller. */
#ifndef FLUSSO_JOURNAL_H
#define FLUSSO_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flusso.h"

/* ==========================================================================
 * 1. The facade
 * ========================================================================== */

typedef enum {
    JOURNAL_OK = 0,
    JOURNAL_ECANTOPEN = -1,  /* cannot be opened or created: exit 2 */
    JOURNAL_EBUSY = -2,      /* another handler holds it: exit 2 */
    JOURNAL_ECORRUPT = -3    /* damaged, or not a journal: left untouched */
} JournalStatus;

/* A run as the journal sees it; every call borrows it and copies what it
 * keeps. */
typedef struct {
    const char *id;                 /* 36 characters */
    const char *workflow;           /* static: the program's tables */
    const char *started_at;         /* run.started_at */
    int attempt;                    /* run.attempt */
    const FlValue *const *outputs;  /* by step index, NULL: has not run */
    int step_count;
    int next;                       /* where it goes on: index or FL_NEXT_END */
    const char *next_key;           /* that step's key; "" for the end */
    int64_t wake_at;                /* a delay: Unix ms it waits until; 0 */
    int tries;                      /* 8.2: attempts made by the step at next
                                       (an http_request waiting to retry); 0 */
    int64_t shape;                  /* 8.4: the workflow's FlWorkflow.shape */
    /* 8.3, journal_acknowledge() only: a dedupe key and the answer to
     * record with it in the same commit; key NULL: none. */
    const char *key;
    size_t key_len;
    const struct JournalAnswer *answer;
} JournalRun;

typedef enum {
    JOURNAL_STARTED,     /* waiting for its answer (live handler only) */
    JOURNAL_PENDING,     /* acknowledged, not finished: resumes at start */
    JOURNAL_ABANDONED,   /* never acknowledged: its sender will retry */
    JOURNAL_FAILED,      /* 8.1: failed after its acknowledgement: kept */
    JOURNAL_STRANDED,    /* 8.4: its workflow changed beyond resuming */
    JOURNAL_RETRYING     /* 8.1: --retry asked for it; resumes when picked up */
} JournalState;

/* A step output recorded after the acknowledgement (encoded). */
typedef struct {
    int index;
    const void *data;
    size_t len;
} JournalStepData;

/* A run read back from the journal.  Everything is borrowed for the
 * duration of the callback it is passed to.  next, next_key and wake_at
 * are the latest position recorded, tries the attempts the step at next
 * has made (8.2). */
typedef struct JournalSaved {
    const char *id, *workflow, *started_at, *next_key;
    JournalState state;
    int attempt, next;
    int64_t wake_at;
    int tries;
    int64_t shape;
    const char *error;              /* failed or stranded: why; else NULL */
    const void *outputs;            /* the outputs at the acknowledgement */
    size_t outputs_len;
    const JournalStepData *steps;   /* recorded since, by index */
    size_t step_count;
} JournalSaved;

typedef void (*JournalDone)(void *arg, bool durable);
/* Called per run; a non-zero return stops the scan and is returned. */
typedef int (*JournalScanFn)(void *arg, const JournalSaved *run);

/* Opens (creating if missing) the journal at path for this handler: takes
 * its lock for the life of the process, checks it without writing a byte
 * (a damaged file is left exactly as it is), marks runs that never
 * reached their acknowledgement abandoned (calling abandoned() for each,
 * may be NULL), counts one more attempt for every acknowledged one, and
 * starts the journal thread.  Returns JOURNAL_OK or a JournalStatus with
 * a message naming the path in err. */
int journal_open(const char *path, JournalScanFn abandoned, void *arg,
                 char *err, size_t errlen);
/* Writes what is still queued, stops the thread, closes the store and
 * lets go of the lock.  The journal is off afterwards. */
void journal_close(void);
/* Whether a journal is open (false with --journal none). */
bool journal_enabled(void);

/* The commit point: queues the run's trigger and outputs so far, its
 * position and its attempt, and calls done(arg, durable) on the journal
 * thread once they are on stable storage (durable) or the write failed.
 * A failed acknowledgement is recorded as abandoned when the store lets
 * it. */
void journal_acknowledge(const JournalRun *run, JournalDone done, void *arg);
/* Notes a run that waits before its answer (no wait for the disk). */
void journal_waiting(const JournalRun *run);
/* Records the output of step index of an acknowledged run and the run's
 * position (no wait for the disk: steps run at least once). */
void journal_step(const JournalRun *run, int index);
/* Records only the position of an acknowledged run whose step index has
 * no output yet and waits to try again (8.2: an http_request between
 * attempts; run->next is index, run->wake_at when, run->tries the
 * attempts made): a step record with an empty output, which
 * journal_decode() skips and the step's output later replaces. */
void journal_position(const JournalRun *run, int index);
/* The run ended (finished, or failed before its acknowledgement): it is
 * deleted.  A run failed after it: journal_fail(). */
void journal_finish(const char *id);

/* Calls fn for every acknowledged, unfinished run (at start). */
int journal_recover(JournalScanFn fn, void *arg);
/* --runs: opens the journal at path read-only, without the lock, and calls
 * fn for every run in it - pending, retrying, failed, stranded or
 * abandoned - and, when no handler
 * holds the journal, for runs started but never acknowledged (reported
 * JOURNAL_ABANDONED: that is what the next start makes them).  A missing
 * journal has no runs.  Returns JOURNAL_OK or a JournalStatus (err). */
int journal_list(const char *path, JournalScanFn fn, void *arg,
                 char *err, size_t errlen);
/* Decodes a saved run's outputs (snapshot, then steps) into outputs[n],
 * values in a.  0, or -1 when the bytes are not a valid encoding. */
int journal_decode(const JournalSaved *run, FlArena *a, const FlValue **outputs,
                   int n);

/* ---- 8.1: failed runs are kept ---------------------------------------------
 *
 * A run that fails after its acknowledgement stays in the journal as
 * "failed", at the step that failed, with the error and the attempt.
 * --retry makes it "retrying"; the handler serving the journal (or the
 * next one to start) makes it "pending" again with one more attempt and
 * resumes it there.  --drop removes failed, stranded and abandoned runs.
 * The commands work whether or not a handler serves the journal: SQLite
 * lets a second connection write, and the handler looks for runs to
 * retry when the journal changed under it. */

/* The run failed at step run->next (its key in next_key) with error
 * (borrowed): it is kept, no longer pending.  Without the disk's wait. */
void journal_fail(const JournalRun *run, const char *error);

/* What a serving handler hands runs that --retry asked for. */
typedef struct {
    /* Called on the journal thread for each such run (its attempt already
     * one more, its state pending, its position the step that failed),
     * inside the transaction that makes it pending: 0 takes it, non-zero
     * leaves it failed.  Must not start it yet. */
    JournalScanFn take;
    /* Then once: the transaction committed (start what was taken) or
     * not (drop it: the runs stay retrying and come back). */
    void (*taken)(void *arg, bool committed);
    void *arg;
} JournalWatch;

/* Starts (w) or stops (NULL) looking, about once a second and only when
 * another process changed the journal, for runs to retry; stopping waits
 * for a look under way.  w is copied. */
void journal_watch(const JournalWatch *w);
/* Failed runs in the journal: counted at open, one more per failure,
 * counted again when another process changed the journal; 0 without. */
long journal_failed_kept(void);

typedef enum {
    JOURNAL_RETRY,       /* failed -> retrying */
    JOURNAL_DROP         /* failed, stranded, abandoned -> deleted */
} JournalCommandOp;

typedef struct {
    JournalCommandOp op;
    const char *const *ids;         /* the runs named */
    int id_count;
    bool all_failed;                /* --retry failed: every failed run too */
} JournalCommand;

/* What a command did to one run (borrowed for the callback). */
typedef struct {
    const char *id;
    const char *workflow;           /* NULL: no such run */
    const char *step;               /* its next or failed step; "" */
    JournalState state;             /* before the command */
    int attempt;
    bool done;                      /* acted on; else why says why not */
    const char *why;
} JournalOutcome;

typedef void (*JournalOutcomeFn)(void *arg, const JournalOutcome *o);

/* --retry, --drop: opens the journal at path (without its lock: a
 * handler may be serving it), checks it, does what cmd says to every run
 * that allows it in one transaction, and then reports every run named
 * (and, with all_failed, every failed run) to fn.  A journal still
 * locked by a busy writer after a few seconds, or that cannot be used,
 * changes nothing: JournalStatus (err) and no report.  A journal that
 * does not exist has no runs. */
int journal_command(const char *path, const JournalCommand *cmd,
                    JournalOutcomeFn fn, void *arg, char *err, size_t errlen);
/* ---- 8.4: changed workflows ----------------------------------------------
 *
 * A journal keeps outputs by step index; the shapes table keeps, for each
 * FlWorkflow.shape a handler ran with, its step keys by index, so that a
 * later handler whose workflow changed can map a saved run by key
 * (run/reshape.c).  The calls below are synchronous: made at start, before
 * any run (the journal thread has nothing to write), or by a command on a
 * journal opened with journal_admin_open(). */

/* Records the step keys of each of p's workflows under its shape (kept
 * when known already).  0, or -1 (logged). */
int journal_put_shapes(const FlProgram *p);
/* The step keys of shape joined by '\n' (malloc()ed), or NULL when the
 * journal does not know it (or cannot be read: logged). */
char *journal_shape_keys(int64_t shape);
/* Marks run id stranded with the reason, its attempt set to attempt
 * (durable on return).  0, or -1 (logged). */
int journal_strand(const char *id, int attempt, const char *reason);
/* Replaces everything the journal keeps of run->id with run - its
 * outputs, position, attempt and shape - as a pending run, or with
 * retrying as one a serving handler (or the next start) picks up with one
 * more attempt (durable on return).  0, or -1 (logged). */
int journal_rewrite(const JournalRun *run, bool retrying);
/* Commands on a journal a handler may be serving (--resume-at): opens
 * the existing journal at path for reading and writing, without its lock
 * and without starting anything, waiting for a busy writer a while.
 * JOURNAL_OK or a JournalStatus (err).  journal_admin_close() ends it. */
int journal_admin_open(const char *path, char *err, size_t errlen);
void journal_admin_close(void);
/* Calls fn for every run --runs lists (on an admin journal). */
int journal_admin_scan(JournalScanFn fn, void *arg);

/* ---- duplicate deliveries (spec 8.3; dedupe.c) ---------------------------
 *
 * The keys of deliveries and the answers recorded for them, per workflow:
 * claimed by a run before its first step, recorded with its answer, freed
 * when it ends without one.  One in-memory table serves the SQLite
 * journal and --journal none alike: one handler owns its journal, so the
 * table is the authority, and the journal only keeps the answered keys
 * (written in the acknowledgement's commit, loaded at journal_open()).
 * A journal shared by several handlers (PostgreSQL, spec 9) would claim
 * in its database instead, behind the same calls.  Any thread. */

/* A recorded answer: one malloc()ed block holding everything resp points
 * at (so free() frees all of it). */
typedef struct JournalAnswer {
    FlResponse resp;
    char run_id[37];                /* the run that gave it */
    int64_t recorded_at;            /* Unix ms */
    size_t size;                    /* of the block */
    int refs;                       /* dedupe.c: the keys sharing it */
} JournalAnswer;

typedef enum {
    JOURNAL_KEY_NEW,        /* the key is the claiming run's now */
    JOURNAL_KEY_ANSWERED,   /* *answer: a copy of the recorded answer */
    JOURNAL_KEY_BUSY        /* owner: the run that holds it, unanswered */
} JournalKeyState;

/* A copy of resp given by run_id now, in one block (the caller frees). */
JournalAnswer *journal_answer_copy(const FlResponse *resp, const char *run_id,
                                   int64_t recorded_at);
/* Claims key (len bytes) of workflow for run_id, unless another run holds
 * it or an answer for it younger than window_s is recorded. */
JournalKeyState journal_dedupe_claim(const char *workflow, long window_s,
                                     const char *key, size_t len,
                                     const char *run_id, char owner[37],
                                     JournalAnswer **answer);
/* run_id, which claimed key, answered: answer (taken) is replayed from
 * now on.  With a journal, call it once the acknowledgement that carried
 * it is durable. */
void journal_dedupe_record(const char *workflow, const char *key, size_t len,
                           JournalAnswer *answer);
/* run_id ended, or answered 500 or 503, without a recorded answer: the
 * key is free again. */
void journal_dedupe_free(const char *workflow, const char *key, size_t len,
                         const char *run_id);
/* Forgets every key (journal_close(), tests). */
void journal_dedupe_reset(void);

/* ==========================================================================
 * 2. Backends
 * ==========================================================================
 *
 * What journal.c hands a backend to write.  Records of one run reach it
 * in the order they happened. */

typedef enum {
    JR_STARTED,      /* a run waits before its answer: run row, "started" */
    JR_ACKED,        /* acknowledged: run row, "pending" (replaces started) */
    JR_ABANDONED,    /* its acknowledgement failed: run row, "abandoned" */
    JR_STEP,         /* a step's output and the run's new position */
    JR_FINISHED,     /* the run ended: delete it */
    JR_FAILED,       /* 8.1: it failed after its acknowledgement: kept at
                        `next` (data: the error's text, len bytes) */
    JR_RETRYING,     /* 8.4: --resume-at moved it: run row, "retrying" */
    JR_FORGET        /* 8.3: keys past their window: delete the
                        workflow's rows recorded at wake_at or before */
} JournalRecordKind;

typedef struct JournalRecord JournalRecord;
struct JournalRecord {
    JournalRecord *link;         /* the next record of the batch */
    JournalRecordKind kind;
    JournalDone done;            /* JR_ACKED: the caller's callback */
    void *done_arg;
    const char *workflow;        /* static */
    const char *next_key;        /* static */
    int attempt;
    int step;                    /* JR_STEP: the step's index */
    int next;
    int64_t wake_at;
    int tries;
    int64_t shape;
    const JournalAnswer *answer; /* 8.3, JR_ACKED: the answer recorded
                                    with key, borrowed from the run until
                                    its callback; NULL: none */
    const char *key;             /* ... and its key (borrowed likewise) */
    size_t key_len;
    char id[37];
    char started_at[25];
    size_t len;                  /* data: the outputs (run rows) or the
                                    step's output (JR_STEP) */
    unsigned char data[];
};

typedef struct JournalDb JournalDb;

/* A dedupe row read back: workflow's key and its answer (borrowed). */
typedef void (*JournalKeyFn)(void *arg, const char *workflow, const char *key,
                             size_t len, const JournalAnswer *answer);
/* The headers of an answer as the bytes of the dedupe row's `headers`:
 * per header a 32-bit little-endian length and the name, then the same
 * for the value.  journal_headers_size() bytes, written at out. */
size_t journal_headers_size(const FlResponse *resp);
void journal_headers_put(const FlResponse *resp, unsigned char *out);
/* The answer of a dedupe row: the headers bytes decoded, everything
 * copied into one block (free()); NULL when the bytes are not valid. */
JournalAnswer *journal_answer_read(int status, const char *content_type,
                                   const void *headers, size_t headers_len,
                                   const void *body, size_t body_len,
                                   const char *run_id, int64_t recorded_at);
/* Loads an answered key at start (journal_open()). */
void journal_dedupe_load(const char *workflow, const char *key, size_t len,
                         JournalAnswer *answer);
/* Keys of workflow recorded at recorded_at or before were pruned from
 * the table: their rows go (journal.c; nothing without a journal). */
void journal_forget(const char *workflow, int64_t recorded_at);

typedef struct {
    const char *name;
    /* Opens the store at path (read_only: for --runs; no lock, no
     * creation, *locked says whether a handler holds it).  Otherwise
     * takes the lock, checks the store without writing to it, and creates
     * it when missing.  NULL with *status and err set on failure. */
    JournalDb *(*open)(const char *path, bool read_only, bool *locked,
                       JournalStatus *status, char *err, size_t errlen);
    /* Writes the records (linked by `link`) in one transaction, in order:
     * durable on return with durable, else at the latest with the next
     * durable write (a crash of the process loses nothing; a power cut
     * may).  0, or -1 (err) with nothing written. */
    int (*write)(JournalDb *db, const JournalRecord *first, bool durable,
                 char *err, size_t errlen);
    /* At start: started runs become abandoned (fn called for each first),
     * pending ones get one more attempt.  0 or -1 (err). */
    int (*start)(JournalDb *db, JournalScanFn abandoned, void *arg,
                 char *err, size_t errlen);
    /* Calls fn for each run in the given states (abandoned: stranded
     * ones too, 8.4 - what --runs lists); fn's non-zero return
     * stops the scan and is returned; -1 for a read error (err). */
    int (*scan)(JournalDb *db, bool pending, bool abandoned, bool started,
                JournalScanFn fn, void *arg, char *err, size_t errlen);
    void (*close)(JournalDb *db);
    /* 8.1.  scan_states: as scan, for the runs whose state is in states
     * (a mask of 1u << JournalState); failed and retrying runs at the
     * position of their run row (the step that failed). */
    int (*scan_states)(JournalDb *db, unsigned states, JournalScanFn fn, void *arg,
                       char *err, size_t errlen);
    /* Failed runs in the store, or -1. */
    long (*count_failed)(JournalDb *db);
    /* Whether another connection changed the store since the last call
     * (cheap: no table is read). */
    bool (*changed)(JournalDb *db);
    /* Makes the retrying runs fn takes pending with one more attempt
     * (those it refuses go back to failed), in one transaction.  0, or -1
     * (err) with nothing changed. */
    int (*take_retried)(JournalDb *db, JournalScanFn fn, void *arg,
                        char *err, size_t errlen);
    /* journal_command() on the store at path. */
    int (*command)(const char *path, const JournalCommand *cmd,
                   JournalOutcomeFn fn, void *arg, char *err, size_t errlen);
    /* 8.4: opens an existing store for a command (journal_admin_open). */
    JournalDb *(*open_admin)(const char *path, JournalStatus *status, char *err,
                             size_t errlen);
    /* 8.4: records a shape's keys unless known; 0 or -1 (err). */
    int (*put_shape)(JournalDb *db, int64_t shape, const char *workflow,
                     const char *keys, char *err, size_t errlen);
    /* 8.4: a shape's keys (malloc()ed) into *keys, NULL when unknown; 0 or
     * -1 (err). */
    int (*shape_keys)(JournalDb *db, int64_t shape, char **keys, char *err,
                      size_t errlen);
    /* 8.4: run id becomes stranded with reason and attempt, durably; 0 or
     * -1 (err). */
    int (*strand)(JournalDb *db, const char *id, int attempt, const char *reason,
                  char *err, size_t errlen);
    /* 8.3, at start after start(): drops the dedupe rows older than the
     * longest window and calls fn for each answered key left (the answer
     * borrowed for the call).  0 or -1 (err). */
    int (*keys)(JournalDb *db, JournalKeyFn fn, void *arg, char *err,
                size_t errlen);
} JournalBackend;

extern const JournalBackend journal_sqlite;

#endif
