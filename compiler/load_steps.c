/* load_steps.c - each step type's config (spec §3): its fields, their
 * defaults, and the rules that hold for one type only (a route, a regular
 * expression, a 204 without a body).
 *
 * One function per type, load_<type's JSON name>, reads its config object
 * into the Step's union; a table made from FL_STEP_TYPES (flusso_format.h,
 * which also lists each type's fields) finds it.  The typed readers of
 * load_value.c do the common work.  A config that is absent reads as {}:
 * the required fields are then reported missing. */
#include "load.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonpath.h"
#include "sqlscan.h"

static void report(Loader *l, const char *path, const char *message)
{
    diag_report(l->diag, DIAG_ERROR, path, l->key, "%s", message);
}

/* Whether t is plain text, with no {{ }} to evaluate. */
static bool is_literal(const Template *t)
{
    return t && !strstr(t->src, "{{");
}

/* Whether text (past leading white space) is one {{ expression }}. */
static bool is_one_expression(const char *text)
{
    size_t n = strlen(text);
    while (n > 0 && strchr(" \t\r\n", text[n - 1]))
        n--;
    return n >= 4 && strncmp(text, "{{", 2) == 0
        && strncmp(text + n - 2, "}}", 2) == 0 && !strstr(text + 2, "{{");
}

/* ---- webhook_trigger ------------------------------------------------- */

/* The path with every segment "{name}" written ":name", or NULL when it
 * has none: the {name} of OpenAPI and many routers is literal text here. */
static const char *braced_params(Arena *a, const char *path)
{
    char *fixed = arena_strdup(a, path), *out = fixed;
    bool found = false;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len > 2 && p[0] == '{' && p[len - 1] == '}'
            && !memchr(p + 1, '{', len - 2) && !memchr(p + 1, '}', len - 2)) {
            *out++ = ':';
            memcpy(out, p + 1, len - 2);
            out += len - 2;
            found = true;
        } else {
            memcpy(out, p, len);
            out += len;
        }
        p += len;
        if (*p == '/')
            *out++ = *p++;
    }
    *out = '\0';
    return found ? fixed : NULL;
}

static const char *route_problem(Arena *a, const char *path)
{
    const char *fixed = braced_params(a, path);
    if (fixed)
        return arena_sprintf(a, "'{name}' is literal text in a path: a path "
                             "parameter is written ':name' (did you mean "
                             "'%s'?)", jsonpath_excerpt(a, fixed));
    if (path[0] != '/')
        return "must start with '/'";
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0)
        return arena_sprintf(a, "'%s' is reserved: the handler answers it "
                             "itself", path);
    for (const char *p = path; *p; p++) {
        if (*p == '?')
            return "may not contain '?': the path excludes the query string";
        if (*p == '#')
            return "may not contain '#'";
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "may not contain spaces or control characters";
    }
    return NULL;
}

static const char *load_route(Loader *l, Field f)
{
    const char *path = load_string(l, f);
    const char *why = path ? route_problem(l->arena, path) : NULL;
    if (why)
        report(l, f.path, why);
    return why ? NULL : path;
}

/* Why m is not an acceptable HTTP method, or NULL.  Methods are
 * case-sensitive (RFC 9110) and every standard one is upper-case, so a
 * lower-case one is taken for a slip. */
static const char *method_problem(Arena *a, const char *m)
{
    const char *shown = jsonpath_excerpt(a, m);
    if (!load_is_token(m))
        return arena_sprintf(a, "'%s' is not a valid HTTP method", shown);
    char *upper = arena_strdup(a, m);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    if (strcmp(upper, m) == 0)
        return NULL;
    return arena_sprintf(a, "method '%s' must be upper-case (did you mean "
                         "'%s'?)", shown, jsonpath_excerpt(a, upper));
}

/* One method of the trigger; NULL after reporting. */
static const char *load_method(Loader *l, Field f, StrSet *seen)
{
    const char *m = load_string(l, f);
    const char *why = m ? method_problem(l->arena, m) : NULL;
    if (!m)
        return NULL;
    if (!why && strset_add(seen, m, (void *)m))
        why = arena_sprintf(l->arena, "method '%s' is listed twice", m);
    if (why)
        report(l, f.path, why);
    return why ? NULL : m;
}

