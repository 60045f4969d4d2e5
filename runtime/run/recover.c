/* recover.c - the journal at start: opening it and resuming what it kept
 * (spec 7, 8.4); while serving, the runs --retry asks for (8.1).
 *
 * At start, before the handler listens, the journal is opened (locked,
 * checked, created when missing); runs that never reached their
 * acknowledgement are marked abandoned and logged, and every acknowledged,
 * unfinished run is rebuilt from it - its trigger and step outputs
 * restored, its attempt one more, its position the first step not
 * recorded.  Once the server listens, recover_resume() hands them to the
 * scheduler: a run that was in a delay waits only what is left of it.
 * Nothing of theirs is answered again: their callers were answered before
 * the crash.
 *
 * A run saved by another version of its workflow (its shape differs), or
 * of a workflow this binary lacks, is left by that scan.  When there are
 * such runs, a second scan maps each onto this version by step key
 * (run/reshape.c, spec 8.4): when the rule holds, it is rewritten in the
 * journal with this version's indexes and shape, and a third scan
 * rebuilds it like any other; when it does not - its workflow is gone,
 * its next step is gone, or an output the rest of it reads for certain
 * was never recorded - it is marked stranded with the reason and logged
 * (once: at the start that strands it; later starts do not look at
 * stranded runs) until `--retry ID --resume-at STEP` or `--drop`.  A
 * saved run whose bytes do not decode is logged and left in the journal
 * untouched, never dropped.
 *
 * `--journal PATH` or the default, the binary's name with ".journal", in
 * the working directory; `--journal none` turns the journal off. */
#include "run/recover.h"
#include "run/resume_at.h"
#include "run/run.h"
#include "journal/journal.h"
#include "ops/log.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    FlRun **runs;
    size_t n, cap;
} Rebuilt;

static Rebuilt saved;            /* at start, waiting for recover_resume() */
static Rebuilt retried;          /* 8.1: the journal thread's, in a look */
static const FlProgram *program; /* what recover_open() was given */

/* The journal's path for --journal opt (NULL: the default); false for
 * "none". */
bool recover_journal_path(char *out, size_t size, const char *opt, const char *argv0)
{
    if (opt && strcmp(opt, "none") == 0)
        return false;
    if (opt) {
        snprintf(out, size, "%s", opt);
    } else {
        /* Under systemd (StateDirectory=), $STATE_DIRECTORY names the
         * directory the service may write: the first of a ':' list. */
        const char *slash = strrchr(argv0, '/'), *dir = getenv("STATE_DIRECTORY");
        const char *name = slash ? slash + 1 : argv0;
        if (dir && *dir)
            snprintf(out, size, "%.*s/%s.journal", (int)strcspn(dir, ":"), dir, name);
        else
            snprintf(out, size, "%s.journal", name);
    }
    return true;
}

static const FlWorkflow *workflow_named(const FlProgram *p, const char *name)
{
    for (int i = 0; i < p->workflow_count; i++)
        if (strcmp(p->workflows[i]->name, name) == 0)
            return p->workflows[i];
    return NULL;
}

static void log_run(FlLogLevel level, const JournalSaved *s, const char *event,
                    const char *msg)
{
    if (!log_enabled(level))
        return;
    LogLine l = { .run_id = s->id, .workflow = s->workflow, .event = event,
                  .message = msg, .message_len = strlen(msg), .duration_ms = -1 };
    log_write(level, &l);
}

/* journal_open(): a run that never reached its acknowledgement. */
static int log_abandoned(void *arg, const JournalSaved *s)
{
    (void)arg;
    log_run(FL_LOG_WARN, s, "abandoned",
            "the handler stopped before this run was acknowledged: its sender "
            "got no answer and will retry");
    return 0;
}

/* Whether s's position is a step of wf as this binary has it. */
static bool position_ok(const FlWorkflow *wf, const JournalSaved *s)
{
    if (s->next == FL_NEXT_END)
        return true;
    return s->next > 0 && s->next < wf->step_count && wf->steps[s->next].fn
        && strcmp(wf->steps[s->next].key, s->next_key) == 0;
}

/* Rebuilds the saved run s of program p; NULL (logged) when it cannot
 * resume in this handler. */
