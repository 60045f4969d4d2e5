/* runmem.c - memory for runs: a cache per thread, refilled by the threads
 * that free them.
 *
 * A run (about 2.5 KB, its arena's first block inside) is made on an HTTP
 * thread and most often freed on a worker, once its tail is done.  glibc
 * returns such a block to the heap of the thread that allocated it, under
 * that heap's lock - the lock the HTTP thread takes for each of its own
 * allocations: under load the two contend, and each contention costs a
 * futex wake-up (measured, docs/performance.md).  Here the block goes back
 * to the cache of the thread that made it instead, and that thread's next
 * run takes it without calling malloc:
 *
 *   - blocks come in size classes, CLASS_BYTES apart: a full run, and the
 *     smaller compact runs of long delays (run_compact());
 *   - the owner keeps a plain list of free blocks per class (no lock: only
 *     it uses the list);
 *   - any other thread pushes onto the owner's returned stack of the class
 *     with a compare-and-swap; the owner takes the whole stack with one
 *     exchange when its list is empty - one popper taking everything at
 *     once, so a block cannot come back between a read and a swap (no ABA
 *     problem);
 *   - a cache holds about CACHE_MAX blocks per class; past that, blocks
 *     are freed.  A block larger than the largest class is plain malloc.
 *
 * Caches are never freed while the process serves: a block may come back
 * to a thread that has ended (an HTTP thread after shutdown).  They are
 * listed once made, and runmem_free_all() frees them and their blocks
 * once every thread is gone; a block freed after that goes to free(). */
#include "run/runmem.h"
#include "value/value.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

enum {
    /* blocks per class and thread: 1.3 MB of full runs.  A thread that
     * made blocks of every class could keep 38 MB; a workflow uses the
     * full-run class and the few sizes of its compact runs. */
    CACHE_MAX = 512,
    CLASS_BYTES = 64,
    CLASSES = 48         /* blocks of up to 3 KB */
};

typedef struct Cache Cache;

/* Before each block: where it goes back to. */
typedef struct Block {
    struct Block *next;         /* in a list or stack */
    Cache *home;                /* the cache of the thread that made it;
                                   NULL: free() it */
    int cls;                    /* its size class */
} Block;

/* One size class of a thread's cache. */
typedef struct {
    _Atomic(Block *) returned;  /* pushed by other threads */
    atomic_int returned_count;  /* about how many: a bound, not a census */
    Block *free;                /* the owner's */
    int free_count;
} Shelf;

struct Cache {
    Shelf shelves[CLASSES];
    Cache *next;                /* in caches.all */
};

static struct {
    pthread_mutex_t lock;       /* guards all */
    Cache *all;
    atomic_bool closed;         /* after runmem_free_all() */
} caches = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Thread_local Cache *mine;

static Cache *my_cache(void)
{
    if (!mine) {
        Cache *c = rt_check(calloc(1, sizeof *c));
        pthread_mutex_lock(&caches.lock);
        c->next = caches.all;
        caches.all = c;
        pthread_mutex_unlock(&caches.lock);
        mine = c;
    }
    return mine;
}

/* The class of blocks of size bytes, or -1 when none is that large. */
static int class_of(size_t size)
{
    size_t cls = size ? (size - 1) / CLASS_BYTES : 0;
    return cls < CLASSES ? (int)cls : -1;
}

/* A free block from shelf s, or NULL. */
static Block *shelf_take(Shelf *s)
{
    if (!s->free) {
        /* The count comes with the stack rather than from walking it (each
         * block's header is cold): about right, as a push may fall between
         * its count and its swap, and a bound is all it serves. */
        s->free = atomic_exchange_explicit(&s->returned, NULL, memory_order_acquire);
        s->free_count = atomic_exchange_explicit(&s->returned_count, 0,
                                                 memory_order_relaxed);
    }
    Block *b = s->free;
    if (!b) {
        s->free_count = 0;
        return NULL;
    }
    s->free = b->next;
    s->free_count = s->free && s->free_count > 0 ? s->free_count - 1 : 0;
    return b;
}

void *runmem_get(size_t size)
{
    int cls = class_of(size);
    Cache *c = cls < 0 || atomic_load_explicit(&caches.closed, memory_order_relaxed)
             ? NULL : my_cache();
    Block *b = c ? shelf_take(&c->shelves[cls]) : NULL;
    if (!b) {
        b = rt_check(malloc(sizeof *b + (c ? (size_t)(cls + 1) * CLASS_BYTES : size)));
        b->cls = cls;
    }
    b->home = c;
    return b + 1;
}

/* Pushes b onto another thread's shelf s. */
static void shelf_return(Shelf *s, Block *b)
{
    atomic_fetch_add_explicit(&s->returned_count, 1, memory_order_relaxed);
    b->next = atomic_load_explicit(&s->returned, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->returned, &b->next, b,
                                                  memory_order_release,
                                                  memory_order_relaxed))
        ;
}

void runmem_put(void *p)
{
    Block *b = (Block *)p - 1;
    Cache *home = b->home;
    if (!home || atomic_load_explicit(&caches.closed, memory_order_relaxed)) {
        free(b);
        return;
    }
    Shelf *s = &home->shelves[b->cls];
    if (home == mine && s->free_count < CACHE_MAX) {
        b->next = s->free;
        s->free = b;
        s->free_count++;
    } else if (home != mine && atomic_load_explicit(&s->returned_count,
                                                    memory_order_relaxed) < CACHE_MAX) {
        shelf_return(s, b);
    } else {
        free(b);
    }
}

int runmem_cached(size_t size)
{
    int cls = class_of(size);
    if (!mine || cls < 0)
        return 0;
    const Shelf *s = &mine->shelves[cls];
    return s->free_count + atomic_load_explicit(&s->returned_count, memory_order_relaxed);
}

static void free_list(Block *b)
{
    while (b) {
        Block *next = b->next;
        free(b);
        b = next;
    }
}

void runmem_free_all(void)
{
    pthread_mutex_lock(&caches.lock);
    atomic_store(&caches.closed, true);
    while (caches.all) {
        Cache *c = caches.all;
        caches.all = c->next;
        for (int i = 0; i < CLASSES; i++) {
            free_list(c->shelves[i].free);
            free_list(atomic_load(&c->shelves[i].returned));
        }
        free(c);
    }
    pthread_mutex_unlock(&caches.lock);
    mine = NULL;
}