static void load_methods(Loader *l, Field f, TriggerConfig *t)
{
    int n = f.v && cJSON_IsArray(f.v) ? cJSON_GetArraySize(f.v) : 1, i = 0;
    t->methods = arena_alloc(l->arena, sizeof *t->methods * (size_t)(n + 1));
    t->methods[t->method_count++] = "POST";
    if (!f.v || !load_expect(l, f, cJSON_String | cJSON_Array,
                             "a method or an array of methods"))
        return;
    StrSet *seen = strset_new(l->arena);
    t->method_count = 0;
    if (cJSON_IsString(f.v) && (t->methods[0] = load_method(l, f, seen)))
        t->method_count = 1;
    if (cJSON_IsArray(f.v) && n == 0)
        report(l, f.path, "must not be empty");
    for (const cJSON *m = cJSON_IsArray(f.v) ? f.v->child : NULL; m;
         m = m->next, i++) {
        Field item = { m, jsonpath_index(l->arena, f.path, i), NULL };
        const char *method = load_method(l, item, seen);
        if (method)
            t->methods[t->method_count++] = method;
    }
}

static const char *const verify_fields[] = {
    "scheme", "secret", "tolerance_s", "header", "encoding", "prefix"
};
static const char *const encoding_names[] = { "hex", "base64" };

/* header, encoding and prefix: the generic hmac_sha256 scheme's own. */
static void load_hmac_fields(Loader *l, Field f, VerifyConfig *v)
{
    Field header = load_field(l, f.v, f.path, "header", true);
    const char *name = load_string(l, header);
    if (name && !load_is_token(name))
        report(l, header.path, "must be a valid header name");
    else if (name)
        v->header = load_lower_copy(l->arena, name);
    int enc = load_choice(l, load_field(l, f.v, f.path, "encoding", false),
                          "encoding", encoding_names, COUNT(encoding_names));
    v->base64 = enc == 1;
    const char *prefix = load_literal(
        l, load_field(l, f.v, f.path, "prefix", false));
    if (prefix)
        v->prefix = prefix;
}

/* The hmac_sha256 fields given to another scheme. */
static void reject_hmac_fields(Loader *l, Field f)
{
    for (int i = 3; i < COUNT(verify_fields); i++) {
        Field x = load_field(l, f.v, f.path, verify_fields[i], false);
        if (x.v)
            diag_report(l->diag, DIAG_ERROR, x.path, l->key,
                        "unknown field '%s': only the hmac_sha256 scheme "
                        "has it", verify_fields[i]);
    }
}

static VerifyConfig *load_verify(Loader *l, Field f)
{
    if (!f.v || !load_expect(l, f, cJSON_Object, "an object"))
        return NULL;
    VerifyConfig *v = arena_alloc(l->arena, sizeof *v);
    v->tolerance_s = 300;
    v->prefix = "";
    load_check_fields(l, f.v, f.path, "verify", verify_fields,
                      COUNT(verify_fields));
    int scheme = load_choice(l, load_field(l, f.v, f.path, "scheme", true),
                             "scheme", format_verify_schemes.names,
                             format_verify_schemes.count);
    v->scheme = scheme < 0 ? VS_GITHUB : (VerifyScheme)scheme;
    v->secret = load_template(l, load_field(l, f.v, f.path, "secret", true),
                              NULL);
    load_integer(l, load_field(l, f.v, f.path, "tolerance_s", false), 1,
                 LOAD_INT_MAX, &v->tolerance_s);
    if (scheme == VS_HMAC_SHA256)
        load_hmac_fields(l, f, v);
    else if (scheme >= 0)
        reject_hmac_fields(l, f);
    return v;
}

/* dedupe (spec 8.3): true, false (none), or {"key": T, "window_s": N}. */
static const char *const dedupe_fields[] = { "key", "window_s" };

/* Whether the verify scheme v names each delivery (its default key). */
static bool has_delivery_id(const VerifyConfig *v)
{
    return v && (v->scheme == VS_GITHUB || v->scheme == VS_STRIPE
                 || v->scheme == VS_SHOPIFY || v->scheme == VS_STANDARD_WEBHOOKS);
}

static DedupeConfig *load_dedupe(Loader *l, Field f, const VerifyConfig *verify)
{
    if (!f.v || !load_expect(l, f, cJSON_True | cJSON_False | cJSON_Object,
                             "true, false or an object"))
        return NULL;
    if (cJSON_IsFalse(f.v))
        return NULL;
    DedupeConfig *d = arena_alloc(l->arena, sizeof *d);
    d->window_s = 86400;
    d->path = f.path;
    if (cJSON_IsObject(f.v)) {
        load_check_fields(l, f.v, f.path, "dedupe", dedupe_fields,
                          COUNT(dedupe_fields));
        d->key = load_template(l, load_field(l, f.v, f.path, "key", false), NULL);
        load_integer(l, load_field(l, f.v, f.path, "window_s", false), 1,
                     2592000, &d->window_s);
        if (load_field(l, f.v, f.path, "key", false).v)
            return d;
    }
    if (!has_delivery_id(verify))
        report(l, f.path, arena_sprintf(
            l->arena, "needs a \"key\", such as \"{{ %s.output.body.id }}\": %s",
            l->key ? l->key : "trigger",
            verify ? "the verify scheme has no delivery id (only github, stripe, "
                     "shopify and standard_webhooks have one)"
                   : "without a verify scheme there is no delivery id"));
    return d;
}

