/* journal.c - the journal's front: the queue, the journal thread with its
 * group commit, and the byte format of values (see journal.h).
 *
 * Group commit: callers queue records and return at once; the journal
 * thread takes everything queued, commits its acknowledgements in one
 * transaction - one fsync however many it holds - and calls their
 * callbacks, then writes the rest (steps, ends) without waiting for the
 * disk (see "the journal thread" below).  While it waits for the disk,
 * new records queue up for the next batch, so the busier the handler, the
 * more commits share one fsync.  A commit that fails fails its
 * acknowledgements (their callers answer 503 and their runs are recorded
 * abandoned); other records that cannot be written go back to the head
 * of the queue and are tried again.
 *
 * Values are kept in a small lossless binary form rather than as JSON
 * text: JSON cannot carry every string a run may hold (NUL bytes, bytes
 * that are not UTF-8), and a restored run must see exactly the values it
 * saw before.  A value is a tag byte and its contents, integers as 32-bit
 * little-endian:
 *   'n' null, 'f' false, 't' true, 'd' a double (8 bytes, little-endian),
 *   's' length + bytes, 'a' count + values, 'o' count + (key length +
 *   key bytes + value) per member.
 * A run's outputs are a count and then (step index, value) per output.
 *
 * The test hook: FLUSSO_JOURNAL_FAIL_AFTER=N makes the batch holding the
 * Nth acknowledgement fail as a full disk would (once), so tests can see
 * the 503 a failed commit gives.  It costs one comparison per batch. */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal/journal.h"
#include "ops/log.h"
#include "ops/metrics.h"

enum {
    RETRY_MS = 100,          /* pause after a failed batch */
    WATCH_MS = 1000,         /* 8.1: between looks for retried runs */
    REST_MAX = 512,          /* records other than acknowledgements gathered */
    STOP_RETRIES = 3,        /* failed batches tolerated while stopping */
    DECODE_DEPTH = 4096      /* nesting a valid encoding never exceeds */
};

/* Records in order, linked by `link`. */
typedef struct {
    JournalRecord *first, *last;
} List;

static struct {
    const JournalBackend *be;
    JournalDb *db;
    bool on;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t queued;       /* a record was queued, or stopping */
    List queue;
    List rest;                   /* the journal thread's: see below */
    size_t rest_n;
    bool stopping;
    long acks;                   /* acknowledgements written, for the hook */
    long fail_at;                /* the hook: 0 when off */
} jr = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* 8.1: the journal thread's look for runs --retry asked for (watch_poll
 * below), and the count of failed runs kept. */
static struct {
    pthread_mutex_t lock;        /* held by a look, and to change `on` */
    JournalWatch w;
    atomic_bool on;
    _Atomic int64_t next_ms;     /* clock_ms() of the next look */
    atomic_long failed;          /* flusso_runs_failed_kept */
} watch = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- values as bytes ------------------------------------------------------ */

static size_t value_size(const FlValue *v)
{
    size_t n = 1;
    switch (v->type) {
    case FL_NULL:
    case FL_BOOL:
        break;
    case FL_NUMBER:
        n += 8;
        break;
    case FL_STRING:
        n += 4 + v->len;
        break;
    case FL_ARRAY:
        n += 4;
        for (uint32_t i = 0; i < v->len; i++)
            n += value_size(&v->u.items[i]);
        break;
    case FL_OBJECT:
        n += 4;
        for (uint32_t i = 0; i < v->len; i++)
            n += 4 + v->u.members[i].klen + value_size(&v->u.members[i].value);
        break;
    }
    return n;
}

static unsigned char *put_u32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(x >> (8 * i));
    return p;
}

