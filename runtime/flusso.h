/* flusso.h - the one header generated handlers include.
 *
 * The runtime library (libflusso.a) that every handler links.  This header
 * is organised in sections:
 *
 *   1. Values   - the JSON value model, the per-run arena, text and JSON,
 *                 the operators and built-ins of the expression language,
 *                 the `conditions` operators, crypto and time helpers.
 *   2. Runs     - what generated code calls: the step-function protocol,
 *                 the workflow tables, fl_main() and the step helpers.
 *
 * Everything the runtime exports starts with `fl_` (functions, objects) or
 * `FL_` (macros, enum constants); types are `Fl` CamelCase. */
#ifndef FLUSSO_H
#define FLUSSO_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flusso_format.h"   /* the format's tables: FlStepType and more */

/* ==========================================================================
 * 1. Values
 * ==========================================================================
 *
 * A value is an immutable JSON value handled as `const FlValue *`.  Every
 * function here takes and returns non-NULL pointers: JSON null is &fl_null,
 * never a NULL pointer (the exceptions, which say so, return NULL for
 * invalid input: fl_json_parse(), fl_base64_decode()).  Values made at run time live in the run's arena
 * and die with it; constants in generated code are static (FL_*_LIT below)
 * and cost no allocation.  Since values never change, sharing is free: a
 * value may point into another one (substrings, array items) or into
 * static data, and nothing is ever copied just to be safe.
 *
 * Numbers are doubles and always finite: an operation whose result would be
 * NaN or infinite yields null.  Strings are (pointer, length) byte strings,
 * may contain NUL and are not necessarily NUL-terminated.
 *
 * Numbers are printed and read with printf/strtod, so the handler must keep
 * LC_NUMERIC at "C" (never call setlocale(LC_ALL, "")). */

/* ---- Arena ---------------------------------------------------------------
 *
 * One bump allocator per run, used by one thread at a time (no locks).  The
 * fields are public only so the arena can be embedded in a struct and the
 * fast path of fl_arena_alloc() inlined; treat them as private.
 *
 * Out of memory: the runtime prints "flusso: out of memory" to stderr and
 * aborts.  Input sizes are bounded before they reach the arena (the
 * trigger's max_body_bytes, http_request's max_response_bytes), so running
 * out means the machine is overloaded, not that a request was hostile. */
typedef struct FlArenaBlock FlArenaBlock;

typedef struct FlArena {
    char *ptr;             /* next free byte of the current block, 8-aligned */
    char *end;             /* end of the current block, 8-aligned */
    FlArenaBlock *blocks;  /* malloc()ed blocks, newest first */
    size_t next_size;      /* size of the next block to malloc() */
    char *first;           /* the caller's initial buffer (may be NULL) */
    size_t first_size;
} FlArena;

/* Sets up `a`.  `first` (may be NULL) is a caller-owned buffer of `size`
 * bytes used before any malloc() - embed one in the run's struct and small
 * runs never touch the heap.  It must outlive the arena. */
void fl_arena_init(FlArena *a, void *first, size_t size);
/* Frees every block the arena malloc()ed (not the caller's first buffer).
 * Every value allocated from it is invalid afterwards. */
void fl_arena_destroy(FlArena *a);
/* Frees everything like fl_arena_destroy() and makes `a` ready for reuse
 * from its first buffer again. */
void fl_arena_reset(FlArena *a);
/* Slow path of fl_arena_alloc(); not for direct use. */
void *fl_arena_alloc_slow(FlArena *a, size_t n);
/* Grows `p`, the most recent allocation (of `old_size` bytes), in place to
 * `new_size` bytes.  Returns false, changing nothing, when `p` is not at the
 * top of the current block or the block has no room. */
bool fl_arena_extend(FlArena *a, void *p, size_t old_size, size_t new_size);
/* Gives back the tail of `p`, the most recent allocation, beyond
 * `used` bytes.  Does nothing when `p` is not at the top. */
void fl_arena_trim(FlArena *a, void *p, size_t size, size_t used);

/* Returns `n` bytes aligned to 8, uninitialised, valid until the arena is
 * reset or destroyed.  Never returns NULL. */
static inline void *fl_arena_alloc(FlArena *a, size_t n)
{
    /* n - 1 wraps for n == 0, sending it to the slow path: never NULL. */
    if (n - 1 < (size_t)(a->end - a->ptr)) {
        void *p = a->ptr;
        a->ptr += (n + 7) & ~(size_t)7;
        return p;
    }
    return fl_arena_alloc_slow(a, n);
}

/* ---- The value model ---------------------------------------------------- */
typedef enum {
    FL_NULL,     /* JSON null; the zero value */
    FL_BOOL,     /* u.b */
    FL_NUMBER,   /* u.n, always finite */
    FL_STRING,   /* u.s, len bytes */
    FL_ARRAY,    /* u.items, len values */
    FL_OBJECT    /* u.members, len members in insertion order */
} FlType;

typedef struct FlValue FlValue;
typedef struct FlMember FlMember;

struct FlValue {
    FlType type;
    uint32_t len;                 /* string bytes, array items, members */
    union {
        bool b;
        double n;
        const char *s;
        const FlValue *items;     /* values stored inline, not pointers */
        const FlMember *members;
    } u;
};

