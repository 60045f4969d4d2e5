/* emit_expr.c - expressions, templates and templated JSON values as C.
 *
 * Every expression becomes one C expression of type `const FlValue *` that
 * calls the runtime's operators and built-ins; literals become static
 * constants.  Templates that are text become a few statements appending
 * to an arena buffer.  Nothing is parsed at run time: what the workflow
 * wrote is decided here, once. */
#include <stdlib.h>
#include <string.h>

#include "cwrite.h"
#include "emit_impl.h"

const char *emit_local(Emitter *e, const char *prefix)
{
    return arena_sprintf(e->arena, "%s%d", prefix, ++e->local_count);
}

const char *emit_global(Emitter *e, const char *name)
{
    const char *unique = name;
    for (int i = 2; strset_add(e->globals, unique, (void *)unique); i++)
        unique = arena_sprintf(e->arena, "%s_%d", name, i);
    return unique;
}

const char *emit_shared_const(Emitter *e, const char *type, const char *prefix,
                              const char *suffix, const char *init)
{
    const char *key = arena_sprintf(e->arena, "%s%s = %s", type, suffix, init);
    const char **name = arena_alloc(e->arena, sizeof *name);
    const char **first = strset_add(e->shared, key, name);
    if (first)
        return *first;
    *name = prefix ? emit_global(e, prefix)
                   : arena_sprintf(e->arena, "k%d", ++e->const_count);
    fprintf(e->consts, "static const %s %s%s = %s;\n", type, *name, suffix, init);
    return *name;
}

const CExpr *emit_const_string(Emitter *e, const char *s, size_t len)
{
    return cx_const(e, emit_shared_const(
        e, "FlValue", NULL, "", arena_sprintf(e->arena, "FL_STRING_LIT(%s)",
                                              cwrite_string(e->arena, s, len))));
}

const CExpr *emit_const_number(Emitter *e, double n)
{
    return cx_const(e, emit_shared_const(
        e, "FlValue", NULL, "", arena_sprintf(e->arena, "FL_NUMBER_LIT(%.17g)", n)));
}

/* ---- expressions ---------------------------------------------------------- */

static const CExpr *int_atom(Emitter *e, long n)
{
    return cx_atom(e, arena_sprintf(e->arena, "%ld", n), 0);
}

int emit_env_index(const Emitter *e, const char *name)
{
    for (int i = 0; i < e->env_count; i++)
        if (strcmp(e->env_names[i], name) == 0)
            return i;
    abort();   /* the checker collected every env name: our bug */
}

const CExpr *emit_get_field(Emitter *e, const CExpr *base, const char *name)
{
    size_t len = strlen(name);
    return cx_call_n(e, "fl_get_field", 3, base,
                     cx_atom(e, cwrite_string(e->arena, name, len), 0),
                     int_atom(e, (long)len));
}

/* The C for segment seg of a path applied to the C expression base. */
static const CExpr *emit_segment(Emitter *e, const CExpr *base, const Expr *seg)
{
    const char *name = expr_segment_name(seg);
    if (name)
        return emit_get_field(e, base, name);
    return cx_call_n(e, "fl_get_index", 2, base, emit_expr(e, seg->rhs));
}

/* run.<name>: fl_run_<name>(r) for a field of FL_RUN_FIELDS. */
static const CExpr *run_field(Emitter *e, const char *name)
{
    for (int i = 0; i < format_run_fields.count; i++)
        if (strcmp(format_run_fields.names[i], name) == 0)
            return cx_call_n(e, arena_sprintf(e->arena, "fl_run_%s", name), 1,
                             cx_run(e));
    abort();   /* the checker allows only these */
}

static int step_of(const Emitter *e, const char *key)
{
    for (int i = 0; i < e->wf->step_count; i++)
        if (strcmp(e->wf->all_steps[i]->key, key) == 0)
            return i;
    abort();   /* the checker resolved every name */
}

