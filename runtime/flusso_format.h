/* flusso_format.h - the facts of the workflow format, each written once.
 *
 * X-macro tables (spec §1-§3): the step types with their output and config
 * fields, the `conditions` operators, the verify schemes, the log levels
 * and the fields of `run`.  flussoc's loader, checker and code generator
 * and the runtime (through flusso.h, which includes this header) expand
 * them into their enums, name tables and lists, so adding a step type or
 * an operator is a line here plus the code that is really new.
 *
 * Each table is a macro taking the name of a macro X to apply to every
 * row, in order; a consumer defines X, expands the table, and undefines
 * X.  Names are bare identifiers: a consumer makes strings of them with
 * #, and constants with ##.  This header declares nothing of its own
 * beyond the few helpers at its end (all prefixed fl_ / FL_). */
#ifndef FLUSSO_FORMAT_H
#define FLUSSO_FORMAT_H

#include <stddef.h>

/* ---- step types ------------------------------------------------------------
 *
 * X(CONST, json_name, OUTPUTS, CONFIG): the enum constant's suffix
 * (FL_STEP_CONST), the type's name in JSON, and the tables of its output
 * fields and its config fields.  The first row is the trigger, which only
 * the workflow's trigger may be. */
#define FL_STEP_TYPES(X)                                                      \
    X(TRIGGER, webhook_trigger, FL_OUTPUT_TRIGGER, FL_CONFIG_TRIGGER)         \
    X(LOGIC_GATE, logic_gate, FL_OUTPUT_LOGIC_GATE, FL_CONFIG_LOGIC_GATE)     \
    X(RESPONSE, webhook_response, FL_OUTPUT_RESPONSE, FL_CONFIG_RESPONSE)     \
    X(SET, set, FL_OUTPUT_SET, FL_CONFIG_SET)                                 \
    X(LOG, log, FL_OUTPUT_LOG, FL_CONFIG_LOG)                                 \
    X(DELAY, delay, FL_OUTPUT_DELAY, FL_CONFIG_DELAY)                         \
    X(HTTP_REQUEST, http_request, FL_OUTPUT_HTTP_REQUEST, FL_CONFIG_HTTP_REQUEST) \
    X(SWITCH, switch, FL_OUTPUT_SWITCH, FL_CONFIG_SWITCH)                     \
    X(FOR_EACH, for_each, FL_OUTPUT_FOR_EACH, FL_CONFIG_FOR_EACH)             \
    X(DATABASE, database, FL_OUTPUT_DATABASE, FL_CONFIG_DATABASE)             \
    X(SEND_EMAIL, send_email, FL_OUTPUT_SEND_EMAIL, FL_CONFIG_SEND_EMAIL)

/* Output fields, F(name): the fields every output of the type has (spec
 * §3).  A set's output is its values, so its list is empty; every step
 * under on_error continue also has "error". */
#define FL_OUTPUT_TRIGGER(F)                                                  \
    F(method) F(path) F(query) F(headers) F(body) F(raw_body) F(received_at)
#define FL_OUTPUT_LOGIC_GATE(F)     F(result)
#define FL_OUTPUT_RESPONSE(F)       F(sent) F(status)
#define FL_OUTPUT_SET(F)
#define FL_OUTPUT_LOG(F)            F(logged)
#define FL_OUTPUT_DELAY(F)          F(waited_ms)
#define FL_OUTPUT_HTTP_REQUEST(F)   F(status) F(headers) F(body) F(attempts)
#define FL_OUTPUT_SWITCH(F)         F(matched)
#define FL_OUTPUT_FOR_EACH(F)       F(results) F(count)
#define FL_OUTPUT_DATABASE(F)       F(rows) F(row_count)
#define FL_OUTPUT_SEND_EMAIL(F)     F(sent) F(message_id) F(recipients) F(attempts)

/* Config fields, F(name, KIND), in the order the spec lists them.  KIND
 * says what the value may be:
 *   ROUTE      a request path          METHODS   a method or array of them
 *   INTEGER    an integral number      BOOLEAN   true or false
 *   INT_OR_TEMPLATE  an integer, or a template giving one at run time
 *   TEMPLATE   a string with {{ }}     LITERAL   a string without {{ }}
 *   CHOICE     one of a fixed set of names (its own table)
 *   VALUE      any JSON, its strings templates
 *   HEADERS    an object of header name -> template
 *   OBJECT     an object of its own rules (verify, values)
 *   CONDITIONS an array of condition objects
 *   VALUES     an array of any JSON, its strings templates
 *   RECIPIENTS a template or an array of templates */
#define FL_CONFIG_TRIGGER(F)                                                  \
    F(path, ROUTE) F(method, METHODS) F(response_timeout_ms, INTEGER)         \
    F(max_body_bytes, INTEGER) F(verify, OBJECT) F(dedupe, OBJECT)
#define FL_CONFIG_LOGIC_GATE(F)                                               \
    F(condition, TEMPLATE) F(conditions, CONDITIONS) F(match, CHOICE)
#define FL_CONFIG_RESPONSE(F)                                                 \
    F(status_code, INT_OR_TEMPLATE) F(body, VALUE) F(content_type, LITERAL)   \
    F(headers, HEADERS)
