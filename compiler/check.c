/* check.c - names, step order and response rules (spec §2, §4.4).
 *
 * Execution is structured (lists, and gates whose two branches join again),
 * so one walk in document order knows at every step which steps have run on
 * every path to it ("definite") and on at least one ("possible"): a gate's
 * branches start from the state before them and join as the intersection
 * and the union.  A reference to a step outside "possible" is an error, one
 * inside "possible" but not "definite" a warning.  The same walk finds a
 * webhook_response that may follow another one, and the worst-case
 * blocking time before each response.  A switch joins its cases (and its
 * default) the same way; a for_each body starts from the state before the
 * loop and nothing of it is readable after, so its steps are readable
 * only inside it (spec §10). */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

/* Which steps have run before a point, and how long that may have taken. */
typedef struct {
    uint64_t *definite;    /* bit per Step.index: ran on every path */
    uint64_t *possible;    /* ran on at least one path */
    long long worst_ms;    /* worst-case blocking time so far */
} Reach;

typedef struct {
    Arena *arena;
    Diag *diag;
    const Workflow *wf;
    int words;                 /* uint64_t words in a bitset */
    const Step *step;          /* the step whose templates are checked */
    const Template *tmpl;      /* the template being checked */
    const Reach *flow;          /* what ran before step */
    bool env_only;             /* the verify secret: only env.NAME */
    bool saw_env;              /* env_only: the secret used env.NAME */
    bool key_only;             /* the dedupe key: the trigger and env only */
    bool in_default;           /* checking x of default(x, ...): a step
                                  that ran on some paths only is handled */
    bool partial;              /* the loader reported errors: the tree may
                                  lack steps, so only checks that need no
                                  complete tree are made */
    uint64_t *in_tree;         /* bit per Step.index: the step is in the
                                  tree (the loader leaves out a step it
                                  cannot type, and what is under it) */
    const char **env;          /* env names seen */
    int env_count, env_cap;
    const char **key_names;    /* every step key, for "did you mean" */
    uint64_t **must_reads;     /* WorkflowFacts.must_reads */
} Checker;

/* ---- bitsets --------------------------------------------------------- */

