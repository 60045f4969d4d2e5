/* ops/version.h - the versions of the libraries a handler runs with
 * (version.c), for --version. */
#ifndef FLUSSO_VERSION_H
#define FLUSSO_VERSION_H

#include <stdio.h>

/* Prints one line per library, as loaded now (not as compiled against):
 * libmicrohttpd (its version string given by the caller: only http/
 * speaks to it), GnuTLS, OpenSSL, SQLite, cJSON, and libcurl when this
 * handler links it. */
void version_print_libraries(FILE *f, const char *microhttpd);

#endif
