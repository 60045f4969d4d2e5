/* cc.h - driving the C compiler that turns generated C into a handler. */
#ifndef FLUSSOC_CC_H
#define FLUSSOC_CC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *opt_level;   /* passed as -O<opt_level> */
    bool link_static;        /* --static: cc_static_libs() from their .a */
} CcOptions;

/* Compiles the C program (len bytes) into the executable out, with $CC
 * (default cc) at -O<opts->opt_level>, $CFLAGS appended, against the runtime
 * library and header found next to this flussoc (its build tree, or
 * PREFIX/lib and PREFIX/include after `make install`).  Returns 0, or -1
 * after printing why to stderr: out's directory missing, or the C compiler
 * failing (then the generated C is kept, and its path printed). */
int cc_build(const char *program, size_t len, const char *out,
             const CcOptions *opts);
/* The libraries every handler links (the -l flags), for --version. */
const char *cc_runtime_libs(void);
/* Those of them --static links statically (the -l flags). */
const char *cc_static_libs(void);

#endif
