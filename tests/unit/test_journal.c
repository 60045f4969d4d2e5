/* test_journal.c - the journal of runs (runtime/journal.h): what it keeps
 * and gives back in each state of a run, abandoned runs, the failed
 * commit, values kept byte for byte, the lock, and damaged journals
 * refused and left exactly as they were. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "journal/journal.h"
#include "ops/log.h"
#include "unit.h"

/* ---- fixtures ------------------------------------------------------------ */

static char dir[64];
static char path[128];

/* A fresh scratch directory and the journal path in it. */
static void scratch(void)
{
    snprintf(dir, sizeof dir, "/tmp/flusso-unit-journal.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/h.journal", dir);
}

static void scratch_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static const FlValue *J(FlArena *a, const char *s)
{
    const FlValue *v = fl_json_parse(a, s, strlen(s));
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static const FlValue *S(FlArena *a, const char *s, size_t n)
{
    return fl_string(a, s, n);
}

enum { STEPS = 5 };

/* A run of a 5-step workflow with trigger and step 1 done, at step 2. */
typedef struct {
    FlArena arena;
    const FlValue *outputs[STEPS];
    JournalRun run;
} Fixture;

static void fixture(Fixture *f, const char *id, const char *event)
{
    char body[64];
    fl_arena_init(&f->arena, NULL, 0);
    memset(f->outputs, 0, sizeof f->outputs);
    snprintf(body, sizeof body, "{\"id\":\"%s\"}", event);
    FlObjectBuilder ob;
    fl_object_init(&ob, &f->arena, 3);
    fl_object_add(&ob, "method", 6, S(&f->arena, "POST", 4));
    fl_object_add(&ob, "body", 4, J(&f->arena, body));
    fl_object_add(&ob, "raw_body", 8, S(&f->arena, body, strlen(body)));
    f->outputs[0] = fl_object_finish(&ob);
    f->outputs[1] = J(&f->arena, "{\"sent\":true,\"status\":200}");
    f->run = (JournalRun){
        .id = id, .workflow = "wf", .started_at = "2026-01-02T03:04:05.678Z",
        .attempt = 1, .outputs = f->outputs, .step_count = STEPS,
        .next = 2, .next_key = "pause",
    };
}

static void fixture_free(Fixture *f)
{
    fl_arena_destroy(&f->arena);
}

static int done_calls, done_durable;

static void on_done(void *arg, bool durable)
{
    (void)arg;
    done_calls++;
    done_durable += durable;
}

/* What a scan saw, for the checks. */
typedef struct {
    int count;
    char id[8][40];
    JournalState state[8];
    int attempt[8], next[8];
    char next_key[8][16];
    int64_t wake_at[8];
    int tries[8];
    char json[8][256];
    char error[8][32];
} Seen;

static int remember(void *arg, const JournalSaved *s)
{
    Seen *seen = arg;
    int i = seen->count++;
    CU_ASSERT_FATAL(i < 8);
    snprintf(seen->id[i], sizeof seen->id[i], "%s", s->id);
    seen->state[i] = s->state;
    seen->attempt[i] = s->attempt;
    seen->next[i] = s->next;
    snprintf(seen->next_key[i], sizeof seen->next_key[i], "%s", s->next_key);
    seen->wake_at[i] = s->wake_at;
    snprintf(seen->error[i], sizeof seen->error[i], "%s", s->error ? s->error : "(null)");
    seen->tries[i] = s->tries;
    FlArena a;
    const FlValue *outputs[STEPS] = { 0 };
    fl_arena_init(&a, NULL, 0);
    CU_ASSERT_EQUAL(journal_decode(s, &a, outputs, STEPS), 0);
    FlArrayBuilder ab;
    fl_array_init(&ab, &a, STEPS);
    for (int k = 0; k < STEPS; k++)
        fl_array_append(&ab, outputs[k] ? outputs[k] : &fl_null);
    snprintf(seen->json[i], sizeof seen->json[i], "%s",
             fl_json_text(&a, fl_array_finish(&ab))->u.s);
    fl_arena_destroy(&a);
    return 0;
}

static int open_journal(Seen *abandoned, char *err, size_t errlen)
{
    return journal_open(path, abandoned ? remember : NULL, abandoned, err, errlen);
}

/* ---- each state of a run ---------------------------------------------------- */

/* Acknowledged, then a step, then a delay with its due time: after a
 * restart it comes back with one more attempt, its outputs and the latest
 * position; a finished run does not come back at all. */
static void test_record_restore(void)
{
    Fixture a, b;
    Seen seen = { 0 };
    char err[512];
    scratch();
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_TRUE(journal_enabled());
    fixture(&a, "run-a", "evt-1");
    fixture(&b, "run-b", "evt-2");
    done_calls = done_durable = 0;
    journal_acknowledge(&a.run, on_done, NULL);
    journal_acknowledge(&b.run, on_done, NULL);
    a.outputs[2] = J(&a.arena, "{\"waited_ms\":5000}");
    a.run.next = 3;
    a.run.next_key = "record";
    a.run.wake_at = 4102444800000;          /* 2100-01-01 */
    journal_step(&a.run, 2);
    journal_finish("run-b");
    journal_close();
    CU_ASSERT_FALSE(journal_enabled());
    CU_ASSERT_EQUAL(done_calls, 2);
    CU_ASSERT_EQUAL(done_durable, 2);

    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember, &seen), 0);
    journal_close();
    CU_ASSERT_EQUAL_FATAL(seen.count, 1);
    CU_ASSERT_STRING_EQUAL(seen.id[0], "run-a");
    CU_ASSERT_EQUAL(seen.state[0], JOURNAL_PENDING);
    CU_ASSERT_EQUAL(seen.attempt[0], 2);
    CU_ASSERT_EQUAL(seen.next[0], 3);
    CU_ASSERT_STRING_EQUAL(seen.next_key[0], "record");
    CU_ASSERT_EQUAL(seen.wake_at[0], 4102444800000);
    CU_ASSERT_STRING_EQUAL(seen.json[0],
        "[{\"method\":\"POST\",\"body\":{\"id\":\"evt-1\"},\"raw_body\":\"{\\\"id\\\":\\\"evt-1\\\"}\"},"
        "{\"sent\":true,\"status\":200},{\"waited_ms\":5000},null,null]");

    /* every start counts one more attempt */
    memset(&seen, 0, sizeof seen);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember, &seen), 0);
    journal_close();
    CU_ASSERT_EQUAL(seen.attempt[0], 3);
    fixture_free(&a);
    fixture_free(&b);
    scratch_remove();
}