static unsigned char *put_bytes(unsigned char *p, const void *s, uint32_t n)
{
    p = put_u32(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static unsigned char *put_value(unsigned char *p, const FlValue *v)
{
    uint64_t bits;
    switch (v->type) {
    case FL_NULL:
        *p++ = 'n';
        break;
    case FL_BOOL:
        *p++ = v->u.b ? 't' : 'f';
        break;
    case FL_NUMBER:
        *p++ = 'd';
        memcpy(&bits, &v->u.n, 8);
        p = put_u32(put_u32(p, (uint32_t)bits), (uint32_t)(bits >> 32));
        break;
    case FL_STRING:
        *p++ = 's';
        p = put_bytes(p, v->u.s, v->len);
        break;
    case FL_ARRAY:
        *p++ = 'a';
        p = put_u32(p, v->len);
        for (uint32_t i = 0; i < v->len; i++)
            p = put_value(p, &v->u.items[i]);
        break;
    case FL_OBJECT:
        *p++ = 'o';
        p = put_u32(p, v->len);
        for (uint32_t i = 0; i < v->len; i++) {
            p = put_bytes(p, v->u.members[i].key, v->u.members[i].klen);
            p = put_value(p, &v->u.members[i].value);
        }
        break;
    }
    return p;
}

/* Reading: a cursor that fails (NULL) on anything out of bounds. */
typedef struct {
    const unsigned char *p, *end;
    FlArena *a;
    int depth;
} Dec;

static bool get_u32(Dec *d, uint32_t *x)
{
    if (d->end - d->p < 4)
        return false;
    *x = 0;
    for (int i = 0; i < 4; i++)
        *x |= (uint32_t)*d->p++ << (8 * i);
    return true;
}

/* n bytes as a new NUL-terminated string in the arena. */
static const char *get_bytes(Dec *d, uint32_t n)
{
    if ((size_t)(d->end - d->p) < n)
        return NULL;
    const char *s = fl_string(d->a, (const char *)d->p, n)->u.s;
    d->p += n;
    return s;
}

static bool get_value(Dec *d, FlValue *out);

static bool get_container(Dec *d, FlValue *out, bool object)
{
    uint32_t n;
    /* every item takes a byte at least: a count past the end is corrupt */
    if (!get_u32(d, &n) || n > (size_t)(d->end - d->p) || ++d->depth > DECODE_DEPTH)
        return false;
    out->len = n;
    if (!object) {
        FlValue *items = fl_arena_alloc(d->a, (size_t)n * sizeof *items);
        for (uint32_t i = 0; i < n; i++)
            if (!get_value(d, &items[i]))
                return false;
        out->u.items = items;
    } else {
        FlMember *m = fl_arena_alloc(d->a, (size_t)n * sizeof *m);
        for (uint32_t i = 0; i < n; i++)
            if (!get_u32(d, &m[i].klen) || !(m[i].key = get_bytes(d, m[i].klen))
                || !get_value(d, &m[i].value))
                return false;
        out->u.members = m;
    }
    d->depth--;
    return true;
}

static bool get_value(Dec *d, FlValue *out)
{
    uint32_t lo, hi, n;
    uint64_t bits;
    if (d->p == d->end)
        return false;
    *out = (FlValue){ .type = FL_NULL };
    switch (*d->p++) {
    case 'n':
        return true;
    case 't':
    case 'f':
        *out = (FlValue){ .type = FL_BOOL, .u.b = d->p[-1] == 't' };
        return true;
    case 'd':
        if (!get_u32(d, &lo) || !get_u32(d, &hi))
            return false;
        bits = (uint64_t)hi << 32 | lo;
        *out = (FlValue){ .type = FL_NUMBER };
        memcpy(&out->u.n, &bits, 8);
        return out->u.n - out->u.n == 0;        /* finite */
    case 's':
        if (!get_u32(d, &n) || !(out->u.s = get_bytes(d, n)))
            return false;
        out->type = FL_STRING;
        out->len = n;
        return true;
    case 'a':
        out->type = FL_ARRAY;
        return get_container(d, out, false);
    case 'o':
        out->type = FL_OBJECT;
        return get_container(d, out, true);
    }
    return false;
}

/* One value filling exactly len bytes at p, or NULL. */
static const FlValue *decode_value(FlArena *a, const void *p, size_t len)
{
    Dec d = { p, (const unsigned char *)p + len, a, 0 };
    FlValue *v = fl_arena_alloc(a, sizeof *v);
    return get_value(&d, v) && d.p == d.end ? v : NULL;
}

int journal_decode(const JournalSaved *run, FlArena *a, const FlValue **outputs,
                   int n)
{
    Dec d = { run->outputs, (const unsigned char *)run->outputs + run->outputs_len, a, 0 };
    uint32_t count, index;
    if (!get_u32(&d, &count))
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        FlValue *v = fl_arena_alloc(a, sizeof *v);
        if (!get_u32(&d, &index) || index >= (uint32_t)n || !get_value(&d, v))
            return -1;
        outputs[index] = v;
    }
    if (d.p != d.end)
        return -1;
    for (size_t i = 0; i < run->step_count; i++) {
        const JournalStepData *s = &run->steps[i];
        if (s->len == 0 && s->index > 0 && s->index < n)
            continue;                /* a position only (journal_position) */
        if (s->index <= 0 || s->index >= n
            || !(outputs[s->index] = decode_value(a, s->data, s->len)))
            return -1;
    }
    return 0;
}

/* ---- records ------------------------------------------------------------ */

static JournalRecord *record_new(JournalRecordKind kind, const JournalRun *run,
                                 size_t len)
{
    JournalRecord *r = rt_check(malloc(sizeof *r + len));
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->workflow = run->workflow;
    r->next_key = run->next_key;
    r->attempt = run->attempt;
    r->next = run->next;
    r->wake_at = run->wake_at;
    r->tries = run->tries;
    r->shape = run->shape;
    snprintf(r->id, sizeof r->id, "%s", run->id);
    snprintf(r->started_at, sizeof r->started_at, "%s", run->started_at);
    r->len = len;
    return r;
}

/* A run row: the outputs so far, encoded. */
static JournalRecord *record_run(JournalRecordKind kind, const JournalRun *run)
{
    size_t len = 4;
    uint32_t count = 0;
    for (int i = 0; i < run->step_count; i++)
        if (run->outputs[i]) {
            len += 4 + value_size(run->outputs[i]);
            count++;
        }
    JournalRecord *r = record_new(kind, run, len);
    if (run->key && run->answer) {   /* 8.3: borrowed until its callback */
        r->key = run->key;
        r->key_len = run->key_len;
        r->answer = run->answer;
    }
    unsigned char *p = put_u32(r->data, count);
    for (int i = 0; i < run->step_count; i++)
        if (run->outputs[i])
            p = put_value(put_u32(p, (uint32_t)i), run->outputs[i]);
    return r;
}

/* ---- the queue ------------------------------------------------------------ */

static void list_add(List *l, JournalRecord *r)
{
    r->link = NULL;
    if (l->last)
        l->last->link = r;
    else
        l->first = r;
    l->last = r;
}

static void enqueue(JournalRecord *r)
{
    pthread_mutex_lock(&jr.lock);
    list_add(&jr.queue, r);
    pthread_cond_signal(&jr.queued);
    pthread_mutex_unlock(&jr.lock);
}

/* Puts records that could not be written back at the head, in order. */
static void requeue(List *l)
{
    pthread_mutex_lock(&jr.lock);
    l->last->link = jr.queue.first;
    jr.queue.first = l->first;
    if (!jr.queue.last)
        jr.queue.last = l->last;
    pthread_mutex_unlock(&jr.lock);
}

static void list_free(JournalRecord *r)
{
    while (r) {
        JournalRecord *next = r->link;
        free(r);
        r = next;
    }
}

/* ---- a batch's runs --------------------------------------------------------
 *
 * A set of run ids (borrowed from the batch's records), open addressing. */
typedef struct {
    const char **slot;
    size_t mask;
} IdSet;

static void idset_init(IdSet *s, size_t n)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    s->slot = rt_check(calloc(size, sizeof *s->slot));
    s->mask = size - 1;
}

