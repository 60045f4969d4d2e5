/* emit.c - the generated program: one step function per step, a table per
 * workflow (with its verify settings and secret function), and main().
 *
 * The shape mirrors the workflow: each step becomes a function named after
 * the workflow's number and the step's key, introduced by a comment with
 * its key, type and JSON path, and returning the index of the step that
 * runs next (see runtime/flusso.h, "Runs").  A gate returns one of its two
 * branch heads; the default 202 of spec §4.3 is sent on the branch edges
 * flow.c found.  Functions are written in step-index order, so a branch's
 * steps follow their gate. */
#include "emit.h"

#include <stdlib.h>
#include <string.h>

#include "cwrite.h"
#include "emit_impl.h"
#include "flow.h"
#include "keep.h"
#include "version.h"

static const char *step_fn_name(Emitter *e, const Step *s)
{
    return arena_sprintf(e->arena, "w%d_%s", e->wf_index, s->key);
}

static const char *next_text(Emitter *e, int next)
{
    return next < 0 ? "FL_NEXT_END" : arena_sprintf(e->arena, "%d", next);
}

static void emit_return(Emitter *e, const char *indent, int next)
{
    if (next < 0) {
        fprintf(e->fn, "%sreturn FL_NEXT_END;\n", indent);
        return;
    }
    const Step *s = e->wf->all_steps[next];
    fprintf(e->fn, "%sreturn %d;  /* -> %s */\n", indent, next, s->key);
}

/* Fails the step when the helper call returned a negative value. */
static void emit_fail_check(Emitter *e, const Step *s, const char *call,
                            int next)
{
    /* A webhook_response that fails under on_error continue has answered
     * nothing, and no other response can follow it on this path (the
     * checker allows one per path): the default 202 goes out right away. */
    if (s->type == ST_RESPONSE && s->on_error_continue) {
        fprintf(e->fn,
                "    if (%s < 0) {\n"
                "        int next = fl_step_failed(r, %d, fl_run_error(r), %s);\n"
                "        fl_respond_default(r);  /* no response can follow */\n"
                "        return next;\n"
                "    }\n",
                call, s->index, next_text(e, next));
        return;
    }
    fprintf(e->fn,
            "    if (%s < 0)\n"
            "        return fl_step_failed(r, %d, fl_run_error(r), %s);\n",
            call, s->index, next_text(e, next));
}

/* The C for field of the value expression v: kN.u.s for a constant &kN,
 * else v->u.s. */
static const char *field_of(Emitter *e, const char *v, const char *field)
{
    if (v[0] == '&')
        return arena_sprintf(e->arena, "%s.%s", v + 1, field);
    return arena_sprintf(e->arena, "%s->%s", v, field);
}

/* ---- one function per step type -------------------------------------- */

static const char *condition_call(Emitter *e, const Condition *c)
{
    static const char *const names[] = {
        [COND_EQUALS] = "equals", [COND_NOT_EQUALS] = "not_equals",
        [COND_CONTAINS] = "contains", [COND_NOT_CONTAINS] = "not_contains",
        [COND_STARTS_WITH] = "starts_with", [COND_ENDS_WITH] = "ends_with",
        [COND_GREATER_THAN] = "greater_than",
        [COND_GREATER_OR_EQUAL] = "greater_or_equal",
        [COND_LESS_THAN] = "less_than", [COND_LESS_OR_EQUAL] = "less_or_equal",
        [COND_IS_EMPTY] = "is_empty", [COND_IS_NOT_EMPTY] = "is_not_empty",
        [COND_EXISTS] = "exists", [COND_MATCHES] = "matches",
    };
    const char *left = emit_template_value(e, c->left);
    if (c->op == COND_MATCHES) {
        e->regexes = (const char **)arena_push(e->arena, (void **)e->regexes,
                                               &e->regex_count, &e->regex_cap,
                                               (void *)c->pattern);
        return arena_sprintf(e->arena, "fl_cond_matches(fl_regex(%d), %s)",
                             e->regex_count - 1, left);
    }
    if (!c->right)
        return arena_sprintf(e->arena, "fl_cond_%s(%s)", names[c->op], left);
    return arena_sprintf(e->arena, "fl_cond_%s(%s, %s)", names[c->op], left,
                         emit_template_value(e, c->right));
}

