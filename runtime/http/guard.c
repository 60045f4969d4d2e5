/* guard.c - deadlines for slow clients: headers and body.
 *
 * libmicrohttpd's connection timeout counts idle time, and every byte
 * resets it: a client sending one byte a second keeps a connection (and
 * its memory) forever.  So each connection gets deadlines of our own:
 *
 *   headers  the request line and headers must be complete within
 *            --header-timeout-ms of the connection opening (or of the
 *            previous request on it completing, for keep-alive);
 *   body     the body must be complete within --body-timeout-ms of the
 *            headers.
 *
 * While a run answers (the connection suspended or its answer being
 * sent) no deadline applies: the 504 and libmicrohttpd's idle timeout
 * cover that.  One sweeper thread looks at every open connection a few
 * times a second and shuts down (shutdown(2), not close) the socket of
 * each one past its deadline; libmicrohttpd then sees the peer gone and
 * closes the connection the usual way, completion callbacks included.
 *
 * libmicrohttpd reports a connection closed (MHD_CONNECTION_NOTIFY_CLOSED)
 * before it closes the descriptor, and guard_close() unlinks the entry
 * under the lock the sweeper holds while it shuts sockets down, so the
 * sweeper never touches a descriptor number that was already reused. */
#include "http/guard.h"
#include "ops/log.h"
#include "ops/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

enum { SWEEP_MS = 100 };

struct Guard {
    int fd;
    atomic_int phase;            /* GUARD_NONE, GUARD_HEADERS, GUARD_BODY */
    atomic_llong since_ms;       /* clock_coarse_ms() when the phase began */
    bool cut;                    /* shut down once already */
    void *request;               /* the server's state of the current request */
    Guard *prev, *next;
};

static struct {
    pthread_mutex_t lock;        /* the list, and shutting sockets down */
    pthread_cond_t wake;         /* stopping */
    Guard *head;
    long count;
    long limit_ms[3];            /* by phase; [GUARD_NONE] unused */
    bool stopping, started;
    pthread_t thread;
} gd = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

Guard *guard_open(int fd)
{
    Guard *g = rt_check(calloc(1, sizeof *g));
    g->fd = fd;
    atomic_init(&g->since_ms, clock_coarse_ms());
    atomic_init(&g->phase, GUARD_HEADERS);
    pthread_mutex_lock(&gd.lock);
    g->next = gd.head;
    if (gd.head)
        gd.head->prev = g;
    gd.head = g;
    gd.count++;
    pthread_mutex_unlock(&gd.lock);
    return g;
}

void guard_close(Guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&gd.lock);
    if (g->prev)
        g->prev->next = g->next;
    else
        gd.head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    gd.count--;
    pthread_mutex_unlock(&gd.lock);
    free(g);
}

void guard_set(Guard *g, GuardPhase phase)
{
    if (!g)
        return;
    /* since first: a sweeper that sees the new phase sees its start (a
     * phase without a deadline needs none: no clock read) */
    if (phase != GUARD_NONE)
        atomic_store_explicit(&g->since_ms, clock_coarse_ms(), memory_order_relaxed);
    atomic_store_explicit(&g->phase, (int)phase, memory_order_release);
}

void *guard_swap_request(Guard *g, void *request)
{
    if (!g)
        return NULL;
    void *old = g->request;
    g->request = request;
    return old;
}

long guard_connections(void)
{
    pthread_mutex_lock(&gd.lock);
    long n = gd.count;
    pthread_mutex_unlock(&gd.lock);
    return n;
}

/* Shuts down every connection past its deadline.  Called with the lock. */
static void sweep(int64_t now)
{
    for (Guard *g = gd.head; g; g = g->next) {
        int phase = atomic_load_explicit(&g->phase, memory_order_acquire);
        if (phase == GUARD_NONE || g->cut)
            continue;
        int64_t since = atomic_load_explicit(&g->since_ms, memory_order_relaxed);
        if (now - since <= gd.limit_ms[phase])
            continue;
        g->cut = true;
        shutdown(g->fd, SHUT_RDWR);
        metrics_timeout(phase == GUARD_BODY);
        log_event(FL_LOG_DEBUG, "timeout", "connection closed: %s not complete within %ld ms",
                  phase == GUARD_BODY ? "body" : "headers", gd.limit_ms[phase]);
    }
}

static void *sweeper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gd.lock);
    while (!gd.stopping) {
        struct timespec ts;
        clock_realtime_in(&ts, SWEEP_MS * 1000L);
        pthread_cond_timedwait(&gd.wake, &gd.lock, &ts);
        if (!gd.stopping)
            sweep(clock_coarse_ms());
    }
    pthread_mutex_unlock(&gd.lock);
    return NULL;
}

int guard_start(long header_ms, long body_ms)
{
    gd.limit_ms[GUARD_HEADERS] = header_ms;
    gd.limit_ms[GUARD_BODY] = body_ms;
    gd.stopping = false;
    if (pthread_create(&gd.thread, NULL, sweeper_main, NULL) != 0)
        return -1;
    gd.started = true;
    return 0;
}

void guard_stop(void)
{
    if (!gd.started)
        return;
    pthread_mutex_lock(&gd.lock);
    gd.stopping = true;
    pthread_cond_signal(&gd.wake);
    pthread_mutex_unlock(&gd.lock);
    pthread_join(gd.thread, NULL);
    gd.started = false;
}