/* The slot of id: where it is, or the empty one where it would go. */
static const char **idset_find(const IdSet *s, const char *id)
{
    uint64_t h = 1469598103934665603u;               /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    size_t i = (size_t)h & s->mask;
    while (s->slot[i] && strcmp(s->slot[i], id) != 0)
        i = (i + 1) & s->mask;
    return &s->slot[i];
}

/* Drops from l what other records make pointless: the note of a run
 * waiting when the run is in `acked` (its acknowledgement supersedes it),
 * the note and the steps of a run in `ended` (its end deletes them).
 * Either set may be NULL. */
static void drop_pointless(List *l, const IdSet *acked, const IdSet *ended)
{
    List keep = { 0 };
    for (JournalRecord *r = l->first, *next; r; r = next) {
        next = r->link;
        bool note = r->kind == JR_STARTED, step = r->kind == JR_STEP;
        if ((acked && note && *idset_find(acked, r->id))
            || (ended && (note || step) && *idset_find(ended, r->id)))
            free(r);
        else
            list_add(&keep, r);
    }
    *l = keep;
}

/* The ids of l's records of one kind, into s (the caller frees s.slot). */
static void ids_of(const List *l, JournalRecordKind kind, IdSet *s)
{
    size_t n = 0;
    for (const JournalRecord *r = l->first; r; r = r->link)
        n++;
    idset_init(s, n);
    for (JournalRecord *r = l->first; r; r = r->link)
        if (r->kind == kind)
            *idset_find(s, r->id) = r->id;
}