/* The gate's condition as a C boolean; operands are computed first. */
static const char *gate_condition(Emitter *e, const GateConfig *g)
{
    if (g->condition)
        return arena_sprintf(e->arena, "fl_truthy(%s)",
                             emit_template_value(e, g->condition));
    const char *all = "";
    const char *join = g->match_any ? " || " : " && ";
    for (int i = 0; i < g->condition_count; i++) {
        const char *c = arena_sprintf(e->arena, "c%d", i + 1);
        fprintf(e->fn, "    bool %s = %s;\n", c,
                condition_call(e, &g->conditions[i]));
        all = arena_sprintf(e->arena, "%s%s%s", all, i ? join : "", c);
    }
    return all;
}

static void emit_gate(Emitter *e, const Step *s, const FlowEdge *edge)
{
    fprintf(e->fn, "    bool pass = %s;\n", gate_condition(e, &s->as.gate));
    fprintf(e->fn, "    fl_step_done(r, %d, pass ? &fl_gate_true : "
                   "&fl_gate_false);\n", s->index);
    fputs("    if (pass) {\n", e->fn);
    if (edge->default_on_true)
        fputs("        fl_respond_default(r);  /* no response can follow */\n",
              e->fn);
    emit_return(e, "        ", edge->on_true);
    fputs("    }\n", e->fn);
    if (edge->default_on_false)
        fputs("    fl_respond_default(r);  /* no response can follow */\n",
              e->fn);
    emit_return(e, "    ", edge->on_false);
}

static const char *emit_headers(Emitter *e, const NamedTemplate *h, int count)
{
    if (count == 0)
        return NULL;
    const char **values = arena_alloc(e->arena, sizeof *values * (size_t)count);
    for (int i = 0; i < count; i++)
        values[i] = emit_template_text(e, h[i].tmpl);
    const char *name = emit_local(e, "h");
    fprintf(e->fn, "    FlHeader %s[%d] = {\n", name, count);
    for (int i = 0; i < count; i++)
        fprintf(e->fn, "        { %s, %s, %s },\n",
                cwrite_string(e->arena, h[i].name, strlen(h[i].name)),
                field_of(e, values[i], "u.s"), field_of(e, values[i], "len"));
    fputs("    };\n", e->fn);
    return name;
}

/* Sets resp.body for the response body; constant JSON is serialised here,
 * at compile time, and sent from static memory. */
static void emit_body(Emitter *e, const Step *s)
{
    const TValue *body = s->as.response.body;
    if (!body)
        return;
    const char *value;
    if (tvalue_is_constant(body)) {
        size_t len;
        const char *text = body->kind == TV_TEMPLATE
            ? template_constant_text(e->arena, body->tmpl, &len)
            : cwrite_json(e->arena, body, &len);
        fprintf(e->consts, "static const char w%d_%s_body[] = %s;\n",
                e->wf_index, s->key, cwrite_string(e->arena, text, len));
        fprintf(e->fn, "    resp.body = w%d_%s_body;\n", e->wf_index, s->key);
        fprintf(e->fn, "    resp.body_len = sizeof w%d_%s_body - 1;\n",
                e->wf_index, s->key);
        fputs("    resp.body_static = true;\n", e->fn);
        return;
    }
    if (body->kind == TV_TEMPLATE)
        value = emit_template_text(e, body->tmpl);
    else
        value = emit_tvalue_json(e, body);
    fprintf(e->fn, "    resp.body = %s;\n    resp.body_len = %s;\n",
            field_of(e, value, "u.s"), field_of(e, value, "len"));
}

