/* test_expr.c - the expression language of spec §2: lexer, parser, AST.
 *
 * Most cases parse "{{ EXPR }}" and compare expr_to_sexpr() of the result
 * with an exact string; error cases compare the whole printed diagnostic,
 * caret line included.  Each helper call gets a fresh arena, freed at the
 * next call, so results are only used before the next call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "unit.h"

static Arena *arena;
static Diag *diag;

static void fresh(void)
{
    arena_free(arena);
    arena = arena_new();
    diag = diag_new(arena, "t.json", false);
}

/* Everything reported to diag, as diag_print writes it. */
static const char *diag_text(void)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    diag_print(diag, f);
    fclose(f);
    char *copy = arena_strndup(arena, buf, size);
    free(buf);
    return copy;
}

static Template *parse_n(const char *src, size_t len, bool *ok)
{
    fresh();
    return template_parse(arena, diag, src, len, "config.x", "k", ok);
}

static Template *parse(const char *src, bool *ok)
{
    return parse_n(src, strlen(src), ok);
}

/* The s-expression of "{{ expr }}", or "ERROR ..." with the diagnostics. */
static const char *sx(const char *expr)
{
    char src[1024];
    snprintf(src, sizeof src, "{{ %s }}", expr);
    bool ok;
    Template *t = parse(src, &ok);
    if (ok && t->whole)
        return expr_to_sexpr(arena, t->parts[0].expr);
    return arena_sprintf(arena, "ERROR %s", diag_text());
}

/* The diagnostics printed for template src ("" when it parses). */
static const char *errors(const char *src)
{
    bool ok;
    parse(src, &ok);
    const char *text = diag_text();
    CU_ASSERT_EQUAL(ok, *text == '\0');
    return text;
}

/* The first line of the diagnostics for "{{ expr }}", after "(k): ". */
static const char *error_of(const char *expr)
{
    char src[1024];
    snprintf(src, sizeof src, "{{ %s }}", expr);
    const char *all = errors(src);
    const char *start = strstr(all, "(k): ");
    if (!start)
        return "NO ERROR";
    start += 5;
    return arena_strndup(arena, start, strcspn(start, "\n"));
}

typedef struct {
    const char *src, *want;
} Case;

static void check_cases(const Case *cases, int n)
{
    for (int i = 0; i < n; i++) {
        const char *got = sx(cases[i].src);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "\n  %s\n    got  %s\n    want %s\n", cases[i].src,
                    got, cases[i].want);
        CU_ASSERT_STRING_EQUAL(got, cases[i].want);
    }
}

#define CHECK_CASES(c) check_cases(c, (int)(sizeof(c) / sizeof((c)[0])))

/* ---- operators and precedence ---------------------------------------------- */

static void test_each_operator(void)
{
    static const Case cases[] = {
        { "a || b", "(|| a b)" },   { "a && b", "(&& a b)" },
        { "a == b", "(== a b)" },   { "a != b", "(!= a b)" },
        { "a < b", "(< a b)" },     { "a <= b", "(<= a b)" },
        { "a > b", "(> a b)" },     { "a >= b", "(>= a b)" },
        { "a + b", "(+ a b)" },     { "a - b", "(- a b)" },
        { "a * b", "(* a b)" },     { "a / b", "(/ a b)" },
        { "a % b", "(% a b)" },     { "!a", "(! a)" },
        { "-a", "(- a)" },          { "a<=b", "(<= a b)" },
        { "a||b&&c", "(|| a (&& b c))" },
    };
    CHECK_CASES(cases);
}

