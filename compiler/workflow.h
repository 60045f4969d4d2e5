/* workflow.h - the loaded workflow: the tree the checker and the code
 * generator walk.
 *
 * The loader (load.c) builds it from cJSON, checking every structural rule of
 * spec §1 and §3; every value that may hold a template is parsed already.
 * Everything lives in the compilation's arena. */
#ifndef FLUSSOC_WORKFLOW_H
#define FLUSSOC_WORKFLOW_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "expr.h"
#include "flusso_format.h"   /* the format's tables, shared with the runtime */

/* ST_TRIGGER, ST_LOGIC_GATE...: the rows of FL_STEP_TYPES, so a StepType
 * is also the runtime's FlStepType. */
#define ST_ENUM_(c, json, outputs, config) ST_##c,
typedef enum { FL_STEP_TYPES(ST_ENUM_) } StepType;
#undef ST_ENUM_

/* A JSON value from the workflow whose strings are templates (a response
 * body, set values, an http_request body). */
typedef enum {
    TV_NULL, TV_BOOL, TV_NUMBER, TV_TEMPLATE, TV_ARRAY, TV_OBJECT
} TValueKind;

typedef struct TValue TValue;
struct TValue {
    TValueKind kind;
    bool boolean;        /* TV_BOOL */
    double number;       /* TV_NUMBER */
    Template *tmpl;      /* TV_TEMPLATE */
    TValue **items;      /* TV_ARRAY items, TV_OBJECT values */
    const char **keys;   /* TV_OBJECT keys, literal, in document order */
    int count;
    const char *path;    /* JSON path of this value */
};

/* An integer setting that may instead be a template (status_code, ms). */
typedef struct {
    bool is_template;
    long value;          /* when !is_template */
    Template *tmpl;      /* when is_template */
} IntOrTemplate;

/* A named template: a header of a response or request, a set value. */
typedef struct {
    const char *name;
    Template *tmpl;
} NamedTemplate;

/* VS_GITHUB...: the rows of FL_VERIFY_SCHEMES. */
#define VS_ENUM_(c, name) VS_##c,
typedef enum { FL_VERIFY_SCHEMES(VS_ENUM_) } VerifyScheme;
#undef VS_ENUM_

typedef struct {
    VerifyScheme scheme;
    Template *secret;
    long tolerance_s;        /* default 300 */
    const char *header;      /* hmac_sha256 only, lower-cased */
    bool base64;             /* hmac_sha256: encoding "base64" */
    const char *prefix;      /* hmac_sha256: optional, "" when absent */
} VerifyConfig;

/* The trigger's dedupe (spec 8.3). */
typedef struct {
    Template *key;           /* NULL: the verify scheme's delivery id */
    long window_s;           /* default 86400, at most 2592000 */
    const char *path;        /* its JSON path */
} DedupeConfig;

typedef struct {
    const char *path;           /* request path, starts with '/' */
    const char **methods;       /* upper-case, declared order */
    int method_count;
    long response_timeout_ms;   /* default 30000 */
    long max_body_bytes;        /* default 1048576 */
    VerifyConfig *verify;       /* NULL when absent */
    DedupeConfig *dedupe;       /* NULL when absent or false */
} TriggerConfig;

/* COND_EQUALS...: the rows of FL_COND_OPS. */
#define COND_ENUM_(c, name, arity) COND_##c,
typedef enum { FL_COND_OPS(COND_ENUM_) } CondOp;
#undef COND_ENUM_

typedef struct {
    Template *left;
    CondOp op;
    Template *right;         /* NULL for the unary operators */
    const char *pattern;     /* COND_MATCHES: the literal regex */
    const char *path;        /* JSON path of the condition object */
} Condition;

typedef struct {
    Template *condition;     /* the "condition" form, or NULL */
    Condition *conditions;   /* the "conditions" form */
    int condition_count;
    bool match_any;          /* match: "any" */
} GateConfig;

typedef struct {
    IntOrTemplate status;    /* default 200 */
    TValue *body;            /* NULL: empty body */
    const char *content_type;    /* default "application/json" */
    NamedTemplate *headers;
    int header_count;
} ResponseConfig;

typedef struct {
    const char **names;      /* document order */
    TValue **values;
    int count;
} SetConfig;

/* LOG_DEBUG...: the rows of FL_LOG_LEVELS. */
#define LOG_ENUM_(c, name) LOG_##c,
typedef enum { FL_LOG_LEVELS(LOG_ENUM_) } LogLevel;
#undef LOG_ENUM_

typedef struct {
    Template *message;
    LogLevel level;          /* default LOG_INFO */
    const char *file;        /* NULL: the handler's log */
} LogConfig;

typedef struct {
    IntOrTemplate ms;
} DelayConfig;

