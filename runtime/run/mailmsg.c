/* mailmsg.c - the bytes of an email (mailmsg.h).
 *
 * Headers follow RFC 5322: CRLF line ends, lines folded before 78
 * columns where the standard allows it (between addresses, between
 * encoded words).  Text that is not ASCII - a subject, a display name -
 * becomes RFC 2047 "B" encoded words of UTF-8, each at most 75 characters
 * and never splitting a character.  Bodies are UTF-8: sent as 7bit when
 * they are ASCII with short lines, else base64 in lines of 76; their line
 * ends become CRLF first.  Nothing from a run reaches a header unchecked:
 * CR and LF are refused before any of this runs (email.c). */
#include "run/mailmsg.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

enum {
    FOLD_AT = 78,                /* RFC 5322's advised line length */
    LINE_MAX_7BIT = 998,         /* its hard limit, for 7bit bodies */
    WORD_LINE = 76,              /* RFC 2047: a line with encoded words */
    BASE64_LINE = 76
};

static bool is_ascii_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x7f || (c < 0x20 && c != '\t'))
            return false;
    }
    return true;
}

/* The UTF-8 bytes an encoded word starting at column col may hold: its
 * "=?UTF-8?B?" and "?=" and the base64 of them end by column 76. */
static size_t word_bytes(int col)
{
    int chars = WORD_LINE - col - 12;
    return chars < 8 ? 6 : (size_t)(chars / 4 * 3);
}

/* Appends p as encoded words, folded "\r\n " between them; the first
 * starts at column col. */
static void encode_words(FlBuf *b, const char *p, size_t n, int col)
{
    FlArena *a = b->arena;
    for (size_t at = 0; at < n;) {
        size_t most = word_bytes(at == 0 ? col : 1);
        size_t take = n - at < most ? n - at : most;
        while (take < n - at && take > 0
               && ((unsigned char)p[at + take] & 0xC0) == 0x80)
            take--;                   /* not inside a UTF-8 sequence */
        if (take == 0)
            take = 1;
        if (at > 0)
            FL_BUF_APPEND_LIT(b, "\r\n ");
        const FlValue *w = fl_base64_encode(a, p + at, take);
        FL_BUF_APPEND_LIT(b, "=?UTF-8?B?");
        fl_buf_append(b, w->u.s, w->len);
        FL_BUF_APPEND_LIT(b, "?=");
        at += take;
    }
}

/* A display name: as it is, quoted when it holds specials, or encoded. */
static void append_display(FlBuf *b, const char *p, size_t n)
{
    if (!is_ascii_text(p, n)) {
        encode_words(b, p, n, 1);
        return;
    }
    if (strcspn(p, "()<>[]:;@\\,.\"") >= n) {
        fl_buf_append(b, p, n);
        return;
    }
    fl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            fl_buf_putc(b, '\\');
        fl_buf_putc(b, p[i]);
    }
    fl_buf_putc(b, '"');
}