/* 8.2: an acknowledged run whose step 2 (an http_request) waits to try
 * again keeps its position there - the attempts made and when the next is
 * due - with no output for it; the step's output, once it has one,
 * replaces that record. */
static void test_retry_position(void)
{
    Fixture a;
    Seen seen = { 0 };
    char err[512];
    scratch();
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    fixture(&a, "run-a", "evt-1");
    journal_acknowledge(&a.run, on_done, NULL);
    a.run.wake_at = 4102444800000;
    a.run.tries = 3;
    journal_position(&a.run, 2);
    journal_close();
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember, &seen), 0);
    CU_ASSERT_EQUAL_FATAL(seen.count, 1);
    CU_ASSERT_EQUAL(seen.next[0], 2);
    CU_ASSERT_STRING_EQUAL(seen.next_key[0], "pause");
    CU_ASSERT_EQUAL(seen.wake_at[0], 4102444800000);
    CU_ASSERT_EQUAL(seen.tries[0], 3);
    CU_ASSERT_STRING_EQUAL(seen.json[0],
        "[{\"method\":\"POST\",\"body\":{\"id\":\"evt-1\"},\"raw_body\":\"{\\\"id\\\":\\\"evt-1\\\"}\"},"
        "{\"sent\":true,\"status\":200},null,null,null]");

    a.outputs[2] = J(&a.arena, "{\"status\":200,\"attempts\":5}");
    a.run = (JournalRun){ .id = "run-a", .workflow = "wf", .started_at = "x",
                          .attempt = 2, .outputs = a.outputs, .step_count = STEPS,
                          .next = 3, .next_key = "record" };
    journal_step(&a.run, 2);
    journal_close();
    memset(&seen, 0, sizeof seen);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember, &seen), 0);
    journal_close();
    CU_ASSERT_EQUAL_FATAL(seen.count, 1);
    CU_ASSERT_EQUAL(seen.next[0], 3);
    CU_ASSERT_EQUAL(seen.wake_at[0], 0);
    CU_ASSERT_EQUAL(seen.tries[0], 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(seen.json[0], ",{\"status\":200,\"attempts\":5},null,null]"));
    fixture_free(&a);
    scratch_remove();
}

