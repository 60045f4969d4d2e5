/* tls.c - the certificate and key HTTPS is served with, reloadable.
 *
 * libmicrohttpd's HTTPS is GnuTLS (Debian links it so).  Its
 * MHD_OPTION_HTTPS_MEM_CERT/KEY fix the certificate for the daemon's
 * life, and a new daemon would mean new listening sockets and moving
 * suspended connections.  Its MHD_OPTION_HTTPS_CERT_CALLBACK instead asks
 * us for the certificate at every handshake (GnuTLS's
 * gnutls_certificate_retrieve_function2): tls_pick() hands over whatever
 * set is current, one atomic load.  SIGHUP (server.c) calls tls_reload(),
 * which reads the files into a new set and publishes it; connections
 * already open keep the session they negotiated, new ones get the new
 * certificate.  No restart, no dropped connection.
 *
 * A handshake may still be using the set it picked when a reload
 * publishes the next one, and GnuTLS does not say when it is done with
 * it, so sets are never freed before tls_free() at exit: a reload keeps
 * the old chain (a few KB) for the process's life.  Reloads are rare
 * (a certificate renewal every few weeks).
 *
 * The pair is checked before it is published: a key that does not
 * match the certificate (a renewal half copied) keeps the old pair and
 * says so. */
#include "http/tls.h"
#include "value/value.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHAIN_MAX = 16 };                 /* certificates in a chain */

typedef struct TlsSet TlsSet;
struct TlsSet {
    gnutls_pcert_st certs[CHAIN_MAX];
    unsigned ncerts;
    gnutls_privkey_t key;
    TlsSet *older;                       /* kept until tls_free() */
};

static struct {
    const char *cert_path, *key_path;
    _Atomic(TlsSet *) current;
} tls;

static void set_free(TlsSet *s)
{
    for (unsigned i = 0; i < s->ncerts; i++)
        gnutls_pcert_deinit(&s->certs[i]);
    if (s->key)
        gnutls_privkey_deinit(s->key);
    free(s);
}

/* Checks that key is the private key of cert's first certificate: GnuTLS
 * does it when a pair is set on credentials.  0 or a GnuTLS error. */
static int pair_check(const gnutls_datum_t *cert, const gnutls_datum_t *key)
{
    gnutls_certificate_credentials_t cred;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0)
        return rc;
    rc = gnutls_certificate_set_x509_key_mem2(cred, cert, key, GNUTLS_X509_FMT_PEM,
                                              NULL, 0);
    gnutls_certificate_free_credentials(cred);
    return rc < 0 ? rc : 0;
}

/* The set in the two PEM texts; NULL with err set. */
static TlsSet *set_make(const gnutls_datum_t *cert, const gnutls_datum_t *key,
                        char *err, size_t errlen)
{
    TlsSet *s = rt_check(calloc(1, sizeof *s));
    const char *what = tls.cert_path;
    int rc;
    s->ncerts = CHAIN_MAX;
    rc = gnutls_pcert_list_import_x509_raw(s->certs, &s->ncerts, cert,
                                           GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        s->ncerts = 0;
        goto err;
    }
    what = tls.key_path;
    if ((rc = gnutls_privkey_init(&s->key)) < 0
        || (rc = gnutls_privkey_import_x509_raw(s->key, key, GNUTLS_X509_FMT_PEM,
                                                 NULL, 0)) < 0)
        goto err;
    what = "the certificate and the key";
    if ((rc = pair_check(cert, key)) < 0)
        goto err;
    return s;
err:
    snprintf(err, errlen, "%s: %s", what, gnutls_strerror(rc));
    set_free(s);
    return NULL;
}

/* Reads both files into a new set; NULL with err set. */
static TlsSet *set_read(char *err, size_t errlen)
{
    gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
    TlsSet *s = NULL;
    if (gnutls_load_file(tls.cert_path, &cert) < 0)
        snprintf(err, errlen, "cannot read %s", tls.cert_path);
    else if (gnutls_load_file(tls.key_path, &key) < 0)
        snprintf(err, errlen, "cannot read %s", tls.key_path);
    else
        s = set_make(&cert, &key, err, errlen);
    gnutls_free(cert.data);
    if (key.data) {                      /* a private key: not left in memory */
        memset(key.data, 0, key.size);
        gnutls_free(key.data);
    }
    return s;
}

int tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    tls.cert_path = cert_path;
    tls.key_path = key_path;
    return tls_reload(err, errlen);
}

int tls_reload(char *err, size_t errlen)
{
    if (!tls.cert_path)
        return 0;
    TlsSet *s = set_read(err, errlen);
    if (!s)
        return -1;
    s->older = atomic_load(&tls.current);
    atomic_store_explicit(&tls.current, s, memory_order_release);
    return 0;
}

int tls_enabled(void)
{
    return atomic_load(&tls.current) != NULL;
}

int tls_pick(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
             const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
             unsigned int *pcert_length, gnutls_privkey_t *key)
{
    TlsSet *s = atomic_load_explicit(&tls.current, memory_order_acquire);
    (void)session, (void)req_ca_dn, (void)nreqs, (void)algos, (void)nalgos;
    if (!s)
        return -1;
    *pcert = s->certs;
    *pcert_length = s->ncerts;
    *key = s->key;
    return 0;
}

void tls_free(void)
{
    TlsSet *s = atomic_exchange(&tls.current, NULL);
    while (s) {
        TlsSet *older = s->older;
        set_free(s);
        s = older;
    }
    tls.cert_path = tls.key_path = NULL;
}
