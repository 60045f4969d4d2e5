/* emit.c - the generated program: a step enum, the constants and one
 * function per step, a table per workflow (with its verify settings and
 * secret function), and main().
 *
 * The shape mirrors the workflow: each step gets an enum constant
 * (W0_VALIDATE) and a function named after the workflow's number and the
 * step's key (w0_validate), introduced by a comment with its key, type
 * and JSON path, that returns the step that runs next (see
 * runtime/flusso.h, "Runs").  A gate returns one of its two branch heads;
 * the default 202 of spec §4.3 is sent on the branch edges flow.c found.
 * Functions are written in step-index order, so a branch's steps follow
 * their gate.  emit_<type> writes the body of a step of that type, found
 * through a table made from FL_STEP_TYPES.  Data that does not change -
 * constant responses, requests, header arrays, keep arrays - is static,
 * declared once per program. */
#include "emit.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cwrite.h"
#include "emit_impl.h"
#include "flow.h"
#include "keep.h"
#include "version.h"

static const char *step_fn_name(Emitter *e, const Step *s)
{
    return e->fn_names[s->index];
}

/* The C of a next-step index: a step's enum constant or FL_NEXT_END. */
static const char *next_text(Emitter *e, int next)
{
    return next < 0 ? "FL_NEXT_END" : e->step_names[next];
}

static const CExpr *step_atom(Emitter *e, const Step *s)
{
    return cx_atom(e, e->step_names[s->index], 0);
}

static void emit_return(Emitter *e, int next)
{
    emit_line(e, "return %s;", next_text(e, next));
}

/* Calls the step helper `call`; when it may fail (return -1), fails the
 * step on a negative result. */
static void emit_checked(Emitter *e, const Step *s, const CExpr *call,
                         bool can_fail, int next)
{
    if (!can_fail) {
        emit_stmt(e, "", call, ";");
        return;
    }
    /* A webhook_response that fails under on_error continue has answered
     * nothing, and no other response can follow it on this path (the
     * checker allows one per path): the default 202 goes out right away. */
    bool unanswered = s->type == ST_RESPONSE && s->on_error_continue;
    e->hang = 4;   /* apart from the statement under the if */
    emit_stmt(e, "if (", call, unanswered ? " < 0) {" : " < 0)");
    e->hang = 0;
    if (unanswered) {
        emit_line(e, "    int next = fl_step_failed(r, %s, fl_run_error(r), %s);",
                  e->step_names[s->index], next_text(e, next));
        emit_line(e, "    fl_respond_default(r);  /* no response can follow */");
        emit_line(e, "    return next;");
        emit_line(e, "}");
        return;
    }
    emit_line(e, "    return fl_step_failed(r, %s, fl_run_error(r), %s);",
              e->step_names[s->index], next_text(e, next));
}

/* The literal C string for s. */
static const CExpr *c_string(Emitter *e, const char *s)
{
    return cx_atom(e, cwrite_string(e->arena, s, strlen(s)), 0);
}

static const CExpr *c_int(Emitter *e, long n)
{
    return cx_atom(e, arena_sprintf(e->arena, "%ld", n), 0);
}

static const CExpr *c_bool(Emitter *e, bool b)
{
    return cx_atom(e, b ? "true" : "false", 0);
}

/* Declares a `type` holding the initializer of the n fields: at file
 * scope as w<N>_<key>_<what>, once per program, when they are all
 * constant, else as the local <what>.  Returns the name it has. */
static const char *emit_struct(Emitter *e, const Step *s, const char *type,
                               const char *what, const CInit *fields, int n)
{
    if (cx_struct_is_constant(fields, n))
        return emit_shared_const(e, type, arena_sprintf(e->arena, "%s_%s",
                                                        step_fn_name(e, s), what),
                                 "", cx_struct(e, fields, n, 0));
    emit_line(e, "const %s %s = %s;", type, what,
              cx_struct(e, fields, n, e->indent));
    return what;
}

/* ---- one function per step type -------------------------------------- */

/* The index of pattern in the program's `matches` table, added once. */
static int regex_index(Emitter *e, const char *pattern)
{
    for (int i = 0; i < e->regex_count; i++)
        if (strcmp(e->regexes[i], pattern) == 0)
            return i;
    e->regexes = (const char **)arena_push(e->arena, (void **)e->regexes,
                                           &e->regex_count, &e->regex_cap,
                                           (void *)pattern);
    return e->regex_count - 1;
}

/* The runtime's function for each `conditions` operator, by CondOp. */
#define COND_FN_(c, name, arity) "fl_cond_" #name,
static const char *const cond_fns[] = { FL_COND_OPS(COND_FN_) };

static const CExpr *condition_call(Emitter *e, const Condition *c)
{
    const char *fn = cond_fns[c->op];
    const CExpr *left = emit_template_value(e, c->left);
    if (c->op == COND_MATCHES)
        return cx_call_n(e, fn, 2,
                         cx_call_n(e, "fl_regex", 1,
                                   c_int(e, regex_index(e, c->pattern))),
                         left);
    if (!c->right)
        return cx_call_n(e, fn, 1, left);
    return cx_call_n(e, fn, 2, left, emit_template_value(e, c->right));
}

/* Whether computing t takes statements (it is rendered text). */
static bool needs_statements(const Template *t)
{
    if (!t || t->whole)
        return false;
    for (int i = 0; i < t->count; i++)
        if (t->parts[i].kind == TP_EXPR)
            return true;
    return false;
}

static bool condition_needs_statements(const Condition *c)
{
    return needs_statements(c->left)
           || (c->op != COND_MATCHES && needs_statements(c->right));
}

/* The conditions from *i on, joined by op, up to the next one whose
 * operands need statements (rendered text) first; *i moves past them. */
static const CExpr *condition_run(Emitter *e, const GateConfig *g,
                                  const char *op, int *i)
{
    const CExpr *run = condition_call(e, &g->conditions[(*i)++]);
    while (*i < g->condition_count
           && !condition_needs_statements(&g->conditions[*i]))
        run = cx_infix(e, run, op, condition_call(e, &g->conditions[(*i)++]));
    return run;
}

/* bool pass = the gate's conditions, stopping at the first that decides:
 * one && (or ||) chain, and a block for each condition that needs
 * statements first, entered only while the answer is still open. */
