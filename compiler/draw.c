/* draw.c - pictures of workflows, in Graphviz dot and in Mermaid.
 *
 * The facts come from flow.c: where each step goes next, each gate's branch
 * heads, each switch's cases, each loop's body, and where the default 202
 * is sent (spec §4.3).  A loop's body is drawn as a group inside its side.  One walk in
 * document order then splits the steps in two: those that run while the
 * caller waits (up to and including the webhook_response that answers it)
 * and those that run after the answer.  In a valid workflow every step is
 * on one side only: a step reached both before and after an answer would
 * mean two responses on one path, which the checker rejects.
 *
 * Each language is a Pen, a small table of functions that open and close
 * groups and write nodes and edges; the walk does not know which one it
 * draws with.  Every piece of workflow text goes through the pen's escape
 * function, so no key, name or path can end a label. */
#include "draw.h"

#include <string.h>

#include "flow.h"

typedef enum {
    NODE_TRIGGER,  /* the workflow's trigger */
    NODE_GATE,     /* a logic_gate: two labelled ways out */
    NODE_ANSWER,   /* a webhook_response: an answer point */
    NODE_STEP,     /* any other step */
    NODE_END       /* the run is complete */
} NodeKind;

enum { MAX_LINES = 3 };

typedef struct {
    const char *lines[MAX_LINES];  /* raw workflow text, escaped by the pen */
    int count;
} Label;

typedef struct {
    void (*open_file)(FILE *out);
    void (*close_file)(FILE *out);
    /* A group (a workflow, or one side of its answer) named title. */
    void (*open_group)(FILE *out, int depth, const char *id,
                       const char *title, const char *fill);
    void (*close_group)(FILE *out, int depth);
    void (*node)(FILE *out, int depth, const char *id, NodeKind kind,
                 const Label *l);
    /* answers: taking this edge sends the default 202. */
    void (*edge)(FILE *out, const char *from, const char *to,
                 const char *label, bool answers);
} Pen;

/* ---- Graphviz ------------------------------------------------------------- */

/* Writes s inside a dot string: quote and backslash escaped, control
 * characters as visible \xNN (a dot label has no other escapes). */
static void dot_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\\\x%02x", c);
        else
            fputc(c, out);
    }
}

static void dot_open_file(FILE *out)
{
    fputs("digraph flusso {\n"
          "    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
          "    edge [fontname=\"Helvetica\", fontsize=10];\n", out);
}

static void dot_close_file(FILE *out)
{
    fputs("}\n", out);
}

static void dot_open_group(FILE *out, int depth, const char *id,
                           const char *title, const char *fill)
{
    fprintf(out, "%*ssubgraph cluster_%s {\n%*slabel=\"", 4 * depth, "", id,
            4 * depth + 4, "");
    dot_escape(out, title);
    fputs("\";\n", out);
    if (fill)
        fprintf(out, "%*sstyle=filled; fillcolor=\"%s\";\n", 4 * depth + 4,
                "", fill);
}

static void dot_close_group(FILE *out, int depth)
{
    fprintf(out, "%*s}\n", 4 * depth, "");
}

static void dot_node(FILE *out, int depth, const char *id, NodeKind kind,
                     const Label *l)
{
    static const char *const attrs[] = {
        [NODE_TRIGGER] = "shape=box, style=\"rounded,bold\"",
        [NODE_GATE] = "shape=diamond, style=\"\"",
        [NODE_ANSWER] = ("shape=box, style=\"rounded,filled,bold\", "
                         "fillcolor=\"#c8e6c9\", peripheries=2"),
        [NODE_STEP] = "shape=box, style=rounded",
        [NODE_END] = "shape=doublecircle, style=\"\"",
    };
    fprintf(out, "%*s%s [label=\"", 4 * depth, "", id);
    for (int i = 0; i < l->count; i++) {
        if (i > 0)
            fputs("\\n", out);
        dot_escape(out, l->lines[i]);
    }
    fprintf(out, "\", %s];\n", attrs[kind]);
}

