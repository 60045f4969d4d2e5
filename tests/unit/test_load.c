/* test_load.c - the workflow loader: the exact diagnostic of every rule of
 * the raw JSON layer and of spec §1 and §3, and the tree built from a valid
 * workflow (spec §1's example), defaults and indices included.
 *
 * Workflows are written with ' for " to keep them readable; q() swaps them
 * back.  The raw JSON tests use the bytes as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "workflow.h"

/* The loaded workflow and everything printed, for the tree tests. */
typedef struct {
    Arena *arena;
    Workflow *wf;
    char *out;
} Loaded;

static Loaded load_bytes(const char *bytes, size_t len)
{
    Loaded r = { arena_new(), NULL, NULL };
    Diag *d = diag_new(r.arena, "t.json", false);
    r.wf = workflow_load(r.arena, d, "t.json", bytes, len);
    size_t n = 0;
    FILE *f = open_memstream(&r.out, &n);
    diag_print(d, f);
    fclose(f);
    return r;
}

static void unload(Loaded *r)
{
    free(r->out);
    arena_free(r->arena);
}

/* json with every ' made " (malloc'd). */
static char *q(const char *json)
{
    char *s = strdup(json);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static Loaded load_q(const char *json)
{
    char *s = q(json);
    Loaded r = load_bytes(s, strlen(s));
    free(s);
    return r;
}

static void expect_bytes(const char *bytes, size_t len, const char *expected)
{
    Loaded r = load_bytes(bytes, len);
    if (strcmp(r.out, expected) != 0)
        fprintf(stderr, "\n--- expected\n%s--- got\n%s", expected, r.out);
    CU_ASSERT_STRING_EQUAL(r.out, expected);
    unload(&r);
}

static void expect_raw(const char *json, const char *expected)
{
    expect_bytes(json, strlen(json), expected);
}

static void expect(const char *json, const char *expected)
{
    char *s = q(json);
    expect_raw(s, expected);
    free(s);
}

#define E "t.json: error: "
#define HEAD "'name':'t','trigger':{'key':'trigger','type':'webhook_trigger'"
#define WF(steps) "{" HEAD ",'config':{'path':'/t'}},'steps':[" steps "]}"
#define TRIGGER(config) "{" HEAD ",'config':{" config "}},'steps':[]}"
#define STEP(key, type, config) \
    "{'key':'" key "','type':'" type "','config':{" config "}}"
#define LOG(key) STEP(key, "log", "'message':'m'")
/* The tails of unknown-field messages: the fields there are (spec §12). */
#define TOP_FIELDS "; the fields of a workflow are: flusso, name, " \
    "description, trigger, steps"
#define STEP_FIELDS "; the fields of a step are: key, type, name, " \
    "config, on_error, branches, cases, default, steps"

/* ---- the valid example ------------------------------------------------- */

static const char example[] =
    "{ 'flusso': 1, 'name': 'payment-ack',"
    "  'description': 'Acknowledge signed payment events',"
    "  'trigger': { 'key': 'trigger', 'type': 'webhook_trigger',"
    "    'config': { 'method': 'POST', 'path': '/hooks/payment' } },"
    "  'steps': ["
    "    { 'key': 'validate', 'type': 'logic_gate',"
    "      'config': { 'condition': '{{ secure_equals(trigger.output.headers."
    "x-signature, hmac_sha256(env.PAYMENT_SECRET, trigger.output.raw_body)) }}' },"
    "      'branches': {"
    "        'false': ["
    "          { 'key': 'reject', 'type': 'webhook_response',"
    "            'config': { 'status_code': 401, 'body': { 'error': 'invalid signature' } } }"
    "        ],"
    "        'true': ["
    "          { 'key': 'ack', 'type': 'webhook_response',"
    "            'config': { 'status_code': 200, 'body': { 'received': true } } },"
    "          { 'key': 'record', 'type': 'log',"
    "            'config': { 'message': 'payment {{ trigger.output.body.id }}' } }"
    "        ] } },"
    "    { 'key': 'done', 'type': 'log', 'config': { 'message': 'run {{ run.id }} finished' } }"
    "  ] }";

static void test_example_tree(void)
{
    Loaded r = load_q(example);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    Workflow *w = r.wf;
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_STRING_EQUAL(w->file, "t.json");
    CU_ASSERT_STRING_EQUAL(w->name, "payment-ack");
    CU_ASSERT_STRING_EQUAL(w->description, "Acknowledge signed payment events");
    CU_ASSERT_EQUAL_FATAL(w->step_count, 6);
    /* indices: trigger, gate, true branch, false branch, then on */
    static const char *const order[] = {
        "trigger", "validate", "ack", "record", "reject", "done"
    };
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_STRING_EQUAL(w->all_steps[i]->key, order[i]);
        CU_ASSERT_EQUAL(w->all_steps[i]->index, i);
    }
    CU_ASSERT_PTR_EQUAL(w->trigger, w->all_steps[0]);
    CU_ASSERT_EQUAL(w->steps.count, 2);
    Step *gate = w->steps.items[0];
    CU_ASSERT_EQUAL(gate->type, ST_LOGIC_GATE);
    CU_ASSERT_STRING_EQUAL(gate->path, "steps[0]");
    CU_ASSERT_TRUE(gate->as.gate.condition->whole);
    CU_ASSERT_STRING_EQUAL(gate->as.gate.condition->path,
                           "steps[0].config.condition");
    CU_ASSERT_EQUAL(gate->on_true.count, 2);
    CU_ASSERT_EQUAL(gate->on_false.count, 1);
    CU_ASSERT_STRING_EQUAL(gate->on_true.items[1]->path,
                           "steps[0].branches.true[1]");
    CU_ASSERT_PTR_EQUAL(w->steps.items[1], w->all_steps[5]);
    unload(&r);
}

