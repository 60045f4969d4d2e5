/* jsonread.c - bytes in, a cJSON tree that is exactly the JSON the user
 * wrote out, or one syntax error at a line and column.
 *
 * cJSON is lenient where a compiler must not be: it takes invalid UTF-8,
 * control characters and leading zeros, cuts strings at \u0000, keeps
 * duplicate keys as siblings, fails with nothing to say past its own
 * nesting limit, and often points its error a token away from the mistake.
 * So a linear scanner first validates the bytes as strict JSON (RFC 8259)
 * and reports the first problem exactly where it is; cJSON then only builds
 * the tree; and a walk over the tree reports duplicate keys.  The scanner
 * also notes where each value starts: values come in the same order in the
 * text as in a pre-order walk of the tree, so a second walk hands each
 * value's offset to the diagnostics under its JSON path (spec §12's
 * FILE:LINE:COL).  Line and column are computed only when printing.  Columns
 * count UTF-8 characters from 1 (a tab is one), which is what editors
 * show. */
#include "jsonread.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "strset.h"

/* ---- syntax errors ------------------------------------------------------ */

static void report_syntax(Diag *d, const char *s, size_t len, size_t at,
                          const char *msg)
{
    diag_syntax(d, s, len, at, "%s", msg);
}

/* ---- the scanner ---------------------------------------------------------
 *
 * A JSON validator driven by what may come next, with the open brackets
 * on a stack of at most JSONREAD_MAX_DEPTH: no recursion, one pass, and the
 * exact offset of the first problem. */

typedef enum {
    EXPECT_VALUE,       /* a value: the document, after ':' or "[...," */
    EXPECT_FIRST_ITEM,  /* a value or ']' after '[' */
    EXPECT_FIRST_KEY,   /* a key or '}' after '{' */
    EXPECT_KEY,         /* a key after "{...," */
    EXPECT_COLON,       /* ':' after a key */
    EXPECT_NEXT         /* ',' or the closing bracket; or, at depth 0, the
                           end of the document */
} Expect;

typedef struct {
    const unsigned char *s;
    size_t len;
    size_t pos;          /* next byte */
    Expect expect;
    int depth;
    char open[JSONREAD_MAX_DEPTH + 1];  /* '[' or '{' per open level */
    Arena *arena;
    const char *error;   /* the first problem, at pos */
    bool noting;         /* note where values start (stops when out of
                            memory: the values noted keep their places) */
    size_t *starts;      /* offset of each value in order (malloc'd) */
    size_t count, cap;
} Scan;

static bool in_range(long c, long lo, long hi)
{
    return c >= lo && c <= hi;
}

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) at s, or 0. */
static size_t utf8_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : in_range(c, 0xC2, 0xDF) ? 2
             : in_range(c, 0xE0, 0xEF) ? 3 : in_range(c, 0xF0, 0xF4) ? 4 : 0;
    if (n == 0 || n > avail)
        return 0;
    long lo = 0x80, hi = 0xBF;   /* bounds of the second byte */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n > 1 && !in_range(s[1], lo, hi))
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!in_range(s[i], 0x80, 0xBF))
            return 0;
    return n;
}

static bool scan_fail(Scan *sc, const char *msg)
{
    sc->error = msg;
    return false;
}

static const char nul_message[] = "a NUL byte (0x00) may not appear in JSON";

/* Checks the byte at pos is not NUL and starts valid UTF-8; advances past
 * the character. */
