/* jsonread.h - the raw JSON layer of the loader: bytes to a cJSON tree that
 * is strict JSON (RFC 8259), with every syntax error at a line and column. */
#ifndef FLUSSOC_JSONREAD_H
#define FLUSSOC_JSONREAD_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "diag.h"

/* The deepest nesting of arrays and objects accepted. */
enum { JSONREAD_MAX_DEPTH = 512 };

/* Parses len bytes (need not end in NUL; a leading UTF-8 byte order mark
 * is skipped) as one JSON document.  A syntax error is reported to d as
 * "line L, column C: ..." (both 1-based; the column counts characters, not
 * bytes) and NULL returned.  Otherwise every object is also checked for
 * duplicate keys, reported at their JSON path, and the tree returned: the
 * caller owns it and frees it with cJSON_Delete().  Borrows bytes. */
cJSON *jsonread_parse(Arena *a, Diag *d, const char *bytes, size_t len);

/* "a string", "an object", ...: the JSON type of v, for messages. */
const char *jsonread_type_name(const cJSON *v);

#endif
