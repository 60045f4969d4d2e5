/* test_emit.c - the pieces of code generation that must be exactly right:
 * C literals (no workflow text may escape them), comments, compile-time
 * JSON, the response-point analysis of spec §4.3, what a run waiting in a
 * delay keeps (keep.h): a read the analysis missed would be null - and
 * the shape of the generated C: a lookup made once, conditions that stop
 * early, constants once, failure checks only where a helper can fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cwrite.h"
#include "emit.h"
#include "flow.h"
#include "keep.h"
#include "unit.h"

static void test_c_string_escapes(void)
{
    Arena *a = arena_new();
    const char in[] = "a\"b\\c?*/\n\x01\xc3\xa9%s\0z";
    CU_ASSERT_STRING_EQUAL(cwrite_string(a, in, sizeof in - 1),
                           "\"a\\\"b\\\\c\\?*/\\n\\001\\303\\251%s\\000z\"");
    CU_ASSERT_STRING_EQUAL(cwrite_string(a, "", 0), "\"\"");
    arena_free(a);
}

static void test_c_string_splits_long_text(void)
{
    Arena *a = arena_new();
    char in[200];
    memset(in, 'x', sizeof in);
    const char *out = cwrite_string(a, in, sizeof in);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"\n        \""));
    /* every piece is a complete literal: quotes balance */
    int quotes = 0;
    for (const char *p = out; *p; p++)
        quotes += *p == '"';
    CU_ASSERT_EQUAL(quotes % 2, 0);
    arena_free(a);
}

static void test_comment_cannot_close(void)
{
    Arena *a = arena_new();
    CU_ASSERT_STRING_EQUAL(cwrite_comment(a, "a*/b\nc\xc3\xa9"), "a*|b?c??");
    CU_ASSERT_STRING_EQUAL(cwrite_comment(a, "steps[0].branches.true[1]"),
                           "steps[0].branches.true[1]");
    arena_free(a);
}

static void test_json_string(void)
{
    Arena *a = arena_new();
    CU_ASSERT_STRING_EQUAL(cwrite_json_string(a, "q\"\\\n\x1f/\xc3\xa9", 8),
                           "\"q\\\"\\\\\\n\\u001f/\xc3\xa9\"");
    arena_free(a);
}

/* Loads json (must be valid) and analyses it. */
static const Flow *analyse(Arena *a, const char *json, const Workflow **w)
{
    Diag *d = diag_new(a, "t.json", false);
    *w = workflow_load(a, d, "t.json", json, strlen(json));
    CU_ASSERT_EQUAL_FATAL(diag_error_count(d), 0);
    return flow_analyse(a, *w);
}

#define WF(steps)                                                         \
    "{\"name\":\"t\",\"trigger\":{\"key\":\"trigger\",\"type\":"          \
    "\"webhook_trigger\",\"config\":{\"path\":\"/t\"}},\"steps\":[" steps "]}"
#define LOG(key) "{\"key\":\"" key "\",\"type\":\"log\",\"config\":{\"message\":\"m\"}}"
#define RESP(key) "{\"key\":\"" key "\",\"type\":\"webhook_response\"}"
#define GATE(key, t, f)                                                    \
    "{\"key\":\"" key "\",\"type\":\"logic_gate\",\"config\":{\"condition\":" \
    "\"{{ true }}\"},\"branches\":{\"true\":[" t "],\"false\":[" f "]}}"

static void test_no_response_answers_at_start(void)
{
    Arena *a = arena_new();
    const Workflow *w;
    const Flow *f = analyse(a, WF(LOG("a") "," LOG("b")), &w);
    CU_ASSERT_TRUE(f->default_at_start);
    CU_ASSERT_EQUAL(f->first, 1);
    CU_ASSERT_EQUAL(f->edges[1].next, 2);
    CU_ASSERT_EQUAL(f->edges[2].next, FLOW_END);
    arena_free(a);
}

static void test_response_in_one_branch(void)
{
    /* 1 g { true: 2 ack, 3 rec; false: 4 slow } 5 done */
    Arena *a = arena_new();
    const Workflow *w;
    const Flow *f = analyse(a, WF(GATE("g", RESP("ack") "," LOG("rec"), LOG("slow"))
                                  "," LOG("done")), &w);
    CU_ASSERT_FALSE(f->default_at_start);
    CU_ASSERT_EQUAL(f->edges[1].on_true, 2);
    CU_ASSERT_EQUAL(f->edges[1].on_false, 4);
    CU_ASSERT_FALSE(f->edges[1].default_on_true);
    CU_ASSERT_TRUE(f->edges[1].default_on_false);
    CU_ASSERT_EQUAL(f->edges[3].next, 5);
    CU_ASSERT_EQUAL(f->edges[4].next, 5);
    arena_free(a);
}

