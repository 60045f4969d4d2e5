/* resume_at.c - a saved run moved onto this binary's version of its
 * workflow (spec 8.4; see resume_at.h).
 *
 * `./handler --retry RUN_ID --resume-at STEP_KEY` works on a journal
 * whether or not a handler serves it (SQLite in WAL mode lets a second
 * connection write between the handler's commits; it waits for a busy
 * writer).  It applies the rule of 8.4 for STEP_KEY against this binary's
 * workflow and, when it holds, rewrites the run - outputs at this
 * version's indexes, this version's shape, next = STEP_KEY - as
 * `retrying`, like --retry (8.1): a handler serving the journal picks it
 * up within 2 s, else the next start resumes it, with run.attempt one
 * higher either way.  A stranded or a failed run may be moved; a pending
 * one belongs to the handler serving it. */
#include "run/resume_at.h"
#include "run/recover.h"
#include "run/reshape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The saved run's outputs at the indexes of the version that saved it;
 * their count into *n, NULL (reason) when unreadable. */
static const FlValue **saved_outputs(const JournalSaved *s, FlArena *a, int *n,
                                     const char ***old_keys, char *reason,
                                     size_t size)
{
    char *keys = s->shape ? journal_shape_keys(s->shape) : NULL;
    if (!keys) {
        snprintf(reason, size, "the steps of the version of workflow '%s' that "
                 "saved it are not in the journal", s->workflow);
        return NULL;
    }
    const char *copy = fl_string(a, keys, strlen(keys))->u.s;
    free(keys);
    int max = 1;
    for (const char *p = copy; *p; p++)
        max += *p == '\n';
    *old_keys = fl_arena_alloc(a, (size_t)max * sizeof **old_keys);
    *n = reshape_keys((char *)copy, *old_keys, max);
    const FlValue **old = fl_arena_alloc(a, (size_t)max * sizeof *old);
    memset(old, 0, (size_t)max * sizeof *old);
    if (journal_decode(s, a, old, *n) < 0 || !old[0]) {
        snprintf(reason, size, "its saved outputs do not decode: left in the journal");
        return NULL;
    }
    return old;
}

static const char *arena_copy(FlArena *a, const char *s)
{
    return fl_string(a, s, strlen(s))->u.s;
}

int resume_at_saved(const FlWorkflow *wf, const JournalSaved *s, FlArena *a,
                    const char *key, JournalRun *out, char *reason, size_t size)
{
    int old_count, next;
    const char **old_keys;
    const FlValue **old = saved_outputs(s, a, &old_count, &old_keys, reason, size);
    if (!old)
        return -1;
    const FlValue **outputs = fl_arena_alloc(a, (size_t)wf->step_count * sizeof *outputs);
    reshape_outputs(wf, old_keys, old_count, old, outputs);
    if (reshape_resume_at(wf, key, outputs, &next, reason, size) < 0)
        return RESUME_AT_REFUSED;
    bool same_place = strcmp(key, s->next_key) == 0;   /* a wait goes on */
    *out = (JournalRun){
        .id = arena_copy(a, s->id), .workflow = wf->name,
        .started_at = arena_copy(a, s->started_at), .attempt = s->attempt,
        .outputs = outputs, .step_count = wf->step_count, .next = next,
        .next_key = next >= 0 ? wf->steps[next].key : "",
        .wake_at = same_place ? s->wake_at : 0, .tries = same_place ? s->tries : 0,
        .shape = wf->shape,
    };
    return 0;
}

/* ---- the command --------------------------------------------------------- */

typedef struct {
    const FlProgram *p;
    const char *id, *key;
    bool found, moved;           /* moved: run is what to write */
    FlArena arena;               /* run's */
    JournalRun run;
} ResumeAt;

static const FlWorkflow *workflow_of(const FlProgram *p, const char *name)
{
    for (int i = 0; i < p->workflow_count; i++)
        if (strcmp(p->workflows[i]->name, name) == 0)
            return p->workflows[i];
    return NULL;
}

/* Finds the run asked for and, if the rule lets it, makes r->run of it
 * (written once the scan is over); stops the scan when found. */
