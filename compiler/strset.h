/* strset.h - a string-keyed hash map in the arena, for "is this name
 * already used, and where": duplicate JSON keys, step keys, header names. */
#ifndef FLUSSOC_STRSET_H
#define FLUSSOC_STRSET_H

#include "arena.h"

typedef struct StrSet StrSet;

/* Returns a new empty map living in a. */
StrSet *strset_new(Arena *a);

/* Maps key to value unless key is there already.  Returns NULL after
 * adding, else the value stored under key first (and adds nothing).
 * Borrows key and value (not NULL): both must live as long as the map. */
void *strset_add(StrSet *s, const char *key, void *value);

/* The value stored under key, or NULL.  Borrows key. */
void *strset_get(const StrSet *s, const char *key);

#endif
