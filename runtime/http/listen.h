/* http/listen.h - the listening address (listen.c), claimed once before
 * the HTTP threads' daemons share it with SO_REUSEPORT. */
#ifndef FLUSSO_LISTEN_H
#define FLUSSO_LISTEN_H

#include <stdbool.h>
#include <sys/socket.h>

/* Splits [HOST:]PORT ([::1]:PORT for IPv6) and resolves it; the printable
 * host goes to host.  :PORT is every interface: [::] taking IPv4 too
 * (*dual set), or 0.0.0.0 where there is no IPv6.  0 or -1. */
int listen_resolve(const char *spec, struct sockaddr_storage *ss,
                   socklen_t *sslen, char host[80], bool *dual);
/* Binds ss once without SO_REUSEPORT and lets it go: fails (-1, errno)
 * when the address is taken; port 0 becomes the port the kernel chose. */
int listen_claim(struct sockaddr_storage *ss, socklen_t sslen, bool dual);
unsigned listen_port(const struct sockaddr_storage *ss);
/* Raises the open-file limit to its hard limit; returns the new soft one. */
unsigned long listen_raise_nofile(void);

#endif
