/* json.c - JSON text to values and back.
 *
 * The parser is strict RFC 8259 and builds arena values in one pass: no
 * intermediate tree, no malloc per node.  The items of the containers being
 * parsed wait on a scratch stack (on the C stack until it overflows to the
 * heap) and move to an exact-size arena array when their container closes.
 * Strings without escapes are copied with one memcpy - or, for
 * fl_json_parse_ref(), not copied at all.  Nesting is limited to
 * FL_JSON_MAX_DEPTH, so a hostile body cannot exhaust the C stack.
 *
 * (cJSON is not used here: it accepts trailing garbage and leading zeros,
 * cuts strings at an escaped \u0000, and builds a malloc()ed tree that
 * would have to be copied into the arena and freed.)
 *
 * The printer writes compact JSON with keys in order and numbers as
 * JavaScript prints them, escaping strings like JSON.stringify: `"`, `\`
 * and control characters.  Strings are bytes; any byte sequence that is
 * not valid UTF-8 is printed as U+FFFD, so the output is always valid
 * JSON text. */
#include "flusso.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- Printing ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0. */
static size_t utf8_valid(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0xC2 || c > 0xF4 || (size_t)(end - p) < n)
        return 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Length of the invalid sequence at p that one U+FFFD replaces: the lead
 * byte and the continuation bytes that could still have followed it
 * (the Unicode "maximal subpart" practice). */
static size_t utf8_invalid(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0xC2 || c > 0xF4)
        return 1;
    size_t n = 1, want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    while (n < want && p + n < end && p[n] >= lo && p[n] <= hi) {
        n++;
        lo = 0x80;
        hi = 0xBF;
    }
    return n;
}

/* The escape of control character c, as JSON.stringify writes it. */
static void put_escape(FlBuf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    switch (c) {
    case '"':  FL_BUF_APPEND_LIT(b, "\\\""); return;
    case '\\': FL_BUF_APPEND_LIT(b, "\\\\"); return;
    case '\b': FL_BUF_APPEND_LIT(b, "\\b"); return;
    case '\f': FL_BUF_APPEND_LIT(b, "\\f"); return;
    case '\n': FL_BUF_APPEND_LIT(b, "\\n"); return;
    case '\r': FL_BUF_APPEND_LIT(b, "\\r"); return;
    case '\t': FL_BUF_APPEND_LIT(b, "\\t"); return;
    default:   fl_buf_append(b, e, sizeof e); return;
    }
}

/* Appends a quoted JSON string.  Runs of bytes needing no care are
 * appended in one go. */
static void put_string(FlBuf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    const unsigned char *run = p;
    fl_buf_putc(b, '"');
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            p++;
            continue;
        }
        size_t n = c >= 0x80 ? utf8_valid(p, end) : 0;
        if (n) {
            p += n;
            continue;
        }
        fl_buf_append(b, run, (size_t)(p - run));
        if (c < 0x80) {
            put_escape(b, (unsigned char)c);
            p++;
        } else {
            FL_BUF_APPEND_LIT(b, "\xEF\xBF\xBD");
            p += utf8_invalid(p, end);
        }
        run = p;
    }
    fl_buf_append(b, run, (size_t)(p - run));
    fl_buf_putc(b, '"');
}

void fl_buf_append_json(FlBuf *b, const FlValue *v)
{
    switch (v->type) {
    case FL_NULL:
    case FL_BOOL:
    case FL_NUMBER:
        if (v->type == FL_NULL)
            FL_BUF_APPEND_LIT(b, "null");
        else
            fl_buf_append_text(b, v);
        return;
    case FL_STRING:
        put_string(b, v->u.s, v->len);
        return;
    case FL_ARRAY:
        fl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                fl_buf_putc(b, ',');
            fl_buf_append_json(b, &v->u.items[i]);
        }
        fl_buf_putc(b, ']');
        return;
    case FL_OBJECT:
        fl_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            const FlMember *m = &v->u.members[i];
            if (i)
                fl_buf_putc(b, ',');
            put_string(b, m->key, m->klen);
            fl_buf_putc(b, ':');
            fl_buf_append_json(b, &m->value);
        }
        fl_buf_putc(b, '}');
        return;
    }
}

/* ---- Parsing ------------------------------------------------------------ */

enum { SCRATCH_INLINE = 64 };

/* A stack of pending array items or object members. */
typedef struct {
    void *base;
    size_t len, cap, size;     /* in elements of `size` bytes */
    bool heap;
} Scratch;

