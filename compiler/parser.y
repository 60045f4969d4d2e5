/* parser.y - the grammar of the expression language (spec §2).
 *
 * A pure bison parser over the tokens of lexer.l.  Precedence declarations
 * carry the operator table, loosest first; the grammar proper only says
 * what may follow what.  Actions are one-liners calling the AST
 * constructors of expr.c; NODE() refuses a tree deeper than EXPR_MAX_DEPTH
 * while it is built, so later passes can recurse safely.  Every node lives
 * in the compilation's arena, so a value dropped when a parse fails needs
 * no %destructor.
 *
 * Locations are byte offsets in the template text.  A syntax error reports
 * its column, the token it did not expect and, when the list is short, what
 * it expected, then the parse stops: one error per expression. */

%define api.pure full
%define api.prefix {expryy}
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%param {yyscan_t scanner}
%parse-param {ExprParser *P}

%code requires {
#include <stdbool.h>
#include <stddef.h>

#include "expr.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A token's or a rule's extent: byte offsets [start, end) in the template. */
typedef struct {
    size_t start, end;
} ExprLoc;
#define EXPRYYLTYPE ExprLoc
#define EXPRYYLTYPE_IS_DECLARED 1

/* What the parser and the scanner share while parsing one expression. */
typedef struct {
    Arena *arena;         /* where nodes and strings go */
    Diag *diag;           /* where errors go */
    const Template *tmpl; /* the text being parsed, for carets */
    size_t base;          /* offset of the expression in tmpl->src */
    size_t offset;        /* bytes the scanner has consumed */
    int nesting;          /* brackets open */
    bool failed;          /* an error was reported */
    Expr *result;         /* the whole expression, once parsed */
} ExprParser;
}

%code {
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "lexer.h"

#define YYLLOC_DEFAULT(cur, rhs, n)                          \
    do {                                                     \
        if (n) {                                             \
            (cur).start = YYRHSLOC(rhs, 1).start;            \
            (cur).end = YYRHSLOC(rhs, n).end;                \
        } else {                                             \
            (cur).start = (cur).end = YYRHSLOC(rhs, 0).end;  \
        }                                                    \
    } while (0)

#define A (P->arena)

/* Stores node in dst, or stops the parse if the tree got too deep. */
#define NODE(dst, node)                                      \
    do {                                                     \
        if (!((dst) = check_depth(P, (node))))               \
            YYABORT;                                         \
    } while (0)

static Expr *check_depth(ExprParser *P, Expr *e);
static void yyerror(const YYLTYPE *loc, yyscan_t scanner, ExprParser *P,
                    const char *message);
}

%union {
    Expr *expr;
    double number;
    struct {
        const char *s;
        size_t len;
    } text;
}

%token EOE 0 "end of expression"
%token <number> NUMBER "a number"
%token <text> STRING "a string"
%token <text> NAME "a name"
%token <text> FIELD "a field name"
%token TRUE "'true'" FALSE "'false'" NULL "'null'"
%token OR "'||'" AND "'&&'" EQ "'=='" NE "'!='" LE "'<='" GE "'>='"

%left OR
%left AND
%precedence '!'
%left EQ NE '<' LE '>' GE
%left '+' '-'
%left '*' '/' '%'
%precedence NEG

%type <expr> expr postfix primary items members

%%

top:
  expr                          { P->result = $1; }
;

expr:
  expr OR expr                  { NODE($$, expr_binary(A, @2.start, OP_OR, $1, $3)); }
| expr AND expr                 { NODE($$, expr_binary(A, @2.start, OP_AND, $1, $3)); }
| expr EQ expr                  { NODE($$, expr_binary(A, @2.start, OP_EQ, $1, $3)); }
| expr NE expr                  { NODE($$, expr_binary(A, @2.start, OP_NE, $1, $3)); }
| expr '<' expr                 { NODE($$, expr_binary(A, @2.start, OP_LT, $1, $3)); }
| expr LE expr                  { NODE($$, expr_binary(A, @2.start, OP_LE, $1, $3)); }
| expr '>' expr                 { NODE($$, expr_binary(A, @2.start, OP_GT, $1, $3)); }
| expr GE expr                  { NODE($$, expr_binary(A, @2.start, OP_GE, $1, $3)); }
| expr '+' expr                 { NODE($$, expr_binary(A, @2.start, OP_ADD, $1, $3)); }
| expr '-' expr                 { NODE($$, expr_binary(A, @2.start, OP_SUB, $1, $3)); }
| expr '*' expr                 { NODE($$, expr_binary(A, @2.start, OP_MUL, $1, $3)); }
| expr '/' expr                 { NODE($$, expr_binary(A, @2.start, OP_DIV, $1, $3)); }
| expr '%' expr                 { NODE($$, expr_binary(A, @2.start, OP_MOD, $1, $3)); }
| '!' expr                      { NODE($$, expr_unary(A, @1.start, OP_NOT, $2)); }
| '-' expr %prec NEG            { NODE($$, expr_unary(A, @1.start, OP_NEG, $2)); }
| postfix
;

