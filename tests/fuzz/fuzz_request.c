/* fuzz_request.c - libFuzzer target: the runtime's request -> trigger
 * output path (runtime/request.c: query and form decoding, header
 * joining, Content-Type rules, JSON bodies) without libmicrohttpd, then
 * the output printed as JSON as a response body would be.
 *
 * Input layout: the first line is "METHOD TARGET" (the raw request
 * target, as libmicrohttpd hands it over: up to the first NUL), then
 * header lines "name: value" up to an empty line, then the body bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_HEADERS = 256 };

/* The next line of [*p, end) without its "\n" (or "\r\n"); NULL at end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
    if (*p >= end)
        return NULL;
    const char *start = *p, *nl = memchr(start, '\n', (size_t)(end - start));
    const char *stop = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (stop > start && stop[-1] == '\r')
        stop--;
    *len = (size_t)(stop - start);
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char first[4096];
    FlArena a;
    fl_arena_init(&a, first, sizeof first);
    const char *p = (const char *)data, *end = p + size, *line;
    size_t len = 0;
    line = next_line(&p, end, &len);
    if (!line)
        line = "";
    const char *sp = line ? memchr(line, ' ', len) : NULL;
    size_t mlen = sp ? (size_t)(sp - line) : 0;
    char *method = fl_arena_alloc(&a, mlen + 1);
    memcpy(method, line, mlen);
    method[mlen] = '\0';
    size_t ulen = sp ? len - mlen - 1 : 0;
    char *uri = fl_arena_alloc(&a, ulen + 1);
    memcpy(uri, sp ? sp + 1 : "", ulen);
    uri[ulen] = '\0';
    ulen = strlen(uri);                          /* up to the first NUL */
    const char *q = memchr(uri, '?', ulen);
    ReqHeader hs[MAX_HEADERS];
    size_t n = 0;
    while (n < MAX_HEADERS && (line = next_line(&p, end, &len)) && len > 0) {
        const char *colon = memchr(line, ':', len);
        size_t nlen = colon ? (size_t)(colon - line) : len;
        const char *v = colon ? colon + 1 : line + len;
        while (v < line + len && *v == ' ')
            v++;
        size_t vlen = (size_t)(line + len - v);
        char *value = fl_arena_alloc(&a, vlen + 1);     /* NUL-terminated, */
        memcpy(value, v, vlen);                          /* as in MHD */
        value[vlen] = '\0';
        hs[n++] = (ReqHeader){ line, nlen, value, vlen };
    }
    const FlValue *raw = fl_string(&a, p, (size_t)(end - p));
    const FlValue *t = req_trigger_of(&a, method, uri, q ? (size_t)(q - uri) : ulen,
                                      hs, n, raw, 1700000000000);
    if (t)
        (void)fl_json_text(&a, t);
    fl_arena_destroy(&a);
    return 0;
}