static bool scan_char(Scan *sc)
{
    unsigned char c = sc->s[sc->pos];
    if (c == 0)
        return scan_fail(sc, nul_message);
    size_t n = utf8_length(sc->s + sc->pos, sc->len - sc->pos);
    if (n == 0)
        return scan_fail(sc, arena_sprintf(sc->arena,
                                           "invalid UTF-8 byte 0x%02X", c));
    sc->pos += n;
    return true;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* How the byte at pos is named in "unexpected ...": a character, or the
 * whole word for letters (True, None); NULL after setting the error for
 * a byte that is not a character at all. */
static const char *scan_shown(Scan *sc)
{
    const unsigned char *p = sc->s + sc->pos;
    size_t avail = sc->len - sc->pos, n = 1;
    if (*p == 0 || *p >= 0x80) {
        size_t at = sc->pos;
        if (!scan_char(sc))
            return NULL;
        n = sc->pos - at;
        sc->pos = at;
    } else if (*p < 0x20 || *p == 0x7f) {
        return arena_sprintf(sc->arena, "control character 0x%02X", *p);
    }
    while (is_alpha(p[0]) && n < avail && n < 20
           && (is_alpha(p[n]) || is_digit(p[n]) || p[n] == '_'))
        n++;
    return arena_sprintf(sc->arena, "'%.*s'", (int)n, (const char *)p);
}

/* Whether the last token before pos is a comma. */
static bool after_comma(const Scan *sc)
{
    size_t i = sc->pos;
    while (i > 0 && strchr(" \t\r\n", sc->s[i - 1]))
        i--;
    return i > 0 && sc->s[i - 1] == ',';
}

/* "invalid JSON (unexpected X; expected WHAT)" for the byte at pos (WHAT
 * NULL: past the end of the document), or a more helpful message for the
 * common slips. */
static bool scan_unexpected(Scan *sc, const char *what)
{
    unsigned char c = sc->s[sc->pos];
    if (c == '\'')
        return scan_fail(sc, "invalid JSON (unexpected single quote: JSON "
                             "strings use double quotes)");
    if ((c == '}' || c == ']') && sc->expect != EXPECT_COLON
        && after_comma(sc))
        return scan_fail(sc, arena_sprintf(sc->arena, "invalid JSON "
                         "(unexpected '%c' after a comma: remove the comma)",
                         c));
    const char *shown = scan_shown(sc);
    if (!shown)
        return false;
    if (!what)
        return scan_fail(sc, arena_sprintf(sc->arena, "invalid JSON "
                         "(unexpected %s after the end of the document)",
                         shown));
    return scan_fail(sc, arena_sprintf(sc->arena,
                     "invalid JSON (unexpected %s; expected %s)", shown,
                     what));
}

static int hex_value(unsigned char c)
{
    return is_digit(c) ? c - '0' : in_range(c | 0x20, 'a', 'f')
                                   ? (c | 0x20) - 'a' + 10 : -1;
}

/* The code unit of a \uXXXX escape at p, or -1. */
static long hex4(const unsigned char *p, size_t avail)
{
    long v = 0;
    if (avail < 6 || p[0] != '\\' || p[1] != 'u')
        return -1;
    for (int i = 2; i < 6; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A \u escape at pos: four hex digits, surrogates in pairs, and not
 * \u0000, which cJSON would silently take for the end of the string. */
static bool scan_unicode(Scan *sc)
{
    const unsigned char *e = sc->s + sc->pos;
    size_t avail = sc->len - sc->pos;
    long unit = hex4(e, avail);
    if (unit < 0)
        return scan_fail(sc, "invalid \\u escape: expected 4 hex digits");
    if (unit == 0)
        return scan_fail(sc, "a string may not contain \\u0000 (NUL)");
    if (in_range(unit >> 8, 0xDC, 0xDF))
        return scan_fail(sc, "invalid \\u escape: unpaired surrogate");
    if (in_range(unit >> 8, 0xD8, 0xDB)) {
        long low = hex4(e + 6, avail - 6);
        if (low < 0 || !in_range(low >> 8, 0xDC, 0xDF))
            return scan_fail(sc, "invalid \\u escape: unpaired surrogate");
        sc->pos += 6;
    }
    sc->pos += 6;
    return true;
}

static bool scan_escape(Scan *sc)
{
    unsigned char c = sc->pos + 1 < sc->len ? sc->s[sc->pos + 1] : 0;
    if (c == 'u')
        return scan_unicode(sc);
    if (c && strchr("\"\\/bfnrt", c)) {
        sc->pos += 2;
        return true;
    }
    if (c > 0x20 && c < 0x7f)
        return scan_fail(sc, arena_sprintf(sc->arena, "invalid escape "
                                           "'\\%c' in a string", c));
    return scan_fail(sc, "invalid escape in a string");
}

/* A string from its opening quote at pos to past its closing one. */
static bool scan_string(Scan *sc)
{
    size_t open = sc->pos++;
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c == '"') {
            sc->pos++;
            return true;
        }
        if (c == '\\' && sc->pos + 1 < sc->len) {
            if (!scan_escape(sc))
                return false;
        } else if (c < 0x20 && c != 0) {
            return scan_fail(sc, arena_sprintf(sc->arena,
                "raw control character 0x%02X in a string "
                "(write it escaped, such as \\n or \\t)", c));
        } else if (!scan_char(sc)) {
            return false;
        }
    }
    sc->pos = open;
    return scan_fail(sc, "unterminated string");
}

/* Consumes digits; false when there is none. */
static bool scan_digits(Scan *sc)
{
    size_t start = sc->pos;
    while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
        sc->pos++;
    return sc->pos > start;
}

static bool at(Scan *sc, const char *set)
{
    return sc->pos < sc->len && sc->s[sc->pos] && strchr(set, sc->s[sc->pos]);
}

/* A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, not followed by
 * another number character (cJSON would take "01" and "1."). */
static bool scan_number(Scan *sc)
{
    size_t start = sc->pos;
    if (at(sc, "-"))
        sc->pos++;
    size_t first = sc->pos;
    bool ok = scan_digits(sc);
    if (ok && sc->s[first] == '0' && sc->pos - first > 1) {
        sc->pos = start;
        return scan_fail(sc, "invalid number: JSON numbers have no "
                             "leading zeros");
    }
    if (ok && at(sc, ".")) {
        sc->pos++;
        ok = scan_digits(sc);
    }
    if (ok && at(sc, "eE")) {
        sc->pos++;
        if (at(sc, "+-"))
            sc->pos++;
        ok = scan_digits(sc);
    }
    if (ok && !at(sc, "0123456789.eE+-"))
        return true;
    sc->pos = start;
    return scan_fail(sc, "invalid number");
}

static bool scan_literal(Scan *sc)
{
    static const char *const words[] = { "true", "false", "null" };
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (sc->len - sc->pos >= n && memcmp(sc->s + sc->pos, words[i], n) == 0
            && !(sc->len - sc->pos > n && is_alpha(sc->s[sc->pos + n]))) {
            sc->pos += n;
            return true;
        }
    }
    return scan_unexpected(sc, "a value");
}

