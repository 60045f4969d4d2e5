/* load.c - the workflow loader: JSON bytes to the checked tree of
 * workflow.h (spec §1).
 *
 * jsonread.c makes sure the bytes are strict JSON; this file walks the
 * document: the top level, the trigger, then the step lists depth first.
 * Each step gets its index as it is met (the trigger 0, a gate before its
 * branches, the true branch before the false one) and its key a place in
 * one table, so a second use can name the first.  load_steps.c reads each
 * type's config.  Nothing stops at the first problem: every error of the
 * file is reported, and the tree built as far as it makes sense. */
#include "load.h"

#include <string.h>

#include "jsonpath.h"
#include "jsonread.h"
#include "suggest.h"

static const char *const top_fields[] = {
    "flusso", "name", "description", "trigger", "steps"
};
static const char *const step_fields[] = {
    "key", "type", "name", "config", "on_error", "branches", "cases",
    "default", "steps"
};
static const char *const on_error_names[] = { "fail", "continue" };
static const char *const branch_fields[] = { "true", "false" };

/* Workflow names become file names: keep them well below NAME_MAX. */
enum { NAME_MAX_CHARS = 128 };

static void report(Loader *l, const char *path, const char *message)
{
    diag_report(l->diag, DIAG_ERROR, path, l->key, "%s", message);
}

/* ---- step keys ------------------------------------------------------- */

static bool is_key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
    return is_key_start(c) || (c >= '0' && c <= '9');
}

/* key with each character a key may not hold replaced by '_', and a '_'
 * before a leading digit: "my-step" -> "my_step". */
static const char *key_repair(Arena *a, const char *key)
{
    bool digit = !is_key_start(key[0]) && is_key_char(key[0]);
    char *out = arena_sprintf(a, "%s%s", digit ? "_" : "", key);
    for (char *p = out; *p; p++)
        if (!is_key_char(*p))
            *p = '_';
    return out;
}

static const char *key_problem(Loader *l, const char *key, const char *path)
{
    const char *shown = jsonpath_excerpt(l->arena, key);
    bool valid = is_key_start(key[0]);
    for (const char *p = key; valid && *p; p++)
        valid = is_key_char(*p);
    if (!*key)
        return "the step key may not be empty";
    if (!valid)
        return arena_sprintf(l->arena, "step key '%s' is not a valid name: "
                             "use letters, digits and '_', not starting with "
                             "a digit (did you mean '%s'?)", shown,
                             jsonpath_excerpt(l->arena,
                                              key_repair(l->arena, key)));
    static const char *const reserved[] = { "env", "run", "true", "false",
                                            "null" };
    for (int i = 0; i < COUNT(reserved); i++)
        if (strcmp(key, reserved[i]) == 0)
            return arena_sprintf(l->arena, "step key '%s' is reserved", key);
    const char *first = strset_add(l->keys, key, (void *)path);
    if (first)
        return arena_sprintf(l->arena, "step key '%s' is already used by the "
                             "step at %s", shown, first);
    return NULL;
}

/* The step's key, registered; "" when it has none.  From here on the
 * step's diagnostics carry it. */
static const char *load_key(Loader *l, const cJSON *step, const char *path)
{
    Field f = load_field(l, step, path, "key", true);
    const char *key = load_string(l, f);
    if (!key)
        return "";
    l->key = jsonpath_excerpt(l->arena, key);
    l->seen = (const char **)arena_push(l->arena, (void **)l->seen,
                                        &l->seen_count, &l->seen_cap,
                                        (void *)key);
    const char *why = key_problem(l, key, path);
    if (why)
        report(l, f.path, why);
    return key;
}

/* ---- steps ----------------------------------------------------------- */