/* ---- the journal thread ---------------------------------------------------
 *
 * One cycle: take everything queued; commit its acknowledgements first, in
 * one durable transaction, and answer their callers; the other records
 * (steps, ends, notes of waiting runs) join `jr.rest`, written later in a
 * transaction that does not wait for the disk - the next durable commit
 * flushes them with its own (the store writes in order).  So a caller
 * waits for one fsync and the acknowledgements of its batch, not for the
 * bookkeeping of runs already answered.  The rest is written as soon as
 * no acknowledgement is waiting (the queue is empty, or holds none), or
 * when REST_MAX records have gathered; gathering lets a run's end drop its
 * step records unwritten.  Reordering is safe: nothing of a run but the
 * note of it waiting (dropped, superseded) is queued before its
 * acknowledgement is durable. */

/* The acknowledgements are durable: their callers learn it. */
static void acks_done(JournalRecord *r, bool durable)
{
    for (; r; r = r->link)
        if (r->done)
            r->done(r->done_arg, durable);
}

/* Commits the acknowledgements.  When that fails (or the test hook says
 * so) they fail, and go on as records of abandoned runs in the rest. */
static void write_acks(List *acks)
{
    char err[256];
    long n = 0;
    for (JournalRecord *r = acks->first; r; r = r->link)
        n++;
    bool hook = jr.fail_at > jr.acks && jr.fail_at <= jr.acks + n;
    jr.acks += n;
    int64_t started = clock_us();
    bool ok = !hook && jr.be->write(jr.db, acks->first, true, err, sizeof err) == 0;
    if (!hook)
        metrics_commit(clock_us() - started);   /* the durable ones: fsync */
    if (ok) {
        acks_done(acks->first, true);
        list_free(acks->first);
        return;
    }
    log_event(FL_LOG_ERROR, "journal", "journal write failed, %ld run(s) answered 503: %s",
              n, hook ? "FLUSSO_JOURNAL_FAIL_AFTER (test hook)" : err);
    acks_done(acks->first, false);
    for (JournalRecord *r = acks->first, *next; r; r = next) {
        next = r->link;
        r->kind = JR_ABANDONED;
        r->done = NULL;
        r->key = NULL;                   /* the run let go of them */
        r->answer = NULL;
        list_add(&jr.rest, r);
        jr.rest_n++;
    }
}

/* Splits a batch: its acknowledgements into acks, the rest onto jr.rest,
 * whose notes of runs acknowledged now are dropped. */
