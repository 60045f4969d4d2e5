/* schema.c - the JSON Schema (draft 2020-12) of the workflow format, for
 * editors: `flussoc --schema`.
 *
 * The names come from the format's tables (runtime/flusso_format.h): the
 * step types, each type's config fields in the spec's order and the kind
 * of value each takes, the operators and their arity, the verify schemes
 * and the log levels.  What those tables do not hold (a field's
 * description, its default, whether it is required, and the few choices
 * the loader keeps to itself) is written once below, one row per field,
 * and tests/unit/test_schema.c checks that every field of the tables has
 * its row and that each default is the one the loader applies.
 *
 * The schema is built as a cJSON tree and printed by cJSON, so every
 * string is escaped and the output is the same bytes every time. */
#include "schema.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "workflow.h"

/* ---- what the tables do not say ------------------------------------------- */

typedef struct {
    const char *type;          /* the step type's JSON name */
    const char *field;
    bool required;
    const char *default_json;  /* the default as JSON text, or NULL */
    const char *limits_json;   /* more keywords ({"minimum": 1}), or NULL */
    const char *description;
} FieldDoc;

#define POSITIVE "{\"minimum\": 1, \"maximum\": 2147483647}"

static const FieldDoc field_docs[] = {
    { "webhook_trigger", "path", true, NULL, NULL,
      "The request path this workflow answers, starting with '/' (no query "
      "string). /healthz and /metrics are the handler's own." },
    { "webhook_trigger", "method", false, "\"POST\"", NULL,
      "The HTTP method, or an array of methods, the path accepts." },
    { "webhook_trigger", "response_timeout_ms", false, "30000", POSITIVE,
      "Milliseconds the caller may wait for a webhook_response before it "
      "gets 504; the run goes on." },
    { "webhook_trigger", "max_body_bytes", false, "1048576", POSITIVE,
      "Larger request bodies are answered 413 and start no run." },
    { "webhook_trigger", "verify", false, NULL, NULL,
      "Check the sender's signature on the raw body before any step runs; "
      "a request that fails it is answered 401." },
    { "webhook_trigger", "dedupe", false, NULL, NULL,
      "Answer a repeated delivery with the first one's recorded answer "
      "instead of running it again: true (the verify scheme's delivery id "
      "is the key), or an object with key and window_s." },
    { "logic_gate", "condition", false, NULL, NULL,
      "Exactly one {{ expression }}: its truthiness picks the branch. "
      "Give either condition or conditions." },
    { "logic_gate", "conditions", false, NULL, NULL,
      "Conditions combined by match: each compares left with right using "
      "operator." },
    { "logic_gate", "match", false, "\"all\"", NULL,
      "With conditions: 'all' of them must hold, or 'any' one." },
    { "webhook_response", "status_code", false, "200", "{\"minimum\": 200, \"maximum\": 599}",
      "The status, 200-599, or a template yielding one." },
    { "webhook_response", "body", false, NULL, NULL,
      "Any JSON value, its strings templates, sent as compact JSON; a JSON "
      "string is a text template sent as text.  Absent: an empty body." },
    { "webhook_response", "content_type", false, "\"application/json\"", NULL,
      "The Content-Type sent with the answer." },
    { "webhook_response", "headers", false, NULL, NULL,
      "Response headers: name to template.  Content-Type, Content-Length, "
      "Transfer-Encoding, Connection and X-Flusso-Run-Id are not allowed." },
    { "set", "values", true, NULL, NULL,
      "The output of the step: name to value, its strings templates." },
    { "log", "message", true, NULL, NULL, "The text to log, a template." },
    { "log", "level", false, "\"info\"", NULL, "The level of the log line." },
    { "log", "file", false, NULL, NULL,
      "Append the message and a newline to this file (a literal path) "
      "instead of the handler's log." },
    { "delay", "ms", true, NULL, "{\"minimum\": 0, \"maximum\": 2147483647}",
      "Milliseconds to wait, or a template yielding them.  A waiting run "
      "holds no thread." },
    { "http_request", "method", false, "\"GET\"", NULL, "The method, a template." },
    { "http_request", "url", true, NULL, NULL,
      "The URL, a template; http:// or https://." },
    { "http_request", "headers", false, NULL, NULL,
      "Request headers: name to template." },
    { "http_request", "body", false, NULL, NULL,
      "Any JSON value, its strings templates, or one text template." },
    { "http_request", "timeout_ms", false, "10000", POSITIVE,
      "Milliseconds for each attempt." },
    { "http_request", "retries", false, "0", "{\"minimum\": 0, \"maximum\": 100}",
      "Retries of connection failures, time-outs, 429 and 5xx, with "
      "exponential back-off." },
    { "http_request", "retry_max_delay_ms", false, "5000",
      "{\"minimum\": 1, \"maximum\": 86400000}",
      "The longest back-off between two attempts (before jitter): 100 ms, "
      "doubling, at most this." },
    { "http_request", "fail_on_status", false, "true", NULL,
      "A status of 400 or more fails the step." },
    { "http_request", "follow_redirects", false, "false", NULL,
      "Follow redirects." },
    { "http_request", "max_response_bytes", false, "10485760", POSITIVE,
      "A larger response body fails the step." },
    { "switch", "value", true, NULL, NULL,
      "A template; its text is compared with each case name exactly." },
    { "for_each", "items", true, NULL, NULL,
      "A template yielding an array (null counts as empty; anything else "
      "fails the step)." },
    { "for_each", "concurrency", false, "1", "{\"minimum\": 1, \"maximum\": 64}",
      "How many iterations may run at once.  This flussoc runs them one at "
      "a time." },
    { "for_each", "max_items", false, "1000", "{\"minimum\": 1, \"maximum\": 100000}",
      "More items fail the step." },
    { "database", "url", true, NULL, NULL,
      "sqlite:PATH, postgresql://... or postgres://..., literal or exactly "
      "{{ env.NAME }}; opened when the handler starts." },
    { "database", "sql", true, NULL, NULL,
      "One literal statement; values go in params, written $1, $2... in "
      "it." },
    { "database", "params", false, NULL, NULL,
      "The values bound to $1...$N, templates by the typed rule; arrays "
      "and objects are bound as JSON text." },
    { "database", "timeout_ms", false, "10000", POSITIVE,
      "The statement is cancelled, and the step fails, after this long." },
    { "database", "max_rows", false, "10000", "{\"minimum\": 1, \"maximum\": 1000000}",
      "A result with more rows fails the step." },
    { "send_email", "smtp_url", true, NULL, NULL,
      "smtps://HOST[:PORT] (TLS from the start) or smtp://HOST[:PORT] "
      "(STARTTLS when offered; required with a username on a host that is "
      "not loopback)." },
    { "send_email", "username", false, NULL, NULL,
      "The SMTP login, normally {{ env.NAME }}." },
    { "send_email", "password", false, NULL, NULL,
      "The SMTP password, normally {{ env.NAME }}." },
    { "send_email", "from", true, NULL, NULL,
      "The sender, 'Name <address>' or an address; also the envelope "
      "sender." },
    { "send_email", "to", true, NULL, NULL,
      "Recipients: an address template, or an array of them." },
    { "send_email", "cc", false, NULL, NULL, "Copy recipients, as to." },
    { "send_email", "bcc", false, NULL, NULL,
      "Blind copy recipients: in the envelope only." },
    { "send_email", "reply_to", false, NULL, NULL, "The Reply-To address." },
    { "send_email", "subject", true, NULL, NULL,
      "The subject, a template; RFC 2047 encoded when not ASCII." },
    { "send_email", "text", false, NULL, NULL,
      "The plain-text body.  Give text, html or both." },
    { "send_email", "html", false, NULL, NULL,
      "The HTML body; with text, the message is multipart/alternative." },
    { "send_email", "timeout_ms", false, "30000", POSITIVE,
      "Milliseconds for each attempt." },
    { "send_email", "retries", false, "0", "{\"minimum\": 0, \"maximum\": 100}",
      "Retries of connection failures, time-outs and temporary (4xx) "
      "refusals, with exponential back-off." },
    { "send_email", "retry_max_delay_ms", false, "5000", "{\"minimum\": 1, \"maximum\": 86400000}",
      "The longest wait between two attempts." },
};

