/* sched.c - the worker pool and the timer thread.
 *
 * Everything a run waits for ends up here, and no waiting run holds a
 * thread: a fixed pool of workers takes tasks from one FIFO, and a single
 * timer thread sleeps on a condition variable until the earliest timer
 * (or a new, earlier one) is due.  While work keeps coming, the worker
 * that polls the FIFO fires due timers on each look instead, and the
 * timer thread stands by.  A due timer's callback only posts a task or
 * answers a caller.  So the thread count is fixed at start however many
 * runs wait.
 *
 * Timers are kept in a few lanes and a heap.  Most come in the order they
 * fall due - every run of a workflow waits the same delay, every 504
 * deadline is the same time after its request - so a timer due no earlier
 * than the last one of some lane is appended to that lane: arming, firing
 * and cancelling cost O(1).  Only a timer that fits no lane goes to the
 * binary min-heap.  A lane is a ring of (due time, timer) pairs, so
 * finding and taking the due timers reads one array in order and touches
 * no timer: each lives in a run that has waited, cold, and the batch is
 * fired with its timers loaded ahead, their cache misses overlapping.
 * With 100,000 runs in a 1 s delay, a heap alone cost a cache miss per
 * level on every timer fired, a linked list one miss after another.
 *
 * Arming takes no lock.  sched_at() pushes the timer on a lock-free stack
 * that the timer thread moves into the lanes whenever it looks, and takes
 * the lock only to wake that thread for a timer due before it would look
 * again.  The answering threads arm one timer per run that waits, and
 * with the lock they stalled behind the timer thread's batches 1 time in
 * 100 (docs/performance.md).
 *
 * Nothing here knows about runs.  Tasks and timers are intrusive (run.c
 * embeds them in the run, outbound.c in its calls), which keeps the
 * interface to six calls (run/sched.h); the clocks are value/clock.c's. */
#include "run/sched.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static struct {
    pthread_mutex_t lock;
    pthread_cond_t ready;       /* a task was queued, or stopping */
    FlTask *head, *tail;
    long depth;
    int idle;                   /* workers waiting for a task */
    atomic_int polling;         /* of those, looking every POLL_US (0 or 1) */
    int waking;                 /* signalled and not yet awake (0 or 1) */
    bool stopping;
    pthread_t *threads;
    int nthreads;
} work = { .lock = PTHREAD_MUTEX_INITIALIZER,
            .ready = PTHREAD_COND_INITIALIZER };

enum {
    LANES = 4,
    LANE_MIN = 64,              /* slots of a lane's first ring */
    LANE_KEEP = 4096,           /* an empty lane keeps a ring this large */
    FIRE_BATCH = 64,            /* due timers taken per hold of the lock */
    POLLER_GRACE_MS = 10
};

typedef struct {
    int64_t due_ms;
    FlTimer *timer;             /* NULL: cancelled */
} LaneSlot;

/* Timers at positions head..tail-1, in slots[position % cap]; due times
 * never decrease from head on, and the head is never a cancelled one. */
