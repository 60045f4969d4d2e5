/* run/reshape.h - a saved run on a changed workflow (spec 8.4): its
 * outputs mapped from the step indexes of the workflow that saved them to
 * those of the workflow of the same name in this binary, by step key, and
 * the rule for resuming it at a step.  Pure: no journal, no logging. */
#ifndef FLUSSO_RESHAPE_H
#define FLUSSO_RESHAPE_H

#include <stddef.h>

#include "flusso.h"

/* Splits keys (step keys joined by '\n', as the journal keeps a shape's)
 * in place into out[0..max); returns how many there are, or -1 when more
 * than max. */
int reshape_keys(char *keys, const char **out, int max);

/* The index of the step of wf with key, or -1. */
int reshape_find(const FlWorkflow *wf, const char *key);

/* out[j] (wf->step_count of them) = old[i] where wf's step j has the key
 * old_keys[i]; the trigger's output stays at index 0 even when its key
 * changed (a run has one trigger).  Outputs of steps no longer in wf are
 * dropped; steps new in wf have none (NULL). */
void reshape_outputs(const FlWorkflow *wf, const char *const *old_keys,
                     int old_count, const FlValue *const *old,
                     const FlValue **out);

/* The rule for resuming a run with outputs (by wf's indexes) at the step
 * with key ("" the end): wf has that step, and every output it and the
 * steps after it read on every path (FlStepInfo.needs) is there.  0 with
 * its index (or FL_NEXT_END) in *next; -1 with the reason in reason. */
int reshape_resume_at(const FlWorkflow *wf, const char *key,
                      const FlValue *const *outputs, int *next,
                      char *reason, size_t size);

#endif
