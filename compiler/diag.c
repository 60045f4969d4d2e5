/* diag.c - collects diagnostics and prints them in spec §12's format:
 *
 *     FILE:LINE:COL: error: <json path> (<step key>): <message>
 *         <the source line>
 *           ^
 *         <the template text>
 *              ^
 *
 * LINE:COL is where the JSON value named by the path starts.  The loader
 * records once, at load, the byte offset of every value under its path
 * (diag_place); a diagnostic looks its path up, and a path with no value
 * (a missing field) falls back to the nearest enclosing one.  Line and
 * column are computed only when printing.  Without a source (unit tests)
 * the plain form of spec §5, "FILE: error: ...", is printed.
 *
 * Diagnostics are kept in report order and printed at the end, so every
 * stage can keep going after a problem and main.c alone decides the exit
 * status.  Messages quote workflow text, so control characters are escaped
 * before printing: a crafted key cannot forge a diagnostic line. */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

#include "strset.h"

enum {
    CARET_CONTEXT = 60  /* characters shown each side of a caret */
};

typedef struct Entry {
    struct Entry *next;
    DiagLevel level;
    const char *text;     /* "path (key): message" or "line L, column C: …" */
    const char *source;   /* the template line to show, or NULL */
    int caret;            /* column of the caret in source, 0-based */
    const char *at;       /* where in the workflow source, or NULL */
} Entry;

struct Diag {
    Arena *arena;
    const char *file;
    bool werror;
    int errors;
    Entry *head, **tail;
    const char *src;      /* the workflow's bytes, or NULL */
    size_t src_len;
    StrSet *where;        /* JSON path -> first byte of its value in src */
};

Diag *diag_new(Arena *a, const char *file, bool werror)
{
    Diag *d = arena_alloc(a, sizeof *d);
    d->arena = a;
    d->file = file;
    d->werror = werror;
    d->tail = &d->head;
    return d;
}

int diag_error_count(const Diag *d) { return d->errors; }

void diag_set_source(Diag *d, const char *bytes, size_t len)
{
    d->src = bytes;
    d->src_len = len;
    if (!d->where)
        d->where = strset_new(d->arena);
}

bool diag_has_source(const Diag *d) { return d->src != NULL; }

void diag_place(Diag *d, const char *path, size_t offset)
{
    if (d->src && offset <= d->src_len)
        strset_add(d->where, path, (void *)(d->src + offset));
}

/* Where the value at path starts: that of path, else of the nearest
 * enclosing value recorded, else the start of the file. */
static const char *find_place(Diag *d, const char *path)
{
    if (!d->src)
        return NULL;
    char *p = arena_strndup(d->arena, path, strlen(path));
    for (;;) {
        const char *at = strset_get(d->where, p);
        if (at)
            return at;
        char *cut = strrchr(p, '.'), *bracket = strrchr(p, '[');
        if (!cut || (bracket && bracket > cut))
            cut = bracket;
        if (!cut)
            return d->src;
        *cut = '\0';
    }
}

/* Copies text with control characters and DEL written as escapes. */
static char *escape_controls(Arena *a, const char *text, size_t len)
{
    char *out = arena_alloc(a, len * 4 + 1), *p = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n')
            p += sprintf(p, "\\n");
        else if (c == '\t')
            p += sprintf(p, "\\t");
        else if (c < 0x20 || c == 0x7f)
            p += sprintf(p, "\\x%02x", c);
        else
            *p++ = (char)c;
    }
    *p = '\0';
    return out;
}

static void add_entry(Diag *d, DiagLevel level, const char *text,
                      const char *source, int caret, const char *at)
{
    if (level == DIAG_WARNING && d->werror)
        level = DIAG_ERROR;
    Entry *e = arena_alloc(d->arena, sizeof *e);
    e->level = level;
    e->text = text;
    e->source = source;
    e->caret = caret;
    e->at = at;
    *d->tail = e;
    d->tail = &e->next;
    if (level == DIAG_ERROR)
        d->errors++;
}

static char *vformat(Arena *a, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *raw = arena_alloc(a, (size_t)n + 1);
    vsnprintf(raw, (size_t)n + 1, fmt, ap);
    return escape_controls(a, raw, (size_t)n);
}

static const char *locate(Diag *d, const char *path, const char *key,
                          const char *message)
{
    const char *p = escape_controls(d->arena, path, strlen(path));
    if (key) {
        const char *k = escape_controls(d->arena, key, strlen(key));
        return arena_sprintf(d->arena, "%s (%s): %s", p, k, message);
    }
    if (*p)
        return arena_sprintf(d->arena, "%s: %s", p, message);
    return message;
}

void diag_report(Diag *d, DiagLevel level, const char *path, const char *key,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *message = vformat(d->arena, fmt, ap);
    va_end(ap);
    add_entry(d, level, locate(d, path, key, message), NULL, 0,
              find_place(d, path));
}