/* A field's node sits at its name, one byte after the '.'. */
postfix:
  primary
| postfix FIELD                 { NODE($$, expr_field(A, @2.start + 1, $1, $2.s)); }
| postfix '[' expr ']'          { NODE($$, expr_index(A, @2.start, $1, $3)); }
;

primary:
  NUMBER                        { $$ = expr_number(A, @1.start, $1); }
| STRING                        { $$ = expr_string(A, @1.start, $1.s, $1.len); }
| TRUE                          { $$ = expr_bool(A, @1.start, true); }
| FALSE                         { $$ = expr_bool(A, @1.start, false); }
| NULL                          { $$ = expr_null(A, @1.start); }
| NAME                          { $$ = expr_name(A, @1.start, $1.s); }
| NAME '(' ')'                  { $$ = expr_call(expr_array(A, @1.start), @1.start, $1.s); }
| NAME '(' items ')'            { $$ = expr_call($3, @1.start, $1.s); }
| '(' expr ')'                  { $$ = $2; }
| '[' ']'                       { $$ = expr_array(A, @1.start); }
| '[' items ']'                 { $$ = expr_at($2, @1.start); }
| '{' '}'                       { $$ = expr_object(A, @1.start); }
| '{' members '}'               { $$ = expr_at($2, @1.start); }
;

items:
  expr                          { NODE($$, expr_append(A, expr_array(A, @1.start), $1)); }
| items ',' expr                { NODE($$, expr_append(A, $1, $3)); }
;

members:
  STRING ':' expr               { NODE($$, expr_add_member(A, expr_object(A, @1.start),
                                                           $1.s, $1.len, $3)); }
| members ',' STRING ':' expr   { NODE($$, expr_add_member(A, $1, $3.s, $3.len, $5)); }
;

%%

static Expr *check_depth(ExprParser *P, Expr *e)
{
    if (expr_depth(e) <= EXPR_MAX_DEPTH)
        return e;
    expr_syntax_error(P->diag, P->tmpl, e->pos,
                      "expression nested too deeply (more than %d levels)",
                      EXPR_MAX_DEPTH);
    P->failed = true;
    return NULL;
}

/* Bison calls this only when its stack is exhausted, which takes far more
 * nesting (a long run of '!' or '-') than EXPR_MAX_DEPTH allows. */
static void yyerror(const YYLTYPE *loc, yyscan_t scanner, ExprParser *P,
                    const char *message)
{
    (void)scanner;
    (void)message;
    expr_syntax_error(P->diag, P->tmpl, loc->start,
                      "expression nested too deeply (more than %d levels)",
                      EXPR_MAX_DEPTH);
    P->failed = true;
}

/* ---- syntax error messages ------------------------------------------------ */

enum { SNIPPET_MAX = 24 };  /* bytes of a token quoted in a message */

/* The source text at loc, cut (at a character boundary) to SNIPPET_MAX. */
static const char *snippet(ExprParser *P, const YYLTYPE *loc)
{
    const char *s = P->tmpl->src + loc->start;
    size_t len = loc->end - loc->start;
    if (len <= SNIPPET_MAX)
        return arena_strndup(A, s, len);
    len = SNIPPET_MAX;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return arena_sprintf(A, "%.*s...", (int)len, s);
}

/* How the unexpected token is named: "')'", "name 'foo'", ... */
static const char *describe(ExprParser *P, yysymbol_kind_t kind,
                            const YYLTYPE *loc)
{
    switch (kind) {
    case YYSYMBOL_NUMBER: return arena_sprintf(A, "number '%s'", snippet(P, loc));
    case YYSYMBOL_NAME:   return arena_sprintf(A, "name '%s'", snippet(P, loc));
    case YYSYMBOL_FIELD:  return arena_sprintf(A, "field '%s'", snippet(P, loc));
    case YYSYMBOL_STRING: return arena_sprintf(A, "string %s", snippet(P, loc));
    default:              return yysymbol_name(kind);
    }
}

