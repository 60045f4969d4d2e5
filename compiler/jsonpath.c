/* jsonpath.c - spells JSON paths the way a user would type them to find
 * the value: dots between plain names, brackets for indices and for names
 * that would not read back unambiguously after a dot. */
#include "jsonpath.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_plain_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
              || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* name as a JSON string literal, quotes included, in a. */
static const char *quote_name(Arena *a, const char *name)
{
    size_t len = strlen(name);
    char *out = arena_alloc(a, len * 6 + 3), *p = out;
    *p++ = '"';
    for (const char *s = name; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

const char *jsonpath_field(Arena *a, const char *parent, const char *name)
{
    if (!is_plain_name(name))
        return arena_sprintf(a, "%s[%s]", parent, quote_name(a, name));
    if (*parent == '\0')
        return arena_strdup(a, name);
    return arena_sprintf(a, "%s.%s", parent, name);
}

const char *jsonpath_index(Arena *a, const char *parent, int i)
{
    return arena_sprintf(a, "%s[%d]", parent, i);
}

const char *jsonpath_excerpt(Arena *a, const char *s)
{
    enum { EXCERPT_CHARS = 60 };
    size_t i = 0;
    int chars = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (chars++ == EXCERPT_CHARS)
            return arena_sprintf(a, "%.*s...", (int)i, s);
    }
    return s;
}
