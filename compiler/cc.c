/* cc.c - writes the generated C to a private temporary directory and runs
 * the C compiler on it.
 *
 * The compiler is started with posix_spawnp and an argument vector, never
 * through a shell, so no file name or flag is ever re-parsed.  $CC and
 * $CFLAGS are split on white space, as make does with them. */
#include "cc.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FLUSSOC_SOURCE_INCLUDE
#define FLUSSOC_SOURCE_INCLUDE "%s/../runtime"  /* the source tree's runtime/ */
#endif

#ifndef FLUSSOC_RUNTIME_FLAGS
#define FLUSSOC_RUNTIME_FLAGS ""   /* e.g. sanitizer flags of the runtime */
#endif

/* The libraries libflusso.a needs, from the Makefile's LDLIBS_RT: the one
 * place they are listed. */
#ifndef FLUSSOC_RUNTIME_LIBS
#error "FLUSSOC_RUNTIME_LIBS: the Makefile passes the runtime's libraries"
#endif

/* The libraries --static links from their .a: those whose static archive
 * and every dependency's Debian ships (docs/operations.md says why the rest
 * stay shared). */
#ifndef FLUSSOC_STATIC_LIBS
#error "FLUSSOC_STATIC_LIBS: the Makefile passes the statically linkable ones"
#endif

extern char **environ;

enum { MAX_ARGS = 256 };

typedef struct {
    char *items[MAX_ARGS];
    int count;
} Args;

static void args_add(Args *a, const char *s)
{
    if (a->count < MAX_ARGS - 1)
        a->items[a->count++] = strdup(s);
}

/* Adds every white-space separated word of s. */
static void args_add_words(Args *a, const char *s)
{
    char *copy = strdup(s ? s : ""), *save = NULL;
    for (char *w = strtok_r(copy, " \t\n", &save); w;
         w = strtok_r(NULL, " \t\n", &save))
        args_add(a, w);
    free(copy);
}

static void args_free(Args *a)
{
    for (int i = 0; i < a->count; i++)
        free(a->items[i]);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds libflusso.a and flusso.h relative to this executable. */
static int find_runtime(char *lib, char *include, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    static const char *const layouts[][2] = {
        { "%s/libflusso.a", "%s/../runtime" },        /* the build tree */
        { "%s/../lib/libflusso.a", "%s/../include" },  /* make install */
        { "%s/libflusso.a", FLUSSOC_SOURCE_INCLUDE },  /* make BUILD=elsewhere */
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char header[PATH_MAX + 16];
        snprintf(lib, size, layouts[i][0], self);
        if (strstr(layouts[i][1], "%s"))
            snprintf(include, size, layouts[i][1], self);
        else   /* an absolute path, which may hold a '%' of its own */
            snprintf(include, size, "%s", layouts[i][1]);
        snprintf(header, sizeof header, "%s/flusso.h", include);
        if (file_exists(lib) && file_exists(header))
            return 0;
    }
    return -1;
}

static int run_compiler(Args *args)
{
    pid_t pid;
    args->items[args->count] = NULL;
    int err = posix_spawnp(&pid, args->items[0], NULL, NULL, args->items,
                           environ);
    if (err) {
        fprintf(stderr, "flussoc: cannot run the C compiler '%s': %s\n",
                args->items[0], strerror(err));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    fprintf(stderr, "flussoc: the C compiler '%s' failed\n", args->items[0]);
    return -1;
}

static int write_source(const char *path, const char *program, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t wrote = fwrite(program, 1, len, f);
    return fclose(f) == 0 && wrote == len ? 0 : -1;
}

/* The runtime's libraries: with link_static, those that can be linked
 * statically first, from their .a (-Bstatic), then the full list as shared
 * objects, where --as-needed drops the ones already linked in. */
static void add_runtime_libs(Args *args, bool link_static)
{
    /* Only the libraries the program uses become dependencies: a handler
     * without http_request does not load libcurl at all. */
    args_add(args, "-Wl,--as-needed");
    if (link_static) {
        args_add(args, "-Wl,-Bstatic");
        args_add_words(args, FLUSSOC_STATIC_LIBS);
        args_add(args, "-Wl,-Bdynamic");
    }
    args_add_words(args, FLUSSOC_RUNTIME_LIBS);
}

static int compile_in(const char *dir, const char *program, size_t len,
                      const char *out, const CcOptions *opts)
{
    char lib[PATH_MAX], include[PATH_MAX], source[PATH_MAX + 16];
    if (find_runtime(lib, include, sizeof lib) < 0) {
        fputs("flussoc: cannot find the runtime (libflusso.a and flusso.h) "
              "next to this flussoc\n", stderr);
        return -1;
    }
    snprintf(source, sizeof source, "%s/handler.c", dir);
    if (write_source(source, program, len) < 0) {
        fprintf(stderr, "flussoc: cannot write %s: %s\n", source,
                strerror(errno));
        return -1;
    }
    Args args = { .count = 0 };
    const char *cc = getenv("CC");
    args_add_words(&args, cc && *cc ? cc : "cc");
    char opt[64];
    snprintf(opt, sizeof opt, "-O%s", opts->opt_level);
    args_add(&args, opt);
    args_add(&args, "-std=c11");
    args_add_words(&args, FLUSSOC_RUNTIME_FLAGS);
    args_add(&args, "-I");
    args_add(&args, include);
    args_add(&args, source);
    args_add(&args, lib);
    add_runtime_libs(&args, opts->link_static);
    args_add(&args, "-o");
    args_add(&args, out);
    args_add_words(&args, getenv("CFLAGS"));
    int status = run_compiler(&args);
    if (status == 0)
        unlink(source);
    else   /* for the bug report, or to try it by hand */
        fprintf(stderr, "flussoc: the generated C is kept in %s\n", source);
    args_free(&args);
    return status;
}

/* Reports, as flussoc rather than as the linker, an output path whose
 * directory is missing or is not one.  Returns 0 when it is there. */
static int check_output_dir(const char *out)
{
    const char *slash = strrchr(out, '/');
    if (!slash)
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash == out ? 1 : (int)(slash - out),
             out);
    struct stat st;
    bool exists = stat(dir, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "flussoc: cannot write '%s': %s'%s' %s\n", out,
            exists ? "" : "directory ", dir,
            exists ? "is not a directory" : "does not exist");
    return -1;
}

int cc_build(const char *program, size_t len, const char *out,
             const CcOptions *opts)
{
    if (check_output_dir(out) < 0)
        return -1;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/flussoc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "flussoc: cannot make a temporary directory: %s\n",
                strerror(errno));
        return -1;
    }
    int status = compile_in(dir, program, len, out, opts);
    if (status == 0)
        rmdir(dir);
    return status;
}

const char *cc_runtime_libs(void)
{
    return FLUSSOC_RUNTIME_LIBS;
}

const char *cc_static_libs(void)
{
    return FLUSSOC_STATIC_LIBS;
}