static void emit_conditions(Emitter *e, const GateConfig *g)
{
    const char *op = g->match_any ? "||" : "&&";
    int i = 0;
    emit_stmt(e, "bool pass = ", condition_run(e, g, op, &i), ";");
    while (i < g->condition_count) {
        emit_line(e, "if (%spass) {", g->match_any ? "!" : "");
        e->indent += 4;
        emit_stmt(e, "pass = ", condition_run(e, g, op, &i), ";");
        e->indent -= 4;
        emit_line(e, "}");
    }
}

static void emit_logic_gate(Emitter *e, const Step *s, const FlowEdge *edge)
{
    const GateConfig *g = &s->as.gate;
    if (g->condition)
        emit_stmt(e, "bool pass = ",
                  emit_truthy(e, emit_template_value(e, g->condition)), ";");
    else
        emit_conditions(e, g);
    emit_line(e, "fl_step_done(r, %s, pass ? &fl_gate_true : &fl_gate_false);",
              e->step_names[s->index]);
    emit_line(e, "if (pass)%s", edge->default_on_true ? " {" : "");
    e->indent += 4;
    if (edge->default_on_true)
        emit_line(e, "fl_respond_default(r);  /* no response can follow */");
    emit_return(e, edge->on_true);
    e->indent -= 4;
    if (edge->default_on_true)
        emit_line(e, "}");
    if (edge->default_on_false)
        emit_line(e, "fl_respond_default(r);  /* no response can follow */");
    emit_return(e, edge->on_false);
}

/* Whether the header values can make the helper fail: one is rendered at
 * run time, or holds CR, LF or NUL. */
static bool headers_can_fail(const NamedTemplate *h, int count)
{
    for (int i = 0; i < count; i++) {
        const Template *t = h[i].tmpl;
        for (int j = 0; j < t->count; j++)
            if (t->parts[j].kind == TP_EXPR
                || memchr(t->parts[j].text, '\r', t->parts[j].len)
                || memchr(t->parts[j].text, '\n', t->parts[j].len)
                || memchr(t->parts[j].text, '\0', t->parts[j].len))
                return true;
    }
    return false;
}

/* The FlHeader array of the count headers (static when every value is
 * constant), or NULL when there are none. */
static const CExpr *emit_headers(Emitter *e, const Step *s,
                                 const NamedTemplate *h, int count)
{
    if (count == 0)
        return NULL;
    const CExpr **values = arena_alloc(e->arena, sizeof *values * (size_t)count);
    size_t *lens = arena_alloc(e->arena, sizeof *lens * (size_t)count);
    bool constant = true;
    for (int i = 0; i < count; i++) {
        const char *text = template_constant_text(e->arena, h[i].tmpl, &lens[i]);
        values[i] = text ? cx_atom(e, cwrite_string(e->arena, text, lens[i]), 0)
                         : emit_template_text(e, h[i].tmpl);
        constant &= text != NULL;
    }
    int ind = constant ? 4 : e->indent + 4;
    const char *rows = "";
    for (int i = 0; i < count; i++) {
        bool literal = !(values[i]->facts & CX_RUNTIME);   /* text, not a value */
        CInit f[] = {
            { ".name", c_string(e, h[i].name) },
            { ".value", literal ? values[i] : cx_member(e, values[i], "u.s") },
            { ".value_len", literal ? c_int(e, (long)lens[i])
                                    : cx_member(e, values[i], "len") },
        };
        rows = arena_sprintf(e->arena, "%s%*s%s,\n", rows, ind, "",
                             cx_row(e, "", f, 3, ind));
    }
    if (constant)
        return cx_atom(e, emit_shared_const(
            e, "FlHeader", arena_sprintf(e->arena, "%s_headers", step_fn_name(e, s)),
            "[]", arena_sprintf(e->arena, "{\n%s}", rows)), 0);
    const char *name = emit_local(e, "h");
    fprintf(e->fn, "%*sconst FlHeader %s[] = {\n%s%*s};\n", e->indent, "", name,
            rows, e->indent, "");
    return cx_local(e, name);
}

/* The response body's fields; constant JSON is serialised here, at
 * compile time, and sent from static memory. */
static void response_body(Emitter *e, const Step *s, CInit *body,
                          CInit *len, CInit *is_static)
{
    const TValue *v = s->as.response.body;
    if (!v)
        return;
    if (tvalue_is_constant(v)) {
        size_t n;
        const char *text = v->kind == TV_TEMPLATE
            ? template_constant_text(e->arena, v->tmpl, &n)
            : cwrite_json(e->arena, v, &n);
        const char *name = emit_shared_const(
            e, "char", arena_sprintf(e->arena, "%s_body", step_fn_name(e, s)),
            "[]", cwrite_string(e->arena, text, n));
        body->value = cx_atom(e, name, 0);
        len->value = cx_atom(e, arena_sprintf(e->arena, "sizeof %s - 1", name), 0);
        is_static->value = c_bool(e, true);
        return;
    }
    const CExpr *t = v->kind == TV_TEMPLATE ? emit_template_text(e, v->tmpl)
                                            : emit_tvalue_json(e, v);
    body->value = cx_member(e, t, "u.s");
    len->value = cx_member(e, t, "len");
}

/* The status: a literal, or a template converted (and checked) first. */
static const CExpr *response_status(Emitter *e, const Step *s, int next)
{
    const ResponseConfig *c = &s->as.response;
    if (!c->status.is_template)
        return c_int(e, c->status.value);
    emit_stmt(e, "int status = ",
              cx_call_n(e, "fl_status_from_value", 2, cx_run(e),
                        emit_template_value(e, c->status.tmpl)), ";");
    emit_checked(e, s, cx_local(e, "status"), true, next);
    return cx_local(e, "status");
}

static void emit_webhook_response(Emitter *e, const Step *s,
                                  const FlowEdge *edge)
{
    int next = edge->next;
    const ResponseConfig *c = &s->as.response;
    const CExpr *headers = emit_headers(e, s, c->headers, c->header_count);
    CInit f[] = {
        { ".status", response_status(e, s, next) },
        { ".body", NULL }, { ".body_len", NULL }, { ".body_static", NULL },
        { ".content_type", c_string(e, c->content_type) },
        { ".headers", headers },
        { ".header_count", headers ? c_int(e, c->header_count) : NULL },
    };
    response_body(e, s, &f[1], &f[2], &f[3]);
    const char *resp = emit_struct(e, s, "FlResponse", "response", f,
                                   sizeof f / sizeof f[0]);
    emit_checked(e, s, cx_call_n(e, "fl_respond", 3, cx_run(e), step_atom(e, s),
                                 cx_atom(e, arena_sprintf(e->arena, "&%s", resp), 0)),
                 headers_can_fail(c->headers, c->header_count), next);
    emit_return(e, next);
}