static const char *const type_docs[] = {
    [ST_TRIGGER] = "Starts a run for each request to its path (the trigger "
                   "only).",
    [ST_LOGIC_GATE] = "Runs its true or its false branch, then the step "
                      "after it.",
    [ST_RESPONSE] = "Answers the caller; the steps after it run after the "
                    "answer.",
    [ST_SET] = "Computes named values.",
    [ST_LOG] = "Writes a line to the handler's log, or to a file.",
    [ST_DELAY] = "Waits.",
    [ST_HTTP_REQUEST] = "Calls another system over HTTP(S).",
    [ST_SWITCH] = "Runs the steps of the first case named by its value's "
                  "text, or its default steps, then the step after it.",
    [ST_FOR_EACH] = "Runs its steps once per item; its output is the "
                    "results of the iterations.",
    [ST_DATABASE] = "Runs one SQL statement on SQLite or PostgreSQL.",
    [ST_SEND_EMAIL] = "Sends an email over SMTP.",
};

/* Rules of a type's config beyond its fields, as JSON text. */
static const char *const config_rules[FL_STEP_TYPE_COUNT] = {
    [ST_LOGIC_GATE] = "{\"oneOf\": [{\"required\": [\"condition\"]}, "
                      "{\"required\": [\"conditions\"]}], "
                      "\"dependentRequired\": {\"match\": [\"conditions\"]}}",
};