static void load_webhook_trigger(Loader *l, Step *s, const cJSON *cfg,
                                 const char *path)
{
    TriggerConfig *t = &s->as.trigger;
    t->response_timeout_ms = 30000;
    t->max_body_bytes = 1048576;
    t->path = load_route(l, load_field(l, cfg, path, "path", true));
    load_methods(l, load_field(l, cfg, path, "method", false), t);
    load_integer(l, load_field(l, cfg, path, "response_timeout_ms", false),
                 1, LOAD_INT_MAX, &t->response_timeout_ms);
    load_integer(l, load_field(l, cfg, path, "max_body_bytes", false), 1,
                 LOAD_INT_MAX, &t->max_body_bytes);
    t->verify = load_verify(l, load_field(l, cfg, path, "verify", false));
    t->dedupe = load_dedupe(l, load_field(l, cfg, path, "dedupe", false),
                            t->verify);
}

/* ---- logic_gate ------------------------------------------------------ */

static const char *const match_names[] = { "all", "any" };
static const char *const condition_fields[] = { "left", "operator", "right" };

/* A JSON number, boolean or null operand, taken as the constant it is
 * (writing "right": 5 compares with the number 5, where "5" would be
 * text): a whole template whose one expression is that literal, and whose
 * text is the JSON as written. */
static Template *constant_template(Loader *l, Field f)
{
    Expr *e = arena_alloc(l->arena, sizeof *e);
    const char *src = cJSON_IsNull(f.v) ? "null"
                    : cJSON_IsTrue(f.v) ? "true" : "false";
    e->kind = cJSON_IsNull(f.v) ? EX_NULL : EX_BOOL;
    e->boolean = cJSON_IsTrue(f.v);
    if (cJSON_IsNumber(f.v)) {
        e->kind = EX_NUMBER;
        e->number = f.v->valuedouble;
        src = load_number_text(l->arena, e->number);
    }
    Template *t = arena_alloc(l->arena, sizeof *t);
    t->src = src;
    t->src_len = strlen(src);
    t->path = f.path;
    t->step_key = l->key;
    t->parts = arena_alloc(l->arena, sizeof *t->parts);
    t->parts[0] = (TemplatePart){ TP_EXPR, src, t->src_len, e };
    t->count = 1;
    t->whole = true;
    return t;
}

static Template *load_operand(Loader *l, Field f)
{
    int constant = cJSON_Number | cJSON_True | cJSON_False | cJSON_NULL;
    if (!f.v || !load_expect(l, f, cJSON_String | constant,
                             "a string (a template), a number, true, false "
                             "or null"))
        return NULL;
    if (cJSON_IsNumber(f.v) && !isfinite(f.v->valuedouble)) {
        report(l, f.path, "number too large");
        return NULL;
    }
    return f.v->type & constant ? constant_template(l, f)
                                : load_template(l, f, NULL);
}

/* How many copies of its innermost atom a regular expression's nested and
 * stacked repetitions may make glibc's regcomp() build: the product of
 * their bounds (2 for *, + and ?; m for {n,m}).  regcomp() expands them
 * into an automaton that doubles with every level - 16 nested (a+)+ take
 * 46 MB, 30 all of memory - so a pattern past REGEX_WEIGHT_MAX is refused
 * before it is compiled (a fuzzer found "[0-9]++++...+": stacked
 * repetitions are undefined in POSIX EREs anyway). */
enum { REGEX_WEIGHT_MAX = 65536 };

/* A repetition's bound at p ('*', '+', '?' or '{'), and its length. */
static long regex_bound(const char *p, size_t *len)
{
    *len = 1;
    if (*p != '{')
        return 2;
    char *end;
    long n = strtol(p + 1, &end, 10), m = n;
    if (*end == ',')
        m = end[1] == '}' ? n + 1 : strtol(end + 1, &end, 10);
    else
        end--;
    end = strchr(end + 1, '}');
    *len = end ? (size_t)(end - p) + 1 : strlen(p);
    return m > n ? (m > 1 ? m : 2) : (n > 1 ? n : 2);
}