static void emit_set(Emitter *e, const Step *s, const FlowEdge *edge)
{
    const SetConfig *c = &s->as.set;
    TValue whole = { .kind = TV_OBJECT, .items = c->values, .keys = c->names,
                     .count = c->count, .path = s->path };
    emit_stmt(e, "", cx_call_n(e, "fl_step_done", 3, cx_run(e), step_atom(e, s),
                               emit_tvalue(e, &whole)), ";");
    emit_return(e, edge->next);
}

static void emit_log(Emitter *e, const Step *s, const FlowEdge *edge)
{
    int next = edge->next;
#define LEVEL_CONST_(c, name) "FL_LOG_" #c,
    static const char *const levels[] = { FL_LOG_LEVELS(LEVEL_CONST_) };
#undef LEVEL_CONST_
    const LogConfig *c = &s->as.log;
    const CExpr *msg = emit_template_text(e, c->message);
    const CExpr *args[] = {
        cx_run(e), step_atom(e, s), cx_atom(e, levels[c->level], 0),
        cx_member(e, msg, "u.s"), cx_member(e, msg, "len"),
        c->file ? c_string(e, c->file) : cx_atom(e, "NULL", 0),
    };
    /* only writing a file can fail */
    emit_checked(e, s, cx_call(e, "fl_log", args, 6), c->file != NULL, next);
    emit_return(e, next);
}

static void emit_delay(Emitter *e, const Step *s, const FlowEdge *edge)
{
    int next = edge->next;
    const IntOrTemplate *ms = &s->as.delay.ms;
    const CExpr *value = ms->is_template ? emit_template_value(e, ms->tmpl)
                                         : emit_const_number(e, (double)ms->value);
    /* a literal is a non-negative number, checked here */
    emit_checked(e, s, cx_call_n(e, "fl_delay", 4, cx_run(e), step_atom(e, s),
                                 value, cx_atom(e, next_text(e, next), 0)),
                 ms->is_template, next);
    emit_line(e, "return FL_NEXT_WAIT;");
}

/* The request body: constant bodies become static text, compact JSON
 * serialised here; a string body is text, anything else JSON. */
static const CExpr *http_body(Emitter *e, const TValue *body)
{
    if (tvalue_is_constant(body)) {
        size_t len;
        const char *text = body->kind == TV_TEMPLATE
            ? template_constant_text(e->arena, body->tmpl, &len)
            : cwrite_json(e->arena, body, &len);
        return emit_const_string(e, text, len);
    }
    if (body->kind == TV_TEMPLATE)
        return emit_template_text(e, body->tmpl);
    return emit_tvalue_json(e, body);
}

/* The rendered request goes to fl_http(), which continues the run at next
 * when the answer is in (or fails the step); the run waits on no thread.
 * fl_http() can always fail: the HTTP client may not be running. */
static void emit_http_request(Emitter *e, const Step *s, const FlowEdge *edge)
{
    int next = edge->next;
    const HttpConfig *c = &s->as.http;
    const CExpr *method = c->method ? emit_template_text(e, c->method)
                                    : emit_const_string(e, "GET", 3);
    const CExpr *url = emit_template_text(e, c->url);
    const CExpr *headers = emit_headers(e, s, c->headers, c->header_count);
    const CExpr *body = c->body ? http_body(e, c->body) : NULL;
    CInit f[] = {
        { ".method", method }, { ".url", url }, { ".headers", headers },
        { ".header_count", headers ? c_int(e, c->header_count) : NULL },
        { ".body", body },
        { ".body_is_json", body ? c_bool(e, c->body->kind != TV_TEMPLATE) : NULL },
        { ".timeout_ms", c_int(e, c->timeout_ms) },
        { ".retries", c_int(e, c->retries) },
        { ".retry_max_delay_ms", c_int(e, c->retry_max_delay_ms) },
        { ".fail_on_status", c_bool(e, c->fail_on_status) },
        { ".follow_redirects", c_bool(e, c->follow_redirects) },
        { ".max_response_bytes", c_int(e, c->max_response_bytes) },
    };
    const char *req = emit_struct(e, s, "FlHttpRequest", "request", f,
                                  sizeof f / sizeof f[0]);
    emit_checked(e, s, cx_call_n(e, "fl_http", 4, cx_run(e), step_atom(e, s),
                                 cx_atom(e, arena_sprintf(e->arena, "&%s", req), 0),
                                 cx_atom(e, next_text(e, next), 0)),
                 true, next);
    emit_line(e, "return FL_NEXT_WAIT;");
}

/* ---- switch, for_each ------------------------------------------------- */

/* A C switch over the case fl_switch() matched: each case returns the
 * head of its list (sending the default 202 first where flow.c says no
 * response can follow), default the head of the default list. */
static void emit_switch(Emitter *e, const Step *s, const FlowEdge *edge)
{
    const SwitchConfig *c = &s->as.sw;
    const CExpr *value = emit_template_text(e, c->value);
    const char *table = "NULL";
    if (c->count) {
        const char *rows = "";
        for (int i = 0; i < c->count; i++)
            rows = arena_sprintf(e->arena, "%s    %s,\n", rows,
                                 cwrite_string(e->arena, c->names[i],
                                               strlen(c->names[i])));
        table = emit_shared_const(e, "char *const", arena_sprintf(
            e->arena, "%s_cases", step_fn_name(e, s)), "[]",
            arena_sprintf(e->arena, "{\n%s}", rows));
    }
    const CExpr *call = cx_call_n(e, "fl_switch", 5, cx_run(e), step_atom(e, s),
                                  value, cx_atom(e, table, 0),
                                  c_int(e, c->count));
    if (c->count == 0)
        emit_stmt(e, "", call, ";");
    else
        emit_stmt(e, "switch (", call, ") {");
    for (int i = 0; i <= c->count; i++) {
        if (i < c->count)
            emit_line(e, "case %d:  /* %s */", i,
                      cwrite_comment(e->arena, c->names[i]));
        else if (c->count)
            emit_line(e, "default:");
        e->indent += c->count ? 4 : 0;
        if (edge->default_on_arm[i])
            emit_line(e, "fl_respond_default(r);  /* no response can follow */");
        emit_return(e, edge->arms[i]);
        e->indent -= c->count ? 4 : 0;
    }
    if (c->count)
        emit_line(e, "}");
}