static void test_example_configs(void)
{
    Loaded r = load_q(example);
    Workflow *w = r.wf;
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    const TriggerConfig *t = &w->trigger->as.trigger;
    CU_ASSERT_STRING_EQUAL(t->path, "/hooks/payment");
    CU_ASSERT_EQUAL_FATAL(t->method_count, 1);
    CU_ASSERT_STRING_EQUAL(t->methods[0], "POST");
    CU_ASSERT_EQUAL(t->response_timeout_ms, 30000);
    CU_ASSERT_EQUAL(t->max_body_bytes, 1048576);
    CU_ASSERT_PTR_NULL(t->verify);
    const ResponseConfig *ack = &w->all_steps[2]->as.response;
    CU_ASSERT_FALSE(ack->status.is_template);
    CU_ASSERT_EQUAL(ack->status.value, 200);
    CU_ASSERT_STRING_EQUAL(ack->content_type, "application/json");
    CU_ASSERT_EQUAL_FATAL(ack->body->kind, TV_OBJECT);
    CU_ASSERT_EQUAL_FATAL(ack->body->count, 1);
    CU_ASSERT_STRING_EQUAL(ack->body->keys[0], "received");
    CU_ASSERT_EQUAL(ack->body->items[0]->kind, TV_BOOL);
    CU_ASSERT_TRUE(ack->body->items[0]->boolean);
    CU_ASSERT_STRING_EQUAL(ack->body->items[0]->path,
                           "steps[0].branches.true[0].config.body.received");
    const TValue *err = w->all_steps[4]->as.response.body->items[0];
    CU_ASSERT_EQUAL(err->kind, TV_TEMPLATE);
    CU_ASSERT_STRING_EQUAL(err->tmpl->src, "invalid signature");
    const LogConfig *log = &w->all_steps[3]->as.log;
    CU_ASSERT_EQUAL(log->level, LOG_INFO);
    CU_ASSERT_PTR_NULL(log->file);
    CU_ASSERT_STRING_EQUAL(log->message->src, "payment {{ trigger.output.body.id }}");
    CU_ASSERT_STRING_EQUAL(log->message->step_key, "record");
    CU_ASSERT_FALSE(log->message->whole);
    unload(&r);
}

static void test_defaults(void)
{
    Loaded r = load_q(WF(STEP("h", "http_request", "'url':'https://x/'") ","
                         STEP("d", "delay", "'ms':'{{ 5 }}'") ","
                         STEP("r", "webhook_response", "")));
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.wf);
    const HttpConfig *h = &r.wf->all_steps[1]->as.http;
    CU_ASSERT_PTR_NULL(h->method);
    CU_ASSERT_EQUAL(h->timeout_ms, 10000);
    CU_ASSERT_EQUAL(h->retries, 0);
    CU_ASSERT_EQUAL(h->retry_max_delay_ms, 5000);
    CU_ASSERT_TRUE(h->fail_on_status);
    CU_ASSERT_FALSE(h->follow_redirects);
    CU_ASSERT_EQUAL(h->max_response_bytes, 10485760);
    CU_ASSERT_PTR_NULL(h->body);
    CU_ASSERT_EQUAL(h->header_count, 0);
    CU_ASSERT_TRUE(r.wf->all_steps[2]->as.delay.ms.is_template);
    const ResponseConfig *resp = &r.wf->all_steps[3]->as.response;
    CU_ASSERT_EQUAL(resp->status.value, 200);
    CU_ASSERT_PTR_NULL(resp->body);
    unload(&r);
}

