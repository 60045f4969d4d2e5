/* json.c - JSON text to values and back.
 *
 * Parsing is cJSON's: the text goes through cJSON_ParseWithLengthOpts()
 * and the tree it builds is copied into the run's arena (keys in order,
 * duplicate keys kept), then freed.  Where cJSON is more lenient than
 * RFC 8259, or would change a value silently, one linear pre-check
 * rejects the text first: raw control characters (cJSON takes any byte
 * up to space as white space, and raw ones inside strings), an escaped
 * NUL (cJSON's strings are NUL-terminated, so \u0000 - or a \u without
 * four hex digits, which it reads as \u0000 - would cut the string
 * there), leading zeros and a fraction point without digits on both
 * sides ("01", "1.", "-.5"), and a byte order mark.  After the document,
 * only white space may follow (cJSON stops at its end and leaves the
 * rest to us).  Nesting is bounded by cJSON's CJSON_NESTING_LIMIT (1000,
 * FL_JSON_MAX_DEPTH) and checked again while copying, so neither
 * recursion goes deeper than that.
 *
 * cJSON is thread-safe as long as nobody calls cJSON_GetErrorPtr() or
 * cJSON_InitHooks() once threads run; the runtime calls neither.
 *
 * The printer is ours (cJSON's number printer is not JavaScript's): it
 * writes compact JSON with keys in order and numbers as JavaScript prints
 * them, escaping strings like JSON.stringify: `"`, `\` and control
 * characters.  Strings are bytes; any byte sequence that is not valid
 * UTF-8 is printed as U+FFFD, so the output is always valid JSON text.
 * Strings are the printer's hot path (every log line is made of them):
 * a table classifies each byte, and runs that need no change are copied
 * with one append. */
#include "value/value.h"

#include <math.h>

#include <cjson/cJSON.h>
#include <strings.h>

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

/* What put_string() does with each byte: BYTE_PLAIN ones are copied as
 * they are, BYTE_ESCAPE ones (control characters, `"`, `\`) escaped, and
 * BYTE_HIGH ones start a UTF-8 sequence to check. */
enum { BYTE_PLAIN, BYTE_ESCAPE, BYTE_HIGH };

#define ROW_ESC  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define ROW_PLN  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define ROW_HI   2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
static const unsigned char byte_kind[] = {
    ROW_ESC, ROW_ESC,                                   /* 0x00 - 0x1F */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x22: `"` */
    ROW_PLN, ROW_PLN,                                   /* 0x30 - 0x4F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,     /* 0x5C: `\` */
    ROW_PLN, ROW_PLN,                                   /* 0x7F: plain */
    ROW_HI, ROW_HI, ROW_HI, ROW_HI, ROW_HI, ROW_HI, ROW_HI, ROW_HI,
};
_Static_assert(sizeof byte_kind == 256, "one entry per byte");

/* Whether the eight bytes of x are all BYTE_PLAIN: none has its high bit
 * set, none is below 0x20 (x - 0x20 in each byte sets a high bit), none
 * is `"` or `\` (their XOR is 0, and 0 - 1 sets a high bit).  A byte can
 * only borrow from the one above it once a lower byte failed, so the
 * answer is exact. */
static bool word_plain(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u;
    uint64_t t = x | (x - ones * 0x20) | ((x ^ ones * '"') - ones)
                   | ((x ^ ones * '\\') - ones);
    return (t & ones * 0x80) == 0;
}

/* The first byte at or after p that is not BYTE_PLAIN, or end: eight
 * bytes per step while eight remain. */
static const unsigned char *skip_plain(const unsigned char *p,
                                       const unsigned char *end)
{
    uint64_t x;
    while (end - p >= 8 && (memcpy(&x, p, 8), word_plain(x)))
        p += 8;
    while (p < end && byte_kind[*p] == BYTE_PLAIN)
        p++;
    return p;
}

/* Appends a quoted JSON string.  Runs of bytes needing no change - plain
 * ASCII and valid UTF-8 - are appended in one go. */