static void emit_response(Emitter *e, const Step *s, int next)
{
    const ResponseConfig *c = &s->as.response;
    const char *headers = emit_headers(e, c->headers, c->header_count);
    fputs("    FlResponse resp = { 0 };\n", e->fn);
    if (c->status.is_template) {
        fprintf(e->fn, "    resp.status = fl_status_from_value(r, %s);\n",
                emit_template_value(e, c->status.tmpl));
        emit_fail_check(e, s, "resp.status", next);
    } else {
        fprintf(e->fn, "    resp.status = %ld;\n", c->status.value);
    }
    emit_body(e, s);
    fprintf(e->fn, "    resp.content_type = %s;\n",
            cwrite_string(e->arena, c->content_type, strlen(c->content_type)));
    if (headers)
        fprintf(e->fn, "    resp.headers = %s;\n    resp.header_count = %d;\n",
                headers, c->header_count);
    emit_fail_check(e, s, arena_sprintf(e->arena, "fl_respond(r, %d, &resp)",
                                        s->index), next);
    emit_return(e, "    ", next);
}

static void emit_set(Emitter *e, const Step *s, int next)
{
    const SetConfig *c = &s->as.set;
    TValue whole = { .kind = TV_OBJECT, .items = c->values, .keys = c->names,
                     .count = c->count, .path = s->path };
    fprintf(e->fn, "    fl_step_done(r, %d, %s);\n", s->index,
            emit_tvalue(e, &whole));
    emit_return(e, "    ", next);
}

static void emit_log(Emitter *e, const Step *s, int next)
{
    static const char *const levels[] = {
        [LOG_DEBUG] = "FL_LOG_DEBUG", [LOG_INFO] = "FL_LOG_INFO",
        [LOG_WARN] = "FL_LOG_WARN", [LOG_ERROR] = "FL_LOG_ERROR",
    };
    const LogConfig *c = &s->as.log;
    const char *msg = emit_template_text(e, c->message);
    const char *file = c->file ? cwrite_string(e->arena, c->file, strlen(c->file))
                               : "NULL";
    emit_fail_check(e, s,
                    arena_sprintf(e->arena, "fl_log(r, %d, %s, %s, %s, %s)",
                                  s->index, levels[c->level],
                                  field_of(e, msg, "u.s"),
                                  field_of(e, msg, "len"), file),
                    next);
    emit_return(e, "    ", next);
}

static void emit_delay(Emitter *e, const Step *s, int next)
{
    const IntOrTemplate *ms = &s->as.delay.ms;
    const char *value;
    if (ms->is_template) {
        value = emit_template_value(e, ms->tmpl);
    } else {
        const char *name = arena_sprintf(e->arena, "k%d", ++e->const_count);
        fprintf(e->consts, "static const FlValue %s = FL_NUMBER_LIT(%ld);\n",
                name, ms->value);
        value = arena_sprintf(e->arena, "&%s", name);
    }
    emit_fail_check(e, s, arena_sprintf(e->arena, "fl_delay(r, %d, %s, %s)",
                                        s->index, value, next_text(e, next)),
                    next);
    fputs("    return FL_NEXT_WAIT;\n", e->fn);
}

/* The request body: constant bodies become static text, compact JSON
 * serialised here; a string body is text, anything else JSON. */
static const char *http_body(Emitter *e, const TValue *body)
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
 * when the answer is in (or fails the step); the run waits on no thread. */
