/* strset.c - open addressing with linear probing, doubling at half full.
 *
 * Lookups are O(1) on average, so checking every key of a 10 MB workflow
 * for duplicates stays linear.  Outgrown tables are left in the arena. */
#include "strset.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    const char *key;   /* NULL: empty slot */
    void *value;
} Slot;

struct StrSet {
    Arena *arena;
    Slot *slots;
    size_t cap;        /* a power of two */
    size_t count;
};

enum { STRSET_MIN_CAP = 16 };

/* FNV-1a: short, and good enough for names. */
static uint64_t hash_string(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

StrSet *strset_new(Arena *a)
{
    StrSet *s = arena_alloc(a, sizeof *s);
    s->arena = a;
    s->cap = STRSET_MIN_CAP;
    s->slots = arena_alloc(a, sizeof *s->slots * s->cap);
    return s;
}

/* The slot holding key, or the empty slot where it would go. */
static Slot *find_slot(const StrSet *s, const char *key)
{
    size_t mask = s->cap - 1;
    size_t i = (size_t)hash_string(key) & mask;
    while (s->slots[i].key && strcmp(s->slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return &s->slots[i];
}

static void grow(StrSet *s)
{
    Slot *old = s->slots;
    size_t old_cap = s->cap;
    s->cap *= 2;
    s->slots = arena_alloc(s->arena, sizeof *s->slots * s->cap);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            *find_slot(s, old[i].key) = old[i];
}

void *strset_add(StrSet *s, const char *key, void *value)
{
    Slot *slot = find_slot(s, key);
    if (slot->key)
        return slot->value;
    slot->key = key;
    slot->value = value;
    if (++s->count * 2 > s->cap)
        grow(s);
    return NULL;
}

void *strset_get(const StrSet *s, const char *key)
{
    return find_slot(s, key)->value;
}
