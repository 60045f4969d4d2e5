/* notify.c - systemd's readiness protocol, without libsystemd.
 *
 * A service of Type=notify tells systemd it is ready, and that it is
 * stopping, by sending a datagram such as "READY=1" to the unix socket
 * named in $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 * That is the whole protocol sd_notify(3) speaks for these messages, so a
 * socket and one sendto() here stand in for a library dependency that
 * every handler binary would otherwise carry. */
#include "ops/notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!path || !*path)
        return 0;
    size_t n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';          /* the abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    close(fd);
    return sent < 0 ? -1 : 0;
}