static const char *const match_names[] = { "all", "any" };
static const char *const on_error_names[] = { "fail", "continue" };
static const char *const encoding_names[] = { "hex", "base64" };

/* ---- building blocks -------------------------------------------------------- */

static cJSON *describe(cJSON *o, const char *description)
{
    if (description)
        cJSON_AddStringToObject(o, "description", description);
    return o;
}

static cJSON *typed(const char *type, const char *description)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return describe(o, description);
}

static cJSON *ref(const char *def)
{
    cJSON *o = cJSON_CreateObject();
    char target[64];
    snprintf(target, sizeof target, "#/$defs/%s", def);
    cJSON_AddStringToObject(o, "$ref", target);
    return o;
}

static cJSON *names_enum(const char *const *names, int count)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "enum", cJSON_CreateStringArray(names, count));
    return o;
}

/* {"anyOf": [a, b]} */
static cJSON *any_of(cJSON *a, cJSON *b)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "anyOf");
    cJSON_AddItemToArray(list, a);
    cJSON_AddItemToArray(list, b);
    return o;
}

/* A closed object: the properties given, nothing else. */
static cJSON *closed_object(cJSON **props)
{
    cJSON *o = typed("object", NULL);
    *props = cJSON_AddObjectToObject(o, "properties");
    cJSON_AddFalseToObject(o, "additionalProperties");
    return o;
}

/* Adds the members of the JSON object text json to o. */
static void merge(cJSON *o, const char *json)
{
    cJSON *more = cJSON_Parse(json);
    while (more && more->child) {
        cJSON *item = more->child;
        cJSON_DetachItemViaPointer(more, item);
        cJSON_AddItemToObject(o, item->string, item);
    }
    cJSON_Delete(more);
}

static void require(cJSON *o, const char *name)
{
    cJSON *list = cJSON_GetObjectItem(o, "required");
    if (!list)
        list = cJSON_AddArrayToObject(o, "required");
    cJSON_AddItemToArray(list, cJSON_CreateString(name));
}

/* ---- the value of each kind of config field (flusso_format.h) -------------- */

typedef enum {
    KIND_ROUTE, KIND_METHODS, KIND_INTEGER, KIND_BOOLEAN,
    KIND_INT_OR_TEMPLATE, KIND_TEMPLATE, KIND_LITERAL, KIND_CHOICE,
    KIND_VALUE, KIND_HEADERS, KIND_OBJECT, KIND_CONDITIONS, KIND_VALUES,
    KIND_RECIPIENTS
} FieldKind;

typedef struct {
    const char *name;
    FieldKind kind;
} ConfigField;

/* The choices of a CHOICE field, from the format's tables where they are. */
static cJSON *choice_schema(const char *field)
{
    if (strcmp(field, "level") == 0)
        return names_enum(format_log_levels.names, format_log_levels.count);
    return names_enum(match_names, COUNT(match_names));
}

/* An OBJECT field: the trigger's verify, or a set's values. */
static cJSON *object_schema(const char *field)
{
    if (strcmp(field, "verify") == 0)
        return ref("verify");
    if (strcmp(field, "dedupe") == 0)
        return ref("dedupe");
    cJSON *o = typed("object", NULL);
    cJSON_AddItemToObject(o, "additionalProperties", ref("value"));
    return o;
}