/* A run noted while waiting for its answer and never acknowledged is
 * marked abandoned at the next start (and reported once); --runs lists it
 * as abandoned, before and after. */
static void test_abandoned(void)
{
    Fixture f, g;
    Seen abandoned = { 0 }, listed = { 0 }, pending = { 0 };
    char err[512];
    scratch();
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    fixture(&f, "run-w", "evt-w");
    fixture(&g, "run-x", "evt-x");
    journal_waiting(&f.run);
    journal_waiting(&g.run);
    journal_acknowledge(&g.run, NULL, NULL);    /* supersedes its note */
    journal_close();

    CU_ASSERT_EQUAL(journal_list(path, remember, &listed, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL_FATAL(listed.count, 2);
    CU_ASSERT_EQUAL(listed.state[0] + listed.state[1], JOURNAL_ABANDONED + JOURNAL_PENDING);

    CU_ASSERT_EQUAL_FATAL(open_journal(&abandoned, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember, &pending), 0);
    journal_close();
    CU_ASSERT_EQUAL_FATAL(abandoned.count, 1);
    CU_ASSERT_STRING_EQUAL(abandoned.id[0], "run-w");
    CU_ASSERT_EQUAL_FATAL(pending.count, 1);
    CU_ASSERT_STRING_EQUAL(pending.id[0], "run-x");

    memset(&abandoned, 0, sizeof abandoned);
    memset(&listed, 0, sizeof listed);
    CU_ASSERT_EQUAL_FATAL(open_journal(&abandoned, err, sizeof err), JOURNAL_OK);
    journal_close();
    CU_ASSERT_EQUAL(abandoned.count, 0);          /* reported once */
    CU_ASSERT_EQUAL(journal_list(path, remember, &listed, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(listed.count, 2);
    fixture_free(&f);
    fixture_free(&g);
    scratch_remove();
}

/* The test hook fails the Nth acknowledgement: its caller learns it, the
 * run is kept as abandoned, and the next one commits again. */
static void test_failed_commit(void)
{
    Fixture f, g;
    Seen listed = { 0 };
    char err[512];
    FlLogLevel level = log_min;
    log_min = FL_LOG_ERROR + 1;            /* the failure's log line: expected */
    scratch();
    setenv("FLUSSO_JOURNAL_FAIL_AFTER", "1", 1);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    unsetenv("FLUSSO_JOURNAL_FAIL_AFTER");
    fixture(&f, "run-f", "evt-f");
    fixture(&g, "run-g", "evt-g");
    done_calls = done_durable = 0;
    journal_acknowledge(&f.run, on_done, NULL);
    journal_close();
    CU_ASSERT_EQUAL(done_calls, 1);
    CU_ASSERT_EQUAL(done_durable, 0);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    journal_acknowledge(&g.run, on_done, NULL);
    journal_close();
    CU_ASSERT_EQUAL(done_calls, 2);
    CU_ASSERT_EQUAL(done_durable, 1);
    CU_ASSERT_EQUAL(journal_list(path, remember, &listed, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL_FATAL(listed.count, 2);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(listed.state[i], strcmp(listed.id[i], "run-f") == 0
                        ? JOURNAL_ABANDONED : JOURNAL_PENDING);
    fixture_free(&f);
    fixture_free(&g);
    scratch_remove();
    log_min = level;
}

/* ---- values byte for byte ------------------------------------------------- */

static int keep_json(void *arg, const JournalSaved *s)
{
    FlArena *a = arg;
    const FlValue *outputs[STEPS] = { 0 };
    CU_ASSERT_EQUAL(journal_decode(s, a, outputs, STEPS), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(outputs[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(outputs[1]);
    /* what JSON cannot carry survives: NUL bytes, bytes that are not UTF-8 */
    CU_ASSERT_EQUAL(outputs[1]->type, FL_STRING);
    CU_ASSERT_EQUAL(outputs[1]->len, 5);
    CU_ASSERT_EQUAL(memcmp(outputs[1]->u.s, "a\0\xff\xfe" "b", 5), 0);
    CU_ASSERT_TRUE(fl_equal(outputs[0], J(a, "{\"n\":[0.1,-0,1e300,-5,true,false,null],"
                                             "\"o\":{},\"a\":[],\"s\":\"\\u00e9\",\"k\":1,\"k\":2}")));
    CU_ASSERT_EQUAL(outputs[0]->len, 6);           /* the duplicate key kept */
    return 0;
}

static void test_values_exact(void)
{
    Fixture f;
    char err[512];
    FlArena a;
    scratch();
    fixture(&f, "run-v", "evt-v");
    f.outputs[0] = J(&f.arena, "{\"n\":[0.1,-0,1e300,-5,true,false,null],"
                               "\"o\":{},\"a\":[],\"s\":\"\\u00e9\",\"k\":1,\"k\":2}");
    f.outputs[1] = S(&f.arena, "a\0\xff\xfe" "b", 5);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    journal_acknowledge(&f.run, NULL, NULL);
    journal_close();
    fl_arena_init(&a, NULL, 0);
    CU_ASSERT_EQUAL(journal_list(path, keep_json, &a, err, sizeof err), JOURNAL_OK);
    fl_arena_destroy(&a);
    fixture_free(&f);
    scratch_remove();
}

/* Bytes that are not a valid encoding are refused, not misread. */
static void test_decode_refuses(void)
{
    static const unsigned char bad[][12] = {
        { 1, 0, 0, 0 },                          /* one output, then nothing */
        { 1, 0, 0, 0, 9, 0, 0, 0, 'n' },         /* index out of range */
        { 1, 0, 0, 0, 0, 0, 0, 0, 's', 9, 0, 0 },  /* string past the end */
        { 1, 0, 0, 0, 0, 0, 0, 0, 'a', 255, 255, 255 },  /* absurd count */
        { 1, 0, 0, 0, 0, 0, 0, 0, 'x' },         /* unknown tag */
        { 0, 0, 0, 0, 'n' },                     /* trailing bytes */
    };
    static const size_t len[] = { 4, 9, 12, 12, 9, 5 };
    FlArena a;
    fl_arena_init(&a, NULL, 0);
    for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        const FlValue *outputs[STEPS] = { 0 };
        JournalSaved s = { .outputs = bad[i], .outputs_len = len[i] };
        CU_ASSERT_EQUAL(journal_decode(&s, &a, outputs, STEPS), -1);
    }
    fl_arena_destroy(&a);
}

/* ---- opening --------------------------------------------------------------- */

/* One handler per journal: the lock refuses a second holder, naming the
 * first's pid. */
static void test_lock(void)
{
    char err[512], pid[32];
    JournalStatus st;
    scratch();
    JournalDb *one = journal_sqlite.open(path, false, NULL, &st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(one);
    JournalDb *two = journal_sqlite.open(path, false, NULL, &st, err, sizeof err);
    CU_ASSERT_PTR_NULL(two);
    CU_ASSERT_EQUAL(st, JOURNAL_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
    CU_ASSERT_PTR_NOT_NULL(strstr(err, pid));
    bool locked = false;
    JournalDb *reader = journal_sqlite.open(path, true, &locked, &st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(reader);              /* --runs needs no lock */
    CU_ASSERT_TRUE(locked);
    journal_sqlite.close(reader);
    journal_sqlite.close(one);
    two = journal_sqlite.open(path, false, NULL, &st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(two);                 /* free again */
    journal_sqlite.close(two);
    scratch_remove();
}

static void test_cannot_open(void)
{
    char err[512];
    Seen seen = { 0 };
    snprintf(path, sizeof path, "/nonexistent-flusso-dir/h.journal");
    CU_ASSERT_EQUAL(journal_open(path, NULL, NULL, err, sizeof err), JOURNAL_ECANTOPEN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    CU_ASSERT_FALSE(journal_enabled());
    /* --runs on a journal that does not exist: no runs, nothing created */
    scratch();
    CU_ASSERT_EQUAL(journal_list(path, remember, &seen, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(seen.count, 0);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    /* a directory where the journal should be */
    CU_ASSERT_EQUAL(mkdir(path, 0755), 0);
    CU_ASSERT_EQUAL(journal_open(path, NULL, NULL, err, sizeof err), JOURNAL_ECANTOPEN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    scratch_remove();
}

/* ---- damaged journals ---------------------------------------------------- */

/* The SHA-256 of the file at p, as hex; "" when unreadable. */
static void file_sum(const char *p, char out[65])
{
    FILE *f = fopen(p, "rb");
    unsigned char sum[32];
    static char buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    out[0] = '\0';
    if (!f)
        return;
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(fl_sha256_raw(buf, n, sum), 0);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sum[i]);
}

/* Opening the file at path (for a handler and for --runs) is refused as
 * damaged, naming it, and leaves its bytes exactly as they were. */
static void expect_refused(const char *what)
{
    char before[65], after[65], err[1024];
    Seen seen = { 0 };
    file_sum(path, before);
    CU_ASSERT_EQUAL(journal_open(path, NULL, NULL, err, sizeof err), JOURNAL_ECORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    CU_ASSERT_FALSE(journal_enabled());
    CU_ASSERT_EQUAL(journal_list(path, remember, &seen, err, sizeof err), JOURNAL_ECORRUPT);
    file_sum(path, after);
    CU_ASSERT_STRING_EQUAL(before, after);
    if (strcmp(before, after) != 0)
        fprintf(stderr, "\n%s: the file changed\n", what);
}

/* A journal with a few hundred runs in several pages, all in the main
 * file (closing checkpoints the log into it). */
static void make_journal(void)
{
    char err[512];
    Fixture f;
    char id[40];
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    fixture(&f, "", "evt");
    char big[2000];
    memset(big, 'x', sizeof big);
    f.outputs[1] = S(&f.arena, big, sizeof big);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "run-%04d", i);
        f.run.id = id;
        journal_acknowledge(&f.run, NULL, NULL);
    }
    journal_close();
    fixture_free(&f);
}

static void write_file(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_truncated(void)
{
    struct stat st;
    scratch();
    make_journal();
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_FATAL(st.st_size > 100000);
    CU_ASSERT_EQUAL(truncate(path, st.st_size / 2), 0);
    expect_refused("truncated to half");
    CU_ASSERT_EQUAL(truncate(path, 50), 0);
    expect_refused("truncated inside its header");
    CU_ASSERT_EQUAL(truncate(path, 0), 0);
    expect_refused("empty");
    scratch_remove();
}

static void test_garbage(void)
{
    char junk[8192];
    struct stat st;
    scratch();
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    write_file(path, junk, sizeof junk);
    expect_refused("garbage");
    /* a real journal with garbage written over its middle */
    scratch_remove();
    scratch();
    make_journal();
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    int fd = open(path, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof junk, st.st_size / 2 / 4096 * 4096),
                    (ssize_t)sizeof junk);
    close(fd);
    expect_refused("garbage over its pages");
    scratch_remove();
}

/* A SQLite database, but not a journal: another application's, and one
 * with our mark but other tables. */
static void test_other_schema(void)
{
    sqlite3 *db;
    scratch();
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "CREATE TABLE runs (x); INSERT INTO runs VALUES (1);",
                                 NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_refused("another application's database");
    scratch_remove();
    scratch();
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "PRAGMA application_id = 1181513075;"
                                 "PRAGMA user_version = 1; CREATE TABLE other (x);",
                                 NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_refused("our mark, other tables");
    scratch_remove();
    scratch();
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "PRAGMA application_id = 1181513075;"
                                 "PRAGMA user_version = 99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_refused("a later format");
    scratch_remove();
}

/* ---- 8.1: failed runs kept ------------------------------------------------- */

static int outcomes, outcomes_done;

static void count_outcome(void *arg, const JournalOutcome *o)
{
    (void)arg;
    outcomes++;
    outcomes_done += o->done;
    if (o->done) {
        CU_ASSERT_STRING_EQUAL(o->workflow, "wf");
        CU_ASSERT_STRING_EQUAL(o->step, "record");
    } else {
        CU_ASSERT_PTR_NOT_NULL(o->why);
    }
}

/* A run failed after its acknowledgement is kept at the failed step with
 * its error, attempt and outputs; it is not resumed at start; --retry
 * makes it pending with one more attempt at that step (outputs intact);
 * --drop removes it; an unknown id is refused and reported. */
static void test_failed_kept(void)
{
    Fixture f;
    Seen seen = { 0 };
    char err[512];
    const char *ids[] = { "run-f", "nope", "run-f" };
    scratch();
    fixture(&f, "run-f", "evt-f");
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_failed_kept(), 0);
    journal_acknowledge(&f.run, NULL, NULL);
    f.outputs[2] = J(&f.arena, "{\"waited_ms\":1}");
    f.run.next = 3;
    f.run.next_key = "record";
    journal_step(&f.run, 2);
    journal_fail(&f.run, "boom\tand a\nnew line");
    journal_close();

    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_failed_kept(), 1);
    CU_ASSERT_EQUAL(journal_recover(remember, &seen), 0);
    journal_close();
    CU_ASSERT_EQUAL(seen.count, 0);              /* not resumed */
    CU_ASSERT_EQUAL(journal_list(path, remember, &seen, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL_FATAL(seen.count, 1);
    CU_ASSERT_EQUAL(seen.state[0], JOURNAL_FAILED);
    CU_ASSERT_EQUAL(seen.attempt[0], 1);
    CU_ASSERT_EQUAL(seen.next[0], 3);
    CU_ASSERT_STRING_EQUAL(seen.next_key[0], "record");
    CU_ASSERT_STRING_EQUAL(seen.error[0], "boom\tand a\nnew line");
    CU_ASSERT_PTR_NOT_NULL(strstr(seen.json[0], "{\"waited_ms\":1},null,null]"));

    JournalCommand retry = { .op = JOURNAL_RETRY, .ids = ids, .id_count = 3 };
    outcomes = outcomes_done = 0;
    CU_ASSERT_EQUAL(journal_command(path, &retry, count_outcome, NULL, err, sizeof err),
                    JOURNAL_OK);
    CU_ASSERT_EQUAL(outcomes, 2);                /* a repeated id counts once */
    CU_ASSERT_EQUAL(outcomes_done, 1);
    memset(&seen, 0, sizeof seen);
    CU_ASSERT_EQUAL(journal_list(path, remember, &seen, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(seen.state[0], JOURNAL_RETRYING);

    memset(&seen, 0, sizeof seen);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_failed_kept(), 0);
    CU_ASSERT_EQUAL(journal_recover(remember, &seen), 0);
    CU_ASSERT_EQUAL_FATAL(seen.count, 1);
    CU_ASSERT_EQUAL(seen.state[0], JOURNAL_PENDING);
    CU_ASSERT_EQUAL(seen.attempt[0], 2);         /* one more than the one failed */
    CU_ASSERT_EQUAL(seen.next[0], 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(seen.json[0], "{\"waited_ms\":1},null,null]"));
    f.run.attempt = 2;
    journal_fail(&f.run, "again");
    journal_close();

    JournalCommand drop = { .op = JOURNAL_DROP, .ids = ids, .id_count = 1 };
    outcomes = outcomes_done = 0;
    CU_ASSERT_EQUAL(journal_command(path, &drop, count_outcome, NULL, err, sizeof err),
                    JOURNAL_OK);
    CU_ASSERT_EQUAL(outcomes_done, 1);
    memset(&seen, 0, sizeof seen);
    CU_ASSERT_EQUAL(journal_list(path, remember, &seen, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(seen.count, 0);
    fixture_free(&f);
    scratch_remove();
}

/* ---- 8.4: shapes, stranded runs, rewritten runs --------------------------- */

typedef struct {
    int count;
    JournalState state;
    int64_t shape;
    int attempt, next, steps;
    char error[128];
} One;

static int remember_one(void *arg, const JournalSaved *s)
{
    One *o = arg;
    o->count++;
    o->state = s->state;
    o->shape = s->shape;
    o->attempt = s->attempt;
    o->next = s->next;
    o->steps = (int)s->step_count;
    snprintf(o->error, sizeof o->error, "%s", s->error ? s->error : "(null)");
    return 0;
}

static const FlStepInfo shape_steps[] = {
    { .key = "trigger" }, { .key = "call" }, { .key = "pause" }, { .key = "record" },
};
static const FlWorkflow shape_wf = { .name = "wf", .steps = shape_steps,
                                     .step_count = 4, .shape = 77 };
static const FlWorkflow *const shape_wfs[] = { &shape_wf };
static const FlProgram shape_program = { .workflows = shape_wfs, .workflow_count = 1 };

/* The keys of each workflow's shape are kept; a stranded run keeps its
 * reason, is not recovered and is listed; a rewrite replaces the run's
 * rows (outputs, position, shape) and makes it pending again. */
static void test_shapes_strand_rewrite(void)
{
    Fixture a;
    One one = { 0 };
    char err[512], *keys;
    scratch();
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_put_shapes(&shape_program), 0);
    CU_ASSERT_EQUAL(journal_put_shapes(&shape_program), 0);      /* known: kept */
    keys = journal_shape_keys(77);
    CU_ASSERT_STRING_EQUAL(keys, "trigger\ncall\npause\nrecord");
    free(keys);
    CU_ASSERT_PTR_NULL(journal_shape_keys(78));
    fixture(&a, "run-a", "evt-1");
    a.run.shape = 77;
    journal_acknowledge(&a.run, NULL, NULL);
    a.outputs[2] = J(&a.arena, "{\"waited_ms\":5}");
    a.run.next = 3;
    journal_step(&a.run, 2);
    journal_close();

    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember_one, &one), 0);
    CU_ASSERT_EQUAL(one.count, 1);
    CU_ASSERT_EQUAL(one.shape, 77);
    CU_ASSERT_EQUAL(one.steps, 1);
    CU_ASSERT_EQUAL(journal_strand("run-a", 1, "step 'x' is gone"), 0);
    memset(&one, 0, sizeof one);
    CU_ASSERT_EQUAL(journal_recover(remember_one, &one), 0);
    CU_ASSERT_EQUAL(one.count, 0);                 /* stranded: not resumed */
    journal_close();
    CU_ASSERT_EQUAL(journal_list(path, remember_one, &one, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(one.count, 1);
    CU_ASSERT_EQUAL(one.state, JOURNAL_STRANDED);
    CU_ASSERT_STRING_EQUAL(one.error, "step 'x' is gone");
    CU_ASSERT_EQUAL(one.attempt, 1);               /* not counted again */

    /* a command's connection moves it: outputs rewritten, steps rows gone */
    CU_ASSERT_EQUAL_FATAL(journal_admin_open(path, err, sizeof err), JOURNAL_OK);
    a.run.shape = 78;
    a.run.next = 1;
    a.run.next_key = "call";
    CU_ASSERT_EQUAL(journal_rewrite(&a.run, false), 0);
    journal_admin_close();
    memset(&one, 0, sizeof one);
    CU_ASSERT_EQUAL_FATAL(open_journal(NULL, err, sizeof err), JOURNAL_OK);
    CU_ASSERT_EQUAL(journal_recover(remember_one, &one), 0);
    journal_close();
    CU_ASSERT_EQUAL(one.count, 1);
    CU_ASSERT_EQUAL(one.state, JOURNAL_PENDING);
    CU_ASSERT_EQUAL(one.shape, 78);
    CU_ASSERT_EQUAL(one.next, 1);
    CU_ASSERT_EQUAL(one.steps, 0);
    CU_ASSERT_EQUAL(one.attempt, 2);
    CU_ASSERT_STRING_EQUAL(one.error, "(null)");
    CU_ASSERT_EQUAL(journal_admin_open(dir, err, sizeof err), JOURNAL_ECANTOPEN);
    fixture_free(&a);
    scratch_remove();
}

static const UnitTest tests[] = {
    {"record_restore", test_record_restore},
    {"failed_kept", test_failed_kept},
    {"retry_position", test_retry_position},
    {"abandoned", test_abandoned},
    {"failed_commit", test_failed_commit},
    {"values_exact", test_values_exact},
    {"decode_refuses", test_decode_refuses},
    {"lock", test_lock},
    {"cannot_open", test_cannot_open},
    {"truncated", test_truncated},
    {"garbage", test_garbage},
    {"other_schema", test_other_schema},
    {"shapes_strand_rewrite", test_shapes_strand_rewrite},
    {NULL, NULL},
};

UNIT_SUITE("journal", tests)
