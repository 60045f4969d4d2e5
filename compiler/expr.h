/* expr.h - the expression and template language of spec §2: AST and parser.
 *
 * A template is a JSON string with {{ expr }} segments.  template_parse()
 * splits it and parses each expression with the flex/bison parser; every
 * node keeps the byte offset of its first character in the template text, so
 * a diagnostic can put a caret under it. */
#ifndef FLUSSOC_EXPR_H
#define FLUSSOC_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "diag.h"

typedef enum {
    EX_NULL,    /* null */
    EX_BOOL,    /* true / false: boolean */
    EX_NUMBER,  /* numeric literal: number */
    EX_STRING,  /* string literal: str, len (escapes decoded, may hold NUL) */
    EX_ARRAY,   /* [items...] */
    EX_OBJECT,  /* {keys[i]: items[i]...}; keys are string literals */
    EX_NAME,    /* a bare identifier at the root of a path: str */
    EX_FIELD,   /* lhs.str  (str may contain '-': the hyphen rule) */
    EX_INDEX,   /* lhs[rhs] */
    EX_CALL,    /* str(items...): a built-in function */
    EX_UNARY,   /* op lhs */
    EX_BINARY   /* lhs op rhs */
} ExprKind;

typedef enum {
    OP_NOT, OP_NEG,                         /* unary */
    OP_OR, OP_AND,                          /* logical, yield booleans */
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD
} ExprOp;

typedef struct Expr Expr;
struct Expr {
    ExprKind kind;
    ExprOp op;          /* EX_UNARY, EX_BINARY */
    size_t pos;         /* byte offset in the template text: the first
                           character, except EX_FIELD (its segment name),
                           EX_INDEX (its "[") and EX_BINARY (its operator) */
    bool boolean;       /* EX_BOOL */
    double number;      /* EX_NUMBER */
    const char *str;    /* EX_STRING value, EX_NAME, EX_FIELD, EX_CALL name */
    size_t len;         /* bytes in str (EX_STRING may contain NUL) */
    Expr *lhs, *rhs;
    Expr **items;       /* EX_ARRAY items, EX_OBJECT values, EX_CALL args */
    const char **keys;  /* EX_OBJECT keys (NUL-terminated) */
    size_t *key_lens;   /* EX_OBJECT key lengths */
    int count;          /* number of items (and keys) */
};

typedef enum {
    TP_TEXT,  /* literal text: text, len */
    TP_EXPR   /* {{ expr }} */
} TemplatePartKind;

typedef struct {
    TemplatePartKind kind;
    const char *text;  /* TP_TEXT */
    size_t len;
    Expr *expr;        /* TP_EXPR */
} TemplatePart;

typedef struct {
    const char *src;       /* the whole template text, as in the JSON */
    size_t src_len;
    const char *path;      /* JSON path of the string, for diagnostics */
    const char *step_key;  /* step it belongs to, for diagnostics */
    TemplatePart *parts;
    int count;
    bool whole;   /* exactly one {{ expr }}, white space allowed only inside
                     the braces: yields the expression's typed value */
} Template;

/* Parses the expression between byte offsets start and end of template t's
 * text (the part inside one pair of braces) into arena a.  Node positions
 * are offsets in t->src.  Syntax errors go to d, with t's path and step key
 * and a caret; returns NULL after reporting at least one. */
Expr *expr_parse(Arena *a, Diag *d, const Template *t, size_t start,
                 size_t end);

/* Splits src into text and {{ expr }} parts and parses every expression.
 * Returns the template (in a) even when some part has errors, which are
 * reported to d; *ok tells whether all parts parsed. */
Template *template_parse(Arena *a, Diag *d, const char *src, size_t src_len,
                         const char *path, const char *key, bool *ok);

/* Builtins of spec §2 with their argument counts. */
typedef struct {
    const char *name;
    int arity;
} Builtin;

/* Returns the builtin called name, or NULL. */
const Builtin *builtin_find(const char *name);
/* The table, and its size, for "did you mean" hints. */
extern const Builtin builtin_table[];
extern const int builtin_count;

/* ---- added for the parser and the tests (expr.c) ------------------------ */

/* The deepest AST the parser accepts; later passes recurse over the tree. */
#define EXPR_MAX_DEPTH 256

/* AST constructors, called by the grammar actions.  Each returns a new node
 * in a; children and strings are borrowed from a (they must live there).
 * pos is the node's byte offset in the template text. */
Expr *expr_null(Arena *a, size_t pos);
Expr *expr_bool(Arena *a, size_t pos, bool value);
Expr *expr_number(Arena *a, size_t pos, double value);
Expr *expr_string(Arena *a, size_t pos, const char *s, size_t len);
Expr *expr_name(Arena *a, size_t pos, const char *name);
Expr *expr_field(Arena *a, size_t pos, Expr *lhs, const char *name);
Expr *expr_index(Arena *a, size_t pos, Expr *lhs, Expr *index);
Expr *expr_unary(Arena *a, size_t pos, ExprOp op, Expr *operand);
Expr *expr_binary(Arena *a, size_t pos, ExprOp op, Expr *lhs, Expr *rhs);
/* An empty EX_ARRAY; expr_append() adds items. */
Expr *expr_array(Arena *a, size_t pos);
/* Appends item to the array (or call) list and returns list. */
Expr *expr_append(Arena *a, Expr *list, Expr *item);
/* Turns the array args into a call of name at pos and returns it. */
Expr *expr_call(Expr *args, size_t pos, const char *name);
/* An empty EX_OBJECT; expr_add_member() adds "key": value pairs. */
Expr *expr_object(Arena *a, size_t pos);
Expr *expr_add_member(Arena *a, Expr *obj, const char *key, size_t key_len,
                      Expr *value);
/* Moves node e to pos (a bracketed literal starts at its bracket). */
Expr *expr_at(Expr *e, size_t pos);

/* Levels in the tree under e, e included (a literal is 1).  Only for nodes
 * made by the constructors above; O(1). */
int expr_depth(const Expr *e);

/* Reports "syntax error at column N: <message>" to d, with t's path, key
 * and a caret at byte offset pos of t->src.  N counts UTF-8 characters
 * from the start of the template text, 1-based. */
void expr_syntax_error(Diag *d, const Template *t, size_t pos,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The literal name a path segment selects (.name or ["name"]), else NULL
 * (an index that is computed, or a number). */
const char *expr_segment_name(const Expr *seg);

/* The longest path a chain may have; the parser's depth cap keeps real
 * ones far shorter. */
#define EXPR_MAX_SEGS 512

/* Splits the chain e of .field and [index] segments into its root (set
 * in *root) and its segments, root first, in segs (room for
 * EXPR_MAX_SEGS); returns their number (0 when e is no chain). */
int expr_chain(const Expr *e, const Expr **root, const Expr **segs);

/* Calls fn(root, segs, n, arg) for every chain of .field and [index]
 * segments in e whose root is a name (n >= 1; see expr_chain), outer
 * chains first, then for those inside computed indices, arguments and
 * operands, in source order. */
typedef void (*ExprChainFn)(const Expr *root, const Expr *const *segs, int n,
                            void *arg);
void expr_each_chain(const Expr *e, ExprChainFn fn, void *arg);
/* The same for every expression of template t (nothing when t is NULL). */
void template_each_chain(const Template *t, ExprChainFn fn, void *arg);

/* A deterministic s-expression for e, new in a, e.g.
 * (|| (&& a b) (! (== c d))), (. (. trigger output) x-signature),
 * ([] a 0), (call len x), (array 1 2), (object ("k" 1)). */
char *expr_to_sexpr(Arena *a, const Expr *e);

#endif
