/* test_engine.c - the run engine driven in-process (run.h), no server:
 * a test caller captures the one answer, and hand-written step tables
 * stand in for generated code.  Answered inline, the default 202, a
 * failing step's 500, on_error continue, a delay before the answer, the
 * 504 deadline, the tail run after the answer on a worker, a run moved
 * into a compact copy for a long delay, and the answer held for the
 * journal's commit. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal/journal.h"
#include "ops/log.h"
#include "run/run.h"
#include "run/sched.h"
#include "unit.h"

/* ---- the test caller ----------------------------------------------------- */

typedef struct {
    RunCaller caller;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int answers;                 /* answer() calls */
    bool suspended;
    bool own_thread;
    int status;
    char body[512];
    size_t body_len;
    char content_type[64];       /* "" when none */
    char header[128];            /* the first header, "Name: value" */
    char run_id[40];
} Capture;

static void capture_answer(RunCaller *caller, const RunAnswer *a, bool own_thread)
{
    Capture *c = (Capture *)(void *)caller;
    const FlResponse *r = &a->resp;
    pthread_mutex_lock(&c->lock);
    c->answers++;
    c->own_thread = own_thread;
    c->status = r->status;
    c->body_len = r->body_len < sizeof c->body ? r->body_len : sizeof c->body - 1;
    memcpy(c->body, r->body ? r->body : "", c->body_len);
    c->body[c->body_len] = '\0';
    snprintf(c->content_type, sizeof c->content_type, "%s",
             r->content_type ? r->content_type : "");
    if (r->header_count > 0)
        snprintf(c->header, sizeof c->header, "%s: %.*s", r->headers[0].name,
                 (int)r->headers[0].value_len, r->headers[0].value);
    snprintf(c->run_id, sizeof c->run_id, "%s", a->run_id ? a->run_id : "");
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void capture_suspend(RunCaller *caller)
{
    Capture *c = (Capture *)(void *)caller;
    pthread_mutex_lock(&c->lock);
    c->suspended = true;
    pthread_mutex_unlock(&c->lock);
}

static const RunCallerOps capture_ops = { capture_answer, capture_suspend };

static void capture_init(Capture *c)
{
    memset(c, 0, sizeof *c);
    c->caller.ops = &capture_ops;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

/* Waits up to 2 s for the answer; whether it came. */
static bool capture_wait(Capture *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    pthread_mutex_lock(&c->lock);
    while (c->answers == 0)
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
            break;
    bool got = c->answers > 0;
    pthread_mutex_unlock(&c->lock);
    return got;
}

static void capture_free(Capture *c)
{
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
}

/* Waits up to 3 s for every run to end. */
static void wait_idle(void)
{
    struct timespec ts = { 0, 2 * 1000000 };
    for (int i = 0; i < 1500 && run_inflight() > 0; i++)
        nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL(run_inflight(), 0);
}

/* Starts a run of wf for caller c on a {"n": 7, "drop": "x"} trigger; returns the run
 * (the caller's reference: run_release() it) and run_start()'s result. */
static FlRun *start(const FlWorkflow *wf, Capture *c, bool *inline_answer)
{
    FlRun *run = run_new(wf, false);
    static const char body[] = "{\"n\":7,\"drop\":\"x\"}";
    const FlValue *trigger = fl_json_parse(fl_run_arena(run), body, sizeof body - 1);
    *inline_answer = run_start(run, trigger, clock_ms(), fl_time_now_ms(),
                               &c->caller);
    return run;
}

/* ---- step tables ----------------------------------------------------------- */

static atomic_int tail_ran;
static pthread_t tail_thread;

static int reply_200(FlRun *r, int index, int next)
{
    static const char body[] = "{\"ok\":true}";
    FlHeader h[1] = { { "X-Test", "yes", 3 } };
    FlResponse resp = {
        .status = 200, .body = body, .body_len = sizeof body - 1,
        .body_static = true, .content_type = "application/json",
        .headers = h, .header_count = 1,
    };
    if (fl_respond(r, index, &resp) < 0)
        return fl_step_failed(r, index, fl_run_error(r), next);
    return next;
}

static int s_reply_end(FlRun *r) { return reply_200(r, 1, FL_NEXT_END); }
static int s_reply_2(FlRun *r) { return reply_200(r, 2, FL_NEXT_END); }

/* A step with no effect but its output, recording that (and where) it ran. */
static int s_mark(FlRun *r, int index)
{
    tail_thread = pthread_self();
    atomic_fetch_add(&tail_ran, 1);
    fl_step_done(r, index, &fl_gate_true);
    return FL_NEXT_END;
}
static int s_mark_1(FlRun *r) { return s_mark(r, 1); }
static int s_mark_2(FlRun *r) { return s_mark(r, 2); }
static int s_mark_3(FlRun *r) { return s_mark(r, 3); }

static int s_fail(FlRun *r)
{
    return fl_step_failed(r, 1, "boom \"quoted\"", 2);
}

/* Answers 200 with the JSON of step 1's output as the body. */
static int s_echo_1(FlRun *r)
{
    const FlValue *t = fl_json_text(fl_run_arena(r), fl_out(r, 1));
    FlResponse resp = { .status = 200, .body = t->u.s, .body_len = t->len };
    fl_respond(r, 2, &resp);
    return FL_NEXT_END;
}

static const FlValue delay_30 = FL_NUMBER_LIT(30);
static const FlValue delay_300 = FL_NUMBER_LIT(300);

/* The delay step index: ms, then step next. */
static int delay(FlRun *r, int index, const FlValue *ms, int next)
{
    if (fl_delay(r, index, ms, next) < 0)
        return fl_step_failed(r, index, fl_run_error(r), next);
    return FL_NEXT_WAIT;
}

static int s_delay_30(FlRun *r) { return delay(r, 1, &delay_30, 2); }
static int s_delay_300(FlRun *r) { return delay(r, 1, &delay_300, 2); }
static int s_delay_30_at_2(FlRun *r) { return delay(r, 2, &delay_30, 3); }
static int s_reply_then_delay(FlRun *r) { return reply_200(r, 1, 2); }

/* After a long delay: what the run still has of its trigger. */
static double kept_n;
static const FlValue *kept_drop;

static int s_read_kept(FlRun *r)
{
    const FlValue *in = fl_out(r, 0);
    kept_n = fl_get_field(in, "n", 1)->u.n;
    kept_drop = fl_get_field(in, "drop", 4);
    fl_step_done(r, 3, &fl_gate_true);
    return FL_NEXT_END;
}

static const FlValue delay_120 = FL_NUMBER_LIT(120);
static int s_delay_120_at_2(FlRun *r) { return delay(r, 2, &delay_120, 3); }

/* What the steps after the delay read: trigger.output.n. */
static const FlKeep keep_n[] = { { .field = "n", .field_len = 1 } };
static const FlKeep keep_trigger[] = { { .step = 0, .sub = keep_n, .sub_count = 1 } };
static const FlKeepList keep_list = { keep_trigger, 1 };

#define TRIGGER { .key = "trigger", .type = FL_STEP_TRIGGER, .path = "trigger" }
#define STEP(key_, type_, fn_, cont_)                                         \
    { .key = key_, .type = type_, .path = key_, .fn = fn_,                    \
      .on_error_continue = cont_ }
#define RESPOND(key, fn) STEP(key, FL_STEP_RESPONSE, fn, false)
#define LOG(key, fn, cont) STEP(key, FL_STEP_LOG, fn, cont)
#define DELAY(key, fn) STEP(key, FL_STEP_DELAY, fn, false)
#define STEPS3(name_, a_, b_) static const FlStepInfo name_[] = { TRIGGER, a_, b_ }
#define WORKFLOW(name_, steps_, timeout_, at_start_) {                          \
        .name = name_, .file = "test", .path = "/" name_, .response_timeout_ms = timeout_, \
        .max_body_bytes = 1024, .steps = steps_,                              \
        .step_count = sizeof steps_ / sizeof steps_[0], .first = 1,           \
        .default_at_start = at_start_ }

static const FlStepInfo reply_steps[] = { TRIGGER, RESPOND("reply", s_reply_end) };
static const FlWorkflow wf_reply = WORKFLOW("reply", reply_steps, 1000, false);

static const FlStepInfo mark_steps[] = { TRIGGER, LOG("mark", s_mark_1, false) };
static const FlWorkflow wf_default = WORKFLOW("default", mark_steps, 1000, false);
static const FlWorkflow wf_at_start = WORKFLOW("at_start", mark_steps, 1000, true);

STEPS3(fail_steps, LOG("fails", s_fail, false), LOG("after", s_mark_2, false));
static const FlWorkflow wf_fail = WORKFLOW("fail", fail_steps, 1000, false);

STEPS3(cont_steps, LOG("fails", s_fail, true), RESPOND("echo", s_echo_1));
static const FlWorkflow wf_continue = WORKFLOW("continue", cont_steps, 1000, false);

STEPS3(delay_steps, DELAY("wait", s_delay_30), RESPOND("reply", s_reply_2));
static const FlWorkflow wf_delay = WORKFLOW("delay", delay_steps, 1000, false);

STEPS3(late_steps, DELAY("wait", s_delay_300), RESPOND("reply", s_reply_2));
static const FlWorkflow wf_late = WORKFLOW("late", late_steps, 40, false);

STEPS3(tail_steps, RESPOND("reply", s_reply_then_delay), LOG("mark", s_mark_2, false));
static const FlWorkflow wf_tail = WORKFLOW("tail", tail_steps, 1000, false);

static const FlStepInfo held_steps[] = {
    TRIGGER, RESPOND("reply", s_reply_then_delay), DELAY("wait", s_delay_30_at_2),
    LOG("mark", s_mark_3, false),
};
static const FlWorkflow wf_held = WORKFLOW("held", held_steps, 1000, false);

static const FlStepInfo compact_steps[] = {
    TRIGGER, RESPOND("reply", s_reply_then_delay),
    { .key = "wait", .type = FL_STEP_DELAY, .path = "wait", .fn = s_delay_120_at_2,
      .keep = &keep_list },
    STEP("read", FL_STEP_LOG, s_read_kept, false),
};
static const FlWorkflow wf_compact = WORKFLOW("compact", compact_steps, 1000, false);

/* for_each at step 1 over the JSON items_text (max 3 items), its body one
 * step (2) that doubles a number item and fails on any other; step 3
 * answers with the loop's output. */
static const char *items_text;

static int s_loop(FlRun *r)
{
    if (!fl_loop_running(r, 1)) {
        const FlValue *items = fl_json_parse(fl_run_arena(r), items_text,
                                             strlen(items_text));
        if (fl_loop_start(r, 1, items, 3) < 0)
            return fl_step_failed(r, 1, fl_run_error(r), 3);
    }
    if (fl_loop_next(r, 1))
        return 2;
    return 3;
}

static int s_double(FlRun *r)
{
    const FlValue *item = fl_loop_item(r, 1);
    if (item->type != FL_NUMBER)
        return fl_step_failed(r, 2, "not a number", 1);
    fl_step_done(r, 2, fl_number(fl_run_arena(r),
                                 item->u.n * 2 + fl_loop_index(r, 1)->u.n / 10));
    return 1;
}

static int s_echo_loop(FlRun *r)
{
    const FlValue *t = fl_json_text(fl_run_arena(r), fl_out(r, 1));
    FlResponse resp = { .status = 200, .body = t->u.s, .body_len = t->len };
    fl_respond(r, 3, &resp);
    return FL_NEXT_END;
}

#define LOOP_STEPS(name_, cont_)                                              \
    static const FlStepInfo name_[] = {                                       \
        TRIGGER, STEP("each", FL_STEP_FOR_EACH, s_loop, cont_),               \
        { .key = "double", .type = FL_STEP_SET, .path = "double",             \
          .fn = s_double, .loop = 1 },                                        \
        RESPOND("echo", s_echo_loop),                                         \
    }
LOOP_STEPS(loop_steps, false);
LOOP_STEPS(loop_cont_steps, true);
static const FlWorkflow wf_loop = WORKFLOW("loop", loop_steps, 1000, false);
static const FlWorkflow wf_loop_cont = WORKFLOW("loop_cont", loop_cont_steps, 1000,
                                                false);

/* ---- tests ------------------------------------------------------------------ */

/* wf answers status inline, and its last step (s_mark) runs after that on
 * a worker, not on the caller's thread. */
static void check_tail(const FlWorkflow *wf, int status)
{
    Capture c;
    bool inl;
    atomic_store(&tail_ran, 0);
    capture_init(&c);
    FlRun *run = start(wf, &c, &inl);
    CU_ASSERT_TRUE(inl);
    CU_ASSERT_EQUAL(c.status, status);
    CU_ASSERT_TRUE(c.own_thread);
    wait_idle();
    CU_ASSERT_EQUAL(atomic_load(&tail_ran), 1);
    CU_ASSERT_FALSE(pthread_equal(tail_thread, pthread_self()));
    run_release(run);
    capture_free(&c);
}

/* The hot path: answered on the caller's own thread, inside run_start(). */
static void test_inline(void)
{
    Capture c;
    bool inl;
    capture_init(&c);
    FlRun *run = start(&wf_reply, &c, &inl);
    CU_ASSERT_TRUE(inl);
    CU_ASSERT_FALSE(c.suspended);
    CU_ASSERT_EQUAL(c.answers, 1);
    CU_ASSERT_TRUE(c.own_thread);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_STRING_EQUAL(c.body, "{\"ok\":true}");
    CU_ASSERT_STRING_EQUAL(c.content_type, "application/json");
    CU_ASSERT_STRING_EQUAL(c.header, "X-Test: yes");
    CU_ASSERT_EQUAL(strlen(c.run_id), 36);
    CU_ASSERT_STRING_EQUAL(c.run_id, fl_run_id(run)->u.s);
    CU_ASSERT_TRUE(fl_get_field(fl_out(run, 1), "sent", 4)->u.b);
    wait_idle();
    run_release(run);
    capture_free(&c);
}

/* No response step: the default 202, empty, at the end of the run - or,
 * with default_at_start, before the first step, which then runs on a
 * worker. */
static void test_default_202(void)
{
    Capture c;
    bool inl;
    capture_init(&c);
    FlRun *run = start(&wf_default, &c, &inl);
    CU_ASSERT_TRUE(inl);
    CU_ASSERT_EQUAL(c.status, 202);
    CU_ASSERT_EQUAL(c.body_len, 0);
    CU_ASSERT_STRING_EQUAL(c.content_type, "");
    CU_ASSERT_PTR_EQUAL(fl_out(run, 1), &fl_gate_true);   /* ran before */
    run_release(run);
    capture_free(&c);

    check_tail(&wf_at_start, 202);
}

/* A step failing under on_error fail: 500 {"error", "run_id"} naming the
 * step and not its message (spec 14), and the steps after it never run. */
static void test_failure_500(void)
{
    Capture c;
    bool inl;
    char want[128];
    atomic_store(&tail_ran, 0);
    capture_init(&c);
    FlRun *run = start(&wf_fail, &c, &inl);
    CU_ASSERT_TRUE(inl);
    CU_ASSERT_EQUAL(c.status, 500);
    CU_ASSERT_STRING_EQUAL(c.content_type, "application/json");
    snprintf(want, sizeof want, "{\"error\":\"step 'fails' failed\",\"run_id\":\"%s\"}",
             c.run_id);
    CU_ASSERT_STRING_EQUAL(c.body, want);
    CU_ASSERT_STRING_EQUAL(fl_run_error(run), "boom \"quoted\"");
    wait_idle();
    CU_ASSERT_EQUAL(atomic_load(&tail_ran), 0);
    run_release(run);
    capture_free(&c);
}

/* on_error continue: the step's output holds its fields as null and the
 * error, and the run goes on. */
static void test_on_error_continue(void)
{
    Capture c;
    bool inl;
    capture_init(&c);
    FlRun *run = start(&wf_continue, &c, &inl);
    CU_ASSERT_TRUE(inl);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_STRING_EQUAL(c.body, "{\"logged\":null,\"error\":\"boom \\\"quoted\\\"\"}");
    wait_idle();
    run_release(run);
    capture_free(&c);
}

/* A delay before the answer: the caller is suspended, and the answer
 * comes from a worker once the timer fired. */
static void test_delay_then_answer(void)
{
    Capture c;
    bool inl;
    capture_init(&c);
    int64_t t0 = clock_ms();
    FlRun *run = start(&wf_delay, &c, &inl);
    CU_ASSERT_FALSE(inl);
    CU_ASSERT_TRUE(c.suspended);
    CU_ASSERT_TRUE_FATAL(capture_wait(&c));
    CU_ASSERT_TRUE(clock_ms() - t0 >= 30);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_FALSE(c.own_thread);
    CU_ASSERT_EQUAL(fl_get_field(fl_out(run, 1), "waited_ms", 9)->u.n, 30);
    wait_idle();
    CU_ASSERT_EQUAL(c.answers, 1);
    run_release(run);
    capture_free(&c);
}

/* The 504: the deadline answers from the timer thread; the response step,
 * later, finds the caller answered. */
static void test_deadline_504(void)
{
    Capture c;
    bool inl;
    capture_init(&c);
    FlRun *run = start(&wf_late, &c, &inl);
    CU_ASSERT_FALSE(inl);
    CU_ASSERT_TRUE_FATAL(capture_wait(&c));
    CU_ASSERT_EQUAL(c.status, 504);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "\"error\":\"workflow did not respond in time\""));
    CU_ASSERT_FALSE(c.own_thread);
    wait_idle();
    CU_ASSERT_EQUAL(c.answers, 1);
    CU_ASSERT_FALSE(fl_get_field(fl_out(run, 2), "sent", 4)->u.b);
    run_release(run);
    capture_free(&c);
}

