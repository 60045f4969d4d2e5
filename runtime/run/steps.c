/* steps.c - the helpers behind webhook_response, log, delay and switch.
 *
 * Generated code renders a step's config and calls one of these; they
 * check what only the running values can tell (a header value with CR, LF
 * or NUL, a status or a delay that is not a number), do the step's effect
 * through run.c (answer, wait) or log.c, and record the step's output.  A
 * helper that fails returns -1 with fl_run_error() set, and the step
 * function decides between fail and continue with fl_step_failed(). */
#include "run/step.h"
#include "ops/log.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const FlMember logged_members[] = { FL_MEMBER("logged", FL_BOOL_LIT(true)) };
static const FlValue logged = FL_OBJECT_LIT(logged_members);

/* The two outputs of a logic_gate, {"result": true|false}. */
static const FlMember gate_true_members[] = { FL_MEMBER("result", FL_BOOL_LIT(true)) };
static const FlMember gate_false_members[] = { FL_MEMBER("result", FL_BOOL_LIT(false)) };
const FlValue fl_gate_true = FL_OBJECT_LIT(gate_true_members);
const FlValue fl_gate_false = FL_OBJECT_LIT(gate_false_members);

/* Up to 60 bytes of v as JSON, for error messages. */
static const char *show(FlRun *run, const FlValue *v)
{
    const FlValue *t = fl_json_text(fl_run_arena(run), v);
    if (t->len > 60)
        return fl_string(fl_run_arena(run), t->u.s, 60)->u.s;
    return t->u.s;
}

/* v as a number when it is one, or a string holding exactly one (the
 * number() built-in's rule); NAN otherwise. */
static double as_number(FlRun *run, const FlValue *v)
{
    if (v->type == FL_STRING)
        v = fl_fn_number(fl_run_arena(run), v);
    return v->type == FL_NUMBER ? v->u.n : NAN;
}

static bool bad_header_value(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return true;
    return false;
}

int fl_respond(FlRun *run, int index, const FlResponse *resp)
{
    FlArena *a = fl_run_arena(run);
    if (resp->status < 200 || resp->status > 599)
        return run_fail(run, "status %d is not a final HTTP status", resp->status);
    for (int i = 0; i < resp->header_count; i++)
        if (bad_header_value(resp->headers[i].value, resp->headers[i].value_len))
            return run_fail(run, "header %s: value contains CR, LF or NUL",
                            resp->headers[i].name);
    bool sent = run_answer(run, resp);
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 2);
    fl_object_add(&ob, "sent", 4, fl_bool(sent));
    fl_object_add(&ob, "status", 6, fl_number(a, resp->status));
    fl_step_done(run, index, fl_object_finish(&ob));
    return 0;
}

int fl_status_from_value(FlRun *run, const FlValue *v)
{
    double n = as_number(run, v);
    if (n >= 200 && n <= 599 && n == floor(n))
        return (int)n;
    run_fail(run, "status_code must be an integer from 200 to 599, got %s", show(run, v));
    return -1;
}

void fl_respond_default(FlRun *run)
{
    run_answer_default(run);
}

int fl_log(FlRun *run, int index, FlLogLevel level, const char *message,
           size_t len, const char *file)
{
    if (file) {
        if (log_append_file(fl_run_arena(run), file, message, len) < 0)
            return run_fail(run, "cannot write log file %s: %m", file);
    } else if (log_enabled(level)) {
        LogLine l = {
            .run_id = run_id_text(run), .trace_id = run_trace_id(run),
            .workflow = fl_run_workflow(run)->u.s,
            .step = run_step_key(run), .event = "log",
            .message = message, .message_len = len, .duration_ms = -1,
        };
        log_write(level, &l);
    }
    fl_step_done(run, index, &logged);
    return 0;
}

int fl_delay(FlRun *run, int index, const FlValue *ms, int next)
{
    double n = as_number(run, ms);
    if (!(n >= 0) || (ms->type == FL_STRING && n != floor(n)))
        return run_fail(run, "delay ms must be a non-negative number, got %s",
                        show(run, ms));
    FlObjectBuilder ob;
    fl_object_init(&ob, fl_run_arena(run), 1);
    fl_object_add(&ob, "waited_ms", 9, fl_number(fl_run_arena(run), n));
    fl_step_done(run, index, fl_object_finish(&ob));
    double wait = ceil(n) < 1e12 ? ceil(n) : 1e12;    /* ~30 years */
    run_set_wake(run, (int64_t)wait, next);
    return 0;
}

/* switch: the first case whose name is the value's text (spec 10). */
int fl_switch(FlRun *run, int index, const FlValue *text,
              const char *const *cases, int count)
{
    FlArena *a = fl_run_arena(run);
    int found = -1;
    for (int i = 0; i < count && found < 0; i++)
        if (strlen(cases[i]) == text->len
            && memcmp(cases[i], text->u.s, text->len) == 0)
            found = i;
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 1);
    fl_object_add(&ob, "matched", 7, found < 0 ? &fl_null
                  : fl_string(a, cases[found], strlen(cases[found])));
    fl_step_done(run, index, fl_object_finish(&ob));
    return found;
}