/* Entered first from the step before it, then again after each
 * iteration (its body's last step returns it): the loop's state is in
 * the run (fl_loop_*), so the function only starts the loop once and
 * asks for the next item each time. */
static void emit_for_each(Emitter *e, const Step *s, const FlowEdge *edge)
{
    const ForEachConfig *c = &s->as.loop;
    const char *self = e->step_names[s->index];
    emit_line(e, "if (!fl_loop_running(r, %s)) {", self);
    e->indent += 4;
    emit_stmt(e, "const FlValue *items = ", emit_template_value(e, c->items),
              ";");
    emit_checked(e, s, cx_call_n(e, "fl_loop_start", 4, cx_run(e),
                                 step_atom(e, s), cx_local(e, "items"),
                                 c_int(e, c->max_items)),
                 true, edge->next);
    e->indent -= 4;
    emit_line(e, "}");
    emit_line(e, "if (fl_loop_next(r, %s))", self);
    emit_line(e, "    return %s;  /* the body, for the next item */",
              next_text(e, edge->arms[0]));
    emit_return(e, edge->next);
}

/* An array of the n values: static data named <step function>_<what>
 * when every value is constant, else a local.  NULL when n is 0. */
static const CExpr *value_array(Emitter *e, const Step *s, const char *what,
                                const CExpr *const *values, int n)
{
    if (n == 0)
        return NULL;
    bool constant = true;
    for (int i = 0; i < n; i++)
        constant &= !(values[i]->facts & CX_RUNTIME);
    if (constant) {
        const char *rows = "";
        for (int i = 0; i < n; i++)
            rows = arena_sprintf(e->arena, "%s    %s,\n", rows, values[i]->flat);
        return cx_atom(e, emit_shared_const(
            e, "FlValue *const", arena_sprintf(e->arena, "%s_%s",
                                               step_fn_name(e, s), what),
            "[]", arena_sprintf(e->arena, "{\n%s}", rows)), 0);
    }
    const char *name = emit_local(e, "p");
    emit_line(e, "const FlValue *const %s[] = {", name);
    e->indent += 4;
    for (int i = 0; i < n; i++)
        emit_stmt(e, "", values[i], ",");
    e->indent -= 4;
    emit_line(e, "};");
    return cx_local(e, name);
}

/* The params array of a database step. */
static const CExpr *db_params(Emitter *e, const Step *s)
{
    const DatabaseConfig *c = &s->as.db;
    const CExpr **values = arena_alloc(e->arena, sizeof *values
                                                 * (size_t)(c->param_count + 1));
    for (int i = 0; i < c->param_count; i++)
        values[i] = emit_tvalue(e, c->params[i]);
    return value_array(e, s, "params", values, c->param_count);
}

/* The step's row of the program's database table (opened at start),
 * returning its index there. */
static int db_register(Emitter *e, const Step *s)
{
    const DatabaseConfig *c = &s->as.db;
    Arena *a = e->arena;
    CInit f[] = {
        { ".url", c->env_name ? NULL : c_string(e, c->url->src) },
        { ".env", c->env_name ? c_int(e, emit_env_index(e, c->env_name)) : NULL },
        { ".workflow", c_string(e, e->wf->name) },
        { ".step", c_string(e, s->key) },
    };
    const char *row = cx_row(e, "", f, 4, 4);
    e->databases = (const char **)arena_push(a, (void **)e->databases,
                                             &e->database_count,
                                             &e->database_cap, (void *)row);
    return e->database_count - 1;
}

/* The statement goes to fl_database(), which continues the run at next
 * once the database has answered (or fails the step); the run waits on
 * no thread.  The SQL is literal, the values bound to $1...$N. */
static void emit_database(Emitter *e, const Step *s, const FlowEdge *edge)
{
    int next = edge->next;
    const DatabaseConfig *c = &s->as.db;
    const CExpr *params = db_params(e, s);
    CInit f[] = {
        { ".database", c_int(e, db_register(e, s)) },
        { ".sql", c_string(e, c->sql) },
        { ".params", params },
        { ".param_count", params ? c_int(e, c->param_count) : NULL },
        { ".timeout_ms", c_int(e, c->timeout_ms) },
        { ".max_rows", c_int(e, c->max_rows) },
    };
    const char *q = emit_struct(e, s, "FlDbQuery", "query", f,
                                sizeof f / sizeof f[0]);
    emit_checked(e, s, cx_call_n(e, "fl_database", 4, cx_run(e), step_atom(e, s),
                                 cx_atom(e, arena_sprintf(e->arena, "&%s", q), 0),
                                 cx_atom(e, next_text(e, next), 0)),
                 true, next);
    emit_line(e, "return FL_NEXT_WAIT;");
}

/* A text template of a send_email step as text, or NULL when absent. */
static const CExpr *email_text(Emitter *e, const Template *t)
{
    return t ? emit_template_text(e, t) : NULL;
}

/* The recipients' FlRecipients initializer: each by the typed rule, so
 * one {{ expression }} may give an array of addresses. */
static const CExpr *email_recipients(Emitter *e, const Step *s,
                                     const char *what, const Recipients *r)
{
    if (r->count == 0)
        return NULL;
    const CExpr **values = arena_alloc(e->arena, sizeof *values * (size_t)r->count);
    for (int i = 0; i < r->count; i++)
        values[i] = emit_template_value(e, r->items[i]);
    const CExpr *array = value_array(e, s, what, values, r->count);
    CInit f[] = { { ".items", array }, { ".count", c_int(e, r->count) } };
    return cx_atom(e, cx_row(e, "", f, 2, e->indent + 4),
                   array->facts & CX_RUNTIME);
}

/* The rendered message goes to fl_send_email(), which builds it, checks
 * its headers and continues the run at next once the SMTP server has
 * taken it (or fails the step); the run waits on no thread. */