static void batch_split(JournalRecord *batch, List *acks)
{
    IdSet acked;
    for (JournalRecord *r = batch, *next; r; r = next) {
        next = r->link;
        list_add(r->kind == JR_ACKED ? acks : &jr.rest, r);
        jr.rest_n += r->kind != JR_ACKED;
    }
    if (!acks->first)
        return;
    ids_of(acks, JR_ACKED, &acked);
    drop_pointless(&jr.rest, &acked, NULL);
    free(acked.slot);
}

/* 8.1: failed runs just kept count on the gauge. */
static void count_failed(const JournalRecord *r)
{
    long n = 0;
    for (; r; r = r->link)
        n += r->kind == JR_FAILED;
    if (n)
        atomic_fetch_add_explicit(&watch.failed, n, memory_order_relaxed);
}

/* Writes the rest; false when it had to go back to the queue. */
static bool write_rest(void)
{
    char err[256];
    IdSet ended;
    ids_of(&jr.rest, JR_FINISHED, &ended);
    drop_pointless(&jr.rest, NULL, &ended);
    free(ended.slot);
    List rest = jr.rest;
    jr.rest = (List){ 0 };
    jr.rest_n = 0;
    if (!rest.first || jr.be->write(jr.db, rest.first, false, err, sizeof err) == 0) {
        count_failed(rest.first);
        list_free(rest.first);
        return true;
    }
    log_event(FL_LOG_ERROR, "journal", "journal write failed (will retry): %s", err);
    requeue(&rest);
    return false;
}

/* Whether the rest may wait: acknowledgements may be queued, and it is
 * not too long. */
static bool rest_may_wait(void)
{
    pthread_mutex_lock(&jr.lock);
    bool busy = jr.queue.first != NULL && !jr.stopping;
    pthread_mutex_unlock(&jr.lock);
    return busy && jr.rest_n < REST_MAX;
}

/* One cycle; false when records had to go back to the queue. */
static bool write_batch(JournalRecord *batch)
{
    List acks = { 0 };
    batch_split(batch, &acks);
    bool acked = acks.first != NULL;
    if (acked)
        write_acks(&acks);
    if (acked && rest_may_wait())
        return true;
    return write_rest();
}

/* ---- 8.1: runs --retry asked for ------------------------------------------
 *
 * --retry runs in another process and only changes the journal; the
 * handler serving it notices on the journal thread, which already owns
 * the connection: between batches, or when idle for WATCH_MS, it asks
 * the store whether anyone else wrote to it (a counter SQLite keeps: no
 * table read), and only then hands the retrying runs over and counts the
 * failed ones again.  Busy or idle, that is a clock read per batch and a
 * cheap query a second. */

/* Waits (jr.lock held) until something is queued, the thread is asked to
 * stop, or - while watching - a look is due. */
static void wait_queued(void)
{
    while (!jr.queue.first && !jr.stopping) {
        if (!watch.on) {
            pthread_cond_wait(&jr.queued, &jr.lock);
            continue;
        }
        int64_t left = watch.next_ms - clock_ms();
        if (left <= 0)
            return;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += (time_t)(left / 1000);
        t.tv_nsec += (long)(left % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&jr.queued, &jr.lock, &t);
    }
}

/* A look, when one is due and another process changed the journal. */
static void watch_poll(void)
{
    char err[256];
    if (!watch.on || clock_ms() < watch.next_ms)
        return;                          /* racy read: the lock decides */
    pthread_mutex_lock(&watch.lock);
    watch.next_ms = clock_ms() + WATCH_MS;
    if (watch.on && jr.be->changed(jr.db)) {
        int rc = jr.be->take_retried(jr.db, watch.w.take, watch.w.arg, err, sizeof err);
        watch.w.taken(watch.w.arg, rc == 0);
        if (rc < 0)
            log_event(FL_LOG_ERROR, "journal", "cannot take the retried runs: %s", err);
        long n = jr.be->count_failed(jr.db);
        if (n >= 0)
            atomic_store_explicit(&watch.failed, n, memory_order_relaxed);
    }
    pthread_mutex_unlock(&watch.lock);
}

