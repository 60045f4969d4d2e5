/* fuzz_template.c - libFuzzer target: the expression language's lexer and
 * parser (flex + bison) through template_parse(), then the diagnostics
 * printer (columns and carets computed over arbitrary bytes). */
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "diag.h"
#include "expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    Arena *a = arena_new();
    Diag *d = diag_new(a, "fuzz.json", false);
    char *src = arena_strndup(a, (const char *)data, size);
    bool ok;
    template_parse(a, d, src, size, "steps[0].config.message", "fuzz", &ok);
    diag_print(d, sink);
    arena_free(a);
    return 0;
}
