/* jsonpath.h - how diagnostics name a value of the workflow JSON:
 * steps[0].branches.true[1].config.message, trigger.config.path, name;
 * and how they quote a piece of it. */
#ifndef FLUSSOC_JSONPATH_H
#define FLUSSOC_JSONPATH_H

#include "arena.h"

/* The path of member name of the object at parent: "parent.name", or
 * "name" when parent is "" (the document).  A name that is not
 * [A-Za-z_][A-Za-z0-9_-]* is written parent["..."] with JSON escapes.
 * Returns a new string in a; borrows the arguments. */
const char *jsonpath_field(Arena *a, const char *parent, const char *name);

/* The path of item i of the array at parent: "parent[i]".  Returns a new
 * string in a. */
const char *jsonpath_index(Arena *a, const char *parent, int i);

/* s for quoting inside a message: at most 60 characters, cut ones
 * replaced by "...".  Returns s itself or a new string in a. */
const char *jsonpath_excerpt(Arena *a, const char *s);

#endif