static bool bit_get(const uint64_t *set, int i)
{
    return set[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *set, int i)
{
    set[i / 64] |= UINT64_C(1) << (i % 64);
}

static Reach reach_copy(Checker *c, const Reach *from)
{
    size_t bytes = sizeof(uint64_t) * (size_t)c->words;
    Reach f = { arena_alloc(c->arena, bytes), arena_alloc(c->arena, bytes),
               from ? from->worst_ms : 0 };
    if (from) {
        memcpy(f.definite, from->definite, bytes);
        memcpy(f.possible, from->possible, bytes);
    }
    return f;
}

/* Joins the two branch ends of a gate into *into. */
static void reach_join(Checker *c, Reach *into, const Reach *a, const Reach *b)
{
    for (int i = 0; i < c->words; i++) {
        into->definite[i] = a->definite[i] & b->definite[i];
        into->possible[i] = a->possible[i] | b->possible[i];
    }
    into->worst_ms = a->worst_ms > b->worst_ms ? a->worst_ms : b->worst_ms;
}

/* ---- reporting ------------------------------------------------------- */

static void report_at(Checker *c, DiagLevel level, size_t pos,
                      const char *message)
{
    const Template *t = c->tmpl;
    diag_report_at(c->diag, level, t->path, t->step_key, t->src, t->src_len,
                   pos, "%s", message);
}

static const char *did_you_mean(Checker *c, const char *word,
                                const char *const *names, int count)
{
    const char *hint = suggest_closest(word, names, count);
    return hint ? arena_sprintf(c->arena, " (did you mean '%s'?)", hint) : "";
}

/* ---- step outputs ------------------------------------------------------ */

/* The output fields of step s: its type's (flusso_format.h), or a set's
 * own names, plus "error" under on_error continue; returns their number
 * and points *names at a list in the arena. */
static int output_fields(Checker *c, const Step *s, const char ***names)
{
    const char *const *base = fl_step_outputs((FlStepType)s->type);
    int n = 0;
    while (base[n])
        n++;
    if (s->type == ST_SET) {
        base = s->as.set.names;
        n = s->as.set.count;
    }
    const char **all = arena_alloc(c->arena, sizeof *all * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        all[i] = base[i];
    if (s->on_error_continue)
        all[n++] = "error";
    *names = all;
    return n;
}

static const Step *find_step(const Workflow *w, const char *key)
{
    for (int i = 0; i < w->step_count; i++)
        if (strcmp(w->all_steps[i]->key, key) == 0)
            return w->all_steps[i];
    return NULL;
}

/* Whether step s lies in the body of the for_each at index loop, at any
 * depth. */
static bool in_loop(const Workflow *w, int loop, const Step *s)
{
    for (int l = s->loop; l > 0; l = w->all_steps[l]->loop)
        if (l == loop)
            return true;
    return false;
}

/* ---- references ---------------------------------------------------------- */

static void check_env_ref(Checker *c, const Expr *root, const Expr *seg)
{
    const char *name = seg ? expr_segment_name(seg) : NULL;
    if (!name) {
        report_at(c, DIAG_ERROR, root->pos,
                  "'env' must be followed by a variable name: env.NAME");
        return;
    }
    for (int i = 0; i < c->env_count; i++)
        if (strcmp(c->env[i], name) == 0)
            return;
    c->env = (const char **)arena_push(c->arena, (void **)c->env,
                                       &c->env_count, &c->env_cap,
                                       (void *)name);
}

static void check_run_ref(Checker *c, const Expr *root, const Expr *seg)
{
    const char *name = seg ? expr_segment_name(seg) : NULL;
    if (!name) {
        report_at(c, DIAG_ERROR, root->pos,
                  "'run' must be followed by a field: run.id, "
                  "run.started_at, run.workflow or run.attempt");
        return;
    }
    for (int i = 0; i < format_run_fields.count; i++)
        if (strcmp(format_run_fields.names[i], name) == 0)
            return;
    report_at(c, DIAG_ERROR, seg->pos,
              arena_sprintf(c->arena, "'run' has no field '%s'%s%s", name,
                            did_you_mean(c, name, format_run_fields.names,
                                         format_run_fields.count),
                            suggest_field_list(c->arena, "run",
                                               format_run_fields.names,
                                               format_run_fields.count)));
}

/* Is target reachable before the step being checked, on some or all paths?
 * Reports an error or a warning when not on all of them. */
static void check_step_order(Checker *c, const Expr *root, const Step *target)
{
    const Step *here = c->step;
    const char *why = NULL;
    if (target == here)
        why = arena_sprintf(c->arena, "step '%s' cannot use its own output",
                            target->key);
    else if (target->loop && !in_loop(c->wf, target->loop, here))
        why = arena_sprintf(c->arena, "step '%s' runs inside for_each '%s': "
                            "its output is readable only in that loop's body "
                            "(after the loop, read %s.output.results)",
                            target->key, c->wf->all_steps[target->loop]->key,
                            c->wf->all_steps[target->loop]->key);
    else if (!bit_get(c->flow->possible, target->index))
        why = arena_sprintf(c->arena,
                            target->index > here->index
                                ? "step '%s' has not run yet here: it comes later"
                                : "step '%s' cannot have run here: it is in "
                                  "another branch",
                            target->key);
    if (why) {
        report_at(c, DIAG_ERROR, root->pos, why);
        return;
    }
    if (bit_get(c->flow->definite, target->index))
        bit_set(c->must_reads[here->index], target->index);
    else if (!c->in_default)
        report_at(c, DIAG_WARNING, root->pos,
                  arena_sprintf(c->arena,
                                "step '%s' runs on some paths to here but "
                                "not all; its output is null on the others",
                                target->key));
}

/* headers.<name>: header names in an output are lower-cased (spec §3), so
 * one with an upper-case letter is always null (spec §12). */
static void check_header_name(Checker *c, const Expr *seg)
{
    const char *name = expr_segment_name(seg);
    if (!name)
        return;
    char *lower = arena_strdup(c->arena, name);
    bool upper = false;
    for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
            upper = true;
        }
    if (upper)
        report_at(c, DIAG_ERROR, seg->pos,
                  arena_sprintf(c->arena, "header names are lower-cased: "
                                "headers.%s is always null (did you mean "
                                "headers.%s?)", name, lower));
}

/* <key>.output.<field>: the segment after the key must be "output", and
 * the first field must exist when the step type's output is fixed. */
static void check_output_path(Checker *c, const Expr *root, const Step *target,
                              const Expr *const *segs, int nsegs)
{
    const char *out = nsegs > 0 ? expr_segment_name(segs[0]) : NULL;
    if (!out || strcmp(out, "output") != 0) {
        report_at(c, DIAG_ERROR, nsegs > 0 ? segs[0]->pos : root->pos,
                  arena_sprintf(c->arena, "expected '%s.output' here",
                                target->key));
        return;
    }
    const char *field = nsegs > 1 ? expr_segment_name(segs[1]) : NULL;
    if (!field)
        return;
    const char **names;
    int count = output_fields(c, target, &names);
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], field) == 0) {
            if (strcmp(field, "headers") == 0 && nsegs > 2)
                check_header_name(c, segs[2]);
            return;
        }
    report_at(c, DIAG_ERROR, segs[1]->pos,
              arena_sprintf(c->arena,
                            "the output of step '%s' (%s) has no field "
                            "'%s'%s%s",
                            target->key, step_type_name(target->type), field,
                            did_you_mean(c, field, names, count),
                            suggest_field_list(c->arena, "its output",
                                               names, count)));
}

