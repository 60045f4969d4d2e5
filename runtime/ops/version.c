/* version.c - which libraries, in which versions, a handler runs with.
 *
 * `./handler --version` answers "what is this binary made of" for whoever
 * ships it to another machine (docs/operations.md lists the Debian
 * packages): the versions come from the libraries themselves at run time,
 * so they are those of the machine it runs on.  libcurl is linked only
 * into handlers with an http_request step (-Wl,--as-needed); naming its
 * function here would link it into every handler, so it is looked up
 * among the libraries already loaded instead. */
#include "ops/version.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <gnutls/gnutls.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

/* libcurl's curl_version_info_data, as far as we read it: its first
 * members, stable since libcurl 7.10 (CURLVERSION_FIRST). */
typedef struct {
    int age;
    const char *version;
} CurlVersion;

static const char *curl_version_loaded(void)
{
    const CurlVersion *(*info)(int);
    *(void **)&info = dlsym(RTLD_DEFAULT, "curl_version_info");
    const CurlVersion *v = info ? info(0) : NULL;       /* CURLVERSION_FIRST */
    return v ? v->version : NULL;
}

void version_print_libraries(FILE *f, const char *microhttpd)
{
    const char *curl = curl_version_loaded();
    fprintf(f, "  libmicrohttpd %s\n", microhttpd);
    fprintf(f, "  GnuTLS %s\n", gnutls_check_version(NULL));
    fprintf(f, "  %s\n", OpenSSL_version(OPENSSL_VERSION));
    fprintf(f, "  SQLite %s\n", sqlite3_libversion());
    fprintf(f, "  cJSON %s\n", cJSON_Version());
    if (curl)
        fprintf(f, "  libcurl %s\n", curl);
}
