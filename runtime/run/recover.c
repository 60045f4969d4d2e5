/* recover.c - the journal at start: opening it and resuming what it kept
 * (spec 7); while serving, the runs --retry asks for (8.1).
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
 * A saved run that cannot be resumed safely - its workflow is no longer in
 * this binary, its next step is not where the binary has it, its bytes do
 * not decode - is logged and left in the journal untouched, never dropped.
 *
 * `--journal PATH` or the default, the binary's name with ".journal", in
 * the working directory; `--journal none` turns the journal off. */
#include "run/recover.h"
#include "run/run.h"
#include "journal/journal.h"
#include "ops/log.h"

#include <stdbool.h>
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
static bool journal_path(char *out, size_t size, const char *opt, const char *argv0)
{
    if (opt && strcmp(opt, "none") == 0)
        return false;
    if (opt) {
        snprintf(out, size, "%s", opt);
    } else {
        const char *slash = strrchr(argv0, '/');
        snprintf(out, size, "%s.journal", slash ? slash + 1 : argv0);
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

/* journal_recover(): one acknowledged, unfinished run of program arg. */
static int restore_one(void *arg, const JournalSaved *s)
{
    FlRun *run = rebuild(arg, s);
    if (run)
        runs_add(&saved, run);
    return 0;
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
    if (!journal_path(path, sizeof path, opt, argv0))
        return 0;
    program = p;
    if (journal_open(path, log_abandoned, NULL, err, sizeof err) != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s\n", err);
        return 2;
    }
    if (journal_recover(restore_one, (void *)p) != 0) {
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

bool recover_journal_path(char *out, size_t size, const char *journal,
                          const char *argv0)
{
    return journal_path(out, size, journal, argv0);
}
