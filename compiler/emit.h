/* emit.h - C code generation from checked workflows (spec §5). */
#ifndef FLUSSOC_EMIT_H
#define FLUSSOC_EMIT_H

#include <stdio.h>

#include "check.h"
#include "workflow.h"

/* Writes one C program serving the count workflows ws (loaded and checked
 * without errors; facts from check_workflow) to out.  The output depends on
 * nothing but the workflows: same input, same bytes. */
void emit_program(Arena *a, FILE *out, Workflow *const *ws,
                  const WorkflowFacts *facts, int count);

#endif