static void test_values_read(void)
{
    Loaded r = load_q(
        "{" HEAD ",'config':{'path':'/t','method':['PUT','PATCH'],"
        "'verify':{'scheme':'hmac_sha256','secret':'{{ env.S }}',"
        "'header':'X-Sig','encoding':'base64','prefix':'sha256='}}},"
        "'steps':[" STEP("s", "set", "'values':{'a':[1,'{{ 2 }}',null],'b':{}}")
        "," STEP("g", "logic_gate", "'conditions':[{'left':'{{ s.output.a }}',"
        "'operator':'greater_than','right':5},{'left':true,'operator':"
        "'matches','right':'^a+$'}],'match':'any'")
        "," STEP("r", "webhook_response", "'status_code':'201',"
        "'headers':{'X-A':'{{ 1 }}'}") "]}");
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.wf);
    const TriggerConfig *t = &r.wf->trigger->as.trigger;
    CU_ASSERT_EQUAL_FATAL(t->method_count, 2);
    CU_ASSERT_STRING_EQUAL(t->methods[1], "PATCH");
    CU_ASSERT_EQUAL(t->verify->scheme, VS_HMAC_SHA256);
    CU_ASSERT_STRING_EQUAL(t->verify->header, "x-sig");
    CU_ASSERT_TRUE(t->verify->base64);
    CU_ASSERT_STRING_EQUAL(t->verify->prefix, "sha256=");
    CU_ASSERT_EQUAL(t->verify->tolerance_s, 300);
    const SetConfig *set = &r.wf->all_steps[1]->as.set;
    CU_ASSERT_EQUAL_FATAL(set->count, 2);
    CU_ASSERT_STRING_EQUAL(set->names[1], "b");
    CU_ASSERT_EQUAL(set->values[0]->kind, TV_ARRAY);
    CU_ASSERT_EQUAL(set->values[0]->items[2]->kind, TV_NULL);
    CU_ASSERT_STRING_EQUAL(set->values[0]->items[1]->path,
                           "steps[0].config.values.a[1]");
    const GateConfig *g = &r.wf->all_steps[2]->as.gate;
    CU_ASSERT_EQUAL_FATAL(g->condition_count, 2);
    CU_ASSERT_TRUE(g->match_any);
    CU_ASSERT_EQUAL(g->conditions[0].op, COND_GREATER_THAN);
    CU_ASSERT_TRUE(g->conditions[0].right->whole);
    CU_ASSERT_EQUAL(g->conditions[0].right->parts[0].expr->kind, EX_NUMBER);
    CU_ASSERT_EQUAL(g->conditions[0].right->parts[0].expr->number, 5);
    CU_ASSERT_EQUAL(g->conditions[1].left->parts[0].expr->kind, EX_BOOL);
    CU_ASSERT_STRING_EQUAL(g->conditions[1].pattern, "^a+$");
    const ResponseConfig *resp = &r.wf->all_steps[3]->as.response;
    CU_ASSERT_FALSE(resp->status.is_template);
    CU_ASSERT_EQUAL(resp->status.value, 201);
    CU_ASSERT_EQUAL_FATAL(resp->header_count, 1);
    CU_ASSERT_STRING_EQUAL(resp->headers[0].name, "X-A");
    unload(&r);
}

/* ---- the raw JSON layer ----------------------------------------------- */

static void test_empty(void)
{
    expect_raw("", E "empty file: expected a JSON object\n");
    expect_raw(" \n\t\r\n", E "empty file: expected a JSON object\n");
}

static void test_not_object(void)
{
    expect_raw("[1, 2]", E "the workflow must be a JSON object, not an array\n");
    expect_raw("\"x\"", E "the workflow must be a JSON object, not a string\n");
}

static void test_syntax_positions(void)
{
    expect_raw("{\"a\": 1,\n  }", E "line 2, column 3: invalid JSON "
               "(unexpected '}' after a comma: remove the comma)\n");
    expect_raw("{\"a\" 1}", E "line 1, column 6: invalid JSON "
               "(unexpected '1'; expected ':')\n");
    expect_raw("{\"a\": [1 2]}", E "line 1, column 10: invalid JSON "
               "(unexpected '2'; expected ',' or ']')\n");
    expect_raw("{'a': 1}", E "line 1, column 2: invalid JSON (unexpected "
               "single quote: JSON strings use double quotes)\n");
    expect_raw("{\"a\": True}", E "line 1, column 7: invalid JSON "
               "(unexpected 'True'; expected a value)\n");
    expect_raw("{} x", E "line 1, column 4: invalid JSON "
               "(unexpected 'x' after the end of the document)\n");
    expect_raw("{\"a\": {", E "line 1, column 8: invalid JSON "
               "(unexpected end of file)\n");
    expect_raw("{\"a\": \"x", E "line 1, column 7: unterminated string\n");
}

static void test_columns_count_characters(void)
{
    expect_raw("{\"\xc3\xa9\xc3\xa9\": x}", E "line 1, column 8: invalid JSON "
               "(unexpected 'x'; expected a value)\n");
}

static void test_strict_numbers(void)
{
    expect_raw("{\"a\": 01}", E "line 1, column 7: invalid number: JSON "
               "numbers have no leading zeros\n");
    expect_raw("{\"a\": 1.}", E "line 1, column 7: invalid number\n");
    expect_raw("{\"a\": -}", E "line 1, column 7: invalid number\n");
}

static void test_bad_utf8(void)
{
    expect_raw("{\n \"a\": \"x\xff\"}", E "line 2, column 9: invalid UTF-8 "
               "byte 0xFF\n");
    /* overlong encoding of '/', and a UTF-16 surrogate */
    expect_raw("{\"a\": \"\xc0\xaf\"}", E "line 1, column 8: invalid UTF-8 "
               "byte 0xC0\n");
    expect_raw("{\"a\": \"\xed\xa0\x80\"}", E "line 1, column 8: invalid "
               "UTF-8 byte 0xED\n");
}

static void test_nul(void)
{
    expect_raw("{\"a\": \"x\\u0000\"}", E "line 1, column 9: a string may "
               "not contain \\u0000 (NUL)\n");
    expect_bytes("{\"a\": \"x\0\"}", 11, E "line 1, column 9: a NUL byte "
                 "(0x00) may not appear in JSON\n");
}

