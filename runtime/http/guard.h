/* http/guard.h - header and body deadlines for slow clients (guard.c). */
#ifndef FLUSSO_GUARD_H
#define FLUSSO_GUARD_H

typedef struct Guard Guard;
typedef enum { GUARD_NONE, GUARD_HEADERS, GUARD_BODY } GuardPhase;

/* Starts the sweeper thread: connections still in GUARD_HEADERS after
 * header_ms, or in GUARD_BODY after body_ms, are shut down.  0 or -1. */
int guard_start(long header_ms, long body_ms);
void guard_stop(void);
/* A new connection on socket fd, in GUARD_HEADERS from now; returns its
 * guard (new; guard_close() frees it). */
Guard *guard_open(int fd);
/* The connection is closing: called before its descriptor is closed. */
void guard_close(Guard *g);
/* The connection enters phase (its deadline counts from now).  Any
 * thread; g may be NULL. */
void guard_set(Guard *g, GuardPhase phase);
/* Stores the server's per-request state in g and returns the one stored
 * before (NULL if none); g may be NULL.  Only the connection's thread
 * calls it.  libmicrohttpd 0.9.75 sometimes drops a request without its
 * completion callback (a 431 to a client that hung up): the state still
 * stored when the connection closes is the server's to free. */
void *guard_swap_request(Guard *g, void *request);
long guard_connections(void);

#endif