static void emit_http(Emitter *e, const Step *s, int next)
{
    const HttpConfig *c = &s->as.http;
    const char *method = c->method ? emit_template_text(e, c->method)
                                   : emit_const_string(e, "GET", 3);
    const char *url = emit_template_text(e, c->url);
    const char *headers = emit_headers(e, c->headers, c->header_count);
    const char *body = c->body ? http_body(e, c->body) : NULL;
    fprintf(e->fn, "    const FlHttpRequest req = {\n"
                   "        .method = %s,\n        .url = %s,\n", method, url);
    if (headers)
        fprintf(e->fn, "        .headers = %s,\n        .header_count = %d,\n",
                headers, c->header_count);
    if (body)
        fprintf(e->fn, "        .body = %s,\n        .body_is_json = %s,\n", body,
                c->body->kind == TV_TEMPLATE ? "false" : "true");
    fprintf(e->fn, "        .timeout_ms = %ld,\n        .retries = %ld,\n"
                   "        .fail_on_status = %s,\n        .follow_redirects = %s,\n"
                   "        .max_response_bytes = %ld,\n    };\n",
            c->timeout_ms, c->retries, c->fail_on_status ? "true" : "false",
            c->follow_redirects ? "true" : "false", c->max_response_bytes);
    emit_fail_check(e, s, arena_sprintf(e->arena, "fl_http(r, %d, &req, %s)",
                                        s->index, next_text(e, next)),
                    next);
    fputs("    return FL_NEXT_WAIT;\n", e->fn);
}

/* ---- a step function --------------------------------------------------- */

static void emit_step_body(Emitter *e, const Step *s, const FlowEdge *edge)
{
    switch (s->type) {
    case ST_LOGIC_GATE:   emit_gate(e, s, edge); break;
    case ST_RESPONSE:     emit_response(e, s, edge->next); break;
    case ST_SET:          emit_set(e, s, edge->next); break;
    case ST_LOG:          emit_log(e, s, edge->next); break;
    case ST_DELAY:        emit_delay(e, s, edge->next); break;
    case ST_HTTP_REQUEST: emit_http(e, s, edge->next); break;
    case ST_TRIGGER:      /* not a function: the runtime fills its output */
        abort();
    }
}

/* Whether generated text uses the arena local `ar` as an argument. */
static bool uses_arena(const char *body)
{
    return strstr(body, "(ar,") || strstr(body, "(ar)") || strstr(body, ", ar)");
}

static void emit_step(Emitter *e, FILE *out, const Step *s, const FlowEdge *edge)
{
    char *body = NULL;
    size_t len = 0;
    e->fn = open_memstream(&body, &len);
    e->local_count = 0;
    emit_step_body(e, s, edge);
    fclose(e->fn);
    fprintf(out, "\n/* %s (%s) - %s */\nstatic int %s(FlRun *r)\n{\n",
            s->key, step_type_name(s->type), cwrite_comment(e->arena, s->path),
            step_fn_name(e, s));
    if (uses_arena(body))
        fputs("    FlArena *ar = fl_run_arena(r);\n", out);
    fputs(body, out);
    fputs("}\n", out);
    free(body);
}

/* ---- trigger verify ------------------------------------------------------ */

/* In VerifyScheme order. */
static const char *const scheme_names[][2] = {
    { "github", "FL_VERIFY_GITHUB" }, { "stripe", "FL_VERIFY_STRIPE" },
    { "shopify", "FL_VERIFY_SHOPIFY" }, { "slack", "FL_VERIFY_SLACK" },
    { "standard_webhooks", "FL_VERIFY_STANDARD_WEBHOOKS" },
    { "hmac_sha256", "FL_VERIFY_HMAC_SHA256" },
};

/* The secret as a function the runtime calls once at start; the checker
 * let it use env.NAME only, so it needs no run. */
static void emit_verify_secret(Emitter *e, FILE *out, const VerifyConfig *v)
{
    char *body = NULL;
    size_t len = 0;
    e->fn = open_memstream(&body, &len);
    e->local_count = 0;
    fprintf(e->fn, "    return %s;\n", emit_template_value(e, v->secret));
    fclose(e->fn);
    fprintf(out, "\n/* verify secret (%s) - %s.config.verify.secret */\n"
                 "static const FlValue *w%d_secret(FlArena *ar)\n{\n",
            scheme_names[v->scheme][0],
            cwrite_comment(e->arena, e->wf->trigger->path), e->wf_index);
    if (!uses_arena(body))
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
            e->wf_index, scheme_names[v->scheme][1], e->wf_index,
            v->tolerance_s);
    if (v->scheme == VS_HMAC_SHA256)
        fprintf(out, "    .header = %s,\n    .base64 = %s,\n    .prefix = %s,\n",
                cwrite_string(a, v->header, strlen(v->header)),
                v->base64 ? "true" : "false",
                cwrite_string(a, v->prefix, strlen(v->prefix)));
    fputs("};\n", out);
}

