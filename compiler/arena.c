/* arena.c - bump allocation in large blocks, freed all at once.
 *
 * The compiler builds a tree of small objects (AST nodes, paths, messages)
 * that all die together when the compilation ends, so one arena replaces
 * thousands of free() calls and every ownership question. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ARENA_BLOCK = 64 * 1024 };

typedef struct Block {
    struct Block *next;
    size_t used, size;
    max_align_t data[];
} Block;

struct Arena {
    Block *head;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("flussoc: out of memory\n", stderr);
        abort();
    }
    return p;
}

Arena *arena_new(void)
{
    Arena *a = xmalloc(sizeof *a);
    a->head = NULL;
    return a;
}

void arena_free(Arena *a)
{
    if (!a)
        return;
    for (Block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

static Block *new_block(size_t at_least)
{
    size_t size = at_least > ARENA_BLOCK ? at_least : ARENA_BLOCK;
    Block *b = xmalloc(sizeof *b + size);
    b->used = 0;
    b->size = size;
    return b;
}

void *arena_alloc(Arena *a, size_t size)
{
    size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    Block *b = a->head;
    if (!b || b->size - b->used < size) {
        b = new_block(size);
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return memset(p, 0, size);
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_sprintf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void **arena_push(Arena *a, void **items, int *count, int *cap, void *item)
{
    if (*count == *cap) {
        int ncap = *cap ? *cap * 2 : 8;
        void **grown = arena_alloc(a, sizeof *grown * (size_t)ncap);
        if (*count)
            memcpy(grown, items, sizeof *grown * (size_t)*count);
        items = grown;
        *cap = ncap;
    }
    items[(*count)++] = item;
    return items;
}