static cJSON *kind_schema(const ConfigField *f)
{
    switch (f->kind) {
    case KIND_ROUTE: {
        cJSON *o = typed("string", NULL);
        cJSON_AddStringToObject(o, "pattern", "^/[^?#\\s]*$");
        return o;
    }
    case KIND_METHODS: return ref("methods");
    case KIND_INTEGER: return typed("integer", NULL);
    case KIND_BOOLEAN: return typed("boolean", NULL);
    case KIND_INT_OR_TEMPLATE:
        return any_of(typed("integer", NULL), ref("template"));
    case KIND_TEMPLATE: return ref("template");
    case KIND_LITERAL: return typed("string", NULL);
    case KIND_CHOICE: return choice_schema(f->name);
    case KIND_VALUE: return ref("value");
    case KIND_HEADERS: return ref("headers");
    case KIND_OBJECT: return object_schema(f->name);
    case KIND_CONDITIONS: return ref("conditions");
    case KIND_RECIPIENTS: {
        cJSON *list = typed("array", NULL);
        cJSON_AddItemToObject(list, "items", ref("template"));
        cJSON_AddNumberToObject(list, "minItems", 1);
        return any_of(ref("template"), list);
    }
    case KIND_VALUES: {
        cJSON *o = typed("array", NULL);
        cJSON_AddItemToObject(o, "items", ref("value"));
        return o;
    }
    }
    return cJSON_CreateObject();
}

static const FieldDoc *field_doc(const char *type, const char *field)
{
    for (int i = 0; i < COUNT(field_docs); i++)
        if (strcmp(field_docs[i].type, type) == 0
            && strcmp(field_docs[i].field, field) == 0)
            return &field_docs[i];
    return NULL;
}

/* ---- step types ---------------------------------------------------------- */

#define CONFIG_FIELD_(name, kind) { #name, KIND_##kind },
#define CONFIG_LIST_(c, json, outputs, config)                                \
    [ST_##c] = (const ConfigField[]){ config(CONFIG_FIELD_) { NULL, 0 } },
static const ConfigField *const config_fields[] = {
    FL_STEP_TYPES(CONFIG_LIST_)
};

/* The config object of step type t. */
static cJSON *config_schema(StepType t)
{
    const char *type = step_type_name(t);
    cJSON *props, *o = closed_object(&props);
    for (const ConfigField *f = config_fields[t]; f->name; f++) {
        const FieldDoc *doc = field_doc(type, f->name);
        cJSON *p = kind_schema(f);
        if (doc && doc->default_json)
            cJSON_AddItemToObject(p, "default", cJSON_Parse(doc->default_json));
        if (doc && doc->limits_json)
            merge(p, doc->limits_json);
        describe(p, doc ? doc->description : NULL);
        cJSON_AddItemToObject(props, f->name, p);
        if (doc && doc->required)
            require(o, f->name);
    }
    if (config_rules[t])
        merge(o, config_rules[t]);
    return o;
}

/* Whether step type t has a required config field. */
static bool config_required(StepType t)
{
    for (const ConfigField *f = config_fields[t]; f->name; f++) {
        const FieldDoc *doc = field_doc(step_type_name(t), f->name);
        if (doc && doc->required)
            return true;
    }
    return false;
}

/* if {"type": <t>} then {its config; branches only on a gate}. */
static cJSON *step_case(StepType t)
{
    cJSON *when = cJSON_CreateObject(), *then = cJSON_CreateObject();
    cJSON *type = cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(when, "properties"), "type");
    cJSON_AddStringToObject(type, "const", step_type_name(t));
    require(when, "type");
    cJSON *props = cJSON_AddObjectToObject(then, "properties");
    cJSON_AddItemToObject(props, "config",
                          describe(config_schema(t), type_docs[t]));
    if (t != ST_LOGIC_GATE)
        cJSON_AddFalseToObject(props, "branches");
    if (t != ST_SWITCH) {
        cJSON_AddFalseToObject(props, "cases");
        cJSON_AddFalseToObject(props, "default");
    }
    if (t != ST_FOR_EACH)
        cJSON_AddFalseToObject(props, "steps");
    if (config_required(t))
        require(then, "config");
    if (t == ST_SWITCH)
        require(then, "cases");
    if (t == ST_FOR_EACH)
        require(then, "steps");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "if", when);
    cJSON_AddItemToObject(o, "then", then);
    return o;
}

