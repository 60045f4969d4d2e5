/* cwrite.h - turning workflow text into C source text that cannot break
 * out of where it is put: string literals, comments, constant JSON. */
#ifndef FLUSSOC_CWRITE_H
#define FLUSSOC_CWRITE_H

#include <stddef.h>

#include "arena.h"
#include "workflow.h"

/* s (len bytes, any bytes at all) as a C string literal, quotes included.
 * Printable ASCII stays readable; everything else is an octal escape, and
 * '?' is escaped so no trigraph can form.  Long text is split into
 * adjacent literals at line width.  Returns a new string in a. */
const char *cwrite_string(Arena *a, const char *s, size_t len);

/* s made safe inside a C block comment: no "*" "/" pair, no line break,
 * nothing but printable ASCII.  Returns s or a new string in a. */
const char *cwrite_comment(Arena *a, const char *s);

/* Whether v holds no template with an expression (it is a constant). */
bool tvalue_is_constant(const TValue *v);

/* The text of a template without expressions; NULL when it has some. */
const char *template_constant_text(Arena *a, const Template *t, size_t *len);

/* v (constant) as compact JSON text, as the runtime prints JSON: keys in
 * order, numbers as JavaScript prints them, strings escaped like
 * JSON.stringify.  Returns a new string in a; *len gets its length. */
const char *cwrite_json(Arena *a, const TValue *v, size_t *len);

/* s as a JSON string literal, quotes included (JSON.stringify's escapes).
 * Returns a new string in a. */
const char *cwrite_json_string(Arena *a, const char *s, size_t len);

#endif
