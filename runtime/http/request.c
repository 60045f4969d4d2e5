/* request.c - an HTTP request turned into the trigger's output (spec 3).
 *
 *   {method, path, query, headers, body, raw_body, received_at}
 *
 * built in the run's arena.  Path and query come from the raw request
 * target (server.c keeps it from libmicrohttpd's URI log callback, which
 * sees it before anything is unescaped): the path is exactly what was
 * sent, without the query string; the query is decoded here by the form
 * rules - `+` is a space, %XX a byte, the first of repeated keys wins.
 * Header names are lower-cased and repeated headers joined with ", " in
 * arrival order.  Repeated keys are found by a plain scan while an object
 * is small (the usual request: a handful of headers, no query) and
 * through a hash index from INDEX_FROM keys on, so a request with
 * thousands of fields still costs linear time.  Every array is made at its
 * final size where that is known: the run's arena keeps what it is given,
 * and a waiting run keeps its arena.
 *
 * req_trigger_of() works on plain bytes, never on libmicrohttpd: the
 * server collects a connection's headers for it, and tests and the fuzzer
 * call it directly. */
#include "http/request.h"
#include "value/value.h"

#include <strings.h>

/* ---- an index of an object builder's keys ------------------------------- */

enum { INDEX_FROM = 8 };     /* keys before an object gets a hash index */

static const FlValue empty_object = FL_EMPTY_OBJECT_LIT;

typedef struct {
    FlObjectBuilder *ob;
    uint32_t *slots;         /* member index + 1; 0: empty; NULL: no index yet */
    size_t mask;             /* slot count - 1 (a power of two minus one) */
} KeyIndex;