static bool is_char_start(unsigned char c) { return (c & 0xC0) != 0x80; }

/* Moves a byte offset back to the start of the UTF-8 character holding it. */
static size_t char_floor(const char *s, size_t at)
{
    while (at > 0 && !is_char_start((unsigned char)s[at]))
        at--;
    return at;
}

/* Steps n characters back (n < 0) or forward from byte offset at. */
static size_t step_chars(const char *s, size_t len, size_t at, int n)
{
    for (; n < 0 && at > 0; n++)
        at = char_floor(s, at - 1);
    for (; n > 0 && at < len; n--)
        for (at++; at < len && !is_char_start((unsigned char)s[at]); at++)
            ;
    return at;
}

static int count_chars(const char *s, size_t from, size_t to)
{
    int n = 0;
    for (size_t i = from; i < to; i++)
        n += is_char_start((unsigned char)s[i]);
    return n;
}

/* The part of src shown under the message: one line, control characters as
 * spaces (so the caret stays aligned), at most CARET_CONTEXT characters each
 * side of pos, cut ends marked with "...". */
static const char *source_window(Arena *a, const char *src, size_t len,
                                 size_t pos, int *caret)
{
    size_t from = step_chars(src, len, pos, -CARET_CONTEXT);
    size_t to = step_chars(src, len, pos, CARET_CONTEXT);
    const char *lead = from > 0 ? "..." : "";
    const char *trail = to < len ? "..." : "";
    char *line = arena_sprintf(a, "%s%.*s%s", lead, (int)(to - from),
                               src + from, trail);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    *caret = (int)strlen(lead) + count_chars(src, from, pos);
    return line;
}

void diag_report_at(Diag *d, DiagLevel level, const char *path,
                    const char *key, const char *src, size_t src_len,
                    size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *message = vformat(d->arena, fmt, ap);
    va_end(ap);
    if (pos > src_len)
        pos = src_len;
    pos = char_floor(src, pos);
    int caret;
    const char *line = source_window(d->arena, src, src_len, pos, &caret);
    add_entry(d, level, locate(d, path, key, message), line, caret,
              find_place(d, path));
}

/* The 1-based line and column (in characters) of byte at of s. */
static void line_column(const char *s, size_t at, int *line, int *column)
{
    size_t start = 0;
    *line = 1;
    for (size_t i = 0; i < at; i++)
        if (s[i] == '\n') {
            ++*line;
            start = i + 1;
        }
    *column = 1 + count_chars(s, start, at);
}

void diag_syntax(Diag *d, const char *text, size_t len, size_t offset,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *message = vformat(d->arena, fmt, ap);
    va_end(ap);
    if (offset > len)
        offset = len;
    if (d->src) {
        add_entry(d, DIAG_ERROR, message, NULL, 0, d->src + offset);
        return;
    }
    int line, column;
    line_column(text, offset, &line, &column);
    add_entry(d, DIAG_ERROR,
              arena_sprintf(d->arena, "line %d, column %d: %s", line, column,
                            message),
              NULL, 0, NULL);
}

/* Prints "FILE:LINE:COL: " and keeps in *shown the source line at at and
 * in *caret the caret's column in it. */
static void print_place(const Diag *d, const char *at, FILE *out,
                        const char **shown, int *caret)
{
    size_t pos = char_floor(d->src, (size_t)(at - d->src));
    int line, column;
    line_column(d->src, pos, &line, &column);
    size_t start = pos, end = pos;
    while (start > 0 && d->src[start - 1] != '\n')
        start--;
    while (end < d->src_len && d->src[end] != '\n')
        end++;
    if (end > start && d->src[end - 1] == '\r')
        end--;
    if (pos > end)
        pos = end;
    *shown = source_window(d->arena, d->src + start, end - start,
                           pos - start, caret);
    fprintf(out, "%s:%d:%d: ", d->file, line, column);
}

static bool colour;   /* diag_use_colour() */

void diag_use_colour(bool on) { colour = on; }

/* "error" or "warning", in bold red or magenta when colour is on. */
static const char *level_word(DiagLevel level)
{
    static const char *const plain[] = { "error", "warning" };
    static const char *const coloured[] = {
        "\033[1;31merror\033[0m", "\033[1;35mwarning\033[0m"
    };
    return (colour ? coloured : plain)[level];
}

void diag_print(const Diag *d, FILE *out)
{
    for (const Entry *e = d->head; e; e = e->next) {
        const char *shown = NULL;
        int caret = 0;
        if (e->at)
            print_place(d, e->at, out, &shown, &caret);
        else
            fprintf(out, "%s: ", d->file);
        fprintf(out, "%s: %s\n",
                level_word(e->level), e->text);
        if (shown)
            fprintf(out, "    %s\n    %*s^\n", shown, caret, "");
        if (e->source)
            fprintf(out, "    %s\n    %*s^\n", e->source, e->caret, "");
    }
}