static void emit_send_email(Emitter *e, const Step *s, const FlowEdge *edge)
{
    int next = edge->next;
    const EmailConfig *c = &s->as.email;
    CInit f[] = {
        { ".smtp_url", email_text(e, c->smtp_url) },
        { ".username", email_text(e, c->username) },
        { ".password", email_text(e, c->password) },
        { ".from", email_text(e, c->from) },
        { ".to", email_recipients(e, s, "to", &c->to) },
        { ".cc", email_recipients(e, s, "cc", &c->cc) },
        { ".bcc", email_recipients(e, s, "bcc", &c->bcc) },
        { ".reply_to", email_text(e, c->reply_to) },
        { ".subject", email_text(e, c->subject) },
        { ".text", email_text(e, c->text) },
        { ".html", email_text(e, c->html) },
        { ".timeout_ms", c_int(e, c->timeout_ms) },
        { ".retries", c_int(e, c->retries) },
        { ".retry_max_delay_ms", c_int(e, c->retry_max_delay_ms) },
    };
    const char *m = emit_struct(e, s, "FlEmail", "email", f,
                                sizeof f / sizeof f[0]);
    emit_checked(e, s, cx_call_n(e, "fl_send_email", 4, cx_run(e), step_atom(e, s),
                                 cx_atom(e, arena_sprintf(e->arena, "&%s", m), 0),
                                 cx_atom(e, next_text(e, next), 0)),
                 true, next);
    emit_line(e, "return FL_NEXT_WAIT;");
}

/* ---- a step function --------------------------------------------------- */

/* The trigger has no function: the runtime fills its output. */
static void emit_webhook_trigger(Emitter *e, const Step *s,
                                 const FlowEdge *edge)
{
    (void)e, (void)s, (void)edge;
    abort();
}

/* emit_<json name> for each step type of FL_STEP_TYPES: writes the body
 * of the step's function. */
typedef void EmitStepFn(Emitter *e, const Step *s, const FlowEdge *edge);
#define EMITTER_(c, json, outputs, config) [ST_##c] = emit_##json,
static EmitStepFn *const emitters[] = { FL_STEP_TYPES(EMITTER_) };

static void emit_step_body(Emitter *e, const Step *s, const FlowEdge *edge)
{
    emitters[s->type](e, s, edge);
}

/* Starts a function: no locals, no facts, statements one level in. */
static void function_start(Emitter *e)
{
    e->local_count = 0;
    e->facts = 0;
    e->indent = 4;
    e->paths = NULL;
}

static void emit_step(Emitter *e, FILE *out, const Step *s, const FlowEdge *edge)
{
    char *body = NULL, *decls = NULL;
    size_t len = 0, decls_len = 0;
    function_start(e);
    FILE *paths = open_memstream(&decls, &decls_len);
    emit_paths_plan(e, s, paths);
    fclose(paths);
    e->fn = open_memstream(&body, &len);
    emit_step_body(e, s, edge);
    fclose(e->fn);
    fprintf(out, "\n/* %s (%s) - %s */\nstatic int %s(FlRun *r)\n{\n",
            s->key, step_type_name(s->type), cwrite_comment(e->arena, s->path),
            step_fn_name(e, s));
    if (e->facts & CX_ARENA)
        fputs("    FlArena *ar = fl_run_arena(r);\n", out);
    fputs(decls, out);
    fputs(body, out);
    fputs("}\n", out);
    free(body);
    free(decls);
}

/* ---- trigger verify ------------------------------------------------------ */

/* The runtime's FlVerifyScheme constants, by VerifyScheme. */
#define SCHEME_CONST_(c, name) "FL_VERIFY_" #c,
static const char *const scheme_consts[] = { FL_VERIFY_SCHEMES(SCHEME_CONST_) };

/* The secret as a function the runtime calls once at start; the checker
 * let it use env.NAME only, so it needs no run. */
static void emit_verify_secret(Emitter *e, FILE *out, const VerifyConfig *v)
{
    char *body = NULL;
    size_t len = 0;
    function_start(e);
    e->fn = open_memstream(&body, &len);
    emit_stmt(e, "return ", emit_template_value(e, v->secret), ";");
    fclose(e->fn);
    assert(!(e->facts & CX_RUN));   /* the checker allowed env.NAME only */
    fprintf(out, "\n/* verify secret (%s) - %s.config.verify.secret */\n"
                 "static const FlValue *w%d_secret(FlArena *ar)\n{\n",
            format_verify_schemes.names[v->scheme],
            cwrite_comment(e->arena, e->wf->trigger->path), e->wf_index);
    if (!(e->facts & CX_ARENA))
        fputs("    (void)ar;\n", out);
    fputs(body, out);
    fputs("}\n", out);
    free(body);
}

/* The FlVerify table: the scheme and its settings, and the secret's
 * function - never the secret itself. */
static void emit_verify_table(Emitter *e, FILE *out, const VerifyConfig *v)
{
    Arena *a = e->arena;
    fprintf(out,
            "static const FlVerify w%d_verify = {\n"
            "    .scheme = %s,\n    .secret = w%d_secret,\n"
            "    .tolerance_s = %ld,\n",
            e->wf_index, scheme_consts[v->scheme], e->wf_index,
            v->tolerance_s);
    if (v->scheme == VS_HMAC_SHA256)
        fprintf(out, "    .header = %s,\n    .base64 = %s,\n    .prefix = %s,\n",
                cwrite_string(a, v->header, strlen(v->header)),
                v->base64 ? "true" : "false",
                cwrite_string(a, v->prefix, strlen(v->prefix)));
    fputs("};\n", out);
}

/* ---- trigger dedupe (spec 8.3) ------------------------------------------- */

/* The verify scheme's delivery id: a header, or the body's id. */
static void emit_default_key(Emitter *e, FILE *out, VerifyScheme scheme)
{
    const char *header = scheme == VS_GITHUB ? "x-github-delivery"
                       : scheme == VS_SHOPIFY ? "x-shopify-webhook-id"
                       : scheme == VS_STANDARD_WEBHOOKS ? "webhook-id" : NULL;
    const char *part = header ? "headers" : "body", *field = header ? header : "id";
    fprintf(out, "    /* the %s delivery id: %s.%s */\n"
                 "    return fl_get_field(fl_get_field(fl_out(r, %s), \"%s\", %zu),\n"
                 "                        %s, %zu);\n",
            format_verify_schemes.names[scheme], part, field, e->step_names[0],
            part, strlen(part), cwrite_string(e->arena, field, strlen(field)),
            strlen(field));
}

