/* dedupe.c - the keys of deliveries and their recorded answers (spec 8.3;
 * see journal.h, "duplicate deliveries").
 *
 * One space per workflow, made at its first use: a chained hash table of
 * entries under the space's own lock, so workflows never contend, and a
 * list of the same entries from the oldest to the newest (claimed, or
 * answered: an answer moves its entry to the newest end).  The window
 * counts from the answer, so the oldest answered entries are the first
 * to expire: each claim looks at the oldest end and prunes a few expired
 * entries (PRUNE_MAX), which keeps the cost of pruning off any single
 * request while the table never grows past what the window holds.  With a
 * journal the pruned keys' rows are deleted by the journal thread
 * (journal_forget(), a record written without waiting for the disk).
 * Without a journal a space holds at most MEMORY_MAX keys, the oldest
 * forgotten first.
 *
 * The table is the authority while the handler runs: a key is claimed
 * here, before the run's first step, and its answer recorded here once
 * the acknowledgement carrying it is durable.  Keys still in progress are
 * never written: a crash abandons their runs (spec 7), and an abandoned
 * run frees its key - the table starts with the answered keys only. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal.h"
#include "value/value.h"

enum {
    PRUNE_MAX = 8,            /* expired entries pruned per claim, at most */
    TELL_MAX = 256,           /* forgotten keys before the journal is told */
    TELL_MS = 1000,           /* ... or this long after the first of them */
    MEMORY_MAX = 100000,      /* keys per workflow without a journal */
    FIRST_BUCKETS = 64
};

typedef struct Entry Entry;
struct Entry {
    Entry *chain;             /* the next in its bucket */
    Entry *older, *newer;     /* the age list */
    uint64_t hash;
    int64_t at_ms;            /* claimed or answered, Unix ms */
    JournalAnswer *answer;    /* NULL: in progress; shared (refs) */
    char run_id[37];          /* the run that holds or answered it */
    size_t len;
    char key[];
};

typedef struct Space Space;
struct Space {
    Space *next;              /* in dd.spaces */
    const char *workflow;     /* the program's, or a copy (owned) */
    bool owned;
    long window_s;            /* 0: not known yet (loaded keys only) */
    pthread_mutex_t lock;
    Entry **buckets;
    size_t mask;              /* buckets - 1 */
    size_t count;
    Entry *oldest, *newest;
    JournalAnswer *last;      /* the latest answer recorded: an equal one
                                 is shared instead of kept twice */
    int64_t forgot_at;        /* the newest answer forgotten ... */
    int forgot_n;             /* ... of these, not told to the journal */
    int64_t told_ms;          /* when it was last told */
};

static struct {
    pthread_mutex_t lock;     /* held to add a space */
    _Atomic(Space *) spaces;
} dd = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- answers ---------------------------------------------------------------- */

static size_t put_u32(unsigned char *p, size_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(x >> (8 * i));
    return 4;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
         | (uint32_t)p[3] << 24;
}

size_t journal_headers_size(const FlResponse *resp)
{
    size_t n = 0;
    for (int i = 0; i < resp->header_count; i++)
        n += 8 + strlen(resp->headers[i].name) + resp->headers[i].value_len;
    return n;
}

void journal_headers_put(const FlResponse *resp, unsigned char *out)
{
    for (int i = 0; i < resp->header_count; i++) {
        const FlHeader *h = &resp->headers[i];
        size_t nlen = strlen(h->name);
        out += put_u32(out, nlen);
        memcpy(out, h->name, nlen);
        out += nlen;
        out += put_u32(out, h->value_len);
        memcpy(out, h->value, h->value_len);
        out += h->value_len;
    }
}

/* Copies n bytes and a NUL to *p; returns where they went. */
static char *put_text(char **p, const char *s, size_t n)
{
    char *at = *p;
    if (n)
        memcpy(at, s, n);
    at[n] = '\0';
    *p += n + 1;
    return at;
}

