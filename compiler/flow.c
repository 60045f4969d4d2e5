/* flow.c - successor indices and the response-point analysis (spec §4.3).
 *
 * One walk over the structured step lists, each list from its last step to
 * its first, carrying the list's continuation: the index that follows its
 * last step, and whether a webhook_response can still run from there.  So
 * every step is visited once, however deep the gates nest.  A switch is a
 * gate with more ways in; a for_each body is a list whose continuation is
 * the for_each itself. */
#include "flow.h"

static bool walk_list(Arena *a, Flow *f, const StepList *l, int cont,
                      bool after);

static int list_first(const StepList *l, int cont)
{
    return l->count > 0 ? l->items[0]->index : cont;
}

/* Fills the gate's edges; returns whether a response can run from the
 * start of the gate, given whether one can after it (after). */
static bool walk_gate(Arena *a, Flow *f, const Step *s, int next, bool after)
{
    FlowEdge *e = &f->edges[s->index];
    bool on_true = walk_list(a, f, &s->on_true, next, after);
    bool on_false = walk_list(a, f, &s->on_false, next, after);
    bool before = on_true || on_false;
    e->on_true = list_first(&s->on_true, next);
    e->on_false = list_first(&s->on_false, next);
    e->default_on_true = before && !on_true;
    e->default_on_false = before && !on_false;
    return before;
}

/* Fills the switch's arms; returns whether a response can run from its
 * start, as walk_gate does. */
static bool walk_switch(Arena *a, Flow *f, const Step *s, int next, bool after)
{
    const SwitchConfig *c = &s->as.sw;
    FlowEdge *e = &f->edges[s->index];
    bool *may = arena_alloc(a, sizeof *may * (size_t)(c->count + 1));
    e->arm_count = c->count + 1;
    e->arms = arena_alloc(a, sizeof *e->arms * (size_t)e->arm_count);
    e->default_on_arm = arena_alloc(a, sizeof *e->default_on_arm
                                       * (size_t)e->arm_count);
    bool before = false;
    for (int i = 0; i < e->arm_count; i++) {
        const StepList *l = i < c->count ? &c->cases[i] : &c->fallback;
        may[i] = walk_list(a, f, l, next, after);
        e->arms[i] = list_first(l, next);
        before |= may[i];
    }
    for (int i = 0; i < e->arm_count; i++)
        e->default_on_arm[i] = before && !may[i];
    return before;
}

/* The body goes back to the for_each when it ends. */
static bool walk_for_each(Arena *a, Flow *f, const Step *s, bool after)
{
    FlowEdge *e = &f->edges[s->index];
    e->arm_count = 1;
    e->arms = arena_alloc(a, sizeof *e->arms);
    e->default_on_arm = arena_alloc(a, sizeof *e->default_on_arm);
    bool body = walk_list(a, f, &s->body, s->index, after);
    e->arms[0] = list_first(&s->body, s->index);
    return body || after;
}

/* cont: the index after the list; after: may a response run from there.
 * Returns whether one may run from the start of the list. */
static bool walk_list(Arena *a, Flow *f, const StepList *l, int cont,
                      bool after)
{
    bool may = after;
    for (int i = l->count - 1; i >= 0; i--) {
        const Step *s = l->items[i];
        int next = i + 1 < l->count ? l->items[i + 1]->index : cont;
        f->edges[s->index].next = next;
        if (s->type == ST_LOGIC_GATE)
            may = walk_gate(a, f, s, next, may);
        else if (s->type == ST_SWITCH)
            may = walk_switch(a, f, s, next, may);
        else if (s->type == ST_FOR_EACH)
            may = walk_for_each(a, f, s, may);
        else if (s->type == ST_RESPONSE)
            may = true;
    }
    return may;
}

Flow *flow_analyse(Arena *a, const Workflow *w)
{
    Flow *f = arena_alloc(a, sizeof *f);
    f->edges = arena_alloc(a, sizeof *f->edges * (size_t)w->step_count);
    f->default_at_start = !walk_list(a, f, &w->steps, FLOW_END, false);
    f->first = list_first(&w->steps, FLOW_END);
    return f;
}
