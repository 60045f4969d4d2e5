/* main.c - the flussoc command line: options, then load -> check -> emit.
 *
 * Each stage reports into a per-file diagnostics sink; only this file turns
 * them into an exit status (spec §5): 0 success, 1 the workflows have
 * errors, 2 bad usage, an unreadable file or a failing C compiler. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "cc.h"
#include "check.h"
#include "diag.h"
#include "draw.h"
#include "emit.h"
#include "schema.h"
#include "suggest.h"
#include "version.h"
#include "workflow.h"

enum { EXIT_OK = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

typedef struct {
    const char **files;
    int file_count;
    const char *output;      /* -o */
    const char *emit_c;      /* --emit-c */
    const char *emit_dot;    /* --emit-dot */
    const char *emit_mermaid;    /* --emit-mermaid */
    const char *opt_level;   /* -O, default "2" */
    bool check_only;
    bool schema;             /* --schema */
    bool werror;
    bool link_static;        /* --static */
} Options;

static const char usage[] =
    "usage: flussoc [options] WORKFLOW.json...\n"
    "Compiles Flusso workflows into one native webhook handler.\n"
    "\n"
    "  -o FILE          the binary to write (default: the first workflow's name)\n"
    "  --emit-c FILE    write the generated C and stop ('-' for stdout)\n"
    "  --emit-dot FILE  write a Graphviz picture of the workflows and stop\n"
    "  --emit-mermaid FILE  write a Mermaid picture of the workflows and stop\n"
    "  --check          check the workflows and stop\n"
    "  --schema         print the JSON Schema of the workflow format\n"
    "  -O LEVEL         optimisation level passed to the C compiler (default 2)\n"
    "  --static         link statically the runtime's libraries Debian ships\n"
    "                   static archives for (see --version)\n"
    "  --werror         treat warnings as errors\n"
    "  --help           show this help\n"
    "  --version        show the version\n"
    "\n"
    "The C compiler is $CC (default cc), with $CFLAGS appended.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("flussoc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'flussoc --help'.\n", stderr);
    return EXIT_USAGE;
}

/* An unknown option, with the listed one it is most likely a typo of. */
static int unknown_option(const char *arg)
{
    char best[64];
    if (!suggest_option(arg, usage, best, sizeof best))
        return usage_error("unknown option '%s'", arg);
    fprintf(stderr, "flussoc: unknown option '%s' (did you mean '%s'?)\n"
            "Try 'flussoc --help'.\n", arg, best);
    return EXIT_USAGE;
}

/* Takes the value of an option that needs one; NULL when it is missing. */
static const char *option_value(int argc, char **argv, int *i)
{
    return *i + 1 < argc ? argv[++*i] : NULL;
}

/* Where the value of option arg goes in o; NULL when arg takes none. */
static const char **value_slot(Options *o, const char *arg)
{
    const struct {
        const char *name;
        const char **slot;
    } slots[] = {
        { "-o", &o->output }, { "--emit-c", &o->emit_c },
        { "--emit-dot", &o->emit_dot }, { "--emit-mermaid", &o->emit_mermaid },
        { "-O", &o->opt_level },
    };
    for (int i = 0; i < COUNT(slots); i++)
        if (strcmp(arg, slots[i].name) == 0)
            return slots[i].slot;
    return NULL;
}

/* Fills o from argv; returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, Options *o)
{
    static const char *const needs_value = "option '%s' needs a value";
    o->files = calloc((size_t)argc, sizeof *o->files);
    o->opt_level = "2";
    bool only_files = false;
    const char **slot;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_files || arg[0] != '-' || strcmp(arg, "-") == 0) {
            o->files[o->file_count++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_files = true;
        } else if (strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(arg, "--version") == 0) {
            printf("flussoc %s, with cJSON %s\nhandlers link: %s\n"
                   "--static links statically: %s\n"
                   "(./handler --version names the versions it runs with)\n",
                   FLUSSOC_VERSION, cJSON_Version(), cc_runtime_libs(),
                   cc_static_libs());
            return EXIT_OK;
        } else if (strcmp(arg, "--check") == 0) {
            o->check_only = true;
        } else if (strcmp(arg, "--schema") == 0) {
            o->schema = true;
        } else if (strcmp(arg, "--werror") == 0) {
            o->werror = true;
        } else if (strcmp(arg, "--static") == 0) {
            o->link_static = true;
        } else if ((slot = value_slot(o, arg))) {
            if (!(*slot = option_value(argc, argv, &i)))
                return usage_error(needs_value, arg);
        } else if (strncmp(arg, "-O", 2) == 0) {
            o->opt_level = arg + 2;
        } else {
            return unknown_option(arg);
        }
    }
    if (o->schema)
        return schema_write(stdout) == 0 && fflush(stdout) == 0 ? EXIT_OK
                                                                : EXIT_USAGE;
    if (o->file_count == 0)
        return usage_error("%s", "no workflow files given");
    return -1;
}

/* Reads a whole file into the arena; NULL (errno set) when it cannot. */
static char *read_file(Arena *a, const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    int failed = !buf || ferror(f);
    int saved = errno;
    if (f != stdin)
        fclose(f);
    if (failed) {
        free(buf);
        errno = saved ? saved : ENOMEM;
        return NULL;
    }
    char *copy = arena_strndup(a, buf, n);
    free(buf);
    *len = n;
    return copy;
}

