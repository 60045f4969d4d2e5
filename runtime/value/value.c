/* value.c - making and reading values.
 *
 * The singletons, the constructors and builders, and the accessors of the
 * value model declared in flusso.h.  Values are immutable once made, so
 * constructors share what they are given (a built array holds shallow
 * copies of its items' 16-byte headers, never deep copies), and accessors
 * hand out pointers into their argument. */
#include "flusso.h"

#include <math.h>

const FlValue fl_null = FL_NULL_LIT;
const FlValue fl_true = FL_BOOL_LIT(true);
const FlValue fl_false = FL_BOOL_LIT(false);
const FlValue fl_empty_string = FL_STRING_LEN_LIT("", 0);

_Static_assert(sizeof(FlValue) == 16, "FlValue should stay two words");

/* ---- Constructors ------------------------------------------------------- */

const FlValue *fl_string_ref(FlArena *a, const char *p, size_t len)
{
    if (len == 0)
        return &fl_empty_string;
    if (len > FL_LEN_MAX)
        return &fl_null;
    FlValue *v = fl_arena_alloc(a, sizeof *v);
    v->type = FL_STRING;
    v->len = (uint32_t)len;
    v->u.s = p;
    return v;
}

const FlValue *fl_string(FlArena *a, const char *p, size_t len)
{
    if (len == 0)
        return &fl_empty_string;
    if (len > FL_LEN_MAX)
        return &fl_null;
    char *copy = fl_arena_alloc(a, len + 1);
    memcpy(copy, p, len);
    copy[len] = '\0';
    return fl_string_ref(a, copy, len);
}

const FlValue *fl_number(FlArena *a, double n)
{
    if (!isfinite(n))
        return &fl_null;
    FlValue *v = fl_arena_alloc(a, sizeof *v);
    v->type = FL_NUMBER;
    v->len = 0;
    v->u.n = n;
    return v;
}

/* A container value of `type` over `len` items or members at `p`. */
static const FlValue *container(FlArena *a, FlType type, const void *p,
                                size_t len)
{
    if (len > FL_LEN_MAX)
        return &fl_null;
    FlValue *v = fl_arena_alloc(a, sizeof *v);
    v->type = type;
    v->len = (uint32_t)len;
    if (type == FL_ARRAY)
        v->u.items = p;
    else
        v->u.members = p;
    return v;
}

const FlValue *fl_array_of(FlArena *a, const FlValue *const *items, size_t n)
{
    if (n > FL_LEN_MAX)
        return &fl_null;
    FlValue *copy = fl_arena_alloc(a, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = *items[i];
    return container(a, FL_ARRAY, copy, n);
}

const FlValue *fl_object_of(FlArena *a, const char *const *keys,
                            const FlValue *const *values, size_t n)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, a, n);
    for (size_t i = 0; i < n; i++)
        fl_object_set(&ob, keys[i], strlen(keys[i]), values[i]);
    return fl_object_finish(&ob);
}

/* ---- Builders ----------------------------------------------------------
 *
 * Both grow by doubling inside the arena; while the builder's storage is
 * the arena's latest allocation, it grows in place. */

/* Makes room for one more element of `size` bytes in (*items, len, cap). */
static void *grow(FlArena *a, void *items, size_t len, size_t *cap, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    if (items && fl_arena_extend(a, items, *cap * size, ncap * size)) {
        *cap = ncap;
        return items;
    }
    void *p = fl_arena_alloc(a, ncap * size);
    if (len)
        memcpy(p, items, len * size);
    *cap = ncap;
    return p;
}

void fl_array_init(FlArrayBuilder *ab, FlArena *a, size_t hint)
{
    ab->arena = a;
    ab->len = 0;
    ab->cap = hint;
    ab->items = hint ? fl_arena_alloc(a, hint * sizeof *ab->items) : NULL;
}

void fl_array_append(FlArrayBuilder *ab, const FlValue *v)
{
    if (ab->len == ab->cap)
        ab->items = grow(ab->arena, ab->items, ab->len, &ab->cap,
                         sizeof *ab->items);
    ab->items[ab->len++] = *v;
}

const FlValue *fl_array_finish(FlArrayBuilder *ab)
{
    if (ab->items)
        fl_arena_trim(ab->arena, ab->items, ab->cap * sizeof *ab->items,
                      ab->len * sizeof *ab->items);
    return container(ab->arena, FL_ARRAY, ab->items, ab->len);
}

void fl_object_init(FlObjectBuilder *ob, FlArena *a, size_t hint)
{
    ob->arena = a;
    ob->len = 0;
    ob->cap = hint;
    ob->members = hint ? fl_arena_alloc(a, hint * sizeof *ob->members) : NULL;
}

void fl_object_add(FlObjectBuilder *ob, const char *key, size_t klen,
                   const FlValue *v)
{
    if (klen > FL_LEN_MAX)
        return;
    if (ob->len == ob->cap)
        ob->members = grow(ob->arena, ob->members, ob->len, &ob->cap,
                           sizeof *ob->members);
    FlMember *m = &ob->members[ob->len++];
    m->key = key;
    m->klen = (uint32_t)klen;
    m->value = *v;
}

void fl_object_set(FlObjectBuilder *ob, const char *key, size_t klen,
                   const FlValue *v)
{
    for (size_t i = 0; i < ob->len; i++) {
        FlMember *m = &ob->members[i];
        if (m->klen == klen && memcmp(m->key, key, klen) == 0) {
            m->value = *v;
            return;
        }
    }
    fl_object_add(ob, key, klen, v);
}

const FlValue *fl_object_finish(FlObjectBuilder *ob)
{
    if (ob->members)
        fl_arena_trim(ob->arena, ob->members, ob->cap * sizeof *ob->members,
                      ob->len * sizeof *ob->members);
    return container(ob->arena, FL_OBJECT, ob->members, ob->len);
}

/* ---- Access ------------------------------------------------------------- */

const FlValue *fl_get_field(const FlValue *v, const char *key, size_t len)
{
    if (v->type != FL_OBJECT)
        return &fl_null;
    const FlMember *m = v->u.members, *end = m + v->len;
    for (; m < end; m++)
        if (m->klen == len && memcmp(m->key, key, len) == 0)
            return &m->value;
    return &fl_null;
}

const FlValue *fl_get_int(const FlValue *v, long i)
{
    if (v->type != FL_ARRAY || i < 0 || (unsigned long)i >= v->len)
        return &fl_null;
    return &v->u.items[i];
}

const FlValue *fl_get_index(const FlValue *v, const FlValue *idx)
{
    if (v->type == FL_OBJECT && idx->type == FL_STRING)
        return fl_get_field(v, idx->u.s, idx->len);
    if (v->type != FL_ARRAY || idx->type != FL_NUMBER)
        return &fl_null;
    double d = idx->u.n;
    if (!(d >= 0 && d < v->len) || d != (double)(uint32_t)d)
        return &fl_null;
    return &v->u.items[(uint32_t)d];
}

bool fl_truthy(const FlValue *v)
{
    switch (v->type) {
    case FL_NULL:   return false;
    case FL_BOOL:   return v->u.b;
    case FL_NUMBER: return v->u.n != 0;
    case FL_STRING: return v->len != 0;
    default:        return true;
    }
}

bool fl_is_empty(const FlValue *v)
{
    switch (v->type) {
    case FL_NULL:   return true;
    case FL_STRING:
    case FL_ARRAY:
    case FL_OBJECT: return v->len == 0;
    default:        return false;
    }
}
