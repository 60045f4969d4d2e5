/* crashload.c - signed requests for the journal's crash test
 * (tests/e2e/suite-journal.sh).
 *
 *   crashload HOST PORT PATH COUNT SECRET OUT [CONCURRENCY [REPEAT]]
 *
 * Sends COUNT requests "POST PATH" to HOST:PORT (IPv4), at most
 * CONCURRENCY (default 32) at once, each with its own JSON body
 * {"id":"evt-N","ms":M} (N from 1; M is 0, 400, 800 or 1200 by N, a
 * delay for the workflow) signed as GitHub signs webhooks
 * (X-Hub-Signature-256: sha256=<hex HMAC-SHA256(SECRET, body)>), and
 * Connection: close.  As each exchange ends it appends "evt-N STATUS" to
 * OUT, STATUS 0 when no answer came (refused, reset: the handler was
 * killed).  So the file says, line by line, which events were
 * acknowledged.  With REPEAT (default 1), each event is sent REPEAT times
 * in a row - the same body, so the same signature: duplicate deliveries
 * (suite-dedupe.sh) - and COUNT counts requests, not events.  Gives up
 * after 60 s; exits 0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { REQ_MAX = 512, RESP_MAX = 1024, GIVE_UP_MS = 60000 };

typedef struct {
    int fd;
    int n;                        /* the event number */
    size_t sent, got, len;
    char req[REQ_MAX];
    char resp[RESP_MAX];
} Client;

static struct sockaddr_in addr;
static const char *path, *secret, *host;
static int epfd;
static FILE *out;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request for event n, signed. */
static void make_request(Client *c)
{
    char body[64], hex[65];
    unsigned char mac[32];
    unsigned int maclen = 0;
    int blen = snprintf(body, sizeof body, "{\"id\":\"evt-%d\",\"ms\":%d}", c->n,
                        c->n % 4 * 400);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body,
         (size_t)blen, mac, &maclen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    c->len = (size_t)snprintf(c->req, sizeof c->req,
        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        "X-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n"
        "Connection: close\r\n\r\n%s", path, host, hex, blen, body);
}

/* Records the exchange's outcome and frees its slot. */
static void finish(Client *c)
{
    int status = 0;
    c->resp[c->got < RESP_MAX ? c->got : RESP_MAX - 1] = '\0';
    if (sscanf(c->resp, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    fprintf(out, "evt-%d %d\n", c->n, status);
    fflush(out);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

static int client_open(Client *c, int n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    make_request(c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        finish(c);
        return 0;
    }
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Progress on a ready connection; 1 when its exchange is over. */
static int client_step(Client *c)
{
    char buf[2048];
    if (c->sent < c->len) {
        ssize_t w = send(c->fd, c->req + c->sent, c->len - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN)
            return 1;
        if (w > 0)
            c->sent += (size_t)w;
        if (c->sent == c->len) {
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
        return 0;
    }
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r > 0) {
        size_t at = c->got < RESP_MAX - 1 ? c->got : RESP_MAX - 1;
        size_t n = (size_t)r < RESP_MAX - 1 - at ? (size_t)r : RESP_MAX - 1 - at;
        memcpy(c->resp + at, buf, n);
        c->got += (size_t)r;
        return 0;
    }
    return 1;                     /* EOF, or an error: the exchange is over */
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: crashload HOST PORT PATH COUNT SECRET OUT [CONCURRENCY [REPEAT]]\n");
        return 2;
    }
    host = argv[1];
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, host, &addr.sin_addr);
    path = argv[3];
    int count = atoi(argv[4]), conc = argc > 7 ? atoi(argv[7]) : 32;
    int repeat = argc > 8 ? atoi(argv[8]) : 1;
    secret = argv[5];
    out = fopen(argv[6], "w");
    Client *clients = calloc((size_t)conc, sizeof *clients);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!out || !clients || epfd < 0 || conc < 1 || repeat < 1) {
        perror("crashload");
        return 2;
    }
    int next = 1, done = 0;
    for (int i = 0; i < conc; i++)
        clients[i].fd = -1;
    long long start = now_ms();
    while (done < count && now_ms() - start < GIVE_UP_MS) {
        for (int i = 0; i < conc && next <= count; i++) {
            if (clients[i].fd >= 0)
                continue;
            int event = (next++ - 1) / repeat + 1;
            if (client_open(&clients[i], event) < 0) {
                perror("crashload: socket");
                return 2;
            }
            if (clients[i].fd < 0)
                done++;
        }
        struct epoll_event evs[64];
        int n = epoll_wait(epfd, evs, 64, 10);
        for (int i = 0; i < n; i++) {
            Client *c = evs[i].data.ptr;
            if (c->fd >= 0 && client_step(c)) {
                finish(c);
                done++;
            }
        }
    }
    fclose(out);
    free(clients);
    return 0;
}
