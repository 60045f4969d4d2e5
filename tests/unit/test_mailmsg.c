/* test_mailmsg.c - the bytes of an email (run/mailmsg.c): addresses and
 * their header forms, RFC 2047 words within 76 columns, bodies as 7bit or
 * base64 with CRLF line ends. */
#include <stdio.h>
#include <string.h>

#include "run/mailmsg.h"
#include "unit.h"

static FlArena arena;

static const FlValue *str(const char *s)
{
    return fl_string(&arena, s, strlen(s));
}

/* The header form of s, or "!" and the reason. */
static const char *address(const char *s)
{
    MailAddr m;
    const char *why = mail_address(&arena, str(s), &m);
    static char out[256];
    snprintf(out, sizeof out, "%s%s", why ? "!" : "", why ? why : m.header);
    return out;
}

static void test_addresses(void)
{
    fl_arena_init(&arena, NULL, 0);
    CU_ASSERT_STRING_EQUAL(address(" a@b.example "), "a@b.example");
    CU_ASSERT_STRING_EQUAL(address("Shop <shop@example.com>"), "Shop <shop@example.com>");
    CU_ASSERT_STRING_EQUAL(address("Doe, Jane <j@example.com>"), "\"Doe, Jane\" <j@example.com>");
    CU_ASSERT_STRING_EQUAL(address("Zoë <z@example.com>"), "=?UTF-8?B?Wm/Dqw==?= <z@example.com>");
    CU_ASSERT_STRING_EQUAL(address("a@b\r\nBcc: x@y"), "!contains CR or LF");
    CU_ASSERT_STRING_EQUAL(address("no at sign"), "!is not an email address (user@domain)");
    CU_ASSERT_STRING_EQUAL(address("a b@c"), "!has a space or a special character in its address");
    CU_ASSERT_STRING_EQUAL(address("Shop <shop@example.com"), "!has a '<' without a closing '>' at its end");
    fl_arena_destroy(&arena);
}

static const char *message(const char *subject, const char *text, const char *html)
{
    MailParts p = {
        .from = "a@example.com", .to = "b@example.com", .subject = str(subject),
        .text = text ? str(text) : NULL, .html = html ? str(html) : NULL,
        .message_id = "id@example.com", .boundary = "BOUNDARY", .date_ms = 0,
    };
    return mail_message(&arena, &p)->u.s;
}

static void test_message(void)
{
    fl_arena_init(&arena, NULL, 0);
    CU_ASSERT_STRING_EQUAL(message("Hi", "one\ntwo\r\nthree", NULL),
        "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
        "Message-ID: <id@example.com>\r\nFrom: a@example.com\r\n"
        "To: b@example.com\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\none\r\ntwo\r\nthree\r\n");
    const char *m = message("Grüße aus Köln, und noch ein sehr langer Betreff dazu",
                            NULL, "<p>é</p>");
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4sIHVuZCBub2NoIGVpbiBzZWhyIGxh?=\r\n"
                                     " =?UTF-8?B?bmdlciBCZXRyZWZmIGRhenU=?=\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: text/html; charset=utf-8\r\n"
                                     "Content-Transfer-Encoding: base64\r\n\r\nPHA+w6k8L3A+\r\n"));
    for (const char *line = m; *line; line = strstr(line, "\r\n") + 2)
        CU_ASSERT(strstr(line, "\r\n") - line <= 76);
    m = message("x", "t", "h");
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: multipart/alternative; boundary=\"BOUNDARY\"\r\n\r\n"
                                     "--BOUNDARY\r\nContent-Type: text/plain"));
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "\r\nh\r\n--BOUNDARY--\r\n"));
    fl_arena_destroy(&arena);
}

static const UnitTest tests[] = {
    { "addresses", test_addresses },
    { "messages", test_message },
    { NULL, NULL },
};
UNIT_SUITE("mailmsg", tests)
