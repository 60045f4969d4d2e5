/* emit_paths.c - locals for the path prefixes a step function reads twice.
 *
 * A step that reads trigger.output.body.id and trigger.output.body.amount
 * looks trigger.output.body up once, into a local named after the path
 * (trigger_body), as one would by hand.  Every <key>.output path of the
 * step's templates is counted in a tree of its literal fields; walking
 * it from the leaves, a prefix whose value would be computed twice gets
 * a local, and a path through it then counts once for the prefixes above
 * it.  Values never change during a step function and lookups have no
 * effect, so reading a prefix once, at the top, changes nothing but the
 * work. */
#include <string.h>

#include "emit_impl.h"

enum { LOCAL_MAX = 40 };   /* characters of a local's name, before any _N */

struct PathNode {
    int step;              /* the output's step (roots only) */
    const char *field;     /* the member's key; NULL at a root */
    int ends;              /* paths that read the value here */
    PathNode *sub;         /* first child, in order of first reading */
    PathNode *next;        /* next sibling */
    bool named;            /* read twice or more: gets a local */
    const CExpr *local;    /* that local, once declared */
};

typedef struct {
    Emitter *e;
    PathNode root;         /* its subs: one node per output read */
} Plan;

static bool same_node(const PathNode *n, int step, const char *field)
{
    return field ? n->field && strcmp(n->field, field) == 0 : n->step == step;
}

static PathNode *node_child(Arena *a, PathNode *parent, int step,
                            const char *field)
{
    PathNode **link = &parent->sub;
    for (; *link; link = &(*link)->next)
        if (same_node(*link, step, field))
            return *link;
    PathNode *n = arena_alloc(a, sizeof *n);
    n->step = step;
    n->field = field;
    *link = n;
    return n;
}

static int step_index(const Workflow *w, const char *key)
{
    for (int i = 0; i < w->step_count; i++)
        if (strcmp(w->all_steps[i]->key, key) == 0)
            return i;
    return -1;                /* env, run: no output */
}

/* One path <key>.output.a.b...: counted where its literal fields end. */
static void plan_chain(const Expr *root, const Expr *const *segs, int n,
                       void *arg)
{
    Plan *p = arg;
    int step = step_index(p->e->wf, root->str);
    const char *out = n > 0 ? expr_segment_name(segs[0]) : NULL;
    if (step < 0 || !out)
        return;           /* env, run */
    if (strcmp(out, "item") == 0
        && p->e->wf->all_steps[step]->type == ST_FOR_EACH)
        step = emit_paths_item(p->e, step);
    else if (strcmp(out, "output") != 0)
        return;           /* a for_each's index */
    PathNode *node = node_child(p->e->arena, &p->root, step, NULL);
    const char *name;
    for (int i = 1; i < n && (name = expr_segment_name(segs[i])); i++)
        node = node_child(p->e->arena, node, -1, name);
    node->ends++;
}

static void plan_template(const Template *t, void *arg)
{
    template_each_chain(t, plan_chain, arg);
}

/* How many times the value of n would be computed; marks the nodes that
 * get a local (computed twice or more), children first.  A node with a
 * local is computed once, for its local. */
static int plan_uses(PathNode *n, bool *any)
{
    int uses = n->ends;
    for (PathNode *c = n->sub; c; c = c->next)
        uses += plan_uses(c, any);
    n->named = uses >= 2;
    *any |= n->named;
    return n->named ? 1 : uses;
}

/* name made a C identifier: anything else becomes '_', and it is cut at
 * LOCAL_MAX characters. */
static char *identifier(Arena *a, const char *name)
{
    char *out = arena_strndup(a, name, strnlen(name, LOCAL_MAX));
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    return out;
}

/* A local name for path, unused so far in the function: path itself, or
 * path_2, path_3... */
static const char *local_name(Emitter *e, StrSet *names, const char *path)
{
    const char *base = identifier(e->arena, path), *name = base;
    for (int i = 2; strset_add(names, name, (void *)name); i++)
        name = arena_sprintf(e->arena, "%s_%d", base, i);
    return name;
}

/* Declares the locals of node n and below, outer ones first.  base is
 * the C of n's value (or of its parent's, for a field); path names it:
 * <key> for an output, then _<field> for each field. */
static void plan_declare(Emitter *e, StrSet *names, PathNode *n,
                         const char *path, const CExpr *base)
{
    const CExpr *value = n->field ? emit_get_field(e, base, n->field) : base;
    if (n->named) {
        bool output = !n->field && n->step < e->wf->step_count;
        const char *name = local_name(
            e, names, output ? arena_sprintf(e->arena, "%s_out", path) : path);
        emit_stmt(e, arena_sprintf(e->arena, "const FlValue *%s = ", name),
                  value, ";");
        n->local = value = cx_atom(e, name, 0);
    }
    for (PathNode *c = n->sub; c; c = c->next)
        plan_declare(e, names, c, arena_sprintf(e->arena, "%s_%s", path, c->field),
                     value);
}

int emit_paths_item(const Emitter *e, int loop)
{
    return e->wf->step_count + loop;
}

/* The name of a root's paths: the step's key for an output, <key>_item
 * for a for_each's current item. */
static const char *root_path(Emitter *e, int root)
{
    int n = e->wf->step_count;
    if (root < n)
        return e->wf->all_steps[root]->key;
    return arena_sprintf(e->arena, "%s_item", e->wf->all_steps[root - n]->key);
}

/* The C of a root's value: fl_out(r, STEP), or fl_loop_item(r, LOOP). */
static const CExpr *root_value(Emitter *e, int root)
{
    int n = e->wf->step_count;
    return cx_call_n(e, root < n ? "fl_out" : "fl_loop_item", 2, cx_run(e),
                     cx_atom(e, e->step_names[root < n ? root : root - n], 0));
}

void emit_paths_plan(Emitter *e, const Step *s, FILE *decls)
{
    Plan p = { .e = e };
    step_each_template(s, plan_template, &p);
    bool any = false;
    for (PathNode *n = p.root.sub; n; n = n->next)
        plan_uses(n, &any);
    e->paths = any ? p.root.sub : NULL;
    if (!any)
        return;
    FILE *fn = e->fn;
    StrSet *names = strset_new(e->arena);
    e->fn = decls;
    for (PathNode *n = e->paths; n; n = n->next)
        plan_declare(e, names, n, root_path(e, n->step), root_value(e, n->step));
    e->fn = fn;
}

const CExpr *emit_paths_base(Emitter *e, int step, const char *const *names,
                             int n, int *used)
{
    const CExpr *best = NULL;
    *used = 0;
    const PathNode *node = e->paths;
    while (node && !same_node(node, step, NULL))
        node = node->next;
    for (int i = 0; node; i++) {
        if (node->local) {
            best = node->local;
            *used = i;
        }
        if (i == n)
            break;
        for (node = node->sub; node && !same_node(node, -1, names[i]);)
            node = node->next;
    }
    return best;
}
