/* load_value.c - the loader's typed readers: one function per kind of
 * setting (integer, choice, template, JSON value, headers), each checking
 * the JSON type and range of a member and reporting what is wrong in the
 * words a workflow author uses ("must be a positive integer, not 0").
 *
 * A reader never fails the load: on a bad value it reports, leaves the
 * caller's default in place and returns false, so every error of a file is
 * found in one run.  Strings are copied into the arena: the cJSON tree is
 * freed when loading ends. */
#include "load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonpath.h"
#include "jsonread.h"
#include "suggest.h"

static void report(Loader *l, const char *path, const char *message)
{
    diag_report(l->diag, DIAG_ERROR, path, l->key, "%s", message);
}

static const char *excerpt(Loader *l, const char *s)
{
    return jsonpath_excerpt(l->arena, s);
}

/* ---- fields ---------------------------------------------------------- */

/* Whether obj has a member whose name is a plausible typo of name: it is
 * reported as an unknown field suggesting name, and one message per
 * mistake is enough (spec §12). */
static bool has_misspelling(const cJSON *obj, const char *name)
{
    const char *const wanted[1] = { name };
    for (const cJSON *m = obj ? obj->child : NULL; m; m = m->next)
        if (strcmp(m->string, name) != 0
            && suggest_closest(m->string, wanted, 1))
            return true;
    return false;
}

Field load_field(Loader *l, const cJSON *obj, const char *obj_path,
                 const char *name, bool required)
{
    Field f = { NULL, jsonpath_field(l->arena, obj_path, name), name };
    if (obj)
        f.v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!f.v && required && !has_misspelling(obj, name))
        diag_report(l->diag, DIAG_ERROR, obj_path, l->key,
                    "missing required field '%s'", name);
    return f;
}

const char *load_hint(Loader *l, const char *word, const char *const *names,
                      int n)
{
    const char *best = suggest_closest(word, names, n);
    return best ? arena_sprintf(l->arena, " (did you mean '%s'?)", best) : "";
}