void journal_watch(const JournalWatch *w)
{
    pthread_mutex_lock(&watch.lock);
    watch.on = w != NULL && jr.on;
    if (watch.on)
        watch.w = *w;
    watch.next_ms = 0;                   /* the first look at once */
    pthread_mutex_unlock(&watch.lock);
    if (!watch.on)
        return;
    pthread_mutex_lock(&jr.lock);
    pthread_cond_signal(&jr.queued);
    pthread_mutex_unlock(&jr.lock);
}

long journal_failed_kept(void)
{
    return jr.on ? atomic_load_explicit(&watch.failed, memory_order_relaxed) : 0;
}

static void *journal_main(void *arg)
{
    int failures = 0;
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&jr.lock);
        wait_queued();
        JournalRecord *batch = jr.queue.first;
        jr.queue = (List){ 0 };
        bool stopping = jr.stopping;
        pthread_mutex_unlock(&jr.lock);
        watch_poll();
        if (!batch && stopping)
            break;                       /* stopping, and nothing queued */
        if (!batch)
            continue;                    /* a look for retried runs was due */
        if (write_batch(batch)) {
            failures = 0;
            continue;
        }
        if (stopping && ++failures >= STOP_RETRIES)
            break;
        clock_sleep_ms(RETRY_MS);
    }
    return NULL;
}

/* Frees what is still queued (a store that kept failing at shutdown). */
static void drop_queue(void)
{
    long n = 0;
    for (JournalRecord *r = jr.queue.first; r; r = r->link)
        n++;
    for (JournalRecord *r = jr.rest.first; r; r = r->link)
        n++;
    list_free(jr.queue.first);
    list_free(jr.rest.first);
    jr.queue = jr.rest = (List){ 0 };
    jr.rest_n = 0;
    if (n)
        log_event(FL_LOG_ERROR, "journal", "%ld journal record(s) could not be written", n);
}

/* ---- the facade ----------------------------------------------------------- */

static long hook_from_env(void)
{
    const char *s = getenv("FLUSSO_JOURNAL_FAIL_AFTER");
    char *end;
    long n = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && n > 0 ? n : 0;
}

/* The journal thread, with every signal blocked: signals are for the
 * server's sigwait(), and this thread starts before it blocks them. */
static int start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&jr.thread, NULL, journal_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* The backend for a journal path: where a PostgreSQL backend would be
 * chosen (postgres://...).  Today every path is a SQLite file. */
static const JournalBackend *backend_for(const char *path)
{
    (void)path;
    return &journal_sqlite;
}

/* 8.3: an answered key of the journal into the table. */
static void load_key(void *arg, const char *workflow, const char *key, size_t len,
                     const JournalAnswer *answer)
{
    (void)arg;
    journal_dedupe_load(workflow, key, len, journal_answer_copy(
        &answer->resp, answer->run_id, answer->recorded_at));
}

int journal_open(const char *path, JournalScanFn abandoned, void *arg,
                 char *err, size_t errlen)
{
    JournalStatus status = JOURNAL_ECANTOPEN;
    jr.be = backend_for(path);
    jr.db = jr.be->open(path, false, NULL, &status, err, errlen);
    if (!jr.db)
        return status;
    if (jr.be->start(jr.db, abandoned, arg, err, errlen) < 0
        || jr.be->keys(jr.db, load_key, NULL, err, errlen) < 0)
        goto err;
    jr.fail_at = hook_from_env();
    jr.acks = 0;
    jr.stopping = false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);     /* wait_queued() */
    pthread_cond_init(&jr.queued, &ca);
    pthread_condattr_destroy(&ca);
    long failed = jr.be->count_failed(jr.db);
    atomic_store(&watch.failed, failed > 0 ? failed : 0);
    if (start_thread() != 0) {
        snprintf(err, errlen, "cannot start the journal thread");
        pthread_cond_destroy(&jr.queued);
        goto err;
    }
    jr.on = true;
    return JOURNAL_OK;
err:
    jr.be->close(jr.db);
    jr.db = NULL;
    return JOURNAL_ECANTOPEN;
}