typedef struct {
    Template *method;        /* NULL: GET */
    Template *url;
    NamedTemplate *headers;
    int header_count;
    TValue *body;            /* NULL when absent */
    long timeout_ms;         /* default 10000 */
    long retries;            /* default 0, at most 100 (spec 8.2) */
    long retry_max_delay_ms; /* default 5000: caps the doubling back-off */
    bool fail_on_status;     /* default true */
    bool follow_redirects;   /* default false */
    long max_response_bytes; /* default 10485760 */
} HttpConfig;

/* A database step (spec §10).  The url is literal text or exactly
 * {{ env.NAME }} (env_name set), never from the request. */
typedef struct {
    Template *url;
    const char *env_name;    /* the NAME of {{ env.NAME }}, or NULL */
    const char *sql;         /* literal, one statement */
    int placeholders;        /* N of $1...$N in sql */
    TValue **params;         /* bound to $1...$N */
    int param_count;
    long timeout_ms;         /* default 10000 */
    long max_rows;           /* default 10000 */
} DatabaseConfig;

/* A send_email step (spec §10): every text a template. */
typedef struct {
    Template **items;
    int count;
} Recipients;

typedef struct {
    Template *smtp_url, *username, *password;   /* the last two may be NULL */
    Template *from, *reply_to, *subject;        /* reply_to may be NULL */
    Template *text, *html;                      /* at least one of them */
    Recipients to, cc, bcc;
    long timeout_ms;         /* default 30000 */
    long retries;            /* default 0 */
    long retry_max_delay_ms; /* default 5000 */
} EmailConfig;

typedef struct Step Step;

typedef struct {
    Step **items;
    int count;
} StepList;

/* switch (spec §10): the value's text picks the first case of that name,
 * else the default list. */
typedef struct {
    Template *value;
    const char **names;      /* case names, document order, unique */
    const char **paths;      /* JSON path of each case's list */
    StepList *cases;         /* by case */
    int count;
    StepList fallback;       /* "default": may be empty */
} SwitchConfig;

/* for_each (spec §10): the body (Step.body) runs once per item. */
typedef struct {
    Template *items;
    long concurrency;        /* default 1, at most 64 */
    long max_items;          /* default 1000, at most 100000 */
} ForEachConfig;

struct Step {
    StepType type;
    const char *key;
    const char *name;        /* display name or NULL */
    bool on_error_continue;
    const char *path;        /* JSON path of the step object */
    int index;               /* 0 for the trigger, then document order */
    union {
        TriggerConfig trigger;
        GateConfig gate;
        ResponseConfig response;
        SetConfig set;
        LogConfig log;
        DelayConfig delay;
        HttpConfig http;
        SwitchConfig sw;
        ForEachConfig loop;
        DatabaseConfig db;
        EmailConfig email;
    } as;
    StepList on_true, on_false;  /* ST_LOGIC_GATE only */
    StepList body;           /* ST_FOR_EACH only: its nested steps */
    int loop;                /* the innermost for_each whose body holds
                                this step (its index), or 0: none */
};

typedef struct {
    const char *file;        /* as given on the command line */
    const char *name;
    const char *description; /* NULL when absent */
    Step *trigger;
    StepList steps;
    Step **all_steps;        /* by index: trigger first, document order */
    int step_count;
    const char **seen_keys;  /* every step key in the file, also those of
                                steps left out of the tree for errors */
    int seen_key_count;
    int64_t shape;           /* FlWorkflow.shape (spec 8.4): a 63-bit FNV-1a
                                of the file's bytes and the step keys in
                                index order; any change changes it */
} Workflow;

/* Loads and structurally checks a workflow from len bytes read from file
 * (need not end in NUL).  Every problem goes to d, which names file.
 * Returns NULL when the bytes are not a JSON object (after reporting why),
 * else the workflow, possibly partial when d has errors: the caller checks
 * diag_error_count() before going on. */
Workflow *workflow_load(Arena *a, Diag *d, const char *file,
                        const char *bytes, size_t len);

/* Calls fn(t, arg) for every template of step s's configuration, in
 * document order; t may be NULL where a setting is absent.  The trigger's
 * verify secret is not among them: it is computed once, at start. */
typedef void (*StepTemplateFn)(const Template *t, void *arg);
void step_each_template(const Step *s, StepTemplateFn fn, void *arg);

/* ---- the format's names (format.c) --------------------------------------
 *
 * From the tables of flusso_format.h, indexed by the enums above. */
typedef struct {
    const char *const *names;
    int count;
} FormatNames;

extern const FormatNames format_step_types;      /* "webhook_trigger"... */
extern const FormatNames format_cond_ops;        /* "equals"... */
extern const FormatNames format_verify_schemes;  /* "github"... */
extern const FormatNames format_log_levels;      /* "debug"... */
extern const FormatNames format_run_fields;      /* "id"... (run.id) */

/* The type's name as written in JSON ("logic_gate"). */
const char *step_type_name(StepType t);
/* The config field names of type t, in the spec's order. */
FormatNames format_config_fields(StepType t);
/* 1 for an operator without "right", else 2. */
int format_cond_arity(CondOp op);

#endif
