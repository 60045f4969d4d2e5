/* test_sqlscan.c - the $N placeholders of a database step's SQL: counted
 * outside quotes and comments, gaps and second statements refused. */
#include <string.h>

#include "sqlscan.h"
#include "unit.h"

static void expect(const char *sql, int count, const char *problem)
{
    SqlScan s = sql_scan(sql);
    CU_ASSERT_EQUAL(s.count, count);
    if (problem) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(s.problem);
        CU_ASSERT_PTR_NOT_NULL(strstr(s.problem, problem));
    } else {
        CU_ASSERT_PTR_NULL(s.problem);
    }
}

static void test_counts(void)
{
    expect("SELECT 1", 0, NULL);
    expect("INSERT INTO t VALUES ($1, $2)", 2, NULL);
    expect("SELECT $2, $1", 2, NULL);
    expect("SELECT $1, $1 + 1", 1, NULL);
    expect("SELECT $10, $9, $8, $7, $6, $5, $4, $3, $2, $1", 10, NULL);
}

static void test_quotes_and_comments(void)
{
    expect("SELECT '$1', \"$2\", `$3`", 0, NULL);
    expect("SELECT 'it''s $1', $1", 1, NULL);
    expect("SELECT E'\\' $2', $1", 1, NULL);
    expect("SELECT $1 -- and $2\n", 1, NULL);
    expect("SELECT /* $2 /* nested $3 */ */ $1", 1, NULL);
    expect("SELECT $$ $2 $$, $tag$ $3 $tag$, $1", 1, NULL);
    expect("SELECT a$1 FROM t", 0, NULL);
    expect("SELECT 1;  -- done\n", 0, NULL);
}

static void test_problems(void)
{
    expect("SELECT $2", 2, "no gaps");
    CU_ASSERT_EQUAL(sql_scan("SELECT $1, $3").missing, 2);
    expect("SELECT $0", 0, "start at $1");
    expect("SELECT 1; DROP TABLE t", 0, "one statement");
    expect("SELECT 'open", 0, "quote");
    expect("SELECT /* open", 0, "comment");
    expect("SELECT $x$ open", 0, "dollar-quoted");
    expect("SELECT $1001", 0, "too many");
}

static const UnitTest tests[] = {
    { "placeholders counted", test_counts },
    { "quotes and comments skipped", test_quotes_and_comments },
    { "problems found", test_problems },
    { NULL, NULL },
};
UNIT_SUITE("sqlscan", tests)
