/* arena.h - one bump allocator per compilation; nothing is freed alone.
 * Every compiler file includes it, so it also holds COUNT(). */
#ifndef FLUSSOC_ARENA_H
#define FLUSSOC_ARENA_H

#include <stddef.h>

/* The number of elements of array a, as an int (the compiler counts in
 * ints). */
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct Arena Arena;

/* Returns a new empty arena; the caller frees it with arena_free(). */
Arena *arena_new(void);
/* Frees the arena and every block it handed out. */
void arena_free(Arena *a);

/* Zeroed memory living as long as the arena.  Aborts on out-of-memory:
 * the compiler has no sensible way to go on without memory. */
void *arena_alloc(Arena *a, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_sprintf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Growable array of pointers in the arena (old storage is abandoned). */
void **arena_push(Arena *a, void **items, int *count, int *cap, void *item);

#endif
