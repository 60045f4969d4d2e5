/* keep.h - what a run must keep while it waits in a delay: the outputs,
 * and the fields of them, that the steps which may run after the delay
 * read.  The handler drops the rest for the wait (runtime/run/compact.c). */
#ifndef FLUSSOC_KEEP_H
#define FLUSSOC_KEEP_H

#include <stdbool.h>

#include "check.h"
#include "flow.h"
#include "workflow.h"

typedef struct KeepNode KeepNode;
struct KeepNode {
    int step;              /* the top level: whose output */
    const char *field;     /* below it: the member's key */
    bool whole;            /* all of the value is read */
    KeepNode **subs;       /* otherwise: the members read, first use first */
    int count, cap;
};

/* What the steps that can run after step `delay` of w read, as one node
 * per output (in the order first read) in *nodes; returns their number.
 * A path read whole (used as a value, or indexed by a computed key)
 * keeps its whole value; a path that only selects further fields keeps
 * those fields. */
int keep_after(Arena *a, const Workflow *w, const Flow *f, const Step *delay,
               KeepNode ***nodes);

/* What a run resumed at step `from` needs from its journal (spec 8.4):
 * the outputs that `from` and every step that can run after it read from
 * steps that ran before it on every path (WorkflowFacts.must_reads), as
 * ascending step indexes in *steps; returns their number.  The trigger
 * (index 0), always in the journal, is never listed; a step that may not
 * have run (read as "some paths", e.g. inside default()) is not either. */
int keep_needs(Arena *a, const Workflow *w, const Flow *f,
               const WorkflowFacts *facts, const Step *from, int **steps);

/* The paths the count nodes keep whole, as "trigger.output.body.id, ...",
 * new in a. */
const char *keep_describe(Arena *a, const Workflow *w, KeepNode *const *nodes,
                          int count);

#endif