void journal_close(void)
{
    if (!jr.on)
        return;
    journal_watch(NULL);
    pthread_mutex_lock(&jr.lock);
    jr.stopping = true;
    pthread_cond_signal(&jr.queued);
    pthread_mutex_unlock(&jr.lock);
    pthread_join(jr.thread, NULL);
    jr.on = false;
    drop_queue();
    pthread_cond_destroy(&jr.queued);
    jr.be->close(jr.db);
    jr.db = NULL;
}

bool journal_enabled(void)
{
    return jr.on;
}

void journal_acknowledge(const JournalRun *run, JournalDone done, void *arg)
{
    JournalRecord *r = record_run(JR_ACKED, run);
    r->done = done;
    r->done_arg = arg;
    enqueue(r);
}

void journal_waiting(const JournalRun *run)
{
    enqueue(record_run(JR_STARTED, run));
}

void journal_step(const JournalRun *run, int index)
{
    const FlValue *v = run->outputs[index] ? run->outputs[index] : &fl_null;
    JournalRecord *r = record_new(JR_STEP, run, value_size(v));
    r->step = index;
    put_value(r->data, v);
    enqueue(r);
}

void journal_position(const JournalRun *run, int index)
{
    JournalRecord *r = record_new(JR_STEP, run, 0);
    r->step = index;
    enqueue(r);
}

void journal_finish(const char *id)
{
    static const JournalRun none = { .id = "", .workflow = "", .started_at = "",
                                     .next_key = "" };
    JournalRecord *r = record_new(JR_FINISHED, &none, 0);
    snprintf(r->id, sizeof r->id, "%s", id);
    enqueue(r);
}

void journal_fail(const JournalRun *run, const char *error)
{
    size_t len = strlen(error);
    JournalRecord *r = record_new(JR_FAILED, run, len);
    memcpy(r->data, error, len);
    enqueue(r);
}

int journal_command(const char *path, const JournalCommand *cmd,
                    JournalOutcomeFn fn, void *arg, char *err, size_t errlen)
{
    return backend_for(path)->command(path, cmd, fn, arg, err, errlen);
}

void journal_forget(const char *workflow, int64_t recorded_at)
{
    static const JournalRun none = { .id = "", .workflow = "", .started_at = "",
                                     .next_key = "" };
    if (!jr.on)
        return;
    JournalRecord *r = record_new(JR_FORGET, &none, 0);
    r->workflow = workflow;          /* static: the program's, or a space's */
    r->wake_at = recorded_at;
    enqueue(r);
}

int journal_recover(JournalScanFn fn, void *arg)
{
    char err[256];
    if (!jr.on)
        return 0;
    int rc = jr.be->scan(jr.db, true, false, false, fn, arg, err, sizeof err);
    if (rc == -1)
        log_event(FL_LOG_ERROR, "journal", "cannot read the journal: %s", err);
    return rc;
}

/* --runs reports started runs of a stopped handler as what the next start
 * makes them. */
typedef struct {
    JournalScanFn fn;
    void *arg;
} ListCtx;

static int list_one(void *arg, const JournalSaved *run)
{
    ListCtx *ctx = arg;
    JournalSaved copy = *run;
    if (copy.state == JOURNAL_STARTED)
        copy.state = JOURNAL_ABANDONED;
    return ctx->fn(ctx->arg, &copy);
}