static void test_string_rules(void)
{
    expect_raw("{\"a\": \"\t\"}", E "line 1, column 8: raw control character "
               "0x09 in a string (write it escaped, such as \\n or \\t)\n");
    expect_raw("{\"a\": \"\\x\"}", E "line 1, column 8: invalid escape '\\x' "
               "in a string\n");
    expect_raw("{\"a\": \"\\ud800x\"}", E "line 1, column 8: invalid \\u "
               "escape: unpaired surrogate\n");
    expect_raw("{\"a\": \"\\u12\"}", E "line 1, column 8: invalid \\u "
               "escape: expected 4 hex digits\n");
}

/* n levels of arrays as the value of "a". */
static char *nested(int n)
{
    char *s = malloc((size_t)n * 2 + 16);
    char *p = s + sprintf(s, "{\"a\":");
    for (int i = 0; i < n; i++)
        *p++ = '[';
    for (int i = 0; i < n; i++)
        *p++ = ']';
    strcpy(p, "}");
    return s;
}

static void test_depth(void)
{
    char *ok = nested(511), *deep = nested(512);
    expect_raw(ok, E "a: unknown field 'a'" TOP_FIELDS "\n" E "missing required field "
               "'name'\n" E "missing required field 'trigger'\n" E "missing "
               "required field 'steps'\n");
    expect_raw(deep, E "line 1, column 517: JSON nested deeper than 512 "
               "levels\n");
    free(ok);
    free(deep);
}

static void test_duplicate_keys(void)
{
    expect(WF(STEP("l", "log", "'message':'a','message':'b'")),
           E "steps[0].config.message: duplicate key 'message'\n");
    expect("{'name':'t','name':'u','trigger':{'key':'trigger','type':"
           "'webhook_trigger','config':{'path':'/t'}},'steps':[]}",
           E "name: duplicate key 'name'\n");
    /* an unknown key given twice: a duplicate, and unknown once */
    expect("{'name':'t','bogus':1,'bogus':2,'trigger':{'key':'trigger','type':"
           "'webhook_trigger','config':{'path':'/t'}},'steps':[]}",
           E "bogus: duplicate key 'bogus'\n" E "bogus: unknown field 'bogus'" TOP_FIELDS "\n");
    expect(WF("{'key':'a','type':'log','config':{'message':'m'},'zzz':1,'zzz':2}"),
           E "steps[0].zzz: duplicate key 'zzz'\n"
           E "steps[0].zzz (a): unknown field 'zzz'" STEP_FIELDS "\n");
}

/* ---- the top level ------------------------------------------------------ */

static void test_top_level(void)
{
    expect("{'flusso':2,'name':'My Flow','descripton':'x','trigger':"
           "{'key':'trigger','type':'webhook_trigger','config':{'path':'/t'}},"
           "'steps':{}}",
           E "descripton: unknown field 'descripton' (did you mean "
           "'description'?)" TOP_FIELDS "\n"
           E "flusso: unsupported format version 2: this flussoc reads "
           "version 1\n"
           E "name: workflow name 'My Flow' may only hold a-z, 0-9, '_' and "
           "'-', starting with a letter or digit (did you mean 'my-flow'?)\n"
           E "steps: must be an array, not an object\n");
    expect("{'name':'t'}", E "missing required field 'trigger'\n"
           E "missing required field 'steps'\n");
    expect("{'name':1,'description':[],'trigger':[],'steps':[]}",
           E "name: must be a string, not a number\n"
           E "description: must be a string, not an array\n"
           E "trigger: must be an object, not an array\n");
}

static void test_odd_key_paths(void)
{
    expect("{'a b':1,'q\\'\\\\':2," HEAD ",'config':{'path':'/t'}},"
           "'steps':[]}",
           E "[\"a b\"]: unknown field 'a b'" TOP_FIELDS "\n"
           E "[\"q\\\"\\\\\"]: unknown field 'q\"\\'" TOP_FIELDS "\n");
}

/* ---- steps ------------------------------------------------------------- */

static void test_step_keys(void)
{
    expect(WF(LOG("trigger") "," LOG("my-step") "," LOG("env") ","
              "{'type':'log','config':{'message':'m'}}," LOG("")),
           E "steps[0].key (trigger): step key 'trigger' is already used by "
           "the step at trigger\n"
           E "steps[1].key (my-step): step key 'my-step' is not a valid name: "
           "use letters, digits and '_', not starting with a digit (did you "
           "mean 'my_step'?)\n"
           E "steps[2].key (env): step key 'env' is reserved\n"
           E "steps[3]: missing required field 'key'\n"
           E "steps[4].key (): the step key may not be empty\n");
}

static void test_duplicate_key_in_branch(void)
{
    expect(WF("{'key':'g','type':'logic_gate','config':{'condition':"
              "'{{ true }}'},'branches':{'true':[" LOG("x") "]}}," LOG("x")),
           E "steps[1].key (x): step key 'x' is already used by the step at "
           "steps[0].branches.true[0]\n");
}

static void test_step_types(void)
{
    expect(WF(STEP("a", "lgo", "") "," STEP("b", "webhook_trigger", "")
              ",{'key':'c'}"),
           E "steps[0].type (a): unknown step type 'lgo' (did you mean "
           "'log'?)\n"
           E "steps[1].type (b): a webhook_trigger can only be the workflow's "
           "trigger\n"
           E "steps[2] (c): missing required field 'type'\n");
    expect("{'name':'t','trigger':{'key':'t','type':'log','config':{}},"
           "'steps':[]}",
           E "trigger.type (t): the trigger must be a webhook_trigger, not "
           "'log'\n");
}