/* The weight of pattern p (see REGEX_WEIGHT_MAX), saturated there. */
static long regex_weight(const char *p)
{
    long stack[64], max = 1, atom = 1;   /* per open group: its heaviest */
    int depth = 0;
    for (size_t len; *p; p += len) {
        len = 1;
        if (*p == '\\' && p[1]) {
            atom = 1, len = 2;
        } else if (*p == '[') {              /* a bracket expression */
            const char *q = p + 1 + (p[1] == '^');
            q += *q == ']';
            q = strchr(q, ']');
            len = q ? (size_t)(q - p) + 1 : strlen(p);
            atom = 1;
        } else if (*p == '(' && depth < 64) {
            stack[depth++] = 1;
            atom = 1;
            continue;
        } else if (*p == ')' && depth > 0) {
            atom = stack[--depth] > atom ? stack[depth] : atom;
        } else if (strchr("*+?{", *p)) {
            long b = regex_bound(p, &len);
            atom = atom > REGEX_WEIGHT_MAX / b ? REGEX_WEIGHT_MAX + 1 : atom * b;
        } else {
            atom = 1;
        }
        if (depth > 0 && atom > stack[depth - 1])
            stack[depth - 1] = atom;
        max = atom > max ? atom : max;
    }
    return max;
}

/* The right side of "matches": a literal POSIX extended regular
 * expression, compiled here only to report a bad one now rather than at
 * run time. */
static void load_pattern(Loader *l, Field f, Condition *c)
{
    if (!load_expect(l, f, cJSON_String, "a string (a regular expression)"))
        return;
    const char *p = f.v->valuestring;
    if (strstr(p, "{{")) {
        report(l, f.path, "the pattern of 'matches' must be literal: no "
                          "{{ }} templates");
        return;
    }
    if (regex_weight(p) > REGEX_WEIGHT_MAX) {
        diag_report(l->diag, DIAG_ERROR, f.path, l->key,
                    "this regular expression nests or stacks repetitions too "
                    "deeply (*, +, ? and {n,m} multiply: at most %d copies)",
                    REGEX_WEIGHT_MAX);
        return;
    }
    regex_t re;
    int rc = regcomp(&re, p, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[256];
        regerror(rc, &re, why, sizeof why);
        diag_report(l->diag, DIAG_ERROR, f.path, l->key,
                    "invalid regular expression: %s", why);
        return;
    }
    regfree(&re);
    c->pattern = arena_strdup(l->arena, p);
    c->right = load_template(l, f, NULL);
}

static bool is_unary(CondOp op)
{
    return format_cond_arity(op) == 1;
}

static void load_right(Loader *l, Field right, const char *path,
                       Condition *c)
{
    if (is_unary(c->op) && right.v)
        diag_report(l->diag, DIAG_ERROR, right.path, l->key,
                    "operator '%s' takes no 'right'",
                    format_cond_ops.names[c->op]);
    else if (!is_unary(c->op) && !right.v)
        diag_report(l->diag, DIAG_ERROR, path, l->key,
                    "missing required field 'right' (operator '%s' compares "
                    "two values)", format_cond_ops.names[c->op]);
    else if (c->op == COND_MATCHES)
        load_pattern(l, right, c);
    else if (right.v)
        c->right = load_operand(l, right);
}

/* Whether v is literal text (no {{ }}) that reads as a number: "100". */
static bool is_numeric_text(const cJSON *v)
{
    if (!cJSON_IsString(v) || !strchr("0123456789-+.", v->valuestring[0])
        || strstr(v->valuestring, "{{"))
        return false;
    char *end;
    strtod(v->valuestring, &end);
    return *end == '\0';
}

/* Whether v may well be a number: a JSON number or one {{ expression }}. */
static bool may_be_number(const cJSON *v)
{
    return cJSON_IsNumber(v)
        || (cJSON_IsString(v) && is_one_expression(v->valuestring));
}

/* "operator": "greater_than", "right": "100": the quoted 100 is text, and
 * a number compared with text is always false (spec §2, §12). */
static void check_number_text(Loader *l, Field left, Field right, CondOp op)
{
    if (op != COND_GREATER_THAN && op != COND_GREATER_OR_EQUAL
        && op != COND_LESS_THAN && op != COND_LESS_OR_EQUAL)
        return;
    if (!left.v || !right.v)
        return;
    Field text = is_numeric_text(right.v) && may_be_number(left.v) ? right
               : is_numeric_text(left.v) && may_be_number(right.v) ? left
               : (Field){ NULL, NULL, NULL };
    if (text.v)
        diag_report(l->diag, DIAG_WARNING, text.path, l->key,
                    "\"%s\" is text: compared with a number it is always "
                    "false (did you mean %s, without quotes?)",
                    jsonpath_excerpt(l->arena, text.v->valuestring),
                    jsonpath_excerpt(l->arena, text.v->valuestring));
}