/* Whether key belongs to some step of the file, in the tree or not. */
static bool key_seen(const Workflow *w, const char *key)
{
    for (int i = 0; i < w->seen_key_count; i++)
        if (strcmp(w->seen_keys[i], key) == 0)
            return true;
    return false;
}

/* A path root that names nothing: "unknown step" when it is used like one
 * (name.output...), "unknown name" when it stands alone. */
static void check_unknown_name(Checker *c, const Expr *root, int nsegs)
{
    const char *hint = did_you_mean(c, root->str, c->key_names,
                                    c->wf->step_count + 2);
    if (!*hint && strcmp(root->str, "msg") == 0)
        hint = " (msg.payload is Node-RED's: here the request body is "
               "trigger.output.body)";
    report_at(c, DIAG_ERROR, root->pos,
              arena_sprintf(c->arena,
                            nsegs > 0 ? "unknown step '%s'%s"
                                      : "unknown name '%s'%s: a name is a "
                                        "step key, env or run",
                            root->str, hint));
}

/* <key>.item and <key>.index of a for_each: the current element and its
 * index, inside its body only; <key>.output inside its own body is not
 * made yet (spec §10).  Returns whether the path was one of these. */
static bool check_loop_name(Checker *c, const Step *loop,
                            const Expr *first)
{
    const char *name = first ? expr_segment_name(first) : NULL;
    bool inside = in_loop(c->wf, loop->index, c->step);
    if (name && (strcmp(name, "item") == 0 || strcmp(name, "index") == 0)) {
        if (!inside)
            report_at(c, DIAG_ERROR, first->pos,
                      arena_sprintf(c->arena, "%s.%s is the current %s of "
                                    "for_each '%s': it exists only inside "
                                    "that loop's steps", loop->key, name,
                                    *name == 'i' && name[1] == 't'
                                    ? "element" : "index", loop->key));
        return true;
    }
    if (!inside || !name || strcmp(name, "output") != 0)
        return false;
    report_at(c, DIAG_ERROR, first->pos,
              arena_sprintf(c->arena, "%s.output is made when the loop ends: "
                            "inside its steps use %s.item and %s.index",
                            loop->key, loop->key, loop->key));
    return true;
}

/* Checks a path whose root is the name root; segs are the segments after
 * it, outermost last. */