static void test_precedence(void)
{
    static const Case cases[] = {
        { "a || b && c", "(|| a (&& b c))" },
        { "a && b || c", "(|| (&& a b) c)" },
        { "a && b || !(c == d)", "(|| (&& a b) (! (== c d)))" },
        { "!a == b", "(! (== a b))" },
        { "!a && b", "(&& (! a) b)" },
        { "!a || b", "(|| (! a) b)" },
        { "a || !b && c", "(|| a (&& (! b) c))" },
        { "a == !b", "(== a (! b))" },
        { "!a < b + c", "(! (< a (+ b c)))" },
        { "a && b == c", "(&& a (== b c))" },
        { "a == b + c", "(== a (+ b c))" },
        { "a + b == c * d", "(== (+ a b) (* c d))" },
        { "a + b * c", "(+ a (* b c))" },
        { "a * b + c", "(+ (* a b) c)" },
        { "a - b % c", "(- a (% b c))" },
        { "-a * b", "(* (- a) b)" },
        { "-a.b", "(- (. a b))" },
        { "-a[0]", "(- ([] a 0))" },
        { "!a.b", "(! (. a b))" },
        { "- -a", "(- (- a))" },
        { "!!a", "(! (! a))" },
        { "-!a", "(- (! a))" },
        { "(a + b) * c", "(* (+ a b) c)" },
        { "a * (b + c)", "(* a (+ b c))" },
        { "((a))", "a" },
        { "2 * -3", "(* 2 (- 3))" },
    };
    CHECK_CASES(cases);
}

static void test_associativity(void)
{
    static const Case cases[] = {
        { "a || b || c", "(|| (|| a b) c)" },
        { "a && b && c", "(&& (&& a b) c)" },
        { "a == b != c", "(!= (== a b) c)" },
        { "a < b <= c > d >= e", "(>= (> (<= (< a b) c) d) e)" },
        { "a - b - c", "(- (- a b) c)" },
        { "a - b + c", "(+ (- a b) c)" },
        { "a / b / c", "(/ (/ a b) c)" },
        { "a / b % c * d", "(* (% (/ a b) c) d)" },
    };
    CHECK_CASES(cases);
}

/* ---- names, fields, the hyphen rule, brackets, calls ---------------------- */

static void test_hyphen_rule(void)
{
    static const Case cases[] = {
        { "a.x-y", "(. a x-y)" },
        { "a.x - y", "(- (. a x) y)" },
        { "a.x -y", "(- (. a x) y)" },
        { "a.x-1", "(. a x-1)" },
        { "a.x--y", "(. a x--y)" },
        { "a.x- - y", "(- (. a x-) y)" },
        { "a.b-c.d", "(. (. a b-c) d)" },
        { "trigger.output.headers.x-signature",
          "(. (. (. trigger output) headers) x-signature)" },
        { "a - b", "(- a b)" },
        { "a-b", "(- a b)" },
        { "a.0", "(. a 0)" },
        { "a._x", "(. a _x)" },
        { "a .b", "(. a b)" },
        { "a.true", "(. a true)" },
        { "a.1e3", "(. a 1e3)" },
        { "env.PAYMENT_SECRET", "(. env PAYMENT_SECRET)" },
        { "_x9", "_x9" },
    };
    CHECK_CASES(cases);
}

static void test_hyphen_errors(void)
{
    CU_ASSERT_STRING_EQUAL(error_of("a. b"), "syntax error at column 6: "
                           "expected a field name after '.'");
    CU_ASSERT_STRING_EQUAL(error_of("a.-b"), "syntax error at column 6: "
                           "expected a field name after '.'");
    CU_ASSERT_STRING_EQUAL(errors("{{a.}}"),
                           "t.json: error: config.x (k): syntax error at "
                           "column 5: expected a field name after '.'\n"
                           "    {{a.}}\n"
                           "        ^\n");
    CU_ASSERT_STRING_EQUAL(error_of("a.x- y"), "syntax error at column 9: "
                           "unexpected name 'y', expecting an operator or "
                           "end of expression");
}

