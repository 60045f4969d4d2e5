/* backoff.c - the wait between an http_request's or a
 * send_email's attempts (see
 * run/backoff.h). */
#include "run/backoff.h"

int64_t backoff_base_ms(int attempts, int64_t cap_ms)
{
    int64_t wait = BACKOFF_FIRST_MS;
    if (cap_ms < 1)
        cap_ms = 1;
    for (int i = 1; i < attempts && wait < cap_ms; i++)
        wait *= 2;                   /* stops at the cap: never overflows */
    return wait < cap_ms ? wait : cap_ms;
}

int64_t backoff_ms(int attempts, int64_t cap_ms, uint64_t random)
{
    int64_t base = backoff_base_ms(attempts, cap_ms);
    return base + (int64_t)(random % (uint64_t)(base / 10 + 1));
}