static bool addr_char_ok(char c)
{
    return c > ' ' && c < 0x7f && !strchr("<>()[]\\,;:\"", c);
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

const char *mail_address(FlArena *a, const FlValue *v, MailAddr *out)
{
    if (v->type != FL_STRING)
        return "is not text";
    const char *p = v->u.s, *addr = p;
    size_t n = v->len, alen = n, dlen = 0;
    if (memchr(p, '\r', n) || memchr(p, '\n', n))
        return "contains CR or LF";
    if (memchr(p, '\0', n))
        return "contains a NUL byte";
    trim(&p, &n);
    const char *lt = memchr(p, '<', n);
    addr = p;
    alen = n;
    if (lt) {
        if (n == 0 || p[n - 1] != '>')
            return "has a '<' without a closing '>' at its end";
        dlen = (size_t)(lt - p);
        addr = lt + 1;
        alen = n - dlen - 2;
        trim(&p, &dlen);
    }
    const char *at = memchr(addr, '@', alen);
    if (!at || at == addr || at == addr + alen - 1)
        return "is not an email address (user@domain)";
    for (size_t i = 0; i < alen; i++)
        if (!addr_char_ok(addr[i]))
            return "has a space or a special character in its address";
    out->addr = fl_string(a, addr, alen)->u.s;
    if (dlen == 0) {
        out->header = out->addr;
        return NULL;
    }
    FlBuf b;
    fl_buf_init(&b, a);
    append_display(&b, p, dlen);
    FL_BUF_APPEND_LIT(&b, " <");
    fl_buf_append(&b, addr, alen);
    fl_buf_putc(&b, '>');
    out->header = fl_buf_finish(&b)->u.s;
    return NULL;
}

void mail_join_address(FlBuf *b, const char *header, int *col, bool first)
{
    int len = (int)strlen(header);
    if (!first) {
        fl_buf_putc(b, ',');
        if (*col + 2 + len > FOLD_AT) {
            FL_BUF_APPEND_LIT(b, "\r\n");
            *col = 0;
        }
        fl_buf_putc(b, ' ');
        *col += 2;
    }
    fl_buf_append(b, header, (size_t)len);
    *col += len;
}

static void header(FlBuf *b, const char *name, const char *value)
{
    if (!value)
        return;
    fl_buf_append(b, name, strlen(name));
    FL_BUF_APPEND_LIT(b, ": ");
    fl_buf_append(b, value, strlen(value));
    FL_BUF_APPEND_LIT(b, "\r\n");
}

/* Date: in RFC 5322's form, in UTC. */
static void date_header(FlBuf *b, int64_t ms)
{
    static const char days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[64];
    snprintf(s, sizeof s, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    fl_buf_append(b, s, strlen(s));
}

static void subject_header(FlBuf *b, const FlValue *s)
{
    FL_BUF_APPEND_LIT(b, "Subject: ");
    if (is_ascii_text(s->u.s, s->len) && s->len < LINE_MAX_7BIT - 9)
        fl_buf_append(b, s->u.s, s->len);
    else
        encode_words(b, s->u.s, s->len, 9);   /* after "Subject: " */
    FL_BUF_APPEND_LIT(b, "\r\n");
}

/* The text with every line end as CRLF, and whether it may go as 7bit. */
static const FlValue *crlf_text(FlArena *a, const FlValue *v, bool *seven_bit)
{
    FlBuf b;
    fl_buf_init(&b, a);
    size_t line = 0;
    *seven_bit = true;
    for (uint32_t i = 0; i < v->len; i++) {
        char c = v->u.s[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < v->len && v->u.s[i + 1] == '\n')
                i++;
            FL_BUF_APPEND_LIT(&b, "\r\n");
            line = 0;
            continue;
        }
        if ((unsigned char)c >= 0x80 || c == '\0' || ++line > LINE_MAX_7BIT)
            *seven_bit = false;
        fl_buf_putc(&b, c);
    }
    return fl_buf_finish(&b);
}

/* One body: its content headers, a blank line, and its bytes. */
static void body_part(FlBuf *b, const char *type, const FlValue *v)
{
    bool seven_bit;
    const FlValue *text = crlf_text(b->arena, v, &seven_bit);
    FL_BUF_APPEND_LIT(b, "Content-Type: ");
    fl_buf_append(b, type, strlen(type));
    FL_BUF_APPEND_LIT(b, "; charset=utf-8\r\nContent-Transfer-Encoding: ");
    if (seven_bit) {
        FL_BUF_APPEND_LIT(b, "7bit\r\n\r\n");
        fl_buf_append(b, text->u.s, text->len);
        if (text->len < 2 || memcmp(text->u.s + text->len - 2, "\r\n", 2) != 0)
            FL_BUF_APPEND_LIT(b, "\r\n");
        return;
    }
    FL_BUF_APPEND_LIT(b, "base64\r\n\r\n");
    const FlValue *enc = fl_base64_encode(b->arena, text->u.s, text->len);
    for (uint32_t at = 0; at < enc->len; at += BASE64_LINE) {
        uint32_t n = enc->len - at < BASE64_LINE ? enc->len - at : BASE64_LINE;
        fl_buf_append(b, enc->u.s + at, n);
        FL_BUF_APPEND_LIT(b, "\r\n");
    }
}

static void multipart(FlBuf *b, const MailParts *p)
{
    size_t blen = strlen(p->boundary);
    FL_BUF_APPEND_LIT(b, "Content-Type: multipart/alternative; boundary=\"");
    fl_buf_append(b, p->boundary, blen);
    FL_BUF_APPEND_LIT(b, "\"\r\n\r\n");
    const FlValue *parts[] = { p->text, p->html };
    const char *types[] = { "text/plain", "text/html" };
    for (int i = 0; i < 2; i++) {
        FL_BUF_APPEND_LIT(b, "--");
        fl_buf_append(b, p->boundary, blen);
        FL_BUF_APPEND_LIT(b, "\r\n");
        body_part(b, types[i], parts[i]);
    }
    FL_BUF_APPEND_LIT(b, "--");
    fl_buf_append(b, p->boundary, blen);
    FL_BUF_APPEND_LIT(b, "--\r\n");
}

const FlValue *mail_message(FlArena *a, const MailParts *p)
{
    FlBuf b;
    fl_buf_init(&b, a);
    date_header(&b, p->date_ms);
    FL_BUF_APPEND_LIT(&b, "Message-ID: <");
    fl_buf_append(&b, p->message_id, strlen(p->message_id));
    FL_BUF_APPEND_LIT(&b, ">\r\n");
    header(&b, "From", p->from);
    header(&b, "To", p->to);
    header(&b, "Cc", p->cc);
    header(&b, "Reply-To", p->reply_to);
    subject_header(&b, p->subject);
    FL_BUF_APPEND_LIT(&b, "MIME-Version: 1.0\r\n");
    if (p->text && p->html)
        multipart(&b, p);
    else if (p->text)
        body_part(&b, "text/plain", p->text);
    else
        body_part(&b, "text/html", p->html);
    return fl_buf_finish(&b);
}
