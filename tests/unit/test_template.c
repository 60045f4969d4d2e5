/* test_template.c - splitting templates into text and {{ expr }} parts.
 *
 * Each case describes the parts as one string: text parts in [brackets],
 * expression parts as their s-expression in <angle brackets>, followed by
 * " whole" when the template yields the expression's typed value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "unit.h"

static Arena *arena;
static Diag *diag;

static Template *parse(const char *src, bool *ok)
{
    arena_free(arena);
    arena = arena_new();
    diag = diag_new(arena, "t.json", false);
    return template_parse(arena, diag, src, strlen(src), "steps[0].config.m",
                          "s", ok);
}

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

/* The parts of src as "[text]<sexpr>... whole", or "ERROR" on failure. */
static const char *shape(const char *src)
{
    bool ok;
    Template *t = parse(src, &ok);
    if (!ok)
        return "ERROR";
    const char *out = "";
    for (int i = 0; i < t->count; i++) {
        const TemplatePart *p = &t->parts[i];
        if (p->kind == TP_TEXT)
            out = arena_sprintf(arena, "%s[%.*s]", out, (int)p->len, p->text);
        else
            out = arena_sprintf(arena, "%s<%s>", out,
                                expr_to_sexpr(arena, p->expr));
    }
    return t->whole ? arena_sprintf(arena, "%s whole", out) : out;
}

typedef struct {
    const char *src, *want;
} Case;

static void check_cases(const Case *cases, int n)
{
    for (int i = 0; i < n; i++) {
        const char *got = shape(cases[i].src);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "\n  %s\n    got  %s\n    want %s\n", cases[i].src,
                    got, cases[i].want);
        CU_ASSERT_STRING_EQUAL(got, cases[i].want);
    }
}

#define CHECK_CASES(c) check_cases(c, (int)(sizeof(c) / sizeof((c)[0])))

static void test_split(void)
{
    static const Case cases[] = {
        { "", "" },
        { "hello", "[hello]" },
        { "hello {{ a }} world", "[hello ]<a>[ world]" },
        { "payment {{ trigger.output.body.id }} for {{ x.y }}",
          "[payment ]<(. (. (. trigger output) body) id)>[ for ]<(. x y)>" },
        { "{{a}}{{b}}", "<a><b>" },
        { "a }} b", "[a }} b]" },
        { "}}{{ a }}}", "[}}]<a>[}]" },
        { "{ {a} }", "[{ {a} }]" },
        { "{{ {\"a\": {\"b\": 1} } }}", "<(object (\"a\" (object (\"b\" 1))))> whole" },
        { "x{{ 1 }}y", "[x]<1>[y]" },
    };
    CHECK_CASES(cases);
}

static void test_whole(void)
{
    static const Case cases[] = {
        { "{{ a }}", "<a> whole" },
        { "{{a}}", "<a> whole" },
        { "{{ \t\r\n a \n\t }}", "<a> whole" },
        { " {{ a }}", "[ ]<a>" },
        { "{{ a }} ", "<a>[ ]" },
        { "{{ a }}{{ b }}", "<a><b>" },
        { "x{{ a }}", "[x]<a>" },
        { "a", "[a]" },
    };
    CHECK_CASES(cases);
}

static void test_braces_in_strings(void)
{
    static const Case cases[] = {
        { "{{ \"}}\" }}", "<\"}}\"> whole" },
        { "{{ '}}' }}", "<\"}}\"> whole" },
        { "{{ \"{{\" }}", "<\"{{\"> whole" },
        { "a {{ \"{{\" }} b }}", "[a ]<\"{{\">[ b }}]" },
        { "{{ 'it\\'s }}' }}", "<\"it's }}\"> whole" },
        { "{{ \"a\\\\\" }}", "<\"a\\\\\"> whole" },
        { "{{ \"'\" + '\"}}' }}", "<(+ \"'\" \"\\\"}}\")> whole" },
    };
    CHECK_CASES(cases);
}

static void test_fields(void)
{
    bool ok;
    Template *t = parse("ab {{ x }}", &ok);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_STRING_EQUAL(t->path, "steps[0].config.m");
    CU_ASSERT_STRING_EQUAL(t->step_key, "s");
    CU_ASSERT_EQUAL(t->src_len, 10);
    CU_ASSERT_EQUAL(t->count, 2);
    CU_ASSERT_EQUAL(t->parts[1].expr->pos, 6);  /* offsets in the template */
    CU_ASSERT_EQUAL(diag_error_count(diag), 0);
    t = template_parse(arena, diag, "{{ y }}", 7, "p", NULL, &ok);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_PTR_NULL(t->step_key);
}

static void test_unclosed(void)
{
    bool ok;
    Template *t = parse("x {{ a", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_FALSE(t->whole);
    CU_ASSERT_STRING_EQUAL(diag_text(),
                           "t.json: error: steps[0].config.m (s): syntax "
                           "error at column 3: unclosed '{{': expected '}}'\n"
                           "    x {{ a\n"
                           "      ^\n");
    parse("{{ a }} {{ \"abc }}", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_STRING_EQUAL(diag_text(),
                           "t.json: error: steps[0].config.m (s): syntax "
                           "error at column 9: unclosed '{{': expected '}}' "
                           "(a string literal inside is not terminated)\n"
                           "    {{ a }} {{ \"abc }}\n"
                           "            ^\n");
    parse("{{ a } }", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_EQUAL(diag_error_count(diag), 1);
}

static void test_empty(void)
{
    bool ok;
    parse("a {{ \t }} b", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_STRING_EQUAL(diag_text(),
                           "t.json: error: steps[0].config.m (s): syntax "
                           "error at column 3: empty expression\n"
                           "    a {{   }} b\n"
                           "      ^\n");
    parse("{{}}", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_EQUAL(diag_error_count(diag), 1);
    /* Both parts are reported, and the shape survives. */
    Template *t = parse("{{ }}{{ ) }}", &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_EQUAL(diag_error_count(diag), 2);
    CU_ASSERT_EQUAL(t->count, 2);
    CU_ASSERT_EQUAL(t->parts[1].kind, TP_EXPR);
    CU_ASSERT_EQUAL(t->parts[1].expr->kind, EX_NULL);
}

static const UnitTest tests[] = {
    { "split into parts", test_split },
    { "whole", test_whole },
    { "braces in strings", test_braces_in_strings },
    { "path, key, positions", test_fields },
    { "unclosed {{", test_unclosed },
    { "empty expression", test_empty },
    { NULL, NULL },
};

UNIT_SUITE("template", tests)