/* ---- tables ------------------------------------------------------------- */

/* Writes the FlKeep array of nodes (children first) as <name>_<n>, the
 * next n of *counter; returns its name. */
static const char *emit_keep_nodes(Emitter *e, FILE *out, const char *name,
                                   int *counter, KeepNode *const *nodes, int count)
{
    const char **subs = arena_alloc(e->arena, (size_t)count * sizeof *subs);
    for (int i = 0; i < count; i++)
        if (nodes[i]->count)
            subs[i] = emit_keep_nodes(e, out, name, counter, nodes[i]->subs,
                                      nodes[i]->count);
    const char *array = arena_sprintf(e->arena, "%s_%d", name, (*counter)++);
    fprintf(out, "static const FlKeep %s[] = {\n", array);
    for (int i = 0; i < count; i++) {
        const KeepNode *n = nodes[i];
        const char *field = n->field ? cwrite_string(e->arena, n->field,
                                                      strlen(n->field)) : "NULL";
        fprintf(out, "    { %d, %s, %zu, %s, %d },\n", n->field ? 0 : n->step,
                field, n->field ? strlen(n->field) : 0, subs[i] ? subs[i] : "NULL",
                n->count);
    }
    fputs("};\n", out);
    return array;
}

/* Writes the FlKeepList of what a run waiting in step s keeps (keep.h)
 * with its arrays, if s is a delay, and returns the C of the row's keep
 * field: the list's address, or NULL. */
static const char *emit_keep_list(Emitter *e, FILE *out, const Flow *flow,
                               const Step *s)
{
    KeepNode **nodes;
    if (s->type != ST_DELAY)
        return "NULL";
    int count = keep_after(e->arena, e->wf, flow, s, &nodes);
    const char *list = arena_sprintf(e->arena, "w%d_keep%d", e->wf_index, s->index);
    if (count == 0) {
        fprintf(out, "/* a run waiting in %s keeps no output */\n"
                "static const FlKeepList %s = { NULL, 0 };\n",
                cwrite_comment(e->arena, s->key), list);
        return arena_sprintf(e->arena, "&%s", list);
    }
    int counter = 0;
    const char *paths = keep_describe(e->arena, e->wf, nodes, count);
    fprintf(out, "/* what a run keeps while it waits in %s: %s */\n",
            cwrite_comment(e->arena, s->key), cwrite_comment(e->arena, paths));
    const char *array = emit_keep_nodes(e, out, list, &counter, nodes, count);
    fprintf(out, "static const FlKeepList %s = { %s, %d };\n", list, array, count);
    return arena_sprintf(e->arena, "&%s", list);
}

static void emit_step_table(Emitter *e, FILE *out, const Flow *flow)
{
    const Workflow *w = e->wf;
    const char **keeps = arena_alloc(e->arena, (size_t)w->step_count * sizeof *keeps);
    fputc('\n', out);
    for (int i = 0; i < w->step_count; i++)
        keeps[i] = emit_keep_list(e, out, flow, w->all_steps[i]);
    fprintf(out, "static const FlStepInfo w%d_steps[] = {\n", e->wf_index);
    for (int i = 0; i < w->step_count; i++) {
        const Step *s = w->all_steps[i];
        fprintf(out, "    { %s, \"%s\", %s, %s, %s, %s },\n",
                cwrite_string(e->arena, s->key, strlen(s->key)),
                step_type_name(s->type),
                cwrite_string(e->arena, s->path, strlen(s->path)),
                s->type == ST_TRIGGER ? "NULL" : step_fn_name(e, s),
                s->on_error_continue ? "true" : "false", keeps[i]);
    }
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
    fprintf(out,
            "static const FlWorkflow w%d = {\n"
            "    .name = %s,\n    .file = %s,\n    .path = %s,\n"
            "    .methods = w%d_methods,\n    .method_count = %d,\n"
            "    .allow = %s,\n"
            "    .response_timeout_ms = %ld,\n    .max_body_bytes = %ld,\n"
            "    .verify = %s,\n"
            "    .steps = w%d_steps,\n    .step_count = %d,\n"
            "    .first = %s,\n    .default_at_start = %s,\n};\n",
            e->wf_index, cwrite_string(a, w->name, strlen(w->name)),
            cwrite_string(a, w->file, strlen(w->file)),
            cwrite_string(a, t->path, strlen(t->path)), e->wf_index,
            t->method_count, cwrite_string(a, allow, strlen(allow)),
            t->response_timeout_ms, t->max_body_bytes,
            t->verify ? arena_sprintf(a, "&w%d_verify", e->wf_index) : "NULL",
            e->wf_index,
            w->step_count, next_text(e, flow->first),
            flow->default_at_start ? "true" : "false");
}

