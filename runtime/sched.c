/* sched.c - the worker pool and the timer thread.
 *
 * Everything a run waits for ends up here, and no waiting run holds a
 * thread: a fixed pool of workers takes tasks from one FIFO, and a single
 * timer thread sleeps on a condition variable until the earliest timer
 * (or a new, earlier one) is due.  A due timer's callback runs on the
 * timer thread and only posts a task or answers a caller.  So the thread
 * count is fixed at start however many runs wait.
 *
 * Timers are kept in a few lanes and a heap.  Most come in the order they
 * fall due - every run of a workflow waits the same delay, every 504
 * deadline is the same time after its request - so a timer due no earlier
 * than the last one of some lane is appended to that lane, a sorted list:
 * arming, firing and cancelling cost O(1).  Only a timer that fits no lane
 * goes to the binary min-heap.  With 100,000 runs in a 1 s delay, a heap
 * alone cost a cache miss per level on every timer fired (each level
 * touches a timer inside its run): the largest cost on the path.
 *
 * Nothing here knows about runs.  Tasks and timers are intrusive (run.c
 * embeds them), which keeps the interface to six calls: an outbound-HTTP
 * thread (curl multi) will post tasks the same way, and a journal can
 * re-enter recovered runs by posting them at start. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static struct {
    pthread_mutex_t lock;
    pthread_cond_t ready;       /* a task was queued, or stopping */
    FlTask *head, *tail;
    long depth;
    int idle;                   /* workers waiting for a task */
    int polling;                /* of those, looking every POLL_US (0 or 1) */
    int waking;                 /* signalled and not yet awake (0 or 1) */
    bool stopping;
    pthread_t *threads;
    int nthreads;
} work = { .lock = PTHREAD_MUTEX_INITIALIZER,
            .ready = PTHREAD_COND_INITIALIZER };

enum {
    LANES = 4,
    FIRE_BATCH = 64             /* due timers taken per hold of the lock */
};

typedef struct {
    FlTimer *head, *tail;       /* due times never decrease from head on */
} Lane;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;     /* a new earliest timer, or stopping */
    Lane lanes[LANES];
    FlTimer **heap;
    size_t len, cap;
    bool stopping;
    bool started;
    pthread_t thread;
} timers = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool stopped;            /* after sched_stop(): discard at once */

void sched_realtime_in(struct timespec *ts, long us)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += us % 1000000 * 1000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int64_t sched_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the worker pool ---------------------------------------------------
 *
 * Waking a worker is the dearest thing a post can do: the futex call, and
 * in the kernel the wake-up of another CPU, cost the posting thread -
 * the one answering callers - more than a short tail takes to run
 * (1.9 us per request, measured at 256 connections, docs/performance.md).
 * So while work keeps coming, one idle worker polls: it waits with a
 * timeout of POLL_US and takes whatever was queued meanwhile, and a post
 * wakes nobody unless WAKE_DEPTH tasks are waiting.  After POLL_ROUNDS
 * empty looks in a row (a quiet handler) it sleeps until woken, and posts
 * wake a worker again.  A tail may so start up to POLL_US later: it runs
 * after the answer anyway. */
enum {
    POLL_US = 1000,
    POLL_ROUNDS = 100,
    WAKE_DEPTH = 256,
    TAKE_MAX = 16               /* tasks a worker takes per hold of the lock */
};

/* Whether to wake a sleeping worker for what is queued: only when no
 * worker polls (or too much waits for it), and none is waking up already
 * (an awake worker takes every queued task before it waits again; a woken
 * one that finds more queued wakes the next, so a burst still reaches
 * every worker).  Called with the lock held; the caller signals once it
 * has let go of the lock, so that the woken worker does not block on it at
 * once. */
static bool work_wake_one(void)
{
    if (work.waking > 0 || work.idle == 0
        || (work.polling > 0 && work.depth < WAKE_DEPTH))
        return false;
    work.waking++;
    return true;
}

/* An idle worker waits: polling when no other worker does and work came
 * lately, otherwise until woken.  Updates *empty, the polls in a row that
 * found nothing.  Called with the lock held. */
static void work_wait(int *empty)
{
    work.idle++;
    if (work.polling == 0 && *empty < POLL_ROUNDS) {
        struct timespec ts;
        sched_realtime_in(&ts, POLL_US);
        work.polling++;
        pthread_cond_timedwait(&work.ready, &work.lock, &ts);
        work.polling--;
        *empty = work.head ? 0 : *empty + 1;
    } else {
        pthread_cond_wait(&work.ready, &work.lock);
        *empty = 0;
    }
    work.idle--;
    if (work.waking > 0)
        work.waking--;
}

