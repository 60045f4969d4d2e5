/* builtins.c - the text and value built-ins, and the conditions operators.
 *
 * The built-in functions of spec 2 that are not crypto or time, and the
 * `conditions` operators of spec 3 that are not plain comparisons.  No
 * function coerces: an argument of a type a function does not define
 * gives null.  Results share their argument's bytes whenever they can
 * (trim, split, an unchanged lower/upper, parse_json), since values are
 * immutable and live as long as the run. */
#include "flusso.h"

#include <math.h>
#include <stdlib.h>

static bool is_string(const FlValue *v)
{
    return v->type == FL_STRING;
}

static bool ascii_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- Case and white space ------------------------------------------------ */

/* `s` with bytes from..to shifted by `delta`; `s` itself if none is. */
static const FlValue *map_case(FlArena *a, const FlValue *s, char from,
                               char to, int delta)
{
    if (!is_string(s))
        return &fl_null;
    uint32_t i = 0;
    while (i < s->len && !(s->u.s[i] >= from && s->u.s[i] <= to))
        i++;
    if (i == s->len)
        return s;
    char *p = fl_arena_alloc(a, s->len + 1);
    memcpy(p, s->u.s, s->len);
    for (; i < s->len; i++)
        if (p[i] >= from && p[i] <= to)
            p[i] = (char)(p[i] + delta);
    p[s->len] = '\0';
    return fl_string_ref(a, p, s->len);
}

const FlValue *fl_fn_lower(FlArena *a, const FlValue *s)
{
    return map_case(a, s, 'A', 'Z', 'a' - 'A');
}

const FlValue *fl_fn_upper(FlArena *a, const FlValue *s)
{
    return map_case(a, s, 'a', 'z', 'A' - 'a');
}

const FlValue *fl_fn_trim(FlArena *a, const FlValue *s)
{
    if (!is_string(s))
        return &fl_null;
    const char *p = s->u.s, *end = p + s->len;
    while (p < end && ascii_space(*p))
        p++;
    while (end > p && ascii_space(end[-1]))
        end--;
    if (p == s->u.s && end == s->u.s + s->len)
        return s;
    return fl_string_ref(a, p, (size_t)(end - p));
}

/* ---- Size and search ------------------------------------------------------ */

const FlValue *fl_fn_len(FlArena *a, const FlValue *v)
{
    if (v->type != FL_STRING && v->type != FL_ARRAY && v->type != FL_OBJECT)
        return &fl_null;
    return fl_number(a, v->len);
}

/* contains(): 1 or 0, or -1 when undefined for these types. */
static int contains(const FlValue *hay, const FlValue *needle)
{
    if (hay->type == FL_ARRAY) {
        for (uint32_t i = 0; i < hay->len; i++)
            if (fl_equal(&hay->u.items[i], needle))
                return 1;
        return 0;
    }
    if (!is_string(needle))
        return -1;
    if (hay->type == FL_OBJECT)     /* a present key never yields &fl_null */
        return fl_get_field(hay, needle->u.s, needle->len) != &fl_null;
    if (!is_string(hay))
        return -1;
    return needle->len == 0 ||
           memmem(hay->u.s, hay->len, needle->u.s, needle->len) != NULL;
}

const FlValue *fl_fn_contains(FlArena *a, const FlValue *hay, const FlValue *needle)
{
    (void)a;
    int r = contains(hay, needle);
    return r < 0 ? &fl_null : fl_bool(r);
}

bool fl_cond_contains(const FlValue *x, const FlValue *y)
{
    return contains(x, y) > 0;
}

/* starts_with (at_end false) or ends_with: 1, 0, or -1 if undefined. */
static int affix(const FlValue *s, const FlValue *p, bool at_end)
{
    if (!is_string(s) || !is_string(p))
        return -1;
    if (p->len > s->len)
        return 0;
    const char *from = at_end ? s->u.s + s->len - p->len : s->u.s;
    return p->len == 0 || memcmp(from, p->u.s, p->len) == 0;
}

const FlValue *fl_fn_starts_with(FlArena *a, const FlValue *s, const FlValue *p)
{
    (void)a;
    int r = affix(s, p, false);
    return r < 0 ? &fl_null : fl_bool(r);
}

const FlValue *fl_fn_ends_with(FlArena *a, const FlValue *s, const FlValue *p)
{
    (void)a;
    int r = affix(s, p, true);
    return r < 0 ? &fl_null : fl_bool(r);
}

