/* test_schema.c - `flussoc --schema`: every config field of the format's
 * tables is in the schema with a description, and every default the
 * schema states is the one the loader applies. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "unit.h"
#include "workflow.h"

static cJSON *schema(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_EQUAL(schema_write(f), 0);
    fclose(f);
    cJSON *root = cJSON_Parse(text);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    return root;
}

/* The schema of step type t's config object. */
static const cJSON *config_of(const cJSON *root, StepType t)
{
    const cJSON *defs = cJSON_GetObjectItem(root, "$defs");
    const cJSON *o;
    if (t == ST_TRIGGER) {
        o = cJSON_GetObjectItem(defs, "trigger");
    } else {
        const cJSON *cases = cJSON_GetObjectItem(
            cJSON_GetObjectItem(defs, "step"), "allOf");
        o = cJSON_GetObjectItem(cJSON_GetArrayItem(cases, (int)t - 1), "then");
    }
    return cJSON_GetObjectItem(cJSON_GetObjectItem(o, "properties"), "config");
}

static const cJSON *field_of(const cJSON *root, StepType t, const char *field)
{
    return cJSON_GetObjectItem(
        cJSON_GetObjectItem(config_of(root, t), "properties"), field);
}

static void test_every_field_described(void)
{
    cJSON *root = schema();
    for (int t = 0; t < format_step_types.count; t++) {
        FormatNames fields = format_config_fields((StepType)t);
        const cJSON *props = cJSON_GetObjectItem(config_of(root, (StepType)t),
                                                 "properties");
        CU_ASSERT_EQUAL(cJSON_GetArraySize(props), fields.count);
        for (int i = 0; i < fields.count; i++) {
            const cJSON *p = field_of(root, (StepType)t, fields.names[i]);
            const cJSON *d = cJSON_GetObjectItem(p, "description");
            if (!cJSON_IsString(d))
                fprintf(stderr, "\nno description for %s.%s\n",
                        format_step_types.names[t], fields.names[i]);
            CU_ASSERT(cJSON_IsString(d));
        }
    }
    cJSON_Delete(root);
}

/* The schema's default for the field, as a number (booleans 0 or 1). */
static double default_number(const cJSON *root, StepType t, const char *field)
{
    const cJSON *d = cJSON_GetObjectItem(field_of(root, t, field), "default");
    CU_ASSERT_PTR_NOT_NULL(d);
    return cJSON_IsBool(d) ? cJSON_IsTrue(d) : cJSON_GetNumberValue(d);
}

static const char *default_string(const cJSON *root, StepType t,
                                  const char *field)
{
    const cJSON *d = cJSON_GetObjectItem(field_of(root, t, field), "default");
    CU_ASSERT(cJSON_IsString(d));
    return cJSON_IsString(d) ? d->valuestring : "";
}

static const char minimal[] =
    "{\"name\": \"t\", \"trigger\": {\"key\": \"trigger\", \"type\": "
    "\"webhook_trigger\", \"config\": {\"path\": \"/t\"}}, \"steps\": ["
    "{\"key\": \"g\", \"type\": \"logic_gate\", \"config\": {\"conditions\": "
    "[{\"left\": 1, \"operator\": \"exists\"}]}},"
    "{\"key\": \"r\", \"type\": \"webhook_response\", \"config\": {}},"
    "{\"key\": \"l\", \"type\": \"log\", \"config\": {\"message\": \"m\"}},"
    "{\"key\": \"h\", \"type\": \"http_request\", "
    "\"config\": {\"url\": \"https://x/\"}}]}";

static void test_defaults_are_the_loaders(void)
{
    cJSON *root = schema();
    Arena *a = arena_new();
    Diag *d = diag_new(a, "t.json", false);
    Workflow *w = workflow_load(a, d, "t.json", minimal, strlen(minimal));
    CU_ASSERT_FATAL(w && diag_error_count(d) == 0 && w->step_count == 5);
    const TriggerConfig *t = &w->trigger->as.trigger;
    CU_ASSERT_STRING_EQUAL(t->methods[0],
                           default_string(root, ST_TRIGGER, "method"));
    CU_ASSERT_EQUAL(t->response_timeout_ms,
                    default_number(root, ST_TRIGGER, "response_timeout_ms"));
    CU_ASSERT_EQUAL(t->max_body_bytes,
                    default_number(root, ST_TRIGGER, "max_body_bytes"));
    CU_ASSERT_EQUAL(w->all_steps[1]->as.gate.match_any,
                    strcmp(default_string(root, ST_LOGIC_GATE, "match"), "any") == 0);
    const ResponseConfig *r = &w->all_steps[2]->as.response;
    CU_ASSERT_EQUAL(r->status.value,
                    default_number(root, ST_RESPONSE, "status_code"));
    CU_ASSERT_STRING_EQUAL(r->content_type,
                           default_string(root, ST_RESPONSE, "content_type"));
    CU_ASSERT_STRING_EQUAL(format_log_levels.names[w->all_steps[3]->as.log.level],
                           default_string(root, ST_LOG, "level"));
    const HttpConfig *h = &w->all_steps[4]->as.http;
    CU_ASSERT_PTR_NULL(h->method);   /* GET, the emitter's default */
    CU_ASSERT_STRING_EQUAL(default_string(root, ST_HTTP_REQUEST, "method"), "GET");
    CU_ASSERT_EQUAL(h->timeout_ms, default_number(root, ST_HTTP_REQUEST, "timeout_ms"));
    CU_ASSERT_EQUAL(h->retries, default_number(root, ST_HTTP_REQUEST, "retries"));
    CU_ASSERT_EQUAL(h->retry_max_delay_ms,
                    default_number(root, ST_HTTP_REQUEST, "retry_max_delay_ms"));
    CU_ASSERT_EQUAL(h->fail_on_status,
                    default_number(root, ST_HTTP_REQUEST, "fail_on_status"));
    CU_ASSERT_EQUAL(h->follow_redirects,
                    default_number(root, ST_HTTP_REQUEST, "follow_redirects"));
    CU_ASSERT_EQUAL(h->max_response_bytes,
                    default_number(root, ST_HTTP_REQUEST, "max_response_bytes"));
    arena_free(a);
    cJSON_Delete(root);
}

/* Two calls, the same bytes. */
static void test_deterministic(void)
{
    char *one = NULL, *two = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f = open_memstream(&one, &n1);
    schema_write(f);
    fclose(f);
    f = open_memstream(&two, &n2);
    schema_write(f);
    fclose(f);
    CU_ASSERT(n1 == n2 && memcmp(one, two, n1) == 0);
    free(one);
    free(two);
}

static const UnitTest tests[] = {
    { "every config field described", test_every_field_described },
    { "defaults are the loader's", test_defaults_are_the_loaders },
    { "deterministic", test_deterministic },
    { NULL, NULL },
};
UNIT_SUITE("schema", tests)