static void test_brackets(void)
{
    static const Case cases[] = {
        { "a[\"x-y\"]", "([] a \"x-y\")" },
        { "headers['x-signature']", "([] headers \"x-signature\")" },
        { "items[0]", "([] items 0)" },
        { "body[trigger.output.query.field]",
          "([] body (. (. (. trigger output) query) field))" },
        { "a[0][1].b", "(. ([] ([] a 0) 1) b)" },
        { "a[1 + 2]", "([] a (+ 1 2))" },
        { "[1, 2][0]", "([] (array 1 2) 0)" },
        { "(a)[0]", "([] a 0)" },
    };
    CHECK_CASES(cases);
    CU_ASSERT_STRING_EQUAL(error_of("a[]"), "syntax error at column 6: "
                           "unexpected ']', expecting a value");
    CU_ASSERT_STRING_EQUAL(error_of("a[0"), "syntax error at column 8: "
                           "unexpected end of expression, expecting an "
                           "operator or ']'");
}

static void test_calls(void)
{
    static const Case cases[] = {
        { "len(x)", "(call len x)" },
        { "now()", "(call now)" },
        { "f(1, 'a', [2])", "(call f 1 \"a\" (array 2))" },
        { "f(g(1), h())", "(call f (call g 1) (call h))" },
        { "f(x).y[0]", "([] (. (call f x) y) 0)" },
        { "len (x)", "(call len x)" },
        { "secure_equals(trigger.output.headers.x-signature, "
          "hmac_sha256(env.PAYMENT_SECRET, trigger.output.raw_body))",
          "(call secure_equals (. (. (. trigger output) headers) x-signature) "
          "(call hmac_sha256 (. env PAYMENT_SECRET) "
          "(. (. trigger output) raw_body)))" },
        { "unknown_fn(1)", "(call unknown_fn 1)" },
    };
    CHECK_CASES(cases);
    CU_ASSERT_STRING_EQUAL(error_of("a.b()"), "syntax error at column 7: "
                           "unexpected '(', expecting an operator or end of "
                           "expression");
    CU_ASSERT_STRING_EQUAL(error_of("f(a b)"), "syntax error at column 8: "
                           "unexpected name 'b', expecting an operator, ')' "
                           "or ','");
    CU_ASSERT_STRING_EQUAL(error_of("f(1,)"), "syntax error at column 8: "
                           "unexpected ')', expecting a value");
    CU_ASSERT_STRING_EQUAL(error_of("(1)(2)"), "syntax error at column 7: "
                           "unexpected '(', expecting an operator or end of "
                           "expression");
}

/* ---- literals ------------------------------------------------------------ */

static void test_numbers(void)
{
    static const Case cases[] = {
        { "12", "12" },     { "0", "0" },         { "007", "7" },
        { "1.5", "1.5" },   { "1e3", "1000" },    { "1E3", "1000" },
        { "2.5e-3", "0.0025" }, { "1e+2", "100" }, { "0.1", "0.1" },
        { "123456789012", "123456789012" },      { "1e300", "1e+300" },
    };
    CHECK_CASES(cases);
    CU_ASSERT_STRING_EQUAL(error_of("1e999"),
                           "syntax error at column 4: number out of range");
    CU_ASSERT_STRING_EQUAL(error_of(".5"), "syntax error at column 4: "
                           "unexpected field '.5', expecting a value");
    CU_ASSERT_STRING_EQUAL(error_of("1."), "syntax error at column 6: "
                           "expected a field name after '.'");
    CU_ASSERT_STRING_EQUAL(error_of("12abc"), "syntax error at column 6: "
                           "unexpected name 'abc', expecting an operator or "
                           "end of expression");
}

