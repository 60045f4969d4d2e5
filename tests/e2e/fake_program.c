/* fake_program.c - a hand-written stand-in for a compiled handler.
 *
 * Written the way flussoc's generated code is: one static function per
 * step, tables of FlStepInfo / FlWorkflow / FlProgram, and main() calling
 * fl_main().  It uses nothing but the runtime's public header, so the
 * end-to-end tests exercise the server and run machinery without the
 * compiler.  Its workflows:
 *
 *   ack    POST /hooks/ack     200 templated JSON, then a tail: delay
 *                              (query tail_ms, default 300), a line in
 *                              tail.log, and a log line "done <run id><query
 *                              note>"; max_body_bytes 1024
 *   fire   POST, PUT /hooks/fire  no response: 202 at start; fire.log
 *   slow   POST /hooks/slow    delay (query ms, default 500), then 201
 *   late   POST /hooks/late    timeout 1000 ms, delay 1500, then 200
 *                              (too late: 504), late.log says sent=false
 *   check  POST /hooks/check   `matches` gate on query h: 200 text with an
 *                              X-Echo header, else status from query
 *                              status (default 422) with X-Echo: h
 *   echo   GET, POST /hooks/echo  200 with the whole trigger output
 *   hold   POST /hooks/hold    timeout 60 s, delay 20 s, then 200: still
 *                              waiting when a drain's grace period ends
 *
 * Environment: FAKE_TAG, FAKE_ZONE.  Log files go to the working
 * directory. */
#include "flusso.h"

static const FlValue k_300 = FL_NUMBER_LIT(300);
static const FlValue k_500 = FL_NUMBER_LIT(500);
static const FlValue k_1500 = FL_NUMBER_LIT(1500);
static const FlValue k_422 = FL_NUMBER_LIT(422);

/* trigger.output.<a>.<b> */
static const FlValue *trig(FlRun *r, const char *a, const char *b)
{
    return fl_get_field(fl_get_field(fl_out(r, 0), a, strlen(a)), b, strlen(b));
}

/* ==== workflow 0: ack ==================================================== */

/* ack (webhook_response) - steps[0] */
static int w0_ack(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    FlBuf hb;
    fl_buf_init(&hb, ar);
    FL_BUF_APPEND_LIT(&hb, "ack-");
    fl_buf_append_text(&hb, trig(r, "body", "id"));
    const FlValue *h1 = fl_buf_finish(&hb);
    FlHeader h[1] = { { "X-Ack", h1->u.s, h1->len } };
    FlObjectBuilder ob;
    fl_object_init(&ob, ar, 3);
    fl_object_add(&ob, "received", 8, &fl_true);
    fl_object_add(&ob, "id", 2, trig(r, "body", "id"));
    fl_object_add(&ob, "q", 1, trig(r, "query", "q"));
    const FlValue *body = fl_json_text(ar, fl_object_finish(&ob));
    FlResponse resp = { 0 };
    resp.status = 200;
    resp.body = body->u.s;
    resp.body_len = body->len;
    resp.content_type = "application/json";
    resp.headers = h;
    resp.header_count = 1;
    if (fl_respond(r, 1, &resp) < 0)
        return fl_step_failed(r, 1, fl_run_error(r), 2);
    return 2;
}