/* The step's type, or -1 after reporting. */
static int load_type(Loader *l, const cJSON *step, const char *path,
                     bool is_trigger)
{
    Field f = load_field(l, step, path, "type", true);
    int t = load_choice(l, f, "step type", format_step_types.names,
                        format_step_types.count);
    if (t >= 0 && is_trigger && t != ST_TRIGGER) {
        diag_report(l->diag, DIAG_ERROR, f.path, l->key, "the trigger must "
                    "be a webhook_trigger, not '%s'", step_type_name(t));
        return -1;
    }
    if (t == ST_TRIGGER && !is_trigger) {
        report(l, f.path, "a webhook_trigger can only be the workflow's "
                          "trigger");
        return -1;
    }
    return t;
}

static bool is_config_field(const char *name, int type)
{
    FormatNames fields = type >= 0 ? format_config_fields((StepType)type)
                                   : (FormatNames){ NULL, 0 };
    for (int i = 0; i < fields.count; i++)
        if (strcmp(fields.names[i], name) == 0)
            return true;
    return false;
}

/* Unknown members of a step; a field of the type's config written next to
 * "config" instead of inside it gets a hint of its own. */
static void check_step_fields(Loader *l, const cJSON *step, const char *path,
                              int type)
{
    for (const cJSON *m = step->child; m; m = m->next) {
        int i = 0;
        while (i < COUNT(step_fields) && strcmp(step_fields[i], m->string))
            i++;
        if (i < COUNT(step_fields) || !load_first_of_name(step, m))
            continue;
        const char *hint = is_config_field(m->string, type)
            ? " (it belongs in 'config')"
            : load_hint(l, m->string, step_fields, COUNT(step_fields));
        diag_report(l->diag, DIAG_ERROR,
                    jsonpath_field(l->arena, path, m->string), l->key,
                    "unknown field '%s'%s%s",
                    jsonpath_excerpt(l->arena, m->string), hint,
                    suggest_field_list(l->arena, "a step", step_fields,
                                       COUNT(step_fields)));
    }
}

/* Gives s the next index and a place in the table of all steps. */
static void add_step(Loader *l, Step *s)
{
    s->index = l->count;
    l->all = (Step **)arena_push(l->arena, (void **)l->all, &l->count,
                                 &l->cap, s);
}

static void load_config(Loader *l, Step *s, const cJSON *step,
                        const char *path)
{
    Field f = load_field(l, step, path, "config", false);
    if (f.v && !load_expect(l, f, cJSON_Object, "an object"))
        return;
    load_step_config(l, s, f.v, f.path);
}

static void load_list(Loader *l, Field f, StepList *out);

static void load_branches(Loader *l, Step *s, const cJSON *step,
                          const char *path)
{
    Field f = load_field(l, step, path, "branches", false);
    if (!f.v)
        return;
    if (s->type != ST_LOGIC_GATE) {
        report(l, f.path, "only a logic_gate has branches");
        return;
    }
    if (!load_expect(l, f, cJSON_Object, "an object"))
        return;
    load_check_fields(l, f.v, f.path, "branches", branch_fields,
                      COUNT(branch_fields));
    load_list(l, load_field(l, f.v, f.path, "true", false), &s->on_true);
    load_list(l, load_field(l, f.v, f.path, "false", false), &s->on_false);
}

/* A switch's "cases": an object of case name -> step list (spec §10). */
static void load_cases(Loader *l, Step *s, Field f)
{
    SwitchConfig *c = &s->as.sw;
    if (!load_expect(l, f, cJSON_Object, "an object of case name -> steps"))
        return;
    int n = cJSON_GetArraySize(f.v);
    c->names = arena_alloc(l->arena, sizeof *c->names * (size_t)(n + 1));
    c->paths = arena_alloc(l->arena, sizeof *c->paths * (size_t)(n + 1));
    c->cases = arena_alloc(l->arena, sizeof *c->cases * (size_t)(n + 1));
    for (const cJSON *m = f.v->child; m; m = m->next) {
        Field list = { m, jsonpath_field(l->arena, f.path, m->string),
                       m->string };
        if (!*m->string)
            report(l, list.path, "a case name may not be empty");
        c->names[c->count] = arena_strdup(l->arena, m->string);
        c->paths[c->count] = list.path;
        load_list(l, list, &c->cases[c->count++]);
    }
}