static void put_string(FlBuf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    const unsigned char *run = p;
    fl_buf_putc(b, '"');
    while ((p = skip_plain(p, end)) < end) {
        unsigned c = *p;
        size_t n = byte_kind[c] == BYTE_HIGH ? utf8_valid(p, end) : 0;
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

/* ---- Parsing: the pre-check --------------------------------------------- */

static bool is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static bool is_json_space(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_hex(unsigned c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Whether cJSON would decode the escape at p[i] (a backslash) to a NUL:
 * \u0000, or a \u not followed by four hex digits (its parse_hex4()
 * returns 0 for those).  Hex digits may be of either case. */
static bool escape_is_nul(const unsigned char *p, size_t i, size_t len)
{
    if (len - i < 6 || p[i + 1] != 'u')
        return false;           /* a short one cJSON rejects by itself */
    bool zero = true;
    for (size_t k = i + 2; k < i + 6; k++) {
        if (!is_hex(p[k]))
            return true;
        zero &= p[k] == '0';
    }
    return zero;
}

/* The index of the closing quote of the string whose body starts at p[i],
 * or len when the string is unterminated or holds a raw control character
 * or an escaped NUL.  Skipping the byte after each backslash, as cJSON
 * does, is what makes "\\u0000" (an escaped backslash, then text) pass
 * and "\u0000" fail. */
static size_t string_end(const unsigned char *p, size_t i, size_t len)
{
    for (; i < len; i++) {
        if (p[i] < 0x20)
            return len;
        if (p[i] == '"')
            return i;
        if (p[i] == '\\') {
            if (escape_is_nul(p, i, len))
                return len;
            i++;
        }
    }
    return len;
}

/* Whether p[i], outside strings, breaks a number rule cJSON (strtod)
 * does not check: a fraction point needs a digit on each side ("1.",
 * "-.5"), and an integer part may not start with 0 followed by a digit
 * ("01", "-01"; an exponent may: "1e05"). */
static bool bad_number_char(const unsigned char *p, size_t i, size_t len)
{
    bool digit_next = i + 1 < len && is_digit(p[i + 1]);
    if (p[i] == '.')
        return i == 0 || !is_digit(p[i - 1]) || !digit_next;
    if (p[i] != '0' || !digit_next)
        return false;
    size_t j = i > 0 && p[i - 1] == '-' ? i - 1 : i;   /* back over a sign */
    if (j == 0)
        return true;
    unsigned c = p[j - 1];
    return !(is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+');
}

/* Whether the text may go to cJSON: false for what cJSON would accept
 * although RFC 8259 does not, or would read as a different value (see the
 * top of the file).  Strings are told apart exactly as cJSON does, so
 * whatever cJSON accepts was checked with the right string boundaries. */
static bool precheck(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        if (c == '"') {
            i = string_end(p, i + 1, len);
            if (i == len)
                return false;
        } else if (c < 0x20 ? !is_json_space(c) : bad_number_char(p, i, len)) {
            return false;
        }
    }
    return true;
}

/* ---- Parsing: cJSON tree to values -------------------------------------- */

static bool convert(FlArena *a, const cJSON *j, int depth, FlValue *out);

/* An arena copy of the NUL-terminated `s` (the pre-check made sure no
 * escaped NUL shortened it). */
static bool convert_string(FlArena *a, const char *s, const char **copy,
                           uint32_t *len)
{
    size_t n = strlen(s);
    if (n > FL_LEN_MAX)
        return false;
    char *o = fl_arena_alloc(a, n + 1);
    memcpy(o, s, n + 1);
    *copy = o;
    *len = (uint32_t)n;
    return true;
}

static size_t count_children(const cJSON *j)
{
    size_t n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
        n++;
    return n;
}

/* Items go straight into an exact-size arena array. */
static bool convert_array(FlArena *a, const cJSON *j, int depth, FlValue *out)
{
    size_t n = count_children(j), i = 0;
    if (n > FL_LEN_MAX)
        return false;
    FlValue *items = n ? fl_arena_alloc(a, n * sizeof *items) : NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
        if (!convert(a, c, depth, &items[i++]))
            return false;
    *out = (FlValue){.type = FL_ARRAY, .len = (uint32_t)n,
                     .u = {.items = items}};
    return true;
}

/* Members keep cJSON's order, duplicate keys included. */
static bool convert_object(FlArena *a, const cJSON *j, int depth, FlValue *out)
{
    size_t n = count_children(j), i = 0;
    if (n > FL_LEN_MAX)
        return false;
    FlMember *members = n ? fl_arena_alloc(a, n * sizeof *members) : NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        FlMember *m = &members[i++];
        if (!convert_string(a, c->string, &m->key, &m->klen) ||
            !convert(a, c, depth, &m->value))
            return false;
    }
    *out = (FlValue){.type = FL_OBJECT, .len = (uint32_t)n,
                     .u = {.members = members}};
    return true;
}

/* Converts `j`, which `depth` containers enclose, into *out.  A number
 * too large for a double (cJSON gives infinity) becomes null. */
static bool convert(FlArena *a, const cJSON *j, int depth, FlValue *out)
{
    switch (j->type & 0xFF) {
    case cJSON_NULL:
        *out = fl_null;
        return true;
    case cJSON_False:
        *out = fl_false;
        return true;
    case cJSON_True:
        *out = fl_true;
        return true;
    case cJSON_Number:
        *out = isfinite(j->valuedouble)
                   ? (FlValue){.type = FL_NUMBER, .u = {.n = j->valuedouble}}
                   : fl_null;
        return true;
    case cJSON_String:
        *out = (FlValue){.type = FL_STRING};
        return convert_string(a, j->valuestring, &out->u.s, &out->len);
    case cJSON_Array:
        return depth < FL_JSON_MAX_DEPTH &&
               convert_array(a, j, depth + 1, out);
    case cJSON_Object:
        return depth < FL_JSON_MAX_DEPTH &&
               convert_object(a, j, depth + 1, out);
    default:                    /* cJSON_Raw: never made by the parser */
        return false;
    }
}

/* ---- Parsing: entry points ---------------------------------------------- */

static bool only_space(const char *p, const char *end)
{
    while (p < end && is_json_space((unsigned char)*p))
        p++;
    return p == end;
}

/* cJSON reports running out of malloc() memory as a failed parse, so
 * there the text reads as invalid instead of aborting as the arena does. */
const FlValue *fl_json_parse(FlArena *a, const char *p, size_t len)
{
    if (!precheck(p, len))
        return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(p, len, &end, false);
    if (!root)
        return NULL;
    FlValue v;
    bool ok = only_space(end, p + len) && convert(a, root, 0, &v);
    cJSON_Delete(root);
    if (!ok)
        return NULL;
    FlValue *out = fl_arena_alloc(a, sizeof *out);
    *out = v;
    return out;
}

bool json_media_type(const char *ct)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    const char *slash = memchr(ct, '/', n);
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
        return true;
    return slash && ct + n - slash > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}