static void load_condition(Loader *l, const cJSON *v, const char *path,
                           Condition *c)
{
    c->path = path;
    if (!load_expect(l, (Field){ v, path, NULL }, cJSON_Object, "an object"))
        return;
    load_check_fields(l, v, path, "a condition", condition_fields,
                      COUNT(condition_fields));
    c->left = load_operand(l, load_field(l, v, path, "left", true));
    int op = load_choice(l, load_field(l, v, path, "operator", true),
                         "operator", format_cond_ops.names,
                         format_cond_ops.count);
    Field right = load_field(l, v, path, "right", false);
    if (op < 0) {
        load_operand(l, right);
        return;
    }
    c->op = (CondOp)op;
    load_right(l, right, path, c);
    check_number_text(l, load_field(l, v, path, "left", false), right, c->op);
}

static void load_conditions(Loader *l, Field f, GateConfig *g)
{
    if (!load_expect(l, f, cJSON_Array, "an array"))
        return;
    int n = cJSON_GetArraySize(f.v), i = 0;
    if (n == 0)
        report(l, f.path, "must not be empty");
    g->conditions = arena_alloc(l->arena,
                                sizeof *g->conditions * (size_t)(n + 1));
    for (const cJSON *m = f.v->child; m; m = m->next, i++)
        load_condition(l, m, jsonpath_index(l->arena, f.path, i),
                       &g->conditions[i]);
    g->condition_count = n;
}

static void load_logic_gate(Loader *l, Step *s, const cJSON *cfg,
                            const char *path)
{
    GateConfig *g = &s->as.gate;
    Field one = load_field(l, cfg, path, "condition", false);
    Field many = load_field(l, cfg, path, "conditions", false);
    Field match = load_field(l, cfg, path, "match", false);
    bool ok;
    if (one.v && many.v)
        report(l, path, "use either 'condition' or 'conditions', not both");
    else if (!one.v && !many.v)
        report(l, path, "missing required field 'condition' "
                        "(or 'conditions')");
    g->condition = load_template(l, one, &ok);
    if (g->condition && ok && !g->condition->whole)
        report(l, one.path, "must be exactly one {{ expression }} and "
                            "nothing else");
    if (many.v)
        load_conditions(l, many, g);
    if (match.v && !many.v)
        report(l, match.path, "'match' only goes with 'conditions'");
    else
        g->match_any = load_choice(l, match, "match", match_names,
                                   COUNT(match_names)) == 1;
}

/* ---- webhook_response ------------------------------------------------ */

static const char *const response_forbidden[] = {
    "Content-Type", "Content-Length", "Transfer-Encoding", "Connection",
    "X-Flusso-Run-Id"
};

/* A string body is sent as text (spec §3), labelled application/json
 * unless content_type says otherwise: plain words under that label are
 * what clients then fail to parse (spec §12).  Not warned: a body of one
 * {{ expression }} or text starting like JSON, which may well be JSON. */
static void check_text_body(Loader *l, Field body)
{
    if (!body.v || !cJSON_IsString(body.v))
        return;
    const char *text = body.v->valuestring;
    text += strspn(text, " \t\r\n");
    if (!*text || is_one_expression(text) || strchr("{[\"", *text))
        return;
    diag_report(l->diag, DIAG_WARNING, body.path, l->key,
                "a text body is sent labelled application/json, the default "
                "content_type: set content_type (such as text/plain) or make "
                "the body a JSON object");
}

static void load_webhook_response(Loader *l, Step *s, const cJSON *cfg,
                                  const char *path)
{
    ResponseConfig *r = &s->as.response;
    r->status.value = 200;
    r->content_type = "application/json";
    load_int_or_template(l, load_field(l, cfg, path, "status_code", false),
                         200, 599, &r->status);
    Field body = load_field(l, cfg, path, "body", false);
    r->body = load_tvalue(l, body);
    if (body.v && !r->status.is_template
        && (r->status.value == 204 || r->status.value == 304))
        diag_report(l->diag, DIAG_ERROR, body.path, l->key,
                    "a %ld response has no body", r->status.value);
    const char *type = load_literal(
        l, load_field(l, cfg, path, "content_type", false));
    if (type)
        r->content_type = type;
    else
        check_text_body(l, body);
    r->headers = load_headers(l, load_field(l, cfg, path, "headers", false),
                              response_forbidden, COUNT(response_forbidden),
                              "the handler", &r->header_count);
}

