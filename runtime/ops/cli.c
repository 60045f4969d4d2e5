/* cli.c - fl_main: the handler's command line (spec 6) and its start.
 *
 * Parses the options - a flag wins over FLUSSO_LISTEN, anything unknown is
 * a usage error -, answers --help and --version without looking at the
 * environment, then reads every env.NAME the workflows use once into
 * values (refusing to start, naming each one missing), compiles the
 * `matches` patterns, computes the verify secrets (verify.c), and hands
 * over to the server.  Everything it made is
 * freed before it returns.  Exit status: 0; 2 for bad usage, a missing
 * variable or a failed start. */
#include "ops/cli.h"
#include "http/server.h"
#include "http/verify.h"
#include "run/resume_at.h"
#include "run/recover.h"
#include "run/runmem.h"
#include "ops/limits.h"
#include "ops/log.h"
#include "ops/version.h"

#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>


/* The program fl_main() serves; set once before any thread starts. */
static const FlProgram *program;

static FlValue *env_values;        /* by FlProgram.env_names index */

const FlValue *fl_env(int index)
{
    return &env_values[index];
}

const regex_t *fl_regex(int index)
{
    return &program->regexes[index].compiled;
}

/* ---- options -------------------------------------------------------------- */

static const char *prog_name(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    return slash ? slash + 1 : argv0;
}

static int usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "PROG: message" and a hint; returns the exit status 2. */
static int usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return 2;
}

/* One line per method and path, then the workflow's name and file. */
static void print_endpoint(const char *method, const char *path, const char *what,
                           const char *file)
{
    int n = printf("  %s %s", method, path);
    printf("%*s%s", n < 36 ? 36 - n : 2, "", what);
    if (file)
        printf(" (%s)", file);
    putchar('\n');
}

static void print_workflows(const FlProgram *p)
{
    for (int i = 0; i < p->workflow_count; i++) {
        const FlWorkflow *wf = p->workflows[i];
        for (int m = 0; m < wf->method_count; m++)
            print_endpoint(wf->methods[m], wf->path, wf->name, wf->file);
    }
    print_endpoint("GET", "/healthz", "health check", NULL);
}

static void print_help(const char *prog, const FlProgram *p)
{
    printf("Usage: %s [options]\n\nServes:\n", prog);
    print_workflows(p);
    printf("\nEnvironment variables needed:%s\n", p->env_count ? "" : " none");
    for (int i = 0; i < p->env_count; i++)
        printf("  %s\n", p->env_names[i]);
    printf("\nOptions:\n"
           "  --listen [HOST:]PORT  where to listen (default 127.0.0.1:8080, or\n"
           "                        $FLUSSO_LISTEN); PORT alone binds 127.0.0.1,\n"
           "                        :PORT every interface, [::1]:PORT is IPv6,\n"
           "                        port 0 picks a free one\n"
           "  --workers N           HTTP threads, and as many run workers\n"
           "                        (default: the number of CPUs)\n"
           "  --max-inflight N      runs in flight (asynchronous tails included)\n"
           "                        before new requests get 503 (default %d)\n"
           "  --max-queue N         answered runs whose tail has not finished\n"
           "                        before new requests get 503 (default %d)\n"
           "  --grace-ms N          drain time on SIGTERM/SIGINT (default 10000)\n"
           "  --header-timeout-ms N request line and headers must arrive within\n"
           "                        N ms (default 10000)\n"
           "  --body-timeout-ms N   the body must arrive within N ms of the\n"
           "                        headers (default 60000)\n"
           "  --log-level LEVEL     debug | info | warn | error (default info)\n"
           "  --journal PATH|none   the journal of runs (default: this binary's\n"
           "                        name and .journal, in $STATE_DIRECTORY or\n"
           "                        the working directory)\n"
           "  --runs [--json]       list the journal's pending, failed, stranded and\n"
           "                        abandoned runs (as JSON lines), and stop\n"
           "  --retry RUN_ID...     make failed runs pending again (each resumes at\n"
           "  --retry failed        its failed step, attempt one higher), and stop\n"
           "  --drop RUN_ID...      remove failed, stranded or abandoned runs, and stop\n"
           "  --retry RUN_ID --resume-at STEP_KEY\n"
           "                        resume a stranded or failed run at that step\n"
           "                        of this handler's workflow, and stop\n"
           "  --tls-cert FILE       serve HTTPS with this PEM certificate (chain)\n"
           "  --tls-key FILE        ... and this PEM private key; both are read\n"
           "                        again on SIGHUP\n"
           "  --access-log on|off   a log line per request at info (default on)\n"
           "  --help                this text\n"
           "  --version             the version\n",
           LIM_DEFAULT_INFLIGHT, LIM_DEFAULT_QUEUE);
}

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"). */
static const char *option_value(int argc, char **argv, int *i, size_t name_len)
{
    const char *arg = argv[*i];
    if (arg[name_len] == '=')
        return arg + name_len + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static bool option_is(const char *arg, const char *name, size_t *len)
{
    *len = strlen(name);
    return strncmp(arg, name, *len) == 0 && (arg[*len] == '\0' || arg[*len] == '=');
}

static int parse_workers(const char *s)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    return (errno || *end || end == s || n < 1 || n > 1024) ? -1 : (int)n;
}