static bool is_among(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

bool load_first_of_name(const cJSON *obj, const cJSON *m)
{
    for (const cJSON *o = obj->child; o != m; o = o->next)
        if (strcmp(o->string, m->string) == 0)
            return false;
    return true;
}

void load_check_fields(Loader *l, const cJSON *obj, const char *path,
                       const char *owner, const char *const *known, int n)
{
    if (!obj)
        return;
    for (const cJSON *m = obj->child; m; m = m->next)
        if (!is_among(m->string, known, n) && load_first_of_name(obj, m))
            diag_report(l->diag, DIAG_ERROR,
                        jsonpath_field(l->arena, path, m->string), l->key,
                        "unknown field '%s'%s%s", excerpt(l, m->string),
                        load_hint(l, m->string, known, n),
                        suggest_field_list(l->arena, owner, known, n));
}

bool load_expect(Loader *l, Field f, int mask, const char *what)
{
    if (f.v->type & mask)
        return true;
    diag_report(l->diag, DIAG_ERROR, f.path, l->key, "must be %s, not %s",
                what, jsonread_type_name(f.v));
    return false;
}

/* ---- scalars --------------------------------------------------------- */

const char *load_string(Loader *l, Field f)
{
    if (!f.v || !load_expect(l, f, cJSON_String, "a string"))
        return NULL;
    return arena_strdup(l->arena, f.v->valuestring);
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

const char *load_literal(Loader *l, Field f)
{
    const char *s = load_string(l, f);
    const char *why = NULL;
    if (!s)
        return NULL;
    if (*s == '\0')
        why = "must not be empty";
    else if (strstr(s, "{{"))
        why = "must be literal text: no {{ }} templates here";
    else if (has_control(s))
        why = "may not contain control characters";
    if (!why)
        return s;
    report(l, f.path, why);
    return NULL;
}

const char *load_number_text(Arena *a, double x)
{
    char buf[40];
    if (x == floor(x) && fabs(x) < 1e17)
        return arena_sprintf(a, "%.0f", x);
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return arena_strdup(a, buf);
}

/* Why x is not an acceptable integer in lo..hi, or NULL when it is. */
static const char *integer_problem(Arena *a, double x, long lo, long hi)
{
    const char *num = load_number_text(a, x);
    if (isfinite(x) && x != floor(x))
        return arena_sprintf(a, "must be an integer, not %s", num);
    if (x >= (double)lo && x <= (double)hi)
        return NULL;
    if (hi != LOAD_INT_MAX)
        return arena_sprintf(a, "must be between %ld and %ld, not %s", lo,
                             hi, num);
    if (x > (double)hi)
        return arena_sprintf(a, "must be at most %ld, not %s", hi, num);
    if (lo == 1)
        return arena_sprintf(a, "must be a positive integer, not %s", num);
    return arena_sprintf(a, "must be %ld or more, not %s", lo, num);
}

bool load_integer(Loader *l, Field f, long lo, long hi, long *out)
{
    if (!f.v)
        return true;
    if (!load_expect(l, f, cJSON_Number, "an integer"))
        return false;
    const char *why = integer_problem(l->arena, f.v->valuedouble, lo, hi);
    if (why) {
        report(l, f.path, why);
        return false;
    }
    *out = (long)f.v->valuedouble;
    return true;
}

bool load_boolean(Loader *l, Field f, bool *out)
{
    if (!f.v)
        return true;
    if (!load_expect(l, f, cJSON_True | cJSON_False, "true or false"))
        return false;
    *out = cJSON_IsTrue(f.v);
    return true;
}

/* "'a', 'b' or 'c'" */
static const char *list_names(Arena *a, const char *const *names, int n)
{
    const char *s = "";
    for (int i = 0; i < n; i++)
        s = arena_sprintf(a, "%s%s'%s'", s,
                          i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return s;
}

int load_choice(Loader *l, Field f, const char *noun,
                const char *const *names, int n)
{
    if (!f.v || !load_expect(l, f, cJSON_String, "a string"))
        return -1;
    const char *s = f.v->valuestring;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    const char *hint = load_hint(l, s, names, n);
    if (!*hint)
        hint = arena_sprintf(l->arena, ": expected %s",
                             list_names(l->arena, names, n));
    diag_report(l->diag, DIAG_ERROR, f.path, l->key, "unknown %s '%s'%s",
                noun, excerpt(l, s), hint);
    return -1;
}

/* ---- templates ------------------------------------------------------- */

Template *load_template(Loader *l, Field f, bool *ok)
{
    bool parsed = false;
    Template *t = NULL;
    if (f.v && load_expect(l, f, cJSON_String, "a string")) {
        const char *s = f.v->valuestring;
        size_t len = strlen(s);
        t = template_parse(l->arena, l->diag, arena_strndup(l->arena, s, len),
                           len, f.path, l->key, &parsed);
    }
    if (ok)
        *ok = parsed;
    return t;
}

/* A string without {{ }} holding an integer, optionally signed, with
 * nothing else around it. */
static bool parse_integer_text(const char *s, double *out)
{
    const char *p = s + (*s == '-');
    if (*p < '0' || *p > '9')
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    *out = strtod(s, NULL);
    return true;
}

/* The literal string form of an integer setting ("201"). */
static bool literal_integer(Loader *l, Field f, long lo, long hi,
                            IntOrTemplate *out)
{
    double x = 0;
    const char *why;
    if (!parse_integer_text(f.v->valuestring, &x))
        why = arena_sprintf(l->arena, "must be an integer or a {{ }} "
                            "template, not the text '%s'",
                            excerpt(l, f.v->valuestring));
    else
        why = integer_problem(l->arena, x, lo, hi);
    if (why) {
        report(l, f.path, why);
        return false;
    }
    out->is_template = false;
    out->value = (long)x;
    return true;
}

bool load_int_or_template(Loader *l, Field f, long lo, long hi,
                          IntOrTemplate *out)
{
    if (!f.v)
        return true;
    if (!load_expect(l, f, cJSON_Number | cJSON_String,
                     "an integer or a template string"))
        return false;
    if (cJSON_IsNumber(f.v)) {
        out->is_template = false;
        return load_integer(l, f, lo, hi, &out->value);
    }
    if (!strstr(f.v->valuestring, "{{"))
        return literal_integer(l, f, lo, hi, out);
    bool ok;
    out->is_template = true;
    out->tmpl = load_template(l, f, &ok);
    return ok;
}

/* ---- JSON values with templates ------------------------------------ */

static TValue *tvalue_from(Loader *l, const cJSON *v, const char *path);

static void tvalue_items(Loader *l, TValue *t, const cJSON *v)
{
    int n = cJSON_GetArraySize(v), i = 0;
    t->items = arena_alloc(l->arena, sizeof *t->items * (size_t)(n + 1));
    if (t->kind == TV_OBJECT)
        t->keys = arena_alloc(l->arena, sizeof *t->keys * (size_t)(n + 1));
    for (const cJSON *m = v->child; m; m = m->next, i++) {
        const char *path = t->kind == TV_OBJECT
            ? jsonpath_field(l->arena, t->path, m->string)
            : jsonpath_index(l->arena, t->path, i);
        if (t->kind == TV_OBJECT)
            t->keys[i] = arena_strdup(l->arena, m->string);
        t->items[i] = tvalue_from(l, m, path);
    }
    t->count = n;
}

static TValue *tvalue_from(Loader *l, const cJSON *v, const char *path)
{
    TValue *t = arena_alloc(l->arena, sizeof *t);
    t->path = path;
    if (cJSON_IsNull(v)) {
        t->kind = TV_NULL;
    } else if (cJSON_IsBool(v)) {
        t->kind = TV_BOOL;
        t->boolean = cJSON_IsTrue(v);
    } else if (cJSON_IsNumber(v)) {
        t->kind = TV_NUMBER;
        t->number = v->valuedouble;
        if (!isfinite(t->number))
            report(l, path, "number too large");
    } else if (cJSON_IsString(v)) {
        Field f = { v, path, NULL };
        t->kind = TV_TEMPLATE;
        t->tmpl = load_template(l, f, NULL);
    } else {
        t->kind = cJSON_IsArray(v) ? TV_ARRAY : TV_OBJECT;
        tvalue_items(l, t, v);
    }
    return t;
}

TValue *load_tvalue(Loader *l, Field f)
{
    return f.v ? tvalue_from(l, f.v, f.path) : NULL;
}

/* ---- headers --------------------------------------------------------- */

bool load_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                     || (c >= '0' && c <= '9');
        if (!alnum && !strchr("!#$%&'*+-.^_`|~", c))
            return false;
    }
    return true;
}

char *load_lower_copy(Arena *a, const char *s)
{
    char *out = arena_strdup(a, s);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

/* Why header name may not be set, or NULL. */
static const char *header_problem(Loader *l, const char *name,
                                  const char *const *forbidden, int n,
                                  const char *who)
{
    if (!load_is_token(name))
        return arena_sprintf(l->arena, "invalid header name '%s': use "
                             "letters, digits and !#$%%&'*+-.^_`|~",
                             excerpt(l, name));
    for (int i = 0; i < n; i++) {
        if (strcasecmp(name, forbidden[i]) != 0)
            continue;
        if (strcasecmp(name, "Content-Type") == 0)
            return arena_sprintf(l->arena, "header '%s' may not be set in "
                                 "headers: use content_type", name);
        return arena_sprintf(l->arena, "header '%s' is set by %s and may "
                             "not be set here", name, who);
    }
    return NULL;
}

/* Reports a header set twice in different letter cases (the same spelling
 * twice is a duplicate key, reported already). */
static bool header_is_new(Loader *l, StrSet *seen, const char *name,
                          const char *path)
{
    const char *first = strset_add(seen, load_lower_copy(l->arena, name),
                                   (void *)name);
    if (!first)
        return true;
    if (strcmp(first, name) != 0)
        diag_report(l->diag, DIAG_ERROR, path, l->key,
                    "header '%s' is already set as '%s' (header names "
                    "ignore letter case)", name, first);
    return false;
}

NamedTemplate *load_headers(Loader *l, Field f,
                            const char *const *forbidden, int n,
                            const char *who, int *count)
{
    *count = 0;
    if (!f.v || !load_expect(l, f, cJSON_Object, "an object"))
        return NULL;
    NamedTemplate *out = arena_alloc(
        l->arena, sizeof *out * (size_t)(cJSON_GetArraySize(f.v) + 1));
    StrSet *seen = strset_new(l->arena);
    for (const cJSON *m = f.v->child; m; m = m->next) {
        Field h = { m, jsonpath_field(l->arena, f.path, m->string),
                    m->string };
        const char *why = header_problem(l, m->string, forbidden, n, who);
        if (why)
            report(l, h.path, why);
        if (why || !header_is_new(l, seen, m->string, h.path))
            continue;
        out[*count].name = arena_strdup(l->arena, m->string);
        out[*count].tmpl = load_template(l, h, NULL);
        ++*count;
    }
    return out;
}