static void check_path(Checker *c, const Expr *root, const Expr *const *segs,
                       int nsegs)
{
    const Expr *first = nsegs > 0 ? segs[0] : NULL;
    if (strcmp(root->str, "env") == 0) {
        check_env_ref(c, root, first);
        c->saw_env = true;
        return;
    }
    if (c->env_only) {
        report_at(c, DIAG_ERROR, root->pos,
                  "the verify secret is evaluated before any step runs: "
                  "it may use only env.NAME");
        return;
    }
    bool is_run = strcmp(root->str, "run") == 0;
    const Step *target = is_run ? NULL : find_step(c->wf, root->str);
    if (c->key_only && (is_run || (target && target != c->step))) {
        report_at(c, DIAG_ERROR, root->pos,
                  "the dedupe key is evaluated before the run starts: it may "
                  "use only the trigger's output and env");
        return;
    }
    if (is_run) {
        check_run_ref(c, root, first);
        return;
    }
    if (!target) {
        if (!c->partial || !key_seen(c->wf, root->str))
            check_unknown_name(c, root, nsegs);
        return;
    }
    if (target->type == ST_FOR_EACH && check_loop_name(c, target, first))
        return;
    if (bit_get(c->in_tree, target->index) && !c->key_only)
        check_step_order(c, root, target);
    check_output_path(c, root, target, segs, nsegs);
}

static void check_expr(Checker *c, const Expr *e);

static void check_call(Checker *c, const Expr *e)
{
    const Builtin *b = builtin_find(e->str);
    if (!b) {
        const char **names = arena_alloc(c->arena,
                                         sizeof *names * (size_t)builtin_count);
        for (int i = 0; i < builtin_count; i++)
            names[i] = builtin_table[i].name;
        report_at(c, DIAG_ERROR, e->pos,
                  arena_sprintf(c->arena, "unknown function '%s'%s", e->str,
                                did_you_mean(c, e->str, names, builtin_count)));
    } else if (b->arity != e->count) {
        report_at(c, DIAG_ERROR, e->pos,
                  arena_sprintf(c->arena,
                                "%s() takes %d argument%s, not %d", b->name,
                                b->arity, b->arity == 1 ? "" : "s", e->count));
    }
    for (int i = 0; i < e->count; i++) {
        /* default(step.output.x, ...) says what a null becomes: the
         * "runs on some paths only" warning is answered (spec §12) */
        bool was = c->in_default;
        c->in_default = was || (i == 0 && b && strcmp(b->name, "default") == 0);
        check_expr(c, e->items[i]);
        c->in_default = was;
    }
}

/* "text" or "an array" when e is known to be one (a literal, or a call of
 * a built-in that always returns one), else NULL. */
static const char *known_sequence(const Expr *e)
{
    static const char *const text_fns[] = {
        "hmac_sha256", "sha256", "hmac_sha256_base64", "base64_encode",
        "lower", "upper", "trim", "join", "json", "string", "uuid",
    };
    if (e->kind == EX_STRING)
        return "text";
    if (e->kind == EX_ARRAY)
        return "an array";
    if (e->kind != EX_CALL)
        return NULL;
    if (strcmp(e->str, "split") == 0)
        return "an array";
    for (size_t i = 0; i < sizeof text_fns / sizeof text_fns[0]; i++)
        if (strcmp(e->str, text_fns[i]) == 0)
            return "text";
    return NULL;
}

/* `'abc'.length`, `split(s, ',').count`: a length asked the JavaScript,
 * Ruby or Python way is always null here; len() is the Flusso way
 * (spec §12).  Returns true after reporting. */
static bool check_length_field(Checker *c, const Expr *root, const Expr *seg)
{
    static const char *const names[] = { "length", "size", "count" };
    const char *what = known_sequence(root);
    if (!what || seg->kind != EX_FIELD)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(seg->str, names[i]) == 0) {
            report_at(c, DIAG_ERROR, seg->pos,
                      arena_sprintf(c->arena, "%s has no field '%s': this is "
                                    "always null (did you mean len(...)?)",
                                    what, seg->str));
            if (root->kind != EX_STRING)
                check_expr(c, root);
            return true;
        }
    return false;
}

/* `1.e3`, `'abc'.length`, `true[0]`: a path on a literal that has no
 * fields or items is always null - legal (spec: a path may follow any
 * value), but never what the author meant. */
