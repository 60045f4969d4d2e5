/* draw.h - pictures of the workflows: Graphviz (dot) and Mermaid. */
#ifndef FLUSSOC_DRAW_H
#define FLUSSOC_DRAW_H

#include <stdio.h>

#include "workflow.h"

typedef enum {
    DRAW_DOT,     /* a Graphviz digraph (--emit-dot) */
    DRAW_MERMAID  /* a Mermaid flowchart (--emit-mermaid) */
} DrawLanguage;

/* Writes one picture of the count workflows (loaded without errors) to out,
 * in language lang: each workflow's steps, its gate branches, the steps that
 * run while the caller waits apart from those after the answer, and every
 * answer point (webhook_response steps, the default 202).  Scratch memory
 * comes from arena a.  The output depends only on the workflows, and no
 * workflow text can break out of a label. */
void draw_program(Arena *a, FILE *out, DrawLanguage lang,
                  Workflow *const *ws, int count);

#endif