static bool scan_open(Scan *sc, unsigned char c)
{
    if (sc->depth == JSONREAD_MAX_DEPTH)
        return scan_fail(sc, "JSON nested deeper than 512 levels");
    sc->open[sc->depth++] = (char)c;
    sc->expect = c == '[' ? EXPECT_FIRST_ITEM : EXPECT_FIRST_KEY;
    sc->pos++;
    return true;
}

/* Notes that a value starts at pos. */
static void note_start(Scan *sc)
{
    if (sc->count == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 256;
        size_t *grown = realloc(sc->starts, cap * sizeof *grown);
        if (!grown) {
            sc->noting = false;
            return;
        }
        sc->starts = grown;
        sc->cap = cap;
    }
    sc->starts[sc->count++] = sc->pos;
}

static bool scan_value(Scan *sc)
{
    unsigned char c = sc->s[sc->pos];
    if (sc->noting)
        note_start(sc);
    if (c == '[' || c == '{')
        return scan_open(sc, c);
    sc->expect = EXPECT_NEXT;
    if (c == '"')
        return scan_string(sc);
    if (c == '-' || is_digit(c))
        return scan_number(sc);
    return scan_literal(sc);
}

static bool scan_key(Scan *sc)
{
    if (sc->s[sc->pos] != '"')
        return scan_unexpected(sc, "a key in double quotes");
    sc->expect = EXPECT_COLON;
    return scan_string(sc);
}

