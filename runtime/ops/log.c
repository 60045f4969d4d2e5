/* log.c - the handler's log: JSON lines on stderr, and `log` step files.
 *
 * Each line is one JSON object (spec 6) written with a single write(2), so
 * lines of concurrent runs never interleave, and every field goes through
 * the JSON string printer, so no request or workflow content can forge a
 * line or a field.  Callers test log_enabled() before building anything:
 * a filtered-out event costs one comparison.
 *
 * A `log` step with a file appends to it through a descriptor opened once
 * per path with O_APPEND, where one write per line keeps lines whole.  The
 * table of open files is append-only: readers scan it without a lock, up
 * to a count published with release semantics; only opening takes one. */
#include "ops/log.h"

#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

FlLogLevel log_min = FL_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

/* Writes all of p, retrying short writes and signals. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The text after the time up to the end of the level, by level. */
#define LEVEL_HEAD(name) { "\",\"level\":\"" name "\"", \
                           sizeof("\",\"level\":\"" name "\"") - 1 }
static const struct {
    const char *text;
    size_t len;
} level_heads[] = {
    LEVEL_HEAD("debug"), LEVEL_HEAD("info"), LEVEL_HEAD("warn"), LEVEL_HEAD("error"),
};

/* A field's name as put_field() takes it: ,"name": and its length. */
#define KEY(name) ",\"" name "\":", sizeof(",\"" name "\":") - 1

/* Appends key (from KEY()) and "<s escaped>"; nothing when s is NULL. */
static void put_field(FlBuf *b, const char *key, size_t klen, const char *s,
                      size_t len)
{
    if (!s)
        return;
    FlValue v = FL_STRING_LEN_LIT(s, (uint32_t)len);
    fl_buf_append(b, key, klen);
    fl_buf_append_json(b, &v);
}

static void put_cstr(FlBuf *b, const char *key, size_t klen, const char *s)
{
    put_field(b, key, klen, s, s ? strlen(s) : 0);
}

/* Appends the decimal digits of v (non-negative), as %lld would. */
static void put_count(FlBuf *b, long long v)
{
    char num[24], *p = num + sizeof num;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fl_buf_append(b, p, (size_t)(num + sizeof num - p));
}

/* The access log's fields: method, path, status, bytes, remote_addr. */
static void put_request(FlBuf *b, const LogRequest *r)
{
    put_cstr(b, KEY("method"), r->method);
    put_field(b, KEY("path"), r->path, r->path_len);
    FL_BUF_APPEND_LIT(b, ",\"status\":");
    put_count(b, r->status < 0 ? 0 : r->status);
    FL_BUF_APPEND_LIT(b, ",\"bytes\":");
    put_count(b, r->bytes < 0 ? 0 : r->bytes);
    put_cstr(b, KEY("remote_addr"), r->remote_addr);
}

void log_write(FlLogLevel level, const LogLine *l)
{
    char first[2048], now[25];
    FlArena a;
    FlBuf b;
    fl_arena_init(&a, first, sizeof first);
    fl_buf_init(&b, &a);
    fl_time_rfc3339(now, fl_time_now_ms());
    FL_BUF_APPEND_LIT(&b, "{\"time\":\"");
    fl_buf_append(&b, now, 24);
    fl_buf_append(&b, level_heads[level].text, level_heads[level].len);
    put_cstr(&b, KEY("run_id"), l->run_id);
    put_cstr(&b, KEY("workflow"), l->workflow);
    put_cstr(&b, KEY("step"), l->step);
    put_cstr(&b, KEY("event"), l->event);
    put_field(&b, KEY("message"), l->message, l->message_len);
    if (l->duration_ms >= 0) {
        FL_BUF_APPEND_LIT(&b, ",\"duration_ms\":");
        put_count(&b, l->duration_ms);
    }
    put_cstr(&b, KEY("trace_id"), l->trace_id);    /* last: spec 6's order first */
    if (l->request)
        put_request(&b, l->request);
    FL_BUF_APPEND_LIT(&b, "}\n");
    (void)write_all(STDERR_FILENO, b.data, b.len);
    fl_arena_destroy(&a);
}

void log_event(FlLogLevel level, const char *event, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    LogLine l = { .event = event, .message = msg, .message_len = (size_t)n,
                  .duration_ms = -1 };
    log_write(level, &l);
}

/* ---- `log` step files ------------------------------------------------- */

enum { FILES_MAX = 64 };

static struct {
    const char *path[FILES_MAX];   /* strdup()ed */
    int fd[FILES_MAX];
    atomic_int count;              /* published entries */
    pthread_mutex_t lock;          /* held to append an entry */
} files = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int file_find(const char *path, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(files.path[i], path) == 0)
            return files.fd[i];
    return -1;
}

static int file_open(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* The descriptor for path, opened on first use.  When the table is full,
 * returns a fresh descriptor and sets *temporary (the caller closes it). */
static int file_fd(const char *path, bool *temporary)
{
    *temporary = false;
    int fd = file_find(path, atomic_load_explicit(&files.count,
                                                  memory_order_acquire));
    if (fd >= 0)
        return fd;
    pthread_mutex_lock(&files.lock);
    int n = atomic_load_explicit(&files.count, memory_order_relaxed);
    fd = file_find(path, n);
    if (fd < 0) {
        fd = file_open(path);
        if (fd >= 0 && n < FILES_MAX) {
            files.path[n] = rt_check(strdup(path));
            files.fd[n] = fd;
            atomic_store_explicit(&files.count, n + 1, memory_order_release);
        } else if (fd >= 0) {
            *temporary = true;
        }
    }
    pthread_mutex_unlock(&files.lock);
    return fd;
}

int log_append_file(FlArena *a, const char *path, const char *msg, size_t len)
{
    bool temporary;
    int fd = file_fd(path, &temporary);
    if (fd < 0)
        return -1;
    FlBuf b;
    fl_buf_init(&b, a);
    for (size_t i = 0, from = 0; i <= len; i++) {
        if (i == len || msg[i] == '\n') {
            fl_buf_append(&b, msg + from, i - from);
            if (i < len)
                FL_BUF_APPEND_LIT(&b, "\\n");
            from = i + 1;
        }
    }
    fl_buf_putc(&b, '\n');
    int rc = write_all(fd, b.data, b.len);
    int saved = errno;
    if (temporary)
        close(fd);
    errno = saved;
    return rc;
}

/* Each file is opened anew and the new descriptor put in the old one's
 * place with dup2(), which swaps it atomically: a writer on another
 * thread writes to the old file or the new one, never to a closed
 * descriptor, and the table does not change. */
void log_reopen_files(void)
{
    pthread_mutex_lock(&files.lock);
    int n = atomic_load_explicit(&files.count, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        int fd = file_open(files.path[i]);
        if (fd < 0) {
            log_event(FL_LOG_ERROR, "reopened", "cannot reopen %s: %s", files.path[i],
                      strerror(errno));
            continue;
        }
        (void)dup3(fd, files.fd[i], O_CLOEXEC);
        close(fd);
    }
    pthread_mutex_unlock(&files.lock);
}

void log_close_files(void)
{
    int n = atomic_load(&files.count);
    for (int i = 0; i < n; i++) {
        close(files.fd[i]);
        free((void *)files.path[i]);
    }
    atomic_store(&files.count, 0);
}