static void check_literal_root(Checker *c, const Expr *root, const Expr *seg)
{
    static const char *const kinds[] = {
        [EX_NULL] = "null", [EX_BOOL] = "a boolean",
        [EX_NUMBER] = "a number", [EX_STRING] = "a string",
    };
    if (check_length_field(c, root, seg))
        return;
    if (root->kind > EX_STRING) {          /* the scalars come first */
        check_expr(c, root);
        return;
    }
    const char *f = seg->kind == EX_FIELD ? seg->str : "";
    bool exponent = root->kind == EX_NUMBER && (f[0] == 'e' || f[0] == 'E')
                 && f[1] && !f[1 + strspn(f + 1, "0123456789")];
    report_at(c, DIAG_WARNING, seg->pos,
              arena_sprintf(c->arena, "%s has no fields or items: this is "
                            "always null%s", kinds[root->kind],
                            exponent ? " (an exponent is written 1e3, without "
                                       "the '.')" : ""));
}

/* A chain of .field and [index] segments: finds its root, checks the
 * reference when the root is a name, and every index expression. */
static void check_chain(Checker *c, const Expr *e)
{
    const Expr *segs[EXPR_MAX_SEGS], *root;
    int n = expr_chain(e, &root, segs);
    if (root->kind == EX_NAME)
        check_path(c, root, segs, n);
    else if (n > 0)
        check_literal_root(c, root, segs[0]);
    else
        check_expr(c, root);
    for (int i = 0; i < n; i++)
        if (segs[i]->kind == EX_INDEX)
            check_expr(c, segs[i]->rhs);
}

/* Whether e is a text literal that reads as a number, such as '100'. */
static bool is_numeric_text(const Expr *e)
{
    if (e->kind != EX_STRING || e->len == 0 || strlen(e->str) != e->len
        || !strchr("0123456789-+.", e->str[0]))
        return false;
    char *end;
    strtod(e->str, &end);
    return *end == '\0';
}

/* x > '100': `<` and the like compare two numbers or two strings and are
 * false for any other pair (spec §2), so a number compared with text that
 * looks like one is always false - the quotes are the slip (spec §12). */
static void check_ordering(Checker *c, const Expr *e)
{
    if (e->op < OP_LT || e->op > OP_GE)
        return;
    const Expr *text = is_numeric_text(e->rhs) ? e->rhs
                     : is_numeric_text(e->lhs) ? e->lhs : NULL;
    const Expr *other = text == e->rhs ? e->lhs : e->rhs;
    if (!text || other->kind == EX_STRING || known_sequence(other))
        return;
    report_at(c, DIAG_WARNING, text->pos,
              arena_sprintf(c->arena, "'%s' is text: compared with a number "
                            "it is always false (did you mean %s, without "
                            "quotes?)", text->str, text->str));
}

/* The switch step whose output.matched e reads, or NULL. */
static const Step *matched_of(Checker *c, const Expr *e)
{
    const Expr *segs[EXPR_MAX_SEGS], *root;
    if (e->kind != EX_FIELD || expr_chain(e, &root, segs) != 2
        || root->kind != EX_NAME)
        return NULL;
    const Step *s = find_step(c->wf, root->str);
    const char *out = expr_segment_name(segs[0]);
    const char *field = expr_segment_name(segs[1]);
    return s && s->type == ST_SWITCH && out && field
           && strcmp(out, "output") == 0 && strcmp(field, "matched") == 0
           ? s : NULL;
}

/* Why comparing switch sw's matched with name is a slip (it has no such
 * case), with a suggestion; NULL when it has. */
static const char *case_problem(Checker *c, const Step *sw, const char *name,
                                bool equals)
{
    for (int i = 0; i < sw->as.sw.count; i++)
        if (strcmp(sw->as.sw.names[i], name) == 0)
            return NULL;
    return arena_sprintf(c->arena, "switch '%s' has no case '%s': this is "
                         "never %s%s", sw->key, name, equals ? "true" : "false",
                         did_you_mean(c, name, sw->as.sw.names, sw->as.sw.count));
}

/* route.output.matched == 'invoice.payed': a case name the switch does
 * not have is never matched (spec §12: case-name suggestions). */
static void check_case_name(Checker *c, const Expr *e)
{
    if (e->op != OP_EQ && e->op != OP_NE)
        return;
    const Expr *text = e->rhs->kind == EX_STRING ? e->rhs
                     : e->lhs->kind == EX_STRING ? e->lhs : NULL;
    const Step *sw = text ? matched_of(c, text == e->rhs ? e->lhs : e->rhs)
                          : NULL;
    const char *why = sw ? case_problem(c, sw, text->str, e->op == OP_EQ)
                         : NULL;
    if (why)
        report_at(c, DIAG_WARNING, text->pos, why);
}