static void dot_edge(FILE *out, const char *from, const char *to,
                     const char *label, bool answers)
{
    fprintf(out, "    %s -> %s", from, to);
    if (!label && !answers) {
        fputs(";\n", out);
        return;
    }
    fputs(" [label=\"", out);
    dot_escape(out, label ? label : "");
    if (answers)
        fputs(label ? "\\nanswers 202" : "answers 202", out);
    fputs(answers ? "\", style=bold, color=\"#2e7d32\", fontcolor=\"#2e7d32\"];\n"
                  : "\"];\n", out);
}

static const Pen dot_pen = {
    dot_open_file, dot_close_file, dot_open_group, dot_close_group,
    dot_node, dot_edge,
};

/* ---- Mermaid -------------------------------------------------------------- */

static bool mermaid_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c >= 0x80 || strchr(" _.,:/-", c);
}

/* Writes s inside a Mermaid label: every character that could mean
 * something to Mermaid or to the HTML it renders into (quotes, brackets,
 * <, #, %...) as an entity code #N;, so only our own text is markup.  Bytes
 * of UTF-8 characters are kept as they are. */
static void mermaid_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (mermaid_plain(c))
            fputc(c, out);
        else
            fprintf(out, "#%d;", c);
    }
}

static void mermaid_open_file(FILE *out)
{
    fputs("flowchart TD\n"
          "    classDef answer fill:#c8e6c9,stroke:#2e7d32,stroke-width:2px\n",
          out);
}

static void mermaid_close_file(FILE *out)
{
    (void)out;
}

static void mermaid_open_group(FILE *out, int depth, const char *id,
                               const char *title, const char *fill)
{
    (void)fill;
    fprintf(out, "%*ssubgraph %s [\"", 4 * depth, "", id);
    mermaid_escape(out, title);
    fputs("\"]\n", out);
}

static void mermaid_close_group(FILE *out, int depth)
{
    fprintf(out, "%*send\n", 4 * depth, "");
}

static void mermaid_node(FILE *out, int depth, const char *id, NodeKind kind,
                         const Label *l)
{
    static const char *const shapes[][2] = {
        [NODE_TRIGGER] = { "([\"", "\"])" },
        [NODE_GATE] = { "{\"", "\"}" },
        [NODE_ANSWER] = { "[[\"", "\"]]" },
        [NODE_STEP] = { "[\"", "\"]" },
        [NODE_END] = { "((\"", "\"))" },
    };
    fprintf(out, "%*s%s%s", 4 * depth, "", id, shapes[kind][0]);
    for (int i = 0; i < l->count; i++) {
        if (i > 0)
            fputs("<br/>", out);
        mermaid_escape(out, l->lines[i]);
    }
    fputs(shapes[kind][1], out);
    fputs(kind == NODE_ANSWER ? ":::answer\n" : "\n", out);
}

static void mermaid_edge(FILE *out, const char *from, const char *to,
                         const char *label, bool answers)
{
    fprintf(out, "    %s %s", from, answers ? "==>" : "-->");
    if (label || answers) {
        fputc('|', out);
        mermaid_escape(out, label ? label : "");
        if (answers)
            fputs(label ? ", answers 202" : "answers 202", out);
        fputc('|', out);
    }
    fprintf(out, " %s\n", to);
}

static const Pen mermaid_pen = {
    mermaid_open_file, mermaid_close_file, mermaid_open_group,
    mermaid_close_group, mermaid_node, mermaid_edge,
};

/* ---- the walk --------------------------------------------------------------- */

typedef struct {
    Arena *arena;
    FILE *out;
    const Pen *pen;
    const Workflow *w;
    const Flow *flow;
    int number;        /* the workflow's place on the command line */
    bool *waits;       /* by step index: runs while the caller waits */
} Drawing;