/* The options that take a count or a time in ms, with their least value. */
typedef struct {
    const char *name;
    long *field;
    long min;
} NumOption;

enum { NUM_OPTION_MAX = 1000000000 };

/* Whether arg is one of them; *num says which, *len its name's length. */
static bool numeric_option(const char *arg, FlOptions *o, size_t *len, NumOption *num)
{
    const NumOption all[] = {
        { "--max-inflight", &o->max_inflight, 1 },
        { "--max-queue", &o->max_queue, 1 },
        { "--grace-ms", &o->grace_ms, 0 },
        { "--header-timeout-ms", &o->header_timeout_ms, 1 },
        { "--body-timeout-ms", &o->body_timeout_ms, 1 },
    };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (option_is(arg, all[k].name, len)) {
            *num = all[k];
            return true;
        }
    return false;
}

/* Sets num's field from the option's value; 0, or 2 (bad usage). */
static int parse_numeric(int argc, char **argv, int *i, size_t len, const NumOption *num)
{
    const char *prog = prog_name(argv[0]), *v = option_value(argc, argv, i, len);
    char *end;
    if (!v)
        return usage_error(prog, "option '%s' needs a value", num->name);
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < num->min || x > NUM_OPTION_MAX)
        return usage_error(prog, "%s: expected a number from %ld to %d, got '%s'",
                           num->name, num->min, NUM_OPTION_MAX, v);
    *num->field = x;
    return 0;
}

/* --retry or --drop at argv[*i] and the run ids after it (8.1); 0 or 2.
 * The ids are the arguments up to the next option. */
static int parse_command(int argc, char **argv, int *i, FlOptions *o)
{
    const char *prog = prog_name(argv[0]), *arg = argv[*i];
    if (o->admin)
        return usage_error(prog, "%s: one command at a time", arg);
    o->admin = true;
    o->command = (AdminCommand){
        .op = strcmp(arg, "--retry") == 0 ? ADMIN_RETRY : ADMIN_DROP,
        .ids = (const char **)argv + *i + 1,
    };
    while (*i + 1 < argc && argv[*i + 1][0] != '-') {
        ++*i;
        o->command.id_count++;
    }
    if (o->command.id_count == 0)
        return usage_error(prog, "%s needs run ids%s", arg,
                           o->command.op == ADMIN_RETRY ? " (or 'failed')" : "");
    return 0;
}

