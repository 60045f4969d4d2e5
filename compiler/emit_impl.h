/* emit_impl.h - what the code generator's files share: emit.c writes the
 * program and its step functions, emit_expr.c the expressions, templates
 * and values inside them, emit_cexpr.c lays C expressions out on lines,
 * emit_paths.c names the path prefixes a step function reads twice. */
#ifndef FLUSSOC_EMIT_IMPL_H
#define FLUSSOC_EMIT_IMPL_H

#include <stdio.h>

#include "check.h"
#include "flow.h"
#include "strset.h"
#include "workflow.h"

/* ---- C expressions (emit_cexpr.c) ---------------------------------------
 *
 * The emitter builds every C expression as a small tree that carries the
 * facts it needs about it (does it read the arena, is it a static
 * constant), so nothing is learnt by reading generated text back.  The
 * printer lays a tree out on one line when it fits, else one argument per
 * line. */

typedef enum {
    CX_ATOM,    /* text as it is: a name, a literal, &k1 */
    CX_CALL,    /* text(args...), or text{ args... } for a compound literal */
    CX_INFIX    /* args[0] text args[1], e.g. a && b */
} CExprKind;

enum {
    CX_ARENA = 1 << 0,    /* reads the local `ar`, the run's arena */
    CX_RUN = 1 << 1,      /* reads the parameter `r`, the run */
    CX_RUNTIME = 1 << 2   /* not a constant expression: a call, a local */
};

typedef struct CExpr CExpr;
struct CExpr {
    CExprKind kind;
    const char *text;       /* the atom, the function, or the operator */
    const CExpr *const *args;
    int count;
    bool braces;            /* CX_CALL: { } around the arguments */
    const char *constant;   /* a static constant kN: the value is &kN */
    unsigned facts;         /* CX_ARENA | CX_RUN, of the whole tree */
    const char *flat;       /* the one-line form */
};

typedef struct PathNode PathNode;

typedef struct {
    Arena *arena;
    FILE *consts;             /* file-scope constants, before the functions */
    FILE *fn;                 /* the step function being written */
    const Workflow *wf;
    const WorkflowFacts *wf_facts;   /* wf's, from check_workflow */
    int wf_index;
    const char **step_names;  /* the workflow's step enum, by index */
    const char **fn_names;    /* its step functions, by index */
    StrSet *globals;          /* every file-scope name given out */
    const char **env_names;   /* program-wide, sorted */
    int env_count;
    const char **regexes;     /* program-wide `matches` patterns, once each */
    int regex_count, regex_cap;
    const char **databases;   /* program-wide FlDatabase rows, one a step */
    int database_count, database_cap;
    StrSet *shared;           /* constant's initializer -> its name */
    int const_count;          /* k<N> constants written so far */
    /* The function being written: */
    int local_count;          /* t<N>/b<N>/h<N> locals */
    int indent;               /* columns of the statements being written */
    int hang;                 /* more for their continuation lines */
    unsigned facts;           /* of everything written so far */
    PathNode *paths;          /* prefixes read more than once */
} Emitter;

/* Constructors; every result lives in e's arena.  Facts propagate from
 * arguments to calls, and a call is CX_RUNTIME; an atom gets the facts it
 * is given (a literal none, a local CX_RUNTIME). */
const CExpr *cx_atom(Emitter *e, const char *text, unsigned facts);
/* A local of the function being written (CX_RUNTIME). */
const CExpr *cx_local(Emitter *e, const char *name);
/* &name, for a static constant `name`. */
const CExpr *cx_const(Emitter *e, const char *name);
/* fn(args[0], ..., args[n-1]). */
const CExpr *cx_call(Emitter *e, const char *fn, const CExpr *const *args,
                     int n);
/* The same with the n arguments given inline. */
const CExpr *cx_call_n(Emitter *e, const char *fn, int n, ...);
/* type{ args... }, a compound literal of type "(T[])". */
const CExpr *cx_list(Emitter *e, const char *type, const CExpr *const *args,
                     int n);
/* l op r, for op "&&" or "||"; an operand with another operator is
 * parenthesised. */
const CExpr *cx_infix(Emitter *e, const CExpr *l, const char *op,
                      const CExpr *r);
/* Member m of the string value x ("u.s", "len"): kN.m for a constant,
 * x->m otherwise.  x must be an atom. */
