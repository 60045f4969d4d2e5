/* crypto.c - hashes, HMAC, base64 and constant-time comparison.
 *
 * OpenSSL 3 makes algorithm lookup ("fetching") expensive, so the SHA-256
 * digest and the HMAC MAC are fetched once, by fl_crypto_init(), and each
 * thread keeps its own digest and MAC contexts, made on first use and
 * re-initialised for every call: a hash costs no fetch, no malloc and no
 * lock.  The MAC context also keeps the key schedule of the thread's last
 * HMAC key, so signing under the same secret again skips it.  The
 * contexts are freed when their thread exits.
 *
 * Base64 is OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock.  EVP_DecodeBlock
 * alone is lax ("YQ=a" decodes) and ignores padding, so the input is
 * checked and normalised here first - standard or URL-safe alphabet,
 * padding optional, nothing else - and the padding subtracted. */
#include "flusso.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { B64_CHUNK = 4096 };        /* base64 characters decoded at a time */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;

enum { KEY_CACHE = 128 };          /* longer HMAC keys are not cached */

typedef struct {
    EVP_MAC_CTX *mac;
    EVP_MD_CTX *md;
    bool keyed;                   /* mac holds the schedule of key[] */
    size_t klen;
    unsigned char key[KEY_CACHE];
} Contexts;

static _Thread_local Contexts *tls;

static void contexts_free(void *p)
{
    Contexts *c = p;
    OPENSSL_cleanse(c->key, sizeof c->key);
    EVP_MAC_CTX_free(c->mac);
    EVP_MD_CTX_free(c->md);
    free(c);
}

static void init(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!hmac_alg || !sha256_alg)
        fputs("flusso: OpenSSL provides no HMAC or SHA256\n", stderr);
    pthread_key_create(&tls_key, contexts_free);
}

void fl_crypto_init(void)
{
    pthread_once(&init_once, init);
}

/* This thread's contexts, made on first use; NULL if OpenSSL fails. */
static Contexts *contexts(void)
{
    if (tls)
        return tls;
    fl_crypto_init();
    if (!hmac_alg || !sha256_alg)
        return NULL;
    Contexts *c = calloc(1, sizeof *c);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!c || !(c->mac = EVP_MAC_CTX_new(hmac_alg)) ||
        !(c->md = EVP_MD_CTX_new()) || !EVP_MAC_CTX_set_params(c->mac, params)) {
        if (c)
            contexts_free(c);
        return NULL;
    }
    pthread_setspecific(tls_key, c);
    return tls = c;
}

/* Starts an HMAC under key.  The key schedule (two SHA-256 blocks, about
 * half the cost of signing a small body) is kept from the thread's
 * previous call when the key is the same - the usual case, one secret per
 * workflow: OpenSSL then re-uses it for a NULL key.  The keys are
 * compared in constant time, as they may be secret. */
static bool mac_start(Contexts *c, const void *key, size_t klen)
{
    if (c->keyed && klen == c->klen && CRYPTO_memcmp(key, c->key, klen) == 0)
        return EVP_MAC_init(c->mac, NULL, 0, NULL);
    c->keyed = false;
    /* A NULL key would mean "the previous key" to OpenSSL. */
    if (!EVP_MAC_init(c->mac, klen ? key : (const void *)"", klen, NULL))
        return false;
    if (klen <= KEY_CACHE) {
        memcpy(c->key, key, klen);
        c->klen = klen;
        c->keyed = true;
    }
    return true;
}

int fl_hmac_sha256_raw(const void *key, size_t klen, const FlBytes *parts,
                       size_t n, unsigned char out[32])
{
    Contexts *c = contexts();
    size_t outlen;
    if (!c || !mac_start(c, key, klen))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!EVP_MAC_update(c->mac, parts[i].p, parts[i].len)) {
            c->keyed = false;
            return -1;
        }
    if (EVP_MAC_final(c->mac, out, &outlen, 32) && outlen == 32)
        return 0;
    c->keyed = false;
    return -1;
}

int fl_sha256_raw(const void *p, size_t len, unsigned char out[32])
{
    Contexts *c = contexts();
    if (!c || !EVP_DigestInit_ex2(c->md, sha256_alg, NULL) ||
        !EVP_DigestUpdate(c->md, p, len) || !EVP_DigestFinal_ex(c->md, out, NULL))
        return -1;
    return 0;
}

bool fl_secure_memeq(const void *x, size_t xlen, const void *y, size_t ylen)
{
    return xlen == ylen && (xlen == 0 || CRYPTO_memcmp(x, y, xlen) == 0);
}

/* ---- Base64 -------------------------------------------------------------- */