/* pause (delay) - steps[1] */
static int w0_pause(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    const FlValue *ms = fl_fn_default(ar, fl_fn_number(ar, trig(r, "query", "tail_ms")), &k_300);
    if (fl_delay(r, 2, ms, 3) < 0)
        return fl_step_failed(r, 2, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_WAIT;
}

/* record (log) - steps[2] */
static int w0_record(FlRun *r)
{
    FlBuf b;
    fl_buf_init(&b, fl_run_arena(r));
    FL_BUF_APPEND_LIT(&b, "tail ");
    fl_buf_append_text(&b, trig(r, "body", "id"));
    fl_buf_putc(&b, ' ');
    fl_buf_append_text(&b, fl_env(0));
    const FlValue *m = fl_buf_finish(&b);
    if (fl_log(r, 3, FL_LOG_INFO, m->u.s, m->len, "tail.log") < 0)
        return fl_step_failed(r, 3, fl_run_error(r), FL_NEXT_FAIL);
    return 4;
}

/* done (log) - steps[3] */
static int w0_done(FlRun *r)
{
    FlBuf b;
    fl_buf_init(&b, fl_run_arena(r));
    FL_BUF_APPEND_LIT(&b, "done ");
    fl_buf_append_text(&b, fl_run_id(r));
    fl_buf_append_text(&b, trig(r, "query", "note"));
    const FlValue *m = fl_buf_finish(&b);
    if (fl_log(r, 4, FL_LOG_INFO, m->u.s, m->len, NULL) < 0)
        return fl_step_failed(r, 4, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w0_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "ack", FL_STEP_RESPONSE, "steps[0]", w0_ack, false, NULL },
    { "pause", FL_STEP_DELAY, "steps[1]", w0_pause, false, NULL },
    { "record", FL_STEP_LOG, "steps[2]", w0_record, false, NULL },
    { "done", FL_STEP_LOG, "steps[3]", w0_done, false, NULL },
};
static const char *const w0_methods[] = { "POST" };
static const FlWorkflow w0 = {
    .name = "ack", .file = "ack.json", .path = "/hooks/ack",
    .methods = w0_methods, .method_count = 1, .allow = "POST",
    .response_timeout_ms = 30000, .max_body_bytes = 1024, .verify = NULL,
    .steps = w0_steps, .step_count = 5, .first = 1, .default_at_start = false,
};

/* ==== workflow 1: fire =================================================== */

/* keep (set) - steps[0] */
static int w1_keep(FlRun *r)
{
    FlObjectBuilder ob;
    fl_object_init(&ob, fl_run_arena(r), 1);
    fl_object_add(&ob, "n", 1, trig(r, "body", "n"));
    fl_step_done(r, 1, fl_object_finish(&ob));
    return 2;
}

/* note (log) - steps[1] */
static int w1_note(FlRun *r)
{
    FlBuf b;
    fl_buf_init(&b, fl_run_arena(r));
    FL_BUF_APPEND_LIT(&b, "fire ");
    fl_buf_append_text(&b, fl_get_field(fl_out(r, 1), "n", 1));
    fl_buf_putc(&b, ' ');
    fl_buf_append_text(&b, fl_get_field(fl_out(r, 0), "method", 6));
    fl_buf_putc(&b, ' ');
    fl_buf_append_text(&b, fl_env(1));
    fl_buf_putc(&b, ' ');
    fl_buf_append_text(&b, fl_run_workflow(r));
    const FlValue *m = fl_buf_finish(&b);
    if (fl_log(r, 2, FL_LOG_INFO, m->u.s, m->len, "fire.log") < 0)
        return fl_step_failed(r, 2, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w1_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "keep", FL_STEP_SET, "steps[0]", w1_keep, false, NULL },
    { "note", FL_STEP_LOG, "steps[1]", w1_note, false, NULL },
};
static const char *const w1_methods[] = { "POST", "PUT" };
static const FlWorkflow w1 = {
    .name = "fire", .file = "fire.json", .path = "/hooks/fire",
    .methods = w1_methods, .method_count = 2, .allow = "POST, PUT",
    .response_timeout_ms = 30000, .max_body_bytes = 1048576, .verify = NULL,
    .steps = w1_steps, .step_count = 3, .first = 1, .default_at_start = true,
};

/* ==== workflow 2: slow =================================================== */

/* wait (delay) - steps[0] */
static int w2_wait(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    const FlValue *ms = fl_fn_default(ar, fl_fn_number(ar, trig(r, "query", "ms")), &k_500);
    if (fl_delay(r, 1, ms, 2) < 0)
        return fl_step_failed(r, 1, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_WAIT;
}

/* reply (webhook_response) - steps[1] */
static int w2_reply(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    FlObjectBuilder ob;
    fl_object_init(&ob, ar, 2);
    fl_object_add(&ob, "waited", 6, fl_get_field(fl_out(r, 1), "waited_ms", 9));
    fl_object_add(&ob, "run", 3, fl_run_id(r));
    fl_object_add(&ob, "id", 2, trig(r, "query", "id"));
    const FlValue *body = fl_json_text(ar, fl_object_finish(&ob));
    FlResponse resp = { 0 };
    resp.status = 201;
    resp.body = body->u.s;
    resp.body_len = body->len;
    resp.content_type = "application/json";
    if (fl_respond(r, 2, &resp) < 0)
        return fl_step_failed(r, 2, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w2_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "wait", FL_STEP_DELAY, "steps[0]", w2_wait, false, NULL },
    { "reply", FL_STEP_RESPONSE, "steps[1]", w2_reply, false, NULL },
};
static const char *const w2_methods[] = { "POST" };
static const FlWorkflow w2 = {
    .name = "slow", .file = "slow.json", .path = "/hooks/slow",
    .methods = w2_methods, .method_count = 1, .allow = "POST",
    .response_timeout_ms = 5000, .max_body_bytes = 1048576, .verify = NULL,
    .steps = w2_steps, .step_count = 3, .first = 1, .default_at_start = false,
};

/* ==== workflow 3: late =================================================== */

static const char w3_reply_body[] = "{\"late\":true}";

/* wait (delay) - steps[0] */
static int w3_wait(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    const FlValue *ms = fl_fn_default(ar, fl_fn_number(ar, trig(r, "query", "ms")), &k_1500);
    if (fl_delay(r, 1, ms, 2) < 0)
        return fl_step_failed(r, 1, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_WAIT;
}

/* reply (webhook_response) - steps[1] */
static int w3_reply(FlRun *r)
{
    FlResponse resp = { 0 };
    resp.status = 200;
    resp.body = w3_reply_body;
    resp.body_len = sizeof w3_reply_body - 1;
    resp.body_static = true;
    resp.content_type = "application/json";
    if (fl_respond(r, 2, &resp) < 0)
        return fl_step_failed(r, 2, fl_run_error(r), FL_NEXT_FAIL);
    return 3;
}

/* after (log) - steps[2] */
static int w3_after(FlRun *r)
{
    FlBuf b;
    fl_buf_init(&b, fl_run_arena(r));
    FL_BUF_APPEND_LIT(&b, "late sent=");
    fl_buf_append_text(&b, fl_get_field(fl_out(r, 2), "sent", 4));
    const FlValue *m = fl_buf_finish(&b);
    if (fl_log(r, 3, FL_LOG_INFO, m->u.s, m->len, "late.log") < 0)
        return fl_step_failed(r, 3, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w3_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "wait", FL_STEP_DELAY, "steps[0]", w3_wait, false, NULL },
    { "reply", FL_STEP_RESPONSE, "steps[1]", w3_reply, false, NULL },
    { "after", FL_STEP_LOG, "steps[2]", w3_after, false, NULL },
};
static const char *const w3_methods[] = { "POST" };
static const FlWorkflow w3 = {
    .name = "late", .file = "late.json", .path = "/hooks/late",
    .methods = w3_methods, .method_count = 1, .allow = "POST",
    .response_timeout_ms = 1000, .max_body_bytes = 1048576, .verify = NULL,
    .steps = w3_steps, .step_count = 4, .first = 1, .default_at_start = false,
};

/* ==== workflow 4: check ================================================== */

static const FlMember gate_true_m[] = { FL_MEMBER("result", FL_BOOL_LIT(true)) };
static const FlMember gate_false_m[] = { FL_MEMBER("result", FL_BOOL_LIT(false)) };
static const FlValue gate_true = FL_OBJECT_LIT(gate_true_m);
static const FlValue gate_false = FL_OBJECT_LIT(gate_false_m);

/* word (logic_gate) - steps[0] */
static int w4_word(FlRun *r)
{
    bool pass = fl_cond_matches(fl_regex(0), trig(r, "query", "h"));
    fl_step_done(r, 1, pass ? &gate_true : &gate_false);
    if (pass)
        return 2;
    return 3;
}

/* hello (webhook_response) - steps[0].branches.true[0] */
static int w4_hello(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    const FlValue *h = fl_text(ar, trig(r, "query", "h"));
    FlHeader hs[1] = { { "X-Echo", h->u.s, h->len } };
    FlBuf b;
    fl_buf_init(&b, ar);
    FL_BUF_APPEND_LIT(&b, "hello ");
    fl_buf_append_text(&b, h);
    const FlValue *body = fl_buf_finish(&b);
    FlResponse resp = { 0 };
    resp.status = 200;
    resp.body = body->u.s;
    resp.body_len = body->len;
    resp.content_type = "text/plain";
    resp.headers = hs;
    resp.header_count = 1;
    if (fl_respond(r, 2, &resp) < 0)
        return fl_step_failed(r, 2, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

/* odd (webhook_response) - steps[0].branches.false[0] */
static int w4_odd(FlRun *r)
{
    FlArena *ar = fl_run_arena(r);
    const FlValue *h = fl_text(ar, trig(r, "query", "h"));
    FlHeader hs[1] = { { "X-Echo", h->u.s, h->len } };
    FlResponse resp = { 0 };
    resp.status = fl_status_from_value(r, fl_fn_default(ar, trig(r, "query", "status"), &k_422));
    if (resp.status < 0)
        return fl_step_failed(r, 3, fl_run_error(r), FL_NEXT_FAIL);
    resp.content_type = "application/json";
    resp.headers = hs;
    resp.header_count = 1;
    if (fl_respond(r, 3, &resp) < 0)
        return fl_step_failed(r, 3, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w4_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "word", FL_STEP_LOGIC_GATE, "steps[0]", w4_word, false, NULL },
    { "hello", FL_STEP_RESPONSE, "steps[0].branches.true[0]", w4_hello, false, NULL },
    { "odd", FL_STEP_RESPONSE, "steps[0].branches.false[0]", w4_odd, false, NULL },
};
static const char *const w4_methods[] = { "POST" };
static const FlWorkflow w4 = {
    .name = "check", .file = "check.json", .path = "/hooks/check",
    .methods = w4_methods, .method_count = 1, .allow = "POST",
    .response_timeout_ms = 30000, .max_body_bytes = 1048576, .verify = NULL,
    .steps = w4_steps, .step_count = 4, .first = 1, .default_at_start = false,
};

/* ==== workflow 5: echo =================================================== */

/* mirror (webhook_response) - steps[0] */
static int w5_mirror(FlRun *r)
{
    const FlValue *body = fl_json_text(fl_run_arena(r), fl_out(r, 0));
    FlResponse resp = { 0 };
    resp.status = 200;
    resp.body = body->u.s;
    resp.body_len = body->len;
    resp.content_type = "application/json";
    if (fl_respond(r, 1, &resp) < 0)
        return fl_step_failed(r, 1, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w5_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "mirror", FL_STEP_RESPONSE, "steps[0]", w5_mirror, false, NULL },
};
static const char *const w5_methods[] = { "GET", "POST" };
static const FlWorkflow w5 = {
    .name = "echo", .file = "echo.json", .path = "/hooks/echo",
    .methods = w5_methods, .method_count = 2, .allow = "GET, POST",
    .response_timeout_ms = 30000, .max_body_bytes = 1048576, .verify = NULL,
    .steps = w5_steps, .step_count = 2, .first = 1, .default_at_start = false,
};

/* ==== workflow 6: hold =================================================== */

static const FlValue k_20000 = FL_NUMBER_LIT(20000);

/* wait (delay) - steps[0] */
static int w6_wait(FlRun *r)
{
    if (fl_delay(r, 1, &k_20000, 2) < 0)
        return fl_step_failed(r, 1, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_WAIT;
}

/* reply (webhook_response) - steps[1] */
static int w6_reply(FlRun *r)
{
    FlResponse resp = { 0 };
    resp.status = 200;
    resp.content_type = "application/json";
    if (fl_respond(r, 2, &resp) < 0)
        return fl_step_failed(r, 2, fl_run_error(r), FL_NEXT_FAIL);
    return FL_NEXT_END;
}

static const FlStepInfo w6_steps[] = {
    { "trigger", FL_STEP_TRIGGER, "trigger", NULL, false, NULL },
    { "wait", FL_STEP_DELAY, "steps[0]", w6_wait, false, NULL },
    { "reply", FL_STEP_RESPONSE, "steps[1]", w6_reply, false, NULL },
};
static const char *const w6_methods[] = { "POST" };
static const FlWorkflow w6 = {
    .name = "hold", .file = "hold.json", .path = "/hooks/hold",
    .methods = w6_methods, .method_count = 1, .allow = "POST",
    .response_timeout_ms = 60000, .max_body_bytes = 1048576, .verify = NULL,
    .steps = w6_steps, .step_count = 3, .first = 1, .default_at_start = false,
};

/* ==== the program ======================================================== */

static const FlWorkflow *const workflows[] = { &w0, &w1, &w2, &w3, &w4, &w5, &w6 };
static const char *const env_names[] = { "FAKE_TAG", "FAKE_ZONE" };
static FlRegex regexes[] = { { .pattern = "^[a-z]+$" } };
static const FlProgram program = {
    .workflows = workflows, .workflow_count = 7,
    .env_names = env_names, .env_count = 2,
    .regexes = regexes, .regex_count = 1,
};

int main(int argc, char **argv)
{
    return fl_main(argc, argv, &program);
}
