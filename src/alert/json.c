/* JSON of alert messages (wire version 1, docs/alerts.md), written straight into a buffer:
 * the publisher formats one object per note, so it uses no allocation when the message fits
 * the fixed buffer, and never needs a parse tree. */
#include "alert_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vg__buf_init(vg__buf *b, char *fixed, size_t fixed_cap, size_t max)
{
    memset(b, 0, sizeof(*b));
    if (fixed) {
        /* A fixed buffer is never grown: it is its own maximum. */
        b->p = fixed;
        b->cap = b->max = fixed_cap;
        if (fixed_cap)
            fixed[0] = 0;
    } else {
        b->max = max;
        b->owned = 1;
    }
}

void vg__buf_release(vg__buf *b)
{
    if (b->owned)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void vg__buf_reset(vg__buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->p && b->cap)
        b->p[0] = 0;
}

static int grow(vg__buf *b, size_t need)
{
    size_t want = b->len + need + 1;
    size_t cap;
    char *p;

    if (b->err)
        return b->err;
    if (want <= b->cap)
        return 0;
    if (!b->owned || (b->max && want > b->max)) {
        b->err = -EMSGSIZE;
        return b->err;
    }
    cap = b->cap ? b->cap : 1024;
    while (cap < want)
        cap *= 2;
    if (b->max && cap > b->max)
        cap = b->max;
    p = realloc(b->p, cap);
    if (!p) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void vg__buf_put(vg__buf *b, const char *s, size_t n)
{
    if (grow(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void vg__buf_puts(vg__buf *b, const char *s)
{
    vg__buf_put(b, s, strlen(s));
}

void vg__buf_printf(vg__buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        vg__buf_put(b, tmp, (size_t)n);
        return;
    }
    if (grow(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void vg__buf_json_str(vg__buf *b, const char *s)
{
    vg__buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char esc[8];
        switch (*p) {
        case '"':
            vg__buf_put(b, "\\\"", 2);
            break;
        case '\\':
            vg__buf_put(b, "\\\\", 2);
            break;
        case '\n':
            vg__buf_put(b, "\\n", 2);
            break;
        case '\r':
            vg__buf_put(b, "\\r", 2);
            break;
        case '\t':
            vg__buf_put(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *p);
                vg__buf_put(b, esc, 6);
            } else {
                vg__buf_put(b, (const char *)p, 1);
            }
        }
    }
    vg__buf_put(b, "\"", 1);
}

void vg__buf_json_num(vg__buf *b, double v)
{
    if (!isfinite(v))
        vg__buf_puts(b, "null");
    else
        vg__buf_printf(b, "%.10g", v);
}

static void json_ts(vg__buf *b, int64_t t_ns)
{
    /* Unix seconds with fractions; integer arithmetic keeps every digit; -0.5 s is
     * "-0.500000". */
    const uint64_t a = t_ns < 0 ? -(uint64_t)t_ns : (uint64_t)t_ns;
    vg__buf_printf(b, "%s%llu.%06llu", t_ns < 0 ? "-" : "", (unsigned long long)(a / VG_NS_PER_S),
                   (unsigned long long)(a % VG_NS_PER_S / 1000));
}

static int is_summary(const vg_alert_info *a)
{
    return a->kind == VG_ALERT_FLOOD_SUMMARY && a->last.source_type == VG_SOURCE_NONE;
}

const char *vg__alert_zone_id(const vg_model *m, const vg_alert_info *a)
{
    if (is_summary(a)) {
        const char *s = vg_model_sector_name(m, a->sector);
        return s ? s : "";
    }
    const vg_zone *z = vg_model_zone(m, a->last.zone);
    return z ? z->id : "";
}

static const char *subject_name(const vg_model *m, unsigned stype, uint32_t idx)
{
    switch (stype) {
    case VG_SOURCE_ZONE: {
        const vg_zone *z = vg_model_zone(m, idx);
        return z ? z->id : "";
    }
    case VG_SOURCE_SENSOR: {
        const vg_sensor *s = vg_model_sensor(m, idx);
        return s ? s->id : "";
    }
    case VG_SOURCE_CAMERA: {
        const vg_camera *c = vg_model_camera(m, idx);
        return c ? c->id : "";
    }
    case VG_SOURCE_LINE: {
        const vg_line *l = vg_model_line(m, idx);
        return l ? l->id : "";
    }
    case VG_SOURCE_HELP_POINT: {
        const vg_help_point *h = vg_model_help_point(m, idx);
        return h ? h->id : "";
    }
    }
    return "";
}

const char *vg__alert_action(const vg_model *m, const vg_alert_info *a, char *buf, size_t cap)
{
    if (is_summary(a))
        return "review the grouped alerts of this sector; acknowledging the summary "
               "acknowledges them all";
    return vg_model_action(m, (enum vg_alert_kind)a->kind, a->last.zone, buf, cap);
}

static int shown_grade(const vg_alert_info *a)
{
    switch (a->state) {
    case VG_ALERT_STATE_UNACK:
    case VG_ALERT_STATE_ACKED:
        return a->grade;
    default:
        return VG_GRADE_CLEAR;
    }
}

int vg__alert_topic(const vg_model *m, const vg_alert_info *a, int feed, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.%s.%s", vg_feed_name((enum vg_feed)feed),
                     vg_grade_name((enum vg_grade)shown_grade(a)), vg__alert_zone_id(m, a));
    return n < 0 || (size_t)n >= cap ? -EMSGSIZE : n;
}

void vg__alert_json(vg__buf *b, const vg_model *m, const vg_alert_info *a, int reason, int feed,
                    uint64_t seq, uint64_t fseq)
{
    const vg_alert_event *e = &a->last;
    const vg_zone *z = vg_model_zone(m, e->zone);
    /* NULL for VG_MODEL_NONE (an alert without a zone): written as "" */
    const char *sector = vg_model_sector_name(m, a->sector);
    static const char *const flag_names[] = {"chattering", "latched", "unreliable"};
    int first;

    vg__buf_puts(b, "{\"v\":1");
    if (seq)
        vg__buf_printf(b, ",\"seq\":%llu", (unsigned long long)seq);
    if (fseq)
        vg__buf_printf(b, ",\"fseq\":%llu", (unsigned long long)fseq);
    vg__buf_printf(b, ",\"id\":\"%llu\",\"feed\":", (unsigned long long)a->id);
    vg__buf_json_str(b, vg_feed_name((enum vg_feed)feed));
    if (feed != a->feed) {
        vg__buf_puts(b, ",\"origin_feed\":");
        vg__buf_json_str(b, vg_feed_name((enum vg_feed)a->feed));
    }
    vg__buf_puts(b, ",\"kind\":");
    vg__buf_json_str(b, vg_alert_kind_name((enum vg_alert_kind)a->kind));
    vg__buf_puts(b, ",\"zone\":");
    vg__buf_json_str(b, z ? z->id : "");
    vg__buf_puts(b, ",\"zone_name\":");
    vg__buf_json_str(b, z ? z->name : "");
    vg__buf_puts(b, ",\"sector\":");
    vg__buf_json_str(b, sector ? sector : "");
    vg__buf_puts(b, ",\"subject\":");
    vg__buf_json_str(b, is_summary(a) ? (sector ? sector : "")
                                      : subject_name(m, e->source_type, e->source));
    vg__buf_puts(b, ",\"subject_type\":");
    vg__buf_json_str(b, is_summary(a) ? "sector"
                                      : vg_source_type_name((enum vg_source_type)e->source_type));
    vg__buf_puts(b, ",\"grade\":");
    vg__buf_json_str(b, vg_grade_name((enum vg_grade)shown_grade(a)));
    vg__buf_puts(b, ",\"alarm_grade\":");
    vg__buf_json_str(b, vg_grade_name((enum vg_grade)a->grade));
    vg__buf_puts(b, ",\"state\":");
    vg__buf_json_str(b, vg_alert_state_name((enum vg_alert_state)a->state));
    if (reason >= 0) {
        vg__buf_puts(b, ",\"reason\":");
        vg__buf_json_str(b, vg_alert_reason_name((enum vg_alert_reason)reason));
    }
    vg__buf_puts(b, ",\"ts\":");
    json_ts(b, a->changed_ns);
    vg__buf_puts(b, ",\"raised_ts\":");
    json_ts(b, a->raised_ns);
    vg__buf_puts(b, ",\"value\":");
    vg__buf_json_num(b, e->value);
    vg__buf_puts(b, ",\"threshold\":");
    vg__buf_json_num(b, e->threshold);
    vg__buf_puts(b, ",\"trend\":");
    vg__buf_json_num(b, e->trend_per_min);
    vg__buf_puts(b, ",\"ttc\":");
    vg__buf_json_num(b, e->ttc_s >= 0 ? e->ttc_s : NAN);
    vg__buf_puts(b, ",\"evidence\":[");
    for (unsigned i = 0; i < e->evidence_count && i < VG_EVIDENCE_MAX; i++) {
        const vg_evidence *ev = &e->evidence[i];
        vg__buf_puts(b, i ? ",{\"ts\":" : "{\"ts\":");
        json_ts(b, ev->t_ns);
        vg__buf_puts(b, ",\"source\":");
        vg__buf_json_str(b, subject_name(m, ev->source_type, ev->source));
        vg__buf_puts(b, ",\"source_type\":");
        vg__buf_json_str(b, vg_source_type_name((enum vg_source_type)ev->source_type));
        vg__buf_puts(b, ",\"reading\":");
        vg__buf_json_str(b, vg_reading_type_name((enum vg_reading_type)ev->reading_type));
        vg__buf_puts(b, ",\"value\":");
        vg__buf_json_num(b, ev->value);
        vg__buf_puts(b, "}");
    }
    char action[512];
    vg__buf_puts(b, "],\"action\":");
    vg__buf_json_str(b, vg__alert_action(m, a, action, sizeof(action)));
    if (a->acked_ns) {
        vg__buf_puts(b, ",\"owner\":{\"operator\":");
        vg__buf_json_str(b, a->operator_id);
        vg__buf_puts(b, ",\"comment\":");
        vg__buf_json_str(b, a->comment);
        vg__buf_puts(b, ",\"ts\":");
        json_ts(b, a->acked_ns);
        vg__buf_puts(b, "}");
    } else {
        vg__buf_puts(b, ",\"owner\":null");
    }
    vg__buf_puts(b, ",\"hidden\":[");
    first = 1;
    for (uint32_t bit = 1; bit <= VG_ALERT_HIDE_HELD; bit <<= 1)
        if (a->hide & bit) {
            if (!first)
                vg__buf_puts(b, ",");
            vg__buf_json_str(b, vg_alert_hide_name((enum vg_alert_hide)bit));
            first = 0;
        }
    vg__buf_puts(b, "]");
    if (a->hide & VG_ALERT_HIDE_SHELVED) {
        vg__buf_puts(b, ",\"shelved_until\":");
        json_ts(b, a->shelved_until_ns);
    }
    vg__buf_puts(b, ",\"flags\":[");
    first = 1;
    for (unsigned i = 0; i < 3; i++)
        if (e->flags & (1u << i)) {
            if (!first)
                vg__buf_puts(b, ",");
            vg__buf_json_str(b, flag_names[i]);
            first = 0;
        }
    vg__buf_printf(b, "],\"escalations\":%u", a->escalations);
    if (is_summary(a))
        vg__buf_printf(b, ",\"held\":%u", a->held);
    vg__buf_puts(b, ",\"message\":");
    vg__buf_json_str(b, e->message);
    vg__buf_puts(b, "}");
}