/* An object member.  Objects may hold a key twice (parsed JSON can); a
 * lookup then finds the first. */
struct FlMember {
    const char *key;
    uint32_t klen;
    FlValue value;
};

/* Strings, arrays and objects hold at most FL_LEN_MAX bytes or items; an
 * operation that would make a longer one yields null. */
#define FL_LEN_MAX UINT32_MAX

extern const FlValue fl_null, fl_true, fl_false;
extern const FlValue fl_empty_string;

/* Static constants, for generated code (no allocation, no run time):
 *
 *   static const FlValue k1 = FL_STRING_LIT("abc");
 *   static const FlValue k2 = FL_NUMBER_LIT(0.5);
 *   static const FlValue k3_items[] = { FL_NUMBER_LIT(1), FL_STRING_LIT("x") };
 *   static const FlValue k3 = FL_ARRAY_LIT(k3_items);
 *   static const FlMember k4_members[] = {
 *       FL_MEMBER("ok", FL_BOOL_LIT(true)), FL_MEMBER("list", FL_ARRAY_LIT(k3_items)),
 *   };
 *   static const FlValue k4 = FL_OBJECT_LIT(k4_members);
 *
 * FL_STRING_LIT and FL_MEMBER take string literals (which may contain \0
 * escapes: the length comes from sizeof, not strlen).  C has no empty
 * arrays, so empty containers have their own macros. */
#define FL_NULL_LIT              { .type = FL_NULL }
#define FL_BOOL_LIT(b_)          { .type = FL_BOOL, .u = { .b = (b_) } }
#define FL_NUMBER_LIT(n_)        { .type = FL_NUMBER, .u = { .n = (n_) } }
#define FL_STRING_LIT(lit_)      FL_STRING_LEN_LIT(lit_, sizeof(lit_) - 1)
#define FL_STRING_LEN_LIT(s_, len_) { .type = FL_STRING, .len = (len_), .u = { .s = (s_) } }
#define FL_ARRAY_LIT(items_)     { .type = FL_ARRAY, \
        .len = sizeof(items_) / sizeof((items_)[0]), .u = { .items = (items_) } }
#define FL_OBJECT_LIT(members_)  { .type = FL_OBJECT, \
        .len = sizeof(members_) / sizeof((members_)[0]), .u = { .members = (members_) } }
#define FL_EMPTY_ARRAY_LIT       { .type = FL_ARRAY }
#define FL_EMPTY_OBJECT_LIT      { .type = FL_OBJECT }
#define FL_MEMBER(lit_, value_)  { .key = (lit_), .klen = sizeof(lit_) - 1, .value = value_ }

/* ---- Constructors ------------------------------------------------------- */

/* A string holding a copy of `len` bytes at `p` (plus a NUL after them, so
 * a copy can be passed to C APIs).  Null when len > FL_LEN_MAX. */
const FlValue *fl_string(FlArena *a, const char *p, size_t len);
/* A string pointing at `p` without copying: the bytes must stay unchanged
 * for as long as the value is used (static data, the run's arena, the
 * request body held by the run).  Null when len > FL_LEN_MAX. */
const FlValue *fl_string_ref(FlArena *a, const char *p, size_t len);
/* A number; null when `n` is NaN or infinite. */
const FlValue *fl_number(FlArena *a, double n);
/* &fl_true or &fl_false; allocates nothing. */
static inline const FlValue *fl_bool(bool b)
{
    return b ? &fl_true : &fl_false;
}
/* An array of copies of the n values `items` point to (a shallow copy:
 * values are immutable, so their contents are shared). */
const FlValue *fl_array_of(FlArena *a, const FlValue *const *items, size_t n);

/* An object of the n members keys[i] -> *values[i], in order; the keys are
 * NUL-terminated and borrowed (literals in generated code).  A key given
 * twice keeps its first position and its last value, as in JavaScript. */
const FlValue *fl_object_of(FlArena *a, const char *const *keys,
                            const FlValue *const *values, size_t n);

/* Builds an array of unknown length:
 *     FlArrayBuilder ab; fl_array_init(&ab, arena, 0);
 *     fl_array_append(&ab, v); ...; const FlValue *arr = fl_array_finish(&ab);
 * `hint` is the expected length (0 when unknown). */
typedef struct {
    FlArena *arena;
    FlValue *items;
    size_t len, cap;
} FlArrayBuilder;
void fl_array_init(FlArrayBuilder *ab, FlArena *a, size_t hint);
void fl_array_append(FlArrayBuilder *ab, const FlValue *v);
/* Returns the array (null if over FL_LEN_MAX items); `ab` is spent. */
const FlValue *fl_array_finish(FlArrayBuilder *ab);

/* Builds an object, keys in insertion order.  The key bytes are borrowed
 * (not copied): they must live as long as the object - use literals, or
 * bytes in the run's arena. */
typedef struct {
    FlArena *arena;
    FlMember *members;
    size_t len, cap;
} FlObjectBuilder;
void fl_object_init(FlObjectBuilder *ob, FlArena *a, size_t hint);
/* Appends key -> value without looking for the key: for keys known to be
 * distinct (a workflow's literal keys).  With a duplicate, lookups find the
 * first. */