static void test_step_fields(void)
{
    expect(WF("{'key':'a','type':'log','message':'m','nmae':'x',"
              "'on_error':'ignore','config':[]}"),
           E "steps[0].message (a): unknown field 'message' (it belongs in "
           "'config')" STEP_FIELDS "\n"
           E "steps[0].nmae (a): unknown field 'nmae' (did you mean 'name'?)"
           STEP_FIELDS "\n"
           E "steps[0].on_error (a): unknown on_error 'ignore': expected "
           "'fail' or 'continue'\n"
           E "steps[0].config (a): must be an object, not an array\n");
    expect(WF("[]"), E "steps[0]: must be an object, not an array\n");
}

static void test_branches(void)
{
    expect(WF("{'key':'a','type':'log','config':{'message':'m'},"
              "'branches':{}}"),
           E "steps[0].branches (a): only a logic_gate has branches\n");
    expect(WF("{'key':'g','type':'logic_gate','config':{'condition':"
              "'{{ true }}'},'branches':{'True':[],'false':{}}}"),
           E "steps[0].branches.True (g): unknown field 'True' (did you mean "
           "'true'?); the fields of branches are: true, false\n"
           E "steps[0].branches.false (g): must be an array, not an object\n");
}

/* ---- webhook_trigger --------------------------------------------------- */

static void test_trigger_path(void)
{
    expect(TRIGGER(""), E "trigger.config (trigger): missing required field "
           "'path'\n");
    expect(TRIGGER("'path':'t'"), E "trigger.config.path (trigger): must "
           "start with '/'\n");
    expect(TRIGGER("'path':'/t?a=1'"), E "trigger.config.path (trigger): may "
           "not contain '?': the path excludes the query string\n");
    expect(TRIGGER("'path':'/a b'"), E "trigger.config.path (trigger): may "
           "not contain spaces or control characters\n");
    expect(TRIGGER("'path':'/healthz'"), E "trigger.config.path (trigger): "
           "'/healthz' is reserved: the handler answers it itself\n");
    expect(TRIGGER("'path':'/metrics'"), E "trigger.config.path (trigger): "
           "'/metrics' is reserved: the handler answers it itself\n");
}

static void test_trigger_methods(void)
{
    expect(TRIGGER("'path':'/t','method':['post','GET','GET','A B']"),
           E "trigger.config.method[0] (trigger): method 'post' must be "
           "upper-case (did you mean 'POST'?)\n"
           E "trigger.config.method[2] (trigger): method 'GET' is listed "
           "twice\n"
           E "trigger.config.method[3] (trigger): 'A B' is not a valid HTTP "
           "method\n");
    expect(TRIGGER("'path':'/t','method':[]"), E "trigger.config.method "
           "(trigger): must not be empty\n");
    expect(TRIGGER("'path':'/t','method':1"), E "trigger.config.method "
           "(trigger): must be a method or an array of methods, not a "
           "number\n");
}

static void test_trigger_integers(void)
{
    expect(TRIGGER("'path':'/t','response_timeout_ms':1.5,'max_body_bytes':"
                   "1e300"),
           E "trigger.config.response_timeout_ms (trigger): must be an "
           "integer, not 1.5\n"
           E "trigger.config.max_body_bytes (trigger): must be at most "
           "2147483647, not 1e+300\n");
    expect(TRIGGER("'path':'/t','response_timeout_ms':0,'max_body_bytes':'1'"),
           E "trigger.config.response_timeout_ms (trigger): must be a positive "
           "integer, not 0\n"
           E "trigger.config.max_body_bytes (trigger): must be an integer, not "
           "a string\n");
}

static void test_verify(void)
{
    expect(TRIGGER("'path':'/t','verify':{'scheme':'githb'}"),
           E "trigger.config.verify.scheme (trigger): unknown scheme 'githb' "
           "(did you mean 'github'?)\n"
           E "trigger.config.verify (trigger): missing required field "
           "'secret'\n");
    expect(TRIGGER("'path':'/t','verify':{'scheme':'github','secret':'s',"
                   "'header':'x','tolerance_s':0}"),
           E "trigger.config.verify.tolerance_s (trigger): must be a positive "
           "integer, not 0\n"
           E "trigger.config.verify.header (trigger): unknown field 'header': "
           "only the hmac_sha256 scheme has it\n");
    expect(TRIGGER("'path':'/t','verify':{'scheme':'hmac_sha256','secret':'s',"
                   "'encoding':'hexa'}"),
           E "trigger.config.verify (trigger): missing required field "
           "'header'\n"
           E "trigger.config.verify.encoding (trigger): unknown encoding "
           "'hexa' (did you mean 'hex'?)\n");
    expect(TRIGGER("'path':'/t','verify':{'scheme':'hmac_sha256','secret':'s',"
                   "'header':'X Sig','secret_':1}"),
           E "trigger.config.verify.secret_ (trigger): unknown field "
           "'secret_' (did you mean 'secret'?); the fields of verify are: "
           "scheme, secret, tolerance_s, header, encoding, prefix\n"
           E "trigger.config.verify.header (trigger): must be a valid header "
           "name\n");
}

