/* ops/cli.h - the handler's command line (cli.c): fl_main's options and
 * the program it serves.
 *
 * ops/ owns the operator's side of a handler: the command line and
 * start-up (cli.c), log lines (log.c), the counters behind /metrics
 * (metrics.c) and bounded work (limits.c).  log, metrics and limits are
 * low-level: they include only value/, and every other folder may include
 * them.  cli.c is the top of the runtime: it includes every folder. */
#ifndef FLUSSO_CLI_H
#define FLUSSO_CLI_H

#include <stdbool.h>
#include "flusso.h"
#include "run/admin.h"

typedef struct {
    const char *listen;      /* [HOST:]PORT, already defaulted */
    int workers;             /* MHD threads, and run workers, each */
    FlLogLevel log_level;
    long grace_ms;           /* drain bound on SIGTERM/SIGINT */
    long max_inflight;       /* limits.c: 503 past these */
    long max_queue;
    long header_timeout_ms;  /* guard.c: slow clients are cut off */
    long body_timeout_ms;
    const char *journal;     /* --journal: a path, "none", NULL: default */
    bool runs;               /* --runs: list the journal's runs and stop */
    bool json;               /* --runs --json: as JSON lines */
    bool admin;              /* --retry or --drop (below), and stop */
    AdminCommand command;    /* 8.1: its ids point into argv */
    const char *tls_cert;    /* --tls-cert, --tls-key: HTTPS; NULL: HTTP */
    const char *tls_key;
    bool access_log;         /* --access-log on|off: a line per request */
} FlOptions;


#endif
