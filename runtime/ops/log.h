/* ops/log.h - JSON log lines on stderr and `log` step files (log.c). */
#ifndef FLUSSO_LOG_H
#define FLUSSO_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "value/value.h"

extern FlLogLevel log_min;
static inline bool log_enabled(FlLogLevel level)
{
    return level >= log_min;
}

/* The access log's fields of a request (spec 14), in a line at info
 * with event "request". */
typedef struct {
    const char *method;
    const char *path;        /* path_len bytes, without the query */
    size_t path_len;
    int status;
    long long bytes;         /* the answer's body */
    const char *remote_addr; /* NULL: absent */
} LogRequest;

typedef struct {
    const char *run_id;      /* NULL: absent, and so on */
    const char *trace_id;    /* W3C trace id, 32 hex digits */
    const char *workflow;
    const char *step;
    const char *event;
    const char *message;
    size_t message_len;
    long long duration_ms;   /* < 0: absent */
    const LogRequest *request;   /* NULL: not an access log line */
} LogLine;

/* Writes one JSON line to stderr (the caller checked log_enabled()). */
void log_write(FlLogLevel level, const LogLine *line);
/* A line without a run: event and a printf-style message. */
void log_event(FlLogLevel level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends msg (its newlines as \n) and a newline to path in one write.
 * Returns 0, or -1 with errno set. */
int log_append_file(FlArena *a, const char *path, const char *msg, size_t len);
/* Parses "debug" ... "error"; -1 when unknown. */
int log_level_parse(const char *s);
/* Opens the cached `log` step files again (SIGHUP: after logrotate moved
 * them), each under its old descriptor. */
void log_reopen_files(void);
/* Closes the cached `log` step files. */
void log_close_files(void);

#endif
