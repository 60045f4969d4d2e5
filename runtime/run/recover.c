/* recover.c - the journal at start: opening it, resuming what it kept,
 * and `--runs` (spec 7).
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

#include <stdio.h>
#include <stdlib.h>

static struct {
    FlRun **runs;                /* rebuilt, waiting for recover_resume() */
    size_t n, cap;
} saved;

/* The journal's path for --journal opt (NULL: the default); false for
 * "none". */
static bool journal_path(char *out, size_t size, const char *opt, const char *argv0)
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

/* journal_recover(): one acknowledged, unfinished run. */
/* Rebuilds the saved run s of program arg (a FlProgram). */
static int restore_one(void *arg, const JournalSaved *s)
{
    const FlWorkflow *wf = workflow_named(arg, s->workflow);
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
    if (!run)
        return 0;
    if (saved.n == saved.cap) {
        saved.cap = saved.cap ? 2 * saved.cap : 16;
        saved.runs = rt_check(realloc(saved.runs, saved.cap * sizeof *saved.runs));
    }
    saved.runs[saved.n++] = run;
    return 0;
}

int recover_open(const FlProgram *p, const char *opt, const char *argv0)
{
    char path[4096], err[4096 + 256];
    if (!journal_path(path, sizeof path, opt, argv0))
        return 0;
    if (journal_open(path, log_abandoned, NULL, err, sizeof err) != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s\n", err);
        if (!opt)                /* the default place: say how to choose */
            fprintf(stderr, "flusso: the journal's place is chosen with --journal PATH "
                    "(or $STATE_DIRECTORY); --journal none runs without one\n");
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
    for (size_t i = 0; i < saved.n; i++)
        run_restart(saved.runs[i], false);
    saved.n = 0;
}

void recover_close(void)
{
    for (size_t i = 0; i < saved.n; i++)     /* the server never started */
        run_restart(saved.runs[i], true);
    free(saved.runs);
    saved.runs = NULL;
    saved.n = saved.cap = 0;
    journal_close();
}

/* --runs: one line per run. */
static int print_run(void *arg, const JournalSaved *s)
{
    (void)arg;
    printf("%s\t%s\t%s\t%s\n", s->id,
           s->state == JOURNAL_PENDING ? "pending" : "abandoned", s->workflow,
           *s->next_key ? s->next_key : "-");
    return 0;
}

int recover_list(const char *opt, const char *argv0)
{
    char path[4096], err[4096 + 256];
    if (!journal_path(path, sizeof path, opt, argv0)) {
        fprintf(stderr, "flusso: --runs: the journal is off (--journal none)\n");
        return 2;
    }
    if (journal_list(path, print_run, NULL, err, sizeof err) != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s\n", err);
        return 2;
    }
    return fflush(stdout) == 0 ? 0 : 2;
}