static void emit_workflow(Emitter *e, FILE *out)
{
    const Workflow *w = e->wf;
    const Flow *flow = flow_analyse(e->arena, w);
    char *consts = NULL, *fns = NULL;
    size_t consts_len = 0, fns_len = 0;
    e->consts = open_memstream(&consts, &consts_len);
    FILE *functions = open_memstream(&fns, &fns_len);
    if (w->trigger->as.trigger.verify)
        emit_verify_secret(e, functions, w->trigger->as.trigger.verify);
    for (int i = 1; i < w->step_count; i++)
        emit_step(e, functions, w->all_steps[i], &flow->edges[i]);
    fclose(functions);
    fclose(e->consts);
    fprintf(out, "\n/* ==== workflow %d: %s (%s) ==== */\n", e->wf_index,
            cwrite_comment(e->arena, w->name), cwrite_comment(e->arena, w->file));
    if (consts_len)
        fprintf(out, "\n%s", consts);
    fputs(fns, out);
    emit_step_table(e, out, flow);
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

/* Whether any workflow has an http_request step: only then does the
 * program link the runtime's HTTP client (and libcurl). */
static bool program_calls_out(Workflow *const *ws, int count)
{
    for (int i = 0; i < count; i++)
        for (int j = 0; j < ws[i]->step_count; j++)
            if (ws[i]->all_steps[j]->type == ST_HTTP_REQUEST)
                return true;
    return false;
}

static void emit_main(Emitter *e, FILE *out, int count, bool calls_out)
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
    fprintf(out,
            "static const FlProgram program = {\n"
            "    .workflows = workflows,\n    .workflow_count = %d,\n"
            "    .env_names = %s,\n    .env_count = %d,\n"
            "    .regexes = %s,\n    .regex_count = %d,\n%s};\n\n"
            "int main(int argc, char **argv)\n{\n"
            "    return fl_main(argc, argv, &program);\n}\n",
            count, e->env_count ? "env_names" : "NULL", e->env_count,
            e->regex_count ? "regexes" : "NULL", e->regex_count,
            calls_out ? "    .http_start = fl_http_start,\n"
                        "    .http_stop = fl_http_stop,\n" : "");
}

void emit_program(Arena *a, FILE *out, Workflow *const *ws,
                  const WorkflowFacts *facts, int count)
{
    Emitter e = { .arena = a };
    merge_env(&e, facts, count);
    fprintf(out, "/* Generated by flussoc %s from", FLUSSOC_VERSION);
    for (int i = 0; i < count; i++)
        fprintf(out, " %s", cwrite_comment(a, ws[i]->file));
    fputs(".\n * Do not edit: change the workflow and compile again. */\n"
          "#include <flusso.h>\n", out);
    for (int i = 0; i < count; i++) {
        e.wf = ws[i];
        e.wf_index = i;
        emit_workflow(&e, out);
    }
    emit_main(&e, out, count, program_calls_out(ws, count));
}
