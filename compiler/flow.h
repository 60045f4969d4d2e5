/* flow.h - control flow facts the code generator needs: where each step
 * goes next, and where the default 202 must be sent (spec §4.3). */
#ifndef FLUSSOC_FLOW_H
#define FLUSSOC_FLOW_H

#include "workflow.h"

enum { FLOW_END = -1 };   /* "the run is complete" as a next index */

typedef struct {
    int next;              /* index of the step that runs after this one
                              (for a gate: after its branches join) */
    int on_true, on_false; /* gates: first index of each branch, or the
                              join's next when the branch is empty */
    bool default_on_true;  /* gates: taking this branch means no response */
    bool default_on_false; /* can run any more: send the default 202 */
    /* A switch: the head of each case's list, then the default's (the
     * join's next when a list is empty), count + 1 of them, and whether
     * taking each sends the default 202.  A for_each: arms[0] is the
     * head of its body, whose last step goes back to the for_each. */
    int *arms;
    bool *default_on_arm;
    int arm_count;
} FlowEdge;

typedef struct {
    FlowEdge *edges;       /* by Step.index */
    int first;             /* the first step's index, or FLOW_END */
    bool default_at_start; /* no webhook_response can run at all */
} Flow;

/* Computes next steps and default-response points for w (in arena a).
 *
 * The default 202 goes out at the earliest point on each path from which
 * no webhook_response can run any more.  Along a path that property only
 * turns from false to true, and only when a gate picks a branch (a plain
 * step does not change what can follow it; after a response the caller is
 * answered anyway), so the points are: the start of the run, and the edges
 * from a gate into a branch or a switch into a case.  A for_each body
 * holds no response (the checker sees to it), so no point lies in it. */
Flow *flow_analyse(Arena *a, const Workflow *w);

#endif