void fl_object_add(FlObjectBuilder *ob, const char *key, size_t klen,
                   const FlValue *v);
/* Replaces the value of `key` when present (keeping its position), appends
 * it otherwise. */
void fl_object_set(FlObjectBuilder *ob, const char *key, size_t klen,
                   const FlValue *v);
/* Returns the object (null if over FL_LEN_MAX members); `ob` is spent. */
const FlValue *fl_object_finish(FlObjectBuilder *ob);

/* ---- Access ------------------------------------------------------------- */

/* The value of field `key` of object `v`; &fl_null when `v` is not an
 * object or has no such field.  Borrowed from `v`. */
const FlValue *fl_get_field(const FlValue *v, const char *key, size_t len);
/* v[idx]: an array with an integral in-range number, or an object with a
 * string key; &fl_null otherwise.  Borrowed from `v`. */
const FlValue *fl_get_index(const FlValue *v, const FlValue *idx);
/* Item `i` of array `v`; &fl_null when out of range or not an array. */
const FlValue *fl_get_int(const FlValue *v, long i);
/* Falsy: false, null, 0 and "".  Everything else is truthy. */
bool fl_truthy(const FlValue *v);
/* Deep JSON equality: numbers by value, objects by their keys and values
 * regardless of order, no coercion between types. */
bool fl_equal(const FlValue *a, const FlValue *b);

/* ---- Text and JSON ------------------------------------------------------
 *
 * FlBuf is a growable byte buffer in the arena.  It grows in place while it
 * is the arena's most recent allocation, so building one string costs about
 * one copy of its bytes. */
typedef struct {
    FlArena *arena;
    char *data;
    size_t len, cap;
} FlBuf;

void fl_buf_init(FlBuf *b, FlArena *a);
/* Slow path of fl_buf_append(); not for direct use. */
void fl_buf_grow(FlBuf *b, size_t n);

static inline void fl_buf_append(FlBuf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n)
        fl_buf_grow(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}
#define FL_BUF_APPEND_LIT(b, lit) fl_buf_append((b), (lit), sizeof(lit) - 1)

static inline void fl_buf_putc(FlBuf *b, char c)
{
    if (b->cap == b->len)
        fl_buf_grow(b, 1);
    b->data[b->len++] = c;
}

/* Appends `v` by the text rule: strings as they are, numbers as JavaScript
 * prints them, true/false, null as nothing, arrays and objects as compact
 * JSON. */
void fl_buf_append_text(FlBuf *b, const FlValue *v);
/* Appends `v` as compact JSON (keys in order, strings escaped like
 * JSON.stringify; bytes that are not valid UTF-8 become U+FFFD). */
void fl_buf_append_json(FlBuf *b, const FlValue *v);
/* Returns the bytes as a string value (NUL-terminated, though the NUL is
 * not part of it); `b` is spent.  Null when over FL_LEN_MAX bytes. */
const FlValue *fl_buf_finish(FlBuf *b);

/* The text rule / compact JSON of `v` as a new string value. */
const FlValue *fl_text(FlArena *a, const FlValue *v);
const FlValue *fl_json_text(FlArena *a, const FlValue *v);

/* Writes `n` as JavaScript's Number.prototype.toString does (shortest
 * round-trip digits; exponent form from 1e21 and below 1e-6; -0 as "0")
 * and a NUL into `out`; returns the length (at most 25).  A non-finite `n`
 * gives "null".  Depends on no other runtime file: the compiler links it. */
size_t fl_number_format(double n, char out[32]);

/* Parses `len` bytes of strict JSON with cJSON (RFC 8259: no trailing
 * garbage, no leading zeros, no raw control characters, no byte order
 * mark, depth at most FL_JSON_MAX_DEPTH, which is cJSON's nesting limit).
 * Returns NULL when the text is invalid.  Strings are copied into the
 * arena; `p` may be freed afterwards.  Numbers too large for a double
 * become null; other bytes of strings are kept as they are.  Two limits
 * come from cJSON: an escape of an unpaired surrogate (\ud83d alone) makes
 * the text invalid, and so does an escaped NUL (\u0000), since cJSON's
 * strings end at NUL and would be cut short - a string value holding a
 * NUL byte cannot be parsed back from its JSON. */
#define FL_JSON_MAX_DEPTH 1000
const FlValue *fl_json_parse(FlArena *a, const char *p, size_t len);

/* ---- Operators (spec 2) -------------------------------------------------
 *
 * All take the arena first, so codegen maps every operator the same way;
 * results that need no allocation are singletons.  `&&` and `||` are
 * short-circuit in generated code and only need fl_truthy(). */