void sched_post(FlTask *t)
{
    pthread_mutex_lock(&work.lock);
    if (stopped) {
        pthread_mutex_unlock(&work.lock);
        t->run(t, true);
        return;
    }
    t->next = NULL;
    if (work.tail)
        work.tail->next = t;
    else
        work.head = t;
    work.tail = t;
    work.depth++;
    bool wake = work_wake_one();
    pthread_mutex_unlock(&work.lock);
    if (wake)
        pthread_cond_signal(&work.ready);
}

/* Takes the first task, or NULL when empty.  Called with the lock held. */
static FlTask *work_pop(void)
{
    FlTask *t = work.head;
    if (t) {
        work.head = t->next;
        if (!work.head)
            work.tail = NULL;
        work.depth--;
    }
    return t;
}

/* Takes up to TAKE_MAX tasks, in order, into taken[]; how many.  Called
 * with the lock held.  Taking a few per hold of the lock keeps the
 * answering threads, which post, from finding it held (each time they do,
 * they sleep on it); taking only a few leaves the rest to another worker. */
static int work_take(FlTask **taken)
{
    int n = 0;
    FlTask *t;
    while (n < TAKE_MAX && (t = work_pop()))
        taken[n++] = t;
    return n;
}

static void *worker_main(void *arg)
{
    FlTask *taken[TAKE_MAX];
    int empty = 0;
    (void)arg;
    pthread_mutex_lock(&work.lock);
    while (!work.stopping) {
        int n = work_take(taken);
        if (n == 0) {
            work_wait(&empty);
            continue;
        }
        bool wake = work.head && work_wake_one();
        pthread_mutex_unlock(&work.lock);
        if (wake)
            pthread_cond_signal(&work.ready);
        for (int i = 0; i < n; i++)
            taken[i]->run(taken[i], false);
        pthread_mutex_lock(&work.lock);
    }
    pthread_mutex_unlock(&work.lock);
    return NULL;
}

long sched_queue_depth(void)
{
    pthread_mutex_lock(&work.lock);
    long n = work.depth;
    pthread_mutex_unlock(&work.lock);
    return n;
}

/* ---- the timer heap ---------------------------------------------------- */

static void heap_set(size_t i, FlTimer *t)
{
    timers.heap[i] = t;
    t->heap_index = (long)i;
}

static void heap_up(size_t i)
{
    FlTimer *t = timers.heap[i];
    while (i > 0 && timers.heap[(i - 1) / 2]->due_ms > t->due_ms) {
        heap_set(i, timers.heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(i, t);
}

static void heap_down(size_t i)
{
    FlTimer *t = timers.heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= timers.len)
            break;
        if (c + 1 < timers.len && timers.heap[c + 1]->due_ms < timers.heap[c]->due_ms)
            c++;
        if (timers.heap[c]->due_ms >= t->due_ms)
            break;
        heap_set(i, timers.heap[c]);
        i = c;
    }
    heap_set(i, t);
}

/* Removes the timer at index i.  Called with the lock held. */
static void heap_remove(size_t i)
{
    FlTimer *gone = timers.heap[i];
    FlTimer *last = timers.heap[--timers.len];
    gone->heap_index = -1;
    if (i == timers.len)
        return;
    heap_set(i, last);
    heap_up(i);
    heap_down((size_t)last->heap_index);
}

/* ---- lanes --------------------------------------------------------------- */

/* Appends t to a lane whose last timer is due no later; false if none. */
static bool lane_append(FlTimer *t)
{
    for (int i = 0; i < LANES; i++) {
        Lane *l = &timers.lanes[i];
        if (l->tail && l->tail->due_ms > t->due_ms)
            continue;
        t->lane = i + 1;
        t->next = NULL;
        t->prev = l->tail;
        if (l->tail)
            l->tail->next = t;
        else
            l->head = t;
        l->tail = t;
        return true;
    }
    return false;
}

static void lane_unlink(FlTimer *t)
{
    Lane *l = &timers.lanes[t->lane - 1];
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    t->lane = 0;
}

/* The earliest timer of all, or NULL.  Called with the lock held. */
static FlTimer *earliest(void)
{
    FlTimer *first = timers.len ? timers.heap[0] : NULL;
    for (int i = 0; i < LANES; i++) {
        FlTimer *h = timers.lanes[i].head;
        if (h && (!first || h->due_ms < first->due_ms))
            first = h;
    }
    return first;
}

/* Takes t out of its lane or the heap.  Called with the lock held. */
static void timer_remove(FlTimer *t)
{
    if (t->lane)
        lane_unlink(t);
    else
        heap_remove((size_t)t->heap_index);
}

