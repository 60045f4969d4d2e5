/* run/admin_resume.h - a saved run moved onto this binary's version of its
 * workflow (spec 8.4): at start for runs saved by another version, and by
 * `./handler --retry RUN_ID --resume-at STEP_KEY`. */
#ifndef FLUSSO_ADMIN_RESUME_H
#define FLUSSO_ADMIN_RESUME_H

#include <stddef.h>

#include "flusso.h"
#include "journal/journal.h"

enum { RESHAPE_REFUSED = 1 };

/* Reads the saved run s (on the open journal) with the step keys of the
 * shape it was saved with, maps its outputs onto wf by key and checks the
 * rule for resuming it at the step with key.  0 with *out the run as wf
 * has it (pending at that step, wf's shape; everything in a);
 * RESHAPE_REFUSED with the rule's reason; -1 when the run cannot be read
 * (its shape's keys unknown, its bytes not decoding), the reason too. */
int recover_reshape(const FlWorkflow *wf, const JournalSaved *s, FlArena *a,
                    const char *key, JournalRun *out, char *reason, size_t size);

/* --retry RUN_ID --resume-at STEP_KEY: 0 done, 1 the run was not (named on
 * stderr), 2 usage or journal errors. */
int admin_resume_at(const FlProgram *p, const char *journal, const char *argv0,
                    const char *run_id, const char *step_key);

/* fl_main's first look: -1 when the command line has no --resume-at,
 * else parses it (--retry RUN_ID --resume-at STEP_KEY [--journal PATH])
 * and runs it: its exit status. */
int admin_resume_main(int argc, char **argv, const FlProgram *p);

#endif