/* Marks the steps of l that run while the caller waits, given whether it
 * waits at the start of l; returns whether it still waits after l. */
static bool mark_waiting(Drawing *d, const StepList *l, bool waiting)
{
    for (int i = 0; i < l->count; i++) {
        const Step *s = l->items[i];
        const FlowEdge *e = &d->flow->edges[s->index];
        d->waits[s->index] = waiting;
        if (s->type == ST_RESPONSE) {
            waiting = false;
        } else if (s->type == ST_SWITCH) {
            bool any = false;
            for (int a = 0; a < e->arm_count; a++)
                any |= mark_waiting(d, a < s->as.sw.count ? &s->as.sw.cases[a]
                                                         : &s->as.sw.fallback,
                                    waiting && !e->default_on_arm[a]);
            waiting = any;
        } else if (s->type == ST_FOR_EACH) {
            mark_waiting(d, &s->body, waiting);   /* holds no response */
        } else if (s->type == ST_LOGIC_GATE) {
            bool t = mark_waiting(d, &s->on_true, waiting && !e->default_on_true);
            bool f = mark_waiting(d, &s->on_false,
                                  waiting && !e->default_on_false);
            waiting = t || f;
        }
    }
    return waiting;
}

/* The node id of step index i (FLOW_END: the end), in the arena. */
static const char *node_id(const Drawing *d, int i)
{
    if (i == FLOW_END)
        return arena_sprintf(d->arena, "w%d_end", d->number);
    return arena_sprintf(d->arena, "w%d_s%d", d->number, i);
}

/* "POST /hooks/payment", or "GET, HEAD /status". */
static const char *trigger_line(Arena *a, const TriggerConfig *t)
{
    const char *methods = "";
    for (int i = 0; i < t->method_count; i++)
        methods = arena_sprintf(a, "%s%s%s", methods, i ? ", " : "",
                                t->methods[i]);
    return arena_sprintf(a, "%s %s", methods, t->path);
}

/* "answers 200", or the template that computes the status. */
static const char *answer_line(Arena *a, const ResponseConfig *r)
{
    if (!r->status.is_template)
        return arena_sprintf(a, "answers %ld", r->status.value);
    const Template *t = r->status.tmpl;
    return arena_sprintf(a, "answers %.*s", (int)t->src_len, t->src);
}

static NodeKind node_kind(const Step *s)
{
    switch (s->type) {
    case ST_TRIGGER: return NODE_TRIGGER;
    case ST_LOGIC_GATE: return NODE_GATE;
    case ST_SWITCH: return NODE_GATE;
    case ST_RESPONSE: return NODE_ANSWER;
    default: return NODE_STEP;
    }
}

static void draw_body(Drawing *d, int depth, const Step *loop);

static void draw_step(Drawing *d, int depth, const Step *s)
{
    Label l = { { s->key, step_type_name(s->type) }, 2 };
    if (s->type == ST_TRIGGER)
        l.lines[l.count++] = trigger_line(d->arena, &s->as.trigger);
    else if (s->type == ST_RESPONSE)
        l.lines[l.count++] = answer_line(d->arena, &s->as.response);
    else if (s->on_error_continue)
        l.lines[l.count++] = "on_error: continue";
    d->pen->node(d->out, depth, node_id(d, s->index), node_kind(s), &l);
    if (s->type == ST_FOR_EACH)
        draw_body(d, depth, s);
}

/* A for_each's body, in a group of its own inside the loop's side. */
static void draw_body(Drawing *d, int depth, const Step *loop)
{
    if (loop->body.count == 0)
        return;
    d->pen->open_group(d->out, depth, arena_sprintf(d->arena, "w%d_loop%d",
                                                    d->number, loop->index),
                       arena_sprintf(d->arena, "each item of %s", loop->key),
                       "#f3e5f5");
    for (int i = 1; i < d->w->step_count; i++)
        if (d->w->all_steps[i]->loop == loop->index)
            draw_step(d, depth + 1, d->w->all_steps[i]);
    d->pen->close_group(d->out, depth);
}

