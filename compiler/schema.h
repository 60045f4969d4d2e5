/* schema.h - the workflow format as a JSON Schema (draft 2020-12). */
#ifndef FLUSSOC_SCHEMA_H
#define FLUSSOC_SCHEMA_H

#include <stdio.h>

/* Writes the JSON Schema of the workflow format to out: every step type,
 * config field, enum, default and description.  The same bytes every
 * time.  Returns 0, or -1 when out fails. */
int schema_write(FILE *out);

#endif
