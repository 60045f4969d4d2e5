/* number.c - numbers printed as JavaScript prints them.
 *
 * Number.prototype.toString prints the shortest decimal that reads back as
 * the same double, in plain notation from 1e-6 up to 1e21 and in exponent
 * notation outside.  printf cannot ask for "shortest", so we find the digits
 * by round trips through glibc's exactly-rounded printf and strtod:
 *
 *   - an integer below 2^53 is its own shortest form (fast path);
 *   - a subnormal number has fewer bits: try 1, 2, ... 17 digits;
 *   - if 15 significant digits read back, the shortest form is them with
 *     trailing zeros removed (15-digit steps are wider than a double's
 *     rounding interval, so no other short decimal can read back);
 *   - else 16 digits, trying the correctly rounded one and its neighbour
 *     (at a power of two the interval is lopsided and only the neighbour
 *     may read back);
 *   - else 17 digits, which always read back.
 *
 * The digits then go into JavaScript's notation.  This file depends on no
 * other runtime file: the compiler links it to print constant bodies. */
#include "flusso.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A decimal 0.D1D2...Dk x 10^n, as ECMA-262 Number::toString names it. */
typedef struct {
    char d[24];     /* the k digits, no leading or trailing zeros */
    int k;
    int n;
} Decimal;

/* Fills `dec` from printf's "%.*e" output "D.DDDDe[+-]XX" for a positive
 * number, dropping trailing zeros. */
static void decimal_from_e(Decimal *dec, const char *s)
{
    int k = 0;
    for (; *s != 'e'; s++)
        if (*s != '.')
            dec->d[k++] = *s;
    while (k > 1 && dec->d[k - 1] == '0')
        k--;
    dec->d[k] = '\0';
    dec->k = k;
    dec->n = atoi(s + 1) + 1;
}

/* The double nearest to the decimal. */
static double strtod_decimal(const Decimal *dec)
{
    char s[48];
    snprintf(s, sizeof s, "0.%se%d", dec->d, dec->n);
    return strtod(s, NULL);
}

/* Whether the decimal reads back as `x`. */
static bool decimal_reads_back(const Decimal *dec, double x)
{
    return strtod_decimal(dec) == x;
}

/* Whether `prec`+1 significant digits, correctly rounded, read back. */
static bool try_digits(Decimal *dec, double x, int prec)
{
    char s[40];
    snprintf(s, sizeof s, "%.*e", prec, x);
    decimal_from_e(dec, s);
    return strtod(s, NULL) == x;
}

/* Sets `dec` to m x 10^q for a 16-digit m. */
static void decimal_set(Decimal *dec, uint64_t m, int q)
{
    int k = snprintf(dec->d, sizeof dec->d, "%llu", (unsigned long long)m);
    while (k > 1 && dec->d[k - 1] == '0')
        k--;
    dec->d[k] = '\0';
    dec->k = k;
    dec->n = q + 16;
}

/* Replaces the 16-digit `dec` (correctly rounded from `x`, not reading
 * back) by its neighbour on the 16-digit grid on the side of `x`. */
static void decimal_step(Decimal *dec, double x)
{
    const uint64_t lo = 1000000000000000ULL, hi = 10 * lo;
    uint64_t m = 0;
    for (int i = 0; i < 16; i++)
        m = m * 10 + (uint64_t)(i < dec->k ? dec->d[i] - '0' : 0);
    int q = dec->n - 16;
    if (strtod_decimal(dec) < x) {
        if (++m == hi) {
            m = lo;
            q++;
        }
    } else if (m == lo) {
        m = hi - 1;
        q--;
    } else {
        m--;
    }
    decimal_set(dec, m, q);
}

/* The shortest decimal that reads back as the positive finite `x`. */
static void shortest(Decimal *dec, double x)
{
    if (x < DBL_MIN) {
        /* Subnormals have fewer bits, so short grids are not safe: take
         * the first precision that reads back. */
        for (int prec = 0; !try_digits(dec, x, prec); prec++)
            continue;
        return;
    }
    if (try_digits(dec, x, 14))
        return;
    if (try_digits(dec, x, 15))
        return;
    Decimal next = *dec;
    decimal_step(&next, x);
    if (next.k <= 16 && decimal_reads_back(&next, x)) {
        *dec = next;
        return;
    }
    try_digits(dec, x, 16);
}

/* Writes the digits of the integer `u` into `out`; returns the length. */
static size_t format_uint(uint64_t u, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static char *put_zeros(char *p, int count)
{
    for (int i = 0; i < count; i++)
        *p++ = '0';
    return p;
}

/* ECMA-262 Number::toString, steps for k digits and exponent n. */
static char *format_decimal(char *p, const Decimal *dec)
{
    int k = dec->k, n = dec->n;
    if (k <= n && n <= 21) {
        memcpy(p, dec->d, (size_t)k);
        return put_zeros(p + k, n - k);
    }
    if (0 < n && n <= 21) {
        memcpy(p, dec->d, (size_t)n);
        p[n] = '.';
        memcpy(p + n + 1, dec->d + n, (size_t)(k - n));
        return p + k + 1;
    }
    if (-6 < n && n <= 0) {
        *p++ = '0';
        *p++ = '.';
        p = put_zeros(p, -n);
        memcpy(p, dec->d, (size_t)k);
        return p + k;
    }
    *p++ = dec->d[0];
    if (k > 1) {
        *p++ = '.';
        memcpy(p, dec->d + 1, (size_t)(k - 1));
        p += k - 1;
    }
    return p + sprintf(p, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
}

size_t fl_number_format(double x, char out[32])
{
    if (!isfinite(x)) {
        memcpy(out, "null", 5);
        return 4;
    }
    char *p = out;
    if (x < 0) {
        *p++ = '-';
        x = -x;
    }
    if (x == 0) {
        p = out;                   /* -0 prints as 0 */
        *p++ = '0';
    } else if (x < 9007199254740992.0 && x == floor(x)) {
        p += format_uint((uint64_t)x, p);
    } else {
        Decimal dec;
        shortest(&dec, x);
        p = format_decimal(p, &dec);
    }
    *p = '\0';
    return (size_t)(p - out);
}
