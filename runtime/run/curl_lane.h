/* run/curl_lane.h - a libcurl multi handle on a thread of its own.
 *
 * The outbound steps that talk a network protocol through libcurl -
 * http_request (outbound.c) and send_email (email.c) - each run their
 * transfers on one lane: any thread submits a job, the lane's thread adds
 * its easy handle to the multi handle and drives every transfer at once,
 * and calls the owner back when one is over.  No run-worker thread waits
 * on the network.  The lane knows nothing of runs: what a job is beyond
 * its easy handle is its owner's (CurlJob is embedded in the owner's call
 * and found again with container_of). */
#ifndef FLUSSO_RUN_CURL_LANE_H
#define FLUSSO_RUN_CURL_LANE_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct CurlJob CurlJob;
struct CurlJob {
    CURL *easy;                 /* set up by the owner; CURLOPT_PRIVATE is
                                   set to the job by curl_lane_submit() */
    CurlJob *prev, *link;       /* the lane's: its queue, then in flight */
};

typedef struct {
    /* The lane's thread, before j's handle joins the multi handle: an
     * attempt begins. */
    void (*begin)(CurlJob *j);
    /* The lane's thread: the attempt is over with rc, and j's handle has
     * left the multi handle (the owner may submit j again, or clean up). */
    void (*end)(CurlJob *j, CURLcode rc);
    /* j will never run: the lane is stopping.  Any thread. */
    void (*abandon)(CurlJob *j);
} CurlLaneOps;

typedef struct {
    const CurlLaneOps *ops;
    pthread_mutex_t lock;       /* guards the queue and stopping */
    CurlJob *queue, *queue_tail;/* submitted, not yet in the multi handle */
    bool stopping, started, global;
    CURLM *multi;
    CurlJob *active;            /* in the multi handle (lane thread only) */
    uint64_t rng;               /* curl_lane_random()'s (lane thread only) */
    pthread_t thread;
} CurlLane;

#define CURL_LANE_INIT(ops_) { .ops = (ops_), .lock = PTHREAD_MUTEX_INITIALIZER }

/* Starts the lane's thread (curl_global_init included); 0 or -1. */
int curl_lane_start(CurlLane *l);
/* Stops it: queued and running jobs are abandoned; then cleans up.  Safe
 * after a failed or no start. */
void curl_lane_stop(CurlLane *l);
/* Queues j (its first attempt or another); any thread.  Once the lane is
 * stopping, j is abandoned at once instead. */
void curl_lane_submit(CurlLane *l, CurlJob *j);
/* 64 random bits for a back-off's jitter (xorshift64, seeded at start);
 * the lane's thread only - its callbacks. */
uint64_t curl_lane_random(CurlLane *l);

#endif
