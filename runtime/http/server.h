/* http/server.h - the HTTP side of a handler (server.c): libmicrohttpd's
 * daemons and each request's life, from the first header to the answer
 * queued.
 *
 * http/ owns everything that speaks HTTP: the server (server.c), the
 * listening address (listen.c), a request turned into the trigger's
 * output (request.c), deadlines for slow clients (guard.c) and signature
 * checks (verify.c).  It is the only folder that includes microhttpd.h
 * (server.c alone).  It may include value/, ops/ (log, metrics, limits,
 * the program) and run/ (the engine's contract, run.h, and recovery's
 * start); nothing below it includes http/, except ops/cli.c, which
 * starts the server. */
#ifndef FLUSSO_SERVER_H
#define FLUSSO_SERVER_H

#include "ops/cli.h"

/* Serves p's workflows as opt says until SIGTERM/SIGINT.  Returns the
 * exit status. */
int srv_run(const FlProgram *p, const FlOptions *opt);
/* libmicrohttpd's version, as loaded (--version). */
const char *srv_library_version(void);

#endif
