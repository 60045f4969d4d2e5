/* sqlscan.c - finds the $N placeholders of literal SQL (sqlscan.h).
 *
 * A small scanner over the lexical rules PostgreSQL and SQLite share,
 * plus PostgreSQL's dollar quoting and E'' strings, which SQLite never
 * meets in working SQL.  It understands no grammar: a '$' followed by
 * digits outside quotes and comments, not part of a name, is a
 * placeholder, as both databases read it. */
#include "sqlscan.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t i;
    SqlScan r;
    bool seen[SQL_MAX_PARAMS + 1];
} Scanner;

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '$'
           || (unsigned char)c >= 0x80;
}

static void problem(Scanner *sc, const char *what, size_t at)
{
    if (!sc->r.problem) {
        sc->r.problem = what;
        sc->r.at = at;
    }
}

/* Skips a quoted run closed by q (doubled q escapes it; with backslash,
 * \x too); sc->i is at the opening quote. */
static void skip_quoted(Scanner *sc, char q, bool backslash)
{
    size_t start = sc->i++;
    for (;;) {
        char c = sc->s[sc->i];
        if (!c) {
            problem(sc, "a quote is not closed", start);
            return;
        }
        sc->i++;
        if (backslash && c == '\\' && sc->s[sc->i]) {
            sc->i++;
        } else if (c == q) {
            if (sc->s[sc->i] != q)
                return;
            sc->i++;
        }
    }
}

/* Skips a comment starting at sc->i ("--" or slash-star, nested). */
static void skip_comment(Scanner *sc)
{
    size_t start = sc->i;
    if (sc->s[sc->i] == '-') {
        sc->i += strcspn(sc->s + sc->i, "\n");
        return;
    }
    int depth = 0;
    do {
        if (!sc->s[sc->i]) {
            problem(sc, "a comment is not closed", start);
            return;
        }
        if (sc->s[sc->i] == '/' && sc->s[sc->i + 1] == '*') {
            depth++;
            sc->i += 2;
        } else if (sc->s[sc->i] == '*' && sc->s[sc->i + 1] == '/') {
            depth--;
            sc->i += 2;
        } else {
            sc->i++;
        }
    } while (depth > 0);
}

static bool at_comment(const Scanner *sc)
{
    const char *p = sc->s + sc->i;
    return (p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*');
}

/* The length of a dollar-quote tag ($$ or $name$) at p, or 0. */
static size_t dollar_tag(const char *p)
{
    size_t n = 1;
    if (p[1] >= '0' && p[1] <= '9')
        return 0;
    while (p[n] && p[n] != '$' && is_name_char(p[n]))
        n++;
    return p[n] == '$' ? n + 1 : 0;
}

/* A '$' at sc->i: a placeholder, a dollar-quoted body, or text. */
static void scan_dollar(Scanner *sc)
{
    const char *p = sc->s + sc->i;
    bool in_name = sc->i > 0 && is_name_char(p[-1]);
    if (!in_name && p[1] >= '0' && p[1] <= '9') {
        long n = 0;
        size_t len = 1;
        for (; p[len] >= '0' && p[len] <= '9'; len++)
            if (n <= SQL_MAX_PARAMS)
                n = n * 10 + (p[len] - '0');
        if (n == 0)
            problem(sc, "placeholders start at $1", sc->i);
        else if (n > SQL_MAX_PARAMS)
            problem(sc, "too many placeholders (at most 1000)", sc->i);
        else
            sc->seen[n] = true;
        if (n > sc->r.count && n <= SQL_MAX_PARAMS)
            sc->r.count = (int)n;
        sc->i += len;
        return;
    }
    size_t tag = in_name ? 0 : dollar_tag(p);
    if (!tag) {
        sc->i++;
        return;
    }
    const char *end;
    for (end = p + tag; *end && strncmp(end, p, tag) != 0; end++)
        ;
    if (!*end) {
        problem(sc, "a dollar-quoted string is not closed", sc->i);
        sc->i += strlen(p);
        return;
    }
    sc->i = (size_t)(end - sc->s) + tag;
}

/* A ';': only white space and comments may follow it. */
static void scan_semicolon(Scanner *sc)
{
    size_t at = sc->i++;
    for (;;) {
        sc->i += strspn(sc->s + sc->i, " \t\r\n;");
        if (!at_comment(sc))
            break;
        skip_comment(sc);
    }
    if (sc->s[sc->i])
        problem(sc, "one statement only: text follows the ';'", at);
}

static void scan_one(Scanner *sc)
{
    const char *p = sc->s + sc->i;
    bool name_before = sc->i > 0 && is_name_char(p[-1]);
    if (*p == '\'')
        skip_quoted(sc, '\'', name_before && (p[-1] == 'E' || p[-1] == 'e')
                    && !(sc->i > 1 && is_name_char(p[-2])));
    else if (*p == '"' || *p == '`')
        skip_quoted(sc, *p, false);
    else if (at_comment(sc))
        skip_comment(sc);
    else if (*p == '$')
        scan_dollar(sc);
    else if (*p == ';')
        scan_semicolon(sc);
    else
        sc->i++;
}

SqlScan sql_scan(const char *sql)
{
    static Scanner sc;     /* the compiler is single-threaded */
    memset(&sc, 0, sizeof sc);
    sc.s = sql;
    while (sql[sc.i])
        scan_one(&sc);
    for (int n = 1; n <= sc.r.count && !sc.r.problem; n++)
        if (!sc.seen[n]) {
            sc.r.problem = "placeholders are numbered with no gaps";
            sc.r.missing = n;
        }
    return sc.r;
}
