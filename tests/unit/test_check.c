/* test_check.c - the semantic checks: names, step order across branches,
 * outputs of fixed-output types, built-in calls, responses per path, the
 * response-time warning, and the facts handed to the code generator. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "suggest.h"
#include "unit.h"

/* Loads and checks json; returns every diagnostic printed (malloc'd). */
static char *diagnose(const char *json, WorkflowFacts *facts)
{
    Arena *a = arena_new();
    Diag *d = diag_new(a, "t.json", false);
    Workflow *w = workflow_load(a, d, "t.json", json, strlen(json));
    WorkflowFacts local;
    if (w && diag_error_count(d) == 0)
        check_workflow(a, d, w, facts ? facts : &local);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    diag_print(d, f);
    fclose(f);
    if (facts) {   /* copy the names out of the arena */
        for (int i = 0; i < facts->env_count; i++)
            facts->env_names[i] = strdup(facts->env_names[i]);
        const char **names = malloc(sizeof *names * (size_t)(facts->env_count + 1));
        memcpy(names, facts->env_names, sizeof *names * (size_t)facts->env_count);
        facts->env_names = names;
    }
    arena_free(a);
    return out;
}

#define WF(steps)                                                         \
    "{\"name\":\"t\",\"trigger\":{\"key\":\"trigger\",\"type\":"          \
    "\"webhook_trigger\",\"config\":{\"path\":\"/t\"}},\"steps\":[" steps "]}"
#define LOG(key, msg) \
    "{\"key\":\"" key "\",\"type\":\"log\",\"config\":{\"message\":\"" msg "\"}}"
#define RESP(key) "{\"key\":\"" key "\",\"type\":\"webhook_response\"}"
#define GATE(key, cond, t, f)                                              \
    "{\"key\":\"" key "\",\"type\":\"logic_gate\",\"config\":{\"condition\":\"" \
    cond "\"},\"branches\":{\"true\":[" t "],\"false\":[" f "]}}"

static void expect(const char *json, const char *expected)
{
    char *got = diagnose(json, NULL);
    if (strcmp(got, expected) != 0)
        fprintf(stderr, "\n--- expected\n%s--- got\n%s", expected, got);
    CU_ASSERT_STRING_EQUAL(got, expected);
    free(got);
}

static void test_clean(void)
{
    expect(WF(GATE("g", "{{ trigger.output.body.ok }}",
                   RESP("a") "," LOG("l", "{{ g.output.result }} {{ a.output.status }}"),
                   RESP("b")) "," LOG("done", "{{ run.id }} {{ g.output.result }}")),
           "");
}

static void test_unknown_step_hint(void)
{
    expect(WF(LOG("record", "payment {{ trigerr.output.body.id }}")),
           "t.json: error: steps[0].config.message (record): unknown step "
           "'trigerr' (did you mean 'trigger'?)\n"
           "    payment {{ trigerr.output.body.id }}\n"
           "               ^\n");
}

static void test_later_step(void)
{
    expect(WF(LOG("a", "{{ b.output.logged }}") "," LOG("b", "x")),
           "t.json: error: steps[0].config.message (a): step 'b' has not run "
           "yet here: it comes later\n"
           "    {{ b.output.logged }}\n"
           "       ^\n");
}

static void test_other_branch(void)
{
    expect(WF(GATE("g", "{{ true }}", LOG("x", "1"), LOG("y", "{{ x.output.logged }}"))),
           "t.json: error: steps[0].branches.false[0].config.message (y): step "
           "'x' cannot have run here: it is in another branch\n"
           "    {{ x.output.logged }}\n"
           "       ^\n");
}

static void test_own_output(void)
{
    expect(WF(LOG("a", "{{ a.output.logged }}")),
           "t.json: error: steps[0].config.message (a): step 'a' cannot use "
           "its own output\n"
           "    {{ a.output.logged }}\n"
           "       ^\n");
}

static void test_some_paths_warning(void)
{
    expect(WF(GATE("g", "{{ true }}", LOG("x", "1"), "") "," LOG("y", "{{ x.output.logged }}")),
           "t.json: warning: steps[1].config.message (y): step 'x' runs on some "
           "paths to here but not all; its output is null on the others\n"
           "    {{ x.output.logged }}\n"
           "       ^\n");
}