/* ---- set, log, delay ------------------------------------------------- */

static void load_set(Loader *l, Step *s, const cJSON *cfg, const char *path)
{
    SetConfig *c = &s->as.set;
    Field f = load_field(l, cfg, path, "values", true);
    if (!f.v || !load_expect(l, f, cJSON_Object, "an object"))
        return;
    int n = cJSON_GetArraySize(f.v);
    c->names = arena_alloc(l->arena, sizeof *c->names * (size_t)(n + 1));
    c->values = arena_alloc(l->arena, sizeof *c->values * (size_t)(n + 1));
    for (const cJSON *m = f.v->child; m; m = m->next, c->count++) {
        Field v = { m, jsonpath_field(l->arena, f.path, m->string),
                    m->string };
        c->names[c->count] = arena_strdup(l->arena, m->string);
        c->values[c->count] = load_tvalue(l, v);
    }
}

static void load_log(Loader *l, Step *s, const cJSON *cfg, const char *path)
{
    LogConfig *c = &s->as.log;
    c->message = load_template(l, load_field(l, cfg, path, "message", true),
                               NULL);
    int level = load_choice(l, load_field(l, cfg, path, "level", false),
                            "level", format_log_levels.names,
                            format_log_levels.count);
    c->level = level < 0 ? LOG_INFO : (LogLevel)level;
    c->file = load_literal(l, load_field(l, cfg, path, "file", false));
}

static void load_delay(Loader *l, Step *s, const cJSON *cfg,
                       const char *path)
{
    load_int_or_template(l, load_field(l, cfg, path, "ms", true), 0,
                         LOAD_INT_MAX, &s->as.delay.ms);
}

/* ---- http_request ---------------------------------------------------- */

/* Framing headers: the HTTP client sets them from the body it sends. */
static const char *const http_forbidden[] = {
    "Content-Length", "Transfer-Encoding", "Connection"
};

/* The method and url, checked now when they are literal text. */
static void load_http_target(Loader *l, HttpConfig *h, const cJSON *cfg,
                             const char *path)
{
    Field method = load_field(l, cfg, path, "method", false);
    Field url = load_field(l, cfg, path, "url", true);
    bool ok;
    h->method = load_template(l, method, &ok);
    const char *why = ok && is_literal(h->method)
                      ? method_problem(l->arena, h->method->src) : NULL;
    if (why)
        report(l, method.path, why);
    h->url = load_template(l, url, &ok);
    if (ok && is_literal(h->url) && strncasecmp(h->url->src, "http://", 7)
        && strncasecmp(h->url->src, "https://", 8))
        report(l, url.path, "must start with http:// or https://");
}

static void load_http_request(Loader *l, Step *s, const cJSON *cfg,
                              const char *path)
{
    HttpConfig *h = &s->as.http;
    h->timeout_ms = 10000;
    h->retry_max_delay_ms = 5000;
    h->fail_on_status = true;
    h->max_response_bytes = 10485760;
    load_http_target(l, h, cfg, path);
    h->headers = load_headers(l, load_field(l, cfg, path, "headers", false),
                              http_forbidden, COUNT(http_forbidden),
                              "the HTTP client", &h->header_count);
    h->body = load_tvalue(l, load_field(l, cfg, path, "body", false));
    load_integer(l, load_field(l, cfg, path, "timeout_ms", false), 1,
                 LOAD_INT_MAX, &h->timeout_ms);
    load_integer(l, load_field(l, cfg, path, "retries", false), 0, 100,
                 &h->retries);
    load_integer(l, load_field(l, cfg, path, "retry_max_delay_ms", false), 1,
                 86400000, &h->retry_max_delay_ms);
    load_boolean(l, load_field(l, cfg, path, "fail_on_status", false),
                 &h->fail_on_status);
    load_boolean(l, load_field(l, cfg, path, "follow_redirects", false),
                 &h->follow_redirects);
    load_integer(l, load_field(l, cfg, path, "max_response_bytes", false), 1,
                 LOAD_INT_MAX, &h->max_response_bytes);
}

/* ---- switch, for_each ------------------------------------------------ */

/* The cases and the default list are read by load.c with the other
 * nested step lists; the config holds the value only. */
static void load_switch(Loader *l, Step *s, const cJSON *cfg,
                        const char *path)
{
    s->as.sw.value = load_template(l, load_field(l, cfg, path, "value", true),
                                   NULL);
}

/* concurrency > 1 is accepted but not implemented: iterations run one at
 * a time, which the spec allows ("lets that many run at once"), and the
 * author is told so. */
