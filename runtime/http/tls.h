/* http/tls.h - the certificate HTTPS is served with (tls.c): read from
 * PEM files at start and again on SIGHUP, handed to GnuTLS per handshake. */
#ifndef FLUSSO_TLS_H
#define FLUSSO_TLS_H

#include <stddef.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

/* Reads the certificate chain and key from cert_path and key_path (both
 * borrowed for the process's life) and makes them current.  0, or -1 with
 * a message naming the file in err. */
int tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen);
/* Reads the files tls_load() named again; on success new handshakes use
 * them, on failure (a message in err) the current ones stay.  0 or -1. */
int tls_reload(char *err, size_t errlen);
/* Whether tls_load() succeeded: the server speaks HTTPS. */
int tls_enabled(void);
/* GnuTLS's certificate callback (libmicrohttpd's
 * MHD_OPTION_HTTPS_CERT_CALLBACK): the current chain and key. */
gnutls_certificate_retrieve_function2 tls_pick;
/* Frees every certificate loaded; after the HTTP daemons stopped. */
void tls_free(void);

#endif
