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

static const char *new_const(Emitter *e)
{
    return arena_sprintf(e->arena, "k%d", ++e->const_count);
}

const char *emit_const_string(Emitter *e, const char *s, size_t len)
{
    const char *name = new_const(e);
    fprintf(e->consts, "static const FlValue %s = FL_STRING_LIT(%s);\n", name,
            cwrite_string(e->arena, s, len));
    return arena_sprintf(e->arena, "&%s", name);
}

static const char *const_number(Emitter *e, double n)
{
    const char *name = new_const(e);
    fprintf(e->consts, "static const FlValue %s = FL_NUMBER_LIT(%.17g);\n",
            name, n);
    return arena_sprintf(e->arena, "&%s", name);
}

/* ---- expressions ---------------------------------------------------------- */

static int env_index(const Emitter *e, const char *name)
{
    for (int i = 0; i < e->env_count; i++)
        if (strcmp(e->env_names[i], name) == 0)
            return i;
    abort();   /* the checker collected every env name: our bug */
}

/* The C for segment seg of a path applied to the C expression base. */
static const char *emit_segment(Emitter *e, const char *base, const Expr *seg)
{
    const char *name = expr_segment_name(seg);
    if (name)
        return arena_sprintf(e->arena, "fl_get_field(%s, %s, %zu)", base,
                             cwrite_string(e->arena, name, strlen(name)),
                             strlen(name));
    return arena_sprintf(e->arena, "fl_get_index(%s, %s)", base,
                         emit_expr(e, seg->rhs));
}

static const char *run_field(const char *name)
{
    static const char *const fields[][2] = {
        { "id", "fl_run_id(r)" },
        { "started_at", "fl_run_started_at(r)" },
        { "workflow", "fl_run_workflow(r)" },
        { "attempt", "fl_run_attempt(r)" },
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i][0], name) == 0)
            return fields[i][1];
    abort();   /* the checker allows only these */
}

/* The C for a path's root name and how many segments it used up. */
static const char *emit_root(Emitter *e, const Expr *root,
                             const Expr *const *segs, int *used)
{
    const char *name = root->str;
    if (strcmp(name, "env") == 0) {
        *used = 1;
        return arena_sprintf(e->arena, "fl_env(%d)",
                             env_index(e, expr_segment_name(segs[0])));
    }
    if (strcmp(name, "run") == 0) {
        *used = 1;
        return run_field(expr_segment_name(segs[0]));
    }
    for (int i = 0; i < e->wf->step_count; i++)
        if (strcmp(e->wf->all_steps[i]->key, name) == 0) {
            *used = 1;   /* ".output" */
            return arena_sprintf(e->arena, "fl_out(r, %d)",
                                 e->wf->all_steps[i]->index);
        }
    abort();   /* the checker resolved every name */
}

static const char *emit_chain(Emitter *e, const Expr *x)
{
    const Expr *segs[EXPR_MAX_SEGS], *root;
    int n = expr_chain(x, &root, segs);
    int used = 0;
    const char *c = root->kind == EX_NAME ? emit_root(e, root, segs, &used)
                                          : emit_expr(e, root);
    for (int i = used; i < n; i++)
        c = emit_segment(e, c, segs[i]);
    return c;
}

static const char *emit_list(Emitter *e, const Expr *x)
{
    const char *items = "";
    for (int i = 0; i < x->count; i++)
        items = arena_sprintf(e->arena, "%s%s%s", items, i ? ", " : "",
                              emit_expr(e, x->items[i]));
    return items;
}

static const char *emit_object(Emitter *e, const Expr *x)
{
    const char *keys = "";
    for (int i = 0; i < x->count; i++)
        keys = arena_sprintf(e->arena, "%s%s%s", keys, i ? ", " : "",
                             cwrite_string(e->arena, x->keys[i],
                                           x->key_lens[i]));
    return arena_sprintf(e->arena,
                         "fl_object_of(ar, (const char *const[]){%s}, "
                         "(const FlValue *const[]){%s}, %d)",
                         keys, emit_list(e, x), x->count);
}

