/* diag.h - the one sink every stage of the compiler reports into. */
#ifndef FLUSSOC_DIAG_H
#define FLUSSOC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "arena.h"

typedef enum {
    DIAG_ERROR,   /* the workflow cannot be compiled */
    DIAG_WARNING  /* compiled, but probably not what the author meant */
} DiagLevel;

typedef struct Diag Diag;

/* A sink for the diagnostics of one file; lives in arena a.
 * With werror set, warnings are reported (and counted) as errors. */
Diag *diag_new(Arena *a, const char *file, bool werror);

/* Reports a problem with the JSON value at path (e.g.
 * "steps[0].config.message") inside step key (NULL outside any step).
 * path may be "" for the whole document. */
void diag_report(Diag *d, DiagLevel level, const char *path, const char *key,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Like diag_report, for a problem inside a template or expression: src is
 * the whole template text (src_len bytes), pos the byte offset the caret
 * points at. */
void diag_report_at(Diag *d, DiagLevel level, const char *path,
                    const char *key, const char *src, size_t src_len,
                    size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Keeps the workflow's bytes (borrowed: they must outlive d) so that
 * every diagnostic is printed as FILE:LINE:COL: with the source line and a
 * caret under the column (spec §12).  Without it diagnostics keep the
 * plain "FILE: error:" form of spec §5 (the unit tests' form). */
void diag_set_source(Diag *d, const char *bytes, size_t len);

/* Whether diag_set_source was called: the loader then records where each
 * JSON value starts. */
bool diag_has_source(const Diag *d);

/* Records that the JSON value at path starts at byte offset of the source;
 * the first offset recorded for a path stays.  Borrows path. */
void diag_place(Diag *d, const char *path, size_t offset);

/* A JSON syntax error at byte offset of text (len bytes), which is the
 * source when one is set. */
void diag_syntax(Diag *d, const char *text, size_t len, size_t offset,
                 const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

int diag_error_count(const Diag *d);

/* Whether diag_print writes "error" and "warning" in colour (ANSI escapes;
 * main.c decides: stderr a terminal, NO_COLOR unset).  Off by default. */
void diag_use_colour(bool on);

/* Writes every diagnostic, in the order reported, to out. */
void diag_print(const Diag *d, FILE *out);

#endif