/* Draws, in a group of their own, the steps on one side of the answer. */
static void draw_side(Drawing *d, bool waiting)
{
    bool any = false;
    for (int i = 1; i < d->w->step_count; i++)
        any |= d->waits[i] == waiting;
    if (!any)
        return;
    const char *id = arena_sprintf(d->arena, "w%d_%s", d->number,
                                   waiting ? "waits" : "after");
    d->pen->open_group(d->out, 2, id,
                       waiting ? "caller waits" : "after the answer",
                       waiting ? "#fff8e1" : "#e3f2fd");
    for (int i = 1; i < d->w->step_count; i++)
        if (d->waits[i] == waiting && !d->w->all_steps[i]->loop)
            draw_step(d, 3, d->w->all_steps[i]);
    d->pen->close_group(d->out, 2);
}

static void draw_edge(Drawing *d, int from, int to, const char *label,
                      bool answers)
{
    d->pen->edge(d->out, node_id(d, from), node_id(d, to), label, answers);
}

/* A switch's edges, labelled with the case names and "default"; a
 * for_each's into its body ("each item") and on ("done"). */
static void draw_arms(Drawing *d, const Step *s, const FlowEdge *e)
{
    if (s->type == ST_FOR_EACH) {
        draw_edge(d, s->index, e->arms[0], "each item", false);
        draw_edge(d, s->index, e->next, "done", false);
        return;
    }
    for (int a = 0; a < e->arm_count; a++)
        draw_edge(d, s->index, e->arms[a],
                  a < s->as.sw.count ? s->as.sw.names[a] : "default",
                  e->default_on_arm[a]);
}

/* Every edge, in step order: the trigger's, a gate's two, a switch's and
 * a loop's, the others'. */
static void draw_edges(Drawing *d)
{
    draw_edge(d, 0, d->flow->first, NULL, d->flow->default_at_start);
    for (int i = 1; i < d->w->step_count; i++) {
        const FlowEdge *e = &d->flow->edges[i];
        if (e->arm_count) {
            draw_arms(d, d->w->all_steps[i], e);
            continue;
        }
        if (d->w->all_steps[i]->type != ST_LOGIC_GATE) {
            bool loops = e->next > 0 && e->next == d->w->all_steps[i]->loop;
            draw_edge(d, i, e->next, loops ? "next item" : NULL, false);
            continue;
        }
        draw_edge(d, i, e->on_true, "true", e->default_on_true);
        draw_edge(d, i, e->on_false, "false", e->default_on_false);
    }
}

static void draw_workflow(Drawing *d)
{
    const Workflow *w = d->w;
    d->flow = flow_analyse(d->arena, w);
    d->waits = arena_alloc(d->arena, sizeof *d->waits * (size_t)w->step_count);
    mark_waiting(d, &w->steps, !d->flow->default_at_start);
    d->pen->open_group(d->out, 1, arena_sprintf(d->arena, "w%d", d->number),
                       w->name, NULL);
    draw_step(d, 2, w->trigger);
    draw_side(d, true);
    draw_side(d, false);
    Label end = { { "end" }, 1 };
    d->pen->node(d->out, 2, node_id(d, FLOW_END), NODE_END, &end);
    d->pen->close_group(d->out, 1);
    draw_edges(d);
}

void draw_program(Arena *a, FILE *out, DrawLanguage lang,
                  Workflow *const *ws, int count)
{
    Drawing d = { .arena = a, .out = out };
    d.pen = lang == DRAW_DOT ? &dot_pen : &mermaid_pen;
    d.pen->open_file(out);
    for (int i = 0; i < count; i++) {
        d.w = ws[i];
        d.number = i;
        draw_workflow(&d);
    }
    d.pen->close_file(out);
}