/* The key as a function of the run, called before its first step: the
 * checker let it read the trigger's output and env.NAME only. */
static void emit_dedupe_key(Emitter *e, FILE *out, const TriggerConfig *t)
{
    char *body = NULL;
    size_t len = 0;
    function_start(e);
    e->fn = open_memstream(&body, &len);
    if (t->dedupe->key)
        emit_stmt(e, "return ", emit_template_value(e, t->dedupe->key), ";");
    else
        emit_default_key(e, e->fn, t->verify->scheme);
    fclose(e->fn);
    fprintf(out, "\n/* dedupe key - %s */\n"
                 "static const FlValue *w%d_dedupe_key(FlRun *r)\n{\n",
            cwrite_comment(e->arena, t->dedupe->path), e->wf_index);
    if (e->facts & CX_ARENA)
        fputs("    FlArena *ar = fl_run_arena(r);\n", out);
    fputs(body, out);
    fputs("}\n", out);
    free(body);
}

/* ---- tables ------------------------------------------------------------- */

/* Writes text as a block comment, through cwrite_comment, broken at
 * spaces into lines that fit. */
static void emit_comment(FILE *out, Arena *a, const char *text)
{
    const char *safe = cwrite_comment(a, text);
    const char *lead = "/* ";
    while (strlen(safe) > 74) {
        const char *cut = safe + 74;
        while (cut > safe && *cut != ' ')
            cut--;
        if (cut == safe)
            break;
        fprintf(out, "%s%.*s\n", lead, (int)(cut - safe), safe);
        safe = cut + 1;
        lead = " * ";
    }
    fprintf(out, "%s%s */\n", lead, safe);
}

/* Declares the FlKeep array of nodes (children first) as <name>_<n>, the
 * next n of *counter, unless an equal one exists; returns its name. */
static const char *emit_keep_nodes(Emitter *e, const char *name, int *counter,
                                   KeepNode *const *nodes, int count)
{
    const char **subs = arena_alloc(e->arena, (size_t)count * sizeof *subs);
    for (int i = 0; i < count; i++)
        if (nodes[i]->count)
            subs[i] = emit_keep_nodes(e, name, counter, nodes[i]->subs,
                                      nodes[i]->count);
    const char *rows = "";
    for (int i = 0; i < count; i++) {
        const KeepNode *n = nodes[i];
        CInit f[] = {
            { ".step", n->field ? NULL : cx_atom(e, e->step_names[n->step], 0) },
            { ".field", n->field ? c_string(e, n->field) : NULL },
            { ".field_len", n->field ? c_int(e, (long)strlen(n->field)) : NULL },
            { ".sub", subs[i] ? cx_atom(e, subs[i], 0) : NULL },
            { ".sub_count", subs[i] ? c_int(e, n->count) : NULL },
        };
        rows = arena_sprintf(e->arena, "%s    %s,\n", rows, cx_row(e, "", f, 5, 4));
    }
    return emit_shared_const(e, "FlKeep",
                             arena_sprintf(e->arena, "%s_%d", name, (*counter)++),
                             "[]", arena_sprintf(e->arena, "{\n%s}", rows));
}

/* Declares the FlKeepList of what a run waiting in step s keeps (keep.h)
 * with its arrays, if s is a delay, and returns the C of the row's keep
 * field: the list's address, or NULL. */
static const CExpr *emit_keep_list(Emitter *e, const Flow *flow, const Step *s)
{
    FILE *out = e->consts;
    KeepNode **nodes;
    if (s->type != ST_DELAY)
        return NULL;
    int count = keep_after(e->arena, e->wf, flow, s, &nodes);
    const char *list = emit_global(e, arena_sprintf(e->arena, "%s_keep",
                                                    step_fn_name(e, s)));
    const CExpr *address = cx_atom(e, arena_sprintf(e->arena, "&%s", list), 0);
    if (count == 0) {
        fprintf(out, "/* a run waiting in %s keeps no output */\n"
                "static const FlKeepList %s = { .outputs = NULL, .count = 0 };\n",
                cwrite_comment(e->arena, s->key), list);
        return address;
    }
    int counter = 0;
    const char *paths = keep_describe(e->arena, e->wf, nodes, count);
    emit_comment(out, e->arena, arena_sprintf(e->arena, "what a run keeps while "
                                              "it waits in %s: %s", s->key, paths));
    const char *array = emit_keep_nodes(e, list, &counter, nodes, count);
    fprintf(out, "static const FlKeepList %s = { .outputs = %s, .count = %d };\n",
            list, array, count);
    return address;
}

/* The runtime's FlStepType constants, by StepType. */
#define TYPE_CONST_(c, json, outputs, config) "FL_STEP_" #c,
static const char *const type_consts[] = { FL_STEP_TYPES(TYPE_CONST_) };

/* Declares the array of what a run resumed at step s needs from its
 * journal (keep_needs) and returns the C of the row's needs field, or
 * NULL when it needs nothing; the count into *count. */
static const CExpr *emit_needs(Emitter *e, const Flow *flow, const Step *s,
                               int *count)
{
    int *steps;
    *count = keep_needs(e->arena, e->wf, flow, e->wf_facts, s, &steps);
    if (*count == 0)
        return NULL;
    const char *name = emit_global(e, arena_sprintf(e->arena, "%s_needs",
                                                    step_fn_name(e, s)));
    fprintf(e->consts, "/* a run resumed at %s needs the outputs of these steps */\n"
            "static const int %s[] = {", cwrite_comment(e->arena, s->key), name);
    for (int i = 0; i < *count; i++)
        fprintf(e->consts, "%s %s", i ? "," : "", e->step_names[steps[i]]);
    fputs(" };\n", e->consts);
    return cx_atom(e, name, 0);
}

/* The FlStepInfo table; keeps[i] is step i's keep list or NULL, needs[i]
 * its needs array (need_counts[i] long) or NULL. */