void sched_at(FlTimer *t, int64_t due_ms)
{
    pthread_mutex_lock(&timers.lock);
    if (stopped) {
        pthread_mutex_unlock(&timers.lock);
        t->fire(t, true);
        return;
    }
    FlTimer *first = earliest();
    t->due_ms = due_ms;
    if (!lane_append(t)) {
        if (timers.len == timers.cap) {
            timers.cap = timers.cap ? 2 * timers.cap : 256;
            timers.heap = rt_check(realloc(timers.heap, timers.cap * sizeof *timers.heap));
        }
        heap_set(timers.len++, t);
        heap_up(timers.len - 1);
    }
    if (!first || due_ms < first->due_ms)
        pthread_cond_signal(&timers.changed);
    pthread_mutex_unlock(&timers.lock);
}

bool sched_cancel(FlTimer *t)
{
    pthread_mutex_lock(&timers.lock);
    bool armed = t->lane || t->heap_index >= 0;
    if (armed)
        timer_remove(t);
    pthread_mutex_unlock(&timers.lock);
    return armed;
}

static void until(struct timespec *ts, int64_t due_ms)
{
    ts->tv_sec = (time_t)(due_ms / 1000);
    ts->tv_nsec = (long)(due_ms % 1000) * 1000000;
}

/* Takes up to FIRE_BATCH timers due by now into due[]; how many.  Called
 * with the lock held. */
static int take_due(FlTimer **due, int64_t now)
{
    int n = 0;
    FlTimer *t;
    while (n < FIRE_BATCH && (t = earliest()) && t->due_ms <= now) {
        timer_remove(t);
        due[n++] = t;
    }
    return n;
}

/* Fires due timers a batch at a time, outside the lock: arming a timer
 * (on the answering threads, once per run that waits) then rarely finds
 * the lock taken, however many timers fall due together. */
static void *timer_main(void *arg)
{
    FlTimer *due[FIRE_BATCH];
    (void)arg;
    pthread_mutex_lock(&timers.lock);
    while (!timers.stopping) {
        int n = take_due(due, sched_now_ms());
        if (n > 0) {
            pthread_mutex_unlock(&timers.lock);
            for (int i = 0; i < n; i++)
                due[i]->fire(due[i], false);
            pthread_mutex_lock(&timers.lock);
            continue;
        }
        FlTimer *t = earliest();
        if (!t) {
            pthread_cond_wait(&timers.changed, &timers.lock);
        } else {
            struct timespec ts;
            until(&ts, t->due_ms);
            pthread_cond_timedwait(&timers.changed, &timers.lock, &ts);
        }
    }
    pthread_mutex_unlock(&timers.lock);
    return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

static int timer_start(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&timers.changed, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&timers.thread, NULL, timer_main, NULL) != 0)
        return -1;
    timers.started = true;
    return 0;
}

int sched_start(int workers)
{
    work.threads = rt_check(calloc((size_t)workers, sizeof *work.threads));
    for (; work.nthreads < workers; work.nthreads++)
        if (pthread_create(&work.threads[work.nthreads], NULL, worker_main, NULL) != 0)
            return -1;
    return timer_start();
}

/* Discards what is left, one item at a time and without a lock held: a
 * discard callback may cancel another timer. */
static void discard_pending(void)
{
    for (;;) {
        pthread_mutex_lock(&timers.lock);
        FlTimer *t = earliest();
        if (t)
            timer_remove(t);
        pthread_mutex_unlock(&timers.lock);
        if (!t)
            break;
        t->fire(t, true);
    }
    for (;;) {
        pthread_mutex_lock(&work.lock);
        FlTask *t = work_pop();
        pthread_mutex_unlock(&work.lock);
        if (!t)
            break;
        t->run(t, true);
    }
}

void sched_stop(void)
{
    pthread_mutex_lock(&timers.lock);
    timers.stopping = true;
    pthread_cond_broadcast(&timers.changed);
    pthread_mutex_unlock(&timers.lock);
    pthread_mutex_lock(&work.lock);
    work.stopping = true;
    pthread_cond_broadcast(&work.ready);
    pthread_mutex_unlock(&work.lock);
    if (timers.started)
        pthread_join(timers.thread, NULL);
    for (int i = 0; i < work.nthreads; i++)
        pthread_join(work.threads[i], NULL);
    pthread_mutex_lock(&timers.lock);
    pthread_mutex_lock(&work.lock);
    stopped = true;
    pthread_mutex_unlock(&work.lock);
    pthread_mutex_unlock(&timers.lock);
    discard_pending();
    free(work.threads);
    free(timers.heap);
    work.threads = NULL;
    timers.heap = NULL;
    timers.len = timers.cap = 0;
    /* work.ready stays: a thread that queued a task may signal it after
     * letting go of the lock, as late as now. */
    if (timers.started)
        pthread_cond_destroy(&timers.changed);
}