const FlValue *fl_op_eq(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_ne(FlArena *a, const FlValue *x, const FlValue *y);
/* Two numbers, or two strings compared bytewise; any other pair: false. */
const FlValue *fl_op_lt(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_le(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_gt(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_ge(FlArena *a, const FlValue *x, const FlValue *y);
/* Numbers add; if either side is a string, the text renderings of both are
 * concatenated; otherwise null. */
const FlValue *fl_op_add(FlArena *a, const FlValue *x, const FlValue *y);
/* Numbers only; division or modulo by zero and non-finite results give
 * null.  Modulo is C's fmod (JavaScript's %: the sign of the dividend). */
const FlValue *fl_op_sub(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_mul(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_div(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_mod(FlArena *a, const FlValue *x, const FlValue *y);
const FlValue *fl_op_neg(FlArena *a, const FlValue *x);
const FlValue *fl_op_not(FlArena *a, const FlValue *x);

/* Bool forms of the comparisons, for conditions. */
bool fl_less(const FlValue *x, const FlValue *y);
bool fl_less_equal(const FlValue *x, const FlValue *y);

/* ---- Built-in functions (spec 2) ----------------------------------------
 *
 * `name(args)` in a workflow is fl_fn_name(arena, args).  Arguments are
 * borrowed; results live in the arena (or are static, or share the
 * arguments' bytes).  Any argument of a type a function does not define
 * gives null - no coercion: hmac_sha256(key, 42) is null, not the HMAC of
 * "42". */
const FlValue *fl_fn_hmac_sha256(FlArena *a, const FlValue *key, const FlValue *data);
const FlValue *fl_fn_hmac_sha256_base64(FlArena *a, const FlValue *key,
                                        const FlValue *data);
const FlValue *fl_fn_sha256(FlArena *a, const FlValue *data);
/* Standard alphabet with padding. */
const FlValue *fl_fn_base64_encode(FlArena *a, const FlValue *s);
/* Standard or URL-safe alphabet, padding optional; null for anything else
 * (white space included).  The result may hold any bytes. */
const FlValue *fl_fn_base64_decode(FlArena *a, const FlValue *s);
/* Constant-time in the contents; false unless both are strings, false for
 * different lengths (the length is not secret). */
const FlValue *fl_fn_secure_equals(FlArena *a, const FlValue *x, const FlValue *y);
/* ASCII only; other bytes are kept. */
const FlValue *fl_fn_lower(FlArena *a, const FlValue *s);
const FlValue *fl_fn_upper(FlArena *a, const FlValue *s);
/* Strips ASCII white space (space, \t, \n, \v, \f, \r) at both ends. */
const FlValue *fl_fn_trim(FlArena *a, const FlValue *s);
/* String bytes, array items, object members; null otherwise. */
const FlValue *fl_fn_len(FlArena *a, const FlValue *v);
/* Substring (string, string), element deep-equal (array, any), key
 * (object, string); null otherwise. */
const FlValue *fl_fn_contains(FlArena *a, const FlValue *hay, const FlValue *needle);
const FlValue *fl_fn_starts_with(FlArena *a, const FlValue *s, const FlValue *p);
const FlValue *fl_fn_ends_with(FlArena *a, const FlValue *s, const FlValue *p);
/* Array of the pieces of `s` between the separators, as JavaScript's
 * split ("" gives [""]).  An empty separator splits into UTF-8 characters
 * (an invalid byte is a piece of its own). */
const FlValue *fl_fn_split(FlArena *a, const FlValue *s, const FlValue *sep);
/* The text of each item, `sep` between them. */
const FlValue *fl_fn_join(FlArena *a, const FlValue *arr, const FlValue *sep);
const FlValue *fl_fn_json(FlArena *a, const FlValue *v);
/* JSON as fl_json_parse() reads it; null when invalid or not a string. */
const FlValue *fl_fn_parse_json(FlArena *a, const FlValue *s);
/* Number as is; true/false as 1/0; a string holding exactly a decimal
 * number (optional sign, digits with an optional fraction, optional
 * exponent; ASCII white space around it allowed) as that number; null
 * otherwise (empty strings, hex, Infinity, NaN and overflow included). */
const FlValue *fl_fn_number(FlArena *a, const FlValue *v);
/* The text rule. */
const FlValue *fl_fn_string(FlArena *a, const FlValue *v);
/* `fallback` when `v` is null or "", else `v`. */
const FlValue *fl_fn_default(FlArena *a, const FlValue *v, const FlValue *fallback);
/* The current time, YYYY-MM-DDTHH:MM:SS.sssZ. */
const FlValue *fl_fn_now(FlArena *a);
/* Milliseconds since the Unix epoch. */
const FlValue *fl_fn_now_ms(FlArena *a);
/* A random (version 4) UUID, lowercase; null if the random generator
 * fails. */
const FlValue *fl_fn_uuid(FlArena *a);

/* ---- Conditions (spec 3) ------------------------------------------------
 *
 * `conditions` operator OP is fl_cond_OP(left[, right]).  They follow the
 * expression semantics; a negated operator is exactly the negation of its
 * positive one (not_contains(null, "x") is true). */
bool fl_cond_contains(const FlValue *x, const FlValue *y);
bool fl_cond_starts_with(const FlValue *x, const FlValue *y);
bool fl_cond_ends_with(const FlValue *x, const FlValue *y);
/* True for null, "", [] and {}. */
bool fl_is_empty(const FlValue *v);
/* Whether string `v` matches `re` (compiled once at start, REG_EXTENDED,
 * REG_NOSUB advised).  The whole string is searched, NUL bytes included
 * (glibc's REG_STARTEND).  False for non-strings. */
bool fl_regex_matches(const regex_t *re, const FlValue *v);

static inline bool fl_cond_equals(const FlValue *x, const FlValue *y)
{
    return fl_equal(x, y);
}
static inline bool fl_cond_not_equals(const FlValue *x, const FlValue *y)
{
    return !fl_equal(x, y);
}
static inline bool fl_cond_not_contains(const FlValue *x, const FlValue *y)
{
    return !fl_cond_contains(x, y);
}
static inline bool fl_cond_greater_than(const FlValue *x, const FlValue *y)
{
    return fl_less(y, x);
}
static inline bool fl_cond_greater_or_equal(const FlValue *x, const FlValue *y)
{
    return fl_less_equal(y, x);
}
static inline bool fl_cond_less_than(const FlValue *x, const FlValue *y)
{
    return fl_less(x, y);
}
static inline bool fl_cond_less_or_equal(const FlValue *x, const FlValue *y)
{
    return fl_less_equal(x, y);
}
static inline bool fl_cond_is_empty(const FlValue *x)
{
    return fl_is_empty(x);
}
static inline bool fl_cond_is_not_empty(const FlValue *x)
{
    return !fl_is_empty(x);
}
static inline bool fl_cond_exists(const FlValue *x)
{
    return x->type != FL_NULL;
}
static inline bool fl_cond_matches(const regex_t *re, const FlValue *x)
{
    return fl_regex_matches(re, x);
}

/* ---- Crypto helpers (also for signature verification) ------------------ */

/* Fetches the SHA-256 and HMAC algorithms once.  Idempotent and
 * thread-safe; call it at handler start (the functions below also call it
 * the first time a thread uses them). */
void fl_crypto_init(void);

/* A borrowed byte range. */
typedef struct {
    const void *p;
    size_t len;
} FlBytes;

/* HMAC-SHA256 of the concatenation of `n` parts (so "t.body" needs no
 * copy) into `out`.  Returns 0, or -1 if OpenSSL fails. */
int fl_hmac_sha256_raw(const void *key, size_t klen, const FlBytes *parts,
                       size_t n, unsigned char out[32]);
int fl_sha256_raw(const void *p, size_t len, unsigned char out[32]);
/* Constant-time comparison of two byte strings; false if the lengths
 * differ. */
bool fl_secure_memeq(const void *x, size_t xlen, const void *y, size_t ylen);
/* Standard base64 (with padding) of `len` bytes as a string value. */
const FlValue *fl_base64_encode(FlArena *a, const void *p, size_t len);
/* Decodes standard or URL-safe base64, padding optional; NULL (not
 * &fl_null) when `p` is not base64. */
const FlValue *fl_base64_decode(FlArena *a, const char *p, size_t len);

/* ---- Time and ids --------------------------------------------------------*/

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t fl_time_now_ms(void);
/* Writes `unix_ms` as YYYY-MM-DDTHH:MM:SS.sssZ and a NUL (years clamped to
 * 0000..9999).  Uses no time-zone state and takes no lock. */
void fl_time_rfc3339(char out[25], int64_t unix_ms);
/* Writes a random version 4 UUID (36 lowercase characters) and a NUL.
 * Returns 0, or -1 if the random generator fails. */
int fl_uuid_v4(char out[37]);

/* ===================== end of section 1: Values ========================= */

/* ==========================================================================
 * 2. Runs: the interface generated code drives
 * ==========================================================================
 *
 * A compiled workflow is a table of step functions.  A run is a small state
 * machine: the runtime calls the function of the run's current step, which
 * does the step's work and returns the index of the next step to run (or
 * FL_NEXT_END / FL_NEXT_WAIT / FL_NEXT_FAIL).  A step that must wait (delay,
 * an outbound HTTP call) registers what it waits for and returns
 * FL_NEXT_WAIT; the runtime re-enters the run at the step the waiting helper
 * recorded, on whatever thread is free.  So no thread is held by a waiting
 * run, and after a crash a run can re-enter at its first unrecorded step.
 *
 * Step index 0 is the trigger; steps are numbered in document order
 * (depth-first: a gate before its true then its false branch, a switch
 * before its cases then its default, a for_each before its body) from 1.  Step outputs live in the
 * run, one slot per index. */

typedef struct FlRun FlRun;

enum {
    FL_NEXT_END = -1,   /* the run is complete */
    FL_NEXT_WAIT = -2,  /* the run waits; the runtime re-enters it later */
    FL_NEXT_FAIL = -3   /* a step failed (on_error fail): the run ends */
};

/* Does one step; returns the next step's index or an FL_NEXT_ value. */
typedef int (*FlStepFn)(FlRun *run);

/* What a run keeps of an output while it waits in a delay: flussoc lists
 * what the steps that may run after the delay read.  At the top of a list
 * a node names a step (its output); below, a member of an object by its
 * key.  A node with no sub-nodes keeps all of its value, and so does one
 * whose value is not an object. */
typedef struct FlKeep FlKeep;
struct FlKeep {
    int step;                /* the top level: whose output (0 below) */
    const char *field;       /* below it: the member's key */
    uint32_t field_len;
    const FlKeep *sub;       /* what of the value is kept; */
    int sub_count;           /* 0: all of it */
};

typedef struct {
    const FlKeep *outputs;   /* one node per output kept */
    int count;
} FlKeepList;

typedef struct {
    const char *key;         /* the step's key */
    FlStepType type;         /* its type; fl_step_type_name() says "log" */
    const char *path;        /* its JSON path, e.g. "steps[0].branches.true[1]" */
    FlStepFn fn;             /* NULL for the trigger */
    bool on_error_continue;  /* outputs get an "error" field */
    /* A delay's: what the steps after it read.  NULL: a run waiting in
     * it keeps every output whole. */
    const FlKeepList *keep;
    /* What a run resumed here after its workflow changed needs from its
     * journal (spec 8.4): the indexes of the earlier steps whose outputs
     * this step and every step that may run after it read on every path
     * (the trigger, always kept, is not listed).  NULL: nothing. */
    const int *needs;
    int need_count;
    int loop;                /* the for_each whose body holds this step
                                (the innermost), or 0: none */
} FlStepInfo;

/* FL_VERIFY_NONE, then FL_VERIFY_GITHUB... (FL_VERIFY_SCHEMES). */
#define FL_VERIFY_ENUM_(c, name) FL_VERIFY_##c,
typedef enum { FL_VERIFY_NONE, FL_VERIFY_SCHEMES(FL_VERIFY_ENUM_) } FlVerifyScheme;
#undef FL_VERIFY_ENUM_

typedef struct {
    FlVerifyScheme scheme;
    /* Computes the secret once at start (it may use only env and
     * literals); the result lives as long as the process. */
    const FlValue *(*secret)(FlArena *arena);
    long tolerance_s;
    const char *header;      /* FL_VERIFY_HMAC_SHA256: lower-case name */
    bool base64;
    const char *prefix;
} FlVerify;

/* The trigger's dedupe (spec 8.3). */
typedef struct {
    /* The key of a delivery, from the trigger's output (fl_out(run, 0))
     * and env only, in the run's arena; null or "" means no key. */
    const FlValue *(*key)(FlRun *run);
    long window_s;               /* how long a recorded answer is replayed */
} FlDedupe;

typedef struct {
    const char *name;            /* workflow name */
    const char *file;            /* source file, for --help and logs */
    const char *path;            /* request path */
    const char *const *methods;  /* declared order */
    int method_count;
    const char *allow;           /* methods joined with ", " for 405 */
    long response_timeout_ms;
    long max_body_bytes;
    const FlVerify *verify;      /* NULL: no signature check */
    const FlDedupe *dedupe;      /* 8.3: NULL: every delivery runs */
    const FlStepInfo *steps;     /* by index; [0] is the trigger */
    int step_count;
    int first;                   /* the first step's index, or FL_NEXT_END */
    bool default_at_start;       /* no webhook_response can run: answer
                                    202 before the first step (spec §4.1) */
    /* A 63-bit hash of the workflow's source and step keys: equal shapes,
     * equal step indexes and code.  A journal keeps it with each run and
     * maps a run of another shape by step key (spec 8.4). */
    int64_t shape;
} FlWorkflow;

typedef struct {
    const char *pattern;         /* POSIX ERE, checked by flussoc */
    regex_t compiled;            /* compiled once at start by the runtime */
} FlRegex;

/* A database a database step names (spec §10): one row a step, so a
 * database that cannot be opened at start is reported naming its step.
 * Steps naming the same url share one pool of connections. */
typedef struct {
    const char *url;             /* literal; NULL: the value of env `env` */
    int env;                     /* index into FlProgram.env_names */
    const char *workflow;        /* for messages */
    const char *step;            /* the key of the step naming it */
} FlDatabase;

typedef struct {
    const FlWorkflow *const *workflows;
    int workflow_count;
    const char *const *env_names;  /* every env.NAME used, sorted */
    int env_count;
    FlRegex *regexes;              /* every `matches` pattern */
    int regex_count;
    /* fl_http_start and fl_http_stop when a workflow has an http_request
     * step, else NULL: a program that never calls out links neither the
     * runtime's HTTP client nor libcurl (less memory, one thread less). */
    int (*http_start)(void);
    void (*http_stop)(void);
    /* The databases of the database steps, and fl_db_start and fl_db_stop
     * when there are any, else NULL: only then are the database clients
     * and libpq linked. */
    const FlDatabase *databases;
    int database_count;
    int (*db_start)(const FlDatabase *databases, int count);
    void (*db_stop)(void);
    /* fl_email_start and fl_email_stop when a workflow has a send_email
     * step, else NULL. */
    int (*email_start)(void);
    void (*email_stop)(void);
} FlProgram;

/* Starts and stops outbound HTTP (one libcurl multi thread); see
 * FlProgram.http_start.  fl_http_start returns 0 or -1. */
int fl_http_start(void);
void fl_http_stop(void);

/* The handler's main: parses the command line of spec §6, reads the
 * environment, serves the program's workflows.  Returns the exit status. */
int fl_main(int argc, char **argv, const FlProgram *program);

/* ---- what step functions call ---------------------------------------- */

/* The run's arena: everything allocated in it lives until the run ends. */
FlArena *fl_run_arena(FlRun *run);

/* The output of step index (the trigger's is index 0); fl_null when that
 * step has not run. */
const FlValue *fl_out(const FlRun *run, int index);

/* run.id, run.started_at, run.workflow, run.attempt. */
const FlValue *fl_run_id(const FlRun *run);
const FlValue *fl_run_started_at(const FlRun *run);
const FlValue *fl_run_workflow(const FlRun *run);
const FlValue *fl_run_attempt(const FlRun *run);

/* env.NAME: index into FlProgram.env_names; read once at start. */
const FlValue *fl_env(int index);

/* The compiled `matches` pattern number index of FlProgram.regexes. */
const regex_t *fl_regex(int index);

/* The output of a logic_gate: {"result": true} and {"result": false}. */
extern const FlValue fl_gate_true, fl_gate_false;

/* Records that step index completed with output (borrowed: it must live
 * as long as the run, e.g. in the run's arena or static).  The runtime adds
 * "error": null for on_error continue steps. */
void fl_step_done(FlRun *run, int index, const FlValue *output);

/* The step failed with message (copied).  Under on_error continue, sets
 * the output {"error": message, <other fields>: null} and returns next;
 * otherwise ends the run (a 500 when the caller is still waiting) and
 * returns FL_NEXT_FAIL.  Step functions write
 *     return fl_step_failed(run, 3, "...", 4);                          */
int fl_step_failed(FlRun *run, int index, const char *message, int next);

/* The failure message a runtime helper left when it returned -1. */
const char *fl_run_error(const FlRun *run);

typedef struct {
    const char *name;            /* a valid token, checked by flussoc */
    const char *value;           /* rendered; refused if it holds CR, LF, NUL */
    size_t value_len;
} FlHeader;

typedef struct {
    int status;                  /* 200..599, checked by the caller */
    const char *body;            /* may be NULL when body_len is 0 */
    size_t body_len;
    bool body_static;            /* body outlives the process's use of it:
                                    sent without copying */
    const char *content_type;    /* NULL: none (the default 202) */
    const FlHeader *headers;
    int header_count;
} FlResponse;

/* The webhook_response step index: answers the caller with resp unless it
 * was answered already, and records the output {"sent", "status"}.  resp
 * and its headers array are borrowed for the call; the bytes they point
 * at (body, content type, header names and values) must live as long as
 * the run - static data or the run's arena - since with a journal the
 * answer leaves only once the run is durable.
 * Returns 0, or -1 (fl_run_error says why) when a header value holds CR,
 * LF or NUL. */
int fl_respond(FlRun *run, int index, const FlResponse *resp);

/* Converts a rendered status_code template value to a status: 200..599
 * as a number (or a string holding one); -1 otherwise (with an error). */
int fl_status_from_value(FlRun *run, const FlValue *v);

/* The default answer of spec §4.1/§4.3: 202 with an empty body and no
 * content type, unless the caller was answered already. */
void fl_respond_default(FlRun *run);

/* FL_LOG_DEBUG, FL_LOG_INFO, FL_LOG_WARN, FL_LOG_ERROR (FL_LOG_LEVELS). */
#define FL_LOG_ENUM_(c, name) FL_LOG_##c,
typedef enum { FL_LOG_LEVELS(FL_LOG_ENUM_) } FlLogLevel;
#undef FL_LOG_ENUM_

/* The log step index: writes message as one JSON log line (level filtered
 * by --log-level), or appends it and a newline to file when file is not
 * NULL (newlines inside written as \n).  Records {"logged": true}.
 * Returns 0, or -1 when the file cannot be written. */
int fl_log(FlRun *run, int index, FlLogLevel level, const char *message,
           size_t len, const char *file);

/* The delay step index: records {"waited_ms": ms} and arranges for the run
 * to continue at step next after ms milliseconds; the step function then
 * returns FL_NEXT_WAIT.  Returns 0, or -1 (with an error; the step function
 * then returns fl_step_failed(...)) when ms is not a non-negative finite
 * number or integral numeric string. */
int fl_delay(FlRun *run, int index, const FlValue *ms, int next);

/* An http_request step's config, rendered (spec 3).  method, url and body
 * are string values that live as long as the run (its arena, or static
 * data): the body is sent from where it is, not copied.  headers (names
 * checked by flussoc, values rendered) are copied by fl_http(). */
typedef struct {
    const FlValue *method;       /* NULL: GET */
    const FlValue *url;          /* must start with http:// or https:// */
    const FlHeader *headers;
    int header_count;
    const FlValue *body;         /* the bytes to send; NULL: no body */
    bool body_is_json;           /* Content-Type application/json (else
                                    text/plain; charset=utf-8) unless a
                                    header sets one */
    long timeout_ms;             /* each attempt */
    int retries;                 /* 429, 5xx, time-outs, connection errors */
    bool fail_on_status;         /* status >= 400 fails the step */
    bool follow_redirects;
    long max_response_bytes;
    long retry_max_delay_ms;     /* caps the doubling back-off (8.2) */
} FlHttpRequest;

/* The http_request step index: starts the request and arranges for the
 * run to continue once it has ended (retries included) - at step next
 * with the output {"status", "headers", "body", "attempts"} recorded, or,
 * when it failed, as fl_step_failed(run, index, message, next) decides
 * (on_error continue goes on at next; otherwise the run ends, with a 500
 * while the caller waits).  The step function then returns FL_NEXT_WAIT:
 * no thread waits for the answer.  Returns 0, or -1 (with an error; the
 * step function then returns fl_step_failed(...)) when the rendered
 * request is unusable: a method that is not an HTTP token, a url that is
 * not http(s), a header value holding CR, LF or NUL. */
int fl_http(FlRun *run, int index, const FlHttpRequest *req, int next);

/* The switch step index (spec 10): records {"matched": the case name, or
 * null} and returns the number of the first of the count cases equal to
 * the text value, or -1 for the default. */
int fl_switch(FlRun *run, int index, const FlValue *text,
              const char *const *cases, int count);

/* The for_each step index (spec 10).  Its function is entered first from
 * the step before it, then again at the end of each iteration:
 *
 *     if (!fl_loop_running(r, EACH)) {
 *         if (fl_loop_start(r, EACH, items, max_items) < 0)
 *             return fl_step_failed(r, EACH, fl_run_error(r), AFTER);
 *     }
 *     if (fl_loop_next(r, EACH))
 *         return BODY;
 *     return AFTER;
 *
 * fl_loop_start() takes the items (null: none; else an array of at most
 * max_items, or it returns -1 with an error).  A run resumed from the
 * journal goes on after the iterations it recorded.  fl_loop_next() ends
 * the iteration that ran, if any - its result is the output of the last
 * step that ran in it - records the loop's output so far (the journal's
 * record of the finished iterations), and starts the next: true with
 * fl_loop_item() / fl_loop_index() that element and its index, or false
 * when the loop is over, with its output {"results", "count"} made. */
bool fl_loop_running(const FlRun *run, int index);
int fl_loop_start(FlRun *run, int index, const FlValue *items, long max_items);
bool fl_loop_next(FlRun *run, int index);
const FlValue *fl_loop_item(const FlRun *run, int index);
const FlValue *fl_loop_index(const FlRun *run, int index);

/* Opens every database (connections checked, SQLite files opened) and
 * starts their threads.  Returns 0, or 2 after printing which step names
 * a database that cannot be opened (never its password). */
int fl_db_start(const FlDatabase *databases, int count);
/* Stops them, after the scheduler: statements in flight are abandoned. */
void fl_db_stop(void);

/* A database step's statement (spec §10): sql is literal, with $1...$N
 * bound to params (values living as long as the run). */
typedef struct {
    int database;                /* index into FlProgram.databases */
    const char *sql;
    const FlValue *const *params;
    int param_count;
    long timeout_ms;             /* cancels the statement */
    long max_rows;               /* more rows fail the step */
} FlDbQuery;

/* The database step index: sends the statement and arranges for the run
 * to continue once the database has answered - at step next with the
 * output {"rows", "row_count"} recorded, or as fl_step_failed(run, index,
 * message, next) decides.  The step function then returns FL_NEXT_WAIT:
 * no run worker waits for the database.  Returns 0, or -1 (with an
 * error) when the databases are not running or a PostgreSQL text
 * parameter holds a NUL byte. */
int fl_database(FlRun *run, int index, const FlDbQuery *q, int next);

/* Starts and stops outbound SMTP (one libcurl multi thread); see
 * FlProgram.email_start.  fl_email_start returns 0 or -1. */
int fl_email_start(void);
void fl_email_stop(void);

/* Recipients: each value an address ("Name <a@b>" or "a@b") or an array
 * of them (one {{ expression }} may give a list); null counts as none. */
typedef struct {
    const FlValue *const *items;
    int count;
} FlRecipients;

/* A send_email step's config, rendered (spec §10).  Texts are string
 * values living as long as the run; NULL where the setting is absent. */
typedef struct {
    const FlValue *smtp_url;     /* smtp:// or smtps:// */
    const FlValue *username, *password;
    const FlValue *from;
    FlRecipients to, cc, bcc;
    const FlValue *reply_to;
    const FlValue *subject;
    const FlValue *text, *html;  /* at least one */
    long timeout_ms;             /* each attempt */
    int retries;
    long retry_max_delay_ms;
} FlEmail;

/* The send_email step index: builds the message (RFC 5322, MIME, RFC 2047
 * subject), and sends it over SMTP, arranging for the run to continue
 * once the server has taken it (retries included) - at step next with
 * {"sent", "message_id", "recipients", "attempts"} recorded, or as
 * fl_step_failed() decides (after the acknowledgement the waits between
 * attempts are the run's, spec 8.2).  The step function then returns
 * FL_NEXT_WAIT.  Returns 0, or
 * -1 (with an error) when the rendered message is unusable: CR or LF in
 * an address or the subject, no recipient, an address without '@'. */
int fl_send_email(FlRun *run, int index, const FlEmail *m, int next);

/* ====================== end of section 2: Runs ========================== */

#endif
