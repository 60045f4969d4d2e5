/* alloc.c - the per-run bump allocator (FlArena), and the runtime's
 * out-of-memory policy.
 *
 * Everything a run computes dies when the run ends, so values are carved
 * out of a few large blocks and freed all at once: no free() per value, no
 * ownership questions, no locks (one thread uses an arena at a time).  The
 * caller may lend a first buffer - embedded in the run's state - so a
 * small run never calls malloc().  Blocks double in size up to
 * BLOCK_MAX; an allocation too large for that scheme gets a block of its
 * own, leaving the current block in use.  The most recent allocation can
 * grow or shrink in place, which is how FlBuf builds strings. */
#include "value/value.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    BLOCK_MIN = 4 * 1024,     /* first malloc()ed block */
    BLOCK_MAX = 256 * 1024    /* blocks stop doubling here */
};

struct FlArenaBlock {
    FlArenaBlock *next;
    size_t size;              /* bytes after the header */
};

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

void rt_oom(void)
{
    fputs("flusso: out of memory\n", stderr);
    abort();
}

/* Mallocs a block with `size` bytes of room and links it into `a`.  Returns
 * the start of its room (8-aligned: the header is 16 bytes). */
static char *block_new(FlArena *a, size_t size)
{
    if (size > SIZE_MAX - sizeof(FlArenaBlock))
        rt_oom();
    FlArenaBlock *b = malloc(sizeof *b + size);
    if (!b)
        rt_oom();
    b->size = size;
    b->next = a->blocks;
    a->blocks = b;
    return (char *)(b + 1);
}

/* Points the free range at the caller's first buffer, aligned inwards. */
static void use_first(FlArena *a)
{
    a->ptr = a->end = NULL;
    if (a->first && a->first_size >= 8) {
        uintptr_t lo = ((uintptr_t)a->first + 7) & ~(uintptr_t)7;
        uintptr_t hi = ((uintptr_t)a->first + a->first_size) & ~(uintptr_t)7;
        if (lo < hi) {
            a->ptr = (char *)lo;
            a->end = (char *)hi;
        }
    }
}

void fl_arena_init(FlArena *a, void *first, size_t size)
{
    a->blocks = NULL;
    a->next_size = BLOCK_MIN;
    a->first = first;
    a->first_size = first ? size : 0;
    use_first(a);
}

void fl_arena_destroy(FlArena *a)
{
    for (FlArenaBlock *b = a->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->blocks = NULL;
    a->ptr = a->end = NULL;
}

void fl_arena_reset(FlArena *a)
{
    fl_arena_destroy(a);
    a->next_size = BLOCK_MIN;
    use_first(a);
}

/* Called when the current block lacks room (or n is 0).  Large requests get
 * a block of their own and the current block stays in use; otherwise a new,
 * larger current block replaces it (its unused tail is abandoned). */
void *fl_arena_alloc_slow(FlArena *a, size_t n)
{
    if (n > SIZE_MAX / 2)
        rt_oom();
    size_t need = n ? round8(n) : 8;
    if (need <= (size_t)(a->end - a->ptr)) {
        void *p = a->ptr;
        a->ptr += need;
        return p;
    }
    if (need > a->next_size / 4)
        return block_new(a, need);
    char *p = block_new(a, a->next_size);
    a->end = p + a->next_size;
    a->ptr = p + need;
    if (a->next_size < BLOCK_MAX)
        a->next_size *= 2;
    return p;
}

bool fl_arena_extend(FlArena *a, void *p, size_t old_size, size_t new_size)
{
    if ((char *)p + round8(old_size) != a->ptr || new_size > SIZE_MAX / 2)
        return false;
    size_t more = round8(new_size) - round8(old_size);
    if (new_size < old_size || more > (size_t)(a->end - a->ptr))
        return false;
    a->ptr += more;
    return true;
}

void fl_arena_trim(FlArena *a, void *p, size_t size, size_t used)
{
    if ((char *)p + round8(size) == a->ptr && used <= size)
        a->ptr = (char *)p + round8(used);
}