/* The conditions form of the same slip: left {{ route.output.matched }},
 * operator equals or not_equals, right literal text. */
static void check_case_condition(Checker *c, const Condition *cond)
{
    if ((cond->op != COND_EQUALS && cond->op != COND_NOT_EQUALS)
        || !cond->left || !cond->right || !cond->left->whole
        || cond->right->count != 1 || cond->right->parts[0].kind != TP_TEXT)
        return;
    const Step *sw = matched_of(c, cond->left->parts[0].expr);
    const TemplatePart *text = &cond->right->parts[0];
    const char *why = sw ? case_problem(c, sw, arena_strndup(c->arena, text->text,
                                                             text->len),
                                        cond->op == COND_EQUALS)
                         : NULL;
    if (why)
        diag_report(c->diag, DIAG_WARNING, cond->right->path,
                    cond->right->step_key, "%s", why);
}

static void check_expr(Checker *c, const Expr *e)
{
    switch (e->kind) {
    case EX_NULL: case EX_BOOL: case EX_NUMBER: case EX_STRING:
        break;
    case EX_NAME:
        check_path(c, e, NULL, 0);
        break;
    case EX_FIELD: case EX_INDEX:
        check_chain(c, e);
        break;
    case EX_CALL:
        check_call(c, e);
        break;
    case EX_ARRAY: case EX_OBJECT:
        for (int i = 0; i < e->count; i++)
            check_expr(c, e->items[i]);
        break;
    case EX_UNARY:
        check_expr(c, e->lhs);
        break;
    case EX_BINARY:
        check_expr(c, e->lhs);
        check_expr(c, e->rhs);
        check_ordering(c, e);
        check_case_name(c, e);
        break;
    }
}

static void check_template(Checker *c, const Template *t)
{
    if (!t)
        return;
    c->tmpl = t;
    for (int i = 0; i < t->count; i++)
        if (t->parts[i].kind == TP_EXPR && t->parts[i].expr)
            check_expr(c, t->parts[i].expr);
}

/* The verify secret is computed at start, before any step: env.NAME only.
 * One that uses no env.NAME would be written into the handler binary. */
static void check_verify_secret(Checker *c, const VerifyConfig *v)
{
    if (!v->secret)
        return;                  /* missing: the loader reported it */
    c->env_only = true;
    c->saw_env = false;
    check_template(c, v->secret);
    c->env_only = false;
    if (!c->saw_env)
        diag_report(c->diag, DIAG_WARNING, v->secret->path, v->secret->step_key,
                    "the verify secret uses no env.NAME: it is written into "
                    "the handler binary (use {{ env.NAME }})");
}

/* The dedupe key is computed before any step, from the request: the
 * trigger's output and env.NAME only. */
static void check_dedupe_key(Checker *c, const DedupeConfig *d)
{
    if (!d->key)
        return;                  /* the scheme's delivery id */
    c->key_only = true;
    check_template(c, d->key);
    c->key_only = false;
    const Expr *e = d->key->whole && d->key->count == 1 ? d->key->parts[0].expr : NULL;
    bool container = e && (e->kind == EX_ARRAY || e->kind == EX_OBJECT
                           || (e->kind == EX_CALL && strcmp(e->str, "split") == 0));
    c->tmpl = d->key;
    if (container)
        report_at(c, DIAG_ERROR, e->pos, "the dedupe key must be text or a "
                  "number, not an array or an object");
}

static void check_template_of(const Template *t, void *c)
{
    check_template(c, t);
}

/* Every template of step s's configuration, in document order. */
static void check_step_templates(Checker *c, const Step *s)
{
    if (s->type == ST_TRIGGER && s->as.trigger.verify)
        check_verify_secret(c, s->as.trigger.verify);
    if (s->type == ST_TRIGGER && s->as.trigger.dedupe)
        check_dedupe_key(c, s->as.trigger.dedupe);
    step_each_template(s, check_template_of, c);
}

/* ---- the walk ------------------------------------------------------------ */

/* Attempts of timeout_ms each, and the back-off between them (100 ms
 * doubling, at most max_delay, plus up to 10% jitter: spec 3, 8.2). */
