/* hostile.c - misbehaving and massed HTTP clients for tests/e2e/suite-ops.sh.
 *
 *   hostile send PORT FILE [WAIT_MS]
 *       sends FILE's bytes as they are (malformed request lines, huge
 *       headers, NUL bytes...), then prints whatever comes back until the
 *       server closes or WAIT_MS (default 5000) pass; "(no answer)" if
 *       nothing did.
 *   hostile slow PORT headers|body INTERVAL_MS MAX_MS
 *       a slow client: sends a request one byte every INTERVAL_MS - its
 *       headers, or (body) complete headers and then a 100000-byte body -
 *       and prints "closed after N ms" once the server cuts it off, or
 *       "open after N ms" when MAX_MS pass first (exit 1).
 *   hostile many PORT N METHOD PATH [ID_PREFIX]
 *       opens N connections at once, then sends each one request
 *       (Connection: close; with ID_PREFIX, a JSON body {"id":"PREFIXi"})
 *       and reads every answer to the end.  Prints one line per request,
 *       "i STATUS" (0: no answer), then "ok=N" on stderr, counting 2xx.
 *
 * Every client stops itself: nothing here waits longer than 60 s. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { GIVE_UP_MS = 60000, RESP_MAX = 4096 };

static struct sockaddr_in addr;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("hostile: connect");
        exit(2);
    }
    return fd;
}

/* Whether the peer has closed (or reset) fd, waiting up to ms. */
static int peer_closed(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char buf[512];
    if (poll(&p, 1, ms) <= 0)
        return 0;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* ---- send ---------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    if (!buf)
        exit(2);
    *len = n;
    return buf;
}

static int cmd_send(const char *file, int wait_ms)
{
    size_t len, off = 0;
    char *req = read_file(file, &len);
    int fd = dial();
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;                   /* the server stopped reading: fine */
        off += (size_t)n;
    }
    long long end = now_ms() + wait_ms;
    size_t total = 0;
    char buf[4096];
    while (now_ms() < end) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)(end - now_ms())) <= 0)
            break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        fwrite(buf, 1, (size_t)n, stdout);
        total += (size_t)n;
    }
    if (total == 0)
        printf("(no answer)\n");
    close(fd);
    free(req);
    return 0;
}

/* ---- slow ---------------------------------------------------------------- */

static int cmd_slow(const char *what, int interval_ms, int max_ms)
{
    static const char head[] = "POST /slow HTTP/1.1\r\nHost: hostile\r\n"
                               "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    static const char body_head[] = "POST /ops/echo HTTP/1.1\r\nHost: hostile\r\n"
                                    "Content-Type: text/plain\r\n"
                                    "Content-Length: 100000\r\n\r\n";
    int body = strcmp(what, "body") == 0;
    int fd = dial();
    long long start = now_ms();
    if (body && send(fd, body_head, sizeof body_head - 1, MSG_NOSIGNAL) < 0)
        return 2;
    for (size_t i = 0; now_ms() - start < max_ms; i++) {
        char c = body ? 'x' : head[i % (sizeof head - 1)];
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || peer_closed(fd, interval_ms)) {
            printf("closed after %lld ms\n", now_ms() - start);
            close(fd);
            return 0;
        }
    }
    printf("open after %lld ms\n", now_ms() - start);
    close(fd);
    return 1;
}

/* ---- many ---------------------------------------------------------------- */

typedef struct {
    int fd, index;
    int state;                   /* 0 connecting, 1 sending, 2 reading, 3 done */
    size_t sent, got;
    char *req;
    size_t req_len;
    char resp[RESP_MAX];
} Client;

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void client_request(Client *c, const char *method, const char *path,
                           const char *prefix)
{
    char body[128] = "", head[512];
    if (prefix)
        snprintf(body, sizeof body, "{\"id\":\"%s%d\"}", prefix, c->index);
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n"
                     "%sContent-Length: %zu\r\n\r\n%s", method, path,
                     prefix ? "Content-Type: application/json\r\n" : "",
                     strlen(body), body);
    c->req = strdup(head);
    c->req_len = (size_t)n;
}

static void client_finish(Client *c, int epfd, int *left)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = 3;
    --*left;
}

/* One readiness event of c. */
static void client_step(Client *c, int epfd, int *left)
{
    if (c->state <= 1) {
        ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            client_finish(c, epfd, left);
            return;
        }
        c->state = 1;
        if ((c->sent += (size_t)n) == c->req_len) {
            c->state = 2;
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
        return;
    }
    char buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n > 0) {
        size_t room = RESP_MAX - 1 - c->got, k = (size_t)n < room ? (size_t)n : room;
        memcpy(c->resp + c->got, buf, k);
        c->got += k;
        return;
    }
    client_finish(c, epfd, left);
}

static int status_of(const Client *c)
{
    int status = 0;
    char resp[RESP_MAX];
    memcpy(resp, c->resp, c->got);
    resp[c->got] = '\0';
    if (sscanf(resp, "HTTP/1.%*c %d", &status) != 1)
        return 0;
    return status;
}

static int cmd_many(int n, const char *method, const char *path, const char *prefix)
{
    raise_nofile();
    int epfd = epoll_create1(EPOLL_CLOEXEC), left = 0, ok = 0;
    Client *cs = calloc((size_t)n, sizeof *cs);
    for (int i = 0; i < n; i++) {
        Client *c = &cs[i];
        c->index = i;
        client_request(c, method, path, prefix);
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0
                          && errno != EINPROGRESS)) {
            if (c->fd >= 0)
                close(c->fd);
            c->state = 3;
            continue;
        }
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        left++;
    }
    long long end = now_ms() + GIVE_UP_MS;
    struct epoll_event evs[256];
    while (left > 0 && now_ms() < end) {
        int k = epoll_wait(epfd, evs, 256, 100);
        for (int e = 0; e < k; e++)
            client_step(evs[e].data.ptr, epfd, &left);
    }
    for (int i = 0; i < n; i++) {
        int s = status_of(&cs[i]);
        printf("%d %d\n", i, s);
        ok += s >= 200 && s < 300;
        if (cs[i].state != 3)
            close(cs[i].fd);
        free(cs[i].req);
    }
    fprintf(stderr, "ok=%d\n", ok);
    free(cs);
    close(epfd);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 3) {
        fprintf(stderr, "usage: hostile send|slow|many PORT ...\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (strcmp(argv[1], "send") == 0 && argc >= 4)
        return cmd_send(argv[3], argc > 4 ? atoi(argv[4]) : 5000);
    if (strcmp(argv[1], "slow") == 0 && argc == 6)
        return cmd_slow(argv[3], atoi(argv[4]), atoi(argv[5]));
    if (strcmp(argv[1], "many") == 0 && argc >= 6)
        return cmd_many(atoi(argv[3]), argv[4], argv[5], argc > 6 ? argv[6] : NULL);
    fprintf(stderr, "hostile: bad arguments\n");
    return 2;
}