static void test_response_after_join(void)
{
    /* a response after the gate: no branch edge answers early */
    Arena *a = arena_new();
    const Workflow *w;
    const Flow *f = analyse(a, WF(GATE("g", LOG("x"), "") "," RESP("r")), &w);
    CU_ASSERT_FALSE(f->default_at_start);
    CU_ASSERT_FALSE(f->edges[1].default_on_true);
    CU_ASSERT_FALSE(f->edges[1].default_on_false);
    CU_ASSERT_EQUAL(f->edges[1].on_false, 3);   /* empty branch: the join */
    arena_free(a);
}

static void test_nested_gates(void)
{
    /* 1 g { true: 2 h { true: 3 r } ; false: 4 l } : h's false edge and
     * g's false edge are the earliest response-free points */
    Arena *a = arena_new();
    const Workflow *w;
    const Flow *f = analyse(a, WF(GATE("g", GATE("h", RESP("r"), ""), LOG("l"))), &w);
    CU_ASSERT_TRUE(f->edges[1].default_on_false);
    CU_ASSERT_FALSE(f->edges[1].default_on_true);
    CU_ASSERT_TRUE(f->edges[2].default_on_false);
    CU_ASSERT_FALSE(f->edges[2].default_on_true);
    CU_ASSERT_EQUAL(f->edges[2].on_false, FLOW_END);
    arena_free(a);
}

#define SAY(key, msg) "{\"key\":\"" key "\",\"type\":\"log\",\"config\":{\"message\":\"" msg "\"}}"
#define DELAY(key) "{\"key\":\"" key "\",\"type\":\"delay\",\"config\":{\"ms\":1000}}"
#define SET(key, tmpl) "{\"key\":\"" key "\",\"type\":\"set\",\"config\":{\"values\":{\"x\":\"" tmpl "\"}}}"

/* What a run waiting in the step `delay` of json keeps, described. */
static const char *keeps(Arena *a, const char *json, const char *delay)
{
    const Workflow *w;
    const Flow *f = analyse(a, json, &w);
    for (int i = 0; i < w->step_count; i++)
        if (strcmp(w->all_steps[i]->key, delay) == 0) {
            KeepNode **nodes;
            int n = keep_after(a, w, f, w->all_steps[i], &nodes);
            return keep_describe(a, w, nodes, n);
        }
    CU_FAIL_FATAL("no such delay");
    return NULL;
}

static void test_keep_fields_read(void)
{
    Arena *a = arena_new();
    /* the payment tail: two fields of the body; env and run are no outputs */
    CU_ASSERT_STRING_EQUAL(keeps(a, WF(RESP("ack") "," DELAY("d") ","
        SAY("rec", "{{ trigger.output.body.id }} {{ trigger.output.body.amount }}"
            " {{ env.HOME }} {{ run.id }}")), "d"),
        "trigger.output.body.id, trigger.output.body.amount");
    /* a value used whole keeps all of it, whatever else is read of it */
    CU_ASSERT_STRING_EQUAL(keeps(a, WF(DELAY("d") "," SAY("l", "{{ trigger.output.body.id }}")
        "," SAY("m", "{{ len(trigger.output.body) }}")), "d"), "trigger.output.body");
    CU_ASSERT_STRING_EQUAL(keeps(a, WF(DELAY("d") "," SAY("l", "{{ trigger.output }}")
        "," SAY("m", "{{ trigger.output.body.id }}")), "d"), "trigger.output");
    /* ["name"] is a field; a computed or numeric index keeps what it indexes */
    CU_ASSERT_STRING_EQUAL(keeps(a, WF(DELAY("d") "," SAY("l",
        "{{ trigger.output.headers[\\\"x-id\\\"] }}"
        "{{ trigger.output.body.items[trigger.output.query.i].name }}"
        "{{ trigger.output.body.list[0].name }}")), "d"),
        "trigger.output.headers.x-id, trigger.output.body.items, "
        "trigger.output.body.list, trigger.output.query.i");
    /* nothing read after the delay: nothing kept */
    CU_ASSERT_STRING_EQUAL(keeps(a, WF(SAY("l", "{{ trigger.output.body }}") ","
                                       DELAY("d") "," LOG("m")), "d"), "");
    arena_free(a);
}