static long long attempts_ms(long timeout_ms, long retries, long max_delay)
{
    long long total = (long long)timeout_ms * (retries + 1);
    long long backoff = 100 < max_delay ? 100 : max_delay;
    for (long i = 0; i < retries; i++) {
        total += backoff + backoff / 10;
        backoff = backoff * 2 > max_delay ? max_delay : backoff * 2;
    }
    return total;
}

/* Worst-case time step s may block the run: a literal delay, a database
 * statement's timeout, or the attempts of an http_request or send_email. */
static long long blocking_ms(const Step *s)
{
    switch (s->type) {
    case ST_DELAY:
        return s->as.delay.ms.is_template ? 0 : s->as.delay.ms.value;
    case ST_DATABASE:
        return s->as.db.timeout_ms;
    case ST_HTTP_REQUEST:
        return attempts_ms(s->as.http.timeout_ms, s->as.http.retries,
                           s->as.http.retry_max_delay_ms);
    case ST_SEND_EMAIL:
        return attempts_ms(s->as.email.timeout_ms, s->as.email.retries,
                           s->as.email.retry_max_delay_ms);
    default:
        return 0;
    }
}

static void check_response(Checker *c, const Step *s, const Reach *f)
{
    const Workflow *w = c->wf;
    if (s->loop)
        diag_report(c->diag, DIAG_ERROR, s->path, s->key,
                    "a webhook_response cannot be inside a for_each ('%s'): "
                    "it would answer once per item; answer before or after "
                    "the loop", w->all_steps[s->loop]->key);
    for (int i = 0; i < w->step_count; i++) {
        const Step *r = w->all_steps[i];
        if (r->type == ST_RESPONSE && r != s && bit_get(f->possible, r->index))
            diag_report(c->diag, DIAG_ERROR, s->path, s->key,
                        "two webhook_response steps on one path: '%s' (%s) "
                        "may already have answered when '%s' runs",
                        r->key, r->path, s->key);
    }
    if (c->partial || !w->trigger)
        return;   /* the trigger's settings may not have loaded */
    long budget = w->trigger->as.trigger.response_timeout_ms;
    if (f->worst_ms > budget)
        diag_report(c->diag, DIAG_WARNING, s->path, s->key,
                    "the steps before this response may block for up to "
                    "%lld ms, longer than the trigger's response_timeout_ms "
                    "(%ld): the caller may get a 504 first",
                    f->worst_ms, budget);
}

static void check_list(Checker *c, const StepList *list, Reach *f);

/* A switch: each case, and the default (an empty one when absent),
 * starts from the state before it; they join as for a gate. */
static void check_switch(Checker *c, const Step *s, Reach *f)
{
    const SwitchConfig *sw = &s->as.sw;
    Reach joined = reach_copy(c, f);
    for (int i = 0; i <= sw->count; i++) {
        Reach arm = reach_copy(c, f);
        check_list(c, i < sw->count ? &sw->cases[i] : &sw->fallback, &arm);
        if (i == 0)
            joined = arm;
        else
            reach_join(c, &joined, &joined, &arm);
    }
    *f = joined;
}

/* A for_each: its body sees what ran before the loop; after the loop
 * nothing of the body is readable, and its blocking time counts once per
 * item it may have. */
static void check_for_each(Checker *c, const Step *s, Reach *f)
{
    Reach body = reach_copy(c, f);
    check_list(c, &s->body, &body);
    long long per_item = body.worst_ms - f->worst_ms;
    long long cap = (long long)1 << 50;
    f->worst_ms += per_item > cap / s->as.loop.max_items
                   ? cap : per_item * s->as.loop.max_items;
}

static void check_step(Checker *c, const Step *s, Reach *f)
{
    c->step = s;
    c->flow = f;
    check_step_templates(c, s);
    if (s->type == ST_RESPONSE)
        check_response(c, s, f);
    bit_set(f->definite, s->index);
    bit_set(f->possible, s->index);
    f->worst_ms += blocking_ms(s);
    if (s->type == ST_SWITCH)
        check_switch(c, s, f);
    else if (s->type == ST_FOR_EACH)
        check_for_each(c, s, f);
    if (s->type != ST_LOGIC_GATE)
        return;
    for (int i = 0; i < s->as.gate.condition_count; i++)
        check_case_condition(c, &s->as.gate.conditions[i]);
    Reach on_true = reach_copy(c, f), on_false = reach_copy(c, f);
    check_list(c, &s->on_true, &on_true);
    check_list(c, &s->on_false, &on_false);
    reach_join(c, f, &on_true, &on_false);
}