JournalAnswer *journal_answer_copy(const FlResponse *resp, const char *run_id,
                                   int64_t recorded_at)
{
    size_t ct = resp->content_type ? strlen(resp->content_type) + 1 : 0;
    size_t size = sizeof(JournalAnswer) + (size_t)resp->header_count * sizeof(FlHeader)
                + ct + resp->body_len + 1;
    for (int i = 0; i < resp->header_count; i++)
        size += strlen(resp->headers[i].name) + 1 + resp->headers[i].value_len + 1;
    JournalAnswer *a = rt_check(malloc(size));
    FlHeader *hs = (FlHeader *)(void *)(a + 1);
    char *p = (char *)(hs + resp->header_count);
    a->resp = (FlResponse){ .status = resp->status, .body_len = resp->body_len,
                            .headers = hs, .header_count = resp->header_count };
    a->resp.content_type = ct ? put_text(&p, resp->content_type, ct - 1) : NULL;
    for (int i = 0; i < resp->header_count; i++) {
        const FlHeader *h = &resp->headers[i];
        hs[i].name = put_text(&p, h->name, strlen(h->name));
        hs[i].value = put_text(&p, h->value, h->value_len);
        hs[i].value_len = h->value_len;
    }
    a->resp.body = put_text(&p, resp->body, resp->body_len);
    snprintf(a->run_id, sizeof a->run_id, "%s", run_id);
    a->recorded_at = recorded_at;
    a->size = size;
    a->refs = 0;
    return a;
}

/* Reads the headers bytes into hs (at most max); the count, or -1. */
static int headers_read(const unsigned char *p, size_t len, FlHeader *hs, int max)
{
    int n = 0;
    const unsigned char *end = p + len;
    while (p < end) {
        uint32_t nl, vl;
        if (n == max || end - p < 4 || (size_t)(end - p - 4) < (nl = get_u32(p)))
            return -1;
        const unsigned char *name = p + 4;
        p = name + nl;
        if (end - p < 4 || (size_t)(end - p - 4) < (vl = get_u32(p)))
            return -1;
        hs[n++] = (FlHeader){ (const char *)name, (const char *)p + 4, vl };
        p += 4 + vl;
    }
    return n;
}

JournalAnswer *journal_answer_read(int status, const char *content_type,
                                   const void *headers, size_t headers_len,
                                   const void *body, size_t body_len,
                                   const char *run_id, int64_t recorded_at)
{
    int max = (int)(headers_len / 8);
    FlHeader *hs = rt_check(calloc((size_t)max + 1, sizeof *hs));
    int n = headers_read(headers, headers_len, hs, max);
    char **names = rt_check(calloc((size_t)max + 1, sizeof *names));
    JournalAnswer *a = NULL;
    if (n >= 0 && status >= 100 && status <= 599) {
        for (int i = 0; i < n; i++) {      /* names are stored without NUL */
            size_t nl = (size_t)(hs[i].value - 4 - hs[i].name);
            names[i] = rt_check(strndup(hs[i].name, nl));
            hs[i].name = names[i];
        }
        FlResponse r = { .status = status, .content_type = content_type,
                         .body = body, .body_len = body_len, .headers = hs,
                         .header_count = n };
        a = journal_answer_copy(&r, run_id, recorded_at);
    }
    for (int i = 0; i < max; i++)
        free(names[i]);
    free(names);
    free(hs);
    return a;
}

/* ---- spaces ----------------------------------------------------------------- */

static Space *space_find(const char *workflow)
{
    for (Space *s = atomic_load_explicit(&dd.spaces, memory_order_acquire); s; s = s->next)
        if (s->workflow == workflow || strcmp(s->workflow, workflow) == 0)
            return s;
    return NULL;
}

/* The space of workflow, made when missing; copy: workflow is not static. */
static Space *space_get(const char *workflow, bool copy)
{
    Space *s = space_find(workflow);
    if (s)
        return s;
    pthread_mutex_lock(&dd.lock);
    s = space_find(workflow);
    if (!s) {
        s = rt_check(calloc(1, sizeof *s));
        s->workflow = copy ? rt_check(strdup(workflow)) : workflow;
        s->owned = copy;
        pthread_mutex_init(&s->lock, NULL);
        s->buckets = rt_check(calloc(FIRST_BUCKETS, sizeof *s->buckets));
        s->mask = FIRST_BUCKETS - 1;
        s->next = atomic_load_explicit(&dd.spaces, memory_order_relaxed);
        atomic_store_explicit(&dd.spaces, s, memory_order_release);
    }
    pthread_mutex_unlock(&dd.lock);
    return s;
}

