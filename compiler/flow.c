/* flow.c - successor indices and the response-point analysis (spec §4.3).
 *
 * One walk over the structured step lists, each list from its last step to
 * its first, carrying the list's continuation: the index that follows its
 * last step, and whether a webhook_response can still run from there.  So
 * every step is visited once, however deep the gates nest. */
#include "flow.h"

static bool walk_list(Flow *f, const StepList *l, int cont, bool after);

static int list_first(const StepList *l, int cont)
{
    return l->count > 0 ? l->items[0]->index : cont;
}

/* Fills the gate's edges; returns whether a response can run from the
 * start of the gate, given whether one can after it (after). */
static bool walk_gate(Flow *f, const Step *s, int next, bool after)
{
    FlowEdge *e = &f->edges[s->index];
    bool on_true = walk_list(f, &s->on_true, next, after);
    bool on_false = walk_list(f, &s->on_false, next, after);
    bool before = on_true || on_false;
    e->on_true = list_first(&s->on_true, next);
    e->on_false = list_first(&s->on_false, next);
    e->default_on_true = before && !on_true;
    e->default_on_false = before && !on_false;
    return before;
}

/* cont: the index after the list; after: may a response run from there.
 * Returns whether one may run from the start of the list. */
static bool walk_list(Flow *f, const StepList *l, int cont, bool after)
{
    bool may = after;
    for (int i = l->count - 1; i >= 0; i--) {
        const Step *s = l->items[i];
        int next = i + 1 < l->count ? l->items[i + 1]->index : cont;
        f->edges[s->index].next = next;
        if (s->type == ST_LOGIC_GATE)
            may = walk_gate(f, s, next, may);
        else if (s->type == ST_RESPONSE)
            may = true;
    }
    return may;
}

Flow *flow_analyse(Arena *a, const Workflow *w)
{
    Flow *f = arena_alloc(a, sizeof *f);
    f->edges = arena_alloc(a, sizeof *f->edges * (size_t)w->step_count);
    f->default_at_start = !walk_list(f, &w->steps, FLOW_END, false);
    f->first = list_first(&w->steps, FLOW_END);
    return f;
}