static void test_path_on_literal(void)
{
    expect(WF(LOG("x", "{{ 1.e3 }} {{ 'ab'[0] }} {{ [1][0] }}")),
           "t.json: warning: steps[0].config.message (x): a number has no fields "
           "or items: this is always null (an exponent is written 1e3, without "
           "the '.')\n"
           "    {{ 1.e3 }} {{ 'ab'[0] }} {{ [1][0] }}\n"
           "         ^\n"
           "t.json: warning: steps[0].config.message (x): a string has no fields "
           "or items: this is always null\n"
           "    {{ 1.e3 }} {{ 'ab'[0] }} {{ [1][0] }}\n"
           "                      ^\n");
}

static void test_both_branches_definite(void)
{
    /* a step that ran in both branches is no step: but the gate itself is
     * definite after the join */
    expect(WF(GATE("g", "{{ true }}", LOG("x", "1"), LOG("z", "2")) ","
              LOG("y", "{{ g.output.result }}")), "");
}

static void test_output_field(void)
{
    expect(WF(GATE("validate", "{{ true }}", "", "") "," LOG("l", "{{ validate.output.reslt }}")),
           "t.json: error: steps[1].config.message (l): the output of step "
           "'validate' (logic_gate) has no field 'reslt' (did you mean 'result'?); "
           "the fields of its output are: result\n"
           "    {{ validate.output.reslt }}\n"
           "                       ^\n");
}

static void test_output_bracket_field(void)
{
    expect(WF(LOG("a", "x") "," LOG("l", "{{ a.output[\\\"nope\\\"] }}")),
           "t.json: error: steps[1].config.message (l): the output of step "
           "'a' (log) has no field 'nope'; the fields of its output are: logged\n"
           "    {{ a.output[\"nope\"] }}\n"
           "               ^\n");
}

static void test_not_output(void)
{
    expect(WF(LOG("l", "{{ trigger.outptu.x }}")),
           "t.json: error: steps[0].config.message (l): expected "
           "'trigger.output' here\n"
           "    {{ trigger.outptu.x }}\n"
           "               ^\n");
}

static void test_trigger_free_fields(void)
{
    expect(WF(LOG("l", "{{ trigger.output.headers.x-sig }}{{ trigger.output.body.a.b[0] }}"
                       "{{ trigger.output.query.q }}")), "");
}

static void test_set_fields(void)
{
    expect(WF("{\"key\":\"s\",\"type\":\"set\",\"config\":{\"values\":{\"n\":1}}},"
              LOG("l", "{{ s.output.n }}{{ s.output.m }}")),
           "t.json: error: steps[1].config.message (l): the output of step "
           "'s' (set) has no field 'm' (did you mean 'n'?); the fields of its "
           "output are: n\n"
           "    {{ s.output.n }}{{ s.output.m }}\n"
           "                                ^\n");
}

static void test_error_field_on_continue(void)
{
    expect(WF("{\"key\":\"d\",\"type\":\"delay\",\"on_error\":\"continue\",\"config\":{\"ms\":1}},"
              LOG("l", "{{ d.output.error }}")), "");
    expect(WF("{\"key\":\"d\",\"type\":\"delay\",\"config\":{\"ms\":1}},"
              LOG("l", "{{ d.output.error }}")),
           "t.json: error: steps[1].config.message (l): the output of step "
           "'d' (delay) has no field 'error'; the fields of its output are: "
           "waited_ms\n"
           "    {{ d.output.error }}\n"
           "                ^\n");
}

static void test_run_and_env(void)
{
    expect(WF(LOG("l", "{{ run.idd }}")),
           "t.json: error: steps[0].config.message (l): 'run' has no field "
           "'idd' (did you mean 'id'?); the fields of run are: id, started_at, "
           "workflow, attempt\n"
           "    {{ run.idd }}\n"
           "           ^\n");
    expect(WF(LOG("l", "{{ env }}")),
           "t.json: error: steps[0].config.message (l): 'env' must be followed "
           "by a variable name: env.NAME\n"
           "    {{ env }}\n"
           "       ^\n");
}

static void test_env_facts(void)
{
    WorkflowFacts f;
    char *out = diagnose(WF(LOG("l", "{{ env.B }}{{ env.A }}{{ env.B }}")), &f);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL_FATAL(f.env_count, 2);
    CU_ASSERT_STRING_EQUAL(f.env_names[0], "A");
    CU_ASSERT_STRING_EQUAL(f.env_names[1], "B");
    for (int i = 0; i < f.env_count; i++)
        free((void *)f.env_names[i]);
    free(f.env_names);
    free(out);
}

