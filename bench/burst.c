/* burst.c - a burst of webhook senders: N connections opened at once, each
 * sending one signed POST (examples/payment.json, as bench/post.lua sends
 * it), and the latency of every answer.
 *
 * This is what a provider replaying a backlog looks like to a handler: a
 * few hundred senders arriving within a millisecond, each with one
 * request, each waiting for its answer.  bench/burst runs it round after
 * round against fresh, warm and paused handlers and counts the rounds in
 * which an answer took longer than a second, or never came
 * (docs/burst-stall.md).
 *
 * Usage: burst [-p PID] HOST:PORT N [WAIT_MS [SLOW_MS]]
 *   HOST is a numeric IPv4 address (127.0.0.1).  The body and its
 *   signature come from BENCH_BODY and BENCH_SIGNATURE, as for post.lua.
 *   Every connection is opened first (non-blocking), then each sends its
 *   request as soon as it is connected.  The latency of an answer runs
 *   from its connection's connect() to the answer's last byte.  After
 *   WAIT_MS (3000) the connections still unanswered are given up.
 *
 *   -p PID  the busy machine, on demand: the N connections are made
 *           first and left idle for SETTLE_MS, so that the handler (PID)
 *           has accepted them all; then the handler is stopped
 *           (SIGSTOP), every request is sent, and it is continued
 *           (SIGCONT), as when its HTTP threads were off the CPU while
 *           the burst landed.  Latencies then run from the SIGCONT.
 *   Connections are closed with a reset (SO_LINGER 0): no TIME_WAIT is
 *   left behind, so thousands of rounds do not run out of ports.
 *
 * Prints one line:
 *   BURST n=N answered=A errors=E slow=S unanswered=U p50_ms=.. p99_ms=.. max_ms=..
 * where slow counts answers later than SLOW_MS (1000) plus those never
 * given, unanswered those never given (within WAIT_MS), errors the
 * connections refused, reset or answered other than 200.  Exit status: 0
 * when nothing was slow and nothing failed, 1 otherwise, 2 on bad usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE               /* strcasestr */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    ANSWER_MAX = 2048,        /* an answer's bytes kept, headers and body */
    EVENTS = 256,             /* epoll events taken per call */
    SETTLE_MS = 300,          /* -p: connections idle before the requests */
    STOPPED_MS = 20           /* -p: the handler stopped, requests sent */
};

typedef enum {
    C_CONNECTING,   /* connect() under way */
    C_CONNECTED,    /* -p: connected, the request held back */
    C_SENDING,      /* connected: the request goes out */
    C_READING,      /* waiting for the answer */
    C_DONE,         /* answered 200 */
    C_FAILED        /* refused, reset or closed before the answer */
} ConnState;

typedef struct {
    int fd;
    ConnState state;
    int64_t start_ns;         /* when connect() was called (-p: the SIGCONT) */
    int64_t latency_ns;       /* C_DONE: connect() to the last byte */
    size_t sent;
    size_t got;
    char answer[ANSWER_MAX];
} Conn;

static struct {
    struct sockaddr_in addr;
    char request[4096];
    size_t request_len;
    int epfd;
    Conn *conns;
    int n;
    int open;                 /* connections not yet done or failed */
} burst;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The request post.lua sends, from the environment. */
static void request_make(void)
{
    const char *body = getenv("BENCH_BODY");
    const char *sig = getenv("BENCH_SIGNATURE");
    if (!body)
        body = "{\"id\":\"evt_1\",\"amount\":4200}";
    int n = snprintf(burst.request, sizeof burst.request,
                     "POST /hooks/payment HTTP/1.1\r\nHost: %s:%u\r\n"
                     "Content-Type: application/json\r\nX-Signature: %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     inet_ntoa(burst.addr.sin_addr), ntohs(burst.addr.sin_port),
                     sig ? sig : "", strlen(body), body);
    burst.request_len = n > 0 && (size_t)n < sizeof burst.request ? (size_t)n : 0;
}

/* HOST:PORT, numeric IPv4.  0 or -1. */
static int addr_parse(const char *spec)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
    burst.addr.sin_family = AF_INET;
    burst.addr.sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &burst.addr.sin_addr) == 1 ? 0 : -1;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Closes c's socket with a reset: no TIME_WAIT left on either side. */
static void conn_close(Conn *c, ConnState state)
{
    struct linger lg = { 1, 0 };
    if (c->fd >= 0) {
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
    }
    c->fd = -1;
    if (c->state != C_DONE && c->state != C_FAILED)
        burst.open--;
    c->state = state;
}

/* Opens connection i; its request goes when epoll says it is writable. */
static void conn_open(int i)
{
    Conn *c = &burst.conns[i];
    c->state = C_CONNECTING;
    burst.open++;
    c->start_ns = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_close(c, C_FAILED);
        return;
    }
    if (connect(c->fd, (struct sockaddr *)&burst.addr, sizeof burst.addr) < 0
        && errno != EINPROGRESS) {
        conn_close(c, C_FAILED);
        return;
    }
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i };
    if (epoll_ctl(burst.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        conn_close(c, C_FAILED);
}

/* The answer so far is complete: headers and Content-Length bytes.  The
 * buffer stays NUL-terminated (calloc, and one byte never read into). */
static bool answer_complete(const Conn *c)
{
    const char *end = strstr(c->answer, "\r\n\r\n");
    if (!end)
        return false;
    const char *cl = strcasestr(c->answer, "\r\nContent-Length:");
    size_t len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    return c->got >= (size_t)(end - c->answer) + 4 + len;
}

/* Connected: the request goes out, whole or in pieces. */
static void conn_send(Conn *c, int i)
{
    ssize_t n = send(c->fd, burst.request + c->sent, burst.request_len - c->sent,
                     MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN)
            conn_close(c, C_FAILED);
        return;
    }
    c->sent += (size_t)n;
    c->state = C_SENDING;
    if (c->sent == burst.request_len) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(burst.epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->state = C_READING;
    }
}