/* The nested lists of a switch (cases, default) and of a for_each
 * (steps); type is -1 for a step of unknown type, whose lists are still
 * loaded (so their own mistakes are reported) and then dropped with it. */
static void load_nested(Loader *l, Step *s, const cJSON *step,
                        const char *path, int type)
{
    Field cases = load_field(l, step, path, "cases", false);
    Field fallback = load_field(l, step, path, "default", false);
    Field body = load_field(l, step, path, "steps", false);
    bool is_switch = type == ST_SWITCH || type < 0;
    if (cases.v && !is_switch)
        report(l, cases.path, "only a switch has cases");
    if (fallback.v && !is_switch)
        report(l, fallback.path, "only a switch has a default");
    if (type == ST_SWITCH && !cases.v)
        report(l, path, "missing required field 'cases'");
    if (cases.v && is_switch)
        load_cases(l, s, cases);
    if (fallback.v && is_switch)
        load_list(l, fallback, &s->as.sw.fallback);
    if (type == ST_FOR_EACH && !body.v)
        report(l, path, "missing required field 'steps'");
    if (!body.v)
        return;
    if (type != ST_FOR_EACH && type >= 0) {
        report(l, body.path, "only a for_each has steps");
        return;
    }
    int outer = l->loop;
    l->loop = type == ST_FOR_EACH ? s->index : outer;
    load_list(l, body, &s->body);
    l->loop = outer;
}

/* A step object.  One whose type is unknown is checked as far as it can
 * be (its key, its fields, its branches) but left out of the tree. */
static Step *load_step_object(Loader *l, const cJSON *v, const char *path,
                              bool is_trigger)
{
    Step *s = arena_alloc(l->arena, sizeof *s);
    s->path = path;
    s->loop = l->loop;
    s->key = load_key(l, v, path);
    int type = load_type(l, v, path, is_trigger);
    check_step_fields(l, v, path, type);
    /* unknown type: still walk into its branches, as if it were a gate */
    s->type = type < 0 ? ST_LOGIC_GATE : (StepType)type;
    if (type >= 0)
        add_step(l, s);
    s->name = load_string(l, load_field(l, v, path, "name", false));
    Field on_error = load_field(l, v, path, "on_error", false);
    if (is_trigger && on_error.v)
        diag_report(l->diag, DIAG_ERROR, on_error.path, l->key,
                    "the trigger has no on_error: it runs no step that "
                    "could fail");
    else
        s->on_error_continue = load_choice(l, on_error, "on_error",
                                           on_error_names,
                                           COUNT(on_error_names)) == 1;
    if (type >= 0)
        load_config(l, s, v, path);
    load_branches(l, s, v, path);
    load_nested(l, s, v, path, type);
    return type >= 0 ? s : NULL;
}

/* The step at path, or NULL when it is not one. */
static Step *load_step(Loader *l, const cJSON *v, const char *path,
                       bool is_trigger)
{
    const char *outer = l->key;
    Step *s = NULL;
    l->key = NULL;
    if (load_expect(l, (Field){ v, path, NULL }, cJSON_Object, "an object"))
        s = load_step_object(l, v, path, is_trigger);
    l->key = outer;
    return s;
}

static void load_list(Loader *l, Field f, StepList *out)
{
    if (!f.v || !load_expect(l, f, cJSON_Array, "an array"))
        return;
    int n = cJSON_GetArraySize(f.v), i = 0;
    out->items = arena_alloc(l->arena, sizeof *out->items * (size_t)(n + 1));
    for (const cJSON *m = f.v->child; m; m = m->next, i++) {
        Step *s = load_step(l, m, jsonpath_index(l->arena, f.path, i), false);
        if (s)
            out->items[out->count++] = s;
    }
}