/* <key>.output and the segments after it: from the local holding the
 * longest prefix of literal fields read twice, if any, else from the
 * output itself.  Returns the C and sets *used to the segments covered. */
static const CExpr *emit_output(Emitter *e, const Expr *root,
                                const Expr *const *segs, int n, int *used)
{
    int step = step_of(e, root->str);
    const char *first = n > 0 ? expr_segment_name(segs[0]) : NULL;
    const char *fn = "fl_out";
    int from = step;
    if (e->wf->all_steps[step]->type == ST_FOR_EACH && first
        && strcmp(first, "index") == 0) {
        *used = 1;           /* <key>.index: the running iteration's */
        return cx_call_n(e, "fl_loop_index", 2, cx_run(e),
                         cx_atom(e, e->step_names[step], 0));
    }
    if (e->wf->all_steps[step]->type == ST_FOR_EACH && first
        && strcmp(first, "item") == 0) {
        fn = "fl_loop_item";  /* <key>.item: the running iteration's */
        from = emit_paths_item(e, step);
    }
    const char **names = arena_alloc(e->arena, sizeof *names * (size_t)n);
    int k = 0;
    while (k + 1 < n && (names[k] = expr_segment_name(segs[k + 1])))
        k++;
    const CExpr *base = emit_paths_base(e, from, names, k, used);
    *used += 1;   /* ".output" or ".item" */
    if (base)
        return base;
    return cx_call_n(e, fn, 2, cx_run(e), cx_atom(e, e->step_names[step], 0));
}

/* The C for a path's root name and how many segments it used up. */
static const CExpr *emit_root(Emitter *e, const Expr *root,
                              const Expr *const *segs, int n, int *used)
{
    const char *name = root->str;
    if (strcmp(name, "env") == 0) {
        *used = 1;
        return cx_call_n(e, "fl_env", 1, int_atom(e, emit_env_index(
                             e, expr_segment_name(segs[0]))));
    }
    if (strcmp(name, "run") == 0) {
        *used = 1;
        return run_field(e, expr_segment_name(segs[0]));
    }
    return emit_output(e, root, segs, n, used);
}

static const CExpr *emit_chain(Emitter *e, const Expr *x)
{
    const Expr *segs[EXPR_MAX_SEGS], *root;
    int n = expr_chain(x, &root, segs);
    int used = 0;
    const CExpr *c = root->kind == EX_NAME ? emit_root(e, root, segs, n, &used)
                                           : emit_expr(e, root);
    for (int i = used; i < n; i++)
        c = emit_segment(e, c, segs[i]);
    return c;
}

