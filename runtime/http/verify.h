/* http/verify.h - trigger `verify` (verify.c): the signature schemes,
 * keys made once at start. */
#ifndef FLUSSO_VERIFY_H
#define FLUSSO_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "value/value.h"

/* A request header by name (any letter case), or NULL when absent. */
typedef const char *VerifyHeaderFn(void *ctx, const char *name);

/* Computes every workflow's verify secret once (after the environment is
 * read) and keeps its key until verify_free().  0, or 2 after naming the
 * workflow whose secret cannot be a key (empty; not base64 for
 * standard_webhooks) - never printing the secret. */
int verify_init(const FlProgram *p);
void verify_free(void);
/* Whether the request to wf (which has a verify) carries a valid signature
 * on raw, its exact body; a failure is logged with its reason.  Any thread. */
bool verify_request(const FlWorkflow *wf, const FlValue *raw,
                    VerifyHeaderFn *header, void *ctx);
/* The check itself, for tests: NULL when the signature is valid, else a
 * fixed reason ("signature mismatch", ...).  key is borrowed, now_s is the
 * Unix time in seconds. */
const char *verify_check(const FlVerify *v, FlBytes key, const FlValue *raw,
                         VerifyHeaderFn *header, void *ctx, int64_t now_s);

#endif