typedef struct {
    LaneSlot *slots;
    size_t cap;                 /* 0 or a power of two */
    uint64_t head, tail;        /* positions; one given back at the tail
                                   (lane_cancel) may be given again */
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

static atomic_bool stopped;     /* after sched_stop(): discard at once */

/* Timers sched_at() armed that are in no lane or heap yet: a stack linked
 * through their next fields, newest first. */
static _Atomic(FlTimer *) arming;

/* The due time of the earliest timer the timer thread knows, which it
 * sleeps for: 0 while it is awake (it will look at the stack before it
 * sleeps again), INT64_MAX when it knows none.  A timer due earlier must
 * wake it. */
static _Atomic int64_t sleeps_for_ms;

static void timers_fire_due(void);

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
        clock_realtime_in(&ts, POLL_US);
        atomic_store_explicit(&work.polling, 1, memory_order_relaxed);
        pthread_cond_timedwait(&work.ready, &work.lock, &ts);
        /* Still the poller while it fires the due timers: what they post
         * wakes nobody, and this worker takes it next. */
        pthread_mutex_unlock(&work.lock);
        timers_fire_due();
        pthread_mutex_lock(&work.lock);
        atomic_store_explicit(&work.polling, 0, memory_order_relaxed);
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
    if (atomic_load(&stopped)) {
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

static LaneSlot *lane_at(const Lane *l, uint64_t pos)
{
    return &l->slots[pos & (l->cap - 1)];
}

static void lane_grow(Lane *l)
{
    size_t cap = l->cap ? 2 * l->cap : LANE_MIN;
    LaneSlot *slots = rt_check(malloc(cap * sizeof *slots));
    for (uint64_t pos = l->head; pos < l->tail; pos++)
        slots[pos & (cap - 1)] = *lane_at(l, pos);
    free(l->slots);
    l->slots = slots;
    l->cap = cap;
}

/* Drops the cancelled timers at the head; an empty lane gives back a
 * large ring (the high water of a burst). */
static void lane_trim(Lane *l)
{
    while (l->head < l->tail && !lane_at(l, l->head)->timer)
        l->head++;
    if (l->head == l->tail && l->cap > LANE_KEEP) {
        free(l->slots);
        l->slots = NULL;
        l->cap = 0;
    }
}

/* Appends t to a lane whose last timer is due no later; false if none. */
static bool lane_append(FlTimer *t)
{
    for (int i = 0; i < LANES; i++) {
        Lane *l = &timers.lanes[i];
        if (l->tail > l->head && lane_at(l, l->tail - 1)->due_ms > t->due_ms)
            continue;
        if (l->tail - l->head == l->cap)
            lane_grow(l);
        *lane_at(l, l->tail) = (LaneSlot){ t->due_ms, t };
        t->lane = i + 1;
        t->slot = l->tail++;
        return true;
    }
    return false;
}

/* Whether t is still in the lane it was put in last (taking a due timer
 * leaves it untouched, so t->lane may be stale). */
static bool lane_holds(const FlTimer *t)
{
    const Lane *l = &timers.lanes[t->lane - 1];
    return t->slot >= l->head && t->slot < l->tail && lane_at(l, t->slot)->timer == t;
}

/* A cancelled timer leaves a hole; holes at either end go at once (a
 * position given back at the tail is checked by lane_holds() like any). */
static void lane_cancel(FlTimer *t)
{
    Lane *l = &timers.lanes[t->lane - 1];
    lane_at(l, t->slot)->timer = NULL;
    t->lane = 0;
    while (l->tail > l->head && !lane_at(l, l->tail - 1)->timer)
        l->tail--;
    lane_trim(l);
}

/* Takes lane i's first timer, without touching it. */
static FlTimer *lane_take(int i)
{
    Lane *l = &timers.lanes[i];
    FlTimer *t = lane_at(l, l->head)->timer;
    l->head++;
    lane_trim(l);
    return t;
}

enum { IN_HEAP = LANES };       /* earliest(): the heap's top */

/* Where the earliest timer of all is: a lane's index, IN_HEAP, or -1 when
 * there is none; *due_ms gets its due time.  Called with the lock held. */
static int earliest(int64_t *due_ms)
{
    int where = timers.len ? IN_HEAP : -1;
    *due_ms = timers.len ? timers.heap[0]->due_ms : INT64_MAX;
    for (int i = 0; i < LANES; i++) {
        const Lane *l = &timers.lanes[i];
        if (l->head < l->tail && lane_at(l, l->head)->due_ms < *due_ms) {
            where = i;
            *due_ms = lane_at(l, l->head)->due_ms;
        }
    }
    return where;
}

/* Takes the earliest timer, where earliest() found it. */
static FlTimer *take_at(int where)
{
    if (where != IN_HEAP)
        return lane_take(where);
    FlTimer *t = timers.heap[0];
    heap_remove(0);
    return t;
}

/* Gives back every lane's ring: they are empty (after sched_stop()). */
static void lanes_free(void)
{
    for (int i = 0; i < LANES; i++) {
        free(timers.lanes[i].slots);
        timers.lanes[i].slots = NULL;
        timers.lanes[i].cap = 0;
    }
}

static bool timer_armed(const FlTimer *t)
{
    return t->heap_index >= 0 || (t->lane && lane_holds(t));
}

/* Puts t in a lane, or the heap if it fits no lane.  Called with the lock
 * held. */
static void timer_insert(FlTimer *t)
{
    if (lane_append(t))
        return;
    t->lane = 0;
    if (timers.len == timers.cap) {
        timers.cap = timers.cap ? 2 * timers.cap : 256;
        timers.heap = rt_check(realloc(timers.heap, timers.cap * sizeof *timers.heap));
    }
    heap_set(timers.len++, t);
    heap_up(timers.len - 1);
}

/* Moves what sched_at() pushed into the lanes and the heap, oldest first
 * (a lane takes a timer only after those due no later).  Called with the
 * lock held. */
static void arming_drain(void)
{
    FlTimer *t = atomic_exchange(&arming, NULL), *oldest = NULL;
    while (t) {
        FlTimer *newer = t->next;
        t->next = oldest;
        oldest = t;
        t = newer;
    }
    while (oldest) {
        FlTimer *next = oldest->next;
        timer_insert(oldest);
        oldest = next;
    }
}

static void discard_timers(void);

void sched_at(FlTimer *t, int64_t due_ms)
{
    t->due_ms = due_ms;
    FlTimer *head = atomic_load_explicit(&arming, memory_order_relaxed);
    do
        t->next = head;
    while (!atomic_compare_exchange_weak(&arming, &head, t));
    /* Both checks come after the push (sequentially consistent): either
     * sched_stop() or the timer thread finds t, or this sees their flag. */
    if (atomic_load(&stopped)) {
        discard_timers();
        return;
    }
    if (due_ms < atomic_load(&sleeps_for_ms)) {
        pthread_mutex_lock(&timers.lock);
        pthread_cond_signal(&timers.changed);
        pthread_mutex_unlock(&timers.lock);
    }
}

bool sched_cancel(FlTimer *t)
{
    pthread_mutex_lock(&timers.lock);
    arming_drain();
    bool armed = timer_armed(t);
    if (armed && t->heap_index >= 0)
        heap_remove((size_t)t->heap_index);
    else if (armed)
        lane_cancel(t);
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
    int n = 0, where;
    int64_t at;
    while (n < FIRE_BATCH && (where = earliest(&at)) >= 0 && at <= now)
        due[n++] = take_at(where);
    return n;
}

/* Fires every timer due by now, a batch per hold of the lock and the
 * batch outside it, so that a sched_cancel() or an early timer's wake-up
 * rarely finds the lock taken. */
static void timers_fire_due(void)
{
    FlTimer *due[FIRE_BATCH];
    int n;
    do {
        pthread_mutex_lock(&timers.lock);
        arming_drain();
        n = timers.stopping ? 0 : take_due(due, clock_ms());
        pthread_mutex_unlock(&timers.lock);
        for (int i = 0; i < n; i++)
            __builtin_prefetch(due[i]);
        for (int i = 0; i < n; i++)
            due[i]->fire(due[i], false);
    } while (n == FIRE_BATCH);
}

/* When the timer thread must look for a timer due at due_ms.  While a
 * worker polls, that worker fires the due timers on each look, and the
 * timer thread only stands by, POLLER_GRACE_MS later, for when it stops:
 * a thread waking every millisecond to fire timers preempted the
 * answering threads as often (docs/performance.md). */
static int64_t timer_looks_at(int64_t due_ms)
{
    return atomic_load_explicit(&work.polling, memory_order_relaxed) > 0
         ? due_ms + POLLER_GRACE_MS : due_ms;
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timers.lock);
    while (!timers.stopping) {
        atomic_store(&sleeps_for_ms, 0);
        arming_drain();
        int64_t due;
        bool any = earliest(&due) >= 0;
        int64_t at = any ? timer_looks_at(due) : INT64_MAX;
        if (any && at <= clock_ms()) {
            pthread_mutex_unlock(&timers.lock);
            timers_fire_due();
            pthread_mutex_lock(&timers.lock);
            continue;
        }
        atomic_store(&sleeps_for_ms, due);
        if (atomic_load(&arming))
            continue;               /* armed meanwhile: sched_at did not wake it */
        if (!any) {
            pthread_cond_wait(&timers.changed, &timers.lock);
        } else {
            struct timespec ts;
            until(&ts, at);
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
    /* A start after sched_stop() (tests, in-process runs) starts afresh. */
    work.stopping = timers.stopping = false;
    work.nthreads = work.waking = 0;
    atomic_store(&stopped, false);
    work.threads = rt_check(calloc((size_t)workers, sizeof *work.threads));
    for (; work.nthreads < workers; work.nthreads++)
        if (pthread_create(&work.threads[work.nthreads], NULL, worker_main, NULL) != 0)
            return -1;
    return timer_start();
}

/* Discards every armed timer, one at a time and without the lock held: a
 * discard callback may cancel another timer. */
static void discard_timers(void)
{
    for (;;) {
        pthread_mutex_lock(&timers.lock);
        arming_drain();
        int64_t due;
        int where = earliest(&due);
        FlTimer *t = where >= 0 ? take_at(where) : NULL;
        if (!t)
            lanes_free();
        pthread_mutex_unlock(&timers.lock);
        if (!t)
            break;
        t->fire(t, true);
    }
}

/* Discards what is left: timers, then tasks. */
static void discard_pending(void)
{
    discard_timers();
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
    atomic_store(&stopped, true);
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
    timers.started = false;
}