static uint64_t hash_of(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u;               /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

/* The slot pointing at key's entry, or at the NULL ending its bucket. */
static Entry **slot_of(Space *s, const char *key, size_t len, uint64_t h)
{
    Entry **e = &s->buckets[h & s->mask];
    while (*e && !((*e)->hash == h && (*e)->len == len && memcmp((*e)->key, key, len) == 0))
        e = &(*e)->chain;
    return e;
}

static void grow(Space *s)
{
    size_t n = 2 * (s->mask + 1);
    Entry **b = rt_check(calloc(n, sizeof *b));
    for (size_t i = 0; i <= s->mask; i++)
        for (Entry *e = s->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(s->buckets);
    s->buckets = b;
    s->mask = n - 1;
}

static void age_unlink(Space *s, Entry *e)
{
    *(e->older ? &e->older->newer : &s->oldest) = e->newer;
    *(e->newer ? &e->newer->older : &s->newest) = e->older;
    e->older = e->newer = NULL;
}

static void age_push(Space *s, Entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    *(s->newest ? &s->newest->newer : &s->oldest) = e;
    s->newest = e;
}

/* Whether two answers are the same bytes (status, content type,
 * headers, body). */
static bool same_answer(const FlResponse *a, const FlResponse *b)
{
    if (a->status != b->status || a->body_len != b->body_len
        || a->header_count != b->header_count
        || !a->content_type != !b->content_type
        || (a->content_type && strcmp(a->content_type, b->content_type) != 0)
        || memcmp(a->body, b->body, a->body_len) != 0)
        return false;
    for (int i = 0; i < a->header_count; i++)
        if (strcmp(a->headers[i].name, b->headers[i].name) != 0
            || a->headers[i].value_len != b->headers[i].value_len
            || memcmp(a->headers[i].value, b->headers[i].value, a->headers[i].value_len) != 0)
            return false;
    return true;
}

/* a (taken), or the space's equal latest answer: many runs of a
 * workflow answer the same bytes (a fixed {"received": true}). */
static JournalAnswer *answer_share(Space *s, JournalAnswer *a)
{
    if (s->last && same_answer(&s->last->resp, &a->resp)) {
        free(a);
        a = s->last;
    } else {
        a->refs = 0;
        s->last = a;
    }
    a->refs++;
    return a;
}

static void answer_drop(Space *s, JournalAnswer *a)
{
    if (!a || --a->refs > 0)
        return;
    if (s->last == a)
        s->last = NULL;
    free(a);
}

/* Removes e (found at slot) and frees it. */
static void entry_drop(Space *s, Entry **slot, Entry *e)
{
    *slot = e->chain;
    age_unlink(s, e);
    s->count--;
    answer_drop(s, e->answer);
    free(e);
}

static Entry *entry_add(Space *s, const char *key, size_t len, uint64_t h)
{
    if (s->count >= s->mask + 1)
        grow(s);
    Entry *e = rt_check(calloc(1, sizeof *e + len));
    memcpy(e->key, key, len);
    e->len = len;
    e->hash = h;
    Entry **slot = &s->buckets[h & s->mask];
    e->chain = *slot;
    *slot = e;
    age_push(s, e);
    s->count++;
    return e;
}

static bool expired(const Space *s, const Entry *e, int64_t now)
{
    return e->answer && s->window_s > 0 && e->at_ms + s->window_s * 1000 <= now;
}

static void forget(Space *s, Entry **slot, Entry *e);

/* Tells the journal which rows go, in batches: after TELL_MAX forgotten
 * keys, or TELL_MS after the first. */
static void tell(Space *s, int64_t now)
{
    if (s->forgot_n >= TELL_MAX || (s->forgot_n > 0 && now - s->told_ms >= TELL_MS)) {
        journal_forget(s->workflow, s->forgot_at);
        s->forgot_n = 0;
        s->told_ms = now;
    }
}

/* Forgets the oldest entry. */
static void forget_oldest(Space *s)
{
    Entry *e = s->oldest;
    forget(s, slot_of(s, e->key, e->len, e->hash), e);
}

/* A few expired entries from the oldest end; without a journal, the
 * oldest beyond MEMORY_MAX.  A key in progress is not forgotten by age:
 * it goes to the newest end, so that the answered keys behind it still
 * expire (it moves there anyway once answered). */
static void prune(Space *s, int64_t now)
{
    for (int i = 0; i < PRUNE_MAX && s->oldest; i++) {
        Entry *e = s->oldest;
        if (!e->answer) {
            age_unlink(s, e);
            age_push(s, e);
        } else if (expired(s, e, now)) {
            forget_oldest(s);
        } else {
            break;
        }
    }
    while (!journal_enabled() && s->count > MEMORY_MAX)
        forget_oldest(s);
    tell(s, now);
}

/* ---- the facade ------------------------------------------------------------- */

/* Forgets e, found at slot (its row too, later, when it was answered). */
static void forget(Space *s, Entry **slot, Entry *e)
{
    if (e->answer) {
        s->forgot_at = e->at_ms > s->forgot_at ? e->at_ms : s->forgot_at;
        s->forgot_n++;
    }
    entry_drop(s, slot, e);
}

JournalKeyState journal_dedupe_claim(const char *workflow, long window_s,
                                     const char *key, size_t len,
                                     const char *run_id, char owner[37],
                                     JournalAnswer **answer)
{
    Space *s = space_get(workflow, false);
    uint64_t h = hash_of(key, len);
    int64_t now = fl_time_now_ms();
    JournalKeyState st = JOURNAL_KEY_NEW;
    pthread_mutex_lock(&s->lock);
    s->window_s = window_s;
    prune(s, now);
    Entry **slot = slot_of(s, key, len, h), *e = *slot;
    if (e && expired(s, e, now)) {
        forget(s, slot, e);
        e = NULL;
    }
    if (e) {
        st = e->answer ? JOURNAL_KEY_ANSWERED : JOURNAL_KEY_BUSY;
        memcpy(owner, e->run_id, 37);
        if (e->answer)
            *answer = journal_answer_copy(&e->answer->resp, e->run_id, e->at_ms);
    } else {
        e = entry_add(s, key, len, h);
        e->at_ms = now;
        snprintf(e->run_id, sizeof e->run_id, "%s", run_id);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Sets the answer of key's entry (made when missing: a table that forgot
 * it); the entry becomes the newest. */
static void record(Space *s, const char *key, size_t len, JournalAnswer *answer)
{
    uint64_t h = hash_of(key, len);
    Entry *e = *slot_of(s, key, len, h);
    if (!e)
        e = entry_add(s, key, len, h);
    e->at_ms = answer->recorded_at;
    snprintf(e->run_id, sizeof e->run_id, "%s", answer->run_id);
    answer_drop(s, e->answer);
    e->answer = answer_share(s, answer);
    age_unlink(s, e);
    age_push(s, e);
}

void journal_dedupe_record(const char *workflow, const char *key, size_t len,
                           JournalAnswer *answer)
{
    Space *s = space_get(workflow, false);
    pthread_mutex_lock(&s->lock);
    record(s, key, len, answer);
    pthread_mutex_unlock(&s->lock);
}

void journal_dedupe_free(const char *workflow, const char *key, size_t len,
                         const char *run_id)
{
    Space *s = space_get(workflow, false);
    pthread_mutex_lock(&s->lock);
    Entry **slot = slot_of(s, key, len, hash_of(key, len)), *e = *slot;
    if (e && !e->answer && strcmp(e->run_id, run_id) == 0)
        entry_drop(s, slot, e);
    pthread_mutex_unlock(&s->lock);
}

void journal_dedupe_load(const char *workflow, const char *key, size_t len,
                         JournalAnswer *answer)
{
    Space *s = space_get(workflow, true);
    pthread_mutex_lock(&s->lock);
    record(s, key, len, answer);
    pthread_mutex_unlock(&s->lock);
}

void journal_dedupe_reset(void)
{
    pthread_mutex_lock(&dd.lock);
    Space *s = atomic_exchange(&dd.spaces, NULL);
    pthread_mutex_unlock(&dd.lock);
    while (s) {
        Space *next = s->next;
        while (s->oldest)
            entry_drop(s, slot_of(s, s->oldest->key, s->oldest->len, s->oldest->hash),
                       s->oldest);
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
        if (s->owned)
            free((void *)s->workflow);
        free(s);
        s = next;
    }
}
