/* format.c - the workflow format's names as the compiler's stages use
 * them: the X-macro tables of runtime/flusso_format.h expanded once, in
 * the order of the enums workflow.h makes from the same tables. */
#include "workflow.h"

#define STRING_(name) #name,
#define STEP_NAME_(c, json, outputs, config) #json,
#define COND_NAME_(c, name, arity) #name,
#define COND_ARITY_(c, name, arity) arity,
#define NAME_(c, name) #name,

static const char *const step_types[] = { FL_STEP_TYPES(STEP_NAME_) };
static const char *const cond_ops[] = { FL_COND_OPS(COND_NAME_) };
static const int cond_arity[] = { FL_COND_OPS(COND_ARITY_) };
static const char *const verify_schemes[] = { FL_VERIFY_SCHEMES(NAME_) };
static const char *const log_levels[] = { FL_LOG_LEVELS(NAME_) };
static const char *const run_fields[] = { FL_RUN_FIELDS(STRING_) };

const FormatNames format_step_types = { step_types, COUNT(step_types) };
const FormatNames format_cond_ops = { cond_ops, COUNT(cond_ops) };
const FormatNames format_verify_schemes = { verify_schemes, COUNT(verify_schemes) };
const FormatNames format_log_levels = { log_levels, COUNT(log_levels) };
const FormatNames format_run_fields = { run_fields, COUNT(run_fields) };

/* Each type's config fields: <json>_config[]. */
#define CONFIG_NAME_(name, kind) #name,
#define CONFIG_ARRAY_(c, json, outputs, config)                              \
    static const char *const json##_config[] = { config(CONFIG_NAME_) };
FL_STEP_TYPES(CONFIG_ARRAY_)

#define CONFIG_ROW_(c, json, outputs, config)                                \
    [ST_##c] = { json##_config, COUNT(json##_config) },
static const FormatNames config_fields[] = { FL_STEP_TYPES(CONFIG_ROW_) };

const char *step_type_name(StepType t)
{
    return step_types[t];
}

FormatNames format_config_fields(StepType t)
{
    return config_fields[t];
}

int format_cond_arity(CondOp op)
{
    return cond_arity[op];
}
