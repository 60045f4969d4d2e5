/* expr.c - the expression AST: constructors, built-in table, s-expressions.
 *
 * The grammar actions in parser.y build the tree through the constructors
 * here and nothing else, which lets every node carry one hidden number: its
 * depth.  A node is allocated inside a Node wrapper whose first member is
 * the Expr, so expr_depth() is O(1) and the parser can refuse a tree deeper
 * than EXPR_MAX_DEPTH while building it: the checker and the code generator
 * recurse over the AST and must never overflow the C stack.
 *
 * Lists (array items, call arguments, object members) grow in place,
 * doubling at powers of two, so Expr needs no capacity field. */
#include "expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Expr expr;  /* first, so an Expr * is also a Node * */
    int depth;  /* levels in the tree below and including this node */
} Node;

/* ---- constructors --------------------------------------------------------- */

static Expr *node_new(Arena *a, ExprKind kind, size_t pos)
{
    Node *n = arena_alloc(a, sizeof *n);
    n->expr.kind = kind;
    n->expr.pos = pos;
    n->depth = 1;
    return &n->expr;
}

int expr_depth(const Expr *e)
{
    return e ? ((const Node *)(const void *)e)->depth : 0;
}

/* Makes e at least one level deeper than child. */
static void grow_depth(Expr *e, const Expr *child)
{
    Node *n = (Node *)(void *)e;
    int d = expr_depth(child) + 1;
    if (d > n->depth)
        n->depth = d;
}

Expr *expr_null(Arena *a, size_t pos)
{
    return node_new(a, EX_NULL, pos);
}

Expr *expr_bool(Arena *a, size_t pos, bool value)
{
    Expr *e = node_new(a, EX_BOOL, pos);
    e->boolean = value;
    return e;
}

Expr *expr_number(Arena *a, size_t pos, double value)
{
    Expr *e = node_new(a, EX_NUMBER, pos);
    e->number = value;
    return e;
}

Expr *expr_string(Arena *a, size_t pos, const char *s, size_t len)
{
    Expr *e = node_new(a, EX_STRING, pos);
    e->str = s;
    e->len = len;
    return e;
}

Expr *expr_name(Arena *a, size_t pos, const char *name)
{
    Expr *e = node_new(a, EX_NAME, pos);
    e->str = name;
    e->len = strlen(name);
    return e;
}

Expr *expr_field(Arena *a, size_t pos, Expr *lhs, const char *name)
{
    Expr *e = node_new(a, EX_FIELD, pos);
    e->lhs = lhs;
    e->str = name;
    e->len = strlen(name);
    grow_depth(e, lhs);
    return e;
}

Expr *expr_index(Arena *a, size_t pos, Expr *lhs, Expr *index)
{
    Expr *e = node_new(a, EX_INDEX, pos);
    e->lhs = lhs;
    e->rhs = index;
    grow_depth(e, lhs);
    grow_depth(e, index);
    return e;
}

Expr *expr_unary(Arena *a, size_t pos, ExprOp op, Expr *operand)
{
    Expr *e = node_new(a, EX_UNARY, pos);
    e->op = op;
    e->lhs = operand;
    grow_depth(e, operand);
    return e;
}

Expr *expr_binary(Arena *a, size_t pos, ExprOp op, Expr *lhs, Expr *rhs)
{
    Expr *e = node_new(a, EX_BINARY, pos);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    grow_depth(e, lhs);
    grow_depth(e, rhs);
    return e;
}

Expr *expr_array(Arena *a, size_t pos)
{
    return node_new(a, EX_ARRAY, pos);
}

Expr *expr_object(Arena *a, size_t pos)
{
    return node_new(a, EX_OBJECT, pos);
}

/* Does a list of count items need new storage before one more is added?
 * Capacities are 4, 8, 16...: full exactly at those counts. */
static bool list_full(int count)
{
    return count == 0 || (count >= 4 && (count & (count - 1)) == 0);
}

/* Returns a copy of old (count elements of size bytes) with room for more. */
static void *list_grow(Arena *a, const void *old, int count, size_t size)
{
    size_t cap = count == 0 ? 4 : (size_t)count * 2;
    void *grown = arena_alloc(a, cap * size);
    if (count)
        memcpy(grown, old, (size_t)count * size);
    return grown;
}

Expr *expr_append(Arena *a, Expr *list, Expr *item)
{
    if (list_full(list->count))
        list->items = list_grow(a, list->items, list->count, sizeof *list->items);
    list->items[list->count++] = item;
    grow_depth(list, item);
    return list;
}

