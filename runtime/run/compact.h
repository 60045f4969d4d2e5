/* run/compact.h - what a run keeps of its outputs while it waits in a
 * long delay (compact.c): the copy run_compact() moves a run into. */
#ifndef FLUSSO_COMPACT_H
#define FLUSSO_COMPACT_H

#include <stddef.h>
#include "flusso.h"

/* The bytes compact_copy() needs for what step (a delay) keeps of the n
 * outputs: their table and the values. */
size_t compact_size(const FlStepInfo *step, const FlValue *const *outputs, int n);
/* Copies that into to (compact_size() bytes, 8-aligned) and returns the new
 * outputs table, in to; it borrows nothing from outputs. */
const FlValue **compact_copy(const FlStepInfo *step, const FlValue *const *outputs,
                             int n, void *to);

#endif
