/* listen.c - where the handler listens: the address, and a port that no
 * one else holds.
 *
 * The server (server.c) runs one libmicrohttpd daemon per HTTP thread, all
 * bound to the same port with SO_REUSEPORT, so that the kernel spreads
 * connections over the threads evenly.  libmicrohttpd's own thread pool
 * shares one listening socket instead, and whichever thread wakes first
 * accepts up to eleven connections at once: 32 keep-alive connections
 * opened together often all land on one thread while the others idle
 * (docs/performance.md).
 *
 * SO_REUSEPORT would also let a second handler started on the same port by
 * mistake bind beside the first and take half its connections, silently.
 * So the address is first bound once without it (listen_claim): taken
 * means "address in use", as any server says; port 0 becomes the free
 * port the kernel picked there. */
#include "http/listen.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Whether this machine can make IPv6 sockets (a kernel without IPv6, or
 * a container that disabled it, cannot). */
static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Splits [HOST:]PORT ([::1]:PORT for IPv6) and resolves it.  The printable
 * host goes to host (brackets for IPv6).  :PORT (no host) is every
 * interface: [::] accepting IPv4 too (*dual), or 0.0.0.0 without IPv6.
 * 0 or -1. */
int listen_resolve(const char *spec, struct sockaddr_storage *ss,
                   socklen_t *sslen, char host[80], bool *dual)
{
    char name[256];
    const char *port = spec, *colon = strrchr(spec, ':');
    snprintf(name, sizeof name, "127.0.0.1");
    *dual = false;
    if (spec[0] == ':') {
        *dual = ipv6_available();
        snprintf(name, sizeof name, *dual ? "::" : "0.0.0.0");
        port = spec + 1;
    } else if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof name)
            return -1;
        snprintf(name, sizeof name, "%.*s", (int)(close - spec - 1), spec + 1);
        port = close + 2;
    } else if (colon) {
        if (colon == spec || (size_t)(colon - spec) >= sizeof name)
            return -1;
        snprintf(name, sizeof name, "%.*s", (int)(colon - spec), spec);
        port = colon + 1;
    }
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5
        || atoi(port) > 65535)
        return -1;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *res;
    if (getaddrinfo(name, port, &hints, &res) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    char num[64];
    if (getnameinfo((struct sockaddr *)ss, *sslen, num, sizeof num, NULL, 0,
                    NI_NUMERICHOST) != 0)
        return -1;
    snprintf(host, 80, ss->ss_family == AF_INET6 ? "[%s]" : "%s", num);
    return 0;
}

/* Binds the address once, as a plain server would (SO_REUSEADDR only,
 * IPv6 sockets IPv6 only unless dual, as libmicrohttpd makes them), then
 * lets it go; a port of 0 becomes the one the kernel chose.  0, or -1
 * with errno. */
int listen_claim(struct sockaddr_storage *ss, socklen_t sslen, bool dual)
{
    const int on = 1, v6only = !dual;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (ss->ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    int rc = bind(fd, (struct sockaddr *)ss, sslen);
    if (rc == 0)
        rc = getsockname(fd, (struct sockaddr *)&bound, &len);
    int err = errno;
    close(fd);
    if (rc != 0) {
        errno = err;
        return -1;
    }
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = ((struct sockaddr_in6 *)&bound)->sin6_port;
    else
        ((struct sockaddr_in *)ss)->sin_port = ((struct sockaddr_in *)&bound)->sin_port;
    return 0;
}

unsigned listen_port(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

/* Raises the descriptor limit to its hard limit; returns the soft one. */
unsigned long listen_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur > ULONG_MAX ? ULONG_MAX : (unsigned long)rl.rlim_cur;
}
