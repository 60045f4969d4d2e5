/* ops/metrics.h - the counters behind /metrics (metrics.c). */
#ifndef FLUSSO_METRICS_H
#define FLUSSO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flusso.h"

typedef enum {
    MET_STARTED, MET_FINISHED, MET_FAILED, MET_ABANDONED, MET_RUN_EVENTS
} MetRunEvent;

/* The gauges metrics_render() prints, read by the caller. */
typedef struct {
    long inflight, queued, worker_queue, connections;
    bool draining;
    long failed_kept;        /* 8.1: failed runs in the journal */
} MetGauges;

/* Makes the per-workflow and per-step tables; before it, the counters of
 * runs and steps count nothing. */
void metrics_init(const FlProgram *p);
void metrics_free(void);
/* One answer sent with this status, to a request that reached no
 * workflow (404, /healthz, ...). */
void metrics_request(int status);
/* One answer to a request for wf, took_us after its first line. */
void metrics_answer(const FlWorkflow *wf, int status, int64_t took_us);
/* One journal commit took took_us. */
void metrics_commit(int64_t took_us);
/* A run of wf started or ended (took_us: its duration; ignored for
 * MET_STARTED). */
void metrics_run(const FlWorkflow *wf, MetRunEvent ev, int64_t took_us);
/* 8.3: a repeated delivery of wf was answered from its recorded answer. */
void metrics_duplicate(const FlWorkflow *wf);
/* The run left step index of wf after took_us. */
void metrics_step(const FlWorkflow *wf, int step, int64_t took_us);
/* A connection was cut off for slowness, in its body or its headers. */
void metrics_timeout(bool in_body);
/* The Prometheus text (version 0.0.4); returns new malloc()ed text of
 * *len bytes, the caller frees it. */
char *metrics_render(const MetGauges *g, size_t *len);

#endif