Expr *expr_add_member(Arena *a, Expr *obj, const char *key, size_t key_len,
                      Expr *value)
{
    if (list_full(obj->count)) {
        obj->keys = list_grow(a, obj->keys, obj->count, sizeof *obj->keys);
        obj->key_lens = list_grow(a, obj->key_lens, obj->count,
                                  sizeof *obj->key_lens);
    }
    obj->keys[obj->count] = key;
    obj->key_lens[obj->count] = key_len;
    return expr_append(a, obj, value);
}

Expr *expr_call(Expr *args, size_t pos, const char *name)
{
    args->kind = EX_CALL;
    args->pos = pos;
    args->str = name;
    args->len = strlen(name);
    return args;
}

Expr *expr_at(Expr *e, size_t pos)
{
    e->pos = pos;
    return e;
}

/* ---- diagnostics ---------------------------------------------------------- */

/* 1-based column of byte offset pos in s, counted in UTF-8 characters. */
static int column_of(const char *s, size_t pos)
{
    int col = 1;
    for (size_t i = 0; i < pos; i++)
        col += ((unsigned char)s[i] & 0xC0) != 0x80;
    return col;
}

void expr_syntax_error(Diag *d, const Template *t, size_t pos,
                       const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (pos > t->src_len)
        pos = t->src_len;
    diag_report_at(d, DIAG_ERROR, t->path, t->step_key, t->src, t->src_len,
                   pos, "syntax error at column %d: %s",
                   column_of(t->src, pos), message);
}

/* ---- built-in functions (spec §2) ----------------------------------------- */

const Builtin builtin_table[] = {
    { "hmac_sha256", 2 },   { "sha256", 1 },        { "hmac_sha256_base64", 2 },
    { "base64_encode", 1 }, { "base64_decode", 1 }, { "secure_equals", 2 },
    { "lower", 1 },         { "upper", 1 },         { "trim", 1 },
    { "len", 1 },           { "contains", 2 },      { "starts_with", 2 },
    { "ends_with", 2 },     { "split", 2 },         { "join", 2 },
    { "json", 1 },          { "parse_json", 1 },    { "number", 1 },
    { "string", 1 },        { "default", 2 },       { "now", 0 },
    { "now_ms", 0 },        { "uuid", 0 },
};
const int builtin_count = (int)(sizeof builtin_table / sizeof builtin_table[0]);

const Builtin *builtin_find(const char *name)
{
    for (int i = 0; i < builtin_count; i++)
        if (strcmp(builtin_table[i].name, name) == 0)
            return &builtin_table[i];
    return NULL;
}

/* ---- s-expressions, for the tests ---------------------------------------- */