typedef struct {
    FlArena *arena;
    const char *p, *end;
    bool ref;                  /* strings may point into the input */
    int depth;
    Scratch items, members;
} Parser;

static bool parse_value(Parser *P, FlValue *out);

static void *scratch_push(Scratch *s)
{
    if (s->len == s->cap) {
        size_t cap = s->cap * 2;
        void *p = s->heap ? realloc(s->base, cap * s->size)
                          : malloc(cap * s->size);
        if (!p) {
            fputs("flusso: out of memory\n", stderr);
            abort();
        }
        if (!s->heap)
            memcpy(p, s->base, s->len * s->size);
        s->base = p;
        s->cap = cap;
        s->heap = true;
    }
    return (char *)s->base + s->len++ * s->size;
}

/* Moves the elements above `from` into a new arena array. */
static void *scratch_pop(Parser *P, Scratch *s, size_t from)
{
    size_t n = (s->len - from) * s->size;
    void *p = fl_arena_alloc(P->arena, n);
    memcpy(p, (char *)s->base + from * s->size, n);
    s->len = from;
    return p;
}

static void skip_ws(Parser *P)
{
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\n' ||
                             *P->p == '\r' || *P->p == '\t'))
        P->p++;
}

/* Consumes `c` (after white space) if it is next. */
static bool eat(Parser *P, char c)
{
    skip_ws(P);
    if (P->p < P->end && *P->p == c) {
        P->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the \u escape at p (pointing after "\u") and a low surrogate
 * escape that may follow; sets *p past them.  Returns the code point, or
 * -1 for bad hex.  A lone surrogate gives U+FFFD. */
static long decode_u(const char **p, const char *end)
{
    if (end - *p < 4)
        return -1;
    long cp = hex4(*p);
    if (cp < 0)
        return -1;
    *p += 4;
    if (cp < 0xD800 || cp > 0xDFFF)
        return cp;
    if (cp <= 0xDBFF && end - *p >= 6 && (*p)[0] == '\\' && (*p)[1] == 'u') {
        long lo = hex4(*p + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *p += 6;
            return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    return 0xFFFD;
}

/* Decodes the escaped string body [s, end) into `o`, which has room for
 * end - s bytes (escapes never grow).  Returns the end of the output or
 * NULL if an escape is invalid. */
static char *unescape(char *o, const char *s, const char *end)
{
    while (s < end) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case '"': case '\\': case '/': *o++ = c; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            long cp = decode_u(&s, end);
            if (cp < 0)
                return NULL;
            o = put_utf8(o, (unsigned)cp);
            break;
        }
        default:
            return NULL;
        }
    }
    return o;
}

/* Parses the string at P->p (a '"') into (*s, *len). */
static bool parse_string(Parser *P, const char **s, size_t *len)
{
    const char *start = ++P->p, *q = start;
    bool escaped = false;
    for (;; q++) {
        if (q >= P->end || (unsigned char)*q < 0x20)
            return false;
        if (*q == '"')
            break;
        if (*q == '\\') {
            escaped = true;
            if (++q >= P->end)
                return false;
        }
    }
    P->p = q + 1;
    size_t n = (size_t)(q - start);
    if (!escaped && P->ref) {
        *s = start;
        *len = n;
        return n <= FL_LEN_MAX;
    }
    char *o = fl_arena_alloc(P->arena, n + 1);
    char *oend = escaped ? unescape(o, start, q) : (memcpy(o, start, n), o + n);
    if (!oend)
        return false;
    *oend = '\0';
    *s = o;
    *len = (size_t)(oend - o);
    return *len <= FL_LEN_MAX;
}

/* Length of the JSON number at p, or 0 if there is none. */
static size_t scan_number(const char *p, const char *end, bool *integer)
{
    const char *q = p;
#define DIGITS() while (q < end && *q >= '0' && *q <= '9') q++
    if (q < end && *q == '-')
        q++;
    if (q < end && *q == '0')
        q++;
    else if (q < end && *q >= '1' && *q <= '9')
        DIGITS();
    else
        return 0;
    *integer = !(q < end && (*q == '.' || *q == 'e' || *q == 'E'));
    if (q < end && *q == '.') {
        const char *d = ++q;
        DIGITS();
        if (q == d)
            return 0;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        const char *d = q;
        DIGITS();
        if (q == d)
            return 0;
    }
#undef DIGITS
    return (size_t)(q - p);
}

/* Parses a number; one too large for a double becomes null. */
static bool parse_number(Parser *P, FlValue *out)
{
    bool integer;
    size_t n = scan_number(P->p, P->end, &integer);
    if (n == 0)
        return false;
    const char *p = P->p;
    bool neg = *p == '-';
    double d;
    if (integer && n - neg <= 15) {
        int64_t i = 0;
        for (const char *q = p + neg; q < p + n; q++)
            i = i * 10 + (*q - '0');
        d = neg ? -(double)i : (double)i;
    } else {
        char small[64];
        char *copy = n < sizeof small ? small : fl_arena_alloc(P->arena, n + 1);
        memcpy(copy, p, n);
        copy[n] = '\0';
        d = strtod(copy, NULL);
    }
    P->p += n;
    *out = isfinite(d) ? (FlValue){.type = FL_NUMBER, .u = {.n = d}} : fl_null;
    return true;
}

static bool parse_word(Parser *P, const char *w, size_t n, const FlValue *v,
                       FlValue *out)
{
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, w, n) != 0)
        return false;
    P->p += n;
    *out = *v;
    return true;
}