static void emit_step_table(Emitter *e, FILE *out, const CExpr *const *keeps,
                            const CExpr *const *needs, const int *need_counts)
{
    const Workflow *w = e->wf;
    fprintf(out, "\nstatic const FlStepInfo w%d_steps[] = {\n", e->wf_index);
    for (int i = 0; i < w->step_count; i++) {
        const Step *s = w->all_steps[i];
        CInit f[] = {
            { ".key", c_string(e, s->key) },
            { ".type", cx_atom(e, type_consts[s->type], 0) },
            { ".path", c_string(e, s->path) },
            { ".fn", s->type == ST_TRIGGER ? NULL
                                          : cx_atom(e, step_fn_name(e, s), 0) },
            { ".on_error_continue", s->on_error_continue ? c_bool(e, true) : NULL },
            { ".keep", keeps[i] },
            { ".needs", needs[i] },
            { ".need_count", needs[i] ? c_int(e, need_counts[i]) : NULL },
            { ".loop", s->loop ? cx_atom(e, e->step_names[s->loop], 0) : NULL },
        };
        fprintf(out, "    %s,\n",
                cx_row(e, arena_sprintf(e->arena, "[%s] = ", e->step_names[i]),
                       f, sizeof f / sizeof f[0], 4));
    }
    fputs("};\n", out);
}

/* The names of the workflow's steps: their enum constants, W<N>_ and the
 * key in capitals, and their functions, w<N>_ and the key; made C
 * identifiers and unique in the program (W<N>_KEY_2 ...).  The names of
 * the workflow's tables are taken first. */