static const char *emit_binary(Emitter *e, const Expr *x)
{
    static const char *const ops[] = {
        [OP_EQ] = "eq", [OP_NE] = "ne", [OP_LT] = "lt", [OP_LE] = "le",
        [OP_GT] = "gt", [OP_GE] = "ge", [OP_ADD] = "add", [OP_SUB] = "sub",
        [OP_MUL] = "mul", [OP_DIV] = "div", [OP_MOD] = "mod",
    };
    const char *l = emit_expr(e, x->lhs), *r = emit_expr(e, x->rhs);
    if (x->op == OP_AND || x->op == OP_OR)
        return arena_sprintf(e->arena, "fl_bool(fl_truthy(%s) %s fl_truthy(%s))",
                             l, x->op == OP_AND ? "&&" : "||", r);
    return arena_sprintf(e->arena, "fl_op_%s(ar, %s, %s)", ops[x->op], l, r);
}

const char *emit_expr(Emitter *e, const Expr *x)
{
    switch (x->kind) {
    case EX_NULL:   return "&fl_null";
    case EX_BOOL:   return x->boolean ? "&fl_true" : "&fl_false";
    case EX_NUMBER: return const_number(e, x->number);
    case EX_STRING: return emit_const_string(e, x->str, x->len);
    case EX_ARRAY:
        if (x->count == 0)
            return "fl_array_of(ar, NULL, 0)";
        return arena_sprintf(e->arena,
                             "fl_array_of(ar, (const FlValue *const[]){%s}, %d)",
                             emit_list(e, x), x->count);
    case EX_OBJECT:
        if (x->count == 0)
            return "fl_object_of(ar, NULL, NULL, 0)";
        return emit_object(e, x);
    case EX_NAME: case EX_FIELD: case EX_INDEX:
        return emit_chain(e, x);
    case EX_CALL:
        return arena_sprintf(e->arena, "fl_fn_%s(ar%s%s)", x->str,
                             x->count ? ", " : "", emit_list(e, x));
    case EX_UNARY:
        return arena_sprintf(e->arena, "fl_op_%s(ar, %s)",
                             x->op == OP_NOT ? "not" : "neg",
                             emit_expr(e, x->lhs));
    case EX_BINARY:
        return emit_binary(e, x);
    }
    abort();
}

/* ---- templates ---------------------------------------------------------- */

/* Writes the statements that render t as text into a new buffer; returns
 * the name of the string value holding the result. */
static const char *emit_text_statements(Emitter *e, const Template *t)
{
    const char *buf = emit_local(e, "b");
    const char *out = arena_sprintf(e->arena, "t%s", buf + 1);
    fprintf(e->fn, "    FlBuf %s;\n    fl_buf_init(&%s, ar);\n", buf, buf);
    for (int i = 0; i < t->count; i++) {
        const TemplatePart *p = &t->parts[i];
        if (p->kind == TP_TEXT)
            fprintf(e->fn, "    FL_BUF_APPEND_LIT(&%s, %s);\n", buf,
                    cwrite_string(e->arena, p->text, p->len));
        else
            fprintf(e->fn, "    fl_buf_append_text(&%s, %s);\n", buf,
                    emit_expr(e, p->expr));
    }
    fprintf(e->fn, "    const FlValue *%s = fl_buf_finish(&%s);\n", out, buf);
    return out;
}

const char *emit_template_text(Emitter *e, const Template *t)
{
    size_t len;
    const char *constant = template_constant_text(e->arena, t, &len);
    if (constant)
        return emit_const_string(e, constant, len);
    return emit_text_statements(e, t);
}

const char *emit_template_value(Emitter *e, const Template *t)
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
    const char *s, *name;
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
    const char **inits = arena_alloc(a, sizeof *inits * (size_t)v->count);
    for (int i = 0; i < v->count; i++)
        inits[i] = const_init(e, v->items[i]);
    name = new_const(e);
    bool object = v->kind == TV_OBJECT;
    fprintf(e->consts, "static const %s %s[] = {\n",
            object ? "FlMember" : "FlValue", name);
    for (int i = 0; i < v->count; i++) {
        if (object)
            fprintf(e->consts, "    FL_MEMBER(%s, %s),\n",
                    cwrite_string(a, v->keys[i], strlen(v->keys[i])), inits[i]);
        else
            fprintf(e->consts, "    %s,\n", inits[i]);
    }
    fputs("};\n", e->consts);
    return arena_sprintf(a, "%s(%s)", object ? "FL_OBJECT_LIT" : "FL_ARRAY_LIT",
                         name);
}