/* ---- logic_gate -------------------------------------------------------- */

static void test_gate_condition(void)
{
    expect(WF(STEP("g", "logic_gate", "")), E "steps[0].config (g): missing "
           "required field 'condition' (or 'conditions')\n");
    expect(WF(STEP("g", "logic_gate", "'condition':'{{ true }}',"
                   "'conditions':[]")),
           E "steps[0].config (g): use either 'condition' or 'conditions', "
           "not both\n"
           E "steps[0].config.conditions (g): must not be empty\n");
    expect(WF(STEP("g", "logic_gate", "'condition':'{{ true }} and',"
                   "'match':'any'")),
           E "steps[0].config.condition (g): must be exactly one "
           "{{ expression }} and nothing else\n"
           E "steps[0].config.match (g): 'match' only goes with "
           "'conditions'\n");
    expect(WF(STEP("g", "logic_gate", "'condition':true")),
           E "steps[0].config.condition (g): must be a string, not a "
           "boolean\n");
}

static void test_gate_conditions(void)
{
    expect(WF(STEP("g", "logic_gate", "'conditions':[{'left':'a','operator':"
                   "'equal','right':1},{'left':'a','operator':'is_empty',"
                   "'right':'b'},{'left':'a','operator':'less_than'},"
                   "{'operator':'exists','lft':'x'},[],{'left':[],'operator':"
                   "'equals','right':1}],'match':'some'")),
           E "steps[0].config.conditions[0].operator (g): unknown operator "
           "'equal' (did you mean 'equals'?)\n"
           E "steps[0].config.conditions[1].right (g): operator 'is_empty' "
           "takes no 'right'\n"
           E "steps[0].config.conditions[2] (g): missing required field "
           "'right' (operator 'less_than' compares two values)\n"
           E "steps[0].config.conditions[3].lft (g): unknown field 'lft' (did "
           "you mean 'left'?); the fields of a condition are: left, "
           "operator, right\n"
           E "steps[0].config.conditions[4] (g): must be an object, not an "
           "array\n"
           E "steps[0].config.conditions[5].left (g): must be a string (a "
           "template), a number, true, false or null, not an array\n"
           E "steps[0].config.match (g): unknown match 'some': expected 'all' "
           "or 'any'\n");
}

static void test_gate_matches(void)
{
    expect(WF(STEP("g", "logic_gate", "'conditions':[{'left':'a','operator':"
                   "'matches','right':'('},{'left':'a','operator':'matches',"
                   "'right':'{{ x }}'},{'left':'a','operator':'matches',"
                   "'right':1}]")),
           E "steps[0].config.conditions[0].right (g): invalid regular "
           "expression: Unmatched ( or \\(\n"
           E "steps[0].config.conditions[1].right (g): the pattern of "
           "'matches' must be literal: no {{ }} templates\n"
           E "steps[0].config.conditions[2].right (g): must be a string (a "
           "regular expression), not a number\n");
}

/* ---- webhook_response -------------------------------------------------- */

static void test_response_status(void)
{
    expect(WF(STEP("r", "webhook_response", "'status_code':600") ","
              STEP("s", "webhook_response", "'status_code':'2x'") ","
              STEP("u", "webhook_response", "'status_code':true")),
           E "steps[0].config.status_code (r): must be between 200 and 599, "
           "not 600\n"
           E "steps[1].config.status_code (s): must be an integer or a {{ }} "
           "template, not the text '2x'\n"
           E "steps[2].config.status_code (u): must be an integer or a "
           "template string, not a boolean\n");
    expect(WF(STEP("r", "webhook_response", "'status_code':204,'body':''") ","
              STEP("s", "webhook_response", "'status_code':'304','body':{}")),
           E "steps[0].config.body (r): a 204 response has no body\n"
           E "steps[1].config.body (s): a 304 response has no body\n");
}

static void test_response_headers(void)
{
    expect(WF(STEP("r", "webhook_response", "'headers':{'content-TYPE':'x',"
                   "'Content-Length':'1','transfer-encoding':'x','Connection':"
                   "'x','x-flusso-run-id':'x','X-A':'1','x-a':'2','A B':'x',"
                   "'X-N':5}")),
           E "steps[0].config.headers.content-TYPE (r): header 'content-TYPE' "
           "may not be set in headers: use content_type\n"
           E "steps[0].config.headers.Content-Length (r): header "
           "'Content-Length' is set by the handler and may not be set here\n"
           E "steps[0].config.headers.transfer-encoding (r): header "
           "'transfer-encoding' is set by the handler and may not be set "
           "here\n"
           E "steps[0].config.headers.Connection (r): header 'Connection' is "
           "set by the handler and may not be set here\n"
           E "steps[0].config.headers.x-flusso-run-id (r): header "
           "'x-flusso-run-id' is set by the handler and may not be set here\n"
           E "steps[0].config.headers.x-a (r): header 'x-a' is already set as "
           "'X-A' (header names ignore letter case)\n"
           E "steps[0].config.headers[\"A B\"] (r): invalid header name "
           "'A B': use letters, digits and !#$%&'*+-.^_`|~\n"
           E "steps[0].config.headers.X-N (r): must be a string, not a "
           "number\n");
}