static uint64_t hash_key(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u;           /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

static void index_init(KeyIndex *ki, FlObjectBuilder *ob)
{
    ki->ob = ob;
    ki->slots = NULL;
    ki->mask = 0;
}

/* Makes the index, or doubles it, with every member so far in it. */
static void index_grow(KeyIndex *ki)
{
    size_t slots = ki->slots ? 2 * (ki->mask + 1) : 4 * INDEX_FROM;
    ki->mask = slots - 1;
    ki->slots = fl_arena_alloc(ki->ob->arena, slots * sizeof *ki->slots);
    memset(ki->slots, 0, slots * sizeof *ki->slots);
    for (size_t i = 0; i < ki->ob->len; i++) {
        const FlMember *m = &ki->ob->members[i];
        size_t s = hash_key(m->key, m->klen) & ki->mask;
        while (ki->slots[s])
            s = (s + 1) & ki->mask;
        ki->slots[s] = (uint32_t)i + 1;
    }
}

/* The member index of key, or -1 after noting that the member the caller
 * appends next (index ob->len) will hold it. */
static long index_find_or_claim(KeyIndex *ki, const char *key, size_t n)
{
    const FlObjectBuilder *ob = ki->ob;
    if (!ki->slots && ob->len < INDEX_FROM) {
        for (size_t i = 0; i < ob->len; i++)
            if (ob->members[i].klen == n && memcmp(ob->members[i].key, key, n) == 0)
                return (long)i;
        return -1;
    }
    if (!ki->slots || 2 * (ob->len + 1) > ki->mask + 1)
        index_grow(ki);
    size_t s = hash_key(key, n) & ki->mask;
    for (; ki->slots[s]; s = (s + 1) & ki->mask) {
        const FlMember *m = &ki->ob->members[ki->slots[s] - 1];
        if (m->klen == n && memcmp(m->key, key, n) == 0)
            return (long)ki->slots[s] - 1;
    }
    ki->slots[s] = (uint32_t)ki->ob->len + 1;
    return -1;
}

/* ---- query strings and form bodies -------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Form-decodes n bytes at p into the arena; malformed escapes stay as
 * they are.  Returns the decoded length. */
static char *form_decode(FlArena *a, const char *p, size_t n, size_t *out_len)
{
    char *out = fl_arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '+') {
            out[o++] = ' ';
        } else if (p[i] == '%' && i + 2 < n && (hi = hex_value(p[i + 1])) >= 0
                   && (lo = hex_value(p[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* Adds "key=value" (or "key", with an empty value) unless key is there. */
static void form_pair(KeyIndex *ki, const char *p, size_t n)
{
    FlArena *a = ki->ob->arena;
    const char *eq = memchr(p, '=', n);
    size_t klen = eq ? (size_t)(eq - p) : n, kdec, vdec = 0;
    char *key = form_decode(a, p, klen, &kdec);
    if (index_find_or_claim(ki, key, kdec) >= 0)
        return;
    const char *val = eq ? form_decode(a, eq + 1, n - klen - 1, &vdec) : "";
    fl_object_add(ki->ob, key, kdec, fl_string_ref(a, val, vdec));
}

/* An object of strings from application/x-www-form-urlencoded text. */
static const FlValue *form_parse(FlArena *a, const char *p, size_t n)
{
    FlObjectBuilder ob;
    KeyIndex ki;
    if (n == 0)
        return &empty_object;
    fl_object_init(&ob, a, 0);
    index_init(&ki, &ob);
    for (const char *end = p + n; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t len = amp ? (size_t)(amp - p) : (size_t)(end - p);
        if (len > 0)
            form_pair(&ki, p, len);
        p += len + 1;
    }
    return fl_object_finish(&ob);
}

/* ---- headers ------------------------------------------------------------ */

typedef struct {
    const char *value;
    size_t len;
    long member;             /* the member the value belongs to */
} HeaderPart;

typedef struct {
    FlArena *arena;
    FlObjectBuilder ob;
    KeyIndex ki;
    HeaderPart *parts;       /* one per header */
    size_t nparts;
} HeaderWalk;

/* First pass: one member per distinct lower-cased name, and the parts of
 * each value in arrival order. */
static void header_seen(HeaderWalk *w, const char *key, size_t klen,
                        const char *value, size_t vlen)
{
    char *name = fl_arena_alloc(w->arena, klen + 1);
    for (size_t i = 0; i < klen; i++)
        name[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] | 0x20) : key[i];
    name[klen] = '\0';
    long m = index_find_or_claim(&w->ki, name, klen);
    if (m < 0) {
        m = (long)w->ob.len;
        fl_object_add(&w->ob, name, klen, &fl_empty_string);
    }
    w->parts[w->nparts++] = (HeaderPart){ value ? value : "", value ? vlen : 0, m };
}

/* Second pass: each member's value, its parts joined with ", ". */
static void headers_join(HeaderWalk *w)
{
    size_t n = w->ob.len;
    if (n == w->nparts) {            /* no name twice: one part each */
        for (size_t m = 0; m < n; m++)
            w->ob.members[m].value = *fl_string(w->arena, w->parts[m].value,
                                                w->parts[m].len);
        return;
    }
    size_t *total = fl_arena_alloc(w->arena, n * sizeof *total + 1);
    uint32_t *count = fl_arena_alloc(w->arena, n * sizeof *count + 1);
    char **fill = fl_arena_alloc(w->arena, n * sizeof *fill + 1);
    memset(total, 0, n * sizeof *total);
    memset(count, 0, n * sizeof *count);
    for (size_t i = 0; i < w->nparts; i++) {
        long m = w->parts[i].member;
        total[m] += (count[m]++ ? 2 : 0) + w->parts[i].len;
    }
    for (size_t m = 0; m < n; m++) {
        fill[m] = fl_arena_alloc(w->arena, total[m] + 1);
        count[m] = 0;
    }
    for (size_t i = 0; i < w->nparts; i++) {
        long m = w->parts[i].member;
        if (count[m]++) {
            memcpy(fill[m], ", ", 2);
            fill[m] += 2;
        }
        memcpy(fill[m], w->parts[i].value, w->parts[i].len);
        fill[m] += w->parts[i].len;
    }
    /* The builder's members are ours until fl_object_finish(); each value
     * ends with a NUL, as fl_string()'s do. */
    for (size_t m = 0; m < n; m++) {
        *fill[m] = '\0';
        w->ob.members[m].value = *fl_string_ref(w->arena, fill[m] - total[m], total[m]);
    }
}

static const FlValue *headers_object(FlArena *a, const ReqHeader *hs, size_t n)
{
    HeaderWalk w = { .arena = a };
    if (n == 0)
        return &empty_object;
    fl_object_init(&w.ob, a, n);
    index_init(&w.ki, &w.ob);
    w.parts = fl_arena_alloc(a, n * sizeof *w.parts);
    for (size_t i = 0; i < n; i++)
        header_seen(&w, hs[i].name, hs[i].name_len, hs[i].value, hs[i].value_len);
    headers_join(&w);
    return fl_object_finish(&w.ob);
}

/* The value of the first header called name (any case), or NULL. */
static const char *header_find(const ReqHeader *hs, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (hs[i].name_len == len && strncasecmp(hs[i].name, name, len) == 0)
            return hs[i].value;
    return NULL;
}

/* ---- the body ----------------------------------------------------------- */

typedef enum { BODY_TEXT, BODY_JSON, BODY_FORM } BodyKind;

/* The body's kind from its Content-Type: case-insensitive, parameters
 * ignored; JSON as json_media_type() says. */
static BodyKind body_kind(const char *ct)
{
    if (!ct)
        return BODY_TEXT;
    if (json_media_type(ct))
        return BODY_JSON;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    if (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
        return BODY_FORM;
    return BODY_TEXT;
}

/* The trigger's body: NULL for a JSON body that does not parse. */
static const FlValue *body_value(FlArena *a, const char *content_type,
                                 const FlValue *raw)
{
    if (raw->len == 0)
        return &fl_null;
    switch (body_kind(content_type)) {
    case BODY_JSON:
        return fl_json_parse(a, raw->u.s, raw->len);
    case BODY_FORM:
        return form_parse(a, raw->u.s, raw->len);
    case BODY_TEXT:
        break;
    }
    return raw;
}

/* ---- the trigger output ------------------------------------------------- */

const FlValue *req_trigger_of(FlArena *a, const char *method, const char *uri,
                              size_t path_len, const ReqHeader *headers,
                              size_t nheaders, const FlValue *raw,
                              int64_t received_unix_ms)
{
    const char *ct = header_find(headers, nheaders, "Content-Type");
    const FlValue *body = body_value(a, ct, raw);
    if (!body)
        return NULL;
    size_t uri_len = strlen(uri);
    const char *query = path_len < uri_len ? uri + path_len + 1 : "";
    char at[25];
    fl_time_rfc3339(at, received_unix_ms);
    FlObjectBuilder ob;
    fl_object_init(&ob, a, 7);
    fl_object_add(&ob, "method", 6, fl_string(a, method, strlen(method)));
    fl_object_add(&ob, "path", 4, fl_string(a, uri, path_len));
    fl_object_add(&ob, "query", 5, form_parse(a, query, strlen(query)));
    fl_object_add(&ob, "headers", 7, headers_object(a, headers, nheaders));
    fl_object_add(&ob, "body", 4, body);
    fl_object_add(&ob, "raw_body", 8, raw);
    fl_object_add(&ob, "received_at", 11, fl_string(a, at, 24));
    return fl_object_finish(&ob);
}