static const char *emit_const_value(Emitter *e, const TValue *v)
{
    const char *init = const_init(e, v);
    const char *name = new_const(e);
    fprintf(e->consts, "static const FlValue %s = %s;\n", name, init);
    return arena_sprintf(e->arena, "&%s", name);
}

const char *emit_tvalue(Emitter *e, const TValue *v)
{
    if (tvalue_is_constant(v))
        return emit_const_value(e, v);
    if (v->kind == TV_TEMPLATE)
        return emit_template_value(e, v->tmpl);
    const char *items = "", *keys = "";
    for (int i = 0; i < v->count; i++) {
        items = arena_sprintf(e->arena, "%s%s%s", items, i ? ", " : "",
                              emit_tvalue(e, v->items[i]));
        if (v->kind == TV_OBJECT)
            keys = arena_sprintf(e->arena, "%s%s%s", keys, i ? ", " : "",
                                 cwrite_string(e->arena, v->keys[i],
                                               strlen(v->keys[i])));
    }
    if (v->kind == TV_ARRAY)
        return arena_sprintf(e->arena,
                             "fl_array_of(ar, (const FlValue *const[]){%s}, %d)",
                             items, v->count);
    return arena_sprintf(e->arena,
                         "fl_object_of(ar, (const char *const[]){%s}, "
                         "(const FlValue *const[]){%s}, %d)",
                         keys, items, v->count);
}

/* ---- templated JSON text ------------------------------------------------ */

/* Text leaves of a JSON body are rendered before the body's buffer starts
 * (so that buffer grows in place); this maps each leaf to its value. */
typedef struct {
    const TValue **leaves;
    const char **values;
    int count, cap;
    const char *pending;  /* literal JSON not yet written */
    const char *buf;
} JsonWriter;

static void render_text_leaves(Emitter *e, JsonWriter *w, const TValue *v)
{
    if (tvalue_is_constant(v))
        return;
    if (v->kind == TV_TEMPLATE && !v->tmpl->whole) {
        const char *value = emit_text_statements(e, v->tmpl);
        int n = w->count, cap = w->cap;
        w->leaves = (const TValue **)arena_push(e->arena, (void **)w->leaves,
                                                &w->count, &w->cap, (void *)v);
        w->values = (const char **)arena_push(e->arena, (void **)w->values,
                                              &n, &cap, (void *)value);
        return;
    }
    for (int i = 0; i < v->count; i++)
        render_text_leaves(e, w, v->items[i]);
}

static const char *leaf_value(const JsonWriter *w, const TValue *v)
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
        fprintf(e->fn, "    FL_BUF_APPEND_LIT(&%s, %s);\n", w->buf,
                cwrite_string(e->arena, w->pending, strlen(w->pending)));
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
        const char *value = leaf_value(w, v);
        if (!value)
            value = emit_template_value(e, v->tmpl);
        flush_pending(e, w);
        fprintf(e->fn, "    fl_buf_append_json(&%s, %s);\n", w->buf, value);
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

const char *emit_tvalue_json(Emitter *e, const TValue *v)
{
    JsonWriter w = { 0 };
    render_text_leaves(e, &w, v);
    w.buf = emit_local(e, "b");
    w.pending = "";
    fprintf(e->fn, "    FlBuf %s;\n    fl_buf_init(&%s, ar);\n", w.buf, w.buf);
    write_json(e, &w, v);
    flush_pending(e, &w);
    const char *out = arena_sprintf(e->arena, "t%s", w.buf + 1);
    fprintf(e->fn, "    const FlValue *%s = fl_buf_finish(&%s);\n", out, w.buf);
    return out;
}
