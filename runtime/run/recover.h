/* run/recover.h - the journal at start (recover.c, spec 7): the runs it
 * kept rebuilt and resumed, and (8.1) the runs --retry asks for while
 * the handler serves.
 *
 * journal: the --journal option (a path, "none", or NULL for the binary's
 * name with ".journal" in the working directory). */
#ifndef FLUSSO_RECOVER_H
#define FLUSSO_RECOVER_H

#include "flusso.h"

/* Opens the journal and rebuilds the runs it kept of p's workflows; 0, or
 * 2 after printing why (unopenable, in use, damaged). */
int recover_open(const FlProgram *p, const char *journal, const char *argv0);
/* Starts the rebuilt runs (the scheduler runs). */
void recover_resume(void);
/* Drops rebuilt runs never started and closes the journal. */
void recover_close(void);
/* 8.1: stops taking runs --retry asks for (draining). */
void recover_quiesce(void);
/* 8.1: failed runs in the journal (flusso_runs_failed_kept); 0 without. */
long recover_failed_kept(void);
/* The journal's path for journal into out; false for "none". */
bool recover_journal_path(char *out, size_t size, const char *journal,
                          const char *argv0);

#endif
