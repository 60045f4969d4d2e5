/* reshape.c - a saved run on a changed workflow (spec 8.4, see reshape.h).
 *
 * A journal keeps outputs by step index, and indexes shift when steps are
 * inserted or removed; keys do not.  So a run saved by another version of
 * its workflow is read with that version's keys (the journal's shapes
 * table) and its outputs moved to where this version has the same keys.
 * Whether it may go on is the rule of 8.4: the step it was to run next
 * is still there, and nothing it or the steps after it read for certain
 * is missing - a step inserted before it whose output is read later never
 * ran for this run, and the run must not go on without it. */
#include "run/reshape.h"

#include <stdio.h>
#include <string.h>

int reshape_keys(char *keys, const char **out, int max)
{
    int n = 0;
    for (char *p = keys;; p++) {
        char *end = strchr(p, '\n');
        if (n == max)
            return -1;
        out[n++] = p;
        if (!end)
            return n;
        *end = '\0';
        p = end;
    }
}

int reshape_find(const FlWorkflow *wf, const char *key)
{
    for (int i = 0; i < wf->step_count; i++)
        if (strcmp(wf->steps[i].key, key) == 0)
            return i;
    return -1;
}

void reshape_outputs(const FlWorkflow *wf, const char *const *old_keys,
                     int old_count, const FlValue *const *old,
                     const FlValue **out)
{
    for (int j = 0; j < wf->step_count; j++)
        out[j] = NULL;
    if (old_count > 0)
        out[0] = old[0];
    for (int i = 1; i < old_count; i++) {
        int j = reshape_find(wf, old_keys[i]);
        if (j > 0)
            out[j] = old[i];
    }
}

/* Appends "'key'" of each needed output missing from outputs to list;
 * returns how many are missing. */
static int missing_needs(const FlStepInfo *s, const FlValue *const *outputs,
                         const FlWorkflow *wf, char *list, size_t size)
{
    int missing = 0;
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < s->need_count; i++) {
        if (outputs[s->needs[i]])
            continue;
        int n = snprintf(list + used, size - used, "%s'%s'", missing ? ", " : "",
                         wf->steps[s->needs[i]].key);
        if (n > 0 && (size_t)n < size - used)
            used += (size_t)n;
        missing++;
    }
    return missing;
}

int reshape_resume_at(const FlWorkflow *wf, const char *key,
                      const FlValue *const *outputs, int *next,
                      char *reason, size_t size)
{
    char list[384];
    if (!*key) {
        *next = FL_NEXT_END;
        return 0;
    }
    int i = reshape_find(wf, key);
    if (i < 0 || !wf->steps[i].fn) {
        snprintf(reason, size, i < 0 ? "workflow '%s' has no step '%s'"
                                     : "workflow '%s' cannot resume at its trigger '%s'",
                 wf->name, key);
        return -1;
    }
    int missing = missing_needs(&wf->steps[i], outputs, wf, list, sizeof list);
    if (missing) {
        snprintf(reason, size, "resuming workflow '%s' at step '%s' needs the "
                 "output%s of %s, which this run has not recorded", wf->name, key,
                 missing > 1 ? "s" : "", list);
        return -1;
    }
    *next = i;
    return 0;
}
