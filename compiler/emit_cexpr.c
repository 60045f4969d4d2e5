/* emit_cexpr.c - C expressions as small trees, and their layout.
 *
 * An expression is built bottom up from atoms (names, literals) with its
 * one-line form and its facts; the printer writes that form when it fits
 * in the line, and otherwise breaks a call after its opening parenthesis,
 * one argument per line, one level deeper - the way one would write it
 * by hand.  Short leading arguments (ar, r, a step) stay on the first
 * line. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emit_impl.h"

enum {
    CX_WIDTH = 80,       /* the line to fit in */
    CX_ROW_WIDTH = 100,  /* a table row, which reads best on one line */
    CX_HEAD_MAX = 16     /* a leading argument this short stays on the
                            call's first line */
};

static CExpr *cx_new(Emitter *e, CExprKind kind, const char *text)
{
    CExpr *x = arena_alloc(e->arena, sizeof *x);
    x->kind = kind;
    x->text = text;
    return x;
}

const CExpr *cx_atom(Emitter *e, const char *text, unsigned facts)
{
    CExpr *x = cx_new(e, CX_ATOM, text);
    x->facts = facts;
    x->flat = text;
    return x;
}

const CExpr *cx_local(Emitter *e, const char *name)
{
    return cx_atom(e, name, CX_RUNTIME);
}

const CExpr *cx_const(Emitter *e, const char *name)
{
    CExpr *x = cx_new(e, CX_ATOM, arena_sprintf(e->arena, "&%s", name));
    x->flat = x->text;
    x->constant = name;
    return x;
}

const CExpr *cx_arena(Emitter *e)
{
    return cx_atom(e, "ar", CX_ARENA | CX_RUNTIME);
}

const CExpr *cx_run(Emitter *e)
{
    return cx_atom(e, "r", CX_RUN | CX_RUNTIME);
}

/* The arguments joined with ", ", and their facts. */
static const char *join_args(Emitter *e, const CExpr *const *args, int n,
                             unsigned *facts)
{
    const char *s = "";
    for (int i = 0; i < n; i++) {
        s = arena_sprintf(e->arena, "%s%s%s", s, i ? ", " : "", args[i]->flat);
        *facts |= args[i]->facts;
    }
    return s;
}

/* text(args) or text{args}: a call is CX_RUNTIME, a list is what its
 * items are. */
static const CExpr *cx_apply(Emitter *e, const char *text, bool braces,
                             const CExpr *const *args, int n)
{
    CExpr *x = cx_new(e, CX_CALL, text);
    x->args = args;
    x->count = n;
    x->braces = braces;
    x->facts = braces ? 0 : CX_RUNTIME;
    const char *inside = join_args(e, args, n, &x->facts);
    x->flat = arena_sprintf(e->arena, braces ? "%s{%s}" : "%s(%s)", text, inside);
    return x;
}

const CExpr *cx_call(Emitter *e, const char *fn, const CExpr *const *args,
                     int n)
{
    return cx_apply(e, fn, false, args, n);
}

const CExpr *cx_call_n(Emitter *e, const char *fn, int n, ...)
{
    const CExpr **args = arena_alloc(e->arena, sizeof *args * (size_t)(n + 1));
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        args[i] = va_arg(ap, const CExpr *);
    va_end(ap);
    return cx_call(e, fn, args, n);
}

const CExpr *cx_list(Emitter *e, const char *type, const CExpr *const *args,
                     int n)
{
    return cx_apply(e, type, true, args, n);
}

/* x as an operand of op: parenthesised when it is another operator's
 * (as -Wparentheses wants a && b inside ||, though && binds tighter). */
static const CExpr *operand(Emitter *e, const CExpr *x, const char *op)
{
    if (x->kind != CX_INFIX || strcmp(x->text, op) == 0)
        return x;
    return cx_call_n(e, "", 1, x);
}

const CExpr *cx_infix(Emitter *e, const CExpr *l, const char *op,
                      const CExpr *r)
{
    const CExpr **args = arena_alloc(e->arena, sizeof *args * 2);
    args[0] = l = operand(e, l, op);
    args[1] = r = operand(e, r, op);
    CExpr *x = cx_new(e, CX_INFIX, op);
    x->args = args;
    x->count = 2;
    x->facts = l->facts | r->facts;
    x->flat = arena_sprintf(e->arena, "%s %s %s", l->flat, op, r->flat);
    return x;
}

const CExpr *cx_member(Emitter *e, const CExpr *x, const char *m)
{
    if (x->constant)
        return cx_atom(e, arena_sprintf(e->arena, "%s.%s", x->constant, m),
                       x->facts);
    return cx_atom(e, arena_sprintf(e->arena, "%s->%s", x->text, m), x->facts);
}

/* ---- layout ------------------------------------------------------------- */

/* The width of s on one line; a literal split over lines never fits. */
static int flat_width(const char *s)
{
    return strchr(s, '\n') ? CX_ROW_WIDTH + 1 : (int)strlen(s);
}

/* Writes s, returning the column after it (after its last line break). */
static int put(FILE *out, const char *s, int col)
{
    fputs(s, out);
    const char *nl = strrchr(s, '\n');
    return nl ? (int)strlen(nl + 1) : col + (int)strlen(s);
}

static int newline(FILE *out, int ind)
{
    fprintf(out, "\n%*s", ind, "");
    return ind;
}

static int print_at(FILE *out, const CExpr *x, int col, int ind);

static bool is_short(const CExpr *x)
{
    return flat_width(x->flat) <= CX_HEAD_MAX;
}