static cJSON *key_schema(void)
{
    cJSON *o = typed("string", "Names the step in expressions "
                               "(<key>.output...); unique in the workflow.");
    cJSON_AddStringToObject(o, "pattern", "^[A-Za-z_][A-Za-z0-9_]*$");
    static const char *const reserved[] = {
        "env", "run", "true", "false", "null"
    };
    cJSON *not = cJSON_AddObjectToObject(o, "not");
    cJSON_AddItemToObject(not, "enum",
                          cJSON_CreateStringArray(reserved, COUNT(reserved)));
    return o;
}

/* A step of a list: any type but the trigger. */
static cJSON *step_schema(void)
{
    cJSON *props, *o = closed_object(&props);
    describe(o, "A step: runs in order with the steps of its list.");
    cJSON_AddItemToObject(props, "key", ref("key"));
    cJSON *type = names_enum(format_step_types.names + 1,
                             format_step_types.count - 1);
    cJSON_AddItemToObject(props, "type", describe(type, "The step type."));
    cJSON_AddItemToObject(props, "name", typed("string", "Display text."));
    cJSON *on_error = names_enum(on_error_names, COUNT(on_error_names));
    cJSON_AddItemToObject(on_error, "default", cJSON_CreateString("fail"));
    cJSON_AddItemToObject(props, "on_error", describe(on_error,
        "'fail' ends the run when the step fails; 'continue' goes on, "
        "with the failure's message in the step's output field error."));
    cJSON_AddItemToObject(props, "config", typed("object", NULL));
    cJSON_AddItemToObject(props, "branches", ref("branches"));
    cJSON_AddItemToObject(props, "cases", ref("cases"));
    cJSON_AddItemToObject(props, "default", describe(ref("steps"),
        "switch only: the steps run when no case matches."));
    cJSON_AddItemToObject(props, "steps", describe(ref("steps"),
        "for_each only: the steps run once per item; inside them "
        "<key>.item and <key>.index are the element and its index."));
    require(o, "key");
    require(o, "type");
    cJSON *cases = cJSON_AddArrayToObject(o, "allOf");
    for (int t = ST_TRIGGER + 1; t < format_step_types.count; t++)
        cJSON_AddItemToArray(cases, step_case((StepType)t));
    return o;
}

static cJSON *trigger_schema(void)
{
    cJSON *props, *o = closed_object(&props);
    describe(o, type_docs[ST_TRIGGER]);
    cJSON_AddItemToObject(props, "key", ref("key"));
    cJSON *type = cJSON_CreateObject();
    cJSON_AddStringToObject(type, "const", step_type_name(ST_TRIGGER));
    cJSON_AddItemToObject(props, "type", type);
    cJSON_AddItemToObject(props, "name", typed("string", "Display text."));
    cJSON_AddItemToObject(props, "config", config_schema(ST_TRIGGER));
    require(o, "key");
    require(o, "type");
    require(o, "config");
    return o;
}

/* ---- the parts of config values --------------------------------------------- */

static cJSON *methods_schema(void)
{
    cJSON *one = typed("string", NULL);
    cJSON_AddStringToObject(one, "pattern", "^[A-Za-z]+$");
    cJSON *many = typed("array", NULL);
    cJSON_AddItemToObject(many, "items", cJSON_Duplicate(one, true));
    cJSON_AddNumberToObject(many, "minItems", 1);
    return any_of(one, many);
}

static cJSON *headers_schema(void)
{
    cJSON *o = typed("object", "Header name to template.");
    cJSON *names = cJSON_AddObjectToObject(o, "propertyNames");
    cJSON_AddStringToObject(names, "pattern", "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$");
    cJSON_AddItemToObject(o, "additionalProperties", ref("template"));
    return o;
}