static int resume_one(void *arg, const JournalSaved *s)
{
    ResumeAt *r = arg;
    char reason[640];
    if (strcmp(s->id, r->id) != 0)
        return 0;
    r->found = true;
    const FlWorkflow *wf = workflow_of(r->p, s->workflow);
    if (s->state != JOURNAL_STRANDED && s->state != JOURNAL_FAILED)
        fprintf(stderr, "flusso: --resume-at: run %s is %s, not stranded or failed\n",
                s->id, s->state == JOURNAL_PENDING ? "pending" : "abandoned");
    else if (!wf)
        fprintf(stderr, "flusso: --resume-at: run %s: workflow '%s' is not in this "
                "handler\n", s->id, s->workflow);
    else if (resume_at_saved(wf, s, &r->arena, r->key, &r->run, reason,
                             sizeof reason) != 0)
        fprintf(stderr, "flusso: --resume-at: run %s: %s\n", s->id, reason);
    else
        r->moved = true;
    r->run.tries = 0;            /* a step it resumes at starts afresh */
    return 1;
}

/* Writes the run the scan made; the exit status. */
static int resume_write(ResumeAt *r)
{
    if (!r->found) {
        fprintf(stderr, "flusso: --resume-at: run %s: no such run in the journal\n",
                r->id);
        return 1;
    }
    if (!r->moved)
        return 1;
    if (journal_rewrite(&r->run, true) < 0) {
        fprintf(stderr, "flusso: --resume-at: run %s: cannot write the journal\n", r->id);
        return 1;
    }
    fprintf(stderr, "flusso: run %s (workflow %s) resumes at %s: within 2 s in a "
            "handler serving the journal, else at its next start\n", r->id,
            r->run.workflow, r->key);
    return 0;
}

/* --retry RUN_ID --resume-at STEP_KEY: 0 done, 1 the run was not (named
 * on stderr), 2 usage or journal errors. */
static int resume_at_command(const FlProgram *p, const char *journal, const char *argv0,
                    const char *run_id, const char *step_key)
{
    char path[4096], err[4096 + 256];
    ResumeAt r = { .p = p, .id = run_id, .key = step_key };
    if (!recover_journal_path(path, sizeof path, journal, argv0)) {
        fprintf(stderr, "flusso: --resume-at: the journal is off (--journal none)\n");
        return 2;
    }
    if (journal_admin_open(path, err, sizeof err) != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s\n", err);
        return 2;
    }
    fl_arena_init(&r.arena, NULL, 0);
    int status = 2;
    if (journal_put_shapes(p) == 0 && journal_admin_scan(resume_one, &r) >= 0)
        status = resume_write(&r);
    fl_arena_destroy(&r.arena);
    journal_admin_close();
    return status;
}

/* ---- its command line ---------------------------------------------------- */

static int resume_usage(const char *fmt, const char *arg)
{
    fputs("flusso: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: HANDLER --retry RUN_ID --resume-at STEP_KEY [--journal PATH]\n",
          stderr);
    return 2;
}

/* The value of argv[*i] when it is --name VALUE or --name=VALUE; NULL. */
static const char *resume_option(int argc, char **argv, int *i, const char *name,
                                 bool *bad)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0 || (argv[*i][n] && argv[*i][n] != '='))
        return NULL;
    const char *v = argv[*i][n] == '=' ? argv[*i] + n + 1
                  : *i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0
                  ? argv[++*i] : NULL;
    *bad = !v || !*v;
    return v;
}

int resume_at_main(int argc, char **argv, const FlProgram *p)
{
    const char *id = NULL, *key = NULL, *journal = NULL, *v;
    bool asked = false, bad = false;
    for (int i = 1; i < argc; i++)
        asked |= strncmp(argv[i], "--resume-at", 11) == 0
                 && (!argv[i][11] || argv[i][11] == '=');
    if (!asked)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if ((v = resume_option(argc, argv, &i, "--retry", &bad)) && !id)
            id = v;
        else if (v)
            return resume_usage("--resume-at takes one run id, not '%s'", v);
        else if ((v = resume_option(argc, argv, &i, "--resume-at", &bad)))
            key = v;
        else if ((v = resume_option(argc, argv, &i, "--journal", &bad)))
            journal = v;
        else if (!bad)
            return resume_usage("with --resume-at: unexpected argument '%s'", arg);
        if (bad)
            return resume_usage("option '%s' needs a value", arg);
    }
    if (!id || !key)
        return resume_usage("%s", "--resume-at needs --retry RUN_ID");
    if (strcmp(id, "failed") == 0)
        return resume_usage("%s", "--resume-at takes one run id, not 'failed'");
    return resume_at_command(p, journal, argv[0], id, key);
}