/* After a value: a comma, the bracket that closes its level, or at the top
 * level nothing at all. */
static bool scan_next(Scan *sc)
{
    unsigned char c = sc->s[sc->pos];
    if (sc->depth == 0)
        return scan_unexpected(sc, NULL);
    char open = sc->open[sc->depth - 1];
    if (c == ',') {
        sc->expect = open == '[' ? EXPECT_VALUE : EXPECT_KEY;
        sc->pos++;
        return true;
    }
    if (c == (open == '[' ? ']' : '}')) {
        sc->expect = EXPECT_NEXT;
        sc->depth--;
        sc->pos++;
        return true;
    }
    return scan_unexpected(sc, open == '[' ? "',' or ']'" : "',' or '}'");
}

/* One token, at pos, after white space. */
static bool scan_token(Scan *sc)
{
    unsigned char c = sc->s[sc->pos];
    switch (sc->expect) {
    case EXPECT_FIRST_ITEM:
        if (c == ']')
            return scan_next(sc);
        return scan_value(sc);
    case EXPECT_VALUE:
        return scan_value(sc);
    case EXPECT_FIRST_KEY:
        if (c == '}')
            return scan_next(sc);
        return scan_key(sc);
    case EXPECT_KEY:
        return scan_key(sc);
    case EXPECT_COLON:
        if (c != ':')
            return scan_unexpected(sc, "':'");
        sc->expect = EXPECT_VALUE;
        sc->pos++;
        return true;
    case EXPECT_NEXT:
        return scan_next(sc);
    }
    return false;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Returns true when the bytes are one strict JSON document, else reports
 * the first problem.  With a Places, also notes where each value starts
 * (the caller frees places->starts). */
typedef struct {
    size_t *starts;
    size_t count;
} Places;

static bool prescan(Arena *a, Diag *d, const char *bytes, size_t len,
                    Places *places)
{
    Scan sc = { .s = (const unsigned char *)bytes, .len = len,
                .expect = EXPECT_VALUE, .arena = a,
                .noting = places != NULL };
    bool ok = true;
    while (ok) {
        while (sc.pos < len && is_space(sc.s[sc.pos]))
            sc.pos++;
        if (sc.pos == len)
            break;
        ok = scan_token(&sc);
    }
    if (ok && (sc.depth > 0 || sc.expect != EXPECT_NEXT))
        ok = scan_fail(&sc, "invalid JSON (unexpected end of file)");
    if (!ok)
        report_syntax(d, bytes, len, sc.pos, sc.error);
    if (places) {
        places->starts = sc.starts;
        places->count = sc.count;
    }
    return ok;
}

/* ---- cJSON --------------------------------------------------------------- */

/* cJSON should accept whatever the scanner did; if it does not, say where
 * it stopped. */
static const char *parse_error(Arena *a, const char *s, size_t len,
                               size_t at)
{
    if (at >= len)
        return "invalid JSON (unexpected end of file)";
    return arena_sprintf(a, "invalid JSON (unexpected '%c')", s[at]);
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
            return false;
    return true;
}

/* Runs cJSON over the pre-scanned bytes (which hold no NUL, so a copy with
 * one appended lets cJSON insist nothing follows the document). */
static cJSON *parse_cjson(Arena *a, Diag *d, const char *bytes, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        diag_syntax(d, bytes, len, 0, "out of memory reading the file");
        return NULL;
    }
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, true);
    if (!root) {
        size_t at = end && end >= copy ? (size_t)(end - copy) : len;
        report_syntax(d, bytes, len, at, parse_error(a, bytes, len, at));
    }
    free(copy);
    return root;
}