/* ---- the top level --------------------------------------------------- */

static void load_version(Loader *l, Field f)
{
    if (!f.v || !load_expect(l, f, cJSON_Number, "the number 1"))
        return;
    if (f.v->valuedouble != 1)
        diag_report(l->diag, DIAG_ERROR, f.path, NULL,
                    "unsupported format version %s: this flussoc reads "
                    "version 1", load_number_text(l->arena, f.v->valuedouble));
}

/* name lower-cased, runs of other characters made '-', leading ones
 * dropped: "My Flow" -> "my-flow"; "" when nothing is left. */
static const char *name_repair(Arena *a, const char *name)
{
    char *out = load_lower_copy(a, name), *w = out;
    for (const char *p = out; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                  || ((*p == '_' || *p == '-') && w > out);
        if (ok || (w > out && w[-1] != '-'))
            *w++ = ok ? *p : '-';
    }
    *w = '\0';
    return out;
}

static const char *load_name(Loader *l, Field f)
{
    const char *name = load_string(l, f);
    if (!name)
        return NULL;
    const char *fixed = name_repair(l->arena, name);
    const char *why = NULL;
    if (strlen(name) > NAME_MAX_CHARS)
        why = "must be at most 128 characters";
    else if (strcmp(fixed, name) != 0)
        why = arena_sprintf(l->arena, "workflow name '%s' may only hold a-z, "
                            "0-9, '_' and '-', starting with a letter or "
                            "digit%s%s%s", jsonpath_excerpt(l->arena, name),
                            *fixed ? " (did you mean '" : "", fixed,
                            *fixed ? "'?)" : "");
    if (why)
        report(l, f.path, why);
    return name;
}

static void load_top(Loader *l, Workflow *w, const cJSON *root)
{
    load_check_fields(l, root, "", "a workflow", top_fields,
                      COUNT(top_fields));
    load_version(l, load_field(l, root, "", "flusso", false));
    w->name = load_name(l, load_field(l, root, "", "name", true));
    w->description = load_string(
        l, load_field(l, root, "", "description", false));
    Field trigger = load_field(l, root, "", "trigger", true);
    if (trigger.v)
        w->trigger = load_step(l, trigger.v, trigger.path, true);
    load_list(l, load_field(l, root, "", "steps", true), &w->steps);
    w->all_steps = l->all;
    w->step_count = l->count;
    w->seen_keys = l->seen;
    w->seen_key_count = l->seen_count;
}

static uint64_t fnv1a(uint64_t h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

/* The workflow's shape: what a journal compares to know whether a saved
 * run's step indexes still mean the same steps (spec 8.4).  The source
 * bytes cover the code, the keys in index order the layout; the top bit
 * is cleared so that it fits a signed 64-bit column. */
static int64_t workflow_shape(const Workflow *w, const char *bytes, size_t len)
{
    uint64_t h = fnv1a(UINT64_C(14695981039346656037), bytes, len);
    for (int i = 0; i < w->step_count; i++)
        if (w->all_steps[i])
            h = fnv1a(h, w->all_steps[i]->key, strlen(w->all_steps[i]->key) + 1);
    return (int64_t)(h & INT64_MAX);
}

Workflow *workflow_load(Arena *a, Diag *d, const char *file,
                        const char *bytes, size_t len)
{
    cJSON *root = jsonread_parse(a, d, bytes, len);
    if (!root)
        return NULL;
    Workflow *w = NULL;
    if (!cJSON_IsObject(root)) {
        diag_report(d, DIAG_ERROR, "", NULL, "the workflow must be a JSON "
                    "object, not %s", jsonread_type_name(root));
    } else {
        w = arena_alloc(a, sizeof *w);
        w->file = file;
        Loader l = { .arena = a, .diag = d, .keys = strset_new(a) };
        load_top(&l, w, root);
        w->shape = workflow_shape(w, bytes, len);
    }
    cJSON_Delete(root);
    return w;
}
