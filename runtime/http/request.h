/* http/request.h - a request turned into the trigger's output of spec 3
 * (request.c), on plain bytes: no libmicrohttpd. */
#ifndef FLUSSO_REQUEST_H
#define FLUSSO_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flusso.h"

/* One request header as received (name in its original case). */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;       /* NUL-terminated as well */
    size_t value_len;
} ReqHeader;

/* The trigger output of spec 3 for a request, built in a: method, path
 * and query from uri (the raw request target; path_len bytes of path),
 * headers the n of hs in arrival order (borrowed: they must live as long
 * as the result, while uri's and method's bytes are copied), body and
 * raw_body from raw (a string in a).  Returns NULL when the body is
 * declared JSON but does not parse.  The server collects the headers
 * from libmicrohttpd; tests and the fuzzer pass their own. */
const FlValue *req_trigger_of(FlArena *a, const char *method, const char *uri,
                              size_t path_len, const ReqHeader *hs, size_t n,
                              const FlValue *raw, int64_t received_unix_ms);

#endif