#define FL_CONFIG_SET(F)            F(values, OBJECT)
#define FL_CONFIG_LOG(F)                                                      \
    F(message, TEMPLATE) F(level, CHOICE) F(file, LITERAL)
#define FL_CONFIG_DELAY(F)          F(ms, INT_OR_TEMPLATE)
#define FL_CONFIG_HTTP_REQUEST(F)                                             \
    F(method, TEMPLATE) F(url, TEMPLATE) F(headers, HEADERS) F(body, VALUE)   \
    F(timeout_ms, INTEGER) F(retries, INTEGER) F(fail_on_status, BOOLEAN)     \
    F(follow_redirects, BOOLEAN) F(max_response_bytes, INTEGER)               \
    F(retry_max_delay_ms, INTEGER)
#define FL_CONFIG_SWITCH(F)         F(value, TEMPLATE)
#define FL_CONFIG_FOR_EACH(F)                                                 \
    F(items, TEMPLATE) F(concurrency, INTEGER) F(max_items, INTEGER)
#define FL_CONFIG_DATABASE(F)                                                 \
    F(url, TEMPLATE) F(sql, LITERAL) F(params, VALUES) F(timeout_ms, INTEGER) \
    F(max_rows, INTEGER)
#define FL_CONFIG_SEND_EMAIL(F)                                               \
    F(smtp_url, TEMPLATE) F(username, TEMPLATE) F(password, TEMPLATE)         \
    F(from, TEMPLATE) F(to, RECIPIENTS) F(cc, RECIPIENTS) F(bcc, RECIPIENTS)  \
    F(reply_to, TEMPLATE) F(subject, TEMPLATE) F(text, TEMPLATE)              \
    F(html, TEMPLATE) F(timeout_ms, INTEGER) F(retries, INTEGER)              \
    F(retry_max_delay_ms, INTEGER)

/* ---- `conditions` operators (spec §3, logic_gate) --------------------------
 *
 * X(CONST, name, arity): arity 1 takes no "right".  The runtime's function
 * for operator name is fl_cond_name (flusso.h); "matches" takes a compiled
 * pattern for its right side. */
#define FL_COND_OPS(X)                                                        \
    X(EQUALS, equals, 2) X(NOT_EQUALS, not_equals, 2)                         \
    X(CONTAINS, contains, 2) X(NOT_CONTAINS, not_contains, 2)                 \
    X(STARTS_WITH, starts_with, 2) X(ENDS_WITH, ends_with, 2)                 \
    X(GREATER_THAN, greater_than, 2) X(GREATER_OR_EQUAL, greater_or_equal, 2) \
    X(LESS_THAN, less_than, 2) X(LESS_OR_EQUAL, less_or_equal, 2)             \
    X(IS_EMPTY, is_empty, 1) X(IS_NOT_EMPTY, is_not_empty, 1)                 \
    X(EXISTS, exists, 1) X(MATCHES, matches, 2)

/* ---- trigger verify schemes (spec §3): X(CONST, name) -------------------- */
#define FL_VERIFY_SCHEMES(X)                                                  \
    X(GITHUB, github) X(STRIPE, stripe) X(SHOPIFY, shopify) X(SLACK, slack)   \
    X(STANDARD_WEBHOOKS, standard_webhooks) X(HMAC_SHA256, hmac_sha256)

/* ---- log levels, least severe first: X(CONST, name) ---------------------- */
#define FL_LOG_LEVELS(X)                                                      \
    X(DEBUG, debug) X(INFO, info) X(WARN, warn) X(ERROR, error)

/* ---- the fields of `run` (spec §2): X(name); its value is fl_run_name(run) */
#define FL_RUN_FIELDS(X) X(id) X(started_at) X(workflow) X(attempt)

/* ---- generated for the runtime and generated code -------------------------- */

#define FL_STEP_ENUM_(c, json, outputs, config) FL_STEP_##c,
/* A step's type (FlStepInfo.type). */
typedef enum { FL_STEP_TYPES(FL_STEP_ENUM_) FL_STEP_TYPE_COUNT } FlStepType;
#undef FL_STEP_ENUM_

/* The type's name as in JSON ("log"), for logs and metrics. */
static inline const char *fl_step_type_name(FlStepType t)
{
#define FL_STEP_NAME_(c, json, outputs, config) #json,
    static const char *const names[] = { FL_STEP_TYPES(FL_STEP_NAME_) };
#undef FL_STEP_NAME_
    return names[t];
}

/* The fixed output fields of the type (none for a set), NULL-terminated. */
static inline const char *const *fl_step_outputs(FlStepType t)
{
#define FL_OUTPUT_NAME_(name) #name,
#define FL_OUTPUT_ARRAY_(c, json, outputs, config)                            \
    static const char *const outputs_##c[] = { outputs(FL_OUTPUT_NAME_) NULL };
#define FL_OUTPUT_LIST_(c, json, outputs, config) [FL_STEP_##c] = outputs_##c,
    FL_STEP_TYPES(FL_OUTPUT_ARRAY_)
    static const char *const *const lists[] = { FL_STEP_TYPES(FL_OUTPUT_LIST_) };
#undef FL_OUTPUT_LIST_
#undef FL_OUTPUT_ARRAY_
#undef FL_OUTPUT_NAME_
    return lists[t];
}

#endif