/* ---- duplicate keys ------------------------------------------------------ */

/* Where the walk is, kept on the stack and spelled only for a report. */
typedef struct PathSeg {
    const struct PathSeg *up;
    const char *name;    /* member name, or NULL for an array index */
    int index;
} PathSeg;

static const char *path_spell(Arena *a, const PathSeg *p)
{
    if (!p)
        return "";
    const char *up = path_spell(a, p->up);
    return p->name ? jsonpath_field(a, up, p->name)
                   : jsonpath_index(a, up, p->index);
}

/* Is member m's key used by an earlier member of its object?  Small
 * objects are searched, large ones go through a hash set. */
static bool is_duplicate(const cJSON *obj, const cJSON *m, StrSet *seen)
{
    if (seen)
        return strset_add(seen, m->string, (void *)m) != NULL;
    for (const cJSON *o = obj->child; o != m; o = o->next)
        if (strcmp(o->string, m->string) == 0)
            return true;
    return false;
}

static void check_duplicates(Arena *a, Diag *d, const cJSON *v,
                             const PathSeg *up)
{
    enum { SEARCH_LIMIT = 16 };
    StrSet *seen = NULL;
    if (cJSON_IsObject(v) && cJSON_GetArraySize(v) > SEARCH_LIMIT)
        seen = strset_new(a);
    int i = 0;
    for (const cJSON *m = v->child; m; m = m->next, i++) {
        PathSeg here = { up, cJSON_IsObject(v) ? m->string : NULL, i };
        if (here.name && is_duplicate(v, m, seen))
            diag_report(d, DIAG_ERROR, path_spell(a, &here), NULL,
                        "duplicate key '%s'", jsonpath_excerpt(a, m->string));
        if (m->child)
            check_duplicates(a, d, m, &here);
    }
}

/* ---- where each value starts -------------------------------------------- */

enum {
    PLACE_DEPTH = 48  /* deeper values are not placed: their diagnostics
                         point at the nearest placed ancestor, and a deep
                         document does not cost paths quadratic in depth */
};

/* Hands value v (at path, NULL past PLACE_DEPTH) and everything under it
 * their offsets, in pre-order, the order the scanner met them in. */
static void place_values(Arena *a, Diag *d, const cJSON *v, const char *path,
                         int depth, const Places *places, size_t *next)
{
    if (path && *next < places->count)
        diag_place(d, path, places->starts[*next]);
    ++*next;
    int i = 0;
    for (const cJSON *m = v->child; m; m = m->next, i++) {
        const char *sub = NULL;
        if (path && depth < PLACE_DEPTH)
            sub = cJSON_IsObject(v) ? jsonpath_field(a, path, m->string)
                                    : jsonpath_index(a, path, i);
        place_values(a, d, m, sub, depth + 1, places, next);
    }
}

/* ---- entry points -------------------------------------------------------- */

cJSON *jsonread_parse(Arena *a, Diag *d, const char *bytes, size_t len)
{
    if (len >= 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) == 0) {
        bytes += 3;
        len -= 3;
    }
    if (is_blank(bytes, len)) {
        diag_report(d, DIAG_ERROR, "", NULL,
                    "empty file: expected a JSON object");
        return NULL;
    }
    Places places = { NULL, 0 };
    bool placing = diag_has_source(d);
    if (placing)
        diag_set_source(d, bytes, len);   /* past the byte order mark */
    if (!prescan(a, d, bytes, len, placing ? &places : NULL)) {
        free(places.starts);
        return NULL;
    }
    cJSON *root = parse_cjson(a, d, bytes, len);
    if (root && placing) {
        size_t next = 0;
        place_values(a, d, root, "", 0, &places, &next);
    }
    free(places.starts);
    if (root)
        check_duplicates(a, d, root, NULL);
    return root;
}

const char *jsonread_type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    return "an object";
}