/* A condition's left or right. */
static cJSON *operand_schema(void)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "anyOf");
    cJSON_AddItemToArray(list, ref("template"));
    static const char *const constants[] = { "number", "boolean", "null" };
    cJSON *constant = cJSON_CreateObject();
    cJSON_AddItemToObject(constant, "type",
                          cJSON_CreateStringArray(constants, 3));
    cJSON_AddItemToArray(list, constant);
    return describe(o, "A template (one whole {{ expr }} keeps its type), "
                       "or a JSON constant.");
}

/* {"if": {"properties": {"operator": unary}}, "then": no right, "else":
 * right required}: right is absent exactly for the unary operators. */
static void add_arity_rule(cJSON *o)
{
    cJSON *unary = cJSON_CreateArray();
    for (int i = 0; i < format_cond_ops.count; i++)
        if (format_cond_arity((CondOp)i) == 1)
            cJSON_AddItemToArray(unary,
                                 cJSON_CreateString(format_cond_ops.names[i]));
    cJSON *when = cJSON_AddObjectToObject(o, "if");
    cJSON *op = cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(when, "properties"), "operator");
    cJSON_AddItemToObject(op, "enum", unary);
    require(cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "then"), "not"),
            "right");
    require(cJSON_AddObjectToObject(o, "else"), "right");
}

static cJSON *condition_schema(void)
{
    cJSON *props, *o = closed_object(&props);
    cJSON_AddItemToObject(props, "left", ref("operand"));
    cJSON_AddItemToObject(props, "operator",
                          names_enum(format_cond_ops.names,
                                     format_cond_ops.count));
    cJSON_AddItemToObject(props, "right", describe(ref("operand"),
        "Absent exactly for the operators that take one operand; a literal "
        "POSIX extended regex for matches."));
    require(o, "left");
    require(o, "operator");
    add_arity_rule(o);
    return o;
}

static cJSON *conditions_schema(void)
{
    cJSON *o = typed("array", NULL);
    cJSON_AddItemToObject(o, "items", ref("condition"));
    cJSON_AddNumberToObject(o, "minItems", 1);
    return o;
}

/* verify: scheme and secret; header, encoding and prefix are the
 * hmac_sha256 scheme's own. */
static cJSON *verify_schema(void)
{
    cJSON *props, *o = closed_object(&props);
    cJSON_AddItemToObject(props, "scheme", describe(
        names_enum(format_verify_schemes.names, format_verify_schemes.count),
        "The sender's signature scheme."));
    cJSON_AddItemToObject(props, "secret", describe(ref("template"),
        "The signing secret, normally {{ env.NAME }}."));
    cJSON *tolerance = typed("integer", "Seconds a signed timestamp may be "
                                        "off, for schemes that sign one.");
    cJSON_AddNumberToObject(tolerance, "default", 300);
    merge(tolerance, POSITIVE);
    cJSON_AddItemToObject(props, "tolerance_s", tolerance);
    cJSON_AddItemToObject(props, "header", typed("string",
        "hmac_sha256: the header holding the signature."));
    cJSON *encoding = names_enum(encoding_names, COUNT(encoding_names));
    cJSON_AddStringToObject(encoding, "default", "hex");
    cJSON_AddItemToObject(props, "encoding", describe(encoding,
        "hmac_sha256: how the signature is written."));
    cJSON_AddItemToObject(props, "prefix", typed("string",
        "hmac_sha256: text before the signature, such as sha256=."));
    require(o, "scheme");
    require(o, "secret");
    cJSON *when = cJSON_AddObjectToObject(o, "if");
    cJSON *scheme = cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(when, "properties"), "scheme");
    cJSON_AddStringToObject(scheme, "const", "hmac_sha256");
    require(cJSON_AddObjectToObject(o, "then"), "header");
    cJSON *otherwise = cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(o, "else"), "properties");
    static const char *const hmac_only[] = { "header", "encoding", "prefix" };
    for (int i = 0; i < COUNT(hmac_only); i++)
        cJSON_AddFalseToObject(otherwise, hmac_only[i]);
    return o;
}

/* dedupe: true, false, or a key and a window. */
static cJSON *dedupe_schema(void)
{
    cJSON *props, *o = closed_object(&props);
    cJSON_AddItemToObject(props, "key", describe(ref("template"),
        "The delivery's key, from the trigger's output and env (null or "
        "empty: not deduplicated). Default: the verify scheme's delivery "
        "id (github, stripe, shopify, standard_webhooks)."));
    cJSON *window = typed("integer", "Seconds a recorded answer is replayed "
                                     "to repeated deliveries.");
    cJSON_AddNumberToObject(window, "default", 86400);
    cJSON_AddNumberToObject(window, "minimum", 1);
    cJSON_AddNumberToObject(window, "maximum", 2592000);
    cJSON_AddItemToObject(props, "window_s", window);
    return any_of(typed("boolean", NULL), o);
}

