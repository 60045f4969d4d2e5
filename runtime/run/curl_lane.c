/* curl_lane.c - a libcurl multi handle on a thread of its own (see
 * curl_lane.h).
 *
 * The thread takes the queue, starts what it holds, lets libcurl move
 * every transfer, hands the finished ones to their owners, and sleeps in
 * curl_multi_poll() - woken at once by curl_multi_wakeup() when a job is
 * submitted or the lane stops. */
#include "run/curl_lane.h"

#include <signal.h>
#include <stddef.h>
#include <time.h>

enum { POLL_MS = 1000 };          /* idle wake-up; new work wakes it at once */

static void active_add(CurlLane *l, CurlJob *j)
{
    j->prev = NULL;
    j->link = l->active;
    if (l->active)
        l->active->prev = j;
    l->active = j;
}

static void active_unlink(CurlLane *l, CurlJob *j)
{
    if (j->prev)
        j->prev->link = j->link;
    else
        l->active = j->link;
    if (j->link)
        j->link->prev = j->prev;
}

/* The attempt is over: j leaves the multi handle, and its owner hears. */
static void job_end(CurlLane *l, CurlJob *j, CURLcode rc)
{
    active_unlink(l, j);
    curl_multi_remove_handle(l->multi, j->easy);
    l->ops->end(j, rc);
}

static void job_start(CurlLane *l, CurlJob *j)
{
    l->ops->begin(j);
    active_add(l, j);
    if (curl_multi_add_handle(l->multi, j->easy) != CURLM_OK)
        job_end(l, j, CURLE_FAILED_INIT);    /* out of memory: fail, not hang */
}

static void reap(CurlLane *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *j = NULL;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &j);
        job_end(l, (CurlJob *)(void *)j, rc);
    }
}

/* Takes the queue; true while not stopping. */
static bool take_queue(CurlLane *l, CurlJob **q)
{
    pthread_mutex_lock(&l->lock);
    bool running = !l->stopping;
    *q = l->queue;
    l->queue = l->queue_tail = NULL;
    pthread_mutex_unlock(&l->lock);
    return running;
}

/* Stopping: every job still queued or in flight is abandoned. */
static void abandon_all(CurlLane *l, CurlJob *q)
{
    while (q) {
        CurlJob *j = q;
        q = q->link;
        l->ops->abandon(j);
    }
    while (l->active) {
        CurlJob *j = l->active;
        active_unlink(l, j);
        curl_multi_remove_handle(l->multi, j->easy);
        l->ops->abandon(j);
    }
}

static void *lane_main(void *arg)
{
    CurlLane *l = arg;
    CurlJob *q;
    sigset_t all;                     /* signals are the main thread's */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (take_queue(l, &q)) {
        while (q) {
            CurlJob *j = q;
            q = q->link;
            job_start(l, j);
        }
        int running;
        curl_multi_perform(l->multi, &running);
        reap(l);
        curl_multi_poll(l->multi, NULL, 0, POLL_MS, NULL);
    }
    abandon_all(l, q);
    return NULL;
}

void curl_lane_submit(CurlLane *l, CurlJob *j)
{
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, (char *)j);
    pthread_mutex_lock(&l->lock);
    bool stopping = l->stopping;
    if (!stopping) {
        j->link = NULL;
        if (l->queue_tail)
            l->queue_tail->link = j;
        else
            l->queue = j;
        l->queue_tail = j;
        curl_multi_wakeup(l->multi);
    }
    pthread_mutex_unlock(&l->lock);
    if (stopping)
        l->ops->abandon(j);
}

uint64_t curl_lane_random(CurlLane *l)
{
    uint64_t x = l->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return l->rng = x;
}

int curl_lane_start(CurlLane *l)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    l->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ 0x9e3779b97f4a7c15u;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    l->global = true;
    l->multi = curl_multi_init();
    if (!l->multi)
        return -1;
    l->stopping = false;
    if (pthread_create(&l->thread, NULL, lane_main, l) != 0)
        return -1;
    l->started = true;
    return 0;
}

void curl_lane_stop(CurlLane *l)
{
    if (l->started) {
        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        curl_multi_wakeup(l->multi);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    if (l->multi)
        curl_multi_cleanup(l->multi);
    l->multi = NULL;
    if (l->global)
        curl_global_cleanup();
    l->global = false;
}
