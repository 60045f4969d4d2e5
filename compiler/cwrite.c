/* cwrite.c - C literals, comments and compile-time JSON.
 *
 * This is where workflow content enters the generated C, so it is the one
 * place that must be right for "no workflow content can inject C code"
 * (spec §5): every byte that is not plain printable ASCII is escaped. */
#include "cwrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flusso.h"   /* fl_number_format: the runtime's own printer */

enum { CWRITE_LINE = 72 };   /* bytes of text per literal piece */

typedef struct {
    Arena *arena;
    char *data;
    size_t len, cap;
} Text;

static void text_grow(Text *t, size_t n)
{
    if (t->cap - t->len >= n + 1)
        return;
    size_t cap = (t->cap + n + 1) * 2;
    char *grown = arena_alloc(t->arena, cap);
    if (t->len)
        memcpy(grown, t->data, t->len);
    t->data = grown;
    t->cap = cap;
}

static void text_add(Text *t, const char *s, size_t n)
{
    text_grow(t, n);
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void text_addc(Text *t, char c) { text_add(t, &c, 1); }

static void text_add_str(Text *t, const char *s) { text_add(t, s, strlen(s)); }

static void add_c_char(Text *t, unsigned char c)
{
    char esc[8];
    if (c == '"' || c == '\\' || c == '?') {
        esc[0] = '\\';
        esc[1] = (char)c;
        text_add(t, esc, 2);
    } else if (c == '\n') {
        text_add(t, "\\n", 2);
    } else if (c == '\t') {
        text_add(t, "\\t", 2);
    } else if (c >= 0x20 && c < 0x7f) {
        text_addc(t, (char)c);
    } else {
        snprintf(esc, sizeof esc, "\\%03o", c);
        text_add(t, esc, 4);
    }
}

const char *cwrite_string(Arena *a, const char *s, size_t len)
{
    Text t = { a, NULL, 0, 0 };
    text_add(&t, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && i % CWRITE_LINE == 0)
            text_add_str(&t, "\"\n        \"");
        add_c_char(&t, (unsigned char)s[i]);
    }
    text_add(&t, "\"", 1);
    return t.data;
}

const char *cwrite_comment(Arena *a, const char *s)
{
    char *out = arena_strdup(a, s);
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
        else if (p[0] == '*' && p[1] == '/')
            p[1] = '|';
    }
    return out;
}

bool tvalue_is_constant(const TValue *v)
{
    if (v->kind == TV_TEMPLATE)
        for (int i = 0; i < v->tmpl->count; i++)
            if (v->tmpl->parts[i].kind == TP_EXPR)
                return false;
    if (v->kind == TV_ARRAY || v->kind == TV_OBJECT)
        for (int i = 0; i < v->count; i++)
            if (!tvalue_is_constant(v->items[i]))
                return false;
    return true;
}

const char *template_constant_text(Arena *a, const Template *t, size_t *len)
{
    Text out = { a, NULL, 0, 0 };
    text_grow(&out, 0);
    out.data[0] = '\0';
    for (int i = 0; i < t->count; i++) {
        if (t->parts[i].kind == TP_EXPR)
            return NULL;
        text_add(&out, t->parts[i].text, t->parts[i].len);
    }
    *len = out.len;
    return out.data;
}

/* A JSON string as JSON.stringify writes it. */
static void add_json_string(Text *t, const char *s, size_t len)
{
    text_addc(t, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"':  text_add(t, "\\\"", 2); break;
        case '\\': text_add(t, "\\\\", 2); break;
        case '\b': text_add(t, "\\b", 2); break;
        case '\f': text_add(t, "\\f", 2); break;
        case '\n': text_add(t, "\\n", 2); break;
        case '\r': text_add(t, "\\r", 2); break;
        case '\t': text_add(t, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                text_add(t, esc, 6);
            } else {
                text_addc(t, (char)c);
            }
        }
    }
    text_addc(t, '"');
}

static void add_json(Text *t, const TValue *v)
{
    char num[32];
    size_t n;
    const char *s;
    switch (v->kind) {
    case TV_NULL:   text_add_str(t, "null"); break;
    case TV_BOOL:   text_add_str(t, v->boolean ? "true" : "false"); break;
    case TV_NUMBER:
        n = fl_number_format(v->number, num);
        text_add(t, num, n);
        break;
    case TV_TEMPLATE:
        s = template_constant_text(t->arena, v->tmpl, &n);
        add_json_string(t, s, n);
        break;
    case TV_ARRAY: case TV_OBJECT:
        text_addc(t, v->kind == TV_ARRAY ? '[' : '{');
        for (int i = 0; i < v->count; i++) {
            if (i > 0)
                text_addc(t, ',');
            if (v->kind == TV_OBJECT) {
                add_json_string(t, v->keys[i], strlen(v->keys[i]));
                text_addc(t, ':');
            }
            add_json(t, v->items[i]);
        }
        text_addc(t, v->kind == TV_ARRAY ? ']' : '}');
        break;
    }
}

const char *cwrite_json(Arena *a, const TValue *v, size_t *len)
{
    Text t = { a, NULL, 0, 0 };
    text_grow(&t, 0);
    t.data[0] = '\0';
    add_json(&t, v);
    *len = t.len;
    return t.data;
}

const char *cwrite_json_string(Arena *a, const char *s, size_t len)
{
    Text t = { a, NULL, 0, 0 };
    text_grow(&t, 0);
    t.data[0] = '\0';
    add_json_string(&t, s, len);
    return t.data;
}
