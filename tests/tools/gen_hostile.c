/* gen_hostile.c - writes the hostile inputs of the robustness suite.
 *
 * Usage: gen_hostile DIR
 *
 * Each file attacks one limit of the loader or the expression parser:
 * emptiness, the wrong top-level type, size (10 MB), nesting (JSON and
 * expression), expression length, bytes that are not UTF-8, NULs escaped
 * and raw.  tests/robust/run knows what flussoc must say about each.  The
 * files are generated rather than stored: they are large, and some of
 * them are not text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A valid workflow around steps: a trigger, then the given step list. */
#define HEAD "{\"flusso\":1,\"name\":\"hostile\",\"trigger\":{\"key\":" \
    "\"trigger\",\"type\":\"webhook_trigger\",\"config\":{\"path\":\"/h\"}},"

static const char *out_dir;

static FILE *open_out(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void close_out(FILE *f)
{
    if (ferror(f) || fclose(f) != 0) {
        perror("gen_hostile: write");
        exit(1);
    }
}

static void write_bytes(const char *name, const char *bytes, size_t len)
{
    FILE *f = open_out(name);
    fwrite(bytes, 1, len, f);
    close_out(f);
}

static void repeat(FILE *f, const char *s, long n)
{
    for (long i = 0; i < n; i++)
        fputs(s, f);
}

/* A workflow whose one log step's message is open, n times unit, mid, n
 * times unit2, close. */
static void write_message(const char *name, const char *open,
                          const char *unit, long n, const char *mid,
                          const char *unit2, const char *close)
{
    FILE *f = open_out(name);
    fputs(HEAD "\"steps\":[{\"key\":\"l\",\"type\":\"log\",\"config\":"
          "{\"message\":\"", f);
    fputs(open, f);
    repeat(f, unit, n);
    fputs(mid, f);
    repeat(f, unit2, n);
    fputs(close, f);
    fputs("\"}}]}\n", f);
    close_out(f);
}

/* A valid 10 MB workflow: one huge description. */
static void write_big_description(void)
{
    FILE *f = open_out("big_description.json");
    fputs("{\"name\":\"big\",\"description\":\"", f);
    repeat(f, "0123456789abcdef", 10L * 1024 * 1024 / 16);
    fputs("\",\"trigger\":{\"key\":\"trigger\",\"type\":\"webhook_trigger\","
          "\"config\":{\"path\":\"/big\"}},\"steps\":[]}\n", f);
    close_out(f);
}

/* A valid 10 MB workflow: 50,000 log steps. */
static void write_many_steps(void)
{
    FILE *f = open_out("many_steps.json");
    fputs(HEAD "\"steps\":[", f);
    for (long i = 0; i < 50000; i++)
        fprintf(f, "%s{\"key\":\"s%ld\",\"type\":\"log\",\"config\":{"
                "\"message\":\"step %ld of a long run: body {{ "
                "trigger.output.body.id }}, run {{ run.id }}, padding the "
                "message to two hundred bytes or so ....................\"}}",
                i ? ",\n" : "", i, i);
    fputs("]}\n", f);
    close_out(f);
}

/* 1,000 logic gates, each in the true branch of the one before. */
static void write_deep_gates(void)
{
    FILE *f = open_out("deep_gates.json");
    fputs(HEAD "\"steps\":[", f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "{\"key\":\"g%d\",\"type\":\"logic_gate\",\"config\":"
                "{\"condition\":\"{{ true }}\"},\"branches\":{\"true\":[", i);
    repeat(f, "]}}", 1000);
    fputs("]}\n", f);
    close_out(f);
}

static void write_bad_bytes(void)
{
    static const char utf8[] = HEAD "\"description\":\"caf\xff\xfe\","
                               "\"steps\":[]}";
    static const char escape[] = HEAD "\"description\":\"a\\u0000b\","
                                 "\"steps\":[]}";
    static const char nul[] = HEAD "\"description\":\"a\0b\",\"steps\":[]}";
    write_bytes("bad_utf8.json", utf8, sizeof utf8 - 1);
    write_bytes("nul_escape.json", escape, sizeof escape - 1);
    write_bytes("nul_byte.json", nul, sizeof nul - 1);
}

static void write_long_key(void)
{
    FILE *f = open_out("long_key.json");
    fputs(HEAD "\"steps\":[],\"", f);
    repeat(f, "k", 1000000);
    fputs("\":1}\n", f);
    close_out(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: gen_hostile DIR\n", stderr);
        return 2;
    }
    out_dir = argv[1];
    write_bytes("empty.json", "", 0);
    write_bytes("array.json", "[1, 2, 3]\n", 10);
    write_big_description();
    write_many_steps();
    write_deep_gates();
    /* 100,000 characters: a flat list (valid), a chain of '+' (too deep) */
    write_message("long_expr.json", "{{ len([",
                  "trigger.output.body.a, ", 4300, "1", "", "]) }}");
    write_message("long_chain.json", "{{ 1", " + 1", 25000, "", "", " }}");
    write_message("deep_parens.json", "{{ ", "(", 50000, "1", ")", " }}");
    write_bad_bytes();
    write_long_key();
    return 0;
}