int journal_list(const char *path, JournalScanFn fn, void *arg,
                 char *err, size_t errlen)
{
    JournalStatus status = JOURNAL_ECANTOPEN;
    const JournalBackend *be = backend_for(path);
    bool locked = false;
    ListCtx ctx = { fn, arg };
    char why[256];
    JournalDb *db = be->open(path, true, &locked, &status, err, errlen);
    if (!db)
        return status;
    unsigned states = 1u << JOURNAL_PENDING | 1u << JOURNAL_ABANDONED
                    | 1u << JOURNAL_FAILED | 1u << JOURNAL_STRANDED
                    | 1u << JOURNAL_RETRYING | (locked ? 0 : 1u << JOURNAL_STARTED);
    int rc = be->scan_states(db, states, list_one, &ctx, why, sizeof why);
    be->close(db);
    if (rc != -1)
        return JOURNAL_OK;
    snprintf(err, errlen, "cannot read journal %s: %s", path, why);
    return JOURNAL_ECORRUPT;
}

/* ---- 8.4: changed workflows ---------------------------------------------- */

/* The keys of wf's steps by index, joined by '\n' (malloc()ed). */
static char *keys_joined(const FlWorkflow *wf)
{
    size_t len = 1;
    for (int i = 0; i < wf->step_count; i++)
        len += strlen(wf->steps[i].key) + 1;
    char *keys = rt_check(malloc(len)), *p = keys;
    for (int i = 0; i < wf->step_count; i++)
        p += sprintf(p, "%s%s", i ? "\n" : "", wf->steps[i].key);
    *p = '\0';
    return keys;
}

int journal_put_shapes(const FlProgram *p)
{
    char err[256];
    for (int i = 0; jr.db && i < p->workflow_count; i++) {
        const FlWorkflow *wf = p->workflows[i];
        char *keys = keys_joined(wf);
        int rc = jr.be->put_shape(jr.db, wf->shape, wf->name, keys, err, sizeof err);
        free(keys);
        if (rc < 0) {
            log_event(FL_LOG_ERROR, "journal", "cannot record the shape of workflow "
                      "%s: %s", wf->name, err);
            return -1;
        }
    }
    return 0;
}

char *journal_shape_keys(int64_t shape)
{
    char err[256], *keys = NULL;
    if (jr.db && jr.be->shape_keys(jr.db, shape, &keys, err, sizeof err) < 0)
        log_event(FL_LOG_ERROR, "journal", "cannot read the journal: %s", err);
    return keys;
}

int journal_strand(const char *id, int attempt, const char *reason)
{
    char err[256];
    if (!jr.db)
        return -1;
    if (jr.be->strand(jr.db, id, attempt, reason, err, sizeof err) == 0)
        return 0;
    log_event(FL_LOG_ERROR, "journal", "cannot write the journal: %s", err);
    return -1;
}

int journal_rewrite(const JournalRun *run, bool retrying)
{
    char err[256];
    if (!jr.db)
        return -1;
    JournalRecord *gone = record_new(JR_FINISHED, run, 0);   /* its rows go */
    gone->link = record_run(retrying ? JR_RETRYING : JR_ACKED, run);
    int rc = jr.be->write(jr.db, gone, true, err, sizeof err);
    list_free(gone);
    if (rc < 0)
        log_event(FL_LOG_ERROR, "journal", "cannot write the journal: %s", err);
    return rc;
}

int journal_admin_open(const char *path, char *err, size_t errlen)
{
    JournalStatus status = JOURNAL_ECANTOPEN;
    jr.be = backend_for(path);
    jr.db = jr.be->open_admin(path, &status, err, errlen);
    return jr.db ? JOURNAL_OK : status;
}

void journal_admin_close(void)
{
    if (jr.db && !jr.on)
        jr.be->close(jr.db);
    jr.db = jr.on ? jr.db : NULL;
}

int journal_admin_scan(JournalScanFn fn, void *arg)
{
    char err[256];
    if (!jr.db)
        return -1;
    unsigned listed = 1u << JOURNAL_PENDING | 1u << JOURNAL_ABANDONED
                    | 1u << JOURNAL_FAILED | 1u << JOURNAL_STRANDED
                    | 1u << JOURNAL_RETRYING;
    int rc = jr.be->scan_states(jr.db, listed, fn, arg, err, sizeof err);
    if (rc == -1)
        log_event(FL_LOG_ERROR, "journal", "cannot read the journal: %s", err);
    return rc;
}
