/* loop.c - the helpers behind for_each (spec 10).
 *
 * A for_each is one step function entered many times: first from the
 * step before it, then at the end of every iteration (its body's last
 * step returns it).  What the loop has done lives in the run, as a Loop
 * per running for_each: the items, the results so far, the iteration that
 * runs.  Iterations run one at a time, in order.
 *
 * The journal: after each finished iteration the loop records its output
 * so far, {"results": [the finished ones], "count": n}, as the for_each's
 * own step output, whose row the journal keeps by step index.  A run
 * resumed inside the body goes on at its outermost for_each (run.c,
 * restore_loop()), which takes its finished results from that output and
 * starts at the first iteration not recorded: finished iterations are not
 * redone; the one that was running runs again (at least once, spec 7). */
#include "run/step.h"

#include <string.h>

typedef struct {
    const FlValue *items;     /* an array, or NULL: none */
    FlValue *results;         /* one per item: the finished ones first */
    uint32_t count;           /* items */
    uint32_t done;            /* iterations finished */
    bool running;             /* iteration `done` has started */
    bool failed;              /* a body step failed it (on_error continue) */
    const FlValue *index;     /* the running iteration's index, a number */
} Loop;

/* "a string", "an object"... for messages. */
static const char *kind_of(const FlValue *v)
{
    static const char *const kinds[] = {
        [FL_NULL] = "null", [FL_BOOL] = "a boolean", [FL_NUMBER] = "a number",
        [FL_STRING] = "a string", [FL_ARRAY] = "an array",
        [FL_OBJECT] = "an object",
    };
    return kinds[v->type];
}

static Loop *loop_of(FlRun *run, int index)
{
    return run_loop_states(run)[index];
}

/* {"results": the finished results, "count": how many}: the loop's output
 * so far, and at its end. */
static const FlValue *loop_output(FlRun *run, const Loop *lp)
{
    FlArena *a = fl_run_arena(run);
    FlValue *results = fl_arena_alloc(a, sizeof *results);
    *results = (FlValue){ .type = FL_ARRAY, .len = lp->done,
                          .u.items = lp->results };
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 2);
    fl_object_add(&ob, "results", 7, results);
    fl_object_add(&ob, "count", 5, fl_number(a, lp->done));
    return fl_object_finish(&ob);
}

/* A run restored into this loop: the results its journaled output holds
 * are finished iterations.  An output with an error is a loop that had
 * failed under on_error continue: it stays failed, and the run goes on
 * after it. */
static void loop_resume(FlRun *run, int index, Loop *lp)
{
    const FlValue *out = fl_out(run, index);
    const FlValue *saved = fl_get_field(out, "results", 7);
    lp->failed = fl_get_field(out, "error", 5)->type == FL_STRING;
    if (saved->type != FL_ARRAY)
        return;
    uint32_t n = saved->len < lp->count ? saved->len : lp->count;
    memcpy(lp->results, saved->u.items, n * sizeof *lp->results);
    lp->done = n;
}

bool fl_loop_running(const FlRun *run, int index)
{
    return loop_of((FlRun *)run, index) != NULL;
}

int fl_loop_start(FlRun *run, int index, const FlValue *items, long max_items)
{
    if (items->type != FL_NULL && items->type != FL_ARRAY)
        return run_fail(run, "the items of a for_each must be an array, not %s",
                        kind_of(items));
    uint32_t count = items->type == FL_ARRAY ? items->len : 0;
    if (count > max_items)
        return run_fail(run, "the for_each has %u items, more than its "
                        "max_items (%ld)", count, max_items);
    FlArena *a = fl_run_arena(run);
    Loop *lp = fl_arena_alloc(a, sizeof *lp);
    *lp = (Loop){ .items = count ? items : NULL, .count = count };
    lp->results = fl_arena_alloc(a, (count ? count : 1) * sizeof *lp->results);
    if (run_take_resume(run, index))
        loop_resume(run, index, lp);
    run_loop_states(run)[index] = lp;
    return 0;
}

/* Ends the running iteration: its result is the output of the last step
 * of the body that ran in it (null when none did). */
static void end_iteration(FlRun *run, Loop *lp)
{
    int last = run_last_done(run);
    lp->results[lp->done++] = last ? *fl_out(run, last) : fl_null;
    lp->running = false;
}

bool fl_loop_next(FlRun *run, int index)
{
    Loop *lp = loop_of(run, index);
    if (lp->failed) {
        run_loop_states(run)[index] = NULL;   /* its output says why */
        return false;
    }
    if (lp->running) {
        end_iteration(run, lp);
        if (lp->done < lp->count)
            fl_step_done(run, index, loop_output(run, lp));  /* journaled */
    }
    if (lp->done == lp->count) {
        run_loop_states(run)[index] = NULL;
        fl_step_done(run, index, loop_output(run, lp));
        return false;
    }
    lp->running = true;
    lp->index = fl_number(fl_run_arena(run), lp->done);
    run_clear_done(run);
    return true;
}

const FlValue *fl_loop_item(const FlRun *run, int index)
{
    const Loop *lp = loop_of((FlRun *)run, index);
    return lp && lp->running ? &lp->items->u.items[lp->done] : &fl_null;
}

const FlValue *fl_loop_index(const FlRun *run, int index)
{
    const Loop *lp = loop_of((FlRun *)run, index);
    return lp && lp->running ? lp->index : &fl_null;
}

/* Whether step i lies in the body of loop, at any depth. */
static bool inside(const FlWorkflow *wf, int i, int loop)
{
    for (int l = wf->steps[i].loop; l > 0; l = wf->steps[l].loop)
        if (l == loop)
            return true;
    return false;
}

void loop_fail(FlRun *run, int loop)
{
    const FlWorkflow *wf = run_workflow(run);
    void **states = run_loop_states(run);
    Loop *lp = states[loop];
    for (int i = loop + 1; i < wf->step_count; i++)
        if (states[i] && inside(wf, i, loop))
            states[i] = NULL;
    if (lp)
        lp->failed = true;
}
