/* cc.h - driving the C compiler that turns generated C into a handler. */
#ifndef FLUSSOC_CC_H
#define FLUSSOC_CC_H

#include <stddef.h>

/* Compiles the C program (len bytes) into the executable out, with $CC
 * (default cc) at -O<opt_level>, $CFLAGS appended, against the runtime
 * library and header found next to this flussoc (its build tree, or
 * PREFIX/lib and PREFIX/include after `make install`).  Returns 0, or -1
 * after printing why to stderr: out's directory missing, or the C compiler
 * failing (then the generated C is kept, and its path printed). */
int cc_build(const char *program, size_t len, const char *out,
             const char *opt_level);
/* The libraries every handler links (the -l flags), for --version. */
const char *cc_runtime_libs(void);

#endif