/* The tail after an inline answer runs on a worker, not on the caller's
 * thread. */
static void test_tail_after_answer(void)
{
    check_tail(&wf_tail, 200);
}

/* A run answered inline that waits 100 ms or more moves into a compact
 * copy keeping only what its later steps read (FlStepInfo.keep): the
 * trigger's "n", not its "drop". */
static void test_compact_in_long_delay(void)
{
    Capture c;
    bool inl;
    kept_n = 0;
    kept_drop = NULL;
    capture_init(&c);
    FlRun *run = start(&wf_compact, &c, &inl);
    CU_ASSERT_TRUE(inl);
    CU_ASSERT_EQUAL(c.status, 200);
    wait_idle();
    CU_ASSERT_EQUAL(kept_n, 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kept_drop);
    CU_ASSERT_EQUAL(kept_drop->type, FL_NULL);
    CU_ASSERT_EQUAL(fl_get_field(fl_out(run, 0), "drop", 4)->type, FL_STRING);
    run_release(run);
    capture_free(&c);
}

static char jdir[64];

/* Opens a fresh journal; with fail_first, its first commit fails (the
 * journal's test hook). */
static void journal_fresh(bool fail_first)
{
    char path[128], err[256];
    snprintf(jdir, sizeof jdir, "/tmp/flusso-unit-engine.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(jdir));
    snprintf(path, sizeof path, "%s/e.journal", jdir);
    if (fail_first)
        setenv("FLUSSO_JOURNAL_FAIL_AFTER", "1", 1);
    CU_ASSERT_EQUAL_FATAL(journal_open(path, NULL, NULL, err, sizeof err), JOURNAL_OK);
    unsetenv("FLUSSO_JOURNAL_FAIL_AFTER");
}

static void journal_gone(void)
{
    char cmd[128];
    journal_close();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* With a journal the answer waits for the run's commit: it leaves from
 * the journal thread, not inline; and when the commit fails the caller
 * gets 503 instead and the tail never runs. */
static void test_held_for_commit(void)
{
    Capture c;
    bool inl;
    atomic_store(&tail_ran, 0);
    journal_fresh(false);
    capture_init(&c);
    FlRun *run = start(&wf_held, &c, &inl);
    CU_ASSERT_FALSE(inl);
    CU_ASSERT_TRUE(c.suspended);
    CU_ASSERT_TRUE_FATAL(capture_wait(&c));
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_STRING_EQUAL(c.header, "X-Test: yes");   /* kept past the step */
    CU_ASSERT_FALSE(c.own_thread);
    wait_idle();
    CU_ASSERT_EQUAL(atomic_load(&tail_ran), 1);
    run_release(run);
    capture_free(&c);
    journal_gone();

    atomic_store(&tail_ran, 0);
    journal_fresh(true);
    capture_init(&c);
    run = start(&wf_held, &c, &inl);
    CU_ASSERT_FALSE(inl);
    CU_ASSERT_TRUE_FATAL(capture_wait(&c));
    CU_ASSERT_EQUAL(c.status, 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "could not be journaled"));
    wait_idle();
    CU_ASSERT_EQUAL(atomic_load(&tail_ran), 0);
    run_release(run);
    capture_free(&c);
    journal_gone();
}

static int suite_init(void)
{
    log_min = FL_LOG_ERROR + 1;  /* the failures tested are not news */
    return sched_start(2);
}

static int suite_clean(void)
{
    sched_stop();
    log_min = FL_LOG_INFO;
    return 0;
}

/* Runs wf over items; the status and body of its answer into c. */
static void run_loop(const FlWorkflow *wf, const char *items, Capture *c)
{
    bool inl;
    items_text = items;
    capture_init(c);
    FlRun *run = start(wf, c, &inl);
    CU_ASSERT_TRUE(inl);
    wait_idle();
    run_release(run);
}

/* for_each: results in order, each the body's output; null is no items;
 * not an array, or over max_items, fails the step (500); a body step's
 * failure fails the loop, or, under the loop's on_error continue, gives
 * the loop's error output and the run goes on. */
static void test_for_each(void)
{
    Capture c;
    run_loop(&wf_loop, "[1,2,3]", &c);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_STRING_EQUAL(c.body, "{\"results\":[2,4.1,6.2],\"count\":3}");
    capture_free(&c);
    run_loop(&wf_loop, "null", &c);
    CU_ASSERT_STRING_EQUAL(c.body, "{\"results\":[],\"count\":0}");
    capture_free(&c);
    run_loop(&wf_loop, "{\"a\":1}", &c);         /* the 500 names the step */
    CU_ASSERT_EQUAL(c.status, 500);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "\"error\":\"step 'each' failed\""));
    capture_free(&c);
    run_loop(&wf_loop, "[1,\"x\",3]", &c);
    CU_ASSERT_EQUAL(c.status, 500);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "\"error\":\"step 'double' failed\""));
    capture_free(&c);
    run_loop(&wf_loop_cont, "{\"a\":1}", &c);    /* its error, in its output */
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "must be an array, not an object"));
    capture_free(&c);
    run_loop(&wf_loop_cont, "[1,2,3,4]", &c);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "4 items, more than its max_items (3)"));
    capture_free(&c);
    run_loop(&wf_loop_cont, "[1,\"x\",3]", &c);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_STRING_EQUAL(c.body,
        "{\"results\":null,\"count\":null,\"error\":\"not a number\"}");
    capture_free(&c);
}

static const UnitTest tests[] = {
    { "inline", test_inline },
    { "default_202", test_default_202 },
    { "failure_500", test_failure_500 },
    { "on_error_continue", test_on_error_continue },
    { "delay_then_answer", test_delay_then_answer },
    { "deadline_504", test_deadline_504 },
    { "tail_after_answer", test_tail_after_answer },
    { "compact_in_long_delay", test_compact_in_long_delay },
    { "held_for_commit", test_held_for_commit },
    { "for_each", test_for_each },
    { NULL, NULL },
};
UNIT_SUITE_WITH("engine", tests, suite_init, suite_clean)
