/* check.h - the semantic checks of spec §2 and §4.4 over a loaded workflow. */
#ifndef FLUSSOC_CHECK_H
#define FLUSSOC_CHECK_H

#include <stdint.h>

#include "workflow.h"

/* What the checker learned that later stages need. */
typedef struct {
    const char **env_names;  /* every env.NAME used, sorted, unique */
    int env_count;
    /* By step index: the steps whose outputs that step reads and that run
     * on every path to it (a bitset of `words` words each; a read of a
     * step that runs on some paths only may be null and is not in it).
     * What a resumed run must have in its journal (spec 8.4, keep.c). */
    uint64_t **must_reads;
    int words;
} WorkflowFacts;

/* Checks every name and reference in w (which step ran before which use,
 * on all paths or some), built-in calls, two webhook_response steps on one
 * path, and the response-time budget.  Problems go to d; facts (in a) are
 * filled either way.  When d holds errors already (from loading), w may
 * lack the steps that had them: then only the checks that stand without
 * them are made, so every error of a file is still reported once. */
void check_workflow(Arena *a, Diag *d, const Workflow *w, WorkflowFacts *facts);

/* Checks what must be unique across the workflows of one binary (routes,
 * workflow names); reports into the diagnostics of the later workflow. */
void check_across(Workflow *const *ws, Diag *const *ds, int count);

#endif