/* Bytes of the answer; once complete, its latency is taken. */
static void conn_read(Conn *c)
{
    ssize_t n = recv(c->fd, c->answer + c->got, sizeof c->answer - c->got - 1, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        conn_close(c, C_FAILED);
        return;
    }
    c->got += (size_t)n;
    if (!answer_complete(c) && c->got < sizeof c->answer - 1)
        return;
    c->latency_ns = now_ns() - c->start_ns;
    bool ok = strncmp(c->answer, "HTTP/1.1 200 ", 13) == 0;
    conn_close(c, ok ? C_DONE : C_FAILED);
    if (!ok)
        c->latency_ns = -1;
}

static void conn_event(int i, uint32_t events)
{
    Conn *c = &burst.conns[i];
    if (c->state == C_DONE || c->state == C_FAILED)
        return;
    if (c->state != C_READING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        conn_send(c, i);
    if (c->state == C_READING && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_read(c);
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* -p: c is connected (or failed); its request waits. */
static void conn_connected(Conn *c, int i)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        conn_close(c, C_FAILED);
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    epoll_ctl(burst.epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = C_CONNECTED;
}

/* -p: every connection made before any request goes. */
static void connect_all(int64_t deadline_ns)
{
    struct epoll_event ev[EVENTS];
    int waiting = burst.open;
    while (waiting > 0 && now_ns() < deadline_ns) {
        int n = epoll_wait(burst.epfd, ev, EVENTS, 100);
        for (int k = 0; k < n; k++) {
            Conn *c = &burst.conns[ev[k].data.u32];
            if (c->state == C_CONNECTING) {
                conn_connected(c, (int)ev[k].data.u32);
                waiting--;
            }
        }
    }
}

/* -p: the requests land while the handler is stopped. */
static void send_paused(pid_t pid)
{
    nap_ms(SETTLE_MS);
    kill(pid, SIGSTOP);
    nap_ms(STOPPED_MS);          /* every thread of it stopped */
    for (int i = 0; i < burst.n; i++)
        if (burst.conns[i].state == C_CONNECTED)
            conn_send(&burst.conns[i], i);
    nap_ms(STOPPED_MS);
    int64_t t = now_ns();
    for (int i = 0; i < burst.n; i++)
        burst.conns[i].start_ns = t;
    kill(pid, SIGCONT);
}

/* Waits for the answers until all are in or WAIT_MS have passed. */
static void burst_wait(int64_t deadline_ns)
{
    struct epoll_event ev[EVENTS];
    while (burst.open > 0) {
        int64_t left = deadline_ns - now_ns();
        if (left <= 0)
            break;
        int n = epoll_wait(burst.epfd, ev, EVENTS, (int)(left / 1000000) + 1);
        for (int k = 0; k < n; k++)
            conn_event((int)ev[k].data.u32, ev[k].events);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The summary line; returns the exit status. */
static int burst_report(int64_t slow_ns)
{
    int64_t *lat = calloc((size_t)burst.n, sizeof *lat);
    int answered = 0, errors = 0, slow = 0;
    for (int i = 0; i < burst.n; i++) {
        Conn *c = &burst.conns[i];
        if (c->state == C_DONE)
            lat[answered++] = c->latency_ns;
        else if (c->state == C_FAILED)
            errors++;
        if (c->state != C_FAILED && (c->state != C_DONE || c->latency_ns > slow_ns))
            slow++;
        if (c->fd >= 0)
            conn_close(c, c->state);
    }
    qsort(lat, (size_t)answered, sizeof *lat, cmp_i64);
    double p50 = answered ? lat[answered / 2] / 1e6 : -1;
    double p99 = answered ? lat[(answered * 99) / 100] / 1e6 : -1;
    double max = answered ? lat[answered - 1] / 1e6 : -1;
    printf("BURST n=%d answered=%d errors=%d slow=%d unanswered=%d p50_ms=%.1f "
           "p99_ms=%.1f max_ms=%.1f\n", burst.n, answered, errors, slow,
           burst.n - answered - errors, p50, p99, max);
    free(lat);
    return slow || errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    pid_t pause_pid = 0;
    if (argc > 2 && strcmp(argv[1], "-p") == 0) {
        pause_pid = (pid_t)atoi(argv[2]);
        argc -= 2, argv += 2;
    }
    if (argc < 3 || addr_parse(argv[1]) < 0 || atoi(argv[2]) <= 0 || pause_pid < 0) {
        fprintf(stderr, "usage: burst [-p PID] HOST:PORT N [WAIT_MS [SLOW_MS]]\n");
        return 2;
    }
    int64_t wait_ms = argc > 3 ? atol(argv[3]) : 3000;
    int64_t slow_ms = argc > 4 ? atol(argv[4]) : 1000;
    raise_nofile();
    request_make();
    burst.n = atoi(argv[2]);
    burst.conns = calloc((size_t)burst.n, sizeof *burst.conns);
    burst.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!burst.conns || burst.epfd < 0 || !burst.request_len) {
        perror("burst");
        return 2;
    }
    int64_t t0 = now_ns();
    for (int i = 0; i < burst.n; i++)
        conn_open(i);
    if (pause_pid) {
        connect_all(t0 + wait_ms * 1000000);
        send_paused(pause_pid);
        t0 = now_ns();
    }
    burst_wait(t0 + wait_ms * 1000000);
    return burst_report(slow_ms * 1000000);
}
