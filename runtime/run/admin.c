/* admin.c - the journal's commands (spec 8.1): what an operator runs
 * during an outage.
 *
 *   --runs [--json]        every run the journal keeps: pending, failed,
 *                          stranded, abandoned; tab-separated, or one
 *                          JSON object per line;
 *   --retry RUN_ID...      failed runs become pending again (state
 *   --retry failed         "retrying" until a handler takes them: the one
 *                          serving the journal within a second or two, or
 *                          the next to start), each resuming at its
 *                          failed step with one more attempt;
 *   --drop RUN_ID...       failed, stranded and abandoned runs removed.
 *
 * They need no environment variable and no handler: the journal does the
 * work (journal_list(), journal_command()), in one transaction per
 * command.  A run --retry asked for and not yet taken is listed as
 * pending: to the operator it is one (*decision*).  Text from the journal
 * never breaks a line: the tab-separated form escapes control characters
 * and backslashes (\t, \n, \\, \xHH), the JSON form is JSON. */
#include "run/admin.h"
#include "run/recover.h"
#include "journal/journal.h"
#include "ops/log.h"

#include <stdio.h>
#include <string.h>

/* The state an operator sees (a retrying run is pending to them). */
static const char *state_text(JournalState s)
{
    switch (s) {
    case JOURNAL_PENDING:
    case JOURNAL_RETRYING:
        return "pending";
    case JOURNAL_FAILED:
        return "failed";
    case JOURNAL_STRANDED:
        return "stranded";
    case JOURNAL_STARTED:
    case JOURNAL_ABANDONED:
        break;
    }
    return "abandoned";
}

/* The journal's path for --journal, or NULL after saying there is none. */
static const char *path_or_none(char *out, size_t size, const char *journal,
                                const char *argv0, const char *cmd)
{
    if (recover_journal_path(out, size, journal, argv0))
        return out;
    fprintf(stderr, "flusso: %s: there is no journal (--journal none)\n", cmd);
    return NULL;
}

/* ---- --runs ---------------------------------------------------------------- */

/* One tab-separated field: control characters and backslashes escaped. */
static void put_field(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static int print_tsv(void *arg, const JournalSaved *s)
{
    const char *error = s->state == JOURNAL_FAILED && s->error ? s->error : "";
    (void)arg;
    put_field(s->id);
    printf("\t%s\t", state_text(s->state));
    put_field(s->workflow);
    putchar('\t');
    put_field(*s->next_key ? s->next_key : "-");
    printf("\t%d\t", s->attempt);
    put_field(s->started_at);
    putchar('\t');
    put_field(error);
    putchar('\n');
    return 0;
}

/* A JSON string member: ,"key":"text" (or null). */
static void json_member(FlBuf *b, const char *key, const char *text)
{
    fl_buf_append(b, key, strlen(key));
    if (!text) {
        FL_BUF_APPEND_LIT(b, "null");
        return;
    }
    FlValue v = FL_STRING_LEN_LIT(text, (uint32_t)strlen(text));
    fl_buf_append_json(b, &v);
}

static int print_json(void *arg, const JournalSaved *s)
{
    char first[2048];
    FlArena a;
    FlBuf b;
    FlValue attempt = FL_NUMBER_LIT(s->attempt);
    (void)arg;
    fl_arena_init(&a, first, sizeof first);
    fl_buf_init(&b, &a);
    json_member(&b, "{\"run_id\":", s->id);
    json_member(&b, ",\"state\":", state_text(s->state));
    json_member(&b, ",\"workflow\":", s->workflow);
    json_member(&b, ",\"step\":", *s->next_key ? s->next_key : NULL);
    FL_BUF_APPEND_LIT(&b, ",\"attempt\":");
    fl_buf_append_json(&b, &attempt);
    json_member(&b, ",\"received_at\":", s->started_at);
    json_member(&b, ",\"error\":", s->state == JOURNAL_FAILED ? s->error : NULL);
    FL_BUF_APPEND_LIT(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    fl_arena_destroy(&a);
    return 0;
}

int admin_runs(const char *journal, const char *argv0, bool json)
{
    char path[4096], err[4096 + 256];
    if (!path_or_none(path, sizeof path, journal, argv0, "--runs"))
        return 2;
    if (journal_list(path, json ? print_json : print_tsv, NULL, err, sizeof err)
        != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s\n", err);
        return 2;
    }
    return fflush(stdout) == 0 ? 0 : 2;
}

/* ---- --retry, --drop --------------------------------------------------------- */

typedef struct {
    AdminOp op;
    int done, refused;
} Tally;

/* Logs what the command did to one run (or why it did not). */
static void report(void *arg, const JournalOutcome *o)
{
    Tally *t = arg;
    char msg[512];
    bool retry = t->op == ADMIN_RETRY;
    if (o->done && retry)
        snprintf(msg, sizeof msg, "retried: resumes at step %s with attempt %d",
                 o->step, o->attempt + 1);
    else if (o->done)
        snprintf(msg, sizeof msg, "dropped (it was %s)", state_text(o->state));
    else
        snprintf(msg, sizeof msg, "not %s: %s", retry ? "retried" : "dropped", o->why);
    t->done += o->done;
    t->refused += !o->done;
    FlLogLevel level = o->done ? FL_LOG_INFO : FL_LOG_ERROR;
    if (!log_enabled(level))
        return;
    LogLine l = { .run_id = o->id, .workflow = o->workflow,
                  .step = o->workflow && *o->step ? o->step : NULL,
                  .event = retry ? "retry" : "drop", .message = msg,
                  .message_len = strlen(msg), .duration_ms = -1 };
    log_write(level, &l);
}

int admin_command(const char *journal, const char *argv0, const AdminCommand *cmd)
{
    char path[4096], err[4096 + 256];
    const char *name = cmd->op == ADMIN_RETRY ? "--retry" : "--drop";
    JournalCommand jc = { .op = cmd->op == ADMIN_RETRY ? JOURNAL_RETRY : JOURNAL_DROP };
    const char *ids[cmd->id_count > 0 ? cmd->id_count : 1];
    Tally t = { cmd->op, 0, 0 };
    if (!path_or_none(path, sizeof path, journal, argv0, name))
        return 2;
    for (int i = 0; i < cmd->id_count; i++) {
        if (cmd->op == ADMIN_RETRY && strcmp(cmd->ids[i], "failed") == 0)
            jc.all_failed = true;
        else
            ids[jc.id_count++] = cmd->ids[i];
    }
    jc.ids = ids;
    if (journal_command(path, &jc, report, &t, err, sizeof err) != JOURNAL_OK) {
        fprintf(stderr, "flusso: %s: %s\n", name, err);
        return 2;
    }
    if (jc.all_failed)
        log_event(FL_LOG_INFO, "retry", "%d run(s) of journal %s retried", t.done, path);
    return t.refused ? 1 : 0;
}