/* Whether arg is --tls-cert, --tls-key or --access-log (spec 14). */
static bool ops_option(const char *arg, size_t *len)
{
    return option_is(arg, "--tls-cert", len) || option_is(arg, "--tls-key", len)
        || option_is(arg, "--access-log", len);
}

/* Sets the option of ops_option() (its name: n bytes of arg) to v; 0 or 2. */
static int ops_option_set(const char *prog, const char *arg, size_t n, const char *v,
                          FlOptions *o)
{
    if (strncmp(arg, "--tls-cert", n) == 0)
        o->tls_cert = v;
    else if (strncmp(arg, "--tls-key", n) == 0)
        o->tls_key = v;
    else if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0)
        o->access_log = strcmp(v, "on") == 0;
    else
        return usage_error(prog, "--access-log: expected on or off, got '%s'", v);
    return 0;
}

/* Sets one option from argv[*i]; 0, 1 (stop: exit 0), or 2 (bad usage). */
static int parse_option(int argc, char **argv, int *i, FlOptions *o,
                        const FlProgram *p)
{
    const char *prog = prog_name(argv[0]), *arg = argv[*i], *v;
    size_t n;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        print_help(prog, p);
        return 1;
    }
    if (strcmp(arg, "--version") == 0) {
        printf("%s (flusso %s), running with:\n", prog, FLUSSOC_VERSION);
        version_print_libraries(stdout, srv_library_version());
        return 1;
    }
    NumOption num;
    if (numeric_option(arg, o, &n, &num))
        return parse_numeric(argc, argv, i, n, &num);
    if (strcmp(arg, "--runs") == 0) {
        o->runs = true;
        return 0;
    }
    if (strcmp(arg, "--json") == 0) {
        o->json = true;
        return 0;
    }
    if (strcmp(arg, "--retry") == 0 || strcmp(arg, "--drop") == 0)
        return parse_command(argc, argv, i, o);
    if (ops_option(arg, &n)) {
        if (!(v = option_value(argc, argv, i, n)) || !*v)
            return usage_error(prog, "option '%.*s' needs a value", (int)n, arg);
        return ops_option_set(prog, arg, n, v, o);
    }
    if (option_is(arg, "--journal", &n)) {
        if (!(v = option_value(argc, argv, i, n)) || !*v)
            return usage_error(prog, "option '%s' needs a path or 'none'", arg);
        o->journal = v;
        return 0;
    }
    bool listen = option_is(arg, "--listen", &n);
    bool workers = !listen && option_is(arg, "--workers", &n);
    if (!listen && !workers && !option_is(arg, "--log-level", &n))
        return usage_error(prog, "unknown option '%s'", arg);
    if (!(v = option_value(argc, argv, i, n)))
        return usage_error(prog, "option '%s' needs a value", arg);
    int x;
    if (listen) {
        o->listen = v;
    } else if (workers) {
        if ((x = parse_workers(v)) < 0)
            return usage_error(prog, "--workers: expected a number from 1 to 1024, got '%s'", v);
        o->workers = x;
    } else {
        if ((x = log_level_parse(v)) < 0)
            return usage_error(prog, "--log-level: expected debug, info, warn or error, got '%s'", v);
        o->log_level = (FlLogLevel)x;
    }
    return 0;
}

static int parse_options(int argc, char **argv, FlOptions *o, const FlProgram *p)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env_listen = getenv("FLUSSO_LISTEN");
    *o = (FlOptions){
        .listen = env_listen && *env_listen ? env_listen : "127.0.0.1:8080",
        .workers = cpus < 1 ? 1 : cpus > 1024 ? 1024 : (int)cpus,
        .log_level = FL_LOG_INFO,
        .grace_ms = 10000,
        .max_inflight = LIM_DEFAULT_INFLIGHT,
        .max_queue = LIM_DEFAULT_QUEUE,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 60000,
        .access_log = true,
    };
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-')
            return usage_error(prog_name(argv[0]), "unexpected argument '%s'", argv[i]);
        int rc = parse_option(argc, argv, &i, o, p);
        if (rc)
            return rc;
    }
    if (o->json && !o->runs)
        return usage_error(prog_name(argv[0]), "--json goes with --runs");
    if (o->runs && o->admin)
        return usage_error(prog_name(argv[0]), "--runs and %s: one command at a time",
                           o->command.op == ADMIN_RETRY ? "--retry" : "--drop");
    if (!o->tls_cert != !o->tls_key)
        return usage_error(prog_name(argv[0]), "--tls-cert and --tls-key go together");
    return 0;
}

