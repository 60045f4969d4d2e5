/* run/resume_at.h - a saved run moved onto this binary's version of its
 * workflow (spec 8.4): at start for runs saved by another version, and by
 * `./handler --retry RUN_ID --resume-at STEP_KEY`. */
#ifndef FLUSSO_RESUME_AT_H
#define FLUSSO_RESUME_AT_H

#include <stddef.h>

#include "flusso.h"
#include "journal/journal.h"

enum { RESUME_AT_REFUSED = 1 };

/* Reads the saved run s (on the open journal) with the step keys of the
 * shape it was saved with, maps its outputs onto wf by key and checks the
 * rule for resuming it at the step with key.  0 with *out the run as wf
 * has it (pending at that step, wf's shape; everything in a);
 * RESUME_AT_REFUSED with the rule's reason; -1 when the run cannot be read
 * (its shape's keys unknown, its bytes not decoding), the reason too. */
int resume_at_saved(const FlWorkflow *wf, const JournalSaved *s, FlArena *a,
                    const char *key, JournalRun *out, char *reason, size_t size);

/* fl_main's first look: -1 when the command line has no --resume-at,
 * else parses it (--retry RUN_ID --resume-at STEP_KEY [--journal PATH])
 * and runs it: its exit status. */
int resume_at_main(int argc, char **argv, const FlProgram *p);

#endif