static void name_steps(Emitter *e, StrSet *taken)
{
    const Workflow *w = e->wf;
    static const char *const tables[] = { "", "_steps", "_methods", "_verify",
                                          "_secret", "_dedupe", "_dedupe_key" };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        emit_global(e, arena_sprintf(e->arena, "w%d%s", e->wf_index, tables[i]));
    e->step_names = arena_alloc(e->arena, sizeof *e->step_names
                                          * (size_t)w->step_count);
    e->fn_names = arena_alloc(e->arena, sizeof *e->fn_names
                                        * (size_t)w->step_count);
    for (int i = 0; i < w->step_count; i++) {
        e->fn_names[i] = emit_global(e, arena_sprintf(e->arena, "w%d_%s",
                                                      e->wf_index,
                                                      w->all_steps[i]->key));
        char *base = arena_sprintf(e->arena, "W%d_%s", e->wf_index,
                                   w->all_steps[i]->key);
        for (char *p = base; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
            else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '_';
        const char *name = base;
        for (int n = 2; strset_add(taken, name, (void *)name); n++)
            name = arena_sprintf(e->arena, "%s_%d", base, n);
        e->step_names[i] = name;
    }
}

/* enum { W0_TRIGGER, ... }: the step indexes, each with its JSON path. */
static void emit_step_enum(Emitter *e, FILE *out)
{
    const Workflow *w = e->wf;
    int width = 0;
    for (int i = 0; i < w->step_count; i++)
        if ((int)strlen(e->step_names[i]) > width)
            width = (int)strlen(e->step_names[i]);
    fputs("\nenum {\n", out);
    for (int i = 0; i < w->step_count; i++)
        fprintf(out, "    %s,%*s  /* %s */\n", e->step_names[i],
                width - (int)strlen(e->step_names[i]), "",
                cwrite_comment(e->arena, w->all_steps[i]->path));
    fputs("};\n", out);
}

static const char *methods_joined(Emitter *e, const TriggerConfig *t)
{
    const char *allow = "";
    for (int i = 0; i < t->method_count; i++)
        allow = arena_sprintf(e->arena, "%s%s%s", allow, i ? ", " : "",
                              t->methods[i]);
    return allow;
}

static void emit_workflow_table(Emitter *e, FILE *out, const Flow *flow)
{
    const Workflow *w = e->wf;
    const TriggerConfig *t = &w->trigger->as.trigger;
    Arena *a = e->arena;
    fprintf(out, "static const char *const w%d_methods[] = {", e->wf_index);
    for (int i = 0; i < t->method_count; i++)
        fprintf(out, "%s %s", i ? "," : "",
                cwrite_string(a, t->methods[i], strlen(t->methods[i])));
    fputs(" };\n", out);
    const char *allow = methods_joined(e, t);
    if (t->verify)
        emit_verify_table(e, out, t->verify);
    if (t->dedupe)
        fprintf(out, "static const FlDedupe w%d_dedupe = {\n"
                     "    .key = w%d_dedupe_key,\n    .window_s = %ld,\n};\n",
                e->wf_index, e->wf_index, t->dedupe->window_s);
    fprintf(out,
            "static const FlWorkflow w%d = {\n"
            "    .name = %s,\n    .file = %s,\n    .path = %s,\n"
            "    .methods = w%d_methods,\n    .method_count = %d,\n"
            "    .allow = %s,\n"
            "    .response_timeout_ms = %ld,\n    .max_body_bytes = %ld,\n"
            "    .verify = %s,\n%s"
            "    .steps = w%d_steps,\n    .step_count = %d,\n"
            "    .first = %s,\n    .default_at_start = %s,\n"
            "    .shape = INT64_C(%lld),\n};\n",
            e->wf_index, cwrite_string(a, w->name, strlen(w->name)),
            cwrite_string(a, w->file, strlen(w->file)),
            cwrite_string(a, t->path, strlen(t->path)), e->wf_index,
            t->method_count, cwrite_string(a, allow, strlen(allow)),
            t->response_timeout_ms, t->max_body_bytes,
            t->verify ? arena_sprintf(a, "&w%d_verify", e->wf_index) : "NULL",
            t->dedupe ? arena_sprintf(a, "    .dedupe = &w%d_dedupe,\n", e->wf_index) : "",
            e->wf_index,
            w->step_count, next_text(e, flow->first),
            flow->default_at_start ? "true" : "false", (long long)w->shape);
}

static void emit_workflow(Emitter *e, FILE *out, StrSet *taken)
{
    const Workflow *w = e->wf;
    const Flow *flow = flow_analyse(e->arena, w);
    name_steps(e, taken);
    char *consts = NULL, *fns = NULL;
    size_t consts_len = 0, fns_len = 0;
    e->consts = open_memstream(&consts, &consts_len);
    FILE *functions = open_memstream(&fns, &fns_len);
    if (w->trigger->as.trigger.verify)
        emit_verify_secret(e, functions, w->trigger->as.trigger.verify);
    if (w->trigger->as.trigger.dedupe)
        emit_dedupe_key(e, functions, &w->trigger->as.trigger);
    for (int i = 1; i < w->step_count; i++)
        emit_step(e, functions, w->all_steps[i], &flow->edges[i]);
    const CExpr **keeps = arena_alloc(e->arena, (size_t)w->step_count * sizeof *keeps);
    const CExpr **needs = arena_alloc(e->arena, (size_t)w->step_count * sizeof *needs);
    int *need_counts = arena_alloc(e->arena, (size_t)w->step_count * sizeof *need_counts);
    for (int i = 0; i < w->step_count; i++) {
        keeps[i] = emit_keep_list(e, flow, w->all_steps[i]);
        if (i > 0)
            needs[i] = emit_needs(e, flow, w->all_steps[i], &need_counts[i]);
    }
    fclose(functions);
    fclose(e->consts);
    fprintf(out, "\n/* ==== workflow %d: %s (%s) ==== */\n", e->wf_index,
            cwrite_comment(e->arena, w->name), cwrite_comment(e->arena, w->file));
    emit_step_enum(e, out);
    if (consts_len)
        fprintf(out, "\n%s", consts);
    fputs(fns, out);
    emit_step_table(e, out, keeps, needs, need_counts);
    emit_workflow_table(e, out, flow);
    free(consts);
    free(fns);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every env name of every workflow, sorted, once each. */
static void merge_env(Emitter *e, const WorkflowFacts *facts, int count)
{
    int total = 0, cap = 0;
    const char **all = NULL;
    for (int i = 0; i < count; i++)
        for (int j = 0; j < facts[i].env_count; j++)
            all = (const char **)arena_push(e->arena, (void **)all, &total,
                                            &cap, (void *)facts[i].env_names[j]);
    if (total)
        qsort(all, (size_t)total, sizeof *all, compare_names);
    int n = 0;
    for (int i = 0; i < total; i++)
        if (n == 0 || strcmp(all[n - 1], all[i]) != 0)
            all[n++] = all[i];
    e->env_names = all;
    e->env_count = n;
}

static void emit_string_array(Emitter *e, FILE *out, const char *type,
                              const char *name, const char **items, int count)
{
    if (count == 0)
        return;
    fprintf(out, "static %s %s[] = {\n", type, name);
    for (int i = 0; i < count; i++)
        fprintf(out, "    %s,\n", cwrite_string(e->arena, items[i], strlen(items[i])));
    fputs("};\n", out);
}

/* Whether any workflow has a step of type t: only then does the program
 * link the runtime's client for it (and its library: libcurl). */
static bool program_has(Workflow *const *ws, int count, StepType t)
{
    for (int i = 0; i < count; i++)
        for (int j = 0; j < ws[i]->step_count; j++)
            if (ws[i]->all_steps[j]->type == t)
                return true;
    return false;
}

/* The databases the handler opens at start, one row a database step. */
static void emit_databases(Emitter *e, FILE *out)
{
    if (e->database_count == 0)
        return;
    fputs("static const FlDatabase databases[] = {\n", out);
    for (int i = 0; i < e->database_count; i++)
        fprintf(out, "    %s,\n", e->databases[i]);
    fputs("};\n", out);
}

static void emit_main(Emitter *e, FILE *out, int count, bool calls_out,
                      bool emails)
{
    fputs("\n/* ==== the program ==== */\n\n", out);
    fputs("static const FlWorkflow *const workflows[] = {", out);
    for (int i = 0; i < count; i++)
        fprintf(out, "%s &w%d", i ? "," : "", i);
    fputs(" };\n", out);
    emit_string_array(e, out, "const char *const", "env_names", e->env_names,
                      e->env_count);
    if (e->regex_count) {
        fputs("static FlRegex regexes[] = {\n", out);
        for (int i = 0; i < e->regex_count; i++)
            fprintf(out, "    { .pattern = %s },\n",
                    cwrite_string(e->arena, e->regexes[i], strlen(e->regexes[i])));
        fputs("};\n", out);
    }
    emit_databases(e, out);
    fprintf(out,
            "static const FlProgram program = {\n"
            "    .workflows = workflows,\n    .workflow_count = %d,\n"
            "    .env_names = %s,\n    .env_count = %d,\n"
            "    .regexes = %s,\n    .regex_count = %d,\n%s%s%s};\n\n"
            "int main(int argc, char **argv)\n{\n"
            "    return fl_main(argc, argv, &program);\n}\n",
            count, e->env_count ? "env_names" : "NULL", e->env_count,
            e->regex_count ? "regexes" : "NULL", e->regex_count,
            calls_out ? "    .http_start = fl_http_start,\n"
                        "    .http_stop = fl_http_stop,\n" : "",
            /* only then are the database clients (and libpq) linked */
            e->database_count
                ? arena_sprintf(e->arena, "    .databases = databases,\n"
                                "    .database_count = %d,\n"
                                "    .db_start = fl_db_start,\n"
                                "    .db_stop = fl_db_stop,\n",
                                e->database_count) : "",
            emails ? "    .email_start = fl_email_start,\n"
                     "    .email_stop = fl_email_stop,\n" : "");
}

void emit_program(Arena *a, FILE *out, Workflow *const *ws,
                  const WorkflowFacts *facts, int count)
{
    Emitter e = { .arena = a, .shared = strset_new(a), .globals = strset_new(a) };
    StrSet *enums = strset_new(a);
    merge_env(&e, facts, count);
    fprintf(out, "/* Generated by flussoc %s from", FLUSSOC_VERSION);
    for (int i = 0; i < count; i++)
        fprintf(out, " %s", cwrite_comment(a, ws[i]->file));
    fputs(".\n * Do not edit: change the workflow and compile again. */\n"
          "#include <flusso.h>\n", out);
    for (int i = 0; i < count; i++) {
        e.wf = ws[i];
        e.wf_facts = &facts[i];
        e.wf_index = i;
        emit_workflow(&e, out, enums);
    }
    emit_main(&e, out, count, program_has(ws, count, ST_HTTP_REQUEST),
              program_has(ws, count, ST_SEND_EMAIL));
}