static void check_list(Checker *c, const StepList *list, Reach *f)
{
    for (int i = 0; i < list->count; i++)
        check_step(c, list->items[i], f);
}

/* Sets the bit of every step of list and of its branches. */
static void mark_tree(uint64_t *bits, const StepList *list)
{
    for (int i = 0; i < list->count; i++) {
        const Step *s = list->items[i];
        bit_set(bits, s->index);
        mark_tree(bits, &s->on_true);
        mark_tree(bits, &s->on_false);
        mark_tree(bits, &s->body);
        for (int j = 0; s->type == ST_SWITCH && j < s->as.sw.count; j++)
            mark_tree(bits, &s->as.sw.cases[j]);
        if (s->type == ST_SWITCH)
            mark_tree(bits, &s->as.sw.fallback);
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void check_workflow(Arena *a, Diag *d, const Workflow *w, WorkflowFacts *facts)
{
    Checker c = { .arena = a, .diag = d, .wf = w,
                  .partial = diag_error_count(d) > 0 };
    c.words = (w->step_count + 63) / 64 + 1;
    c.key_names = arena_alloc(a, sizeof *c.key_names * (size_t)(w->step_count + 2));
    for (int i = 0; i < w->step_count; i++)
        c.key_names[i] = w->all_steps[i]->key;
    c.key_names[w->step_count] = "env";
    c.key_names[w->step_count + 1] = "run";
    c.in_tree = arena_alloc(a, sizeof *c.in_tree * (size_t)c.words);
    if (w->trigger)
        bit_set(c.in_tree, w->trigger->index);
    mark_tree(c.in_tree, &w->steps);
    c.must_reads = arena_alloc(a, sizeof *c.must_reads * (size_t)(w->step_count + 1));
    for (int i = 0; i < w->step_count; i++)
        c.must_reads[i] = arena_alloc(a, sizeof **c.must_reads * (size_t)c.words);
    Reach f = reach_copy(&c, NULL);
    if (w->trigger)
        check_step(&c, w->trigger, &f);
    check_list(&c, &w->steps, &f);
    if (c.env_count > 1)
        qsort(c.env, (size_t)c.env_count, sizeof *c.env, compare_names);
    facts->env_names = c.env;
    facts->env_count = c.env_count;
    facts->must_reads = c.must_reads;
    facts->words = c.words;
}

/* ---- across workflows ------------------------------------------------------ */

static bool same_route(const TriggerConfig *a, const TriggerConfig *b,
                       const char **method)
{
    if (strcmp(a->path, b->path) != 0)
        return false;
    for (int i = 0; i < a->method_count; i++)
        for (int j = 0; j < b->method_count; j++)
            if (strcmp(a->methods[i], b->methods[j]) == 0) {
                *method = a->methods[i];
                return true;
            }
    return false;
}

void check_across(Workflow *const *ws, Diag *const *ds, int count)
{
    for (int j = 1; j < count; j++) {
        for (int i = 0; i < j; i++) {
            if (!ws[i] || !ws[j] || diag_error_count(ds[i]) > 0
                || diag_error_count(ds[j]) > 0)
                continue;
            const char *method;
            if (same_route(&ws[i]->trigger->as.trigger,
                           &ws[j]->trigger->as.trigger, &method))
                diag_report(ds[j], DIAG_ERROR, "trigger.config",
                            ws[j]->trigger->key,
                            "%s %s is already served by workflow '%s' (%s)",
                            method, ws[j]->trigger->as.trigger.path,
                            ws[i]->name, ws[i]->file);
            if (ws[i]->name && ws[j]->name
                && strcmp(ws[i]->name, ws[j]->name) == 0)
                diag_report(ds[j], DIAG_ERROR, "name", NULL,
                            "workflow name '%s' is already used by %s",
                            ws[j]->name, ws[i]->file);
        }
    }
}
