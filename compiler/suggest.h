/* suggest.h - "did you mean" hints for misspelled names. */
#ifndef FLUSSOC_SUGGEST_H
#define FLUSSOC_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

/* Returns the candidate closest to word by edit distance when it is close
 * enough to be a plausible typo, or the one an idiom of other tools names
 * (yes -> true, warning -> warn, length -> len), else NULL.  Borrows
 * everything. */
const char *suggest_closest(const char *word, const char *const *candidates,
                            int count);

/* "; the fields of OWNER are: a, b, c": the tail of an unknown-field
 * message, so the author sees every field there is (spec §12).  Returns a
 * new string in a; borrows the rest. */
const char *suggest_field_list(Arena *a, const char *owner,
                               const char *const *names, int count);

/* Finds the option closest to arg among those usage lists (lines starting
 * "  -"), so the hint follows the usage text, for an arg starting "--"; copies it to out (size
 * bytes) and returns true, or returns false.  Borrows arg and usage. */
bool suggest_option(const char *arg, const char *usage, char *out,
                    size_t size);

#endif
