/* run/backoff.h - the wait between an http_request's or a
 * send_email's attempts (spec 3, 8.2): 100 ms after the first, doubling, capped at retry_max_delay_ms,
 * plus up to 10% jitter.  A function of the attempts made, not a state:
 * a retry resumed from the journal after a restart picks the schedule up
 * where it was. */
#ifndef FLUSSO_BACKOFF_H
#define FLUSSO_BACKOFF_H

#include <stdint.h>

enum {
    BACKOFF_FIRST_MS = 100,         /* after the first attempt */
    BACKOFF_DEFAULT_CAP_MS = 5000   /* retry_max_delay_ms's default */
};

/* The back-off after `attempts` attempts (1 or more) made, before jitter:
 * BACKOFF_FIRST_MS * 2^(attempts-1), at most cap_ms (at least 1). */
int64_t backoff_base_ms(int attempts, int64_t cap_ms);
/* The same plus jitter: random (any 64 bits) picks 0 .. base/10 more. */
int64_t backoff_ms(int attempts, int64_t cap_ms, uint64_t random);

#endif