const FlValue *fl_base64_encode(FlArena *a, const void *p, size_t len)
{
    const size_t chunk = 3 * ((size_t)1 << 26);    /* fits EVP's int */
    const unsigned char *in = p;
    if (len > (size_t)FL_LEN_MAX / 4 * 3)
        return &fl_null;
    size_t outlen = (len + 2) / 3 * 4;
    unsigned char *out = fl_arena_alloc(a, outlen + 1), *o = out;
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        o += EVP_EncodeBlock(o, in + i, (int)n);
    }
    *o = '\0';
    return fl_string_ref(a, (const char *)out, outlen);
}

/* The standard alphabet's character for base64 character c (either
 * alphabet), or 0 if c is not one. */
static char b64_char(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '+' || c == '/')
        return (char)c;
    return c == '-' ? '+' : c == '_' ? '/' : 0;
}

/* Decodes `len` characters at p (a multiple of 4 once `fill` '=' are
 * appended) into out, B64_CHUNK at a time.  Returns false if one is not
 * base64. */
static bool b64_decode(unsigned char *out, const char *p, size_t len, size_t fill)
{
    unsigned char quad[B64_CHUNK];
    for (size_t i = 0; i < len; i += B64_CHUNK) {
        size_t n = len - i < B64_CHUNK ? len - i : B64_CHUNK;
        for (size_t j = 0; j < n; j++)
            if (!(quad[j] = (unsigned char)b64_char((unsigned char)p[i + j])))
                return false;
        if (i + n == len)
            for (size_t j = 0; j < fill; j++)
                quad[n++] = '=';
        if (EVP_DecodeBlock(out, quad, (int)n) < 0)
            return false;
        out += n / 4 * 3;
    }
    return true;
}

const FlValue *fl_base64_decode(FlArena *a, const char *p, size_t len)
{
    size_t pad = 0;
    while (pad < 2 && len > pad && p[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    if (body % 4 == 1 || (pad && len % 4 != 0))
        return NULL;
    size_t fill = (4 - body % 4) % 4;
    size_t outlen = body / 4 * 3 + (fill ? 3 - fill : 0);
    unsigned char *out = fl_arena_alloc(a, (body + fill) / 4 * 3 + 1);
    if (!b64_decode(out, p, body, fill))
        return NULL;
    out[outlen] = '\0';
    return fl_string_ref(a, (const char *)out, outlen);
}

/* ---- Built-ins ----------------------------------------------------------- */

static const FlValue *hex(FlArena *a, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = fl_arena_alloc(a, 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * n] = '\0';
    return fl_string_ref(a, s, 2 * n);
}

/* HMAC-SHA256 of two string values into mac; false if not both strings. */
static bool hmac_values(const FlValue *key, const FlValue *data,
                        unsigned char mac[32])
{
    if (key->type != FL_STRING || data->type != FL_STRING)
        return false;
    FlBytes part = {data->u.s, data->len};
    return fl_hmac_sha256_raw(key->u.s, key->len, &part, 1, mac) == 0;
}

const FlValue *fl_fn_hmac_sha256(FlArena *a, const FlValue *key, const FlValue *data)
{
    unsigned char mac[32];
    return hmac_values(key, data, mac) ? hex(a, mac, 32) : &fl_null;
}

const FlValue *fl_fn_hmac_sha256_base64(FlArena *a, const FlValue *key,
                                        const FlValue *data)
{
    unsigned char mac[32];
    return hmac_values(key, data, mac) ? fl_base64_encode(a, mac, 32) : &fl_null;
}

const FlValue *fl_fn_sha256(FlArena *a, const FlValue *data)
{
    unsigned char md[32];
    if (data->type != FL_STRING || fl_sha256_raw(data->u.s, data->len, md) < 0)
        return &fl_null;
    return hex(a, md, 32);
}

const FlValue *fl_fn_base64_encode(FlArena *a, const FlValue *s)
{
    return s->type == FL_STRING ? fl_base64_encode(a, s->u.s, s->len) : &fl_null;
}

const FlValue *fl_fn_base64_decode(FlArena *a, const FlValue *s)
{
    const FlValue *v = s->type == FL_STRING ? fl_base64_decode(a, s->u.s, s->len)
                                            : NULL;
    return v ? v : &fl_null;
}

const FlValue *fl_fn_secure_equals(FlArena *a, const FlValue *x, const FlValue *y)
{
    (void)a;
    if (x->type != FL_STRING || y->type != FL_STRING)
        return &fl_false;
    return fl_bool(fl_secure_memeq(x->u.s, x->len, y->u.s, y->len));
}