const CExpr *cx_member(Emitter *e, const CExpr *x, const char *m);
/* The arena `ar` and the run `r` as arguments. */
const CExpr *cx_arena(Emitter *e);
const CExpr *cx_run(Emitter *e);

/* Writes the statement lead x tail at the current indent, x laid out to
 * fit; notes x's facts.  lead and tail are C text without line breaks. */
void emit_stmt(Emitter *e, const char *lead, const CExpr *x, const char *tail);
/* Writes one line of C at the current indent (printf-style). */
void emit_line(Emitter *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One field of a designated initializer: .field = value. */
typedef struct {
    const char *field;
    const CExpr *value;
} CInit;

/* The initializer { .f = v, ... } of the n fields, one a line, for a
 * declaration indented by ind; NULL values are left out.  A new string. */
const char *cx_struct(Emitter *e, const CInit *fields, int n, int ind);
/* Whether no value of the n fields is CX_RUNTIME: the initializer may be
 * static. */
bool cx_struct_is_constant(const CInit *fields, int n);
/* The row lead{ .f = v, ... }, on one line when it fits at indent ind,
 * else one field a line; NULL values are left out.  A new string, with
 * no line break at the end. */
const char *cx_row(Emitter *e, const char *lead, const CInit *fields, int n,
                   int ind);

/* ---- expressions and values (emit_expr.c) ------------------------------ */

/* The C expression of type `const FlValue *` for x. */
const CExpr *emit_expr(Emitter *e, const Expr *x);

/* The C bool of the value x: fl_truthy(x), or the condition x was made
 * of when it is fl_bool(condition) (a && or ||). */
const CExpr *emit_truthy(Emitter *e, const CExpr *x);

/* Writes statements computing template t by the typed rule (a whole
 * {{ expr }} keeps its type; anything else is text) and returns a C
 * expression of type `const FlValue *` for the result. */
const CExpr *emit_template_value(Emitter *e, const Template *t);

/* Like emit_template_value, but always text (a string value): an atom. */
const CExpr *emit_template_text(Emitter *e, const Template *t);

/* Writes statements computing v (whose string values are templates) and
 * returns a `const FlValue *` C expression for it; constants become static
 * data with no run-time cost. */
const CExpr *emit_tvalue(Emitter *e, const TValue *v);

/* Writes statements that build v as compact JSON text in a new buffer and
 * returns a `const FlValue *` C expression (an atom) for the text. */
const CExpr *emit_tvalue_json(Emitter *e, const TValue *v);

/* A static constant string holding s, declared once per program. */
const CExpr *emit_const_string(Emitter *e, const char *s, size_t len);
/* The same for the number n. */
const CExpr *emit_const_number(Emitter *e, double n);

/* Declares the file-scope constant `static const <type> NAME<suffix> =
 * init;` unless the same one exists, and returns its name: prefix, or
 * k<N> when prefix is NULL, or the name of the one declared first. */
const char *emit_shared_const(Emitter *e, const char *type, const char *prefix,
                              const char *suffix, const char *init);

/* name, or name_2, name_3... whichever no file-scope object has yet;
 * it is taken from now on. */
const char *emit_global(Emitter *e, const char *name);

/* The index of env.NAME in the program's env_names. */
int emit_env_index(const Emitter *e, const char *name);

/* A new local name with the given prefix ("t", "b", "h"). */
const char *emit_local(Emitter *e, const char *prefix);

/* ---- path prefixes (emit_paths.c) --------------------------------------- */

/* Finds the prefixes of <key>.output paths that the templates of step s
 * read more than once and writes to decls a local for each, outer ones
 * first.  The function's locals start afresh. */
void emit_paths_plan(Emitter *e, const Step *s, FILE *decls);

/* The local holding the longest named prefix of output `step` followed by
 * the n field names, and in *used how many of the names it covers; NULL
 * (*used 0) when none is named. */
const CExpr *emit_paths_base(Emitter *e, int step, const char *const *names,
                             int n, int *used);

/* The root number emit_paths_base() knows the current item of for_each
 * loop by (outputs are known by their step's index). */
int emit_paths_item(const Emitter *e, int loop);

/* fl_get_field(base, "name", len). */
const CExpr *emit_get_field(Emitter *e, const CExpr *base, const char *name);

#endif
