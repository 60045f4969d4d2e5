/* run/recover.h - the journal at start (recover.c, spec 7): the runs it
 * kept rebuilt and resumed, and --runs.
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
/* The journal's path for the --journal option (NULL: the default, after
 * argv0) into out; false for "none". */
bool recover_journal_path(char *out, size_t size, const char *journal,
                          const char *argv0);
/* --runs: prints one line per pending or abandoned run; 0 or 2. */
int recover_list(const char *journal, const char *argv0);

#endif