static FlRun *rebuild(const FlProgram *p, const JournalSaved *s)
{
    const FlWorkflow *wf = workflow_named(p, s->workflow);
    FlRun *run = NULL;
    if (!wf)
        log_run(FL_LOG_ERROR, s, "recover", "its workflow is not in this handler: "
                "left in the journal");
    else if (!position_ok(wf, s))
        log_run(FL_LOG_ERROR, s, "recover", "its next step is not in this handler's "
                "workflow (was it changed?): left in the journal");
    else if (!(run = run_restore(wf, s)))
        log_run(FL_LOG_ERROR, s, "recover", "its saved outputs do not decode: "
                "left in the journal");
    return run;
}

static void runs_add(Rebuilt *l, FlRun *run)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->runs = rt_check(realloc(l->runs, l->cap * sizeof *l->runs));
    }
    l->runs[l->n++] = run;
}

/* What the first pass decided for a run saved by another shape of its
 * workflow, done once the scan is over (no writes while it reads). */
typedef struct {
    JournalRun run;              /* rewrite: run; strand: its id, workflow */
    const char *reason;          /* strand: why; NULL: rewrite */
    bool moved;                  /* rewritten: to be rebuilt */
} Reshaped;

typedef struct {
    const FlProgram *p;
    FlArena arena;               /* everything of the list */
    Reshaped *list;
    size_t n, cap;
} ReshapePass;

static const char *pass_copy(ReshapePass *r, const char *s)
{
    return fl_string(&r->arena, s, strlen(s))->u.s;
}

static Reshaped *pass_add(ReshapePass *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->list = rt_check(realloc(r->list, r->cap * sizeof *r->list));
    }
    return memset(&r->list[r->n++], 0, sizeof *r->list);
}

/* journal_recover(), after the first pass found runs of other shapes: a
 * run saved by another shape of its workflow is to be rewritten for this
 * one, or stranded. */
static int reshape_one(void *arg, const JournalSaved *s)
{
    ReshapePass *r = arg;
    const FlWorkflow *wf = workflow_named(r->p, s->workflow);
    char reason[640];
    if (wf && (s->shape == wf->shape || s->shape == 0))
        return 0;              /* 0: a format-1 run, checked by position */
    JournalRun run;
    int rc = 1;
    if (!wf)
        snprintf(reason, sizeof reason, "workflow '%s' is not in this handler",
                 s->workflow);
    else
        rc = resume_at_saved(wf, s, &r->arena, s->next_key, &run, reason, sizeof reason);
    if (rc < 0) {
        log_run(FL_LOG_ERROR, s, "recover", reason);
        return 0;
    }
    Reshaped *x = pass_add(r);
    if (rc == 0) {
        x->run = run;
        return 0;
    }
    /* this start does not attempt it: the attempt it counted is undone */
    x->run = (JournalRun){ .id = pass_copy(r, s->id),
                           .workflow = pass_copy(r, s->workflow),
                           .attempt = s->attempt > 1 ? s->attempt - 1 : 1 };
    x->reason = pass_copy(r, reason);
    return 0;
}

/* Strands x's run: in the journal, and in the log once. */
static void strand(const Reshaped *x)
{
    char msg[1024];
    if (journal_strand(x->run.id, x->run.attempt, x->reason) < 0)
        return;
    snprintf(msg, sizeof msg, "stranded: %s; resume it with --retry %s --resume-at "
             "STEP, or remove it with --drop %s", x->reason, x->run.id, x->run.id);
    JournalSaved s = { .id = x->run.id, .workflow = x->run.workflow };
    log_run(FL_LOG_WARN, &s, "stranded", msg);
}

static void log_reshaped(const JournalRun *run)
{
    char msg[512];
    JournalSaved s = { .id = run->id, .workflow = run->workflow };
    snprintf(msg, sizeof msg, "saved by another version of its workflow: it "
             "resumes at step %s, its outputs moved by step key",
             *run->next_key ? run->next_key : "(its end)");
    log_run(FL_LOG_INFO, &s, "reshaped", msg);
}

/* Strands or rewrites what reshape_one() decided, once the scan is over;
 * returns how many runs were rewritten. */
static size_t reshape_apply(ReshapePass *r)
{
    size_t moved = 0;
    for (size_t i = 0; i < r->n; i++) {
        Reshaped *x = &r->list[i];
        if (x->reason)
            strand(x);
        else if ((x->moved = journal_rewrite(&x->run, false) == 0))
            log_reshaped(&x->run);
        moved += x->moved;
    }
    return moved;
}

/* Whether r rewrote run id (NULL: no pass, every run counts). */
static bool was_moved(const ReshapePass *r, const char *id)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->list[i].moved && strcmp(r->list[i].run.id, id) == 0)
            return true;
    return !r;
}

/* What a rebuilding scan does: every run of this binary's shapes, or only
 * those a reshape pass moved. */