static const char *const op_names[] = {
    [OP_NOT] = "!", [OP_NEG] = "-", [OP_OR] = "||", [OP_AND] = "&&",
    [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<", [OP_LE] = "<=",
    [OP_GT] = ">", [OP_GE] = ">=", [OP_ADD] = "+", [OP_SUB] = "-",
    [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%",
};

/* Writes s as a double-quoted string with JSON-style escapes. */
static void dump_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\"
                        : c == '\n' ? "\\n" : c == '\t' ? "\\t"
                        : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : NULL;
        if (esc)
            fputs(esc, f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Writes n in the shortest form that reads back as the same double;
 * integers (below 1e18) without an exponent. */
static void dump_number(FILE *f, double n)
{
    char buf[32];
    if (n > -1e18 && n < 1e18 && n == (double)(long long)n) {
        fprintf(f, "%lld", (long long)n);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, n);
        if (strtod(buf, NULL) == n)
            break;
    }
    fputs(buf, f);
}

static void dump(FILE *f, const Expr *e);

/* Writes " item" for each of e's items (and its keys, for an object). */
static void dump_items(FILE *f, const Expr *e)
{
    for (int i = 0; i < e->count; i++) {
        fputc(' ', f);
        if (e->kind == EX_OBJECT) {
            fputc('(', f);
            dump_string(f, e->keys[i], e->key_lens[i]);
            fputc(' ', f);
        }
        dump(f, e->items[i]);
        if (e->kind == EX_OBJECT)
            fputc(')', f);
    }
}

/* Writes "(head x)" or "(head x y)". */
static void dump_form(FILE *f, const char *head, const Expr *x, const Expr *y)
{
    fprintf(f, "(%s ", head);
    dump(f, x);
    if (y) {
        fputc(' ', f);
        dump(f, y);
    }
    fputc(')', f);
}

/* Writes "(head item...)" for an array or object, "(call name arg...)"
 * for a call. */
static void dump_list(FILE *f, const char *head, const Expr *e)
{
    fprintf(f, "(%s", head);
    if (e->kind == EX_CALL)
        fprintf(f, " %s", e->str);
    dump_items(f, e);
    fputc(')', f);
}

static void dump(FILE *f, const Expr *e)
{
    switch (e->kind) {
    case EX_NULL:   fputs("null", f); break;
    case EX_BOOL:   fputs(e->boolean ? "true" : "false", f); break;
    case EX_NUMBER: dump_number(f, e->number); break;
    case EX_STRING: dump_string(f, e->str, e->len); break;
    case EX_NAME:   fputs(e->str, f); break;
    case EX_FIELD:
        fputs("(. ", f);
        dump(f, e->lhs);
        fprintf(f, " %s)", e->str);
        break;
    case EX_INDEX:  dump_form(f, "[]", e->lhs, e->rhs); break;
    case EX_CALL:   dump_list(f, "call", e); break;
    case EX_ARRAY:  dump_list(f, "array", e); break;
    case EX_OBJECT: dump_list(f, "object", e); break;
    case EX_UNARY:  dump_form(f, op_names[e->op], e->lhs, NULL); break;
    case EX_BINARY: dump_form(f, op_names[e->op], e->lhs, e->rhs); break;
    }
}

char *expr_to_sexpr(Arena *a, const Expr *e)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        fputs("flussoc: out of memory\n", stderr);
        abort();
    }
    if (e)
        dump(f, e);
    else
        fputs("<none>", f);
    fclose(f);
    char *out = arena_strndup(a, buf, size);
    free(buf);
    return out;
}

const char *expr_segment_name(const Expr *seg)
{
    if (seg->kind == EX_FIELD)
        return seg->str;
    if (seg->kind == EX_INDEX && seg->rhs->kind == EX_STRING
        && strlen(seg->rhs->str) == seg->rhs->len)
        return seg->rhs->str;
    return NULL;
}

/* The chain e: its own path, then the expressions inside it.  Its own
 * frame, so that only chains pay for the segment array. */
static void each_chain_in(const Expr *e, ExprChainFn fn, void *arg)
{
    const Expr *segs[EXPR_MAX_SEGS], *root;
    int n = expr_chain(e, &root, segs);
    if (root->kind == EX_NAME)
        fn(root, segs, n, arg);
    else
        expr_each_chain(root, fn, arg);
    for (int i = 0; i < n; i++)
        if (segs[i]->kind == EX_INDEX)
            expr_each_chain(segs[i]->rhs, fn, arg);
}

void expr_each_chain(const Expr *e, ExprChainFn fn, void *arg)
{
    switch (e->kind) {
    case EX_NULL: case EX_BOOL: case EX_NUMBER: case EX_STRING: case EX_NAME:
        break;
    case EX_FIELD: case EX_INDEX:
        each_chain_in(e, fn, arg);
        break;
    case EX_ARRAY: case EX_OBJECT: case EX_CALL:
        for (int i = 0; i < e->count; i++)
            expr_each_chain(e->items[i], fn, arg);
        break;
    case EX_UNARY:
        expr_each_chain(e->lhs, fn, arg);
        break;
    case EX_BINARY:
        expr_each_chain(e->lhs, fn, arg);
        expr_each_chain(e->rhs, fn, arg);
        break;
    }
}

void template_each_chain(const Template *t, ExprChainFn fn, void *arg)
{
    for (int i = 0; t && i < t->count; i++)
        if (t->parts[i].kind == TP_EXPR && t->parts[i].expr)
            expr_each_chain(t->parts[i].expr, fn, arg);
}

int expr_chain(const Expr *e, const Expr **root, const Expr **segs)
{
    int n = 0;
    while ((e->kind == EX_FIELD || e->kind == EX_INDEX) && n < EXPR_MAX_SEGS) {
        segs[n++] = e;
        e = e->lhs;
    }
    *root = e;
    for (int i = 0; i < n / 2; i++) {
        const Expr *t = segs[i];
        segs[i] = segs[n - 1 - i];
        segs[n - 1 - i] = t;
    }
    return n;
}