static void test_response_content_type(void)
{
    expect(WF(STEP("r", "webhook_response", "'content_type':'text/{{ x }}'")
              "," STEP("s", "webhook_response", "'content_type':'a\\nb'")
              "," STEP("u", "webhook_response", "'body':1e999")),
           E "steps[0].config.content_type (r): must be literal text: no "
           "{{ }} templates here\n"
           E "steps[1].config.content_type (s): may not contain control "
           "characters\n"
           E "steps[2].config.body (u): number too large\n");
}

/* ---- set, log, delay, http_request ------------------------------------- */

static void test_set(void)
{
    expect(WF(STEP("s", "set", "") "," STEP("t", "set", "'values':[]")),
           E "steps[0].config (s): missing required field 'values'\n"
           E "steps[1].config.values (t): must be an object, not an array\n");
}

static void test_log(void)
{
    expect(WF(STEP("l", "log", "'message':5,'level':'verbose','file':'',"
                   "'levle':1") ","
              STEP("m", "log", "'message':'m','level':'inf','file':'/{{ x }}'")
              ",{'key':'n','type':'log'}"),
           E "steps[0].config.levle (l): unknown field 'levle' (did you mean "
           "'level'?); the fields of log are: message, level, file\n"
           E "steps[0].config.message (l): must be a string, not a number\n"
           E "steps[0].config.level (l): unknown level 'verbose': expected "
           "'debug', 'info', 'warn' or 'error'\n"
           E "steps[0].config.file (l): must not be empty\n"
           E "steps[1].config.level (m): unknown level 'inf' (did you mean "
           "'info'?)\n"
           E "steps[1].config.file (m): must be literal text: no {{ }} "
           "templates here\n"
           E "steps[2].config (n): missing required field 'message'\n");
}

static void test_delay(void)
{
    expect(WF(STEP("d", "delay", "") "," STEP("e", "delay", "'ms':-1") ","
              STEP("f", "delay", "'ms':'abc'") "," STEP("g", "delay",
              "'ms':'-5'")),
           E "steps[0].config (d): missing required field 'ms'\n"
           E "steps[1].config.ms (e): must be 0 or more, not -1\n"
           E "steps[2].config.ms (f): must be an integer or a {{ }} template, "
           "not the text 'abc'\n"
           E "steps[3].config.ms (g): must be 0 or more, not -5\n");
}

static void test_http(void)
{
    expect(WF(STEP("h", "http_request", "'url':'ftp://x','method':'get',"
                   "'retries':101,'timeout_ms':0,'fail_on_status':'yes',"
                   "'retry_max_delay_ms':86400001,"
                   "'follow_redirects':1,'max_response_bytes':-1,'headers':"
                   "{'Content-Length':'1','Content-Type':'text/plain'}")
              "," STEP("i", "http_request", "")),
           E "steps[0].config.method (h): method 'get' must be upper-case "
           "(did you mean 'GET'?)\n"
           E "steps[0].config.url (h): must start with http:// or https://\n"
           E "steps[0].config.headers.Content-Length (h): header "
           "'Content-Length' is set by the HTTP client and may not be set "
           "here\n"
           E "steps[0].config.timeout_ms (h): must be a positive integer, "
           "not 0\n"
           E "steps[0].config.retries (h): must be between 0 and 100, not 101\n"
           E "steps[0].config.retry_max_delay_ms (h): must be between 1 and "
           "86400000, not 86400001\n"
           E "steps[0].config.fail_on_status (h): must be true or false, not "
           "a string\n"
           E "steps[0].config.follow_redirects (h): must be true or false, "
           "not a number\n"
           E "steps[0].config.max_response_bytes (h): must be a positive "
           "integer, not -1\n"
           E "steps[1].config (i): missing required field 'url'\n");
}

static void test_template_errors_reported(void)
{
    Loaded r = load_q(WF(STEP("l", "log", "'message':'{{ 1 + }}'")));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "steps[0].config.message (l): "));
    unload(&r);
}

static void test_all_errors_reported(void)
{
    /* errors in the trigger, a step, a branch and the top level: all */
    Loaded r = load_q("{'name':'T'," "'trigger':{'key':'trigger','type':"
                      "'webhook_trigger','config':{'path':'x'}},'steps':["
                      "{'key':'g','type':'logic_gate','config':{'condition':"
                      "'{{ true }}'},'branches':{'true':[" STEP("a", "delay",
                      "'ms':1.5") "]}}," STEP("b", "log", "")"]}");
    int lines = 0;
    for (const char *p = r.out; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 4);
    unload(&r);
}

/* A JSON value of the wrong kind for a config field of each kind of
 * flusso_format.h; any value is a VALUE. */
#define WRONG_ROUTE "true"
#define WRONG_METHODS "true"
#define WRONG_INTEGER "true"
#define WRONG_BOOLEAN "'x'"
#define WRONG_INT_OR_TEMPLATE "true"
#define WRONG_TEMPLATE "true"
#define WRONG_LITERAL "true"
#define WRONG_CHOICE "true"
#define WRONG_VALUE NULL
#define WRONG_HEADERS "true"
#define WRONG_OBJECT "true"
#define WRONG_CONDITIONS "true"
#define WRONG_VALUES "true"
#define WRONG_RECIPIENTS "true"

typedef struct {
    const char *field;
    const char *wrong;
} ConfigField;

