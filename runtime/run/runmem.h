/* run/runmem.h - memory for runs (runmem.c): a cache of blocks per
 * thread, refilled by freeing from any thread. */
#ifndef FLUSSO_RUNMEM_H
#define FLUSSO_RUNMEM_H

#include <stddef.h>

/* A block of at least size bytes, from this thread's cache when it has
 * one of that size class. */
void *runmem_get(size_t size);
/* Gives a block back to the cache of the thread that made it; any thread. */
void runmem_put(void *p);
/* Blocks of size's class in this thread's cache, returned ones included
 * (for tests). */
int runmem_cached(size_t size);
/* Frees every cache and the blocks in them; only once every thread that
 * could make or free a run has stopped.  Blocks freed later go to free(). */
void runmem_free_all(void);

#endif
