/* suggest.h - "did you mean" hints for misspelled names. */
#ifndef FLUSSOC_SUGGEST_H
#define FLUSSOC_SUGGEST_H

/* Returns the candidate closest to word by edit distance when it is close
 * enough to be a plausible typo, else NULL.  Borrows everything. */
const char *suggest_closest(const char *word, const char *const *candidates,
                            int count);

#endif
