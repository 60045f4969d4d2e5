/* loadgen.c - many concurrent requests from one thread, for the e2e tests.
 *
 *   loadgen HOST PORT PATH COUNT STATUS [PID]
 *
 * Opens COUNT connections to HOST:PORT (IPv4; at most 256 connecting at
 * once), sends each "POST PATH" with Connection: close, reads each answer
 * to EOF and counts those whose status is STATUS and that carry an
 * X-Flusso-Run-Id header.  With PID, samples the Threads: line of
 * /proc/PID/status every 20 ms while answers are outstanding.  Gives up
 * after 60 s.  Prints one line
 *   ok=N failed=N threads_min=N threads_max=N elapsed_ms=N
 * and exits 0 when every answer was as expected. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CONNECTING = 256, RESP_MAX = 2048, GIVE_UP_MS = 60000 };

typedef struct {
    int fd;
    int state;                   /* 0 connecting, 1 reading, 2 done */
    size_t sent, got;
    char resp[RESP_MAX];
} Client;

static struct sockaddr_in addr;
static char request[512];
static size_t request_len;
static int want_status;
static int epfd;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int threads_of(const char *pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    int n = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

static int client_open(Client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        return -1;
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Whether the finished answer is the one expected. */
static int answer_ok(Client *c)
{
    int status = 0;
    c->resp[c->got < RESP_MAX ? c->got : RESP_MAX - 1] = '\0';
    if (sscanf(c->resp, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    return status == want_status && strcasestr(c->resp, "\r\nX-Flusso-Run-Id: ") != NULL;
}

/* Progress on one ready connection; returns 1 when it just finished. */
static int client_step(Client *c, int *connecting)
{
    if (c->state == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err)
            return c->state = 2, (*connecting)--, 1;
        ssize_t w = send(c->fd, request + c->sent, request_len - c->sent, MSG_NOSIGNAL);
        if (w > 0)
            c->sent += (size_t)w;
        if (c->sent < request_len)
            return 0;
        c->state = 1;
        (*connecting)--;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
    }
    char buf[4096];
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r > 0) {                 /* keep the first RESP_MAX - 1 bytes */
        size_t at = c->got < RESP_MAX - 1 ? c->got : RESP_MAX - 1;
        size_t n = (size_t)r < RESP_MAX - 1 - at ? (size_t)r : RESP_MAX - 1 - at;
        memcpy(c->resp + at, buf, n);
        c->got += (size_t)r;
        return 0;
    }
    c->state = 2;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: loadgen HOST PORT PATH COUNT STATUS [PID]\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    request_len = (size_t)snprintf(request, sizeof request,
        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        argv[3], argv[1]);
    int count = atoi(argv[4]), opened = 0, done = 0, ok = 0, connecting = 0;
    want_status = atoi(argv[5]);
    const char *pid = argc > 6 ? argv[6] : NULL;
    Client *clients = calloc((size_t)count, sizeof *clients);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    int tmin = 1 << 30, tmax = -1;
    long long start = now_ms(), last_sample = 0;
    while (done < count && now_ms() - start < GIVE_UP_MS) {
        while (opened < count && connecting < MAX_CONNECTING) {
            if (client_open(&clients[opened]) < 0) {
                perror("loadgen: connect");
                return 2;
            }
            opened++, connecting++;
        }
        struct epoll_event evs[256];
        int n = epoll_wait(epfd, evs, 256, 10);
        for (int i = 0; i < n; i++) {
            Client *c = evs[i].data.ptr;
            if (c->state != 2 && client_step(c, &connecting)) {
                ok += answer_ok(c);
                done++;
                close(c->fd);
            }
        }
        if (pid && now_ms() - last_sample >= 20) {
            int t = threads_of(pid);
            tmin = t < tmin ? t : tmin;
            tmax = t > tmax ? t : tmax;
            last_sample = now_ms();
        }
    }
    printf("ok=%d failed=%d threads_min=%d threads_max=%d elapsed_ms=%lld\n", ok,
           count - ok, pid ? tmin : -1, tmax, now_ms() - start);
    free(clients);
    return ok == count ? 0 : 1;
}