/* When every token that starts a value, or every binary operator (with the
 * postfix '.field' and '['), is expected, the group is named instead of its
 * members; a call's '(' goes with the operators. */
static const int value_tokens[] = {
    TOK_NUMBER, TOK_STRING, TOK_NAME, TOK_TRUE, TOK_FALSE, TOK_NULL,
    '(', '[', '{', '-', '!',
};
static const int operator_tokens[] = {
    TOK_OR, TOK_AND, TOK_EQ, TOK_NE, '<', TOK_LE, '>', TOK_GE,
    '+', '-', '*', '/', '%', TOK_FIELD, '[',
};

static bool in_group(const int *group, int n, yysymbol_kind_t kind)
{
    for (int i = 0; i < n; i++)
        if (YYTRANSLATE(group[i]) == kind)
            return true;
    return false;
}

/* Are all of group's tokens among the n expected ones? */
static bool all_expected(const yysymbol_kind_t *exp, int n, const int *group,
                         int group_n)
{
    int found = 0;
    for (int i = 0; i < n; i++)
        found += in_group(group, group_n, exp[i]);
    return found == group_n;
}

/* Names what the parser expected, grouped, into names[]; returns how many. */
static int expected_names(const yysymbol_kind_t *exp, int n,
                          const char **names)
{
    bool values = all_expected(exp, n, value_tokens, COUNT(value_tokens));
    bool operators = all_expected(exp, n, operator_tokens,
                                  COUNT(operator_tokens));
    int count = 0;
    if (values)
        names[count++] = "a value";
    if (operators)
        names[count++] = "an operator";
    for (int i = 0; i < n; i++) {
        if (values && in_group(value_tokens, COUNT(value_tokens), exp[i]))
            continue;
        if (operators && (exp[i] == YYTRANSLATE('(')
                          || in_group(operator_tokens, COUNT(operator_tokens),
                                      exp[i])))
            continue;
        names[count++] = yysymbol_name(exp[i]);
    }
    return count;
}

enum { EXPECTED_MAX = 4 };  /* longer lists are left out of the message */

/* ", expecting a, b or c", or "" when there is nothing short to say. */
static const char *expecting(ExprParser *P, const yypcontext_t *ctx)
{
    yysymbol_kind_t exp[YYNTOKENS];
    const char *names[YYNTOKENS + 2];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    int count = n > 0 ? expected_names(exp, n, names) : 0;
    if (count == 0 || count > EXPECTED_MAX)
        return "";
    const char *text = arena_sprintf(A, ", expecting %s", names[0]);
    for (int i = 1; i < count; i++)
        text = arena_sprintf(A, "%s%s%s", text,
                             i == count - 1 ? " or " : ", ", names[i]);
    return text;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner,
                                 ExprParser *P)
{
    (void)scanner;
    const YYLTYPE *loc = yypcontext_location(ctx);
    yysymbol_kind_t token = yypcontext_token(ctx);
    expr_syntax_error(P->diag, P->tmpl, loc->start, "unexpected %s%s",
                      describe(P, token, loc), expecting(P, ctx));
    P->failed = true;
    return 0;
}

/* ---- the entry point ------------------------------------------------------ */

/* One scanner per expression, over a copy of the slice [start, end) of
 * t->src, freed before returning.  Nodes and their strings are new in a;
 * t is only borrowed for the call (nodes keep offsets into t->src). */
Expr *expr_parse(Arena *a, Diag *d, const Template *t, size_t start,
                 size_t end)
{
    ExprParser p = { .arena = a, .diag = d, .tmpl = t, .base = start };
    if (end - start > INT_MAX) {
        expr_syntax_error(d, t, start, "expression too long");
        return NULL;
    }
    yyscan_t scanner;
    if (expryylex_init_extra(&p, &scanner) != 0) {
        fputs("flussoc: out of memory\n", stderr);
        abort();
    }
    YY_BUFFER_STATE buffer =
        expryy_scan_bytes(t->src + start, (int)(end - start), scanner);
    int status = expryyparse(scanner, &p);
    expryy_delete_buffer(buffer, scanner);
    expryylex_destroy(scanner);
    return status == 0 && !p.failed ? p.result : NULL;
}
