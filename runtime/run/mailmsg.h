/* run/mailmsg.h - an email as the bytes SMTP sends (mailmsg.c): RFC 5322
 * headers, RFC 2047 encoded words, MIME bodies.  Pure functions over the
 * run's arena; email.c sends what they make. */
#ifndef FLUSSO_MAILMSG_H
#define FLUSSO_MAILMSG_H

#include <stdint.h>
#include "flusso.h"

/* An address as a header shows it and as the envelope names it. */
typedef struct {
    const char *header;          /* "Name <a@b>", "\"A, B\" <a@b>", "a@b" */
    const char *addr;            /* "a@b" */
} MailAddr;

/* Reads "Name <a@b>" or "a@b" from v (a string).  Returns NULL, or why
 * not (static text): CR or LF, no '@', spaces or specials in the
 * address.  Display names outside ASCII are RFC 2047 encoded. */
const char *mail_address(FlArena *a, const FlValue *v, MailAddr *out);

typedef struct {
    const char *from;            /* header forms */
    const char *to, *cc;         /* joined, NULL when none */
    const char *reply_to;
    const FlValue *subject;      /* raw text, checked for CR/LF already */
    const FlValue *text, *html;  /* NULL when absent */
    const char *message_id;      /* without angle brackets */
    const char *boundary;        /* for multipart/alternative */
    int64_t date_ms;             /* the Date header, wall clock */
} MailParts;

/* The whole message, CRLF line ends, as a string value in a. */
const FlValue *mail_message(FlArena *a, const MailParts *p);

/* Appends header `name`'s value list: the addresses' header forms joined
 * with ", ", folded before a line passes 78 columns.  *col is the column
 * where it starts and is updated. */
void mail_join_address(FlBuf *b, const char *header, int *col, bool first);

#endif
