/* operators.c - the operators of the expression language (spec 2).
 *
 * Equality is deep and exact: same type, numbers by value, strings byte
 * for byte, arrays item by item, objects by key regardless of order (with
 * a duplicated key, the first occurrence counts, as for lookups).
 * Ordering is defined for two numbers or two strings only.  Arithmetic is
 * defined for numbers only - except `+`, which concatenates text as soon
 * as one side is a string - and anything undefined or non-finite is
 * null. */
#include "flusso.h"

#include <math.h>

/* ---- Equality ----------------------------------------------------------- */

/* The first member of `obj` named like `m`, or NULL. */
static const FlMember *find(const FlValue *obj, const FlMember *m)
{
    const FlMember *p = obj->u.members, *end = p + obj->len;
    for (; p < end; p++)
        if (p->klen == m->klen && memcmp(p->key, m->key, m->klen) == 0)
            return p;
    return NULL;
}

/* Whether every key of `a` is in `b` with an equal value. */
static bool covers(const FlValue *a, const FlValue *b)
{
    for (uint32_t i = 0; i < a->len; i++) {
        const FlMember *m = &a->u.members[i];
        if (find(a, m) != m)
            continue;                       /* a later duplicate */
        const FlMember *o = find(b, m);
        if (!o || !fl_equal(&m->value, &o->value))
            return false;
    }
    return true;
}

/* Same keys in the same order with equal values: the common case. */
static bool same_order(const FlValue *a, const FlValue *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++) {
        const FlMember *x = &a->u.members[i], *y = &b->u.members[i];
        if (x->klen != y->klen || memcmp(x->key, y->key, x->klen) != 0 ||
            !fl_equal(&x->value, &y->value))
            return false;
    }
    return true;
}

static bool arrays_equal(const FlValue *a, const FlValue *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++)
        if (!fl_equal(&a->u.items[i], &b->u.items[i]))
            return false;
    return true;
}

bool fl_equal(const FlValue *a, const FlValue *b)
{
    if (a == b)
        return true;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case FL_NULL:   return true;
    case FL_BOOL:   return a->u.b == b->u.b;
    case FL_NUMBER: return a->u.n == b->u.n;
    case FL_STRING: return a->len == b->len &&
                           (a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0);
    case FL_ARRAY:  return arrays_equal(a, b);
    case FL_OBJECT: return same_order(a, b) || (covers(a, b) && covers(b, a));
    }
    return false;
}

const FlValue *fl_op_eq(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    return fl_bool(fl_equal(x, y));
}

const FlValue *fl_op_ne(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    return fl_bool(!fl_equal(x, y));
}

/* ---- Ordering ----------------------------------------------------------- */

/* Bytewise: the common prefix decides, then the shorter comes first. */
static int compare_strings(const FlValue *x, const FlValue *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->u.s, y->u.s, n) : 0;
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

bool fl_less(const FlValue *x, const FlValue *y)
{
    if (x->type == FL_NUMBER && y->type == FL_NUMBER)
        return x->u.n < y->u.n;
    if (x->type == FL_STRING && y->type == FL_STRING)
        return compare_strings(x, y) < 0;
    return false;
}

bool fl_less_equal(const FlValue *x, const FlValue *y)
{
    if (x->type == FL_NUMBER && y->type == FL_NUMBER)
        return x->u.n <= y->u.n;
    if (x->type == FL_STRING && y->type == FL_STRING)
        return compare_strings(x, y) <= 0;
    return false;
}

const FlValue *fl_op_lt(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    return fl_bool(fl_less(x, y));
}

const FlValue *fl_op_le(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    return fl_bool(fl_less_equal(x, y));
}

const FlValue *fl_op_gt(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    return fl_bool(fl_less(y, x));
}

const FlValue *fl_op_ge(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    return fl_bool(fl_less_equal(y, x));
}

/* ---- Arithmetic --------------------------------------------------------- */

static bool numbers(const FlValue *x, const FlValue *y)
{
    return x->type == FL_NUMBER && y->type == FL_NUMBER;
}

/* Whether the text of `v` is empty (so concatenation can skip it). */
static bool no_text(const FlValue *v)
{
    return v->type == FL_NULL || (v->type == FL_STRING && v->len == 0);
}

const FlValue *fl_op_add(FlArena *a, const FlValue *x, const FlValue *y)
{
    if (numbers(x, y))
        return fl_number(a, x->u.n + y->u.n);
    if (x->type != FL_STRING && y->type != FL_STRING)
        return &fl_null;
    if (no_text(y))
        return fl_text(a, x);
    if (no_text(x))
        return fl_text(a, y);
    FlBuf b;
    fl_buf_init(&b, a);
    fl_buf_append_text(&b, x);
    fl_buf_append_text(&b, y);
    return fl_buf_finish(&b);
}

const FlValue *fl_op_sub(FlArena *a, const FlValue *x, const FlValue *y)
{
    return numbers(x, y) ? fl_number(a, x->u.n - y->u.n) : &fl_null;
}

const FlValue *fl_op_mul(FlArena *a, const FlValue *x, const FlValue *y)
{
    return numbers(x, y) ? fl_number(a, x->u.n * y->u.n) : &fl_null;
}

const FlValue *fl_op_div(FlArena *a, const FlValue *x, const FlValue *y)
{
    if (!numbers(x, y) || y->u.n == 0)
        return &fl_null;
    return fl_number(a, x->u.n / y->u.n);
}

const FlValue *fl_op_mod(FlArena *a, const FlValue *x, const FlValue *y)
{
    if (!numbers(x, y) || y->u.n == 0)
        return &fl_null;
    return fl_number(a, fmod(x->u.n, y->u.n));
}

const FlValue *fl_op_neg(FlArena *a, const FlValue *x)
{
    return x->type == FL_NUMBER ? fl_number(a, -x->u.n) : &fl_null;
}

const FlValue *fl_op_not(FlArena *a, const FlValue *x)
{
    (void)a;
    return fl_bool(!fl_truthy(x));
}