static void load_for_each(Loader *l, Step *s, const cJSON *cfg,
                          const char *path)
{
    ForEachConfig *c = &s->as.loop;
    c->concurrency = 1;
    c->max_items = 1000;
    c->items = load_template(l, load_field(l, cfg, path, "items", true), NULL);
    Field conc = load_field(l, cfg, path, "concurrency", false);
    if (load_integer(l, conc, 1, 64, &c->concurrency) && c->concurrency > 1)
        diag_report(l->diag, DIAG_WARNING, conc.path, l->key,
                    "this flussoc runs the iterations of a for_each one at a "
                    "time: concurrency %ld is accepted but has no effect yet",
                    c->concurrency);
    load_integer(l, load_field(l, cfg, path, "max_items", false), 1, 100000,
                 &c->max_items);
}

/* ---- database -------------------------------------------------------- */

/* Whether the url names a scheme the handler can open. */
static bool db_scheme_known(const char *url)
{
    return strncmp(url, "sqlite:", 7) == 0
           || strncmp(url, "postgresql://", 13) == 0
           || strncmp(url, "postgres://", 11) == 0;
}

/* The url: literal, or exactly {{ env.NAME }} - nothing from the request
 * may choose the database (spec §10). */
static void load_db_url(Loader *l, DatabaseConfig *d, Field f)
{
    bool ok;
    d->url = load_template(l, f, &ok);
    if (!d->url || !ok)
        return;
    if (is_literal(d->url)) {
        if (!db_scheme_known(d->url->src))
            report(l, f.path, "must start with sqlite:, postgresql:// or "
                              "postgres://");
        return;
    }
    const Expr *x = d->url->whole ? d->url->parts[0].expr : NULL;
    if (x && x->kind == EX_FIELD && x->lhs->kind == EX_NAME
        && strcmp(x->lhs->str, "env") == 0)
        d->env_name = x->str;
    else
        report(l, f.path, "must be literal or exactly {{ env.NAME }}: a "
                          "database url never comes from the request");
}

/* The statement: literal, one of it, its $N placeholders counted. */
static void load_db_sql(Loader *l, DatabaseConfig *d, Field f)
{
    d->sql = load_string(l, f);
    if (!d->sql)
        return;
    SqlScan scan = sql_scan(d->sql);
    if (strstr(d->sql, "{{"))
        report(l, f.path, "must be literal SQL: a template here would let a "
                          "request change the statement; put values in "
                          "params and write $1, $2... in their place");
    else if (d->sql[strspn(d->sql, " \t\r\n")] == '\0')
        report(l, f.path, "must not be empty");
    else if (scan.problem && scan.missing)
        diag_report(l->diag, DIAG_ERROR, f.path, l->key,
                    "%s: $%d is missing (the statement uses up to $%d)",
                    scan.problem, scan.missing, scan.count);
    else if (scan.problem)
        diag_report(l->diag, DIAG_ERROR, f.path, l->key, "%s (at '%s')",
                    scan.problem, jsonpath_excerpt(l->arena, d->sql + scan.at));
    else
        d->placeholders = scan.count;
}

static void load_db_params(Loader *l, DatabaseConfig *d, Field f)
{
    if (!f.v || !load_expect(l, f, cJSON_Array, "an array"))
        return;
    int n = cJSON_GetArraySize(f.v);
    d->params = arena_alloc(l->arena, sizeof *d->params * (size_t)(n + 1));
    for (const cJSON *m = f.v->child; m; m = m->next, d->param_count++) {
        Field item = { m, jsonpath_index(l->arena, f.path, d->param_count),
                       NULL };
        d->params[d->param_count] = load_tvalue(l, item);
    }
}

static void load_database(Loader *l, Step *s, const cJSON *cfg,
                          const char *path)
{
    DatabaseConfig *d = &s->as.db;
    d->timeout_ms = 10000;
    d->max_rows = 10000;
    d->placeholders = -1;     /* until the statement is known good */
    load_db_url(l, d, load_field(l, cfg, path, "url", true));
    Field sql = load_field(l, cfg, path, "sql", true);
    load_db_sql(l, d, sql);
    Field params = load_field(l, cfg, path, "params", false);
    load_db_params(l, d, params);
    if (d->placeholders >= 0 && d->placeholders != d->param_count
        && !(params.v && !cJSON_IsArray(params.v)))
        diag_report(l->diag, DIAG_ERROR, params.v ? params.path : sql.path,
                    l->key, "the statement has %d placeholder%s but params "
                    "has %d value%s: one value for each of $1...$N",
                    d->placeholders, d->placeholders == 1 ? "" : "s",
                    d->param_count, d->param_count == 1 ? "" : "s");
    load_integer(l, load_field(l, cfg, path, "timeout_ms", false), 1,
                 LOAD_INT_MAX, &d->timeout_ms);
    load_integer(l, load_field(l, cfg, path, "max_rows", false), 1, 1000000,
                 &d->max_rows);
}