bool fl_cond_starts_with(const FlValue *x, const FlValue *y)
{
    return affix(x, y, false) > 0;
}

bool fl_cond_ends_with(const FlValue *x, const FlValue *y)
{
    return affix(x, y, true) > 0;
}

/* ---- Split and join ------------------------------------------------------- */

/* Splits into characters: a piece starts at every byte that is not a
 * UTF-8 continuation byte, and holds at most 4 bytes. */
static void split_chars(FlArrayBuilder *ab, const FlValue *s)
{
    const char *p = s->u.s, *end = p + s->len;
    while (p < end) {
        const char *q = p + 1;
        while (q < end && q - p < 4 && ((unsigned char)*q & 0xC0) == 0x80)
            q++;
        fl_array_append(ab, fl_string_ref(ab->arena, p, (size_t)(q - p)));
        p = q;
    }
}

static void split_on(FlArrayBuilder *ab, const FlValue *s, const FlValue *sep)
{
    const char *p = s->u.s, *end = p + s->len, *q;
    while ((q = memmem(p, (size_t)(end - p), sep->u.s, sep->len)) != NULL) {
        fl_array_append(ab, fl_string_ref(ab->arena, p, (size_t)(q - p)));
        p = q + sep->len;
    }
    fl_array_append(ab, fl_string_ref(ab->arena, p, (size_t)(end - p)));
}

const FlValue *fl_fn_split(FlArena *a, const FlValue *s, const FlValue *sep)
{
    if (!is_string(s) || !is_string(sep))
        return &fl_null;
    FlArrayBuilder ab;
    fl_array_init(&ab, a, 0);
    if (sep->len == 0)
        split_chars(&ab, s);
    else
        split_on(&ab, s, sep);
    return fl_array_finish(&ab);
}

const FlValue *fl_fn_join(FlArena *a, const FlValue *arr, const FlValue *sep)
{
    if (arr->type != FL_ARRAY || !is_string(sep))
        return &fl_null;
    FlBuf b;
    fl_buf_init(&b, a);
    for (uint32_t i = 0; i < arr->len; i++) {
        if (i)
            fl_buf_append(&b, sep->u.s, sep->len);
        fl_buf_append_text(&b, &arr->u.items[i]);
    }
    return fl_buf_finish(&b);
}

/* ---- Conversions ---------------------------------------------------------- */

const FlValue *fl_fn_json(FlArena *a, const FlValue *v)
{
    return fl_json_text(a, v);
}

const FlValue *fl_fn_parse_json(FlArena *a, const FlValue *s)
{
    const FlValue *v = is_string(s) ? fl_json_parse(a, s->u.s, s->len) : NULL;
    return v ? v : &fl_null;
}

/* Whether [p, end) is exactly a decimal number: [+-] digits [. digits]
 * [e [+-] digits], with digits on at least one side of the point. */
static bool decimal_syntax(const char *p, const char *end)
{
    size_t digits = 0;
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        digits++;
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++)
            digits++;
    if (digits == 0)
        return false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return false;
    }
    return p == end;
}

static const FlValue *number_from_string(FlArena *a, const FlValue *s)
{
    const char *p = s->u.s, *end = p + s->len;
    while (p < end && ascii_space(*p))
        p++;
    while (end > p && ascii_space(end[-1]))
        end--;
    if (!decimal_syntax(p, end))
        return &fl_null;
    size_t n = (size_t)(end - p);
    char small[64];
    char *copy = n < sizeof small ? small : fl_arena_alloc(a, n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    return fl_number(a, strtod(copy, NULL));
}

const FlValue *fl_fn_number(FlArena *a, const FlValue *v)
{
    switch (v->type) {
    case FL_NUMBER: return v;
    case FL_BOOL:   return fl_number(a, v->u.b ? 1 : 0);
    case FL_STRING: return number_from_string(a, v);
    default:        return &fl_null;
    }
}

const FlValue *fl_fn_string(FlArena *a, const FlValue *v)
{
    return fl_text(a, v);
}

const FlValue *fl_fn_default(FlArena *a, const FlValue *v, const FlValue *fallback)
{
    (void)a;
    if (v->type == FL_NULL || (v->type == FL_STRING && v->len == 0))
        return fallback;
    return v;
}

/* ---- Regular expressions -------------------------------------------------- */

bool fl_regex_matches(const regex_t *re, const FlValue *v)
{
    if (!is_string(v))
        return false;
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)v->len};
    return regexec(re, v->u.s, 1, &m, REG_STARTEND) == 0;
}