static bool parse_array(Parser *P, FlValue *out)
{
    size_t from = P->items.len;
    P->p++;
    if (!eat(P, ']')) {
        do {
            FlValue v;
            if (!parse_value(P, &v))
                return false;
            *(FlValue *)scratch_push(&P->items) = v;
        } while (eat(P, ','));
        if (!eat(P, ']'))
            return false;
    }
    size_t n = P->items.len - from;
    if (n > FL_LEN_MAX)
        return false;
    *out = (FlValue){.type = FL_ARRAY, .len = (uint32_t)n,
                     .u = {.items = scratch_pop(P, &P->items, from)}};
    return true;
}

static bool parse_member(Parser *P)
{
    const char *key;
    size_t klen;
    FlValue v;
    skip_ws(P);
    if (P->p >= P->end || *P->p != '"' || !parse_string(P, &key, &klen) ||
        !eat(P, ':') || !parse_value(P, &v))
        return false;
    FlMember *m = scratch_push(&P->members);
    *m = (FlMember){.key = key, .klen = (uint32_t)klen, .value = v};
    return true;
}

static bool parse_object(Parser *P, FlValue *out)
{
    size_t from = P->members.len;
    P->p++;
    if (!eat(P, '}')) {
        do {
            if (!parse_member(P))
                return false;
        } while (eat(P, ','));
        if (!eat(P, '}'))
            return false;
    }
    size_t n = P->members.len - from;
    if (n > FL_LEN_MAX)
        return false;
    *out = (FlValue){.type = FL_OBJECT, .len = (uint32_t)n,
                     .u = {.members = scratch_pop(P, &P->members, from)}};
    return true;
}

static bool parse_value(Parser *P, FlValue *out)
{
    skip_ws(P);
    if (P->p >= P->end)
        return false;
    switch (*P->p) {
    case '{':
    case '[': {
        if (++P->depth > FL_JSON_MAX_DEPTH)
            return false;
        bool ok = *P->p == '{' ? parse_object(P, out) : parse_array(P, out);
        P->depth--;
        return ok;
    }
    case '"': {
        const char *s;
        size_t len;
        if (!parse_string(P, &s, &len))
            return false;
        *out = (FlValue){.type = FL_STRING, .len = (uint32_t)len, .u = {.s = s}};
        return true;
    }
    case 't': return parse_word(P, "true", 4, &fl_true, out);
    case 'f': return parse_word(P, "false", 5, &fl_false, out);
    case 'n': return parse_word(P, "null", 4, &fl_null, out);
    default:  return parse_number(P, out);
    }
}

static const FlValue *parse(FlArena *a, const char *p, size_t len, bool ref)
{
    FlValue items[SCRATCH_INLINE];
    FlMember members[SCRATCH_INLINE];
    Parser P = {
        .arena = a, .p = p, .end = p + len, .ref = ref,
        .items = {items, 0, SCRATCH_INLINE, sizeof items[0], false},
        .members = {members, 0, SCRATCH_INLINE, sizeof members[0], false},
    };
    FlValue v;
    bool ok = parse_value(&P, &v);
    skip_ws(&P);
    if (P.items.heap)
        free(P.items.base);
    if (P.members.heap)
        free(P.members.base);
    if (!ok || P.p != P.end)
        return NULL;
    FlValue *out = fl_arena_alloc(a, sizeof *out);
    *out = v;
    return out;
}

const FlValue *fl_json_parse(FlArena *a, const char *p, size_t len)
{
    return parse(a, p, len, false);
}

const FlValue *fl_json_parse_ref(FlArena *a, const char *p, size_t len)
{
    return parse(a, p, len, true);
}
