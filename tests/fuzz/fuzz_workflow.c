/* fuzz_workflow.c - libFuzzer target: the compiler's whole pipeline on
 * one workflow file - load (cJSON, every config reader), check (names,
 * flow, budgets), and, when the workflow is clean, C generation into
 * /dev/null.  Any crash, sanitizer report, leak or hang is a bug: hostile
 * workflow text must only ever produce diagnostics. */
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "check.h"
#include "diag.h"
#include "emit.h"
#include "workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    Arena *a = arena_new();
    Diag *d = diag_new(a, "fuzz.json", false);
    char *bytes = arena_strndup(a, (const char *)data, size);
    diag_set_source(d, bytes, size);
    Workflow *w = workflow_load(a, d, "fuzz.json", bytes, size);
    if (w) {
        WorkflowFacts facts = { 0 };
        check_workflow(a, d, w, &facts);
        Workflow *const ws[1] = { w };
        Diag *const ds[1] = { d };
        check_across(ws, ds, 1);
        if (diag_error_count(d) == 0)
            emit_program(a, sink, ws, &facts, 1);
    }
    diag_print(d, sink);
    arena_free(a);
    return 0;
}
