/* step_templates.c - every template of a step's configuration, in
 * document order: what the checker checks and what the keep analysis
 * reads, walked in one place so the two cannot disagree. */
#include "workflow.h"

static void each_tvalue(const TValue *v, StepTemplateFn fn, void *arg)
{
    if (!v)
        return;
    if (v->kind == TV_TEMPLATE)
        fn(v->tmpl, arg);
    for (int i = 0; i < v->count; i++)
        if (v->kind == TV_ARRAY || v->kind == TV_OBJECT)
            each_tvalue(v->items[i], fn, arg);
}

static void each_header(const NamedTemplate *h, int count, StepTemplateFn fn,
                        void *arg)
{
    for (int i = 0; i < count; i++)
        fn(h[i].tmpl, arg);
}

static void each_recipient(const Recipients *r, StepTemplateFn fn, void *arg)
{
    for (int i = 0; i < r->count; i++)
        fn(r->items[i], arg);
}

static void each_email_template(const EmailConfig *m, StepTemplateFn fn,
                                void *arg)
{
    fn(m->smtp_url, arg);
    fn(m->username, arg);
    fn(m->password, arg);
    fn(m->from, arg);
    each_recipient(&m->to, fn, arg);
    each_recipient(&m->cc, fn, arg);
    each_recipient(&m->bcc, fn, arg);
    fn(m->reply_to, arg);
    fn(m->subject, arg);
    fn(m->text, arg);
    fn(m->html, arg);
}

void step_each_template(const Step *s, StepTemplateFn fn, void *arg)
{
    switch (s->type) {
    case ST_TRIGGER:
        break;
    case ST_LOGIC_GATE:
        fn(s->as.gate.condition, arg);
        for (int i = 0; i < s->as.gate.condition_count; i++) {
            fn(s->as.gate.conditions[i].left, arg);
            fn(s->as.gate.conditions[i].right, arg);
        }
        break;
    case ST_RESPONSE:
        if (s->as.response.status.is_template)
            fn(s->as.response.status.tmpl, arg);
        each_tvalue(s->as.response.body, fn, arg);
        each_header(s->as.response.headers, s->as.response.header_count, fn, arg);
        break;
    case ST_SET:
        for (int i = 0; i < s->as.set.count; i++)
            each_tvalue(s->as.set.values[i], fn, arg);
        break;
    case ST_LOG:
        fn(s->as.log.message, arg);
        break;
    case ST_DELAY:
        if (s->as.delay.ms.is_template)
            fn(s->as.delay.ms.tmpl, arg);
        break;
    case ST_HTTP_REQUEST:
        fn(s->as.http.method, arg);
        fn(s->as.http.url, arg);
        each_header(s->as.http.headers, s->as.http.header_count, fn, arg);
        each_tvalue(s->as.http.body, fn, arg);
        break;
    case ST_SWITCH:
        fn(s->as.sw.value, arg);
        break;
    case ST_FOR_EACH:
        fn(s->as.loop.items, arg);
        break;
    case ST_SEND_EMAIL:
        each_email_template(&s->as.email, fn, arg);
        break;
    case ST_DATABASE:
        fn(s->as.db.url, arg);
        for (int i = 0; i < s->as.db.param_count; i++)
            each_tvalue(s->as.db.params[i], fn, arg);
        break;
    }
}