static void test_keep_reachable_steps(void)
{
    /* 1 s; 2 g { true: 3 d, 4 t; false: 5 f } 6 h { true: 7 u; false: 8 v }:
     * after d run t, then h and both its branches - not f, not s */
    Arena *a = arena_new();
    const char *json = WF(SET("s", "{{ trigger.output.a }}") ","
        GATE("g", DELAY("d") "," SAY("t", "{{ s.output.x }}"),
                  SAY("f", "{{ trigger.output.f }}")) ","
        GATE("h", SAY("u", "{{ g.output.result }}"), SAY("v", "{{ trigger.output.v }}")));
    CU_ASSERT_STRING_EQUAL(keeps(a, json, "d"),
                           "s.output.x, g.output.result, trigger.output.v");
    arena_free(a);
}

/* ---- the generated C ---------------------------------------------------- */

/* The C flussoc writes for json, which must load and check clean. */
static const char *emit_c(Arena *a, const char *json)
{
    Diag *d = diag_new(a, "t.json", false);
    Workflow *w = workflow_load(a, d, "t.json", json, strlen(json));
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    WorkflowFacts facts = { 0 };
    check_workflow(a, d, w, &facts);
    CU_ASSERT_EQUAL_FATAL(diag_error_count(d), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    emit_program(a, out, &w, &facts, 1);
    fclose(out);
    const char *c = arena_strdup(a, text);
    free(text);
    return c;
}

/* The function `name` of c, from its signature to its closing brace. */
static const char *function_of(Arena *a, const char *c, const char *name)
{
    const char *start = strstr(c, arena_sprintf(a, "static int %s(FlRun *r)", name));
    CU_ASSERT_PTR_NOT_NULL_FATAL(start);
    const char *end = strstr(start, "\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    return arena_strndup(a, start, (size_t)(end - start + 2));
}

static int occurrences(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* How often function fn of c holds what. */
static int in_function(Arena *a, const char *c, const char *fn, const char *what)
{
    return occurrences(function_of(a, c, fn), what);
}

static void test_arena_when_used(void)
{
    /* text that looks like a call with the arena is no reason to get it */
    Arena *a = arena_new();
    const char *c = emit_c(a, WF("{\"key\":\"r\",\"type\":\"webhook_response\","
        "\"config\":{\"content_type\":\"text/x-fn(ar)\",\"body\":\"f(ar, x)\"}}"
        "," SAY("l", "{{ len(trigger.output.body) }}")));
    CU_ASSERT_EQUAL(in_function(a, c, "w0_r", "fl_run_arena"), 0);
    CU_ASSERT_EQUAL(in_function(a, c, "w0_l", "fl_run_arena"), 1);
    arena_free(a);
}

static void test_prefix_read_once(void)
{
    Arena *a = arena_new();
    const char *c = emit_c(a, WF(SAY("rec", "{{ trigger.output.body.id }} "
                                            "{{ trigger.output.body.amount }}")));
    const char *f = function_of(a, c, "w0_rec");
    CU_ASSERT_EQUAL(occurrences(f, "fl_out("), 1);
    CU_ASSERT_EQUAL(occurrences(f, "\"body\""), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(f, "const FlValue *trigger_body = "
                                     "fl_get_field(fl_out(r, W0_TRIGGER), \"body\", 4);"));
    CU_ASSERT_PTR_NOT_NULL(strstr(f, "fl_get_field(trigger_body, \"amount\", 6)"));
    /* read once: no local */
    f = function_of(a, emit_c(a, WF(SAY("one", "{{ trigger.output.body.id }}"))),
                    "w0_one");
    CU_ASSERT_EQUAL(occurrences(f, "const FlValue *trigger"), 0);
    arena_free(a);
}

#define CONDS(match, a, b)                                                     \
    "{\"key\":\"g\",\"type\":\"logic_gate\",\"config\":{\"match\":\"" match   \
    "\",\"conditions\":[{\"left\":\"" a "\",\"operator\":\"exists\"},"           \
    "{\"left\":\"" b "\",\"operator\":\"equals\",\"right\":\"yes\"}]}}"

static void test_conditions_stop_early(void)
{
    Arena *a = arena_new();
    const char *f = function_of(a, emit_c(a, WF(CONDS("all", "{{ trigger.output.query.a }}",
                                                      "{{ trigger.output.body.b }}"))),
                                "w0_g");
    CU_ASSERT_PTR_NOT_NULL(strstr(f, "bool pass = fl_cond_exists("));
    CU_ASSERT_PTR_NOT_NULL(strstr(f, "\n        && fl_cond_equals("));
    CU_ASSERT_EQUAL(occurrences(f, "bool "), 1);
    /* a condition over rendered text is computed only while undecided */
    f = function_of(a, emit_c(a, WF(CONDS("any", "{{ trigger.output.query.a }}",
                                          "b={{ trigger.output.body.b }}"))), "w0_g");
    const char *block = strstr(f, "if (!pass) {\n        FlBuf b1;");
    CU_ASSERT_PTR_NOT_NULL(block);
    CU_ASSERT_PTR_NOT_NULL(block ? strstr(block, "pass = fl_cond_equals(t1, ") : NULL);
    arena_free(a);
}

static void test_constants_once(void)
{
    Arena *a = arena_new();
    const char *c = emit_c(a, WF(SET("s", "{{ 'yes' }}") "," SET("t", "{{ ['yes', 2] }}")
                                 "," CONDS("all", "{{ 2 }}", "{{ 'yes' }}")));
    CU_ASSERT_EQUAL(occurrences(c, "FL_STRING_LIT(\"yes\")"), 1);
    CU_ASSERT_EQUAL(occurrences(c, "FL_NUMBER_LIT(2)"), 1);
    arena_free(a);
}

static void test_checks_where_helpers_fail(void)
{
    Arena *a = arena_new();
    const char *c = emit_c(a, WF(
        SAY("quiet", "m") ","
        "{\"key\":\"file\",\"type\":\"log\",\"config\":{\"message\":\"m\","
        "\"file\":\"/tmp/x\"}},"
        GATE("g", "{\"key\":\"fixed\",\"type\":\"webhook_response\",\"config\":"
                  "{\"headers\":{\"X-A\":\"a\"}}}",
                  "{\"key\":\"later\",\"type\":\"webhook_response\",\"config\":"
                  "{\"headers\":{\"X-A\":\"{{ trigger.output.path }}\"}}}")
        "," DELAY("wait")));
    CU_ASSERT_EQUAL(in_function(a, c, "w0_quiet", "< 0"), 0);
    CU_ASSERT_EQUAL(in_function(a, c, "w0_file", "< 0"), 1);
    CU_ASSERT_EQUAL(in_function(a, c, "w0_fixed", "< 0"), 0);
    CU_ASSERT_EQUAL(in_function(a, c, "w0_later", "< 0"), 1);
    CU_ASSERT_EQUAL(in_function(a, c, "w0_wait", "< 0"), 0);
    arena_free(a);
}

static void test_long_expressions_wrap(void)
{
    Arena *a = arena_new();
    const char *c = emit_c(a, WF(SAY("l", "{{ [trigger.output.body.first.second.third, "
        "trigger.output.query.first.second.third, trigger.output.headers.x-long-header-name, "
        "upper(trigger.output.body.another.long.path.to.something)] }}")));
    int longest = 0;
    for (const char *p = c; *p;) {
        int n = (int)strcspn(p, "\n");
        longest = n > longest ? n : longest;
        p += n + (p[n] != '\0');
    }
    CU_ASSERT(longest <= 100);
    arena_free(a);
}

static const UnitTest tests[] = {
    { "C string escapes", test_c_string_escapes },
    { "long C strings split", test_c_string_splits_long_text },
    { "comments cannot close", test_comment_cannot_close },
    { "JSON strings", test_json_string },
    { "no response: 202 at start", test_no_response_answers_at_start },
    { "response in one branch", test_response_in_one_branch },
    { "response after the join", test_response_after_join },
    { "nested gates", test_nested_gates },
    { "keep: the fields read", test_keep_fields_read },
    { "keep: the steps that can follow", test_keep_reachable_steps },
    { "C: the arena only when used", test_arena_when_used },
    { "C: a prefix read twice is read once", test_prefix_read_once },
    { "C: conditions stop early", test_conditions_stop_early },
    { "C: constants once", test_constants_once },
    { "C: checks only where helpers fail", test_checks_where_helpers_fail },
    { "C: long expressions wrap", test_long_expressions_wrap },
    { NULL, NULL },
};

UNIT_SUITE("emit", tests)