static void test_keywords_and_containers(void)
{
    static const Case cases[] = {
        { "true", "true" }, { "false", "false" }, { "null", "null" },
        { "nullx", "nullx" }, { "true_", "true_" },
        { "[]", "(array)" }, { "[ ]", "(array)" }, { "{}", "(object)" },
        { "[1, \"a\", [true, null]]", "(array 1 \"a\" (array true null))" },
        { "{\"k\": 1, 'j': [2]}", "(object (\"k\" 1) (\"j\" (array 2)))" },
        { "{\"a\": {\"b\": 1} }", "(object (\"a\" (object (\"b\" 1))))" },
        { "{\"a\": 1 + 2}", "(object (\"a\" (+ 1 2)))" },
        { "{\"a\": 1}.a", "(. (object (\"a\" 1)) a)" },
    };
    CHECK_CASES(cases);
    CU_ASSERT_STRING_EQUAL(error_of("[1,]"), "syntax error at column 7: "
                           "unexpected ']', expecting a value");
    CU_ASSERT_STRING_EQUAL(error_of("[1 2]"), "syntax error at column 7: "
                           "unexpected number '2', expecting an operator, "
                           "']' or ','");
    CU_ASSERT_STRING_EQUAL(error_of("{\"a\": 1,}"), "syntax error at column "
                           "12: unexpected '}', expecting a string");
    CU_ASSERT_STRING_EQUAL(error_of("{a: 1}"), "syntax error at column 5: "
                           "unexpected name 'a', expecting a string or '}'");
    CU_ASSERT_STRING_EQUAL(error_of("{\"a\" 1}"), "syntax error at column 9: "
                           "unexpected number '1', expecting ':'");
    CU_ASSERT_STRING_EQUAL(error_of("{1: 1}"), "syntax error at column 5: "
                           "unexpected number '1', expecting a string or '}'");
}

/* The one node of "{{ src }}", which must be a string literal. */
static const Expr *string_of(const char *src)
{
    bool ok;
    Template *t = parse(src, &ok);
    CU_ASSERT_TRUE_FATAL(ok && t->whole);
    CU_ASSERT_EQUAL_FATAL(t->parts[0].expr->kind, EX_STRING);
    return t->parts[0].expr;
}

static void assert_string(const char *src, const char *bytes, size_t len)
{
    const Expr *e = string_of(src);
    CU_ASSERT_EQUAL(e->len, len);
    CU_ASSERT(e->len == len && memcmp(e->str, bytes, len) == 0);
    CU_ASSERT_EQUAL(e->str[e->len], '\0');
}

static void test_string_escapes(void)
{
    assert_string("{{ 'abc' }}", "abc", 3);
    assert_string("{{ \"abc\" }}", "abc", 3);
    assert_string("{{ '' }}", "", 0);
    assert_string("{{ \"\\\"\" }}", "\"", 1);
    assert_string("{{ \"\\'\" }}", "'", 1);
    assert_string("{{ '\\'' }}", "'", 1);
    assert_string("{{ '\\\"' }}", "\"", 1);
    assert_string("{{ '\"' }}", "\"", 1);
    assert_string("{{ \"'\" }}", "'", 1);
    assert_string("{{ '\\\\' }}", "\\", 1);
    assert_string("{{ '\\/' }}", "/", 1);
    assert_string("{{ '\\b\\f\\n\\r\\t' }}", "\b\f\n\r\t", 5);
    assert_string("{{ '\\u0041\\u00e9\\u20AC' }}", "A\xc3\xa9\xe2\x82\xac", 6);
    assert_string("{{ 'a\\u0000b' }}", "a\0b", 3);
    assert_string("{{ '\\ud83d\\ude00' }}", "\xf0\x9f\x98\x80", 4);
    assert_string("{{ '\\uD834\\uDD1E!' }}", "\xf0\x9d\x84\x9e!", 5);
    assert_string("{{ '\xff\xfe caf\xc3\xa9' }}", "\xff\xfe caf\xc3\xa9", 8);
    assert_string("{{ '\x7f' }}", "\x7f", 1);
    CU_ASSERT_STRING_EQUAL(sx("'a\\u0000\"\\n'"), "\"a\\u0000\\\"\\n\"");
}

