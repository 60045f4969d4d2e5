/* run/admin.h - the journal's commands (admin.c, spec 8.1): --runs,
 * --retry, --drop.  Each runs instead of the server, needs no
 * environment variable, and returns the exit status. */
#ifndef FLUSSO_ADMIN_H
#define FLUSSO_ADMIN_H

#include <stdbool.h>

typedef enum {
    ADMIN_RETRY,         /* --retry RUN_ID... | failed */
    ADMIN_DROP           /* --drop RUN_ID... */
} AdminOp;

typedef struct {
    AdminOp op;
    const char **ids;    /* the runs named ("failed": every failed run) */
    int id_count;
} AdminCommand;

/* --runs [--json]: one line per pending, failed, stranded or abandoned
 * run; 0, or 2 (no journal, unreadable). */
int admin_runs(const char *journal, const char *argv0, bool json);
/* --retry, --drop: 0 when every run named was acted on, 1 when one was
 * not (each named in the log), 2 when the journal cannot be used. */
int admin_command(const char *journal, const char *argv0, const AdminCommand *cmd);

#endif