/* ---- send_email ------------------------------------------------------ */

/* A literal header text with CR or LF would start a header of its own
 * (header injection): refused now; rendered ones fail the step. */
static Template *load_header_text(Loader *l, Field f)
{
    bool ok;
    Template *t = load_template(l, f, &ok);
    if (t && ok && is_literal(t) && strpbrk(t->src, "\r\n"))
        report(l, f.path, "may not contain CR or LF: it would start another "
                          "header line");
    return t;
}

/* to, cc, bcc: a template or an array of them. */
static void load_recipients(Loader *l, Field f, Recipients *r)
{
    if (!f.v || !load_expect(l, f, cJSON_String | cJSON_Array,
                             "an address or an array of addresses"))
        return;
    int n = cJSON_IsArray(f.v) ? cJSON_GetArraySize(f.v) : 1;
    r->items = arena_alloc(l->arena, sizeof *r->items * (size_t)(n + 1));
    if (cJSON_IsString(f.v)) {
        r->items[r->count++] = load_header_text(l, f);
        return;
    }
    int i = 0;
    for (const cJSON *m = f.v->child; m; m = m->next, i++) {
        Field item = { m, jsonpath_index(l->arena, f.path, i), NULL };
        if (load_expect(l, item, cJSON_String, "an address"))
            r->items[r->count++] = load_header_text(l, item);
    }
}

static void load_smtp_url(Loader *l, EmailConfig *m, Field f)
{
    bool ok;
    m->smtp_url = load_template(l, f, &ok);
    if (ok && is_literal(m->smtp_url)
        && strncasecmp(m->smtp_url->src, "smtp://", 7)
        && strncasecmp(m->smtp_url->src, "smtps://", 8))
        report(l, f.path, "must start with smtp:// or smtps://");
}

static void load_send_email(Loader *l, Step *s, const cJSON *cfg,
                            const char *path)
{
    EmailConfig *m = &s->as.email;
    m->timeout_ms = 30000;
    m->retry_max_delay_ms = 5000;
    load_smtp_url(l, m, load_field(l, cfg, path, "smtp_url", true));
    m->username = load_template(l, load_field(l, cfg, path, "username", false), NULL);
    m->password = load_template(l, load_field(l, cfg, path, "password", false), NULL);
    m->from = load_header_text(l, load_field(l, cfg, path, "from", true));
    Field to = load_field(l, cfg, path, "to", true);
    load_recipients(l, to, &m->to);
    if (to.v && cJSON_IsArray(to.v) && cJSON_GetArraySize(to.v) == 0)
        report(l, to.path, "must name at least one recipient");
    load_recipients(l, load_field(l, cfg, path, "cc", false), &m->cc);
    load_recipients(l, load_field(l, cfg, path, "bcc", false), &m->bcc);
    m->reply_to = load_header_text(l, load_field(l, cfg, path, "reply_to", false));
    m->subject = load_header_text(l, load_field(l, cfg, path, "subject", true));
    Field text = load_field(l, cfg, path, "text", false);
    Field html = load_field(l, cfg, path, "html", false);
    if (!text.v && !html.v)
        report(l, path, "missing field 'text' or 'html': a message needs a body");
    m->text = load_template(l, text, NULL);
    m->html = load_template(l, html, NULL);
    load_integer(l, load_field(l, cfg, path, "timeout_ms", false), 1,
                 LOAD_INT_MAX, &m->timeout_ms);
    load_integer(l, load_field(l, cfg, path, "retries", false), 0, 100,
                 &m->retries);
    load_integer(l, load_field(l, cfg, path, "retry_max_delay_ms", false), 1,
                 86400000, &m->retry_max_delay_ms);
}

/* ---- dispatch -------------------------------------------------------- */

/* load_<json name> for each step type of FL_STEP_TYPES. */
typedef void LoadConfigFn(Loader *l, Step *s, const cJSON *cfg,
                          const char *path);
#define LOADER_(c, json, outputs, config) [ST_##c] = load_##json,
static LoadConfigFn *const loaders[] = { FL_STEP_TYPES(LOADER_) };

void load_step_config(Loader *l, Step *s, const cJSON *cfg, const char *path)
{
    FormatNames known = format_config_fields(s->type);
    load_check_fields(l, cfg, path, step_type_name(s->type), known.names,
                      known.count);
    loaders[s->type](l, s, cfg, path);
}