#define CONFIG_FIELD_(name, kind) { #name, WRONG_##kind },
#define CONFIG_TYPE_(c, json, outputs, config)                                \
    { #json, (const ConfigField[]){ config(CONFIG_FIELD_) { NULL, NULL } } },

/* Each config field of the format's table is one the loader reads: a
 * value of the wrong kind is reported at that very field. */
static void test_config_fields_are_read(void)
{
    const struct {
        const char *type;
        const ConfigField *fields;
    } types[] = { FL_STEP_TYPES(CONFIG_TYPE_) };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (const ConfigField *f = types[t].fields; f->field; f++) {
            if (!f->wrong)
                continue;
            char json[512], at[128];
            if (t == ST_TRIGGER) {
                snprintf(json, sizeof json, "{'name':'t','trigger':{'key':'trigger',"
                         "'type':'webhook_trigger','config':{'%s':%s}},'steps':[]}",
                         f->field, f->wrong);
                snprintf(at, sizeof at, "error: trigger.config.%s (trigger): ",
                         f->field);
            } else {
                snprintf(json, sizeof json, WF("{'key':'s','type':'%s',"
                                               "'config':{'%s':%s}}"),
                         types[t].type, f->field, f->wrong);
                snprintf(at, sizeof at, "error: steps[0].config.%s (s): ", f->field);
            }
            Loaded r = load_q(json);
            if (!strstr(r.out, at))
                fprintf(stderr, "\n%s %s: no \"%s\" in\n%s", types[t].type,
                        f->field, at, r.out);
            CU_ASSERT_PTR_NOT_NULL(strstr(r.out, at));
            unload(&r);
        }
    }
}

/* With the source kept (as flussoc does), diagnostics are FILE:LINE:COL:
 * where the value starts, then the source line and a caret (spec §12). */
static void expect_placed(const char *bytes, const char *expected)
{
    Arena *a = arena_new();
    Diag *d = diag_new(a, "t.json", false);
    size_t len = strlen(bytes);
    char *copy = arena_strndup(a, bytes, len);
    diag_set_source(d, copy, len);
    workflow_load(a, d, "t.json", copy, len);
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    diag_print(d, f);
    fclose(f);
    if (strcmp(out, expected) != 0)
        fprintf(stderr, "\n--- expected\n%s--- got\n%s", expected, out);
    CU_ASSERT_STRING_EQUAL(out, expected);
    free(out);
    arena_free(a);
}

static void test_source_positions(void)
{
    /* an unknown field: where its value starts */
    expect_placed("{\"name\": \"t\",\n \"nmae\": 1}",
                  "t.json:2:10: error: nmae: unknown field 'nmae' (did you "
                  "mean 'name'?)" TOP_FIELDS "\n     \"nmae\": 1}\n             ^\n"
                  "t.json:1:1: error: missing required field 'trigger'\n"
                  "    {\"name\": \"t\",\n    ^\n"
                  "t.json:1:1: error: missing required field 'steps'\n"
                  "    {\"name\": \"t\",\n    ^\n");
    /* a syntax error; columns count characters; a byte order mark and a
     * CR before the newline are not shown */
    expect_placed("\xEF\xBB\xBF{\"\xc3\xa9\": 1,\r\n \"x\" 2}",
                  "t.json:2:6: error: invalid JSON (unexpected '2'; "
                  "expected ':')\n     \"x\" 2}\n         ^\n");
    /* an empty file */
    expect_placed(" \n", "t.json:1:1: error: empty file: expected a JSON "
                  "object\n     \n    ^\n");
}

static const UnitTest tests[] = {
    { "example: tree and indices", test_example_tree },
    { "example: configs", test_example_configs },
    { "defaults", test_defaults },
    { "values read", test_values_read },
    { "empty file", test_empty },
    { "top level not an object", test_not_object },
    { "syntax error positions", test_syntax_positions },
    { "columns count characters", test_columns_count_characters },
    { "strict numbers", test_strict_numbers },
    { "invalid UTF-8", test_bad_utf8 },
    { "NUL escape and byte", test_nul },
    { "string escapes and controls", test_string_rules },
    { "nesting depth", test_depth },
    { "duplicate keys", test_duplicate_keys },
    { "top level fields", test_top_level },
    { "odd keys in paths", test_odd_key_paths },
    { "step keys", test_step_keys },
    { "duplicate key in a branch", test_duplicate_key_in_branch },
    { "step types", test_step_types },
    { "step fields", test_step_fields },
    { "branches", test_branches },
    { "trigger path", test_trigger_path },
    { "trigger methods", test_trigger_methods },
    { "trigger integers", test_trigger_integers },
    { "verify", test_verify },
    { "gate condition", test_gate_condition },
    { "gate conditions", test_gate_conditions },
    { "gate matches", test_gate_matches },
    { "response status", test_response_status },
    { "response headers", test_response_headers },
    { "response content type", test_response_content_type },
    { "set", test_set },
    { "log", test_log },
    { "delay", test_delay },
    { "http_request", test_http },
    { "template errors reported", test_template_errors_reported },
    { "all errors reported", test_all_errors_reported },
    { "FILE:LINE:COL with the source line", test_source_positions },
    { "every config field of the format is read", test_config_fields_are_read },
    { NULL, NULL }
};

UNIT_SUITE("load", tests)