static void test_string_errors(void)
{
    CU_ASSERT_STRING_EQUAL(error_of("'a\\qb'"), "syntax error at column 6: "
                           "unknown escape '\\q' in string");
    CU_ASSERT_STRING_EQUAL(error_of("'\\u12'"), "syntax error at column 5: "
                           "invalid \\u escape (expected 4 hex digits; a "
                           "surrogate must come in a pair)");
    CU_ASSERT_STRING_EQUAL(error_of("'\\u12zz'"), "syntax error at column 5: "
                           "invalid \\u escape (expected 4 hex digits; a "
                           "surrogate must come in a pair)");
    CU_ASSERT_STRING_EQUAL(error_of("'x\\ud83d'"), "syntax error at column 6: "
                           "invalid \\u escape (expected 4 hex digits; a "
                           "surrogate must come in a pair)");
    CU_ASSERT_STRING_EQUAL(error_of("'\\ud83d\\u0041'"), "syntax error at "
                           "column 5: invalid \\u escape (expected 4 hex "
                           "digits; a surrogate must come in a pair)");
    CU_ASSERT_STRING_EQUAL(error_of("'\\ude00'"), "syntax error at column 5: "
                           "invalid \\u escape (expected 4 hex digits; a "
                           "surrogate must come in a pair)");
    CU_ASSERT_STRING_EQUAL(error_of("'a\nb'"), "syntax error at column 6: "
                           "control character in string (write it as an "
                           "escape, such as \\n)");
    CU_ASSERT_STRING_EQUAL(error_of("'a\tb'"), "syntax error at column 6: "
                           "control character in string (write it as an "
                           "escape, such as \\n)");
    CU_ASSERT_STRING_EQUAL(error_of("'\\\x01'"), "syntax error at column 5: "
                           "unknown escape in string");
}

/* An unterminated string cannot come through template_parse (the '}}'
 * would be inside it), so parse the expression directly. */
static const char *direct_error(const char *src)
{
    fresh();
    Template t = { .src = src, .src_len = strlen(src), .path = "p" };
    CU_ASSERT_PTR_NULL(expr_parse(arena, diag, &t, 0, t.src_len));
    return diag_text();
}

static void test_unterminated_string(void)
{
    CU_ASSERT_STRING_EQUAL(direct_error("x + 'abc"),
                           "t.json: error: p: syntax error at column 5: "
                           "unterminated string\n    x + 'abc\n        ^\n");
    CU_ASSERT_STRING_EQUAL(direct_error("\"ab\\\""),
                           "t.json: error: p: syntax error at column 1: "
                           "unterminated string\n    \"ab\\\"\n    ^\n");
    CU_ASSERT_STRING_EQUAL(direct_error("'ab\\"),
                           "t.json: error: p: syntax error at column 1: "
                           "unterminated string\n    'ab\\\n    ^\n");
}

static void test_unexpected_characters(void)
{
    CU_ASSERT_STRING_EQUAL(error_of("a # b"), "syntax error at column 6: "
                           "unexpected character '#'");
    CU_ASSERT_STRING_EQUAL(error_of("caf\xc3\xa9"), "syntax error at column "
                           "7: unexpected character '\xc3\xa9'");
    CU_ASSERT_STRING_EQUAL(error_of("\xff"), "syntax error at column 4: "
                           "unexpected character (byte 0xFF)");
    CU_ASSERT_STRING_EQUAL(error_of("a = b"), "syntax error at column 6: "
                           "unexpected '=' (did you mean '=='?)");
    CU_ASSERT_STRING_EQUAL(error_of("a & b"), "syntax error at column 6: "
                           "unexpected '&' (did you mean '&&'?)");
    CU_ASSERT_STRING_EQUAL(error_of("a | b"), "syntax error at column 6: "
                           "unexpected '|' (did you mean '||'?)");
    /* A NUL byte in the template text outside a string. */
    bool ok;
    parse_n("{{ a\0 }}", 8, &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), "syntax error at column 5: "
                                  "unexpected character (byte 0x00)"));
}

