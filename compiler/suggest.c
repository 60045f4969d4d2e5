/* suggest.c - picks the plausible intended spelling of a misspelled name.
 *
 * Optimal string alignment distance (Levenshtein plus adjacent swaps, so
 * "trigegr" is one edit from "trigger"), accepted when it is at most a third
 * of the word's length, and at least 1.  An unknown-field message also
 * ends with the list of the fields there are, built here from the caller's
 * table so that it never drifts from what the loader accepts. */
#include "suggest.h"

#include <stdlib.h>
#include <string.h>

enum { SUGGEST_MAX_LEN = 64 };

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

static int edit_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return SUGGEST_MAX_LEN;
    int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (int i = 0; i <= n; i++)
        d[i][0] = i;
    for (int j = 0; j <= m; j++)
        d[0][j] = j;
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
                           d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[n][m];
}

/* Words other tools use for one of ours, too far apart to be typos:
 * branch names of other flow tools, the usual log level, the length
 * functions of other languages. */
static const char *const idioms[][2] = {
    { "yes", "true" },     { "no", "false" },     { "then", "true" },
    { "else", "false" },   { "on_true", "true" }, { "on_false", "false" },
    { "warning", "warn" }, { "err", "error" },    { "length", "len" },
    { "lenght", "len" },   { "size", "len" },     { "count", "len" },
};

/* The candidate idioms give for word, or NULL. */
static const char *idiom_for(const char *word, const char *const *candidates,
                             int count)
{
    for (size_t i = 0; i < sizeof idioms / sizeof idioms[0]; i++) {
        if (strcmp(word, idioms[i][0]) != 0)
            continue;
        for (int j = 0; j < count; j++)
            if (strcmp(candidates[j], idioms[i][1]) == 0)
                return candidates[j];
    }
    return NULL;
}

const char *suggest_closest(const char *word, const char *const *candidates,
                            int count)
{
    const char *idiom = idiom_for(word, candidates, count);
    if (idiom)
        return idiom;
    int limit = (int)strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    int best_distance = limit + 1;
    for (int i = 0; i < count; i++) {
        int dist = edit_distance(word, candidates[i]);
        if (dist < best_distance && dist > 0) {
            best = candidates[i];
            best_distance = dist;
        }
    }
    return best;
}

/* Copies the options a usage text lists, one per line as "  -x ..." or
 * "  --name ...", into names (at most max, each cut to SUGGEST_MAX_LEN
 * bytes); returns how many. */
static int usage_options(const char *usage, char names[][SUGGEST_MAX_LEN],
                         int max)
{
    int n = 0;
    for (const char *p = usage; p && *p && n < max; p = strchr(p, '\n')) {
        p += *p == '\n';
        if (strncmp(p, "  -", 3) != 0)
            continue;
        size_t len = strcspn(p + 2, " \n");
        if (len >= SUGGEST_MAX_LEN)
            len = SUGGEST_MAX_LEN - 1;
        memcpy(names[n], p + 2, len);
        names[n++][len] = '\0';
    }
    return n;
}

bool suggest_option(const char *arg, const char *usage, char *out,
                    size_t size)
{
    enum { MAX_OPTIONS = 64 };
    if (strncmp(arg, "--", 2) != 0)
        return false;   /* one letter off a one-letter option is noise */
    char names[MAX_OPTIONS][SUGGEST_MAX_LEN];
    const char *list[MAX_OPTIONS];
    int n = usage_options(usage, names, MAX_OPTIONS);
    for (int i = 0; i < n; i++)
        list[i] = names[i];
    const char *best = suggest_closest(arg, list, n);
    if (!best || strlen(best) >= size)
        return false;
    strcpy(out, best);
    return true;
}

const char *suggest_field_list(Arena *a, const char *owner,
                               const char *const *names, int count)
{
    if (count == 0)
        return arena_sprintf(a, "; %s has no fields", owner);
    const char *s = arena_sprintf(a, "; the fields of %s are: ", owner);
    for (int i = 0; i < count; i++)
        s = arena_sprintf(a, "%s%s%s", s, i ? ", " : "", names[i]);
    return s;
}
