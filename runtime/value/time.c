/* time.c - timestamps and random ids.
 *
 * Times are RFC 3339 in UTC with milliseconds, YYYY-MM-DDTHH:MM:SS.sssZ.
 * They are computed with plain arithmetic (Hinnant's days-to-civil
 * algorithm) rather than gmtime_r(), which takes glibc's time-zone lock.
 * Most calls format the same second as the call before on the same
 * thread (a request's log lines, its run's start), so each thread keeps
 * the text of the last second it formatted and then writes only the
 * milliseconds.
 * UUIDs are version 4 from OpenSSL's RAND_bytes (per-thread generators in
 * OpenSSL 3, so no lock either). */
#include "flusso.h"

#include <openssl/rand.h>
#include <time.h>

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
#define MS_MIN (-62167219200000LL)
#define MS_MAX (253402300799999LL)

/* Writes the `width` low decimal digits of `v` (non-negative) at p. */
static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* The civil date of day `z`, counted from 0000-03-01 (may be negative). */
static void civil(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* Writes "YYYY-MM-DDTHH:MM:SS." for second `sec` counted from 0000-01-01
 * (non-negative). */
static void put_second(char out[20], int64_t sec)
{
    int64_t y, m, d, rem = sec % 86400;
    civil(sec / 86400 - 60, &y, &m, &d);       /* year 0 is a leap year */
    char *p = put_digits(out, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem % 60, 2);
    *p = '.';
}

void fl_time_rfc3339(char out[25], int64_t ms)
{
    static _Thread_local int64_t last_sec = -1;    /* none yet */
    static _Thread_local char last[20];
    ms = ms < MS_MIN ? MS_MIN : ms > MS_MAX ? MS_MAX : ms;
    int64_t t = ms - MS_MIN;                    /* since 0000-01-01, >= 0 */
    if (t / 1000 != last_sec) {
        last_sec = t / 1000;
        put_second(last, last_sec);
    }
    memcpy(out, last, 20);
    put_digits(out + 20, t % 1000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

int fl_uuid_v4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);     /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);     /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[r[i] >> 4];
        *p++ = hex[r[i] & 15];
    }
    *p = '\0';
    return 0;
}

const FlValue *fl_fn_now(FlArena *a)
{
    char s[25];
    fl_time_rfc3339(s, fl_time_now_ms());
    return fl_string(a, s, 24);
}

const FlValue *fl_fn_now_ms(FlArena *a)
{
    return fl_number(a, (double)fl_time_now_ms());
}

const FlValue *fl_fn_uuid(FlArena *a)
{
    char s[37];
    return fl_uuid_v4(s) == 0 ? fl_string(a, s, 36) : &fl_null;
}