/* ---- syntax errors: message, column, caret --------------------------------- */

static void test_error_format(void)
{
    CU_ASSERT_STRING_EQUAL(errors("x {{ len(a, ) }}"),
                           "t.json: error: config.x (k): syntax error at "
                           "column 13: unexpected ')', expecting a value\n"
                           "    x {{ len(a, ) }}\n"
                           "                ^\n");
    /* Columns count characters, not bytes: 'é' and '€' are one each. */
    CU_ASSERT_STRING_EQUAL(errors("\xc3\xa9\xe2\x82\xac {{ 1 + }}"),
                           "t.json: error: config.x (k): syntax error at "
                           "column 11: unexpected end of expression, "
                           "expecting a value\n"
                           "    \xc3\xa9\xe2\x82\xac {{ 1 + }}\n"
                           "              ^\n");
    CU_ASSERT_STRING_EQUAL(error_of("1 + * 2"), "syntax error at column 8: "
                           "unexpected '*', expecting a value");
    CU_ASSERT_STRING_EQUAL(error_of("(a b"), "syntax error at column 7: "
                           "unexpected name 'b', expecting an operator or ')'");
    CU_ASSERT_STRING_EQUAL(error_of("a )"), "syntax error at column 6: "
                           "unexpected ')', expecting an operator or end of "
                           "expression");
    CU_ASSERT_STRING_EQUAL(error_of("a 'str'"), "syntax error at column 6: "
                           "unexpected string 'str', expecting an operator "
                           "or end of expression");
    CU_ASSERT_STRING_EQUAL(error_of("a true"), "syntax error at column 6: "
                           "unexpected 'true', expecting an operator or end "
                           "of expression");
    CU_ASSERT_STRING_EQUAL(error_of("a || || b"), "syntax error at column 9: "
                           "unexpected '||', expecting a value");
    CU_ASSERT_STRING_EQUAL(error_of("a bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
                           "syntax error at column 6: unexpected name "
                           "'bbbbbbbbbbbbbbbbbbbbbbbb...', expecting an "
                           "operator or end of expression");
}

/* Several expressions of one template: every error is reported. */
static void test_errors_in_every_part(void)
{
    bool ok;
    Template *t = parse("{{ ) }} and {{ 1 }} then {{ ( }}", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_EQUAL(diag_error_count(diag), 2);
    CU_ASSERT_STRING_EQUAL(diag_text(),
                           "t.json: error: config.x (k): syntax error at "
                           "column 4: unexpected ')', expecting a value\n"
                           "    {{ ) }} and {{ 1 }} then {{ ( }}\n"
                           "       ^\n"
                           "t.json: error: config.x (k): syntax error at "
                           "column 31: unexpected end of expression, "
                           "expecting a value\n"
                           "    {{ ) }} and {{ 1 }} then {{ ( }}\n"
                           "                                  ^\n");
    /* A failed part is kept as a null literal: the shape stays. */
    CU_ASSERT_EQUAL(t->count, 5);
    CU_ASSERT_EQUAL(t->parts[0].kind, TP_EXPR);
    CU_ASSERT_EQUAL(t->parts[0].expr->kind, EX_NULL);
    CU_ASSERT_EQUAL(t->parts[2].expr->kind, EX_NUMBER);
}

/* ---- node positions ---------------------------------------------------------- */

static void test_positions(void)
{
    bool ok;
    /*           0123456789012345678901234567890 */
    Template *t = parse("ab {{ x.y-z + len(q[0]) }}", &ok);
    CU_ASSERT_TRUE_FATAL(ok);
    const Expr *plus = t->parts[1].expr;
    CU_ASSERT_EQUAL(plus->kind, EX_BINARY);
    CU_ASSERT_EQUAL(plus->pos, 12);          /* the operator */
    CU_ASSERT_EQUAL(plus->lhs->kind, EX_FIELD);
    CU_ASSERT_EQUAL(plus->lhs->pos, 8);      /* y-z, after the '.' */
    CU_ASSERT_EQUAL(plus->lhs->lhs->pos, 6); /* x */
    const Expr *call = plus->rhs;
    CU_ASSERT_EQUAL(call->kind, EX_CALL);
    CU_ASSERT_EQUAL(call->pos, 14);
    CU_ASSERT_EQUAL(call->count, 1);
    CU_ASSERT_EQUAL(call->items[0]->kind, EX_INDEX);
    CU_ASSERT_EQUAL(call->items[0]->pos, 19);    /* the '[' */
    CU_ASSERT_EQUAL(call->items[0]->rhs->pos, 20);

    t = parse("{{ -[1, {'k': 'v'}] }}", &ok);
    CU_ASSERT_TRUE_FATAL(ok);
    const Expr *neg = t->parts[0].expr;
    CU_ASSERT_EQUAL(neg->pos, 3);
    CU_ASSERT_EQUAL(neg->lhs->pos, 4);
    CU_ASSERT_EQUAL(neg->lhs->items[1]->pos, 8);
    CU_ASSERT_EQUAL(neg->lhs->items[1]->items[0]->pos, 14);
    CU_ASSERT_STRING_EQUAL(neg->lhs->items[1]->keys[0], "k");
    CU_ASSERT_EQUAL(neg->lhs->items[1]->key_lens[0], 1);
}

/* ---- limits ------------------------------------------------------------------ */

/* "{{ " + n copies of unit + middle + n copies of tail + " }}", malloc'd. */
static char *repeat(const char *unit, int n, const char *middle,
                    const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail), ml = strlen(middle);
    char *s = malloc(6 + (ul + tl) * (size_t)n + ml + 1), *p = s;
    p += sprintf(p, "{{ ");
    for (int i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    p += sprintf(p, "%s", middle);
    for (int i = 0; i < n; i++, p += tl)
        memcpy(p, tail, tl);
    sprintf(p, " }}");
    return s;
}

/* Parses a malloc'd template; true when it parsed, else checks the error. */
static bool parses(char *src, const char *error)
{
    bool ok;
    parse(src, &ok);
    free(src);
    if (!ok)
        CU_ASSERT_PTR_NOT_NULL(strstr(diag_text(), error));
    CU_ASSERT(ok || diag_error_count(diag) == 1);
    return ok;
}

static const char too_deep[] =
    "expression nested too deeply (more than 256 levels)";

static void test_depth_limit(void)
{
    /* n '+' make n + 1 levels. */
    CU_ASSERT_TRUE(parses(repeat("1+", 255, "1", ""), too_deep));
    CU_ASSERT_FALSE(parses(repeat("1+", 256, "1", ""), too_deep));
    CU_ASSERT_TRUE(parses(repeat("!", 255, "a", ""), too_deep));
    CU_ASSERT_FALSE(parses(repeat("!", 256, "a", ""), too_deep));
    CU_ASSERT_TRUE(parses(repeat("[", 255, "1", "]"), too_deep));
    CU_ASSERT_FALSE(parses(repeat("[", 256, "1", "]"), too_deep));
    CU_ASSERT_TRUE(parses(repeat("a.b", 1, "", ".c"), too_deep));
    CU_ASSERT_FALSE(parses(repeat("", 256, "a", ".b"), too_deep));
    /* Parentheses add no node but are limited the same way. */
    CU_ASSERT_TRUE(parses(repeat("(", 256, "1", ")"), too_deep));
    CU_ASSERT_FALSE(parses(repeat("(", 257, "1", ")"), too_deep));
    bool ok;
    parse("{{ 1+1+1 }}", &ok);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(expr_depth(parse("{{ [1+1, -(2)] }}", &ok)->parts[0].expr),
                    3);
}

static void test_huge_inputs(void)
{
    CU_ASSERT_FALSE(parses(repeat("(", 50000, "1", ")"), too_deep));
    CU_ASSERT_FALSE(parses(repeat("!", 50000, "a", ""), too_deep));
    CU_ASSERT_FALSE(parses(repeat("-", 50000, "a", ""), too_deep));
    CU_ASSERT_FALSE(parses(repeat("1+", 50000, "1", ""), too_deep));
    CU_ASSERT_FALSE(parses(repeat("[", 50000, "", ""), too_deep));
    CU_ASSERT_FALSE(parses(repeat("", 50000, "a", "[0]"), too_deep));
    /* 100,000 characters that do parse: a long array, a long string. */
    char *list = repeat("1,", 50000, "1", "");
    list[2] = '[';
    strcpy(list + strlen(list) - 3, "]}}");
    bool ok;
    Template *t = parse(list, &ok);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_TRUE(strlen(list) > 100000);
    if (ok)
        CU_ASSERT_EQUAL(t->parts[0].expr->count, 50001);
    free(list);
    char *text = repeat("", 1, "'", "");
    text = realloc(text, 100010);
    memset(text + 4, 'x', 100000);
    strcpy(text + 100004, "' }}");
    t = parse(text, &ok);
    CU_ASSERT_TRUE(ok);
    if (ok)
        CU_ASSERT_EQUAL(t->parts[0].expr->len, 100000);
    free(text);
}

/* ---- built-ins -------------------------------------------------------------- */

static void test_builtins(void)
{
    static const Builtin want[] = {
        { "hmac_sha256", 2 }, { "sha256", 1 }, { "hmac_sha256_base64", 2 },
        { "base64_encode", 1 }, { "base64_decode", 1 },
        { "secure_equals", 2 }, { "lower", 1 }, { "upper", 1 },
        { "trim", 1 }, { "len", 1 }, { "contains", 2 },
        { "starts_with", 2 }, { "ends_with", 2 }, { "split", 2 },
        { "join", 2 }, { "json", 1 }, { "parse_json", 1 }, { "number", 1 },
        { "string", 1 }, { "default", 2 }, { "now", 0 }, { "now_ms", 0 },
        { "uuid", 0 },
    };
    int n = (int)(sizeof want / sizeof want[0]);
    CU_ASSERT_EQUAL(builtin_count, n);
    for (int i = 0; i < n; i++) {
        const Builtin *b = builtin_find(want[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_STRING_EQUAL(b->name, want[i].name);
        CU_ASSERT_EQUAL(b->arity, want[i].arity);
    }
    CU_ASSERT_PTR_NULL(builtin_find("nope"));
    CU_ASSERT_PTR_NULL(builtin_find("LEN"));
    CU_ASSERT_PTR_NULL(builtin_find(""));
    CU_ASSERT_PTR_NULL(builtin_find("sha25"));
}

static const UnitTest tests[] = {
    { "each operator", test_each_operator },
    { "precedence", test_precedence },
    { "associativity", test_associativity },
    { "hyphen rule", test_hyphen_rule },
    { "hyphen rule errors", test_hyphen_errors },
    { "brackets", test_brackets },
    { "calls", test_calls },
    { "numbers", test_numbers },
    { "keywords, arrays, objects", test_keywords_and_containers },
    { "string escapes", test_string_escapes },
    { "string errors", test_string_errors },
    { "unterminated string", test_unterminated_string },
    { "unexpected characters", test_unexpected_characters },
    { "error format and columns", test_error_format },
    { "errors in every part", test_errors_in_every_part },
    { "node positions", test_positions },
    { "depth limit", test_depth_limit },
    { "huge inputs", test_huge_inputs },
    { "builtins", test_builtins },
    { NULL, NULL },
};

UNIT_SUITE("expr", tests)
