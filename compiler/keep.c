/* keep.c - the keep analysis: what a run waiting in a delay must hold.
 *
 * The steps that can run after a delay are those reachable from its
 * successor in the flow graph (both branches of every gate, every case
 * of a switch, a loop's body and the loop again from the end of its body).  Every
 * template of theirs is walked; each path <key>.output.a.b... adds
 * a -> b -> ... under <key>'s node, up to its first segment with no
 * literal name (a computed index: the value before it is kept whole).
 * A path that ends somewhere reads the value there whole, and a node read
 * whole loses its sub-nodes: all of it is kept anyway.
 *
 * The same walk gives what a run resumed at a step after a restart with a
 * changed workflow needs from its journal (keep_needs, spec 8.4): what
 * the steps reachable from it read, on every path, of the steps before. */
#include "keep.h"

#include <string.h>

typedef struct {
    Arena *arena;
    const Workflow *wf;
    KeepNode top;          /* its subs: one node per output read */
} Keep;

static KeepNode *node_child(Keep *k, KeepNode *parent, int step,
                            const char *field)
{
    for (int i = 0; i < parent->count; i++) {
        KeepNode *n = parent->subs[i];
        if (field ? n->field && strcmp(n->field, field) == 0 : n->step == step)
            return n;
    }
    KeepNode *n = arena_alloc(k->arena, sizeof *n);
    n->step = step;
    n->field = field;
    parent->subs = (KeepNode **)arena_push(k->arena, (void **)parent->subs,
                                           &parent->count, &parent->cap, n);
    return n;
}

static void node_whole(KeepNode *n)
{
    n->whole = true;
    n->count = 0;
}

static int step_index(const Workflow *w, const char *key)
{
    for (int i = 0; i < w->step_count; i++)
        if (strcmp(w->all_steps[i]->key, key) == 0)
            return i;
    return -1;                /* env, run: no output */
}

/* A path: <key>.output and the literal fields after it. */
static void keep_chain(const Expr *root, const Expr *const *segs, int n,
                       void *arg)
{
    Keep *k = arg;
    int step = step_index(k->wf, root->str);
    const char *out = n > 0 ? expr_segment_name(segs[0]) : NULL;
    if (step < 0 || !out || strcmp(out, "output") != 0)
        return;           /* env, run, a for_each's item and index */
    /* segs[0] is ".output": the checker saw to it */
    KeepNode *node = node_child(k, &k->top, step, NULL);
    const char *name;
    for (int i = 1; i < n && !node->whole && (name = expr_segment_name(segs[i])); i++)
        node = node_child(k, node, -1, name);
    node_whole(node);
}

static void keep_template(const Template *t, void *k)
{
    template_each_chain(t, keep_chain, k);
}

/* Calls visit(k, step) for each step reachable from index i (FLOW_END:
 * none), i included, once each: both branches of every gate. */
typedef void (*Visit)(void *arg, const Step *s);

static void reach_from(const Workflow *w, const Flow *f, bool *seen, int i,
                       Visit visit, void *arg)
{
    while (i != FLOW_END && !seen[i]) {
        const Step *s = w->all_steps[i];
        seen[i] = true;
        visit(arg, s);
        if (s->type == ST_LOGIC_GATE) {
            reach_from(w, f, seen, f->edges[i].on_true, visit, arg);
            reach_from(w, f, seen, f->edges[i].on_false, visit, arg);
        }
        for (int a = 0; a < f->edges[i].arm_count; a++)
            reach_from(w, f, seen, f->edges[i].arms[a], visit, arg);
        i = f->edges[i].next;
    }
}

static void keep_step(void *k, const Step *s)
{
    step_each_template(s, keep_template, k);
}

int keep_after(Arena *a, const Workflow *w, const Flow *f, const Step *delay,
               KeepNode ***nodes)
{
    Keep k = { .arena = a, .wf = w };
    bool *seen = arena_alloc(a, (size_t)w->step_count * sizeof *seen);
    reach_from(w, f, seen, f->edges[delay->index].next, keep_step, &k);
    *nodes = k.top.subs;
    return k.top.count;
}

/* What the steps reachable from one step read on every path. */
typedef struct {
    const WorkflowFacts *facts;
    uint64_t *reads;
} Needs;

static void needs_step(void *arg, const Step *s)
{
    Needs *n = arg;
    for (int i = 0; i < n->facts->words; i++)
        n->reads[i] |= n->facts->must_reads[s->index][i];
}

int keep_needs(Arena *a, const Workflow *w, const Flow *f,
               const WorkflowFacts *facts, const Step *from, int **steps)
{
    Needs n = { facts, arena_alloc(a, sizeof *n.reads * (size_t)facts->words) };
    bool *seen = arena_alloc(a, (size_t)w->step_count * sizeof *seen);
    reach_from(w, f, seen, from->index, needs_step, &n);
    int count = 0;
    *steps = arena_alloc(a, (size_t)w->step_count * sizeof **steps);
    for (int i = 1; i < w->step_count; i++)      /* the trigger is always kept */
        if (!seen[i] && (n.reads[i / 64] >> (i % 64) & 1))
            (*steps)[count++] = i;
    return count;
}

/* Appends to *list the paths under nodes kept whole, each after prefix. */
static void describe(Arena *a, const Workflow *w, const char **list,
                     const char *prefix, KeepNode *const *nodes, int count)
{
    for (int i = 0; i < count; i++) {
        const KeepNode *n = nodes[i];
        const char *path = n->field
            ? arena_sprintf(a, "%s.%s", prefix, n->field)
            : arena_sprintf(a, "%s.output", w->all_steps[n->step]->key);
        if (n->count)
            describe(a, w, list, path, n->subs, n->count);
        else
            *list = arena_sprintf(a, "%s%s%s", *list, **list ? ", " : "", path);
    }
}

const char *keep_describe(Arena *a, const Workflow *w, KeepNode *const *nodes,
                          int count)
{
    const char *list = "";
    describe(a, w, &list, "", nodes, count);
    return list;
}