static void test_builtins(void)
{
    expect(WF(LOG("l", "{{ lowr(trigger.output.method) }}")),
           "t.json: error: steps[0].config.message (l): unknown function "
           "'lowr' (did you mean 'lower'?)\n"
           "    {{ lowr(trigger.output.method) }}\n"
           "       ^\n");
    expect(WF(LOG("l", "{{ hmac_sha256(1) }}")),
           "t.json: error: steps[0].config.message (l): hmac_sha256() takes 2 "
           "arguments, not 1\n"
           "    {{ hmac_sha256(1) }}\n"
           "       ^\n");
    expect(WF(LOG("l", "{{ now(1) }}")),
           "t.json: error: steps[0].config.message (l): now() takes 0 "
           "arguments, not 1\n"
           "    {{ now(1) }}\n"
           "       ^\n");
}

static void test_two_responses(void)
{
    expect(WF(RESP("a") "," RESP("b")),
           "t.json: error: steps[1] (b): two webhook_response steps on one "
           "path: 'a' (steps[0]) may already have answered when 'b' runs\n");
    expect(WF(GATE("g", "{{ true }}", RESP("a"), "") "," RESP("b")),
           "t.json: error: steps[1] (b): two webhook_response steps on one "
           "path: 'a' (steps[0].branches.true[0]) may already have answered "
           "when 'b' runs\n");
    expect(WF(GATE("g", "{{ true }}", RESP("a"), RESP("b"))), "");
}

static void test_response_time_warning(void)
{
    expect(WF("{\"key\":\"d\",\"type\":\"delay\",\"config\":{\"ms\":40000}}," RESP("a")),
           "t.json: warning: steps[1] (a): the steps before this response may "
           "block for up to 40000 ms, longer than the trigger's "
           "response_timeout_ms (30000): the caller may get a 504 first\n");
    /* retries: 100 ms doubling, capped at retry_max_delay_ms (5000 by
     * default), plus 10% jitter, and each attempt's timeout_ms */
#define HTTP9(cap) "{\"key\":\"h\",\"type\":\"http_request\",\"config\":{" \
    "\"url\":\"http://x/\",\"timeout_ms\":1,\"retries\":9" cap "}},"
    expect(WF(HTTP9("") RESP("a")), "");
    expect(WF(HTTP9(",\"retry_max_delay_ms\":86400000") RESP("a")),
           "t.json: warning: steps[1] (a): the steps before this response may "
           "block for up to 56220 ms, longer than the trigger's "
           "response_timeout_ms (30000): the caller may get a 504 first\n");
#undef HTTP9
    /* after the response, a long delay is fine */
    expect(WF(RESP("a") ",{\"key\":\"d\",\"type\":\"delay\",\"config\":{\"ms\":40000}}"), "");
}

/* A misspelled command-line flag: the hint comes from the usage text. */
static void test_option_suggestions(void)
{
    static const char usage[] = "usage: x [options]\n\n"
        "  -o FILE     out\n  --check     check\n  --emit-c F  c\n";
    char best[16];
    CU_ASSERT_TRUE(suggest_option("--chek", usage, best, sizeof best));
    CU_ASSERT_STRING_EQUAL(best, "--check");
    CU_ASSERT_TRUE(suggest_option("--emitc", usage, best, sizeof best));
    CU_ASSERT_STRING_EQUAL(best, "--emit-c");
    CU_ASSERT_FALSE(suggest_option("-x", usage, best, sizeof best));
    CU_ASSERT_FALSE(suggest_option("--frobnicate", usage, best, sizeof best));
    CU_ASSERT_FALSE(suggest_option("--chek", usage, best, 4));
}

static const UnitTest tests[] = {
    { "clean workflow", test_clean },
    { "unknown step with hint", test_unknown_step_hint },
    { "step that comes later", test_later_step },
    { "step in another branch", test_other_branch },
    { "own output", test_own_output },
    { "warning: some paths only", test_some_paths_warning },
    { "warning: a path on a literal", test_path_on_literal },
    { "gate definite after join", test_both_branches_definite },
    { "fixed output field", test_output_field },
    { "bracketed output field", test_output_bracket_field },
    { "segment after key is output", test_not_output },
    { "trigger contents are free", test_trigger_free_fields },
    { "set output fields", test_set_fields },
    { "error field with on_error", test_error_field_on_continue },
    { "run and env", test_run_and_env },
    { "env names collected", test_env_facts },
    { "built-in calls", test_builtins },
    { "two responses on a path", test_two_responses },
    { "response time warning", test_response_time_warning },
    { "command-line flag suggestions", test_option_suggestions },
    { NULL, NULL },
};

UNIT_SUITE("check", tests)