/* ---- environment and patterns ------------------------------------------- */

/* Reads every variable once; names all the missing ones.  0 or 2. */
static int env_load(const FlProgram *p)
{
    int missing = 0;
    env_values = rt_check(calloc((size_t)p->env_count + 1, sizeof *env_values));
    for (int i = 0; i < p->env_count; i++) {
        const char *v = getenv(p->env_names[i]);
        if (!v) {
            fprintf(stderr, "%s%s", missing++ ? ", " : "flusso: missing environment variable(s): ",
                    p->env_names[i]);
            continue;
        }
        size_t n = strlen(v);
        char *copy = rt_check(malloc(n + 1));
        memcpy(copy, v, n + 1);
        env_values[i] = (FlValue)FL_STRING_LEN_LIT(copy, (uint32_t)n);
    }
    if (missing)
        fputs("\n", stderr);
    return missing ? 2 : 0;
}

static void env_free(const FlProgram *p)
{
    for (int i = 0; env_values && i < p->env_count; i++)
        free((void *)env_values[i].u.s);
    free(env_values);
    env_values = NULL;
}

/* Compiles the `matches` patterns; n is how many were (for freeing). */
static int regexes_compile(const FlProgram *p, int *n)
{
    for (*n = 0; *n < p->regex_count; ++*n) {
        FlRegex *r = &p->regexes[*n];
        if (regcomp(&r->compiled, r->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
            fprintf(stderr, "flusso: bad pattern '%s'\n", r->pattern);
            return 2;
        }
    }
    return 0;
}

static void regexes_free(const FlProgram *p, int n)
{
    for (int i = 0; i < n; i++)
        regfree(&p->regexes[i].compiled);
}

int fl_main(int argc, char **argv, const FlProgram *p)
{
    FlOptions o;
    int compiled = 0;
    int rc = resume_at_main(argc, argv, p);    /* 8.4: --resume-at */
    if (rc >= 0)
        return rc;
    rc = parse_options(argc, argv, &o, p);
    if (rc)
        return rc == 1 ? 0 : rc;
    log_min = o.log_level;
    program = p;
    if (o.runs)
        return admin_runs(o.journal, argv[0], o.json);
    if (o.admin)
        return admin_command(o.journal, argv[0], &o.command);
    rc = env_load(p);
    if (rc == 0)
        rc = regexes_compile(p, &compiled);
    if (rc == 0) {
        fl_crypto_init();
        rc = verify_init(p);   /* the verify secrets, once */
        if (rc == 0 && p->db_start)   /* every database, opened and checked */
            rc = p->db_start(p->databases, p->database_count);
        if (rc == 0 && p->email_start && p->email_start() < 0) {
            fprintf(stderr, "flusso: cannot start the SMTP client\n");
            rc = 2;
        }
        if (rc == 0)
            rc = recover_open(p, o.journal, argv[0]);   /* spec 7 */
        if (rc == 0)
            rc = srv_run(p, &o);
        if (p->db_stop)
            p->db_stop();      /* after srv_run's sched_stop */
        if (p->email_stop)
            p->email_stop();
        recover_close();
        runmem_free_all();       /* every thread is gone */
        verify_free();
    }
    regexes_free(p, compiled);
    env_free(p);
    log_close_files();
    return rc;
}
