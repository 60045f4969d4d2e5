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
 *   - the owner keeps a plain list of free blocks (no lock: only it uses
 *     the list);
 *   - any other thread pushes onto the owner's returned stack with a
 *     compare-and-swap; the owner takes the whole stack with one exchange
 *     when its list is empty - one popper taking everything at once, so a
 *     block cannot come back between a read and a swap (no ABA problem);
 *   - a cache holds about CACHE_MAX blocks; past that, blocks are freed.
 *
 * Caches are never freed while the process serves: a block may come back
 * to a thread that has ended (an HTTP thread after shutdown).  They are
 * listed once made, and runmem_free_all() frees them and their blocks
 * once every thread is gone; a block freed after that goes to free(). */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { CACHE_MAX = 512 };       /* blocks per thread: 1.3 MB of runs */

typedef struct Cache Cache;

/* Before each block: where it goes back to. */
typedef struct Block {
    struct Block *next;         /* in a list or stack */
    Cache *home;                /* the cache of the thread that made it */
    size_t size;
} Block;

struct Cache {
    _Atomic(Block *) returned;  /* pushed by other threads */
    atomic_int returned_count;  /* about how many: a bound, not a census */
    Block *free;                /* the owner's */
    int free_count;
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

/* A free block of size bytes from c, or NULL. */
static Block *cache_take(Cache *c, size_t size)
{
    if (!c->free) {
        /* The count comes with the stack rather than from walking it (each
         * block's header is cold): about right, as a push may fall between
         * its count and its swap, and a bound is all it serves. */
        c->free = atomic_exchange_explicit(&c->returned, NULL, memory_order_acquire);
        c->free_count = atomic_exchange_explicit(&c->returned_count, 0,
                                                 memory_order_relaxed);
    }
    Block *b = c->free;
    if (!b) {
        c->free_count = 0;
        return NULL;
    }
    c->free = b->next;
    c->free_count = c->free && c->free_count > 0 ? c->free_count - 1 : 0;
    if (b->size != size) {      /* runs are all one size: never, but safe */
        free(b);
        return NULL;
    }
    return b;
}

void *runmem_get(size_t size)
{
    Cache *c = atomic_load_explicit(&caches.closed, memory_order_relaxed) ? NULL
             : my_cache();
    Block *b = c ? cache_take(c, size) : NULL;
    if (!b) {
        b = rt_check(malloc(sizeof *b + size));
        b->size = size;
    }
    b->home = c;
    return b + 1;
}

void runmem_put(void *p)
{
    Block *b = (Block *)p - 1;
    Cache *home = b->home;
    if (!home || atomic_load_explicit(&caches.closed, memory_order_relaxed)) {
        free(b);
    } else if (home == mine) {
        if (home->free_count >= CACHE_MAX) {
            free(b);
            return;
        }
        b->next = home->free;
        home->free = b;
        home->free_count++;
    } else if (atomic_load_explicit(&home->returned_count, memory_order_relaxed)
               >= CACHE_MAX) {
        free(b);
    } else {
        atomic_fetch_add_explicit(&home->returned_count, 1, memory_order_relaxed);
        b->next = atomic_load_explicit(&home->returned, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&home->returned, &b->next, b,
                                                      memory_order_release,
                                                      memory_order_relaxed))
            ;
    }
}

int runmem_cached(void)
{
    Cache *c = mine;
    return c ? c->free_count
                   + atomic_load_explicit(&c->returned_count, memory_order_relaxed)
             : 0;
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
        free_list(c->free);
        free_list(atomic_load(&c->returned));
        free(c);
    }
    pthread_mutex_unlock(&caches.lock);
    mine = NULL;
}