static cJSON *branches_schema(void)
{
    cJSON *props, *o = closed_object(&props);
    describe(o, "logic_gate only: the steps run when the condition holds "
                "(true) or not (false).");
    cJSON_AddItemToObject(props, "true", ref("steps"));
    cJSON_AddItemToObject(props, "false", ref("steps"));
    return o;
}

static cJSON *cases_schema(void)
{
    cJSON *o = typed("object", "switch only: case name to the steps run "
                               "when the value's text is that name.");
    cJSON *names = cJSON_AddObjectToObject(o, "propertyNames");
    cJSON_AddNumberToObject(names, "minLength", 1);
    cJSON_AddItemToObject(o, "additionalProperties", ref("steps"));
    return o;
}

static cJSON *steps_schema(void)
{
    cJSON *o = typed("array", "Steps, run in order.");
    cJSON_AddItemToObject(o, "items", ref("step"));
    return o;
}

/* ---- the whole schema ----------------------------------------------------- */

static cJSON *defs(void)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "trigger", trigger_schema());
    cJSON_AddItemToObject(d, "steps", steps_schema());
    cJSON_AddItemToObject(d, "step", step_schema());
    cJSON_AddItemToObject(d, "branches", branches_schema());
    cJSON_AddItemToObject(d, "cases", cases_schema());
    cJSON_AddItemToObject(d, "key", key_schema());
    cJSON_AddItemToObject(d, "template", typed("string",
        "Text with {{ expression }} parts; one whole {{ expression }} keeps "
        "the value's type where a JSON value is built."));
    cJSON_AddItemToObject(d, "value", describe(cJSON_CreateObject(),
        "Any JSON value; its strings, at any depth, are templates."));
    cJSON_AddItemToObject(d, "methods", methods_schema());
    cJSON_AddItemToObject(d, "headers", headers_schema());
    cJSON_AddItemToObject(d, "verify", verify_schema());
    cJSON_AddItemToObject(d, "dedupe", dedupe_schema());
    cJSON_AddItemToObject(d, "conditions", conditions_schema());
    cJSON_AddItemToObject(d, "condition", condition_schema());
    cJSON_AddItemToObject(d, "operand", operand_schema());
    return d;
}

static cJSON *top_schema(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "$schema",
                            "https://json-schema.org/draft/2020-12/schema");
    cJSON_AddStringToObject(o, "title", "Flusso workflow");
    cJSON_AddStringToObject(o, "description",
        "A webhook workflow for flussoc: a trigger, then steps.");
    cJSON_AddStringToObject(o, "type", "object");
    cJSON *props = cJSON_AddObjectToObject(o, "properties");
    cJSON *version = cJSON_CreateObject();
    cJSON_AddNumberToObject(version, "const", 1);
    cJSON_AddItemToObject(props, "flusso",
                          describe(version, "The format's version."));
    cJSON *name = typed("string", "The workflow's name: the binary's "
                                  "default name, run.workflow.");
    cJSON_AddStringToObject(name, "pattern", "^[a-z0-9][a-z0-9_-]*$");
    cJSON_AddItemToObject(props, "name", name);
    cJSON_AddItemToObject(props, "description", typed("string", NULL));
    cJSON_AddItemToObject(props, "trigger", ref("trigger"));
    cJSON_AddItemToObject(props, "steps", ref("steps"));
    cJSON_AddFalseToObject(o, "additionalProperties");
    require(o, "name");
    require(o, "trigger");
    require(o, "steps");
    cJSON_AddItemToObject(o, "$defs", defs());
    return o;
}

int schema_write(FILE *out)
{
    cJSON *schema = top_schema();
    char *text = cJSON_Print(schema);
    cJSON_Delete(schema);
    if (!text)
        return -1;
    int status = fputs(text, out) < 0 || fputc('\n', out) == EOF ? -1 : 0;
    free(text);
    return status;
}