/* Loads and checks every file; returns the highest exit status so far. */
static int load_all(Arena *a, const Options *o, Workflow **ws, Diag **ds,
                    WorkflowFacts *facts)
{
    int status = EXIT_OK;
    for (int i = 0; i < o->file_count; i++) {
        const char *file = o->files[i];
        ds[i] = diag_new(a, file, o->werror);
        size_t len;
        char *bytes = read_file(a, file, &len);
        if (!bytes) {
            fprintf(stderr, "flussoc: cannot read %s: %s\n", file,
                    strerror(errno));
            status = EXIT_USAGE;
            continue;
        }
        diag_set_source(ds[i], bytes, len);
        ws[i] = workflow_load(a, ds[i], file, bytes, len);
        if (ws[i])
            check_workflow(a, ds[i], ws[i], &facts[i]);
    }
    check_across(ws, ds, o->file_count);
    for (int i = 0; i < o->file_count; i++) {
        diag_print(ds[i], stderr);
        if (diag_error_count(ds[i]) > 0 && status == EXIT_OK)
            status = EXIT_ERRORS;
    }
    return status;
}

/* Writes len bytes to path ('-': stdout); returns an exit status. */
static int write_output(const char *path, const char *bytes, size_t len)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f || fwrite(bytes, 1, len, f) != len
        || (to_stdout ? fflush(f) : fclose(f)) != 0) {
        fprintf(stderr, "flussoc: cannot write %s: %s\n", path,
                strerror(errno));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Writes the picture of --emit-dot or --emit-mermaid. */
static int draw(Arena *a, const Options *o, Workflow *const *ws)
{
    char *picture = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&picture, &len);
    DrawLanguage lang = o->emit_dot ? DRAW_DOT : DRAW_MERMAID;
    draw_program(a, mem, lang, ws, o->file_count);
    fclose(mem);
    int status = write_output(o->emit_dot ? o->emit_dot : o->emit_mermaid,
                              picture, len);
    free(picture);
    return status;
}

/* Writes the program to --emit-c's file, or compiles it into -o's. */
static int generate(Arena *a, const Options *o, Workflow *const *ws,
                    const WorkflowFacts *facts)
{
    char *program = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&program, &len);
    emit_program(a, mem, ws, facts, o->file_count);
    fclose(mem);
    int status = EXIT_OK;
    if (o->emit_c) {
        status = write_output(o->emit_c, program, len);
    } else {
        const char *out = o->output ? o->output : ws[0]->name;
        CcOptions cc = { .opt_level = o->opt_level,
                         .link_static = o->link_static };
        if (cc_build(program, len, out, &cc) < 0)
            status = EXIT_USAGE;
    }
    free(program);
    return status;
}

/* Colour on a terminal, unless NO_COLOR is set (no-color.org) or the
 * terminal is dumb. */
static bool want_colour(void)
{
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    return isatty(STDERR_FILENO) && !(no && *no)
        && !(term && strcmp(term, "dumb") == 0);
}

int main(int argc, char **argv)
{
    Options o = { 0 };
    int status = parse_options(argc, argv, &o);
    if (status >= 0) {
        free(o.files);
        return status;
    }
    diag_use_colour(want_colour());
    Arena *a = arena_new();
    int n = o.file_count;
    Workflow **ws = arena_alloc(a, sizeof *ws * (size_t)n);
    Diag **ds = arena_alloc(a, sizeof *ds * (size_t)n);
    WorkflowFacts *facts = arena_alloc(a, sizeof *facts * (size_t)n);
    status = load_all(a, &o, ws, ds, facts);
    if (status == EXIT_OK && !o.check_only) {
        if (o.emit_dot || o.emit_mermaid)
            status = draw(a, &o, ws);
        else
            status = generate(a, &o, ws, facts);
    }
    arena_free(a);
    free(o.files);
    return status;
}