/* A call too long for its line: the short leading arguments (ar, r, a
 * step) after the parenthesis, then the others on lines of their own one
 * level deeper, as many a line as fit on it whole.  A compound literal's
 * items take a line each. */
static int print_call(FILE *out, const CExpr *x, int col, int ind)
{
    col = put(out, x->text, col);
    col = put(out, x->braces ? "{" : "(", col);
    if (x->count == 1 && !x->braces)
        return put(out, ")", print_at(out, x->args[0], col, ind));
    int head = 0;
    while (!x->braces && head < x->count - 1 && is_short(x->args[head])) {
        if (head > 0)
            col = put(out, ", ", col);
        col = put(out, x->args[head++]->flat, col);
    }
    bool joinable = false;   /* the line so far ends in a whole argument */
    for (int i = head; i < x->count; i++) {
        int width = flat_width(x->args[i]->flat);
        if (joinable && !x->braces && col + 2 + width + 1 <= CX_WIDTH) {
            col = put(out, ", ", col);
            col = put(out, x->args[i]->flat, col);
            continue;
        }
        if (i > 0)
            col = put(out, ",", col);
        col = newline(out, ind + 4);
        joinable = col + width + 1 <= CX_WIDTH;
        col = print_at(out, x->args[i], col, ind + 4);
    }
    if (!x->braces)
        return put(out, ")", col);
    col = put(out, ",", col);
    return put(out, "}", newline(out, ind));
}

/* Whether every item of x is an atom: a list of names or literals, which
 * fills its lines instead of taking one each. */
static bool all_atoms(const CExpr *x)
{
    for (int i = 0; i < x->count; i++)
        if (x->args[i]->kind != CX_ATOM || strchr(x->args[i]->flat, '\n'))
            return false;
    return true;
}

/* A list of atoms too long for its line: as many a line as fit. */
static int print_packed(FILE *out, const CExpr *x, int col, int ind)
{
    col = put(out, x->text, col);
    col = put(out, "{", col);
    col = newline(out, ind + 4);
    for (int i = 0; i < x->count; i++) {
        int width = (int)strlen(x->args[i]->flat) + 1;
        if (col > ind + 4 && col + 1 + width > CX_WIDTH)
            col = newline(out, ind + 4);
        else if (col > ind + 4)
            col = put(out, " ", col);
        col = put(out, x->args[i]->flat, col);
        col = put(out, ",", col);
    }
    return put(out, "}", newline(out, ind));
}

static int print_at(FILE *out, const CExpr *x, int col, int ind)
{
    if (x->kind == CX_ATOM || col + flat_width(x->flat) <= CX_WIDTH)
        return put(out, x->flat, col);
    if (x->kind == CX_CALL && x->braces && all_atoms(x))
        return print_packed(out, x, col, ind);
    if (x->kind == CX_CALL)
        return print_call(out, x, col, ind);
    col = print_at(out, x->args[0], col, ind);
    col = newline(out, ind + 4);
    col = put(out, x->text, col);
    col = put(out, " ", col);
    return print_at(out, x->args[1], col, ind + 4);
}

/* ---- initializers ------------------------------------------------------ */

/* Writes ".field = value," for each present field, each on a line of
 * its own at indent ind. */
static void put_fields(FILE *out, const CInit *fields, int n, int ind)
{
    for (int i = 0; i < n; i++) {
        if (!fields[i].value)
            continue;
        int col = newline(out, ind);
        col = put(out, fields[i].field, col);
        col = put(out, " = ", col);
        put(out, ",", print_at(out, fields[i].value, col, ind));
    }
}

const char *cx_struct(Emitter *e, const CInit *fields, int n, int ind)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    fputc('{', out);
    put_fields(out, fields, n, ind + 4);
    newline(out, ind);
    fputc('}', out);
    fclose(out);
    const char *s = arena_strdup(e->arena, text);
    free(text);
    return s;
}

bool cx_struct_is_constant(const CInit *fields, int n)
{
    for (int i = 0; i < n; i++)
        if (fields[i].value && fields[i].value->facts & CX_RUNTIME)
            return false;
    return true;
}

const char *cx_row(Emitter *e, const char *lead, const CInit *fields, int n,
                   int ind)
{
    const char *flat = "";
    for (int i = 0; i < n; i++)
        if (fields[i].value)
            flat = arena_sprintf(e->arena, "%s%s%s = %s", flat, *flat ? ", " : "",
                                 fields[i].field, fields[i].value->flat);
    flat = arena_sprintf(e->arena, "%s{ %s }", lead, flat);
    if (ind + flat_width(flat) + 1 <= CX_ROW_WIDTH)
        return flat;
    return arena_sprintf(e->arena, "%s%s", lead, cx_struct(e, fields, n, ind));
}

/* ---- statements -------------------------------------------------------- */

void emit_stmt(Emitter *e, const char *lead, const CExpr *x, const char *tail)
{
    e->facts |= x->facts;
    fprintf(e->fn, "%*s%s", e->indent, "", lead);
    int col = e->indent + (int)strlen(lead);
    if (col + flat_width(x->flat) + (int)strlen(tail) <= CX_WIDTH)
        fputs(x->flat, e->fn);
    else
        print_at(e->fn, x, col, e->indent + e->hang);
    fprintf(e->fn, "%s\n", tail);
}

void emit_line(Emitter *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(e->fn, "%*s", e->indent, "");
    vfprintf(e->fn, fmt, ap);
    fputc('\n', e->fn);
    va_end(ap);
}
