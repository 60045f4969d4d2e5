/* compact.c - what a run keeps while it waits in a long delay.
 *
 * A run in a delay holds its memory until the delay is over, and most of
 * it is dead: the request's headers and raw body once the signature is
 * checked, the scratch of every template rendered so far.  With thousands
 * of runs waiting that memory is most of the handler's (a run is about
 * 2.5 KB), and touching it again a second later is what the tail pays
 * for.  So before a long wait run.c moves the run into a copy that holds
 * the outputs table and, of each output, only what the steps that may run
 * after the delay read - flussoc lists that (FlStepInfo.keep): the fields
 * their templates name, all of a value a template uses whole.  For
 * payment.json's tail that is trigger.output.body.id and .amount.
 *
 * Both jobs, sizing the copy and making it, are one walk over a Space
 * that either only counts (no memory) or fills a block counted before. */
#include "run/compact.h"

#include <string.h>

typedef struct {
    char *at;        /* the block being filled; NULL: only count */
    size_t used;     /* bytes taken so far, each take 8-aligned */
} Space;

/* n bytes of s, or NULL when s only counts. */
static void *space_take(Space *s, size_t n)
{
    char *p = s->at ? s->at + s->used : NULL;
    s->used += (n + 7) & ~(size_t)7;
    return p;
}

/* A copy of len bytes at p with a NUL after them (as fl_string makes). */
static const char *copy_bytes(Space *s, const char *p, size_t len)
{
    char *q = space_take(s, len + 1);
    if (q) {
        memcpy(q, p, len);
        q[len] = '\0';
    }
    return q;
}

static void copy_kept(Space *s, const FlValue *v, const FlKeep *keep, int n,
                      FlValue *out);

/* Copies member m, of its value what the n nodes at keep list (none: all
 * of it); *to (unless NULL: counting) gets the copy. */
static void copy_member(Space *s, const FlMember *m, const FlKeep *keep, int n,
                        FlMember *to)
{
    const char *key = copy_bytes(s, m->key, m->klen);
    copy_kept(s, &m->value, keep, n, to ? &to->value : NULL);
    if (to) {
        to->key = key;
        to->klen = m->klen;
    }
}

/* Copies all of v into s; *out (unless NULL: counting) gets the copy. */
static void copy_value(Space *s, const FlValue *v, FlValue *out)
{
    FlValue c = *v;
    if (v->type == FL_STRING) {
        c.u.s = copy_bytes(s, v->u.s, v->len);
    } else if (v->type == FL_ARRAY) {
        FlValue *items = space_take(s, v->len * sizeof *items);
        for (uint32_t i = 0; i < v->len; i++)
            copy_value(s, &v->u.items[i], items ? &items[i] : NULL);
        c.u.items = items;
    } else if (v->type == FL_OBJECT) {
        FlMember *ms = space_take(s, v->len * sizeof *ms);
        for (uint32_t i = 0; i < v->len; i++)
            copy_member(s, &v->u.members[i], NULL, 0, ms ? &ms[i] : NULL);
        c.u.members = ms;
    }
    if (out)
        *out = c;
}

/* The member k names in object v: the first with its key, as
 * fl_get_field() finds it; NULL when v has none. */
static const FlMember *member_of(const FlValue *v, const FlKeep *k)
{
    for (uint32_t i = 0; i < v->len; i++) {
        const FlMember *m = &v->u.members[i];
        if (m->klen == k->field_len && memcmp(m->key, k->field, m->klen) == 0)
            return m;
    }
    return NULL;
}

/* Copies what the n nodes at keep list of v (none: all of v) into s.  A
 * member they name that v lacks stays absent: a read of it is null
 * either way. */
static void copy_kept(Space *s, const FlValue *v, const FlKeep *keep, int n,
                      FlValue *out)
{
    if (n == 0 || v->type != FL_OBJECT) {
        copy_value(s, v, out);
        return;
    }
    uint32_t present = 0;
    for (int i = 0; i < n; i++)
        present += member_of(v, &keep[i]) != NULL;
    FlMember *ms = space_take(s, present * sizeof *ms);
    uint32_t j = 0;
    for (int i = 0; i < n; i++) {
        const FlMember *m = member_of(v, &keep[i]);
        if (m)
            copy_member(s, m, keep[i].sub, keep[i].sub_count, ms ? &ms[j++] : NULL);
    }
    if (out)
        *out = (FlValue){ .type = FL_OBJECT, .len = present, .u = { .members = ms } };
}

/* The new outputs table (n entries) and the values kept, in s. */
static const FlValue **keep_walk(Space *s, const FlStepInfo *step,
                                 const FlValue *const *outputs, int n)
{
    const FlValue **table = space_take(s, (size_t)n * sizeof *table);
    if (table)
        memset(table, 0, (size_t)n * sizeof *table);
    int count = step->keep ? step->keep->count : n;
    for (int k = 0; k < count; k++) {
        const FlKeep *keep = step->keep ? &step->keep->outputs[k] : NULL;
        int i = keep ? keep->step : k;
        if (i < 0 || i >= n || !outputs[i])
            continue;
        FlValue *v = space_take(s, sizeof *v);
        copy_kept(s, outputs[i], keep ? keep->sub : NULL, keep ? keep->sub_count : 0, v);
        if (table)
            table[i] = v;
    }
    return table;
}

size_t compact_size(const FlStepInfo *step, const FlValue *const *outputs, int n)
{
    Space s = { NULL, 0 };
    keep_walk(&s, step, outputs, n);
    return s.used;
}

const FlValue **compact_copy(const FlStepInfo *step, const FlValue *const *outputs,
                          int n, void *to)
{
    Space s = { to, 0 };
    return keep_walk(&s, step, outputs, n);
}
