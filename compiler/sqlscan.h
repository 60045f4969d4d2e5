/* sqlscan.h - the $N placeholders of a database step's literal SQL
 * (spec §10), found outside quotes and comments in both dialects. */
#ifndef FLUSSOC_SQLSCAN_H
#define FLUSSOC_SQLSCAN_H

#include <stddef.h>

/* The most placeholders a statement may have. */
enum { SQL_MAX_PARAMS = 1000 };

typedef struct {
    int count;            /* N: the highest $N, 0 when none */
    const char *problem;  /* static text, or NULL when sql is fine */
    int missing;          /* with a gap: the first number missing */
    size_t at;            /* byte offset the problem refers to */
} SqlScan;

/* Scans sql: strings ('...', E'...'), quoted names ("...", `...`),
 * dollar-quoted bodies ($tag$...$tag$), -- and nested slash-star comments
 * are skipped; every other $<digits> not inside a name is a placeholder.
 * A ';' followed by anything but white space and comments, a quote or
 * comment left open, $0, a number over SQL_MAX_PARAMS, or a gap in
 * 1..N are problems (the first one is reported).  Borrows sql. */
SqlScan sql_scan(const char *sql);

#endif
