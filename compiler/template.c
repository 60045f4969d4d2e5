/* template.c - splits a template into literal text and {{ expr }} parts.
 *
 * The split is done by hand, before any expression is parsed: '{{' opens an
 * expression, which ends at the first '}}' outside a string literal ('...'
 * or "...", backslash escapes honoured), so {{ "}}" }} is one expression and
 * {{ "{{" }} is how a literal '{{' is written.  Everything else, a lone '}}'
 * included, is literal text.  A bad expression is reported and replaced by
 * a null literal, so the template keeps its shape for later passes and all
 * the errors of a file are found in one run. */
#include "expr.h"

#include <stdbool.h>
#include <string.h>

/* A template being built. */
typedef struct {
    Arena *arena;
    Diag *diag;
    Template *t;
    int cap;  /* parts allocated */
    bool ok;
} Splitter;

static void add_part(Splitter *s, TemplatePart part)
{
    Template *t = s->t;
    if (t->count == s->cap) {
        int cap = s->cap ? s->cap * 2 : 4;
        TemplatePart *grown = arena_alloc(s->arena, sizeof *grown * (size_t)cap);
        if (t->count)
            memcpy(grown, t->parts, sizeof *grown * (size_t)t->count);
        t->parts = grown;
        s->cap = cap;
    }
    t->parts[t->count++] = part;
}

static void add_text(Splitter *s, size_t from, size_t to)
{
    if (to > from)
        add_part(s, (TemplatePart){ .kind = TP_TEXT, .text = s->t->src + from,
                                    .len = to - from });
}

/* Where the expression opened before from ends: the offset of its '}}'.
 * Returns src_len when there is none; *in_string then tells whether a
 * string literal was left open. */
static size_t find_close(const char *src, size_t len, size_t from,
                         bool *in_string)
{
    char quote = 0;
    for (size_t i = from; i < len; i++) {
        char c = src[i];
        if (quote && c == '\\')
            i++;
        else if (quote && c == quote)
            quote = 0;
        else if (!quote && (c == '"' || c == '\''))
            quote = c;
        else if (!quote && c == '}' && i + 1 < len && src[i + 1] == '}')
            return i;
    }
    *in_string = quote != 0;
    return len;
}

static bool all_space(const char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (!strchr(" \t\r\n", s[i]))
            return false;
    return true;
}

/* Parses the expression between the '{{' at open and the '}}' at close. */
static void add_expr(Splitter *s, size_t open, size_t close)
{
    Expr *e = NULL;
    if (all_space(s->t->src, open + 2, close))
        expr_syntax_error(s->diag, s->t, open, "empty expression");
    else
        e = expr_parse(s->arena, s->diag, s->t, open + 2, close);
    if (!e) {
        s->ok = false;
        e = expr_null(s->arena, open + 2);
    }
    add_part(s, (TemplatePart){ .kind = TP_EXPR, .expr = e });
}

/* Splits t->src into parts; returns false after an unclosed '{{' (the
 * rest of the text is then kept as literal text). */
static bool split(Splitter *s)
{
    const char *src = s->t->src;
    size_t len = s->t->src_len, text = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (src[i] != '{' || src[i + 1] != '{')
            continue;
        bool in_string = false;
        size_t close = find_close(src, len, i + 2, &in_string);
        if (close == len) {
            expr_syntax_error(s->diag, s->t, i,
                              "unclosed '{{': expected '}}'%s",
                              in_string ? " (a string literal inside is "
                                          "not terminated)" : "");
            add_text(s, text, len);
            return false;
        }
        add_text(s, text, i);
        add_expr(s, i, close);
        text = close + 2;
        i = close + 1;
    }
    add_text(s, text, len);
    return true;
}

/* The template is new in a; src, path and key are borrowed and must live as
 * long as it does (text parts point into src). */
Template *template_parse(Arena *a, Diag *d, const char *src, size_t src_len,
                         const char *path, const char *key, bool *ok)
{
    Template *t = arena_alloc(a, sizeof *t);
    t->src = src;
    t->src_len = src_len;
    t->path = path;
    t->step_key = key;
    Splitter s = { .arena = a, .diag = d, .t = t, .ok = true };
    if (!split(&s))
        s.ok = false;
    t->whole = t->count == 1 && t->parts[0].kind == TP_EXPR;
    *ok = s.ok;
    return t;
}