typedef struct {
    const FlProgram *p;
    const ReshapePass *moved;    /* NULL: every run */
    bool other_shapes;           /* a run of another shape (or workflow)
                                    was seen: a reshape pass is needed */
} Restore;

/* journal_recover(): rebuilds the acknowledged, unfinished run s of the
 * Restore arg, when it is of this binary's shape (or of a format-1
 * journal, checked by position). */
static int restore_one(void *arg, const JournalSaved *s)
{
    Restore *r = arg;
    const FlWorkflow *wf = workflow_named(r->p, s->workflow);
    FlRun *run = NULL;
    if (!wf || (s->shape && s->shape != wf->shape)) {
        r->other_shapes = true;
        return 0;
    }
    if (!was_moved(r->moved, s->id))
        return 0;
    if (!position_ok(wf, s))
        log_run(FL_LOG_ERROR, s, "recover", "its next step is not in this handler's "
                "workflow (was it changed?): left in the journal");
    else if (!(run = run_restore(wf, s)))
        log_run(FL_LOG_ERROR, s, "recover", "its saved outputs do not decode: "
                "left in the journal");
    if (run)
        runs_add(&saved, run);
    return 0;
}

/* The runs the first scan left for being of other shapes: moved onto this
 * binary's workflows (then rebuilt) or stranded.  A second and a third scan,
 * made only when such runs exist.  0 or -1. */
static int recover_reshaped(const FlProgram *p)
{
    ReshapePass pass = { .p = p };
    Restore again = { .p = p, .moved = &pass };
    fl_arena_init(&pass.arena, NULL, 0);
    int rc = journal_recover(reshape_one, &pass);
    if (rc == 0 && reshape_apply(&pass) > 0)
        rc = journal_recover(restore_one, &again);
    free(pass.list);
    fl_arena_destroy(&pass.arena);
    return rc;
}

/* ---- 8.1: runs --retry asked for, while the handler serves -------------- */

/* The journal thread's look: a retried run of program arg, rebuilt now
 * and started once the journal has made it pending (retried_taken). */
static int retried_take(void *arg, const JournalSaved *s)
{
    FlRun *run = rebuild(arg, s);
    if (!run)
        return 1;                        /* logged; it stays failed */
    log_run(FL_LOG_INFO, s, "retried", "--retry asked for it");
    runs_add(&retried, run);
    return 0;
}

static void retried_taken(void *arg, bool committed)
{
    (void)arg;
    for (size_t i = 0; i < retried.n; i++)
        run_restart(retried.runs[i], !committed);
    retried.n = 0;
}

void recover_quiesce(void)
{
    journal_watch(NULL);
}

long recover_failed_kept(void)
{
    return journal_failed_kept();
}

int recover_open(const FlProgram *p, const char *opt, const char *argv0)
{
    char path[4096], err[4096 + 256];
    if (!recover_journal_path(path, sizeof path, opt, argv0))
        return 0;
    if (journal_open(path, log_abandoned, NULL, err, sizeof err) != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s\n", err);
        if (!opt)                /* the default place: say how to choose */
            fprintf(stderr, "flusso: the journal's place is chosen with --journal PATH "
                    "(or $STATE_DIRECTORY); --journal none runs without one\n");
        return 2;
    }
    program = p;
    Restore all = { .p = p };
    journal_put_shapes(p);
    int rc = journal_recover(restore_one, &all);
    if (rc == 0 && all.other_shapes)
        rc = recover_reshaped(p);
    if (rc != 0) {
        fprintf(stderr, "flusso: cannot read the runs of journal %s\n", path);
        recover_close();
        return 2;
    }
    if (saved.n)
        log_event(FL_LOG_INFO, "recover", "%zu run(s) resume from journal %s",
                  saved.n, path);
    return 0;
}

void recover_resume(void)
{
    JournalWatch w = { .take = retried_take, .taken = retried_taken,
                       .arg = (void *)program };
    for (size_t i = 0; i < saved.n; i++)
        run_restart(saved.runs[i], false);
    saved.n = 0;
    journal_watch(&w);                   /* 8.1: --retry while we serve */
}

void recover_close(void)
{
    for (size_t i = 0; i < saved.n; i++)     /* the server never started */
        run_restart(saved.runs[i], true);
    free(saved.runs);
    saved.runs = NULL;
    saved.n = saved.cap = 0;
    journal_close();                     /* stops the looks first */
    free(retried.runs);
    retried = (Rebuilt){ 0 };
}