/* The C of the n expressions items. */
static const CExpr **emit_items(Emitter *e, Expr *const *items, int n)
{
    const CExpr **out = arena_alloc(e->arena, sizeof *out * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        out[i] = emit_expr(e, items[i]);
    return out;
}

/* fl_array_of(ar, (const FlValue *const[]){ items }, n). */
static const CExpr *array_of(Emitter *e, const CExpr *const *items, int n)
{
    if (n == 0)
        return cx_call_n(e, "fl_array_of", 3, cx_arena(e), cx_atom(e, "NULL", 0),
                         int_atom(e, 0));
    return cx_call_n(e, "fl_array_of", 3, cx_arena(e),
                     cx_list(e, "(const FlValue *const[])", items, n),
                     int_atom(e, n));
}

/* fl_object_of(ar, (const char *const[]){ keys }, (...){ values }, n). */
static const CExpr *object_of(Emitter *e, const char *const *keys,
                              const size_t *key_lens,
                              const CExpr *const *values, int n)
{
    if (n == 0)
        return cx_call_n(e, "fl_object_of", 4, cx_arena(e), cx_atom(e, "NULL", 0),
                         cx_atom(e, "NULL", 0), int_atom(e, 0));
    const CExpr **k = arena_alloc(e->arena, sizeof *k * (size_t)n);
    for (int i = 0; i < n; i++)
        k[i] = cx_atom(e, cwrite_string(e->arena, keys[i], key_lens
                                        ? key_lens[i] : strlen(keys[i])), 0);
    return cx_call_n(e, "fl_object_of", 4, cx_arena(e),
                     cx_list(e, "(const char *const[])", k, n),
                     cx_list(e, "(const FlValue *const[])", values, n),
                     int_atom(e, n));
}

/* fl_bool(), whose argument emit_truthy() takes back. */
static const char fl_bool_fn[] = "fl_bool";

const CExpr *emit_truthy(Emitter *e, const CExpr *x)
{
    if (x->kind == CX_CALL && x->text == fl_bool_fn)
        return x->args[0];
    return cx_call_n(e, "fl_truthy", 1, x);
}

static const CExpr *emit_binary(Emitter *e, const Expr *x)
{
    static const char *const ops[] = {
        [OP_EQ] = "fl_op_eq", [OP_NE] = "fl_op_ne", [OP_LT] = "fl_op_lt",
        [OP_LE] = "fl_op_le", [OP_GT] = "fl_op_gt", [OP_GE] = "fl_op_ge",
        [OP_ADD] = "fl_op_add", [OP_SUB] = "fl_op_sub", [OP_MUL] = "fl_op_mul",
        [OP_DIV] = "fl_op_div", [OP_MOD] = "fl_op_mod",
    };
    const CExpr *l = emit_expr(e, x->lhs), *r = emit_expr(e, x->rhs);
    if (x->op == OP_AND || x->op == OP_OR)
        return cx_call_n(e, fl_bool_fn, 1,
                         cx_infix(e, emit_truthy(e, l),
                                  x->op == OP_AND ? "&&" : "||",
                                  emit_truthy(e, r)));
    return cx_call_n(e, ops[x->op], 3, cx_arena(e), l, r);
}

static const CExpr *emit_builtin(Emitter *e, const Expr *x)
{
    const CExpr **args = arena_alloc(e->arena, sizeof *args * (size_t)(x->count + 1));
    args[0] = cx_arena(e);
    for (int i = 0; i < x->count; i++)
        args[i + 1] = emit_expr(e, x->items[i]);
    return cx_call(e, arena_sprintf(e->arena, "fl_fn_%s", x->str), args,
                   x->count + 1);
}

const CExpr *emit_expr(Emitter *e, const Expr *x)
{
    switch (x->kind) {
    case EX_NULL:   return cx_atom(e, "&fl_null", 0);
    case EX_BOOL:   return cx_atom(e, x->boolean ? "&fl_true" : "&fl_false", 0);
    case EX_NUMBER: return emit_const_number(e, x->number);
    case EX_STRING: return emit_const_string(e, x->str, x->len);
    case EX_ARRAY:
        return array_of(e, emit_items(e, x->items, x->count), x->count);
    case EX_OBJECT:
        return object_of(e, x->keys, x->key_lens,
                         emit_items(e, x->items, x->count), x->count);
    case EX_NAME: case EX_FIELD: case EX_INDEX:
        return emit_chain(e, x);
    case EX_CALL:
        return emit_builtin(e, x);
    case EX_UNARY:
        return cx_call_n(e, x->op == OP_NOT ? "fl_op_not" : "fl_op_neg", 2,
                         cx_arena(e), emit_expr(e, x->lhs));
    case EX_BINARY:
        return emit_binary(e, x);
    }
    abort();
}

/* ---- templates ---------------------------------------------------------- */

/* FlBuf <buf>; fl_buf_init(&<buf>, ar); */
static void buf_start(Emitter *e, const char *buf)
{
    emit_line(e, "FlBuf %s;", buf);
    emit_stmt(e, "", cx_call_n(e, "fl_buf_init", 2,
                               cx_atom(e, arena_sprintf(e->arena, "&%s", buf), 0),
                               cx_arena(e)), ";");
}

/* const FlValue *t<N> = fl_buf_finish(&b<N>); returns t<N>. */
static const CExpr *buf_finish(Emitter *e, const char *buf)
{
    const char *out = arena_sprintf(e->arena, "t%s", buf + 1);
    emit_line(e, "const FlValue *%s = fl_buf_finish(&%s);", out, buf);
    return cx_local(e, out);
}

/* FL_BUF_APPEND_LIT(&<buf>, "text"); */
static void buf_literal(Emitter *e, const char *buf, const char *text,
                        size_t len)
{
    emit_stmt(e, arena_sprintf(e->arena, "FL_BUF_APPEND_LIT(&%s, ", buf),
              cx_atom(e, cwrite_string(e->arena, text, len), 0), ");");
}

/* fl_buf_append_<how>(&<buf>, x); */
static void buf_value(Emitter *e, const char *buf, const char *how,
                      const CExpr *x)
{
    emit_stmt(e, "", cx_call_n(e, arena_sprintf(e->arena, "fl_buf_append_%s", how),
                               2, cx_atom(e, arena_sprintf(e->arena, "&%s", buf), 0),
                               x), ";");
}

/* Writes the statements that render t as text into a new buffer; returns
 * the string value holding the result. */
static const CExpr *emit_text_statements(Emitter *e, const Template *t)
{
    const char *buf = emit_local(e, "b");
    buf_start(e, buf);
    for (int i = 0; i < t->count; i++) {
        const TemplatePart *p = &t->parts[i];
        if (p->kind == TP_TEXT)
            buf_literal(e, buf, p->text, p->len);
        else
            buf_value(e, buf, "text", emit_expr(e, p->expr));
    }
    return buf_finish(e, buf);
}

const CExpr *emit_template_text(Emitter *e, const Template *t)
{
    size_t len;
    const char *constant = template_constant_text(e->arena, t, &len);
    if (constant)
        return emit_const_string(e, constant, len);
    return emit_text_statements(e, t);
}

const CExpr *emit_template_value(Emitter *e, const Template *t)
{
    if (t->whole) {
        for (int i = 0; i < t->count; i++)
            if (t->parts[i].kind == TP_EXPR)
                return emit_expr(e, t->parts[i].expr);
    }
    return emit_template_text(e, t);
}

/* ---- templated JSON values ---------------------------------------------- */

/* A static initializer for constant v, declaring the arrays it needs. */
static const char *const_init(Emitter *e, const TValue *v)
{
    Arena *a = e->arena;
    size_t len;
    const char *s;
    switch (v->kind) {
    case TV_NULL:   return "FL_NULL_LIT";
    case TV_BOOL:   return v->boolean ? "FL_BOOL_LIT(true)" : "FL_BOOL_LIT(false)";
    case TV_NUMBER: return arena_sprintf(a, "FL_NUMBER_LIT(%.17g)", v->number);
    case TV_TEMPLATE:
        s = template_constant_text(a, v->tmpl, &len);
        return arena_sprintf(a, "FL_STRING_LIT(%s)", cwrite_string(a, s, len));
    case TV_ARRAY: case TV_OBJECT:
        if (v->count == 0)
            return v->kind == TV_ARRAY ? "FL_EMPTY_ARRAY_LIT" : "FL_EMPTY_OBJECT_LIT";
        break;
    }
    bool object = v->kind == TV_OBJECT;
    const char *items = "";
    for (int i = 0; i < v->count; i++) {
        const char *init = const_init(e, v->items[i]);
        if (object)
            init = arena_sprintf(a, "FL_MEMBER(%s, %s)",
                                 cwrite_string(a, v->keys[i], strlen(v->keys[i])),
                                 init);
        items = arena_sprintf(a, "%s    %s,\n", items, init);
    }
    const char *name = emit_shared_const(e, object ? "FlMember" : "FlValue",
                                         NULL, "[]",
                                         arena_sprintf(a, "{\n%s}", items));
    return arena_sprintf(a, "%s(%s)", object ? "FL_OBJECT_LIT" : "FL_ARRAY_LIT",
                         name);
}

const CExpr *emit_tvalue(Emitter *e, const TValue *v)
{
    if (tvalue_is_constant(v))
        return cx_const(e, emit_shared_const(e, "FlValue", NULL, "",
                                             const_init(e, v)));
    if (v->kind == TV_TEMPLATE)
        return emit_template_value(e, v->tmpl);
    const CExpr **items = arena_alloc(e->arena, sizeof *items * (size_t)v->count);
    for (int i = 0; i < v->count; i++)
        items[i] = emit_tvalue(e, v->items[i]);
    if (v->kind == TV_ARRAY)
        return array_of(e, items, v->count);
    return object_of(e, v->keys, NULL, items, v->count);
}

/* ---- templated JSON text ------------------------------------------------ */

/* Text leaves of a JSON body are rendered before the body's buffer starts
 * (so that buffer grows in place); this maps each leaf to its value. */
typedef struct {
    const TValue **leaves;
    const CExpr **values;
    int count, cap;
    const char *pending;  /* literal JSON not yet written */
    const char *buf;
} JsonWriter;

static void render_text_leaves(Emitter *e, JsonWriter *w, const TValue *v)
{
    if (tvalue_is_constant(v))
        return;
    if (v->kind == TV_TEMPLATE && !v->tmpl->whole) {
        const CExpr *value = emit_text_statements(e, v->tmpl);
        int n = w->count, cap = w->cap;
        w->leaves = (const TValue **)arena_push(e->arena, (void **)w->leaves,
                                                &w->count, &w->cap, (void *)v);
        w->values = (const CExpr **)arena_push(e->arena, (void **)w->values,
                                               &n, &cap, (void *)value);
        return;
    }
    for (int i = 0; i < v->count; i++)
        render_text_leaves(e, w, v->items[i]);
}

static const CExpr *leaf_value(const JsonWriter *w, const TValue *v)
{
    for (int i = 0; i < w->count; i++)
        if (w->leaves[i] == v)
            return w->values[i];
    return NULL;
}

static void add_pending(Emitter *e, JsonWriter *w, const char *json)
{
    w->pending = arena_sprintf(e->arena, "%s%s", w->pending, json);
}

static void flush_pending(Emitter *e, JsonWriter *w)
{
    if (*w->pending)
        buf_literal(e, w->buf, w->pending, strlen(w->pending));
    w->pending = "";
}

static void write_json(Emitter *e, JsonWriter *w, const TValue *v)
{
    size_t len;
    if (tvalue_is_constant(v)) {
        add_pending(e, w, cwrite_json(e->arena, v, &len));
        return;
    }
    if (v->kind == TV_TEMPLATE) {
        const CExpr *value = leaf_value(w, v);
        if (!value)
            value = emit_template_value(e, v->tmpl);
        flush_pending(e, w);
        buf_value(e, w->buf, "json", value);
        return;
    }
    add_pending(e, w, v->kind == TV_ARRAY ? "[" : "{");
    for (int i = 0; i < v->count; i++) {
        if (i > 0)
            add_pending(e, w, ",");
        if (v->kind == TV_OBJECT)
            add_pending(e, w, arena_sprintf(e->arena, "%s:",
                                            cwrite_json_string(e->arena, v->keys[i],
                                                               strlen(v->keys[i]))));
        write_json(e, w, v->items[i]);
    }
    add_pending(e, w, v->kind == TV_ARRAY ? "]" : "}");
}

const CExpr *emit_tvalue_json(Emitter *e, const TValue *v)
{
    JsonWriter w = { 0 };
    render_text_leaves(e, &w, v);
    w.buf = emit_local(e, "b");
    w.pending = "";
    buf_start(e, w.buf);
    write_json(e, &w, v);
    flush_pending(e, &w);
    return buf_finish(e, w.buf);
}
