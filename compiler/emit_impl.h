/* emit_impl.h - what the code generator's files share: emit.c writes the
 * program and its step functions, emit_expr.c the expressions, templates
 * and values inside them. */
#ifndef FLUSSOC_EMIT_IMPL_H
#define FLUSSOC_EMIT_IMPL_H

#include <stdio.h>

#include "flow.h"
#include "workflow.h"

typedef struct {
    Arena *arena;
    FILE *consts;             /* file-scope constants, before the functions */
    FILE *fn;                 /* the step function being written */
    const Workflow *wf;
    int wf_index;
    const char **env_names;   /* program-wide, sorted */
    int env_count;
    const char **regexes;     /* program-wide `matches` patterns, in order */
    int regex_count, regex_cap;
    int const_count;          /* k<N> constants written so far */
    int local_count;          /* t<N>/b<N> locals in this function */
} Emitter;

/* A C expression of type `const FlValue *` for e, using the locals `r`
 * (the run) and `ar` (its arena).  Returns a string in the arena. */
const char *emit_expr(Emitter *e, const Expr *x);

/* Writes statements computing template t by the typed rule (a whole
 * {{ expr }} keeps its type; anything else is text) and returns a C
 * expression of type `const FlValue *` for the result. */
const char *emit_template_value(Emitter *e, const Template *t);

/* Like emit_template_value, but always text (a string value). */
const char *emit_template_text(Emitter *e, const Template *t);

/* Writes statements computing v (whose string values are templates) and
 * returns a `const FlValue *` C expression for it; constants become static
 * data with no run-time cost. */
const char *emit_tvalue(Emitter *e, const TValue *v);

/* Writes statements that build v as compact JSON text in a new buffer and
 * returns a `const FlValue *` C expression for the text. */
const char *emit_tvalue_json(Emitter *e, const TValue *v);

/* Declares a static constant string holding s and returns its name. */
const char *emit_const_string(Emitter *e, const char *s, size_t len);

/* A new local name with the given prefix ("t", "b"). */
const char *emit_local(Emitter *e, const char *prefix);

#endif
