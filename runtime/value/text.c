/* text.c - byte buffers and the text rule.
 *
 * FlBuf accumulates bytes in the run's arena.  While it is the arena's
 * latest allocation it grows in place; otherwise it moves to a block twice
 * its size.  When finished it hands back its unused tail, so a template
 * rendered into a buffer costs about one copy of its text.
 *
 * The text rule (spec 2) turns any value into text: strings as they are,
 * numbers as JavaScript prints them, true/false, null as nothing, and
 * arrays and objects as compact JSON. */
#include "flusso.h"

enum { BUF_MIN = 64 };

void fl_buf_init(FlBuf *b, FlArena *a)
{
    b->arena = a;
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Makes room for `n` more bytes. */
void fl_buf_grow(FlBuf *b, size_t n)
{
    if (n > SIZE_MAX / 4 - b->len)
        fl_arena_alloc(b->arena, SIZE_MAX);     /* aborts: out of memory */
    size_t need = b->len + n;
    size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
    cap = cap < BUF_MIN ? BUF_MIN : (cap + 7) & ~(size_t)7;
    if (b->data && fl_arena_extend(b->arena, b->data, b->cap, cap)) {
        b->cap = cap;
        return;
    }
    char *p = fl_arena_alloc(b->arena, cap);
    if (b->len)
        memcpy(p, b->data, b->len);
    b->data = p;
    b->cap = cap;
}

const FlValue *fl_buf_finish(FlBuf *b)
{
    if (b->len == 0)
        return &fl_empty_string;
    if (b->len > FL_LEN_MAX)
        return &fl_null;
    fl_buf_putc(b, '\0');
    b->len--;
    fl_arena_trim(b->arena, b->data, b->cap, b->len + 1);
    return fl_string_ref(b->arena, b->data, b->len);
}

void fl_buf_append_text(FlBuf *b, const FlValue *v)
{
    char num[32];
    switch (v->type) {
    case FL_NULL:
        break;
    case FL_BOOL:
        if (v->u.b)
            FL_BUF_APPEND_LIT(b, "true");
        else
            FL_BUF_APPEND_LIT(b, "false");
        break;
    case FL_NUMBER:
        fl_buf_append(b, num, fl_number_format(v->u.n, num));
        break;
    case FL_STRING:
        fl_buf_append(b, v->u.s, v->len);
        break;
    case FL_ARRAY:
    case FL_OBJECT:
        fl_buf_append_json(b, v);
        break;
    }
}

static const FlValue true_text = FL_STRING_LIT("true");
static const FlValue false_text = FL_STRING_LIT("false");

const FlValue *fl_text(FlArena *a, const FlValue *v)
{
    if (v->type == FL_STRING)
        return v;
    if (v->type == FL_NULL)
        return &fl_empty_string;
    if (v->type == FL_BOOL)
        return v->u.b ? &true_text : &false_text;
    FlBuf b;
    fl_buf_init(&b, a);
    fl_buf_append_text(&b, v);
    return fl_buf_finish(&b);
}

const FlValue *fl_json_text(FlArena *a, const FlValue *v)
{
    FlBuf b;
    fl_buf_init(&b, a);
    fl_buf_append_json(&b, v);
    return fl_buf_finish(&b);
}
