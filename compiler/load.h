/* load.h - what the loader's three files share; other stages see only
 * workflow.h.  load.c walks the workflow and its steps, load_value.c reads
 * typed fields (integers, templates, JSON values, headers), load_steps.c
 * reads each step type's config.  Every reader reports what is wrong with
 * its value and leaves its default in place, so loading always goes on. */
#ifndef FLUSSOC_LOAD_H
#define FLUSSOC_LOAD_H

#include <limits.h>

#include <cjson/cJSON.h>

#include "strset.h"
#include "workflow.h"

/* The largest value of any integer setting (times, sizes): what fits in an
 * int, so the runtime may store every one of them in one. */
enum { LOAD_INT_MAX = INT_MAX };

typedef struct {
    Arena *arena;
    Diag *diag;
    const char *key;      /* key of the step being loaded, or NULL */
    StrSet *keys;         /* step key -> JSON path of its step */
    Step **all;           /* every step, by index */
    int count, cap;
    const char **seen;    /* every step key met, dropped steps' included */
    int seen_count, seen_cap;
    int loop;             /* the for_each whose body is being loaded
                             (its index), or 0 */
} Loader;

/* A member of a JSON object, looked up by name; v is NULL when absent. */
typedef struct {
    const cJSON *v;
    const char *path;     /* JSON path of the member (present or not) */
    const char *name;
} Field;

/* ---- load_value.c ---------------------------------------------------- */

/* The member name of obj (obj may be NULL: an absent object, read as {}).
 * When required and absent, reports "missing required field" at obj_path.
 * Borrows everything. */
Field load_field(Loader *l, const cJSON *obj, const char *obj_path,
                 const char *name, bool required);

/* Reports each member of obj not among the n names of known (with a "did
 * you mean" hint and the list of known, owner naming obj: "log",
 * "verify"); does nothing when obj is NULL. */
void load_check_fields(Loader *l, const cJSON *obj, const char *path,
                       const char *owner, const char *const *known, int n);

/* Whether m is the first member of obj with its name: a repeated key is
 * reported as a duplicate once, and its other checks are made once. */
bool load_first_of_name(const cJSON *obj, const cJSON *m);

/* " (did you mean 'x'?)" for the candidate closest to word, or "". */
const char *load_hint(Loader *l, const char *word, const char *const *names,
                      int n);

/* Reports "must be WHAT, not TYPE" unless v has one of the cJSON types in
 * the mask; returns whether it has. */
bool load_expect(Loader *l, Field f, int mask, const char *what);

/* The readers below do nothing when f is absent, and leave *out alone when
 * the value is wrong.  Each returns whether a present value was fine. */

/* A string, copied into the arena; NULL when absent or not a string. */
const char *load_string(Loader *l, Field f);
/* A string that is not a template (no "{{"), not empty, and free of
 * control characters: a file name, a content type, a literal. */
const char *load_literal(Loader *l, Field f);
/* An integral JSON number in lo..hi. */
bool load_integer(Loader *l, Field f, long lo, long hi, long *out);
bool load_boolean(Loader *l, Field f, bool *out);
/* One of the n strings of names, as its index; noun names it in messages
 * ("level", "operator").  Returns -1 when absent or wrong. */
int load_choice(Loader *l, Field f, const char *noun,
                const char *const *names, int n);
/* A string parsed as a template; NULL when absent or not a string.  *ok
 * (may be NULL) tells whether the template parsed without errors. */
Template *load_template(Loader *l, Field f, bool *ok);
/* An integer in lo..hi given as a number, as a string holding one, or as
 * a template to be evaluated at run time. */
bool load_int_or_template(Loader *l, Field f, long lo, long hi,
                          IntOrTemplate *out);
/* Any JSON value whose strings are templates (TValue); NULL when absent. */
TValue *load_tvalue(Loader *l, Field f);
/* An object of header name -> template.  Names must be HTTP tokens and
 * unique in any letter case; the n names of forbidden (any case) are
 * reported as set by who ("the handler").  Returns the array, *count set. */
NamedTemplate *load_headers(Loader *l, Field f,
                            const char *const *forbidden, int n,
                            const char *who, int *count);
/* s with A-Z lower-cased, as a new string in a. */
char *load_lower_copy(Arena *a, const char *s);
/* x in the shortest form that reads back exactly ("1.5", "1e+300"), as
 * a new string in a. */
const char *load_number_text(Arena *a, double x);
/* Whether s is a non-empty RFC 9110 token (header names, methods). */
bool load_is_token(const char *s);

/* ---- load_steps.c ---------------------------------------------------- */

/* Reads the config object cfg (NULL when absent) at path into s by s->type,
 * reporting every problem. */
void load_step_config(Loader *l, Step *s, const cJSON *cfg, const char *path);

#endif
